//! What can be read from a running engine: metrics, detector-like lane observations, vehicle
//! positions, per-vehicle records and emergency vehicles.

use super::Engine;
use super::state::NONE;
use crate::geom::Point;
use crate::ids::{DrivableId, FlowId, LaneId, Location, RoadId, VehicleId};

/// Network-wide figures, defined as in CityFlow.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Metrics {
    /// Simulation time, seconds (steps done × step length).
    pub time_s: f64,
    /// Steps done.
    pub steps: u64,
    /// Vehicles created by flows so far.
    pub created: u64,
    /// Vehicles that reached the end of their route.
    pub finished: u64,
    /// Vehicles on a lane or lane link now.
    pub running: u64,
    /// Vehicles created but still queued outside the network.
    pub waiting: u64,
    /// Sum over steps of the running count after each step.
    pub vehicle_steps: u64,
    /// CityFlow's average travel time, seconds: (travel times of finished vehicles + time since
    /// creation of every vehicle not finished, queued ones included) / vehicles created.
    pub avg_travel_time_s: f64,
}

/// Free road, metres, that a halted vehicle must have ahead of it (to the tail of the next
/// vehicle on its lane, or to the stop line) to count in [`LaneObservation::stopped_apart`].
/// Vehicles in a queue stand a minimum gap (2.5 m in the shared data) behind each other, and
/// the head of a queue at a light or a full exit stands at the stop line.
pub const STOPPED_APART_GAP_M: f64 = 20.0;

/// One lane as a detector would see it (a loop or video detector covering the lane).
///
/// A blocked point (see [`Engine::block_lane`]) is seen as what it is on a real road, a stopped
/// occupant standing there: it counts as a halted vehicle at its position.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LaneObservation {
    /// Vehicles whose front is on the lane.
    pub vehicles: u32,
    /// Of those, vehicles slower than 0.1 m/s.
    pub halted: u32,
    /// Their mean speed, m/s (0 when empty).
    pub mean_speed_mps: f64,
    /// Vehicles whose front is within the asked distance of the stop line.
    pub near_stop_line: u32,
    /// Vehicles queued outside the network to enter here.
    pub waiting_to_enter: u32,
    /// Halted vehicles standing apart from any queue: with at least [`STOPPED_APART_GAP_M`] of
    /// free road ahead of them.
    pub stopped_apart: u32,
    /// Distance from the stop line of the nearest such vehicle's front, metres (0 when none).
    pub stopped_apart_m: f64,
    /// Distance from the stop line of the farthest halted vehicle's front, metres (0 when none):
    /// the back of the queue.
    pub farthest_halted_m: f64,
}

/// A running vehicle, for drawing and queries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VehicleView {
    /// Its id.
    pub id: VehicleId,
    /// Where its front is.
    pub location: Location,
    /// Speed, m/s.
    pub speed_mps: f64,
    /// Emergency vehicle.
    pub emergency: bool,
}

/// Life times of one vehicle, seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VehicleRecord {
    /// Its id.
    pub id: VehicleId,
    /// The flow that created it.
    pub flow: FlowId,
    /// Its number within the flow (CityFlow's name is `flow_<flow>_<seq>`).
    pub seq: u32,
    /// Creation time.
    pub created_s: f64,
    /// When it got onto its first lane, if it has.
    pub entered_s: Option<f64>,
    /// When it left the network (CityFlow's time at the start of that step), if it has.
    pub exited_s: Option<f64>,
    /// Emergency vehicle.
    pub emergency: bool,
}

/// Where an emergency vehicle is and where it will go.
#[derive(Clone, Debug, PartialEq)]
pub struct EmergencyVehicle {
    /// Its id.
    pub id: VehicleId,
    /// Front position on the network, or `None` while queued outside it.
    pub location: Option<Location>,
    /// The lane it is on, or approaches when in an intersection, or queues for.
    pub lane: LaneId,
    /// Speed, m/s.
    pub speed_mps: f64,
    /// Roads still ahead, the current one first.
    pub remaining_route: Vec<RoadId>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct CompactRecord {
    pub(crate) flow: u32,
    pub(crate) seq: u32,
    pub(crate) created_step: u32,
    pub(crate) entered_step: u32,
    pub(crate) exited_step: u32,
    pub(crate) emergency: bool,
}

impl Engine {
    /// Current metrics.
    pub fn metrics(&self) -> Metrics {
        let c = &self.counters;
        let now = self.time_s();
        let unfinished = c.created - c.finished;
        let n = c.created;
        let total = c.travel_time_finished + unfinished as f64 * now - c.sum_created_unfinished;
        Metrics {
            time_s: now,
            steps: u64::from(self.step),
            created: c.created,
            finished: c.finished,
            running: self.running,
            waiting: unfinished - self.running,
            vehicle_steps: c.vehicle_steps,
            avg_travel_time_s: if n == 0 { 0.0 } else { total / n as f64 },
        }
    }

    /// Observes every lane; `out[lane]` is filled (resized to the lane count).
    /// `stop_line_m`: how far before the lane's end `near_stop_line` counts vehicles.
    pub fn observe_lanes(&self, stop_line_m: f64, out: &mut Vec<LaneObservation>) {
        let n = self.net.lanes().len();
        let now = self.time_s();
        out.clear();
        out.resize(n, LaneObservation::default());
        for (lane, o) in out.iter_mut().enumerate() {
            let len = self.t.dlen[lane];
            let mut sum = 0.0;
            // Where the free road ahead of the next vehicle ends: the stop line, then the tail
            // of the vehicle in front.
            let mut ahead_end = len;
            let mut block = self.blocks.position_at(lane as u32, now);
            let standing = |o: &mut LaneObservation, front: f64, ahead_end: f64| {
                let from_stop_line = (len - front).max(0.0);
                o.farthest_halted_m = o.farthest_halted_m.max(from_stop_line);
                if ahead_end - front >= STOPPED_APART_GAP_M {
                    if o.stopped_apart == 0 {
                        o.stopped_apart_m = from_stop_line;
                    }
                    o.stopped_apart += 1;
                }
            };
            for s in self.q.iter(lane as u32) {
                let v = &self.st[s as usize];
                if block.is_finite() && v.dis <= block {
                    // The blocked point's occupant stands in front of this vehicle.
                    o.vehicles += 1;
                    o.halted += 1;
                    o.near_stop_line += u32::from(len - block <= stop_line_m);
                    standing(o, block, ahead_end);
                    ahead_end = block;
                    block = f64::INFINITY;
                }
                o.vehicles += 1;
                o.near_stop_line += u32::from(len - v.dis <= stop_line_m);
                sum += v.speed;
                if v.speed < 0.1 {
                    o.halted += 1;
                    standing(o, v.dis, ahead_end);
                }
                ahead_end = v.dis - self.t.types[v.ty as usize].p.length_m;
            }
            if block.is_finite() {
                o.vehicles += 1;
                o.halted += 1;
                o.near_stop_line += u32::from(len - block <= stop_line_m);
                standing(o, block, ahead_end);
            }
            if o.vehicles > 0 {
                o.mean_speed_mps = sum / f64::from(o.vehicles);
            }
            o.waiting_to_enter = self.waiting[lane].len() as u32;
        }
    }

    /// Vehicles on a lane now (constant time).
    pub fn lane_vehicle_count(&self, lane: LaneId) -> u32 {
        self.q.len.get(lane.index()).copied().unwrap_or(0)
    }

    /// Vehicles on a drivable, front first.
    pub fn vehicles_on(&self, drivable: DrivableId) -> impl Iterator<Item = VehicleId> + '_ {
        self.q.iter(drivable.0).map(|s| VehicleId(self.st[s as usize].id))
    }

    /// Every running vehicle (in a stable, deterministic order).
    pub fn vehicles(&self) -> impl Iterator<Item = VehicleView> + '_ {
        (0..self.st.len()).filter(|&s| self.alive[s]).map(|s| self.view_of(s as u32))
    }

    /// A running vehicle, or `None` if it is queued, finished or unknown.
    pub fn vehicle(&self, id: VehicleId) -> Option<VehicleView> {
        let slot = *self.slot_of.get(id.index())?;
        (slot != NONE).then(|| self.view_of(slot))
    }

    fn view_of(&self, slot: u32) -> VehicleView {
        let v = &self.st[slot as usize];
        VehicleView {
            id: VehicleId(v.id),
            location: Location { drivable: DrivableId(v.drivable), distance_m: v.dis },
            speed_mps: v.speed,
            emergency: v.emergency,
        }
    }

    /// Position and heading (radians from east) of a vehicle's front, for drawing.
    pub fn vehicle_xy(&self, view: &VehicleView) -> (Point, f64) {
        self.net.position_on(view.location.drivable, view.location.distance_m)
    }

    /// CityFlow's name of a vehicle (`flow_<i>_<n>`), when vehicles are recorded.
    pub fn vehicle_name(&self, id: VehicleId) -> Option<String> {
        let r = self.records.get(id.index())?;
        Some(format!("{}_{}", self.demand.flows[r.flow as usize].name, r.seq))
    }

    /// Per-vehicle records, in creation order (empty unless `record_vehicles` is set).
    pub fn vehicle_records(&self) -> impl Iterator<Item = VehicleRecord> + '_ {
        let dt = self.cfg.interval_s;
        let time = move |s: u32| (s != u32::MAX).then(|| f64::from(s) * dt);
        self.records.iter().enumerate().map(move |(i, r)| VehicleRecord {
            id: VehicleId(i as u32),
            flow: FlowId(r.flow),
            seq: r.seq,
            created_s: f64::from(r.created_step) * dt,
            entered_s: time(r.entered_step),
            exited_s: time(r.exited_step),
            emergency: r.emergency,
        })
    }

    /// Makes a running or queued vehicle an emergency vehicle (or not).
    pub fn set_emergency(
        &mut self,
        id: VehicleId,
        emergency: bool,
    ) -> Result<(), crate::ControlError> {
        let slot =
            *self.slot_of.get(id.index()).ok_or(crate::ControlError::UnknownVehicle(id.0))?;
        if slot != NONE {
            self.st[slot as usize].emergency = emergency;
        } else {
            let found = self.waiting.iter_mut().flat_map(|q| q.iter_mut()).find(|p| p.id == id.0);
            match found {
                Some(p) => p.emergency = emergency,
                None => return Err(crate::ControlError::UnknownVehicle(id.0)),
            }
        }
        if let Some(r) = self.records.get_mut(id.index()) {
            r.emergency = emergency;
        }
        Ok(())
    }

    /// Every emergency vehicle in or waiting to enter the network, by id. What a transponder
    /// would report: position, lane and the rest of its route.
    pub fn emergency_vehicles(&self) -> Vec<EmergencyVehicle> {
        let mut out = Vec::new();
        for s in (0..self.st.len()).filter(|&s| self.alive[s] && self.st[s].emergency) {
            let v = &self.st[s];
            let lane = if self.t.is_link(v.drivable) {
                self.t.link_end[(v.drivable - self.t.n_lanes) as usize]
            } else {
                v.drivable
            };
            let route = self.t.route(v.flow);
            out.push(EmergencyVehicle {
                id: VehicleId(v.id),
                location: Some(Location { drivable: DrivableId(v.drivable), distance_m: v.dis }),
                lane: LaneId(lane),
                speed_mps: v.speed,
                remaining_route: route[v.route_pos as usize..].iter().map(|&r| RoadId(r)).collect(),
            });
        }
        for (lane, q) in self.waiting.iter().enumerate() {
            for p in q.iter().filter(|p| p.emergency) {
                out.push(EmergencyVehicle {
                    id: VehicleId(p.id),
                    location: None,
                    lane: LaneId(lane as u32),
                    speed_mps: 0.0,
                    remaining_route: self.t.route(p.flow).iter().map(|&r| RoadId(r)).collect(),
                });
            }
        }
        out.sort_by_key(|e| e.id);
        out
    }
}
