//! Agreement with CityFlow on the bundled scenarios (reference figures in data/reference).

use citybrain_sim::EngineConfig;

use crate::{bundled, data_dir, engine};

fn reference(key: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(data_dir().join("reference/cityflow_results.json"))
        .expect("bundled reference");
    let all: serde_json::Value = serde_json::from_str(&text).expect("reference is JSON");
    all[key].clone()
}

fn within(ours: f64, theirs: f64, tolerance: f64) -> bool {
    (ours - theirs).abs() <= tolerance * theirs.abs()
}

#[test]
fn hangzhou_native_hour_matches_cityflow() {
    let s = bundled("hangzhou_4x4", "flow.json");
    let mut e = engine(&s, EngineConfig::default());
    let series =
        std::fs::read_to_string(data_dir().join("reference/hz4x4_fixed_timeseries_60s.csv"))
            .unwrap();
    for row in series.lines().skip(1) {
        let f: Vec<f64> = row.split(',').map(|x| x.parse().unwrap()).collect();
        while e.time_s() < f[0] {
            e.step();
        }
        let m = e.metrics();
        // t, running, running_mean, waiting, finished, created, avg_travel_time
        assert_eq!(m.created as f64, f[5], "created at t={}", f[0]);
        assert!(
            within(m.finished as f64, f[4], 0.03) || (m.finished as f64 - f[4]).abs() <= 3.0,
            "finished at t={}: ours {} CityFlow {}",
            f[0],
            m.finished,
            f[4]
        );
        assert!(
            within(m.avg_travel_time_s, f[6], 0.05),
            "avg travel time at t={}: ours {} CityFlow {}",
            f[0],
            m.avg_travel_time_s,
            f[6]
        );
    }
    let m = e.metrics();
    let r = reference("hz4x4/fixed_native");
    assert!(within(m.avg_travel_time_s, r["avg_travel_time"].as_f64().unwrap(), 0.05), "{m:?}");
    assert!(within(m.finished as f64, r["finished"].as_f64().unwrap(), 0.03), "{m:?}");
    assert_eq!(m.created, r["created"].as_u64().unwrap());
}

#[test]
fn hangzhou_per_vehicle_exit_times_match_cityflow() {
    let s = bundled("hangzhou_4x4", "flow.json");
    let mut e = engine(&s, EngineConfig::default());
    e.run(3600);
    let ours: std::collections::BTreeMap<String, (f64, f64)> = e
        .vehicle_records()
        .filter_map(|r| Some((e.vehicle_name(r.id)?, (r.entered_s?, r.exited_s?))))
        .collect();
    let text =
        std::fs::read_to_string(data_dir().join("reference/hz4x4_fixed_pervehicle.csv")).unwrap();
    let (mut same, mut total, mut abs_diff) = (0usize, 0usize, 0.0);
    for row in text.lines().skip(1) {
        let f: Vec<&str> = row.split(',').collect();
        total += 1;
        let (enter, exit): (f64, f64) = (f[2].parse().unwrap(), f[3].parse().unwrap());
        match ours.get(f[0]) {
            Some(&(oe, ox)) => {
                same += usize::from(oe == enter && ox == exit);
                abs_diff += (ox - exit).abs();
            }
            None => abs_diff += 3600.0 - exit,
        }
    }
    // The mechanics are CityFlow's, so nearly every vehicle should leave at the same second.
    assert!(same as f64 >= 0.98 * total as f64, "{same} of {total} vehicles identical");
    assert!(
        abs_diff / (total as f64) < 1.0,
        "mean |exit difference| {} s",
        abs_diff / total as f64
    );
}

#[test]
fn synthetic_4x4_native_hour_matches_cityflow() {
    let s = bundled("syn_4x4", "flow.json");
    let mut e = engine(&s, EngineConfig::default());
    e.run(3600);
    let m = e.metrics();
    let r = reference("syn4x4/fixed_native");
    assert!(within(m.avg_travel_time_s, r["avg_travel_time"].as_f64().unwrap(), 0.05), "{m:?}");
    assert!(within(m.finished as f64, r["finished"].as_f64().unwrap(), 0.03), "{m:?}");
    assert!(within(m.vehicle_steps as f64, r["vehicle_steps"].as_f64().unwrap(), 0.03), "{m:?}");
}

#[test]
fn synthetic_4x4_native_hour_is_cityflows_in_exact_mode() {
    let s = bundled("syn_4x4", "flow.json");
    let mut e = engine(&s, EngineConfig { cityflow_exact: true, ..EngineConfig::default() });
    e.run(3600);
    let m = e.metrics();
    let r = reference("syn4x4/fixed_native");
    assert_eq!(m.finished, r["finished"].as_u64().unwrap());
    assert_eq!(m.running, r["running"].as_u64().unwrap());
    assert_eq!(m.waiting, r["waiting_to_enter"].as_u64().unwrap());
    assert_eq!(m.vehicle_steps, r["vehicle_steps"].as_u64().unwrap());
    assert!((m.avg_travel_time_s - r["avg_travel_time"].as_f64().unwrap()).abs() < 1e-9);
}
