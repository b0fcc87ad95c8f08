//! Citybrain's adaptive controller on hand-made situations.

use citybrain_signal::{
    AdaptiveParams, Brain, BrainConfig, ControlConfig, ControllerKind, Decision, Observation, Rule,
    Signal,
};

use crate::fixture::{single, with_queues};

fn adaptive() -> Brain {
    Brain::new(single(), BrainConfig::new(ControlConfig::new(ControllerKind::Adaptive)))
        .expect("valid brain")
}

/// Runs steps 0..steps; returns each step's signal at intersection 0 and all decisions.
fn run(steps: u32, obs: impl Fn(f64) -> Observation) -> (Vec<Signal>, Vec<Decision>) {
    let mut b = adaptive();
    let mut shown = Vec::new();
    let mut decisions = Vec::new();
    for t in 0..steps {
        decisions.extend(b.step(&obs(f64::from(t))).decisions);
        shown.push(b.signals().next().flatten().expect("decided"));
    }
    (shown, decisions)
}

fn green(phase: usize) -> Signal {
    Signal::Green { phase }
}

#[test]
fn starts_with_the_phase_with_most_demand() {
    let net = single();
    let (shown, decisions) = run(1, |t| with_queues(&net, t, &[(4, 4, 4, 4), (11, 3, 3, 3)]));
    assert_eq!(shown[0], green(2));
    assert_eq!(decisions[0].choice.rule, Rule::AdaptiveStart);
}

#[test]
fn gaps_out_to_waiting_traffic_through_a_transition() {
    let net = single();
    // West straight at first, then nobody there and a queue on north straight.
    let (shown, decisions) = run(20, |t| {
        if t < 1.0 {
            with_queues(&net, t, &[(0, 3, 3, 3)])
        } else {
            with_queues(&net, t, &[(11, 2, 2, 2)])
        }
    });
    let min_green = AdaptiveParams::default().min_green_s as usize;
    assert_eq!(shown[..min_green], vec![green(1); min_green][..], "min green holds");
    let switch = decisions.iter().find(|d| d.choice.rule == Rule::AdaptiveGapOut).expect("gap-out");
    assert_eq!(switch.time_s, min_green as f64);
    assert_eq!(switch.previous, Some(1));
    let t = min_green;
    assert_eq!(shown[t..t + 5], vec![Signal::Transition { to: switch.choice.phase }; 5][..]);
    assert!(matches!(switch.choice.phase, 2 | 8), "serves north straight");
    assert_eq!(shown[t + 5], green(switch.choice.phase));
}

#[test]
fn keeps_a_discharging_green_against_a_small_queue() {
    let net = single();
    // The queues move: one fewer halted vehicle every other second, as a discharging queue
    // topped up by arrivals does.
    let (shown, decisions) = run(30, |t| {
        let d = t as u32 % 2;
        with_queues(&net, t, &[(0, 8, 4 - d, 6), (7, 6, 3 - d, 5), (11, 1, 1, 1)])
    });
    assert!(shown.iter().all(|s| *s == green(1)), "{decisions:?}");
}

#[test]
fn switches_when_another_phase_has_far_more_demand() {
    let net = single();
    let (_, decisions) = run(12, |t| {
        if t < 1.0 {
            with_queues(&net, t, &[(0, 2, 2, 2)])
        } else {
            with_queues(&net, t, &[(0, 2, 1, 2), (4, 12, 12, 8), (11, 12, 12, 8)])
        }
    });
    let d = decisions.iter().find(|d| d.choice.rule == Rule::AdaptivePressure).expect("switch");
    assert_eq!(d.choice.phase, 2);
    assert_eq!(d.time_s, AdaptiveParams::default().min_green_s);
    assert_eq!(d.choice.scores.len(), 8, "every green phase is explained");
}

#[test]
fn ends_a_green_at_max_green() {
    let net = single();
    let p = AdaptiveParams::default();
    // Both directions keep heavy demand; phase 1 would hold by demand alone.
    let (_, decisions) = run(p.max_green_s as u32 + 2, |t| {
        let d = t as u32 % 2;
        with_queues(&net, t, &[(0, 20, 10 - d, 8), (7, 20, 10 - d, 8), (11, 3, 3, 3)])
    });
    let d = decisions.iter().find(|d| d.choice.rule == Rule::AdaptiveMaxGreen).expect("max green");
    assert_eq!(d.time_s, p.max_green_s);
}

#[test]
fn serves_a_lone_left_turn_before_the_longest_red() {
    let net = single();
    let p = AdaptiveParams::default();
    // Heavy through traffic both ways forever, one vehicle waiting to turn left from the west.
    // Max green would alternate the two through phases; max red must get the left turn served.
    let (shown, decisions) = run(p.max_red_s as u32 + 1, |t| {
        with_queues(
            &net,
            t,
            &[(0, 20, 10, 8), (7, 20, 10, 8), (4, 20, 10, 8), (11, 20, 10, 8), (1, 1, 1, 1)],
        )
    });
    let served = shown
        .iter()
        .position(|s| matches!(s, Signal::Green { phase: 3 | 5 }))
        .expect("left turn served");
    assert!(served as f64 <= p.max_red_s, "served at {served}");
    assert!(decisions.iter().any(|d| d.choice.rule == Rule::AdaptiveMaxRed));
}

#[test]
fn gives_up_a_green_that_moves_nobody() {
    let net = single();
    // West and east straight queues never move (their first vehicles are stuck), a queue waits
    // on north straight.
    let (_, decisions) =
        run(20, |t| with_queues(&net, t, &[(0, 6, 6, 6), (7, 6, 6, 6), (11, 4, 4, 4)]));
    let d = decisions.iter().find(|d| d.choice.rule != Rule::AdaptiveStart).expect("switch");
    assert_eq!(d.time_s, AdaptiveParams::default().stall_s, "{d:?}");
    assert!(matches!(d.choice.phase, 2 | 8), "serves north straight: {d:?}");
}

#[test]
fn holds_a_green_until_the_queue_it_started_with_has_had_time_to_clear() {
    let net = single();
    let p = AdaptiveParams::default();
    // West straight starts green with 10 queued vehicles; from then on it discharges (one
    // fewer halted vehicle every other second) while the north and east queues are far larger,
    // which alone would end the green at the minimum green.
    let (shown, decisions) = run(40, |t| {
        if t < 2.0 {
            with_queues(&net, t, &[(0, 10, 10, 8)])
        } else {
            let d = t as u32 % 2;
            with_queues(&net, t, &[(0, 8, 4 - d, 6), (4, 12, 12, 8), (11, 12, 12, 8)])
        }
    });
    let clearing = 10.0 * p.sat_headway_s * p.queue_green_scale;
    assert!(clearing > p.min_green_s + 1.0, "the test needs a queue-clearing green: {clearing}");
    for x in &decisions {
        eprintln!(
            "{} {:?} {:?} {:?} {}",
            x.time_s, x.previous, x.choice.phase, x.choice.rule, x.choice.detail
        );
    }
    let d = decisions.iter().find(|d| d.choice.rule == Rule::AdaptivePressure).expect("switch");
    assert!(
        d.time_s + 1e-9 >= clearing && d.time_s < clearing + 1.0,
        "pressure ends the green once the queue had time to clear ({clearing} s): {d:?}"
    );
    assert!(shown[..clearing as usize].iter().all(|s| *s == green(1)));
    assert!(d.choice.detail.contains("queue-clearing"), "explained: {}", d.choice.detail);
}

#[test]
fn a_queue_clearing_green_still_gaps_out() {
    let net = single();
    // The west queue leaves at once (nobody left on or near the stop line): gap-out at the
    // minimum green although 10 vehicles were queued when the green started.
    let (_, decisions) = run(20, |t| {
        if t < 2.0 {
            with_queues(&net, t, &[(0, 10, 10, 8)])
        } else {
            with_queues(&net, t, &[(11, 4, 4, 4)])
        }
    });
    let d = decisions.iter().find(|d| d.choice.rule != Rule::AdaptiveStart).expect("switch");
    assert_eq!(d.choice.rule, Rule::AdaptiveGapOut);
    assert_eq!(d.time_s, AdaptiveParams::default().min_green_s);
}
