//! Incident detection and the congestion index on synthetic lane readings.

use citybrain_signal::{
    Alert, AlertKind, Brain, BrainConfig, ControlConfig, ControllerKind, IncidentParams,
    Observation, RoadId,
};

use crate::fixture::{in_lane, set, single, with_queues};

/// Runs fixed-time control (phase 1 green for the first 30 s) over `steps` observations.
fn alerts(steps: u32, obs: impl Fn(f64) -> Observation) -> Vec<Alert> {
    let mut brain =
        Brain::new(single(), BrainConfig::new(ControlConfig::new(ControllerKind::Fixed)))
            .expect("valid brain");
    (0..steps).flat_map(|t| brain.step(&obs(f64::from(t))).alerts).collect()
}

fn incidents(all: &[Alert]) -> Vec<&Alert> {
    all.iter().filter(|a| a.kind == AlertKind::Incident).collect()
}

#[test]
fn a_queue_that_never_moves_on_green_is_an_incident() {
    let net = single();
    let found = alerts(28, |t| with_queues(&net, t, &[(0, 3, 3, 3)]));
    let found = incidents(&found);
    assert_eq!(found.len(), 1, "one alert per incident: {found:?}");
    let a = found[0];
    let stuck = IncidentParams::default().stuck_s;
    assert!(a.time <= stuck + 2.0, "reported at {}", a.time);
    assert_eq!(a.road, net.roads[net.road_of(in_lane(&net, 0, 0)).index()].name);
    assert_eq!(a.location.lane, Some(1));
    assert_eq!(a.location.intersection.as_deref(), Some("i0"));
    assert_eq!(a.evidence.rule, "no_discharge_on_green");
    assert_eq!(a.evidence.halted, 3);
}

#[test]
fn a_discharging_queue_is_not_an_incident() {
    let net = single();
    // 12 queued at the start of green, one leaves every 2 s after a 4 s start-up, arrivals keep
    // the lane busy.
    let found = alerts(30, |t| {
        let left = ((t - 4.0) / 2.0).max(0.0) as u32;
        let halted = 12u32.saturating_sub(left);
        with_queues(&net, t, &[(0, halted + 2, halted, halted.min(8))])
    });
    assert!(incidents(&found).is_empty(), "{found:?}");
}

#[test]
fn a_queue_on_red_is_not_an_incident() {
    let net = single();
    // North straight is red for the whole first green of phase 1.
    let found = alerts(29, |t| with_queues(&net, t, &[(11, 9, 9, 8)]));
    assert!(incidents(&found).is_empty(), "{found:?}");
}

#[test]
fn a_queue_behind_a_full_exit_is_not_an_incident() {
    let net = single();
    let found = alerts(29, |t| {
        let mut obs = with_queues(&net, t, &[(0, 5, 5, 5)]);
        // The exit itself crawls: a vehicle leaves it every other second.
        let crawl = (t as u32) % 2;
        for &l in &net.intersections[0].movements[0].out_lanes {
            set(&mut obs, l, 38 - crawl, 30 - crawl, 8);
        }
        obs
    });
    assert!(incidents(&found).is_empty(), "{found:?}");
}

/// One lane's reading in a scripted sequence: (vehicles, halted, near the stop line, halted
/// standing apart from any queue, distance of the nearest of those from the stop line).
type Reading = (u32, u32, u32, u32, f64);

/// A detector test as data: a lane's readings over time and the incident rules expected, in
/// order (none: no incident alert at all).
struct Case {
    name: &'static str,
    /// The movement at intersection 0 whose lane is scripted (0 has green for the first 30 s,
    /// 11 is red then).
    movement: usize,
    steps: u32,
    reading: fn(f64) -> Reading,
    expected: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "a broken-down vehicle on an empty lane",
        movement: 11,
        steps: 40,
        reading: |t| if t >= 5.0 { (1, 1, 0, 1, 150.0) } else { (0, 0, 0, 0, 0.0) },
        expected: &["stopped_vehicle"],
    },
    Case {
        name: "a stopped vehicle mid-road while a queue waits at the red light",
        movement: 11,
        steps: 29,
        reading: |t| if t >= 2.0 { (7, 7, 5, 1, 220.0) } else { (6, 6, 5, 0, 0.0) },
        expected: &["stopped_vehicle"],
    },
    Case {
        name: "a stopped vehicle upstream of a discharging queue",
        movement: 0,
        steps: 29,
        reading: |t| {
            let queue = 10u32.saturating_sub((t / 2.0) as u32);
            (queue + 3, queue + 1, queue.min(8), 1, 180.0)
        },
        expected: &["stopped_vehicle"],
    },
    Case {
        name: "a queue at a red light",
        movement: 11,
        steps: 29,
        reading: |_| (9, 9, 8, 0, 0.0),
        expected: &[],
    },
    Case {
        name: "a vehicle that stops for 15 s and drives on",
        movement: 11,
        steps: 60,
        reading: |t| if (5.0..20.0).contains(&t) { (1, 1, 0, 1, 90.0) } else { (1, 0, 0, 0, 0.0) },
        expected: &[],
    },
    Case {
        name: "vehicles that stop apart briefly, one after another",
        movement: 11,
        steps: 60,
        reading: |t| if (t as u32) % 8 < 5 { (2, 1, 0, 1, 120.0) } else { (2, 0, 0, 0, 0.0) },
        expected: &[],
    },
    Case {
        name: "an incident that clears and a second one later",
        movement: 11,
        steps: 80,
        reading: |t| {
            if (25.0..45.0).contains(&t) { (0, 0, 0, 0, 0.0) } else { (1, 1, 0, 1, 150.0) }
        },
        expected: &["stopped_vehicle", "stopped_vehicle"],
    },
    Case {
        name: "an incident that stays is reported once",
        movement: 11,
        steps: 120,
        reading: |_| (4, 4, 0, 1, 150.0),
        expected: &["stopped_vehicle"],
    },
];

#[test]
fn scripted_lane_readings_raise_the_expected_incident_alerts() {
    let net = single();
    let stopped_s = IncidentParams::default().stopped_s;
    for case in CASES {
        let lane = in_lane(&net, 0, case.movement);
        let found = alerts(case.steps, |t| {
            let mut obs = with_queues(&net, t, &[]);
            let (v, h, n, apart, at) = (case.reading)(t);
            set(&mut obs, lane, v, h, n);
            obs.lanes[lane.index()].stopped_apart = apart;
            obs.lanes[lane.index()].stopped_apart_m = at;
            obs
        });
        let found = incidents(&found);
        let rules: Vec<&str> = found.iter().map(|a| a.evidence.rule).collect();
        assert_eq!(rules, case.expected, "{}: {found:?}", case.name);
        for a in &found {
            assert_eq!(a.road, net.roads[net.road_of(lane).index()].name, "{}", case.name);
            assert_eq!(a.location.lane, Some(1), "{}", case.name);
            assert!(a.evidence.duration_s >= stopped_s, "{}: {a:?}", case.name);
            let at = format!("{:.0} m before the stop line", (case.reading)(a.time).4);
            assert!(a.location.description.contains(&at), "{}: {a:?}", case.name);
        }
        if let Some(first) = found.first() {
            let start = (0..case.steps)
                .map(f64::from)
                .find(|&t| (case.reading)(t).3 > 0)
                .expect("a stopped vehicle");
            assert!(first.time - start <= stopped_s + 1.0, "{}: late {first:?}", case.name);
        }
    }
}

#[test]
fn congestion_index_is_one_in_free_flow_and_rises_with_stopped_traffic() {
    let net = single();
    let mut brain =
        Brain::new(net.clone(), BrainConfig::new(ControlConfig::new(ControllerKind::Fixed)))
            .expect("valid brain");
    let jammed = net.road_of(in_lane(&net, 0, 11));
    let free = net.road_of(in_lane(&net, 0, 0));
    let mut raised = Vec::new();
    for t in 0..400 {
        let mut obs = with_queues(&net, f64::from(t), &[(11, 30, 27, 8), (0, 5, 0, 1)]);
        set(&mut obs, in_lane(&net, 0, 0), 5, 0, 1);
        raised.extend(brain.step(&obs).alerts);
    }
    let c = brain.congestion();
    assert!((c.road_index(&net, free) - 1.0).abs() < 1e-6);
    assert!(c.road_index(&net, jammed) > 5.0, "{}", c.road_index(&net, jammed));
    assert!(c.road_index(&net, RoadId(5)) == 1.0, "an empty road is free");
    let ci = c.intersection_index(&net, citybrain_signal::IntersectionId(0));
    assert!(ci > 1.0 && ci < c.road_index(&net, jammed));
    let congestion: Vec<_> = raised.iter().filter(|a| a.kind == AlertKind::Congestion).collect();
    assert_eq!(congestion.len(), 1, "{congestion:?}");
    assert_eq!(congestion[0].road, net.roads[jammed.index()].name);
}

#[test]
fn alerts_serialise_with_the_documented_fields() {
    let net = single();
    let found = alerts(28, |t| with_queues(&net, t, &[(0, 3, 3, 3)]));
    let json = serde_json::to_value(&found[0]).expect("serialisable");
    for field in ["time", "kind", "severity", "road", "location", "evidence"] {
        assert!(json.get(field).is_some(), "missing {field} in {json}");
    }
    assert_eq!(json["kind"], "incident");
}
