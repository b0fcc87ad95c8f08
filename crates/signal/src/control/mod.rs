//! Signal controllers: the baselines (fixed-time, max-pressure, SOTL) and Citybrain's adaptive one.
//!
//! A controller is asked, for each intersection whose signal is showing a green (or has not
//! started), which green it wants next. It answers `None` when this is not one of its decision
//! points, or a [`Choice`] (possibly the current green: a hold) with the inputs that led to it. The
//! [`crate::Brain`] owns the signal state machines and inserts transitions.

mod adaptive;
mod adaptive_params;
mod deadline;
mod fixed;
mod max_pressure;
mod sotl;

pub use adaptive::AdaptiveParams;
pub use sotl::SotlParams;

use std::str::FromStr;

use crate::SignalError;
use crate::decision::Choice;
use crate::network::{IntersectionId, LaneId, Network, PhaseIdx};
use crate::observe::Observation;
use crate::timing::SignalState;

/// The controllers Citybrain offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControllerKind {
    /// Fixed-time cycling through the green phases.
    Fixed,
    /// Max-pressure at a fixed action interval (CityFlow's definition).
    MaxPressure,
    /// Self-organising traffic lights.
    Sotl,
    /// Citybrain's adaptive controller.
    Adaptive,
}

impl ControllerKind {
    /// Every controller, in the order benchmarks list them.
    pub const ALL: [ControllerKind; 4] = [
        ControllerKind::Fixed,
        ControllerKind::MaxPressure,
        ControllerKind::Sotl,
        ControllerKind::Adaptive,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ControllerKind::Fixed => "fixed",
            ControllerKind::MaxPressure => "max-pressure",
            ControllerKind::Sotl => "sotl",
            ControllerKind::Adaptive => "adaptive",
        }
    }
}

impl FromStr for ControllerKind {
    type Err = SignalError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ControllerKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            SignalError::Param(format!(
                "unknown controller `{s}`; expected fixed, max-pressure, sotl or adaptive"
            ))
        })
    }
}

/// How the network is controlled.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlConfig {
    /// Which controller.
    pub kind: ControllerKind,
    /// Fixed-time green per phase, seconds.
    pub green_s: f64,
    /// Transition shown between different greens, seconds (the baselines' `--yellow`).
    pub yellow_s: f64,
    /// Max-pressure decision interval, seconds.
    pub action_interval_s: f64,
    /// SOTL thresholds.
    pub sotl: SotlParams,
    /// Adaptive controller parameters.
    pub adaptive: AdaptiveParams,
}

impl ControlConfig {
    /// Defaults for `kind`: 30 s fixed greens, 10 s max-pressure interval, no transition for the
    /// baselines, 5 s transitions for adaptive.
    pub fn new(kind: ControllerKind) -> Self {
        let yellow_s = if kind == ControllerKind::Adaptive {
            AdaptiveParams::default().min_transition_s
        } else {
            0.0
        };
        ControlConfig {
            kind,
            green_s: 30.0,
            yellow_s,
            action_interval_s: 10.0,
            sotl: SotlParams::default(),
            adaptive: AdaptiveParams::default(),
        }
    }

    /// Rejects parameters out of range with a message naming the parameter.
    pub fn validate(&self) -> Result<(), SignalError> {
        let err = |m: String| Err(SignalError::Param(m));
        let finite = [self.green_s, self.yellow_s, self.action_interval_s];
        if finite.iter().any(|v| !v.is_finite()) {
            return err("times must be finite numbers".into());
        }
        if self.yellow_s < 0.0 {
            return err(format!("--yellow must be >= 0 s, got {}", self.yellow_s));
        }
        if self.green_s <= 0.0 {
            return err(format!("--green must be > 0 s, got {}", self.green_s));
        }
        if self.action_interval_s <= 0.0 {
            return err(format!("--action-interval must be > 0 s, got {}", self.action_interval_s));
        }
        match self.kind {
            ControllerKind::MaxPressure if self.yellow_s >= self.action_interval_s => err(format!(
                "--yellow ({} s) must be shorter than --action-interval ({} s)",
                self.yellow_s, self.action_interval_s
            )),
            ControllerKind::Adaptive if self.yellow_s < self.adaptive.min_transition_s => {
                err(format!(
                    "adaptive control needs a transition of at least {} s between greens, got --yellow {}",
                    self.adaptive.min_transition_s, self.yellow_s
                ))
            }
            ControllerKind::Adaptive => self.adaptive.validate(),
            ControllerKind::Sotl => self.sotl.validate(),
            _ => Ok(()),
        }
    }
}

/// Precomputed per-intersection facts the controllers need every step.
#[derive(Clone, Debug)]
pub(crate) struct NodePlan {
    /// Green phases in order.
    pub(crate) greens: Vec<PhaseIdx>,
    /// Distinct incoming lanes per phase (indexed by phase).
    pub(crate) phase_in_lanes: Vec<Vec<LaneId>>,
    /// Distinct incoming lanes of the intersection.
    pub(crate) in_lanes: Vec<LaneId>,
}

impl NodePlan {
    pub(crate) fn build(net: &Network) -> Vec<NodePlan> {
        net.intersections
            .iter()
            .map(|node| NodePlan {
                greens: node.green_phases().collect(),
                phase_in_lanes: (0..node.phases.len()).map(|p| node.phase_in_lanes(p)).collect(),
                in_lanes: node.in_lanes(),
            })
            .collect()
    }

    /// The green after `phase` in cycle order (the first green when `phase` is not a green).
    pub(crate) fn next_green(&self, phase: Option<PhaseIdx>) -> PhaseIdx {
        let pos = phase.and_then(|p| self.greens.iter().position(|&g| g == p));
        match pos {
            Some(i) => self.greens[(i + 1) % self.greens.len()],
            None => self.greens[0],
        }
    }
}

/// What a controller sees when asked about one intersection.
pub(crate) struct Ctx<'a> {
    pub(crate) net: &'a Network,
    pub(crate) plans: &'a [NodePlan],
    pub(crate) obs: &'a Observation,
    pub(crate) states: &'a [SignalState],
    pub(crate) now_s: f64,
}

/// A signal controller for a whole network.
pub(crate) trait Controller {
    /// Called once per step before the intersections are asked.
    fn begin_step(&mut self, _ctx: &Ctx<'_>) {}

    /// The choice for `node`, or `None` when this is not a decision point for it.
    fn decide(&mut self, ctx: &Ctx<'_>, node: IntersectionId) -> Option<Choice>;
}

/// Builds the controller of `config` for `net` (already validated); fails when a parameter does
/// not suit the network.
pub(crate) fn build(
    config: &ControlConfig,
    net: &Network,
) -> Result<Box<dyn Controller + Send>, SignalError> {
    Ok(match config.kind {
        ControllerKind::Fixed => Box::new(fixed::Fixed::new(config.green_s)),
        ControllerKind::MaxPressure => {
            Box::new(max_pressure::MaxPressure::new(config.action_interval_s))
        }
        ControllerKind::Sotl => Box::new(sotl::Sotl::new(config.sotl.clone())),
        ControllerKind::Adaptive => {
            Box::new(adaptive::Adaptive::new(config.adaptive.clone(), config.yellow_s, net)?)
        }
    })
}

/// Max-pressure's pressure of `phase` at `node`: over its movements, vehicles on the distinct
/// incoming lanes minus vehicles on the distinct outgoing lanes (CityFlow's definition).
pub(crate) fn pressure(ctx: &Ctx<'_>, node: IntersectionId, phase: PhaseIdx) -> f64 {
    let n = &ctx.net.intersections[node.index()];
    n.phases[phase]
        .movements
        .iter()
        .map(|&m| {
            let mv = &n.movements[m];
            f64::from(ctx.obs.vehicles(&mv.in_lanes)) - f64::from(ctx.obs.vehicles(&mv.out_lanes))
        })
        .sum()
}
