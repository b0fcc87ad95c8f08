//! The importer: precise errors for known mistakes, and no panic for any input — random
//! text, and random damage to a valid scenario (whose engine must then also run).

use citybrain_sim::generate::{self, GridSpec};
use citybrain_sim::import::{parse_config, parse_flows, parse_roadnet};
use citybrain_sim::{Engine, EngineConfig, ImportError, Scenario};
use proptest::prelude::*;
use serde_json::{Value, json};

fn small() -> (Value, Value) {
    generate::grid(&GridSpec {
        rows: 1,
        cols: 2,
        lanes: 2,
        vehicles_per_hour: 900,
        ..GridSpec::default()
    })
}

fn invalid_at(e: &ImportError) -> (&str, &str) {
    match e {
        ImportError::Invalid { path, message, .. } => (path, message),
        other => panic!("expected an invalid-value error, got {other}"),
    }
}

#[test]
fn errors_point_at_the_value() {
    type Case = (&'static str, fn(&mut Value, &mut Value), &'static str, &'static str);
    let cases: &[Case] = &[
        (
            "road id in route",
            |_, f| f[3]["route"][1] = json!("nope"),
            "[3].route[1]",
            "no road with id \"nope\"",
        ),
        ("interval", |_, f| f[0]["interval"] = json!(0), "[0].interval", "expected a number > 0"),
        (
            "tiny interval",
            |_, f| f[0]["interval"] = json!(1e-6),
            "[0].interval",
            "at least 0.001 s",
        ),
        (
            "empty route",
            |_, f| f[1]["route"] = json!([]),
            "[1].route",
            "expected at least one road",
        ),
        (
            "lane width",
            |r, _| r["roads"][4]["lanes"][1]["width"] = json!(-4),
            "roads[4].lanes[1].width",
            "> 0",
        ),
        (
            "one point",
            |r, _| r["roads"][0]["points"] = json!([{"x": 0, "y": 0}]),
            "roads[0].points",
            "at least 2 points",
        ),
        (
            "repeated point",
            |r, _| r["roads"][0]["points"][1] = r["roads"][0]["points"][0].clone(),
            "roads[0].points[1]",
            "repeats",
        ),
        (
            "no lanes",
            |r, _| r["roads"][2]["lanes"] = json!([]),
            "roads[2].lanes",
            "at least one lane",
        ),
        (
            "duplicate road",
            |r, _| r["roads"][1]["id"] = r["roads"][0]["id"].clone(),
            "roads[1].id",
            "duplicate road id",
        ),
    ];
    for (what, mutate, path, words) in cases {
        let (mut r, mut f) = small();
        mutate(&mut r, &mut f);
        let err = Scenario::from_json(&r.to_string(), "roadnet.json", &f.to_string(), "flow.json")
            .expect_err(what);
        let (p, m) = invalid_at(&err);
        assert_eq!(p, *path, "{what}: {err}");
        assert!(m.contains(words), "{what}: {err}");
    }
}

#[test]
fn unconnected_routes_are_warnings_and_create_nobody() {
    let (r, mut f) = small();
    let net = parse_roadnet(&r.to_string(), "roadnet.json").unwrap();
    // A route of a single road, and one that asks for a road behind the vehicle.
    let single = f[0]["route"][0].clone();
    f[0]["route"] = json!([single]);
    let d = parse_flows(&f.to_string(), "flow.json", &net).unwrap();
    assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
    assert!(d.warnings[0].contains("[0].route"));
    assert!(d.flows[0].route.is_none());
    let s = Scenario { network: std::sync::Arc::new(net), demand: std::sync::Arc::new(d) };
    let mut e = Engine::new(s.network.clone(), s.demand.clone(), EngineConfig::default()).unwrap();
    e.run(3600);
    assert!(e.vehicle_records().all(|r| r.flow.index() != 0));
}

#[test]
fn config_fields_are_read() {
    let c = parse_config(
        r#"{"interval": 0.5, "seed": 42, "dir": "data/x/", "roadnetFile": "r.json", "flowFile": "f.json", "rlTrafficLight": true, "laneChange": false, "saveReplay": false}"#,
        "config.json",
    )
    .unwrap();
    assert_eq!((c.interval_s, c.seed, c.rl_traffic_light), (0.5, 42, true));
    assert_eq!(c.roadnet_path(), "data/x/r.json");
    let e =
        parse_config(r#"{"interval": 1, "dir": "", "flowFile": "f"}"#, "config.json").unwrap_err();
    assert!(e.to_string().contains("config.json") && e.to_string().contains("roadnetFile"), "{e}");
}

/// Every JSON pointer in a document.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{at}/{k}");
                out.push(p.clone());
                pointers(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(x, p, out);
            }
        }
        _ => {}
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-5i64..40).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop::num::f64::NORMAL.prop_map(Value::from),
        (-1.0f64..1.0).prop_map(Value::from),
        "[a-z_0-9]{0,12}".prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
        Just(json!([{"x": 0, "y": 0}, {"x": 0, "y": 0}])),
    ]
}

/// Damage: (which document, which pointer, replace with value or delete).
fn damage() -> impl Strategy<Value = Vec<(bool, prop::sample::Index, Option<Value>)>> {
    prop::collection::vec(
        (any::<bool>(), any::<prop::sample::Index>(), prop::option::of(json_value())),
        1..4,
    )
}

fn apply(doc: &mut Value, at: &prop::sample::Index, with: &Option<Value>) {
    let mut all = Vec::new();
    pointers(doc, String::new(), &mut all);
    if all.is_empty() {
        return;
    }
    let p = at.get(&all).clone();
    match with {
        Some(v) => {
            if let Some(slot) = doc.pointer_mut(&p) {
                *slot = v.clone();
            }
        }
        None => {
            let (parent, key) = p.rsplit_once('/').unwrap();
            match doc.pointer_mut(parent) {
                Some(Value::Object(m)) => {
                    m.remove(key);
                }
                Some(Value::Array(a)) => {
                    let i: usize = key.parse().unwrap();
                    a.remove(i);
                }
                _ => {}
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_text_is_accepted_or_rejected_without_panic(text in "\\PC{0,200}") {
        let _ = parse_roadnet(&text, "roadnet.json");
        let _ = parse_config(&text, "config.json");
        let net = parse_roadnet(&small().0.to_string(), "roadnet.json").unwrap();
        let _ = parse_flows(&text, "flow.json", &net);
    }

    #[test]
    fn damaged_scenarios_fail_cleanly_or_run(d in damage(), seed in any::<u64>()) {
        let (mut r, mut f) = small();
        for (roadnet, at, with) in &d {
            apply(if *roadnet { &mut r } else { &mut f }, at, with);
        }
        match Scenario::from_json(&r.to_string(), "roadnet.json", &f.to_string(), "flow.json") {
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.starts_with("roadnet.json: ") || msg.starts_with("flow.json: "), "{}", msg);
            }
            Ok(s) => {
                let mut e = Engine::new(s.network, s.demand, EngineConfig { seed, ..EngineConfig::default() }).unwrap();
                e.run(120);
                let m = e.metrics();
                prop_assert_eq!(m.created, m.finished + m.running + m.waiting);
            }
        }
    }
}
