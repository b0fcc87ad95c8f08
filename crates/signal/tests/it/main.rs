//! Integration tests of `citybrain-signal`: controllers, preemption and detectors on synthetic
//! networks and observations.

mod adaptive;
mod baselines;
mod detect;
mod fixture;
mod params;
mod preempt;
mod properties;
