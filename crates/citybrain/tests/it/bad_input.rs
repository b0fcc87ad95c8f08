//! Bad input: every case exits with code 2 and an error that names the file, where in it,
//! and what was expected — never a panic.

use serde_json::{Value, json};

use crate::{citybrain, stderr};

type Mutation = fn(&mut Value, &mut Value);

fn signal_index(roadnet: &Value) -> usize {
    roadnet["intersections"].as_array().unwrap().iter().position(|i| i["virtual"] == false).unwrap()
}

/// (what is wrong, mutation of (roadnet, flow), file expected in the message, words expected)
const CASES: &[(&str, Mutation, &str, &[&str])] = &[
    (
        "unknown road in a route",
        |_, f| f[0]["route"][0] = json!("road_nowhere"),
        "flow.json",
        &["[0].route[0]", "no road with id \"road_nowhere\""],
    ),
    (
        "lane link to a lane that does not exist",
        |r, _| {
            let i = signal_index(r);
            r["intersections"][i]["roadLinks"][0]["laneLinks"][0]["endLaneIndex"] = json!(9);
        },
        "roadnet.json",
        &[
            "roadLinks[0].laneLinks[0].endLaneIndex",
            "lane 9 does not exist",
            "expected an index in 0..3",
        ],
    ),
    (
        "phase naming a missing road link",
        |r, _| {
            let i = signal_index(r);
            r["intersections"][i]["trafficLight"]["lightphases"][0]["availableRoadLinks"] =
                json!([1, 99]);
        },
        "roadnet.json",
        &["lightphases[0].availableRoadLinks[1]", "road link 99 does not exist"],
    ),
    (
        "zero phase duration",
        |r, _| {
            let i = signal_index(r);
            r["intersections"][i]["trafficLight"]["lightphases"][1]["time"] = json!(0);
        },
        "roadnet.json",
        &["lightphases[1].time", "expected a number > 0"],
    ),
    (
        "negative phase duration",
        |r, _| {
            let i = signal_index(r);
            r["intersections"][i]["trafficLight"]["lightphases"][2]["time"] = json!(-5);
        },
        "roadnet.json",
        &["lightphases[2].time", "expected a number > 0"],
    ),
    (
        "negative flow interval",
        |_, f| f[1]["interval"] = json!(-1.0),
        "flow.json",
        &["[1].interval", "expected a number > 0"],
    ),
    (
        "zero deceleration",
        |_, f| f[2]["vehicle"]["maxNegAcc"] = json!(0),
        "flow.json",
        &["[2].vehicle.maxNegAcc", "expected a number > 0"],
    ),
    (
        "wrong type",
        |r, _| r["roads"][0]["lanes"][0]["maxSpeed"] = json!("fast"),
        "roadnet.json",
        &["roads[0].lanes[0].maxSpeed", "invalid type"],
    ),
    (
        "missing field",
        |r, _| {
            r["roads"][1].as_object_mut().unwrap().remove("startIntersection");
        },
        "roadnet.json",
        &["roads[1]", "missing field `startIntersection`"],
    ),
    (
        "road to an unknown intersection",
        |r, _| r["roads"][2]["endIntersection"] = json!("nowhere"),
        "roadnet.json",
        &["roads[2].endIntersection", "no intersection with id \"nowhere\""],
    ),
    (
        "unknown turn type",
        |r, _| {
            let i = signal_index(r);
            r["intersections"][i]["roadLinks"][3]["type"] = json!("u_turn");
        },
        "roadnet.json",
        &["roadLinks[3].type", "expected go_straight, turn_left or turn_right"],
    ),
    (
        "flow file is not an array",
        |_, f| *f = json!({"flows": []}),
        "flow.json",
        &["invalid type: map, expected a sequence"],
    ),
];

fn write_case(dir: &std::path::Path, m: Mutation) -> (String, String) {
    let spec = citybrain_sim::generate::GridSpec {
        rows: 1,
        cols: 2,
        vehicles_per_hour: 600,
        ..Default::default()
    };
    let (mut r, mut f) = citybrain_sim::generate::grid(&spec);
    m(&mut r, &mut f);
    let (rp, fp) = (dir.join("roadnet.json"), dir.join("flow.json"));
    std::fs::write(&rp, serde_json::to_string_pretty(&r).unwrap()).unwrap();
    std::fs::write(&fp, serde_json::to_string_pretty(&f).unwrap()).unwrap();
    (rp.to_str().unwrap().to_owned(), fp.to_str().unwrap().to_owned())
}

fn assert_usage_error(o: &std::process::Output, what: &str, words: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{what}: exit code 2 expected, stderr: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    for w in words {
        assert!(err.contains(w), "{what}: expected {w:?} in: {err}");
    }
}

#[test]
fn each_bad_file_is_reported_with_file_path_and_expectation() {
    for (what, m, file, words) in CASES {
        let dir = tempfile::tempdir().unwrap();
        let (r, f) = write_case(dir.path(), *m);
        let o = citybrain(&["sim", "--roadnet", &r, "--flow", &f, "--steps", "10"]);
        let mut expected = words.to_vec();
        expected.push(file);
        assert_usage_error(&o, what, &expected);
    }
}

#[test]
fn malformed_json_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let (r, f) = write_case(dir.path(), |_, _| {});
    std::fs::write(&r, "{\n  \"intersections\": [\n    {,\n").unwrap();
    let o = citybrain(&["sim", "--roadnet", &r, "--flow", &f]);
    assert_usage_error(&o, "malformed JSON", &["roadnet.json", "malformed JSON at line 3"]);
}

#[test]
fn bad_parameters_and_missing_files_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (r, f) = write_case(dir.path(), |_, _| {});
    let cases: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
        ("interval 0", vec!["--interval", "0"], vec!["interval 0", "expected a step length > 0"]),
        ("negative interval", vec!["--interval=-1"], vec!["expected a step length > 0"]),
        (
            "unknown controller",
            vec!["--control", "magic"],
            vec!["unknown controller \"magic\"", "native", "hold"],
        ),
        ("zero threads", vec!["--threads", "0"], vec!["threads"]),
        ("bad emergency period", vec!["--emergency-every", "0"], vec!["--emergency-every"]),
    ];
    for (what, extra, words) in cases {
        let mut args = vec!["sim", "--roadnet", &r, "--flow", &f, "--steps", "5"];
        args.extend(extra);
        assert_usage_error(&citybrain(&args), what, &words);
    }
    let o = citybrain(&["sim", "--roadnet", "no/such/roadnet.json", "--flow", &f]);
    assert_usage_error(&o, "missing file", &["cannot read no/such/roadnet.json"]);
    let cfg = dir.path().join("config.json");
    std::fs::write(&cfg, r#"{"interval": 0, "seed": 0, "dir": "", "roadnetFile": "roadnet.json", "flowFile": "flow.json", "rlTrafficLight": false}"#).unwrap();
    let o = citybrain(&["sim", "--config", cfg.to_str().unwrap()]);
    assert_usage_error(
        &o,
        "config interval 0",
        &["config.json", "interval", "expected a number > 0"],
    );
}
