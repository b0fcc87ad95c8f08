//! `citybrain gen grid`.

use crate::{citybrain, stderr, stdout};

#[test]
fn generated_grid_is_a_runnable_cityflow_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("grid");
    let o = citybrain(&[
        "gen",
        "grid",
        "--rows",
        "3",
        "--cols",
        "4",
        "--lanes",
        "2",
        "--vehicles-per-hour",
        "1500",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let roadnet: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("roadnet.json")).unwrap()).unwrap();
    let signals = roadnet["intersections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["virtual"] == false)
        .count();
    assert_eq!(signals, 12);
    let o = citybrain(&[
        "sim",
        "--config",
        out.join("config.json").to_str().unwrap(),
        "--steps",
        "3600",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let created = v["created"].as_u64().unwrap();
    assert!((1400..=1600).contains(&created), "about 1500 vehicles in the hour, got {created}");
    assert!(v["finished"].as_u64().unwrap() > created / 2);
}

#[test]
fn grid_options_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    for args in [
        vec!["gen", "grid", "--rows", "0", "--cols", "3", "--out", out],
        vec!["gen", "grid", "--rows", "2", "--cols", "3", "--road-length", "10", "--out", out],
        vec!["gen", "grid", "--rows", "2", "--cols", "3", "--lanes", "0", "--out", out],
    ] {
        let o = citybrain(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}
