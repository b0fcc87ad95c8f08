//! The traffic brain's quality bars, measured on the bundled scenarios and on generated grids
//! no controller was tuned on. One `bench control` run is shared by the assertions.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::{citybrain, stderr, stdout};

/// CityFlow's own results on the shared scenarios (`reference/cityflow/results.json` of the
/// project's shared material: CityFlow built from source, 3600 steps, seed 0).
const CITYFLOW: &[(&str, &str, f64)] = &[
    ("hangzhou_4x4/flow", "fixed-30", 517.3134428427758),
    ("hangzhou_4x4/flow", "fixed-30-y5", 590.515923566879),
    ("hangzhou_4x4/flow", "max-pressure-d10", 345.88467985249747),
    ("hangzhou_4x4/flow", "max-pressure-d10-y5", 369.01407978545086),
    ("hangzhou_4x4/flow", "max-pressure-d15", 345.88300368756285),
    ("hangzhou_4x4/flow", "max-pressure-d15-y5", 362.280590010057),
    ("hangzhou_4x4/flow", "max-pressure-d20", 353.93362386858865),
    ("hangzhou_4x4/flow", "max-pressure-d20-y5", 364.7656721421388),
    ("syn_4x4/flow", "fixed-30", 596.9120292048793),
    ("syn_4x4/flow", "fixed-30-y5", 715.9331315109963),
    ("syn_4x4/flow", "max-pressure-d10", 289.70510194995995),
    ("syn_4x4/flow", "max-pressure-d10-y5", 560.7148962692547),
    ("syn_4x4/flow", "max-pressure-d15", 249.58294007657378),
    ("syn_4x4/flow", "max-pressure-d15-y5", 476.20274240940256),
    ("syn_4x4/flow", "max-pressure-d20", 246.4795654883804),
    ("syn_4x4/flow", "max-pressure-d20-y5", 441.8512153859852),
];

/// Generated grids (rows x cols : road length : vehicles per hour : seed [: lanes]) held out
/// from tuning; the 2-lane one shares lanes between movements.
const UNSEEN: &[&str] = &[
    "5x5:300:4000:11",
    "3x4:600:2200:12",
    "4x4:250:3500:13",
    "2x2:350:1500:14",
    "3x3:400:1800:5:2",
];

/// Average travel time by (scenario, configuration), from one shared bench run.
fn results() -> &'static BTreeMap<(String, String), f64> {
    static RESULTS: OnceLock<BTreeMap<(String, String), f64>> = OnceLock::new();
    RESULTS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("bench.csv");
        let svg = dir.path().join("bench.svg");
        let mut args = vec![
            "bench",
            "control",
            "--scenario",
            "data/hangzhou_4x4",
            "--scenario",
            "data/jinan_3x4",
            "--scenario",
            "data/syn_4x4",
            "--csv",
            csv.to_str().unwrap(),
            "--svg",
            svg.to_str().unwrap(),
        ];
        for g in UNSEEN {
            args.extend(["--grid", g]);
        }
        let o = citybrain(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("| adaptive |"), "a Markdown table: {}", stdout(&o));
        let chart = std::fs::read_to_string(&svg).unwrap();
        assert!(chart.starts_with("<svg") && chart.contains("<rect"), "an SVG bar chart");
        let text = std::fs::read_to_string(&csv).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (s, c, a) = (col("scenario"), col("controller"), col("avg_travel_time"));
        lines
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                ((f[s].to_string(), f[c].to_string()), f[a].parse().unwrap())
            })
            .collect()
    })
}

fn scenarios() -> Vec<String> {
    let mut s: Vec<String> = results().keys().map(|k| k.0.clone()).collect();
    s.dedup();
    s
}

fn get(scenario: &str, config: &str) -> f64 {
    *results()
        .get(&(scenario.to_string(), config.to_string()))
        .unwrap_or_else(|| panic!("no result for {scenario} / {config}"))
}

fn best(scenario: &str, yellow: &str) -> f64 {
    [10, 15, 20]
        .iter()
        .map(|d| get(scenario, &format!("max-pressure-d{d}{yellow}")))
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn baselines_match_cityflow_within_seven_percent() {
    for &(scenario, config, cityflow) in CITYFLOW {
        let ours = get(scenario, config);
        let off = (ours - cityflow).abs() / cityflow;
        assert!(off <= 0.07, "{scenario} {config}: ours {ours:.2} s, CityFlow {cityflow:.2} s");
    }
}

#[test]
fn every_scenario_ran_every_controller() {
    assert_eq!(scenarios().len(), 6 + UNSEEN.len(), "{:?}", scenarios());
    for s in scenarios() {
        for c in ["fixed-30", "sotl", "adaptive"] {
            assert!(get(&s, c) > 0.0, "{s} {c}");
        }
    }
}

#[test]
fn adaptive_beats_max_pressure_with_the_same_transitions_by_fifteen_percent() {
    for s in scenarios() {
        let (adaptive, mp) = (get(&s, "adaptive"), best(&s, "-y5"));
        assert!(
            adaptive <= 0.85 * mp,
            "{s}: adaptive {adaptive:.2} s, best max-pressure with 5 s transitions {mp:.2} s"
        );
    }
}

#[test]
fn adaptive_beats_max_pressure_without_transitions() {
    for s in scenarios() {
        let (adaptive, mp) = (get(&s, "adaptive"), best(&s, ""));
        assert!(
            adaptive < mp,
            "{s}: adaptive {adaptive:.2} s, best max-pressure without transitions {mp:.2} s"
        );
    }
}
