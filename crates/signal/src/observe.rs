//! What the brain sees each step: detector-like lane observations and emergency vehicles' positions.
//!
//! These are the quantities a real city has (loop detectors, video, GPS of emergency vehicles), not
//! the engine's internals. The twin's glue fills them from the engine; the live demo fills them
//! from `TrafficFlowObserved` entities in the hub.

use serde::Serialize;

use crate::network::{LaneId, RoadId};

/// One lane's detector reading at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LaneObs {
    /// Vehicles on the lane.
    pub vehicles: u32,
    /// Vehicles on the lane moving slower than 0.1 m/s.
    pub halted: u32,
    /// Mean speed of the vehicles on the lane in m/s (the speed limit when the lane is empty).
    pub mean_speed_mps: f64,
    /// Vehicles within [`crate::BrainConfig::near_range_m`] of the lane's end (the stop line).
    pub near_stop_line: u32,
    /// Vehicles within [`crate::BrainConfig::approach_range_m`] of the stop line (an advance
    /// detector; include the near ones). Leave equal to `near_stop_line` when unknown.
    pub approaching: u32,
    /// Halted vehicles standing apart from any queue, with free road ahead of them (what video
    /// stopped-vehicle detection reports; a broken-down or crashed vehicle is one). 0 when
    /// unknown.
    pub stopped_apart: u32,
    /// Distance from the stop line of the nearest of those, metres (0 when none).
    pub stopped_apart_m: f64,
    /// Distance from the stop line of the farthest halted vehicle, metres: the back of the
    /// queue (0 when none).
    pub farthest_halted_m: f64,
}

/// An emergency vehicle's position and remaining route.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EmergencyObs {
    /// The vehicle's id (stable while it runs).
    pub id: u64,
    /// The road it is on, or entering next when it is inside an intersection.
    pub road: RoadId,
    /// The lane it is on, if it is on a lane (not inside an intersection).
    pub lane: Option<LaneId>,
    /// Distance to the end of `road` in metres.
    pub distance_to_end_m: f64,
    /// Roads still to travel after `road`, in order.
    pub next_roads: Vec<RoadId>,
}

/// Everything observed at one instant.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Observation {
    /// Simulated (or wall-clock) time in seconds since the start.
    pub time_s: f64,
    /// One reading per lane, indexed by [`LaneId`].
    pub lanes: Vec<LaneObs>,
    /// Emergency vehicles currently in the network.
    pub emergencies: Vec<EmergencyObs>,
}

impl Observation {
    /// The reading of one lane (an empty reading when the lane is unknown).
    pub fn lane(&self, lane: LaneId) -> LaneObs {
        self.lanes.get(lane.index()).copied().unwrap_or_default()
    }

    /// Sum of vehicles over some lanes.
    pub fn vehicles(&self, lanes: &[LaneId]) -> u32 {
        lanes.iter().map(|&l| self.lane(l).vehicles).sum()
    }

    /// Sum of halted vehicles over some lanes.
    pub fn halted(&self, lanes: &[LaneId]) -> u32 {
        lanes.iter().map(|&l| self.lane(l).halted).sum()
    }
}
