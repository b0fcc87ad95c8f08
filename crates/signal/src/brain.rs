//! The brain: one controller for the network, emergency preemption, and the detectors.
//!
//! Call [`Brain::step`] once per control step with the latest observation; then read
//! [`Brain::signals`] and show them until the next step. The brain owns each intersection's
//! [`SignalState`] (the signal *state*); the [`Network`] is the signal *plan*.

use crate::SignalError;
use crate::alert::Alert;
use crate::congestion::{CongestionParams, CongestionTracker};
use crate::control::{self, ControlConfig, Controller, Ctx, NodePlan};
use crate::decision::{Choice, Decision, Rule, Signal};
use crate::incident::{IncidentDetector, IncidentParams};
use crate::network::{IntersectionId, Network, PhaseIdx};
use crate::observe::Observation;
use crate::preempt::{self, PreemptParams};
use crate::timing::SignalState;

/// Everything that configures a [`Brain`].
#[derive(Clone, Debug, PartialEq)]
pub struct BrainConfig {
    /// The controller and its timings.
    pub control: ControlConfig,
    /// Emergency preemption, when enabled.
    pub preemption: Option<PreemptParams>,
    /// Range of the stop-line detectors, metres: [`crate::LaneObs::near_stop_line`] counts
    /// vehicles within this distance of the lane's end.
    pub near_range_m: f64,
    /// Range of the advance detectors, metres: [`crate::LaneObs::approaching`] counts vehicles
    /// within this distance of the lane's end.
    pub approach_range_m: f64,
    /// Congestion index and alerts.
    pub congestion: CongestionParams,
    /// Incident detection.
    pub incident: IncidentParams,
}

impl BrainConfig {
    /// Defaults around a controller configuration: no preemption, 60 m stop-line detectors and
    /// 120 m advance detectors.
    pub fn new(control: ControlConfig) -> Self {
        BrainConfig {
            control,
            preemption: None,
            near_range_m: 60.0,
            approach_range_m: 120.0,
            congestion: CongestionParams::default(),
            incident: IncidentParams::default(),
        }
    }
}

/// What one step produced besides the signals.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepOutput {
    /// Decisions taken this step, with their explanations.
    pub decisions: Vec<Decision>,
    /// Alerts raised this step.
    pub alerts: Vec<Alert>,
}

/// Controls a network of signals from observations.
pub struct Brain {
    net: Network,
    plans: Vec<NodePlan>,
    config: BrainConfig,
    controller: Box<dyn Controller + Send>,
    states: Vec<SignalState>,
    /// Emergency vehicle each intersection is preempted for.
    preempted: Vec<Option<u64>>,
    /// When each intersection's current preemption started.
    preempted_since: Vec<f64>,
    /// The emergency vehicle whose preemption ran out at each intersection: it is not granted
    /// there again (a vehicle stuck in a jam must not starve every other approach).
    expired: Vec<Option<u64>>,
    /// Signals shown during the last step (what the latest observation resulted from).
    shown: Vec<Option<Signal>>,
    congestion: CongestionTracker,
    incidents: IncidentDetector,
}

impl Brain {
    /// A brain for `net`; fails on an inconsistent network or parameters out of range.
    pub fn new(net: Network, config: BrainConfig) -> Result<Self, SignalError> {
        net.validate()?;
        config.control.validate()?;
        if !(config.near_range_m.is_finite() && config.near_range_m > 0.0) {
            return Err(SignalError::Param(format!(
                "detector range must be > 0 m, got {}",
                config.near_range_m
            )));
        }
        let n = net.intersections.len();
        Ok(Brain {
            plans: NodePlan::build(&net),
            controller: control::build(&config.control, &net)?,
            states: vec![SignalState::Start; n],
            preempted: vec![None; n],
            preempted_since: vec![0.0; n],
            expired: vec![None; n],
            shown: vec![None; n],
            congestion: CongestionTracker::new(&net, config.congestion.clone()),
            incidents: IncidentDetector::new(&net, config.incident.clone()),
            config,
            net,
        })
    }

    /// The network this brain controls.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// Its configuration.
    pub fn config(&self) -> &BrainConfig {
        &self.config
    }

    /// Each intersection's signal state.
    pub fn states(&self) -> &[SignalState] {
        &self.states
    }

    /// What each intersection shows now (`None` before its first decision).
    pub fn signals(&self) -> impl ExactSizeIterator<Item = Option<Signal>> + '_ {
        self.states.iter().map(SignalState::signal)
    }

    /// The congestion tracker (index per road and intersection).
    pub fn congestion(&self) -> &CongestionTracker {
        &self.congestion
    }

    /// Takes one observation, decides, and updates the detectors.
    pub fn step(&mut self, obs: &Observation) -> StepOutput {
        let now_s = obs.time_s;
        for s in &mut self.states {
            s.advance(now_s);
        }
        let mut out = StepOutput {
            alerts: self.incidents.update(&self.net, obs, &self.shown),
            ..StepOutput::default()
        };
        out.alerts.extend(self.congestion.update(&self.net, obs));
        let choices = self.choose(obs);
        let transition_s = self.config.control.yellow_s;
        for (node, choice, preempt_for) in choices {
            let state = &mut self.states[node.index()];
            let previous = state.green();
            let changed = match preempt_for {
                Some(_) => state.redirect(now_s, choice.phase, transition_s),
                None => state.request(now_s, choice.phase, transition_s),
            };
            let record = match preempt_for {
                Some(v) => changed || self.preempted[node.index()] != Some(v),
                None => true,
            };
            if preempt_for.is_some() && self.preempted[node.index()] != preempt_for {
                self.preempted_since[node.index()] = now_s;
            }
            if choice.rule == Rule::PreemptEnd || preempt_for.is_some() {
                self.preempted[node.index()] = preempt_for;
            }
            if record {
                out.decisions.push(Decision {
                    time_s: now_s,
                    intersection: node,
                    previous,
                    choice,
                });
            }
        }
        for (shown, state) in self.shown.iter_mut().zip(&self.states) {
            *shown = state.signal();
        }
        out
    }

    /// Every intersection's choice this step, with the emergency vehicle it is preempted for.
    fn choose(&mut self, obs: &Observation) -> Vec<(IntersectionId, Choice, Option<u64>)> {
        let ctx = Ctx {
            net: &self.net,
            plans: &self.plans,
            obs,
            states: &self.states,
            now_s: obs.time_s,
        };
        let requests = match &self.config.preemption {
            Some(params) => preempt::requests(
                &self.net,
                obs,
                params,
                self.config.control.yellow_s,
                &self.preempted,
                |node, phases| pick_phase(&ctx, node, phases),
            ),
            None => Vec::new(),
        };
        self.controller.begin_step(&ctx);
        let mut choices = Vec::new();
        let max_hold_s = self.config.preemption.as_ref().map_or(0.0, |p| p.max_hold_s);
        for i in 0..self.net.intersections.len() {
            let node = IntersectionId(i as u32);
            let held_too_long = |v: u64| {
                self.preempted[i] == Some(v) && obs.time_s - self.preempted_since[i] >= max_hold_s
            };
            let request =
                requests.iter().find(|r| r.node == node && self.expired[i] != Some(r.vehicle));
            if let Some(req) = request.filter(|r| held_too_long(r.vehicle)) {
                self.expired[i] = Some(req.vehicle);
            }
            let request = request.filter(|r| self.expired[i] != Some(r.vehicle));
            if let Some(req) = request {
                let mut choice = Choice::bare(req.phase, Rule::Preempt);
                choice.detail = req.detail.clone();
                choices.push((node, choice, Some(req.vehicle)));
                continue;
            }
            if let Some(v) = self.preempted[i] {
                let phase = self.states[i].target().unwrap_or(self.plans[i].greens[0]);
                let mut choice = Choice::bare(phase, Rule::PreemptEnd);
                choice.detail = if self.expired[i] == Some(v) {
                    format!("emergency vehicle {v} held the green {max_hold_s:.0} s; released")
                } else {
                    format!("emergency vehicle {v} has passed")
                };
                choices.push((node, choice, None));
                continue;
            }
            if matches!(self.states[i], SignalState::Transition { .. }) {
                continue;
            }
            if let Some(choice) = self.controller.decide(&ctx, node) {
                choices.push((node, choice, None));
            }
        }
        choices
    }
}

/// The phase to preempt with: the one already green or coming if it serves the vehicle, else the
/// one with the largest pressure.
fn pick_phase(ctx: &Ctx<'_>, node: IntersectionId, phases: &[PhaseIdx]) -> PhaseIdx {
    if let Some(t) = ctx.states[node.index()].target()
        && phases.contains(&t)
    {
        return t;
    }
    let mut best = (phases[0], f64::NEG_INFINITY);
    for &p in phases {
        let s = control::pressure(ctx, node, p);
        if s > best.1 {
            best = (p, s);
        }
    }
    best.0
}
