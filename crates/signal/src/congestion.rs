//! Congestion index: current travel time over free-flow travel time, per road and intersection.
//!
//! A road's current travel time is its length over the smoothed, vehicle-weighted mean speed of
//! the vehicles on it (stopped ones included), so the index is free-flow speed over that speed.
//! Smoothing is exponential with time constant `smoothing_s` on both the speed sum and the vehicle
//! count, so empty spells do not dilute it. A congestion alert is raised when a road with enough
//! vehicles stays at or above `alert_index` for `sustain_s`, and re-armed when it falls below
//! `clear_index`.

use serde::Serialize;

use crate::alert::{Alert, AlertKind, Evidence, Location, Severity};
use crate::network::{IntersectionId, Network, RoadId};
use crate::observe::Observation;

/// Tuning of the congestion index and its alerts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CongestionParams {
    /// Smoothing time constant, seconds.
    pub smoothing_s: f64,
    /// Index at which a road counts as congested.
    pub alert_index: f64,
    /// Index at which a congested road counts as clear again.
    pub clear_index: f64,
    /// How long the index must stay high before an alert, seconds.
    pub sustain_s: f64,
    /// Smoothed vehicles on the road needed for an alert.
    pub min_vehicles: f64,
    /// Index from which the alert is of high severity.
    pub high_index: f64,
}

impl Default for CongestionParams {
    fn default() -> Self {
        CongestionParams {
            smoothing_s: 120.0,
            alert_index: 4.0,
            clear_index: 2.5,
            sustain_s: 180.0,
            min_vehicles: 10.0,
            high_index: 8.0,
        }
    }
}

#[derive(Clone, Debug, Default)]
struct RoadState {
    speed_sum: f64,
    count: f64,
    high_since: Option<f64>,
    alerted: bool,
}

/// Tracks the congestion index of every road.
#[derive(Clone, Debug)]
pub struct CongestionTracker {
    params: CongestionParams,
    roads: Vec<RoadState>,
    last_s: Option<f64>,
}

impl CongestionTracker {
    /// A tracker for `net`'s roads.
    pub fn new(net: &Network, params: CongestionParams) -> Self {
        CongestionTracker {
            params,
            roads: vec![RoadState::default(); net.roads.len()],
            last_s: None,
        }
    }

    /// The congestion index of a road (1 = free flow).
    pub fn road_index(&self, net: &Network, road: RoadId) -> f64 {
        let s = &self.roads[road.index()];
        if s.count < 0.5 {
            return 1.0;
        }
        let speed = s.speed_sum / s.count;
        (free_speed(net, road) / speed.max(0.2)).clamp(1.0, 50.0)
    }

    /// The congestion index of an intersection: its incoming roads' indices weighted by vehicles.
    pub fn intersection_index(&self, net: &Network, node: IntersectionId) -> f64 {
        let mut roads: Vec<RoadId> =
            net.intersections[node.index()].movements.iter().map(|m| m.from_road).collect();
        roads.sort();
        roads.dedup();
        let (mut sum, mut weight) = (0.0, 0.0);
        for r in roads {
            let w = self.roads[r.index()].count;
            sum += self.road_index(net, r) * w;
            weight += w;
        }
        if weight < 0.5 { 1.0 } else { sum / weight }
    }

    /// Folds in one observation; returns the congestion alerts it raises.
    pub fn update(&mut self, net: &Network, obs: &Observation) -> Vec<Alert> {
        let dt = self.last_s.map_or(1.0, |t| (obs.time_s - t).max(0.0));
        self.last_s = Some(obs.time_s);
        let keep = (-dt / self.params.smoothing_s).exp();
        let mut alerts = Vec::new();
        for (i, road) in net.roads.iter().enumerate() {
            let (mut speed_sum, mut count) = (0.0, 0.0);
            for &l in &road.lanes {
                let o = obs.lane(l);
                speed_sum += o.mean_speed_mps * f64::from(o.vehicles);
                count += f64::from(o.vehicles);
            }
            let s = &mut self.roads[i];
            s.speed_sum = s.speed_sum * keep + speed_sum * (1.0 - keep);
            s.count = s.count * keep + count * (1.0 - keep);
            let id = RoadId(i as u32);
            if let Some(alert) = self.check(net, id, obs.time_s) {
                alerts.push(alert);
            }
        }
        alerts
    }

    fn check(&mut self, net: &Network, road: RoadId, now_s: f64) -> Option<Alert> {
        let index = self.road_index(net, road);
        let p = &self.params;
        let s = &mut self.roads[road.index()];
        if index < p.clear_index {
            s.alerted = false;
        }
        if index < p.alert_index || s.count < p.min_vehicles {
            s.high_since = None;
            return None;
        }
        let since = *s.high_since.get_or_insert(now_s);
        if s.alerted || now_s - since < p.sustain_s {
            return None;
        }
        s.alerted = true;
        let r = &net.roads[road.index()];
        let severity = if index >= p.high_index { Severity::High } else { Severity::Medium };
        let count = s.count;
        let speed = s.speed_sum / s.count.max(1e-9);
        Some(Alert {
            time: now_s,
            kind: AlertKind::Congestion,
            severity,
            road: r.name.clone(),
            location: Location {
                road: r.name.clone(),
                lane: None,
                intersection: r.to.map(|n| net.intersections[n.index()].name.clone()),
                description: format!("road {} (whole road)", r.name),
            },
            evidence: Evidence {
                rule: "travel_time_over_free_flow",
                vehicles: count.round() as u32,
                halted: 0,
                mean_speed_mps: speed,
                duration_s: now_s - since,
                congestion_index: index,
            },
        })
    }
}

fn free_speed(net: &Network, road: RoadId) -> f64 {
    net.roads[road.index()]
        .lanes
        .iter()
        .map(|l| net.lanes[l.index()].speed_limit_mps)
        .fold(0.1, f64::max)
}
