//! `citybrain sim`: output, files it writes, determinism across threads.

use citybrain_sim::replay::ReplayReader;

use crate::{citybrain, small_scenario, stderr, stdout};

const HZ: [&str; 4] =
    ["--roadnet", "data/hangzhou_4x4/roadnet.json", "--flow", "data/hangzhou_4x4/flow.json"];

fn json_run(extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["sim"];
    args.extend_from_slice(&HZ);
    args.extend_from_slice(extra);
    args.push("--json");
    let o = citybrain(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.trim().lines().count(), 1, "exactly one line of JSON: {out}");
    serde_json::from_str(out.trim()).expect("stdout is one JSON object")
}

#[test]
fn json_report_has_the_documented_keys() {
    let v = json_run(&["--steps", "600"]);
    for key in [
        "avg_travel_time",
        "created",
        "finished",
        "running",
        "waiting",
        "vehicle_steps",
        "load_seconds",
        "step_seconds",
        "vehicle_steps_per_second",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    let created = v["created"].as_u64().unwrap();
    let parts = v["finished"].as_u64().unwrap()
        + v["running"].as_u64().unwrap()
        + v["waiting"].as_u64().unwrap();
    assert_eq!(created, parts, "vehicles are conserved");
    assert_eq!(v["steps"], 600);
}

#[test]
fn two_threads_give_the_same_results_as_one() {
    let a = json_run(&["--steps", "900", "--threads", "1"]);
    let b = json_run(&["--steps", "900", "--threads", "2"]);
    for key in ["avg_travel_time", "created", "finished", "running", "waiting", "vehicle_steps"] {
        assert_eq!(a[key], b[key], "{key}");
    }
}

#[test]
fn human_summary_names_the_metrics() {
    let mut args = vec!["sim"];
    args.extend_from_slice(&HZ);
    args.extend_from_slice(&["--steps", "120"]);
    let o = citybrain(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for word in ["created", "finished", "running", "waiting", "average", "vehicle-steps"] {
        assert!(out.contains(word), "{word} missing from {out}");
    }
}

#[test]
fn vehicles_csv_and_replay_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let (r, f) = small_scenario(dir.path());
    let csv = dir.path().join("vehicles.csv");
    let replay = dir.path().join("run.replay");
    let o = citybrain(&[
        "sim",
        "--roadnet",
        r.to_str().unwrap(),
        "--flow",
        f.to_str().unwrap(),
        "--steps",
        "300",
        "--vehicles-csv",
        csv.to_str().unwrap(),
        "--replay",
        replay.to_str().unwrap(),
        "--replay-every",
        "10",
        "--emergency-every",
        "60",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("vehicle_id,id,flow,created_time,enter_lane_time,exit_time,travel_time,emergency")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len() as u64, v["created"].as_u64().unwrap());
    let finished = rows.iter().filter(|r| !r[5].is_empty()).count();
    assert_eq!(finished as u64, v["finished"].as_u64().unwrap());
    assert!(rows.iter().filter(|r| r[7] == "true").count() >= 4, "emergency vehicles every 60 s");
    let mut reader = ReplayReader::new(std::fs::File::open(&replay).unwrap()).unwrap();
    assert_eq!(reader.header().every_steps, 10);
    let mut frames = 0;
    while let Some(frame) = reader.next_frame().unwrap() {
        frames += 1;
        assert_eq!(frame.step, frames * 10);
        assert_eq!(frame.phases.len() as u32, reader.header().intersections);
    }
    assert_eq!(frames, 30);
}

#[test]
fn config_file_runs_the_same_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let (r, f) = small_scenario(dir.path());
    let cfg = dir.path().join("config.json");
    std::fs::write(
        &cfg,
        serde_json::json!({"interval": 1.0, "seed": 0, "dir": "", "roadnetFile": "roadnet.json",
            "flowFile": "flow.json", "rlTrafficLight": false})
        .to_string(),
    )
    .unwrap();
    let a = citybrain(&["sim", "--config", cfg.to_str().unwrap(), "--steps", "300", "--json"]);
    let b = citybrain(&[
        "sim",
        "--roadnet",
        r.to_str().unwrap(),
        "--flow",
        f.to_str().unwrap(),
        "--steps",
        "300",
        "--json",
    ]);
    assert!(a.status.success(), "{}", stderr(&a));
    let (a, b): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(stdout(&a).trim()).unwrap(),
        serde_json::from_str(stdout(&b).trim()).unwrap(),
    );
    assert_eq!(a["avg_travel_time"], b["avg_travel_time"]);
    assert_eq!(a["vehicle_steps"], b["vehicle_steps"]);
}
