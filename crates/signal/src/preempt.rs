//! Emergency preemption: a green wave ahead of each emergency vehicle.
//!
//! For every emergency vehicle, the next signalised intersection on its route is asked for a
//! green serving the vehicle's movement once the vehicle is close enough that the queue ahead of
//! it can be cleared by the time it arrives: estimated arrival (distance at the speed limit) no
//! more than the transition, the time to discharge the vehicles ahead of it and a lead margin.
//! The green is held until the vehicle has left the approach; then the intersection returns to
//! its normal controller. Transitions are never skipped. When two vehicles want the same
//! intersection, the one arriving first wins (ties to the lower id).

use serde::Serialize;

use crate::network::{IntersectionId, Network, PhaseIdx};
use crate::observe::{EmergencyObs, Observation};

/// Tuning of preemption.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PreemptParams {
    /// Seconds of green wanted before the vehicle arrives, on top of clearing its queue.
    pub lead_s: f64,
    /// Seconds to discharge one queued vehicle ahead of the emergency vehicle.
    pub headway_s: f64,
    /// Longest an intersection holds a green for one emergency vehicle, seconds; then it
    /// returns to normal control for good (the vehicle is stuck in traffic the green cannot
    /// clear, and holding longer would starve the other approaches).
    pub max_hold_s: f64,
}

impl Default for PreemptParams {
    fn default() -> Self {
        PreemptParams { lead_s: 6.0, headway_s: 2.5, max_hold_s: 40.0 }
    }
}

/// One intersection's preemption request.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Request {
    pub(crate) node: IntersectionId,
    pub(crate) phase: PhaseIdx,
    pub(crate) vehicle: u64,
    pub(crate) eta_s: f64,
    pub(crate) detail: String,
}

/// Works out which intersections must serve an emergency vehicle now.
pub(crate) fn requests(
    net: &Network,
    obs: &Observation,
    params: &PreemptParams,
    transition_s: f64,
    active: &[Option<u64>],
    pick_phase: impl Fn(IntersectionId, &[PhaseIdx]) -> PhaseIdx,
) -> Vec<Request> {
    let mut out: Vec<Request> = Vec::new();
    let mut vehicles: Vec<&EmergencyObs> = obs.emergencies.iter().collect();
    vehicles.sort_by_key(|v| v.id);
    for ev in vehicles {
        let Some(req) = request_for(net, obs, params, transition_s, active, ev, &pick_phase) else {
            continue;
        };
        match out.iter_mut().find(|r| r.node == req.node) {
            Some(existing) if existing.eta_s <= req.eta_s => {}
            Some(existing) => *existing = req,
            None => out.push(req),
        }
    }
    out.sort_by_key(|r| r.node);
    out
}

fn request_for(
    net: &Network,
    obs: &Observation,
    params: &PreemptParams,
    transition_s: f64,
    active: &[Option<u64>],
    ev: &EmergencyObs,
    pick_phase: &impl Fn(IntersectionId, &[PhaseIdx]) -> PhaseIdx,
) -> Option<Request> {
    let road = net.roads.get(ev.road.index())?;
    let node_id = road.to?;
    let next = *ev.next_roads.first()?;
    let node = &net.intersections[node_id.index()];
    let movement =
        node.movements.iter().position(|m| m.from_road == ev.road && m.to_road == next)?;
    let phases: Vec<PhaseIdx> = node.green_phases().filter(|&p| node.serves(p, movement)).collect();
    if phases.is_empty() {
        return None;
    }
    let speed = road.lanes.iter().map(|l| net.lanes[l.index()].speed_limit_mps).fold(0.1, f64::max);
    let eta_s = ev.distance_to_end_m.max(0.0) / speed;
    // Vehicles ahead of it: the queue on its own lane, or on the movement's lanes.
    let ahead = match ev.lane {
        Some(l) => obs.lane(l).halted,
        None => obs.halted(&node.movements[movement].in_lanes),
    };
    let needed_s = transition_s + params.headway_s * f64::from(ahead) + params.lead_s;
    // Once granted, the green is held until the vehicle has left the approach.
    let granted = active.get(node_id.index()) == Some(&Some(ev.id));
    if eta_s > needed_s && !granted {
        return None;
    }
    Some(Request {
        node: node_id,
        phase: pick_phase(node_id, &phases),
        vehicle: ev.id,
        eta_s,
        detail: format!(
            "emergency vehicle {} arriving in {eta_s:.0} s from road {} ({ahead} queued ahead)",
            ev.id, road.name
        ),
    })
}
