//! Self-organising traffic lights (SOTL, after Cools, Gershenson & D'Hooghe), in the form the
//! CityFlow literature's baseline uses.
//!
//! Every step, once the current green has run `t_min_s`: count halted vehicles on the incoming
//! lanes served by the current green (`green`) and on the other incoming lanes (`red`). If
//! `green <= min_green_vehicles` and `red > max_red_vehicles`, switch to the next green phase in
//! cycle order. Defaults (10 s, 20, 30) are the literature baseline's.

use super::{Controller, Ctx};
use crate::SignalError;
use crate::decision::{Choice, Rule};
use crate::network::IntersectionId;
use crate::timing::{EPS, SignalState};

/// SOTL thresholds.
#[derive(Clone, Debug, PartialEq)]
pub struct SotlParams {
    /// Minimum green before a switch is considered, seconds.
    pub t_min_s: f64,
    /// A switch needs at most this many halted vehicles on the green lanes.
    pub min_green_vehicles: u32,
    /// A switch needs more than this many halted vehicles on the red lanes.
    pub max_red_vehicles: u32,
}

impl Default for SotlParams {
    fn default() -> Self {
        SotlParams { t_min_s: 10.0, min_green_vehicles: 20, max_red_vehicles: 30 }
    }
}

impl SotlParams {
    pub(crate) fn validate(&self) -> Result<(), SignalError> {
        if self.t_min_s.is_finite() && self.t_min_s >= 0.0 {
            Ok(())
        } else {
            Err(SignalError::Param(format!(
                "SOTL minimum green must be >= 0 s, got {}",
                self.t_min_s
            )))
        }
    }
}

pub(crate) struct Sotl {
    params: SotlParams,
}

impl Sotl {
    pub(crate) fn new(params: SotlParams) -> Self {
        Sotl { params }
    }
}

impl Controller for Sotl {
    fn decide(&mut self, ctx: &Ctx<'_>, node: IntersectionId) -> Option<Choice> {
        let plan = &ctx.plans[node.index()];
        let state = ctx.states[node.index()];
        let current = match state {
            SignalState::Start => return Some(Choice::bare(plan.greens[0], Rule::SotlSwitch)),
            SignalState::Green { phase, .. } => phase,
            SignalState::Transition { .. } => return None,
        };
        if state.green_elapsed(ctx.now_s) + EPS < self.params.t_min_s {
            return None;
        }
        let green = ctx.obs.halted(&plan.phase_in_lanes[current]);
        let red = ctx.obs.halted(&plan.in_lanes) - green;
        if green <= self.params.min_green_vehicles && red > self.params.max_red_vehicles {
            Some(Choice {
                phase: plan.next_green(Some(current)),
                rule: Rule::SotlSwitch,
                scores: vec![(current, f64::from(green))],
                detail: format!("halted on green {green}, on red {red}"),
            })
        } else {
            None
        }
    }
}
