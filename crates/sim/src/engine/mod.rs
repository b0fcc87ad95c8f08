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
mod motion;
mod observe;
mod signals;
mod spawn;
mod state;
mod tables;

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use rayon::prelude::*;

pub use incident::{BlockId, LaneBlock};
pub use observe::{
    EmergencyVehicle, LaneObservation, Metrics, STOPPED_APART_GAP_M, VehicleRecord, VehicleView,
};
pub use signals::ControlMode;

use crate::demand::Demand;
use crate::error::ControlError;
use crate::network::RoadNetwork;
use decide::View;
use state::{Decision, Lead, Queues, VehState};

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

    /// Repeats the demand every `period_s` seconds: when the flow clock reaches the period,
    /// every flow's schedule starts again as at time zero (so a one-hour demand becomes an
    /// endless series of identical hours). Vehicles already in the network keep driving; vehicle
    /// ids, counts and metrics keep accumulating. Fails unless `period_s` is finite and > 0.
    pub fn repeat_demand(&mut self, period_s: f64) -> Result<(), ControlError> {
        if !(period_s.is_finite() && period_s > 0.0) {
            return Err(ControlError::InvalidArgument(format!(
                "demand period {period_s} s is not allowed; expected a number of seconds > 0"
            )));
        }
        self.flows.period = Some(period_s);
        Ok(())
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
