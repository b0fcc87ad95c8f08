//! The deterministic microscopic engine.
//!
//! # A step
//! Each call of [`Engine::step`] advances the simulation by one interval, in CityFlow's order:
//! 1. **spawn**: flows create vehicles; each picks a start lane and queues outside it;
//! 2. **insert**: the first queued vehicle of each lane enters if there is room;
//! 3. **notify**: every conflict point near a vehicle learns the nearest vehicle on each of
//!    its lane links;
//! 4. **decide**: every vehicle chooses its speed and where that takes it (parallel);
//! 5. **move**: vehicles that change drivable or leave the network are re-queued
//!    (sequential, in a fixed order);
//! 6. **apply**: decisions become the new state (parallel);
//! 7. **lead**: every vehicle finds its leader and gap (parallel);
//! 8. **signals**: native lights count down and advance;
//! 9. every 256 steps the vehicle slots are renumbered in queue order (memory locality).
//!
//! Parallel phases only read state written by earlier phases and write per-vehicle rows, so
//! results are bit-identical for any number of threads. Randomness (the start lane and the
//! tie-break priority) is a hash of (seed, vehicle id, decision site).
//!
//! # Fidelity to CityFlow
//! The mechanics are CityFlow's with `laneChange: false`: the step order above; car following
//! from the vehicle parameters (a collision-free speed for the leader braking hard, one that
//! keeps `minGap` if it brakes comfortably, and the headway rule); a vehicle within
//! `maxSpeed²/(2·usualNegAcc) + 2·maxSpeed·interval` of a lane's end stops for a red light or
//! a full exit lane unless it can no longer stop, slows to the turn speed (8.33 m/s) before
//! turning, and yields at conflict points by CityFlow's rules (straight before left before
//! right, then who arrives first, then who entered first, then a random priority; a vehicle
//! that cannot stop 5 m before the point goes; cycles of yielding are broken); lanes are
//! chosen at route planning (the start lane at random among those leading to the second road,
//! then the lane link whose end lane continues the route, closest in index); vehicles queue
//! outside the network per start lane and enter one per lane per step when the last vehicle
//! is clear by the newcomer's length and gap. On the bundled Hangzhou 4×4 hour this gives
//! CityFlow's per-vehicle exit times exactly.
//!
//! Where we differ, on purpose:
//! - random draws come from hashes, not CityFlow's Mersenne Twister, and shortest-path ties
//!   go to the lower road id (this matters only for routes with several start lanes or equal
//!   paths);
//! - a vehicle never reaches a lane above its limit: it slows for the limits of every drivable
//!   it can reach within the step, and a lane link takes its end lane's limit (CityFlow's
//!   lane links have none) — no effect when all limits are equal;
//! - two vehicles entering one lane from different lane links can overlap in CityFlow (rarely,
//!   when neither could yield at the merge point); here the later one stops at the earlier
//!   one's tail (synthetic 4×4: 16 vehicle-steps affected in an hour, +0.2 % finished);
//! - intersections that are not virtual but have no phases let every movement go (CityFlow
//!   fails on them); flows need an interval of at least 1 ms;
//! - lane blockages and emergency vehicles are extensions.
//!
//! [`EngineConfig::cityflow_exact`] turns the second and third off: the bundled Hangzhou and
//! synthetic 4×4 scenarios then reproduce all of CityFlow's reference runs (native, fixed-time
//! and max-pressure control) to the vehicle.

mod compact;
mod conflict;
mod decide;
mod incident;
pub(crate) mod kinematics;
mod lead;
mod observe;
mod signals;
mod spawn;
mod state;
mod tables;

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use rayon::prelude::*;

pub use incident::{BlockId, LaneBlock};
pub use observe::{EmergencyVehicle, LaneObservation, Metrics, VehicleRecord, VehicleView};
pub use signals::ControlMode;

use crate::demand::Demand;
use crate::error::ControlError;
use crate::network::RoadNetwork;
use decide::View;
use state::{Decision, Lead, NONE, Queues, VehState};

/// How to run a scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    /// Step length, seconds (> 0).
    pub interval_s: f64,
    /// Seed of all random choices.
    pub seed: u64,
    /// Initial control of every light.
    pub control: ControlMode,
    /// Worker threads for the parallel phases (1: run on the calling thread).
    pub threads: usize,
    /// Keep a [`VehicleRecord`] per vehicle (about 24 bytes each).
    pub record_vehicles: bool,
    /// Mark the first vehicle created at or after every multiple (≥ 1) of this many seconds
    /// as an emergency vehicle.
    pub emergency_every_s: Option<f64>,
    /// Reproduce CityFlow exactly, including its rare overlaps of vehicles merging into one
    /// lane and lane links without a speed limit (see "Fidelity to CityFlow"). Off by default:
    /// the engine then keeps its invariants (no overlap, no lane entered above its limit).
    pub cityflow_exact: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            interval_s: 1.0,
            seed: 0,
            control: ControlMode::Native,
            threads: 1,
            record_vehicles: true,
            emergency_every_s: None,
            cityflow_exact: false,
        }
    }
}

#[derive(Clone, Debug, Default)]
struct Counters {
    created: u64,
    finished: u64,
    travel_time_finished: f64,
    sum_created_unfinished: f64,
    vehicle_steps: u64,
}

/// A running simulation of one scenario.
pub struct Engine {
    net: Arc<RoadNetwork>,
    demand: Arc<Demand>,
    cfg: EngineConfig,
    t: tables::Tables,
    step: u32,
    st: Vec<VehState>,
    alive: Vec<bool>,
    lead: Vec<Lead>,
    dec: Vec<Decision>,
    q: Queues,
    free: Vec<u32>,
    movers: Vec<(u32, f64)>,
    claims: conflict::Claims,
    green: Vec<bool>,
    signals: Vec<Option<signals::SignalState>>,
    flows: spawn::FlowClock,
    waiting: Vec<VecDeque<spawn::Pending>>,
    waiting_lanes: BTreeSet<u32>,
    slot_of: Vec<u32>,
    next_vehicle: u32,
    running: u64,
    records: Vec<observe::CompactRecord>,
    counters: Counters,
    blocks: incident::Blocks,
    pool: Option<rayon::ThreadPool>,
}

impl Engine {
    /// Prepares a run. Fails if the configuration is out of range.
    pub fn new(
        net: Arc<RoadNetwork>,
        demand: Arc<Demand>,
        cfg: EngineConfig,
    ) -> Result<Self, ControlError> {
        if !(cfg.interval_s.is_finite() && cfg.interval_s > 0.0) {
            return Err(ControlError::InvalidArgument(format!(
                "interval {} s is not allowed; expected a step length > 0",
                cfg.interval_s
            )));
        }
        if cfg.emergency_every_s.is_some_and(|e| !(e.is_finite() && e > 0.0)) {
            return Err(ControlError::InvalidArgument("emergency period must be > 0 s".into()));
        }
        let pool =
            if cfg.threads > 1 {
                Some(rayon::ThreadPoolBuilder::new().num_threads(cfg.threads).build().map_err(
                    |e| ControlError::InvalidArgument(format!("cannot start threads: {e}")),
                )?)
            } else {
                None
            };
        let t = tables::Tables::new(&net, &demand, cfg.interval_s, cfg.cityflow_exact);
        let (signals, green) = signals::initial(&net, cfg.control);
        let n_lanes = net.lanes().len();
        Ok(Self {
            q: Queues::new(net.drivable_count()),
            claims: conflict::Claims::new(net.lane_links().len()),
            waiting: vec![VecDeque::new(); n_lanes],
            blocks: incident::Blocks::new(n_lanes),
            flows: spawn::FlowClock::new(&demand, cfg.emergency_every_s),
            t,
            signals,
            green,
            net,
            demand,
            cfg,
            step: 0,
            st: Vec::new(),
            alive: Vec::new(),
            lead: Vec::new(),
            dec: Vec::new(),
            free: Vec::new(),
            movers: Vec::new(),
            waiting_lanes: BTreeSet::new(),
            slot_of: Vec::new(),
            next_vehicle: 0,
            running: 0,
            records: Vec::new(),
            counters: Counters::default(),
            pool,
        })
    }

    /// The road network.
    pub fn network(&self) -> &Arc<RoadNetwork> {
        &self.net
    }

    /// The demand.
    pub fn demand(&self) -> &Arc<Demand> {
        &self.demand
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Simulation time, seconds.
    pub fn time_s(&self) -> f64 {
        f64::from(self.step) * self.cfg.interval_s
    }

    /// Steps done.
    pub fn steps(&self) -> u64 {
        u64::from(self.step)
    }

    /// Runs `n` steps.
    pub fn run(&mut self, n: u64) {
        for _ in 0..n {
            self.step();
        }
    }

    /// Advances the simulation by one step.
    pub fn step(&mut self) {
        self.spawn();
        self.blocks.refresh(self.time_s());
        self.insert_waiting();
        self.notify_phase();
        self.decide_phase();
        self.move_phase();
        self.apply_phase();
        self.lead_phase();
        self.tick_signals();
        self.step += 1;
        self.counters.vehicle_steps += self.running;
        if self.step.is_multiple_of(compact::EVERY) {
            self.compact_slots();
        }
    }

    fn view(&self) -> View<'_> {
        View {
            t: &self.t,
            net: &self.net,
            st: &self.st,
            lead: &self.lead,
            q: &self.q,
            claims: &self.claims,
            green: &self.green,
            blocks: self.blocks.active(),
            step: self.step,
            dt: self.cfg.interval_s,
        }
    }

    fn view_for_lead(&self) -> View<'_> {
        self.view()
    }

    fn notify_phase(&mut self) {
        let ctx = conflict::NotifyCtx {
            t: &self.t,
            net: &self.net,
            st: &self.st,
            q: &self.q,
            green: &self.green,
            stamp: self.step + 1,
        };
        ctx.run(&self.alive, &mut self.claims, self.pool.as_ref());
    }

    fn decide_phase(&mut self) {
        let view = View {
            t: &self.t,
            net: &self.net,
            st: &self.st,
            lead: &self.lead,
            q: &self.q,
            claims: &self.claims,
            green: &self.green,
            blocks: self.blocks.active(),
            step: self.step,
            dt: self.cfg.interval_s,
        };
        let alive = &self.alive;
        let f = |(s, d): (usize, &mut Decision)| {
            if alive[s] {
                *d = view.decide(s as u32);
            }
        };
        match &self.pool {
            Some(pool) => {
                pool.install(|| self.dec.par_iter_mut().with_min_len(256).enumerate().for_each(f))
            }
            None => self.dec.iter_mut().enumerate().for_each(f),
        }
    }

    /// Re-queues vehicles that changed drivable and removes those that left, in slot order;
    /// vehicles entering the same drivable join it front-most first.
    fn move_phase(&mut self) {
        let now = self.time_s();
        // Who moves, found in parallel; acted upon in slot order.
        let (alive, dec, st) = (&self.alive, &self.dec, &self.st);
        let moving = |(c, a): (usize, &[bool])| -> Vec<u32> {
            let first = c * 4096;
            (first..first + a.len())
                .filter(|&s| alive[s] && (dec[s].ended || dec[s].drivable != st[s].drivable))
                .map(|s| s as u32)
                .collect()
        };
        let found: Vec<Vec<u32>> = match &self.pool {
            Some(pool) => {
                pool.install(|| self.alive.par_chunks(4096).enumerate().map(moving).collect())
            }
            None => self.alive.chunks(4096).enumerate().map(moving).collect(),
        };
        self.movers.clear();
        for s in found.into_iter().flatten() {
            let drivable = self.st[s as usize].drivable;
            self.q.unlink(drivable, s);
            if self.dec[s as usize].ended {
                self.finish(s, now);
            } else {
                self.movers.push((s, self.dec[s as usize].dis));
            }
        }
        let st = &self.st;
        self.movers.sort_by(|a, b| {
            b.1.total_cmp(&a.1).then(st[a.0 as usize].id.cmp(&st[b.0 as usize].id))
        });
        for i in 0..self.movers.len() {
            let s = self.movers[i].0;
            self.enter_drivable(s);
        }
    }

    /// Appends a vehicle to the drivable it decided to move onto. Vehicles arriving at one
    /// lane from different lane links can end up inside each other (CityFlow lets this happen,
    /// rarely, when neither could yield at the merge point); then the later one stops at the
    /// tail of the earlier one, on the lane or, if that tail is still in the intersection, at
    /// the end of its own lane link.
    fn enter_drivable(&mut self, s: u32) {
        let si = s as usize;
        let d = self.dec[si].drivable;
        let tail = self.q.tail[d as usize];
        if tail != NONE && !self.cfg.cityflow_exact {
            let t = &self.dec[tail as usize];
            let limit = t.dis - self.t.types[self.st[tail as usize].ty as usize].p.length_m;
            if self.dec[si].dis > limit {
                let old = self.st[si].drivable;
                let back_to_link = limit < 0.0
                    && self.t.is_link(old)
                    && self.t.link_end[(old - self.t.n_lanes) as usize] == d;
                let speed = self.dec[si].speed.min(t.speed);
                let dec = &mut self.dec[si];
                dec.speed = speed;
                if back_to_link {
                    dec.drivable = old;
                    dec.dis = (self.t.dlen[old as usize] + limit).max(self.st[si].dis);
                    dec.lanes_entered = 0;
                    let (dis, decs) = (dec.dis, &self.dec);
                    self.q.insert_behind(old, s, |x| decs[x as usize].dis >= dis);
                    return;
                }
                dec.dis = limit.max(0.0);
            }
        }
        self.q.push_back(d, s);
    }

    fn finish(&mut self, slot: u32, now: f64) {
        let v = self.st[slot as usize];
        let created = f64::from(v.created_step) * self.cfg.interval_s;
        self.counters.finished += 1;
        self.counters.travel_time_finished += now - created;
        self.counters.sum_created_unfinished -= created;
        self.running -= 1;
        self.alive[slot as usize] = false;
        self.slot_of[v.id as usize] = NONE;
        if let Some(r) = self.records.get_mut(v.id as usize) {
            r.exited_step = self.step;
        }
        self.st[slot as usize] = VehState::EMPTY;
        self.free.push(slot);
    }

    fn apply_phase(&mut self) {
        let (t, alive, step) = (&self.t, &self.alive, self.step);
        let f = |((s, v), d): ((usize, &mut VehState), &Decision)| {
            if !alive[s] {
                return;
            }
            v.speed = d.speed;
            v.dis = d.dis;
            if d.drivable != v.drivable {
                v.prev = v.drivable;
                v.drivable = d.drivable;
                v.route_pos += d.lanes_entered;
                let (next, _) = t.after(d.drivable, t.route(v.flow), v.route_pos);
                v.next = next;
                v.enter_link_step = if t.is_link(d.drivable) { step } else { u32::MAX };
            }
            v.blocker =
                if d.blocker != NONE && alive[d.blocker as usize] { d.blocker } else { NONE };
        };
        match &self.pool {
            Some(pool) => pool.install(|| {
                self.st
                    .par_iter_mut()
                    .with_min_len(256)
                    .enumerate()
                    .zip(self.dec.par_iter())
                    .for_each(f)
            }),
            None => self.st.iter_mut().enumerate().zip(self.dec.iter()).for_each(f),
        }
    }

    fn lead_phase(&mut self) {
        let view = View {
            t: &self.t,
            net: &self.net,
            st: &self.st,
            lead: &[],
            q: &self.q,
            claims: &self.claims,
            green: &self.green,
            blocks: None,
            step: self.step,
            dt: self.cfg.interval_s,
        };
        let alive = &self.alive;
        let f = |(s, l): (usize, &mut Lead)| {
            if alive[s] {
                *l = view.lead_of(s as u32);
            }
        };
        match &self.pool {
            Some(pool) => {
                pool.install(|| self.lead.par_iter_mut().with_min_len(256).enumerate().for_each(f))
            }
            None => self.lead.iter_mut().enumerate().for_each(f),
        }
    }
}
