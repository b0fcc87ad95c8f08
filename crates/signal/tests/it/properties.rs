//! Properties over random observations: safe transitions, and a bounded longest red.

use citybrain_signal::{
    AdaptiveParams, Brain, BrainConfig, ControlConfig, ControllerKind, EmergencyObs, Observation,
    PreemptParams, Signal,
};
use proptest::prelude::*;

use crate::fixture::{corridor, set};

const STEPS: usize = 400;

/// Random demand: a base level per movement lane and per-step noise.
fn demand() -> impl Strategy<Value = (Vec<u32>, Vec<u32>)> {
    (
        prop::collection::vec(prop_oneof![Just(0u32), 0u32..4, 0u32..25], 24),
        prop::collection::vec(0u32..3, 24 * STEPS),
    )
}

fn observation(
    net: &citybrain_signal::Network,
    t: usize,
    base: &[u32],
    noise: &[u32],
) -> Observation {
    let mut obs = crate::fixture::empty(net, t as f64);
    for n in 0..2 {
        for m in 0..12 {
            let k = n * 12 + m;
            let v = base[k] + noise[t * 24 + k];
            let v = if base[k] == 0 && noise[t * 24 + k] < 2 { 0 } else { v };
            let lane = net.intersections[n].movements[m].in_lanes[0];
            set(&mut obs, lane, v, v / 2, v.min(6));
        }
    }
    obs
}

fn controller(kind: ControllerKind, yellow_s: f64) -> ControlConfig {
    let mut c = ControlConfig::new(kind);
    c.yellow_s = yellow_s;
    c
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Between two different greens there is always at least the transition time of transition,
    /// for every controller, with or without emergency preemption.
    #[test]
    fn a_transition_always_separates_different_greens(
        (base, noise) in demand(),
        kind in prop::sample::select(ControllerKind::ALL.to_vec()),
        yellow in prop_oneof![Just(5.0), 2.0..6.0f64],
        emergencies in prop::collection::vec((0usize..STEPS, 0u32..8, 0.0..300.0f64), 0..6),
    ) {
        let net = corridor(2, 300.0);
        let yellow = if kind == ControllerKind::Adaptive { yellow.max(5.0) } else { yellow };
        let mut config = BrainConfig::new(controller(kind, yellow.round()));
        config.preemption = Some(PreemptParams::default());
        let mut brain = Brain::new(net.clone(), config).expect("valid brain");
        let mut last: Vec<Option<usize>> = vec![None; 2];
        let mut in_transition = [0usize; 2];
        for t in 0..STEPS {
            let mut obs = observation(&net, t, &base, &noise);
            for (i, &(at, road, dist)) in emergencies.iter().enumerate() {
                if t >= at && t < at + 40 {
                    let approach = net.intersections[(road % 2) as usize].movements[(road as usize * 3) % 12].clone();
                    obs.emergencies.push(EmergencyObs {
                        id: i as u64,
                        road: approach.from_road,
                        lane: Some(approach.in_lanes[0]),
                        distance_to_end_m: (dist - 11.0 * (t - at) as f64).max(0.0),
                        next_roads: vec![approach.to_road],
                    });
                }
            }
            brain.step(&obs);
            for (n, s) in brain.signals().enumerate() {
                match s.expect("decided") {
                    Signal::Transition { .. } => in_transition[n] += 1,
                    Signal::Green { phase } => {
                        if let Some(prev) = last[n] && prev != phase {
                            prop_assert!(
                                in_transition[n] as f64 >= yellow.round(),
                                "{kind:?}: green {prev} -> {phase} at {t} after {} s of transition",
                                in_transition[n]
                            );
                        }
                        last[n] = Some(phase);
                        in_transition[n] = 0;
                    }
                }
            }
        }
    }

    /// Under adaptive control, no movement with vehicles waits on red longer than the max red.
    #[test]
    fn no_movement_waits_longer_than_the_max_red((base, noise) in demand()) {
        let net = corridor(2, 300.0);
        let max_red = AdaptiveParams::default().max_red_s;
        let mut brain = Brain::new(net.clone(), BrainConfig::new(ControlConfig::new(ControllerKind::Adaptive)))
            .expect("valid brain");
        let mut since: Vec<Vec<Option<usize>>> = vec![vec![None; 12]; 2];
        for t in 0..STEPS {
            let obs = observation(&net, t, &base, &noise);
            brain.step(&obs);
            for (n, s) in brain.signals().enumerate() {
                let node = &net.intersections[n];
                let green = match s.expect("decided") {
                    Signal::Green { phase } => Some(phase),
                    Signal::Transition { .. } => None,
                };
                for (m, wait) in since[n].iter_mut().enumerate() {
                    let always = node.green_phases().all(|p| node.serves(p, m));
                    let served = always || green.is_some_and(|p| node.serves(p, m));
                    let waiting = obs.vehicles(&node.movements[m].in_lanes) > 0;
                    *wait = if !served && waiting { Some(wait.unwrap_or(t)) } else { None };
                    if let Some(s) = *wait {
                        prop_assert!((t - s) as f64 <= max_red, "movement {m} at {n} waited {} s", t - s);
                    }
                }
            }
        }
    }
}
