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

#[test]
fn a_queue_away_from_the_stop_line_is_an_incident() {
    let net = single();
    // North straight is red, but its halted vehicles are not at the stop line.
    let found = alerts(25, |t| with_queues(&net, t, &[(11, 2, 2, 0)]));
    let found = incidents(&found);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].evidence.rule, "detached_queue");
    assert!(found[0].location.description.contains("mid-road"));
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
