//! Fixed-time, max-pressure and SOTL exactly as the CityFlow reference defines them.

use citybrain_signal::{
    Brain, BrainConfig, ControlConfig, ControllerKind, Observation, Rule, Signal,
};

use crate::fixture::{in_lane, set, single, with_queues};

fn brain(kind: ControllerKind, tweak: impl FnOnce(&mut ControlConfig)) -> Brain {
    let mut control = ControlConfig::new(kind);
    tweak(&mut control);
    Brain::new(single(), BrainConfig::new(control)).expect("valid brain")
}

/// Runs `steps` one-second steps with observations from `obs`; the signal of intersection 0 each step.
fn run(brain: &mut Brain, steps: u32, obs: impl Fn(f64) -> Observation) -> Vec<Signal> {
    (0..steps)
        .map(|t| {
            brain.step(&obs(f64::from(t)));
            brain.signals().next().flatten().expect("decided")
        })
        .collect()
}

fn green(phase: usize) -> Signal {
    Signal::Green { phase }
}

fn transition(to: usize) -> Signal {
    Signal::Transition { to }
}

#[test]
fn fixed_cycles_through_greens_like_cityflow_rl30() {
    let mut b = brain(ControllerKind::Fixed, |_| {});
    let net = single();
    let shown = run(&mut b, 300, |t| with_queues(&net, t, &[]));
    for (t, s) in shown.iter().enumerate() {
        assert_eq!(*s, green(1 + (t / 30) % 8), "t = {t}");
    }
}

#[test]
fn fixed_with_yellow_shows_the_transition_after_every_green() {
    let mut b = brain(ControllerKind::Fixed, |c| c.yellow_s = 5.0);
    let net = single();
    let shown = run(&mut b, 8 * 35 + 1, |t| with_queues(&net, t, &[]));
    let expect = |t: usize| {
        let (k, r) = (t / 35, t % 35);
        if r < 30 { green(1 + k % 8) } else { transition(1 + (k + 1) % 8) }
    };
    for (t, s) in shown.iter().enumerate() {
        assert_eq!(*s, expect(t), "t = {t}");
    }
}

/// Queues as (movement, vehicles), vehicles per out lane of the east-bound exit, expected phase.
type PressureCase = (&'static [(usize, u32)], u32, usize);

const MAX_PRESSURE_CASES: &[PressureCase] = &[
    // Nothing anywhere: all pressures 0, ties go to the lowest phase.
    (&[], 0, 1),
    // West straight only: phases 1 and 5 tie, lowest wins.
    (&[(0, 5)], 0, 1),
    // West straight and left: phase 5 serves both.
    (&[(0, 5), (1, 3)], 0, 5),
    // North and south straight outweigh west straight.
    (&[(0, 5), (4, 3), (11, 3)], 0, 2),
    // The east-bound exit is full: west straight's pressure is negative.
    (&[(0, 5), (11, 1)], 4, 2),
    // Right turns are in every phase and change nothing.
    (&[(2, 9), (8, 2)], 0, 3),
];

#[test]
fn max_pressure_picks_the_largest_pressure() {
    let net = single();
    for (i, &(queues, exit_load, expect)) in MAX_PRESSURE_CASES.iter().enumerate() {
        let mut b = brain(ControllerKind::MaxPressure, |_| {});
        let mut obs = with_queues(&net, 0.0, &[]);
        for &(m, v) in queues {
            set(&mut obs, in_lane(&net, 0, m), v, 0, 0);
        }
        for &l in &net.intersections[0].movements[0].out_lanes {
            set(&mut obs, l, exit_load, 0, 0);
        }
        let out = b.step(&obs);
        assert_eq!(out.decisions.len(), 1, "case {i}");
        let d = &out.decisions[0];
        assert_eq!(d.choice.rule, Rule::MaxPressure);
        assert_eq!(d.choice.phase, expect, "case {i}: {:?}", d.choice.scores);
        assert_eq!(d.choice.scores.len(), 8, "every green phase is explained");
    }
}

#[test]
fn max_pressure_decides_every_interval_and_puts_yellow_first() {
    let net = single();
    let mut b = brain(ControllerKind::MaxPressure, |c| {
        c.action_interval_s = 10.0;
        c.yellow_s = 5.0;
    });
    // West straight queue for 20 s, then north straight.
    let shown = run(&mut b, 40, |t| {
        let m = if t < 20.0 { 0 } else { 11 };
        with_queues(&net, t, &[(m, 6, 6, 6)])
    });
    let mut expect = vec![green(1); 20];
    expect.extend(vec![transition(2); 5]);
    expect.extend(vec![green(2); 15]);
    assert_eq!(shown, expect);
}

#[test]
fn max_pressure_without_yellow_switches_at_once_and_only_at_decisions() {
    let net = single();
    let mut b = brain(ControllerKind::MaxPressure, |c| c.action_interval_s = 15.0);
    let shown = run(&mut b, 31, |t| {
        let m = if t < 7.0 { 0 } else { 11 };
        with_queues(&net, t, &[(m, 6, 6, 6)])
    });
    assert_eq!(shown[14], green(1), "no decision between intervals");
    assert_eq!(shown[15], green(2));
    assert_eq!(shown[30], green(2));
}

/// (halted on the current green's lanes, halted on red lanes, seconds of green, switches?).
const SOTL_CASES: &[(u32, u32, u32, bool)] = &[
    (0, 31, 10, true),
    (20, 31, 10, true),
    (21, 31, 10, false),
    (0, 30, 10, false),
    (0, 31, 9, false),
    (5, 100, 40, true),
];

#[test]
fn sotl_switches_with_few_on_green_and_many_on_red() {
    let net = single();
    for (i, &(on_green, on_red, after, switches)) in SOTL_CASES.iter().enumerate() {
        let mut b = brain(ControllerKind::Sotl, |_| {});
        // Phase 1 (west and east straight) starts; the red vehicles wait on north straight.
        let shown = run(&mut b, after + 1, |t| {
            if t < f64::from(after) {
                with_queues(&net, t, &[])
            } else {
                with_queues(&net, t, &[(0, on_green, on_green, 0), (11, on_red, on_red, 0)])
            }
        });
        let last = *shown.last().expect("ran");
        let expect = if switches { green(2) } else { green(1) };
        assert_eq!(last, expect, "case {i}");
    }
}
