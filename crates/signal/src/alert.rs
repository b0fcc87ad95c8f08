//! Alerts raised by the congestion and incident detectors.

use serde::Serialize;

/// What an alert is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A lane that does not discharge: a breakdown, a crash, a closure.
    Incident,
    /// A road whose travel time is well above free flow.
    Congestion,
}

/// How bad it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth watching.
    Low,
    /// Worth acting on.
    Medium,
    /// Act now.
    High,
}

/// Where an alert is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Location {
    /// The road's external id.
    pub road: String,
    /// The lane's index within the road, for lane-level alerts.
    pub lane: Option<u32>,
    /// The signalised intersection at the road's end, if any.
    pub intersection: Option<String>,
    /// Where on the road, in words.
    pub description: String,
}

/// The observations that triggered an alert.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Evidence {
    /// The detection rule, e.g. `no_discharge_on_green`.
    pub rule: &'static str,
    /// Vehicles on the lane or road.
    pub vehicles: u32,
    /// Halted vehicles on the lane or road.
    pub halted: u32,
    /// Mean speed, m/s.
    pub mean_speed_mps: f64,
    /// Seconds the condition has held.
    pub duration_s: f64,
    /// Congestion index (current over free-flow travel time) of the road.
    pub congestion_index: f64,
}

/// One alert.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    /// Simulated time in seconds.
    pub time: f64,
    /// Incident or congestion.
    pub kind: AlertKind,
    /// How bad.
    pub severity: Severity,
    /// The road's external id.
    pub road: String,
    /// Where.
    pub location: Location,
    /// Why.
    pub evidence: Evidence,
}
