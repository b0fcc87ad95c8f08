//! Emergency preemption: a green ahead of the emergency vehicle, safely, then back to normal.

use citybrain_signal::{
    Brain, BrainConfig, ControlConfig, ControllerKind, Decision, EmergencyObs, Network,
    Observation, PreemptParams, Rule, Signal,
};

use crate::fixture::{corridor, in_lane, set, with_queues};

/// The emergency vehicle drives east along the corridor's west approach at the speed limit,
/// reaching intersection 0's stop line at t = 26 s, then continues to intersection 1.
fn scene(net: &Network, t: f64) -> Observation {
    // North and south straight discharge steadily (one fewer halted every other second).
    let d = t as u32 % 2;
    let mut obs = with_queues(net, t, &[(4, 20, 10 - d, 8), (11, 20, 10 - d, 8)]);
    let approach = net.intersections[0].movements[0].from_road;
    let middle = net.intersections[0].movements[0].to_road;
    let last = net.intersections[1].movements[0].to_road;
    let distance = 290.0 - 11.111 * t;
    let ev = if distance > 0.0 {
        let lane = in_lane(net, 0, 0);
        set(&mut obs, lane, 1, 0, u32::from(distance < 60.0));
        EmergencyObs {
            id: 7,
            road: approach,
            lane: Some(lane),
            distance_to_end_m: distance,
            next_roads: vec![middle, last],
        }
    } else {
        EmergencyObs {
            id: 7,
            road: middle,
            lane: None,
            distance_to_end_m: 300.0 + distance,
            next_roads: vec![last],
        }
    };
    obs.emergencies.push(ev);
    obs
}

fn run(preemption: bool) -> (Vec<Signal>, Vec<Decision>) {
    let net = corridor(2, 300.0);
    let mut config = BrainConfig::new(ControlConfig::new(ControllerKind::Adaptive));
    config.preemption = preemption.then(PreemptParams::default);
    let mut brain = Brain::new(net.clone(), config).expect("valid brain");
    let mut shown = Vec::new();
    let mut decisions = Vec::new();
    for t in 0..40 {
        let out = brain.step(&scene(&net, f64::from(t)));
        decisions.extend(out.decisions.into_iter().filter(|d| d.intersection.0 == 0));
        shown.push(brain.signals().next().flatten().expect("decided"));
    }
    (shown, decisions)
}

#[test]
fn clears_the_way_before_the_vehicle_arrives() {
    let (shown, decisions) = run(true);
    let arrival = 26;
    assert!(
        matches!(shown[arrival - 1], Signal::Green { phase: 1 | 5 }),
        "green for the emergency vehicle's movement before it arrives: {:?}",
        &shown[..arrival]
    );
    let first = decisions.iter().find(|d| d.choice.rule == Rule::Preempt).expect("preempted");
    assert!(first.time_s > 5.0, "not while the vehicle is far away");
    assert!(first.choice.detail.contains("emergency vehicle 7"));
    // The change went through the transition.
    let t = first.time_s as usize;
    assert!(matches!(shown[t], Signal::Transition { .. }));
    let end = decisions.iter().find(|d| d.choice.rule == Rule::PreemptEnd).expect("released");
    assert!(end.time_s as usize > arrival, "held until the vehicle has passed");
}

#[test]
fn without_preemption_the_vehicle_meets_red() {
    let (shown, decisions) = run(false);
    assert!(shown[..30].iter().all(|s| *s == Signal::Green { phase: 2 }));
    assert!(decisions.iter().all(|d| d.choice.rule != Rule::Preempt));
}
