//! Citybrain's adaptive controller: actuated, demand-weighted, with a guaranteed longest red.
//!
//! Every step, for each intersection showing a green that has run its minimum:
//! 1. **Longest red** — a movement that has had vehicles waiting on red for `urgent_after_s`
//!    (the maximum red minus a slack that covers every other waiting movement being served first)
//!    gets green next: the phase serving the longest-waiting movement.
//! 2. **Maximum green** — past `max_green_s` the green ends if any other phase has demand.
//! 3. **Gap-out** — the green ends when no vehicle is queued on, or close to the stop line of, its
//!    movements, and another phase has demand.
//! 4. **Pressure** — the green ends when the best other phase's demand exceeds the current one's
//!    by the switching margin (the lost time of a transition has to pay off).
//!
//! A movement's demand counts queued vehicles, vehicles close to the stop line and (less) vehicles
//! further upstream, scaled down when its outgoing lanes are filling up (a green into a full road
//! is wasted). Movements green in every phase (right turns in the shared roadnets) are ignored.

use super::{Controller, Ctx};
use crate::SignalError;
use crate::decision::{Choice, Rule};
use crate::network::{IntersectionId, Network, PhaseIdx};
use crate::timing::{EPS, SignalState};

/// Tuning of the adaptive controller.
#[derive(Clone, Debug, PartialEq)]
pub struct AdaptiveParams {
    /// Shortest transition between different greens, seconds (real signals need one).
    pub min_transition_s: f64,
    /// Shortest green, seconds.
    pub min_green_s: f64,
    /// Longest green when other phases have demand, seconds.
    pub max_green_s: f64,
    /// Longest a movement with vehicles may wait on red, seconds.
    pub max_red_s: f64,
    /// Weight of a moving vehicle within detector range of the stop line (a queued one counts 1).
    pub near_weight: f64,
    /// Weight of a moving vehicle further upstream.
    pub far_weight: f64,
    /// Weight of a moving vehicle further upstream on a lane that has green (it is likely in
    /// the platoon the green is discharging).
    pub green_far_weight: f64,
    /// Extra demand (vehicles) another phase needs to pre-empt a green that still has demand.
    pub switch_margin: f64,
    /// Ratio by which another phase's demand must exceed the current green's.
    pub switch_ratio: f64,
    /// Outgoing-lane occupancy (0–1) at which a movement counts as blocked.
    pub spill_occupancy: f64,
    /// Road length per vehicle in a jam, metres (capacity of a lane = length / spacing).
    pub jam_spacing_m: f64,
}

impl Default for AdaptiveParams {
    fn default() -> Self {
        AdaptiveParams {
            min_transition_s: 5.0,
            min_green_s: 5.0,
            max_green_s: 60.0,
            max_red_s: 180.0,
            near_weight: 1.0,
            far_weight: 0.2,
            green_far_weight: 0.2,
            switch_margin: 2.0,
            switch_ratio: 1.5,
            spill_occupancy: 0.85,
            jam_spacing_m: 7.5,
        }
    }
}

impl AdaptiveParams {
    pub(crate) fn validate(&self) -> Result<(), SignalError> {
        let err = |m: String| Err(SignalError::Param(m));
        let times = [self.min_transition_s, self.min_green_s, self.max_green_s, self.max_red_s];
        if times.iter().any(|t| !t.is_finite() || *t < 0.0) {
            return err("adaptive times must be finite and >= 0 s".into());
        }
        if self.min_transition_s < 5.0 {
            return err("adaptive transitions must last at least 5 s".into());
        }
        if self.max_green_s < self.min_green_s {
            return err("adaptive max green must be >= min green".into());
        }
        if !(self.jam_spacing_m > 0.0 && self.spill_occupancy > 0.0) {
            return err("adaptive jam spacing and spill occupancy must be > 0".into());
        }
        Ok(())
    }
}

/// Per-intersection memory of the controller.
struct NodeMemory {
    /// Movements that are green in every green phase (never wait, never scored).
    free: Vec<bool>,
    /// Since when each movement has had vehicles waiting on red.
    waiting_since: Vec<Option<f64>>,
    /// Red age after which a waiting movement is served next.
    urgent_after_s: f64,
}

pub(crate) struct Adaptive {
    p: AdaptiveParams,
    transition_s: f64,
    nodes: Vec<NodeMemory>,
}

impl Adaptive {
    pub(crate) fn new(p: AdaptiveParams, transition_s: f64, net: &Network) -> Self {
        let nodes = net
            .intersections
            .iter()
            .map(|n| {
                let greens: Vec<_> = n.green_phases().collect();
                let free: Vec<bool> = (0..n.movements.len())
                    .map(|m| greens.iter().all(|&g| n.serves(g, m)))
                    .collect();
                // Worst case before a movement that just turned urgent gets green: the running
                // green and every other waiting movement served first, each taking a minimum
                // green and a transition.
                let contenders = free.iter().filter(|f| !**f).count().min(greens.len()) + 1;
                let slack = contenders as f64 * (p.min_green_s + transition_s) + 1.0;
                NodeMemory {
                    waiting_since: vec![None; n.movements.len()],
                    urgent_after_s: (p.max_red_s - slack).max(0.0),
                    free,
                }
            })
            .collect();
        Adaptive { p, transition_s, nodes }
    }

    /// A movement's (queued, moving near the stop line, moving further upstream) vehicles, and
    /// the factor by which its outgoing lanes' occupancy discounts them.
    fn movement_counts(&self, ctx: &Ctx<'_>, node: IntersectionId, m: usize) -> [f64; 4] {
        let mv = &ctx.net.intersections[node.index()].movements[m];
        let (mut queued, mut near, mut far) = (0.0, 0.0, 0.0);
        for &l in &mv.in_lanes {
            let o = ctx.obs.lane(l);
            let moving = o.vehicles.saturating_sub(o.halted);
            let near_moving = o.near_stop_line.saturating_sub(o.halted).min(moving);
            queued += f64::from(o.halted);
            near += f64::from(near_moving);
            far += f64::from(moving - near_moving);
        }
        [queued, near, far, self.outflow_factor(ctx, &mv.out_lanes)]
    }

    /// 1 when the outgoing lanes are empty, falling to 0 as they fill to `spill_occupancy`.
    fn outflow_factor(&self, ctx: &Ctx<'_>, out: &[crate::network::LaneId]) -> f64 {
        if out.is_empty() {
            return 1.0;
        }
        let (mut vehicles, mut capacity) = (0.0, 0.0);
        for &l in out {
            vehicles += f64::from(ctx.obs.lane(l).vehicles);
            capacity += ctx.net.lanes[l.index()].length_m / self.p.jam_spacing_m;
        }
        let occupancy = vehicles / capacity.max(1.0);
        (1.0 - occupancy / self.p.spill_occupancy).clamp(0.0, 1.0)
    }

    /// Every green phase's (phase, demand to start it, demand to hold it, vehicles an extension
    /// would serve soon).
    fn phase_scores(&self, ctx: &Ctx<'_>, node: IntersectionId) -> Vec<(PhaseIdx, f64, f64, f64)> {
        let n = &ctx.net.intersections[node.index()];
        let mem = &self.nodes[node.index()];
        let p = &self.p;
        let per_movement: Vec<[f64; 3]> = (0..n.movements.len())
            .map(|m| {
                if mem.free[m] {
                    return [0.0; 3];
                }
                let [q, near, far, f] = self.movement_counts(ctx, node, m);
                [
                    (q + p.near_weight * near + p.far_weight * far) * f,
                    (q + near + p.green_far_weight * far) * f,
                    (q + near) * f,
                ]
            })
            .collect();
        ctx.plans[node.index()]
            .greens
            .iter()
            .map(|&ph| {
                let mut sum = [0.0; 3];
                for &m in &n.phases[ph].movements {
                    for k in 0..3 {
                        sum[k] += per_movement[m][k];
                    }
                }
                (ph, sum[0], sum[1], sum[2])
            })
            .collect()
    }

    /// The phase serving the longest-waiting urgent movement, if any movement is urgent: among
    /// those serving it, the one serving most urgent movements, then the one with most demand.
    fn urgent_phase(
        &self,
        ctx: &Ctx<'_>,
        node: IntersectionId,
        scores: &[(PhaseIdx, f64, f64, f64)],
    ) -> Option<(PhaseIdx, usize)> {
        let mem = &self.nodes[node.index()];
        let n = &ctx.net.intersections[node.index()];
        let urgent = |m: usize| {
            mem.waiting_since[m].is_some_and(|s| ctx.now_s - s + EPS >= mem.urgent_after_s)
        };
        let oldest = mem
            .waiting_since
            .iter()
            .enumerate()
            .filter(|&(m, _)| urgent(m))
            .filter_map(|(m, s)| s.map(|s| (m, s)))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))?;
        let rank = |&(p, demand, _, _): &(PhaseIdx, f64, f64, f64)| {
            let count = n.phases[p].movements.iter().filter(|&&m| urgent(m)).count();
            (count, demand)
        };
        scores
            .iter()
            .filter(|s| n.serves(s.0, oldest.0))
            .max_by(|a, b| {
                let (ca, da) = rank(a);
                let (cb, db) = rank(b);
                ca.cmp(&cb).then(da.total_cmp(&db)).then(b.0.cmp(&a.0))
            })
            .map(|s| (s.0, oldest.0))
    }
}

impl Controller for Adaptive {
    fn begin_step(&mut self, ctx: &Ctx<'_>) {
        for (i, mem) in self.nodes.iter_mut().enumerate() {
            let n = &ctx.net.intersections[i];
            let green = ctx.states[i].green();
            for (m, since) in mem.waiting_since.iter_mut().enumerate() {
                let served = mem.free[m] || green.is_some_and(|g| n.serves(g, m));
                let waiting = ctx.obs.vehicles(&n.movements[m].in_lanes) > 0;
                *since = match (served, waiting) {
                    (false, true) => Some(since.unwrap_or(ctx.now_s)),
                    _ => None,
                };
            }
        }
    }

    fn decide(&mut self, ctx: &Ctx<'_>, node: IntersectionId) -> Option<Choice> {
        let state = ctx.states[node.index()];
        let scores = self.phase_scores(ctx, node);
        let best_of = |skip: Option<PhaseIdx>| {
            scores.iter().filter(|s| Some(s.0) != skip).fold(
                None::<(PhaseIdx, f64, f64, f64)>,
                |best, s| match best {
                    Some(b) if b.1 >= s.1 => Some(b),
                    _ => Some(*s),
                },
            )
        };
        let explain = |phase, rule, detail: String| Choice {
            phase,
            rule,
            scores: scores.iter().map(|s| (s.0, s.1)).collect(),
            detail,
        };
        let current = match state {
            SignalState::Start => {
                let best = best_of(None).map_or(ctx.plans[node.index()].greens[0], |b| b.0);
                return Some(explain(best, Rule::AdaptiveStart, String::new()));
            }
            SignalState::Green { phase, .. } => phase,
            SignalState::Transition { .. } => return None,
        };
        let elapsed = state.green_elapsed(ctx.now_s);
        if elapsed + EPS < self.p.min_green_s {
            return None;
        }
        if let Some((phase, movement)) = self.urgent_phase(ctx, node, &scores) {
            let since = self.nodes[node.index()].waiting_since[movement].unwrap_or(ctx.now_s);
            let detail = format!("movement {movement} waiting {:.0} s", ctx.now_s - since);
            return Some(explain(phase, Rule::AdaptiveMaxRed, detail));
        }
        let cur = scores.iter().find(|s| s.0 == current).copied()?;
        let (other, other_demand, _, _) = best_of(Some(current))?;
        if other_demand <= EPS {
            return None;
        }
        let detail = format!("green {elapsed:.0} s; transition {:.0} s", self.transition_s);
        if elapsed + EPS >= self.p.max_green_s {
            return Some(explain(other, Rule::AdaptiveMaxGreen, detail));
        }
        if cur.3 <= EPS {
            return Some(explain(other, Rule::AdaptiveGapOut, detail));
        }
        if other_demand > cur.2 * self.p.switch_ratio + self.p.switch_margin {
            return Some(explain(other, Rule::AdaptivePressure, detail));
        }
        None
    }
}
