//! Bad parameters and networks are refused with messages naming what is wrong.

use citybrain_signal::{Brain, BrainConfig, ControlConfig, ControllerKind, SignalError};

use crate::fixture::single;

fn refuse(tweak: impl FnOnce(&mut ControlConfig), kind: ControllerKind, needle: &str) {
    let mut control = ControlConfig::new(kind);
    tweak(&mut control);
    let err = Brain::new(single(), BrainConfig::new(control)).err().expect("refused");
    assert!(err.to_string().contains(needle), "`{err}` should mention `{needle}`");
}

#[test]
fn controller_names_parse_and_unknown_ones_are_refused() {
    for kind in ControllerKind::ALL {
        assert_eq!(kind.name().parse::<ControllerKind>(), Ok(kind));
    }
    let err = "maxpressure".parse::<ControllerKind>().expect_err("unknown");
    assert!(matches!(err, SignalError::Param(ref m) if m.contains("max-pressure")));
}

#[test]
fn out_of_range_timings_are_refused() {
    use ControllerKind::*;
    refuse(|c| c.yellow_s = 10.0, MaxPressure, "--action-interval");
    refuse(|c| c.yellow_s = -1.0, Fixed, "--yellow");
    refuse(|c| c.green_s = 0.0, Fixed, "--green");
    refuse(|c| c.action_interval_s = -5.0, MaxPressure, "--action-interval");
    refuse(|c| c.yellow_s = 3.0, Adaptive, "at least 5 s");
    refuse(|c| c.green_s = f64::NAN, Fixed, "finite");
}

#[test]
fn inconsistent_networks_are_refused() {
    let mut net = single();
    net.intersections[0].phases[3].movements.push(99);
    let err = Brain::new(net, BrainConfig::new(ControlConfig::new(ControllerKind::Fixed)))
        .err()
        .expect("refused");
    assert!(matches!(err, SignalError::Layout(ref m) if m.contains("i0")), "{err}");
}
