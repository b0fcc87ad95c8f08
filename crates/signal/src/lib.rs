//! Citybrain's traffic brain: signal control from what detectors see, and why.
//!
//! The crate is pure (no I/O, no clock, no async) and knows nothing about the simulator. Its
//! caller describes the controlled area once as a [`Network`] (roads, lanes, intersections with
//! their movements and phases, with dense ids of the caller's choosing) and then, every control
//! step, hands a [`Observation`] (per-lane vehicle counts, halted vehicles, mean speeds, vehicles
//! near the stop line, and emergency vehicles' positions and routes) to [`Brain::step`]. The brain
//! answers with the [`Signal`] each intersection shows until the next step ([`Brain::signals`]),
//! the [`Decision`]s it took with their inputs and rule, and any [`Alert`]s.
//!
//! Terms:
//! - **movement**: traffic from one road into another through an intersection (a roadnet "road
//!   link"); a **phase** is a set of movements with green together;
//! - **transition**: the phase shown between two different greens (right turns only in the shared
//!   roadnets) — the yellow/all-red of a real signal;
//! - **pressure** (max-pressure): vehicles on a movement's incoming lanes minus on its outgoing lanes;
//! - **congestion index**: current travel time over free-flow travel time (1 = free flow).
//!
//! Controllers: `fixed`, `max-pressure` and `sotl` baselines, defined exactly as in the CityFlow
//! literature, and Citybrain's `adaptive` controller (see [`AdaptiveParams`]). Emergency vehicles
//! get a green wave when preemption is enabled ([`PreemptParams`]).

mod alert;
mod brain;
mod congestion;
mod control;
mod decision;
mod incident;
mod network;
mod observe;
mod preempt;
mod timing;

pub use alert::{Alert, AlertKind, Evidence, Location, Severity};
pub use brain::{Brain, BrainConfig, StepOutput};
pub use congestion::{CongestionParams, CongestionTracker};
pub use control::{AdaptiveParams, ControlConfig, ControllerKind, SotlParams};
pub use decision::{Choice, Decision, Rule, Signal};
pub use incident::{IncidentDetector, IncidentParams};
pub use network::{
    Intersection, IntersectionId, Lane, LaneId, Movement, Network, Phase, PhaseIdx, Road, RoadId,
    Turn,
};
pub use observe::{EmergencyObs, LaneObs, Observation};
pub use preempt::PreemptParams;
pub use timing::SignalState;

/// Errors the brain reports; both are the caller's mistakes.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SignalError {
    /// The network description is inconsistent.
    #[error("invalid signal network: {0}")]
    Layout(String),
    /// A parameter is out of range.
    #[error("{0}")]
    Param(String),
}
