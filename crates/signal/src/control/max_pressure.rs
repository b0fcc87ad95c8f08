//! Max-pressure control exactly as the CityFlow reference runs define it.
//!
//! Decisions at t = 0, D, 2D, …: every intersection takes the green phase with the largest
//! pressure (ties to the lowest index). With a transition of Y seconds, a change of phase shows the
//! transition for the first Y seconds of the interval and the new green for the remaining D − Y.

use super::{Controller, Ctx, pressure};
use crate::decision::{Choice, Rule};
use crate::network::IntersectionId;
use crate::timing::EPS;

pub(crate) struct MaxPressure {
    interval_s: f64,
    /// The next decision time, shared by all intersections.
    next_s: f64,
    /// Whether the current step is a decision point.
    deciding: bool,
}

impl MaxPressure {
    pub(crate) fn new(interval_s: f64) -> Self {
        MaxPressure { interval_s, next_s: 0.0, deciding: false }
    }
}

impl Controller for MaxPressure {
    fn begin_step(&mut self, ctx: &Ctx<'_>) {
        self.deciding = ctx.now_s + EPS >= self.next_s;
        while self.next_s <= ctx.now_s + EPS {
            self.next_s += self.interval_s;
        }
    }

    fn decide(&mut self, ctx: &Ctx<'_>, node: IntersectionId) -> Option<Choice> {
        if !self.deciding {
            return None;
        }
        let plan = &ctx.plans[node.index()];
        let scores: Vec<_> = plan.greens.iter().map(|&p| (p, pressure(ctx, node, p))).collect();
        let mut best = scores[0];
        for &(p, s) in &scores[1..] {
            if s > best.1 {
                best = (p, s);
            }
        }
        Some(Choice { phase: best.0, rule: Rule::MaxPressure, scores, detail: String::new() })
    }
}
