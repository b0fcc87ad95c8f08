//! Fixed-time control: every green phase in order for `green_s` seconds each.
//!
//! With no transition this is the RL literature's "fixed time" (CityFlow reference `fixed_rl30`):
//! at t = 0, 30, 60, … every intersection shows green phase `1 + (t/30) mod 8`. With a transition
//! of Y seconds, it follows every green (`fixed_rl30_y5`): the cycle per phase is green + Y.

use super::{Controller, Ctx};
use crate::decision::{Choice, Rule};
use crate::network::IntersectionId;
use crate::timing::{EPS, SignalState};

pub(crate) struct Fixed {
    green_s: f64,
}

impl Fixed {
    pub(crate) fn new(green_s: f64) -> Self {
        Fixed { green_s }
    }
}

impl Controller for Fixed {
    fn decide(&mut self, ctx: &Ctx<'_>, node: IntersectionId) -> Option<Choice> {
        let plan = &ctx.plans[node.index()];
        let state = ctx.states[node.index()];
        let due = match state {
            SignalState::Start => true,
            SignalState::Green { .. } => state.green_elapsed(ctx.now_s) + EPS >= self.green_s,
            SignalState::Transition { .. } => false,
        };
        due.then(|| Choice::bare(plan.next_green(state.green()), Rule::FixedCycle))
    }
}
