//! Glue between the twin (`citybrain-sim`) and the brain (`citybrain-signal`).
//!
//! The brain never sees the engine: the twin's detector-like readings are copied into the
//! brain's [`Observation`] (directly, or through the hub in the demo), the brain decides, and its
//! signals are applied with `set_phase`. Roads and lanes keep the twin's dense ids (the brain's
//! ids are the same numbers); the brain's intersections are the twin's signalised ones,
//! renumbered densely.

use citybrain_signal as signal;
use citybrain_sim as sim;
use serde_json::Value;
use std::time::{Duration, Instant};

use signal::{Alert, Brain, BrainConfig, Decision, EmergencyObs, LaneObs, Observation, Signal};
use sim::{Engine, LaneObservation, RoadNetwork, TurnType};

/// Adds a transition phase (right turns only, everything else red) to every signalised
/// intersection of a roadnet document that has none, so that the twin can show it.
///
/// The shared roadnets have one (phase 0); generated grids do not. The phase is appended, so
/// existing phase indices keep their meaning.
pub fn add_transition_phases(roadnet: &mut Value) {
    let Some(nodes) = roadnet.get_mut("intersections").and_then(Value::as_array_mut) else {
        return;
    };
    for node in nodes {
        if node.get("virtual").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let rights: Vec<usize> = node
            .get("roadLinks")
            .and_then(Value::as_array)
            .map(|links| {
                links
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| l.get("type").and_then(Value::as_str) == Some("turn_right"))
                    .map(|(i, _)| i)
                    .collect()
            })
            .unwrap_or_default();
        let Some(phases) =
            node.pointer_mut("/trafficLight/lightphases").and_then(Value::as_array_mut)
        else {
            continue;
        };
        let is_transition = |p: &Value| {
            p.get("availableRoadLinks").and_then(Value::as_array).is_some_and(|a| {
                a.iter().all(|i| i.as_u64().is_some_and(|i| rights.contains(&(i as usize))))
            })
        };
        if !phases.is_empty() && !phases.iter().any(is_transition) {
            phases.push(serde_json::json!({"time": 5, "availableRoadLinks": rights}));
        }
    }
}

/// How the brain's intersections map to the twin's.
#[derive(Clone, Debug)]
pub struct Mapping {
    /// The twin's id of each brain intersection.
    pub sim_node: Vec<sim::IntersectionId>,
}

/// Describes the twin's network in the brain's terms.
pub fn brain_network(net: &RoadNetwork) -> (signal::Network, Mapping) {
    let mut brain_of = vec![None; net.intersections().len()];
    let mut sim_node = Vec::new();
    for (i, node) in net.intersections().iter().enumerate() {
        if node.is_signalised() {
            brain_of[i] = Some(signal::IntersectionId(sim_node.len() as u32));
            sim_node.push(sim::IntersectionId(i as u32));
        }
    }
    let roads = net
        .roads()
        .iter()
        .map(|r| signal::Road {
            name: r.id.clone(),
            lanes: r.lanes.iter().map(|l| signal::LaneId(l.0)).collect(),
            from: brain_of[r.start.index()],
            to: brain_of[r.end.index()],
        })
        .collect();
    let lanes = net
        .lanes()
        .iter()
        .map(|l| signal::Lane {
            road: signal::RoadId(l.road.0),
            length_m: l.length,
            speed_limit_mps: l.max_speed,
        })
        .collect();
    let intersections = sim_node.iter().map(|&id| brain_intersection(net, id)).collect();
    let network = signal::Network { roads, lanes, intersections };
    (network, Mapping { sim_node })
}

fn brain_intersection(net: &RoadNetwork, id: sim::IntersectionId) -> signal::Intersection {
    let node = net.intersection(id);
    let movements: Vec<signal::Movement> = node
        .road_links
        .iter()
        .map(|&rl| {
            let link = net.road_link(rl);
            let mut in_lanes = Vec::new();
            let mut out_lanes = Vec::new();
            for &ll in &link.lane_links {
                let ll = net.lane_link(ll);
                let (s, e) = (signal::LaneId(ll.start_lane.0), signal::LaneId(ll.end_lane.0));
                if !in_lanes.contains(&s) {
                    in_lanes.push(s);
                }
                if !out_lanes.contains(&e) {
                    out_lanes.push(e);
                }
            }
            signal::Movement {
                from_road: signal::RoadId(link.start_road.0),
                to_road: signal::RoadId(link.end_road.0),
                turn: match link.turn {
                    TurnType::GoStraight => signal::Turn::Straight,
                    TurnType::TurnLeft => signal::Turn::Left,
                    TurnType::TurnRight => signal::Turn::Right,
                },
                in_lanes,
                out_lanes,
            }
        })
        .collect();
    let phases: Vec<signal::Phase> = node
        .phases
        .iter()
        .map(|p| signal::Phase { movements: p.available_road_links.clone() })
        .collect();
    // The transition: the first phase with right turns only, when there are other phases.
    let transition = (phases.len() > 1)
        .then(|| {
            phases.iter().position(|p| {
                p.movements
                    .iter()
                    .all(|&m| movements.get(m).is_some_and(|mv| mv.turn == signal::Turn::Right))
            })
        })
        .flatten();
    signal::Intersection { name: node.id.clone(), movements, phases, transition }
}

/// Applying the brain's signals to the twin failed.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    /// The brain asked for a transition at an intersection that has none.
    #[error("intersection {0} has no transition phase")]
    NoTransition(String),
    /// The twin refused the phase.
    #[error("applying a signal decision: {0}")]
    Apply(#[from] sim::ControlError),
}

/// Drives the twin's lights with the brain, step by step.
pub struct BrainDriver {
    /// The brain.
    pub brain: Brain,
    mapping: Mapping,
    readings: Vec<LaneObservation>,
    advance: Vec<LaneObservation>,
    obs: Observation,
    /// Phase last applied per brain intersection.
    applied: Vec<Option<usize>>,
    /// Steps between refreshes of the lane observations in [`BrainDriver::before_step`].
    observe_every: u64,
    /// Alerts raised so far (the caller may drain them).
    pub alerts: Vec<Alert>,
    /// Decisions taken so far (with the intersection's external id), when kept.
    pub decisions: Option<Vec<(String, Decision)>>,
    /// Wall-clock time spent observing and deciding.
    pub busy: Duration,
}

impl BrainDriver {
    /// A brain for `engine`'s network (whose lights the caller puts under external control).
    pub fn new(
        engine: &Engine,
        config: BrainConfig,
        keep_decisions: bool,
    ) -> Result<Self, signal::SignalError> {
        let (net, mapping) = brain_network(engine.network());
        let n = mapping.sim_node.len();
        Ok(BrainDriver {
            brain: Brain::new(net, config)?,
            mapping,
            readings: Vec::new(),
            advance: Vec::new(),
            obs: Observation::default(),
            applied: vec![None; n],
            observe_every: 1,
            alerts: Vec::new(),
            decisions: keep_decisions.then(Vec::new),
            busy: Duration::ZERO,
        })
    }

    /// Makes [`BrainDriver::before_step`] refresh the lane observations only every `steps` steps
    /// (at steps that are multiples of it); in between the brain decides on the last ones, as it
    /// does in the demo, where observations arrive through the hub every publish period.
    pub fn set_observe_every(&mut self, steps: u64) {
        self.observe_every = steps.max(1);
    }

    /// How the brain's intersections map to the twin's.
    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// The observation the brain decided on last.
    pub fn observation(&self) -> &Observation {
        &self.obs
    }

    /// Observes (when due), decides and applies the signals; call before every step of the twin.
    pub fn before_step(&mut self, engine: &mut Engine) -> Result<(), DriveError> {
        let started = Instant::now();
        if engine.steps().is_multiple_of(self.observe_every) {
            self.observe(engine);
        }
        self.decide(engine, started)
    }

    /// Decides on `lanes` when given (observations read from elsewhere, e.g. the hub; no
    /// emergency vehicles), else on the last ones, and applies the signals; call before every
    /// step of the twin.
    pub fn before_step_with(
        &mut self,
        engine: &mut Engine,
        lanes: Option<Vec<LaneObs>>,
    ) -> Result<(), DriveError> {
        let started = Instant::now();
        if let Some(lanes) = lanes {
            self.obs.lanes = lanes;
            self.obs.emergencies.clear();
        }
        self.decide(engine, started)
    }

    fn decide(&mut self, engine: &mut Engine, started: Instant) -> Result<(), DriveError> {
        self.obs.time_s = engine.time_s();
        let out = self.brain.step(&self.obs);
        let net = self.brain.network();
        for (i, signal) in self.brain.signals().enumerate() {
            let phase = match signal {
                Some(Signal::Green { phase }) => phase,
                Some(Signal::Transition { .. }) => match net.intersections[i].transition {
                    Some(t) => t,
                    None => {
                        return Err(DriveError::NoTransition(net.intersections[i].name.clone()));
                    }
                },
                None => continue,
            };
            if self.applied[i] != Some(phase) {
                engine.set_phase(self.mapping.sim_node[i], phase)?;
                self.applied[i] = Some(phase);
            }
        }
        self.alerts.extend(out.alerts);
        if let Some(kept) = self.decisions.as_mut() {
            let names = &net.intersections;
            kept.extend(
                out.decisions.into_iter().map(|d| (names[d.intersection.index()].name.clone(), d)),
            );
        }
        self.busy += started.elapsed();
        Ok(())
    }

    /// Fills the brain's observation from the twin's detectors and emergency transponders.
    fn observe(&mut self, engine: &Engine) {
        let Self { brain, readings, advance, obs, .. } = self;
        read_detectors(engine, brain.config(), readings, advance, &mut obs.lanes);
        self.obs.emergencies.clear();
        if self.brain.config().preemption.is_none() {
            return;
        }
        let net = engine.network();
        for ev in engine.emergency_vehicles() {
            let Some(loc) = ev.location else { continue };
            let lane = net.lane(ev.lane);
            let on_lane = loc.drivable.index() < net.lanes().len();
            let distance_to_end_m =
                if on_lane { (lane.length - loc.distance_m).max(0.0) } else { lane.length };
            let rest: Vec<signal::RoadId> =
                match ev.remaining_route.iter().position(|&r| r == lane.road) {
                    Some(i) => {
                        ev.remaining_route[i + 1..].iter().map(|r| signal::RoadId(r.0)).collect()
                    }
                    None => Vec::new(),
                };
            self.obs.emergencies.push(EmergencyObs {
                id: u64::from(ev.id.0),
                road: signal::RoadId(lane.road.0),
                lane: on_lane.then_some(signal::LaneId(ev.lane.0)),
                distance_to_end_m,
                next_roads: rest,
            });
        }
    }
}

/// The twin's detector readings in the brain's terms, one per lane: stop-line detectors of
/// `config.near_range_m`, advance detectors of `config.approach_range_m`, and the speed limit as
/// the mean speed of an empty lane. `readings` and `advance` are scratch buffers.
pub fn read_detectors(
    engine: &Engine,
    config: &BrainConfig,
    readings: &mut Vec<LaneObservation>,
    advance: &mut Vec<LaneObservation>,
    out: &mut Vec<LaneObs>,
) {
    engine.observe_lanes(config.near_range_m, readings);
    engine.observe_lanes(config.approach_range_m, advance);
    out.clear();
    let rows = readings.iter().zip(advance.iter()).zip(engine.network().lanes());
    out.extend(rows.map(|((r, a), lane)| LaneObs {
        vehicles: r.vehicles,
        halted: r.halted,
        mean_speed_mps: if r.vehicles == 0 { lane.max_speed } else { r.mean_speed_mps },
        near_stop_line: r.near_stop_line,
        approaching: a.near_stop_line,
        stopped_apart: r.stopped_apart,
        stopped_apart_m: r.stopped_apart_m,
        farthest_halted_m: r.farthest_halted_m,
    }));
}
