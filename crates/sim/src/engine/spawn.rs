//! Vehicle creation and insertion.
//!
//! Flows create vehicles on their schedule (CityFlow's: a flow is live while the flow clock is
//! within `[startTime, endTime]`; it creates a vehicle whenever its accumulated time reaches
//! its interval, the first at once). A new vehicle picks its start lane (at random among the
//! lanes of its first road that lead to its second) and joins that lane's queue outside the
//! network. Each step, the first vehicle of every queue enters if the lane's last vehicle is
//! clear of the entrance by its length plus the newcomer's minimum gap; one vehicle per lane
//! per step.

use super::Engine;
use super::state::{Lead, NONE, VehState};
use crate::rng::{self, Site};

/// A created vehicle queued outside the network.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pending {
    pub(crate) id: u32,
    pub(crate) flow: u32,
    pub(crate) created_step: u32,
    pub(crate) emergency: bool,
}

/// Flow schedules.
#[derive(Clone, Debug, Default)]
pub(crate) struct FlowClock {
    /// Flows with a route, by start time (then index).
    order: Vec<u32>,
    next: usize,
    /// Live flows, by index.
    active: Vec<u32>,
    /// Per flow: accumulated time since its last vehicle (CityFlow's `nowTime`).
    acc: Vec<f64>,
    /// Per flow: vehicles created.
    pub(crate) count: Vec<u32>,
    /// The flow clock (sum of step lengths).
    clock: f64,
    /// Next emergency boundary, seconds.
    pub(crate) emergency_boundary: f64,
    /// When set, the flow clock restarts from zero every this many seconds.
    pub(crate) period: Option<f64>,
}

impl FlowClock {
    pub(crate) fn new(demand: &crate::demand::Demand, emergency_every: Option<f64>) -> Self {
        let mut order: Vec<u32> = (0..demand.flows.len() as u32)
            .filter(|&i| demand.flows[i as usize].route.is_some())
            .collect();
        order.sort_by(|&a, &b| {
            demand.flows[a as usize].start_time_s.total_cmp(&demand.flows[b as usize].start_time_s)
        });
        Self {
            order,
            next: 0,
            active: Vec::new(),
            acc: demand.flows.iter().map(|f| f.interval_s).collect(),
            count: vec![0; demand.flows.len()],
            clock: 0.0,
            emergency_boundary: emergency_every.unwrap_or(f64::INFINITY),
            period: None,
        }
    }

    /// Starts every flow's schedule again (vehicle counts keep growing).
    fn restart(&mut self, demand: &crate::demand::Demand, period: f64) {
        self.clock -= period;
        self.next = 0;
        self.active.clear();
        for (acc, flow) in self.acc.iter_mut().zip(&demand.flows) {
            *acc = flow.interval_s;
        }
    }
}

impl Engine {
    /// Lets every live flow create its vehicles for this step.
    pub(super) fn spawn(&mut self) {
        if let Some(period) = self.flows.period
            && self.flows.clock >= period
        {
            self.flows.restart(&self.demand, period);
        }
        let clock = self.flows.clock;
        while self.flows.next < self.flows.order.len() {
            let f = self.flows.order[self.flows.next];
            if clock < self.demand.flows[f as usize].start_time_s {
                break;
            }
            let at = self.flows.active.binary_search(&f).unwrap_or_else(|e| e);
            self.flows.active.insert(at, f);
            self.flows.next += 1;
        }
        let demand = &self.demand;
        self.flows
            .active
            .retain(|&f| demand.flows[f as usize].end_time_s.is_none_or(|e| clock <= e));
        for i in 0..self.flows.active.len() {
            let f = self.flows.active[i];
            let interval = self.demand.flows[f as usize].interval_s;
            while self.flows.acc[f as usize] >= interval {
                self.create_vehicle(f);
                self.flows.acc[f as usize] -= interval;
            }
            self.flows.acc[f as usize] += self.cfg.interval_s;
        }
        self.flows.clock += self.cfg.interval_s;
    }

    fn create_vehicle(&mut self, flow: u32) {
        let lanes = self.t.first_lanes(flow);
        if lanes.is_empty() {
            // Not reachable for completed routes (their first road leads to the second).
            return;
        }
        let id = self.next_vehicle;
        self.next_vehicle += 1;
        let now = self.time_s();
        let mut emergency = self.demand.flows[flow as usize].emergency;
        if let Some(every) = self.cfg.emergency_every_s
            && now >= self.flows.emergency_boundary
        {
            emergency = true;
            self.flows.emergency_boundary = ((now / every).floor() + 1.0) * every;
        }
        let lanes = self.t.first_lanes(flow);
        let lane = lanes[rng::below(self.cfg.seed, u64::from(id), Site::FirstLane, lanes.len())];
        let seq = self.flows.count[flow as usize];
        self.flows.count[flow as usize] += 1;
        let queue = &mut self.waiting[lane as usize];
        if queue.is_empty() {
            self.waiting_lanes.insert(lane);
        }
        queue.push_back(Pending { id, flow, created_step: self.step, emergency });
        self.slot_of.push(NONE);
        self.counters.created += 1;
        self.counters.sum_created_unfinished += now;
        if self.cfg.record_vehicles {
            self.records.push(super::observe::CompactRecord {
                flow,
                seq,
                created_step: self.step,
                entered_step: u32::MAX,
                exited_step: u32::MAX,
                emergency,
            });
        }
    }

    /// Lets the first queued vehicle of each lane enter if there is room.
    pub(super) fn insert_waiting(&mut self) {
        let lanes: Vec<u32> = self.waiting_lanes.iter().copied().collect();
        for lane in lanes {
            let Some(&p) = self.waiting[lane as usize].front() else { continue };
            let ty = self.t.flow_type[p.flow as usize];
            let params = &self.t.types[ty as usize].p;
            let tail = self.q.tail[lane as usize];
            let room = tail == NONE || {
                let tv = &self.st[tail as usize];
                tv.dis > self.t.types[tv.ty as usize].p.length_m + params.min_gap_m
            };
            let blocked = self.blocks.lane_pos(lane) < params.length_m + params.min_gap_m;
            if !room || blocked {
                continue;
            }
            self.waiting[lane as usize].pop_front();
            if self.waiting[lane as usize].is_empty() {
                self.waiting_lanes.remove(&lane);
            }
            self.enter(lane, p, ty);
        }
    }

    fn enter(&mut self, lane: u32, p: Pending, ty: u32) {
        let slot = self.allocate_slot();
        let route = self.t.route(p.flow);
        let next = self.t.next_after_lane(lane, route, 0);
        self.st[slot as usize] = VehState {
            drivable: lane,
            next,
            flow: p.flow,
            ty,
            priority: rng::draw(self.cfg.seed, u64::from(p.id), Site::Priority) as u32,
            id: p.id,
            emergency: p.emergency,
            created_step: p.created_step,
            ..VehState::EMPTY
        };
        self.alive[slot as usize] = true;
        let tail = self.q.tail[lane as usize];
        self.q.push_back(lane, slot);
        self.lead[slot as usize] = if tail == NONE {
            self.view().lead_of(slot)
        } else {
            let tv = &self.st[tail as usize];
            Lead { leader: tail, gap: tv.dis - self.t.types[tv.ty as usize].p.length_m }
        };
        self.slot_of[p.id as usize] = slot;
        self.running += 1;
        if let Some(r) = self.records.get_mut(p.id as usize) {
            r.entered_step = self.step;
        }
    }

    fn allocate_slot(&mut self) -> u32 {
        if let Some(s) = self.free.pop() {
            return s;
        }
        let s = self.st.len() as u32;
        self.st.push(VehState::EMPTY);
        self.alive.push(false);
        self.lead.push(Lead::NONE);
        self.dec.push(super::state::Decision::IDLE);
        self.q.ensure_slots(self.st.len());
        s
    }
}
