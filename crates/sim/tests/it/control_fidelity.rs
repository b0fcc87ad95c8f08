//! The control API against CityFlow's reference runs with external controllers: fixed-time
//! phases set every 30 s (with and without a 5 s phase-0 "yellow") and max-pressure control
//! reading lane vehicle counts every D seconds. With `cityflow_exact` the results must be
//! CityFlow's; by default within the fidelity tolerances.

use citybrain_sim::{ControlMode, Engine, EngineConfig, IntersectionId, LaneId, Metrics};

use crate::{bundled, data_dir, engine};

/// What decides the phases.
#[derive(Clone, Copy, Debug)]
enum Plan {
    /// Green phase `1 + (t/30) mod 8` from t = 0, 30, 60, …
    Rl30,
    /// 30 s of green phase `1 + k mod 8`, then 5 s of phase 0.
    Rl30Yellow,
    /// Every `d` seconds the phase with the largest pressure; `y` seconds of phase 0 when it
    /// changes.
    MaxPressure { d: u64, y: u64 },
}

fn signals(e: &Engine) -> Vec<IntersectionId> {
    let net = e.network();
    (0..net.intersections().len())
        .map(IntersectionId::from_index)
        .filter(|&i| net.intersection(i).is_signalised())
        .collect()
}

/// CityFlow's max-pressure: Σ over the phase's road links of (vehicles on their distinct start
/// lanes − vehicles on their distinct end lanes).
fn pressure(e: &Engine, i: IntersectionId, phase: usize) -> i64 {
    let net = e.network();
    let inter = net.intersection(i);
    let count = |lanes: &mut Vec<LaneId>| {
        lanes.sort();
        lanes.dedup();
        lanes.iter().map(|&l| i64::from(e.lane_vehicle_count(l))).sum::<i64>()
    };
    inter.phases[phase]
        .available_road_links
        .iter()
        .map(|&k| {
            let rl = net.road_link(inter.road_links[k]);
            let mut starts: Vec<LaneId> =
                rl.lane_links.iter().map(|&l| net.lane_link(l).start_lane).collect();
            let mut ends: Vec<LaneId> =
                rl.lane_links.iter().map(|&l| net.lane_link(l).end_lane).collect();
            count(&mut starts) - count(&mut ends)
        })
        .sum()
}

fn run(dir: &str, plan: Plan, exact: bool) -> Metrics {
    let s = bundled(dir, "flow.json");
    let cfg = EngineConfig {
        control: ControlMode::External,
        cityflow_exact: exact,
        ..EngineConfig::default()
    };
    let mut e = engine(&s, cfg);
    let sig = signals(&e);
    let mut green = vec![0usize; e.network().intersections().len()];
    let mut yellow_until = vec![0u64; green.len()];
    for t in 0..3600u64 {
        for &i in &sig {
            let phase = match plan {
                Plan::Rl30 => 1 + ((t / 30) % 8) as usize,
                Plan::Rl30Yellow if t % 35 < 30 => 1 + ((t / 35) % 8) as usize,
                Plan::Rl30Yellow => 0,
                Plan::MaxPressure { d, y } => {
                    if t % d == 0 {
                        let best =
                            (1..9).rev().max_by_key(|&p| pressure(&e, i, p)).expect("phases 1..8");
                        if best != green[i.index()] && t > 0 {
                            yellow_until[i.index()] = t + y;
                        }
                        green[i.index()] = best;
                    }
                    if t < yellow_until[i.index()] { 0 } else { green[i.index()] }
                }
            };
            e.set_phase(i, phase).expect("phase exists");
        }
        e.step();
    }
    e.metrics()
}

fn reference(key: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(data_dir().join("reference/cityflow_results.json"))
        .expect("reference");
    let all: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    all[key].clone()
}

const PLANS: &[(&str, Plan)] = &[
    ("fixed_rl30", Plan::Rl30),
    ("fixed_rl30_y5", Plan::Rl30Yellow),
    ("max_pressure_d10_y0", Plan::MaxPressure { d: 10, y: 0 }),
    ("max_pressure_d10_y5", Plan::MaxPressure { d: 10, y: 5 }),
    ("max_pressure_d15_y0", Plan::MaxPressure { d: 15, y: 0 }),
    ("max_pressure_d15_y5", Plan::MaxPressure { d: 15, y: 5 }),
    ("max_pressure_d20_y0", Plan::MaxPressure { d: 20, y: 0 }),
    ("max_pressure_d20_y5", Plan::MaxPressure { d: 20, y: 5 }),
];

fn check(scenario: &str, dir: &str, exact: bool) {
    for (name, plan) in PLANS {
        let m = run(dir, *plan, exact);
        let r = reference(&format!("{scenario}/{name}"));
        let theirs = r["avg_travel_time"].as_f64().unwrap();
        let (tt, fin) = if exact { (1e-4, 1e-3) } else { (0.05, 0.03) };
        let rel = (m.avg_travel_time_s - theirs).abs() / theirs;
        assert!(
            rel <= tt,
            "{scenario} {name}: average travel time {} vs CityFlow {theirs}",
            m.avg_travel_time_s
        );
        let finished = r["finished"].as_f64().unwrap();
        assert!(
            (m.finished as f64 - finished).abs() <= fin * finished,
            "{scenario} {name}: finished {} vs {finished}",
            m.finished
        );
        assert_eq!(m.created, r["created"].as_u64().unwrap());
    }
}

#[test]
fn hangzhou_external_control_matches_cityflow_exactly() {
    check("hz4x4", "hangzhou_4x4", true);
}

#[test]
fn hangzhou_external_control_matches_cityflow_by_default() {
    check("hz4x4", "hangzhou_4x4", false);
}

#[test]
fn synthetic_external_control_matches_cityflow_exactly() {
    check("syn4x4", "syn_4x4", true);
}

#[test]
fn synthetic_external_control_matches_cityflow_by_default() {
    check("syn4x4", "syn_4x4", false);
}
