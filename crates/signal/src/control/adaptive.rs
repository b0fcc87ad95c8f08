//! Citybrain's adaptive controller: actuated, demand-weighted, with a guaranteed longest red.
//!
//! Every step, for each intersection showing a green that has run its minimum:
//! 1. **Maximum green** — past `max_green_s` the green ends if any other phase has demand.
//! 2. **Gap-out** — the green ends when no vehicle is queued on, or close to the stop line of, its
//!    movements, and another phase has demand.
//! 3. **Pressure** — the green ends when the best other phase's demand exceeds the current one's
//!    by the switching ratio and margin (the lost time of a transition has to pay off), but not
//!    before the queue found when the green started has had time to discharge (queue-clearing
//!    green: at high load greens, and so the cycle, grow with demand, as in Webster's timing,
//!    and fewer seconds are lost to transitions).
//! 4. **Longest red** — before holding or switching, the earliest-deadline schedule of the
//!    movements waiting on red (see `deadline`) must still meet every deadline afterwards;
//!    otherwise the green goes to the schedule's first phase.
//!
//! A movement's demand counts queued vehicles, vehicles close to the stop line and (less) vehicles
//! further upstream, scaled down when its outgoing lanes are filling up (a green into a full road
//! is wasted). Movements green in every phase (right turns in the shared roadnets) are ignored.

pub use super::adaptive_params::AdaptiveParams;
use super::deadline::{self, Timings};
use super::{Controller, Ctx};
use crate::SignalError;
use crate::decision::{Choice, Rule};
use crate::network::{IntersectionId, Network, PhaseIdx};
use crate::timing::{EPS, SignalState};

/// Per-intersection memory of the controller.
struct NodeMemory {
    /// Movements that are green in every green phase (never wait, never scored).
    free: Vec<bool>,
    /// Since when each movement has had vehicles waiting on red.
    waiting_since: Vec<Option<f64>>,
    /// Each movement's (vehicles, halted) on its incoming lanes at the last step.
    last: Vec<(u32, u32)>,
    /// When each movement last showed progress (a vehicle left or started) or had no queue.
    progress_s: Vec<f64>,
    /// The green the queue-based minimum was computed for (its start) and that minimum, seconds.
    queue_green: (f64, f64),
}

/// Step length assumed for the longest-red guarantee, seconds.
const STEP_S: f64 = 1.0;

pub(crate) struct Adaptive {
    p: AdaptiveParams,
    timings: Timings,
    nodes: Vec<NodeMemory>,
}

impl Adaptive {
    /// Fails when the maximum red is too short to serve every movement of an intersection once.
    pub(crate) fn new(
        p: AdaptiveParams,
        transition_s: f64,
        net: &Network,
    ) -> Result<Self, SignalError> {
        let timings = Timings {
            min_green_s: p.plan_green_s.max(p.min_green_s),
            transition_s,
            max_red_s: p.max_red_s,
        };
        let mut nodes = Vec::with_capacity(net.intersections.len());
        for n in &net.intersections {
            let greens: Vec<_> = n.green_phases().collect();
            let free: Vec<bool> =
                (0..n.movements.len()).map(|m| greens.iter().all(|&g| n.serves(g, m))).collect();
            let needed = deadline::min_max_red_s(&free, timings, STEP_S);
            if p.max_red_s < needed {
                return Err(SignalError::Param(format!(
                    "adaptive max red {} s is too short for intersection {}: serving each of its \
                     movements once takes {needed} s",
                    p.max_red_s, n.name
                )));
            }
            nodes.push(NodeMemory {
                waiting_since: vec![None; n.movements.len()],
                last: vec![(0, 0); n.movements.len()],
                progress_s: vec![0.0; n.movements.len()],
                queue_green: (f64::NAN, 0.0),
                free,
            });
        }
        Ok(Adaptive { p, timings, nodes })
    }

    /// A movement's (queued, moving near the stop line, moving within advance-detector range,
    /// moving further upstream) vehicles, and the factor by which its outgoing lanes'
    /// occupancy discounts them.
    fn movement_counts(&self, ctx: &Ctx<'_>, node: IntersectionId, m: usize) -> [f64; 5] {
        let mv = &ctx.net.intersections[node.index()].movements[m];
        let (mut queued, mut near, mut coming, mut far) = (0.0, 0.0, 0.0, 0.0);
        for &l in &mv.in_lanes {
            let o = ctx.obs.lane(l);
            // Halted vehicles are at the front; split the moving ones by detector zone.
            let moving = o.vehicles.saturating_sub(o.halted);
            let near_moving = o.near_stop_line.saturating_sub(o.halted).min(moving);
            let within = o.approaching.max(o.near_stop_line);
            let coming_moving = within.saturating_sub(o.halted).min(moving) - near_moving;
            queued += f64::from(o.halted);
            near += f64::from(near_moving);
            coming += f64::from(coming_moving);
            far += f64::from(moving - near_moving - coming_moving);
        }
        [queued, near, coming, far, self.outflow_factor(ctx, &mv.out_lanes)]
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
        // Never quite zero: a green into a full road still lets it drain as the road moves,
        // and a controller that sees no demand anywhere would stop switching (gridlock).
        (1.0 - occupancy / self.p.spill_occupancy).clamp(0.05, 1.0)
    }

    /// How long `phase`'s longest per-lane queue (queued and near the stop line) takes to
    /// discharge at the saturation headway, times the queue-green factor, at most the maximum
    /// green. Measured when a green starts, it is the least time that green runs unless it gaps
    /// out: ending it earlier for another phase's demand would pay a transition before the queue
    /// that was waiting for it has gone.
    fn queue_clearing_green_s(&self, ctx: &Ctx<'_>, node: IntersectionId, phase: PhaseIdx) -> f64 {
        let n = &ctx.net.intersections[node.index()];
        let mem = &self.nodes[node.index()];
        let longest = n.phases[phase]
            .movements
            .iter()
            .filter(|&&m| !mem.free[m])
            .map(|&m| {
                let [q, near, ..] = self.movement_counts(ctx, node, m);
                (q + near) / n.movements[m].in_lanes.len().max(1) as f64
            })
            .fold(0.0, f64::max);
        (longest * self.p.sat_headway_s * self.p.queue_green_scale).min(self.p.max_green_s)
    }

    /// Every green phase's (phase, demand to start it, demand to hold it, vehicles an extension
    /// would serve soon).
    fn phase_scores(&self, ctx: &Ctx<'_>, node: IntersectionId) -> Vec<(PhaseIdx, f64, f64, f64)> {
        let n = &ctx.net.intersections[node.index()];
        let mem = &self.nodes[node.index()];
        let p = &self.p;
        // A green movement whose queue has not moved for a while is blocked (its lane's first
        // vehicle wants a red movement, or the exit is jammed): holding green for it is useless.
        let state = ctx.states[node.index()];
        let stalled = |m: usize| {
            state.green().is_some_and(|g| n.serves(g, m))
                && state.green_elapsed(ctx.now_s) >= p.stall_s
                && ctx.now_s - mem.progress_s[m] >= p.stall_s
        };
        let per_movement: Vec<[f64; 3]> = (0..n.movements.len())
            .map(|m| {
                if mem.free[m] {
                    return [0.0; 3];
                }
                let [q, near, coming, far, f] = self.movement_counts(ctx, node, m);
                if p.stall_s > 0.0 && stalled(m) {
                    return [0.0; 3];
                }
                [
                    (q + p.near_weight * near + p.approach_weight * coming + p.far_weight * far)
                        * f,
                    (q + near + p.green_far_weight * (coming + far)) * f,
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
                    for (total, value) in sum.iter_mut().zip(per_movement[m]) {
                        *total += value;
                    }
                }
                (ph, sum[0], sum[1], sum[2])
            })
            .collect()
    }
}

impl Controller for Adaptive {
    fn begin_step(&mut self, ctx: &Ctx<'_>) {
        for (i, mem) in self.nodes.iter_mut().enumerate() {
            let n = &ctx.net.intersections[i];
            let green = ctx.states[i].green();
            for (m, since) in mem.waiting_since.iter_mut().enumerate() {
                let served = mem.free[m] || green.is_some_and(|g| n.serves(g, m));
                let lanes = &n.movements[m].in_lanes;
                let now = (ctx.obs.vehicles(lanes), ctx.obs.halted(lanes));
                let (before, halted) = (mem.last[m], now.1);
                if halted == 0 || now.0 < before.0 || now.1 < before.1 {
                    mem.progress_s[m] = ctx.now_s;
                }
                mem.last[m] = now;
                let waiting = now.0 > 0;
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
        if let SignalState::Green { since_s, .. } = state
            && self.nodes[node.index()].queue_green.0 != since_s
        {
            let green = self.queue_clearing_green_s(ctx, node, current);
            self.nodes[node.index()].queue_green = (since_s, green);
        }
        if elapsed + EPS < self.p.min_green_s {
            return None;
        }
        let cur = scores.iter().find(|s| s.0 == current).copied()?;
        let queue_green_s = self.nodes[node.index()].queue_green.1;
        let detail = format!(
            "green {elapsed:.0} s (queue-clearing {queue_green_s:.0} s); transition {:.0} s",
            self.timings.transition_s
        );
        let wish = match best_of(Some(current)) {
            Some((other, demand, _, _)) if demand > EPS => {
                if elapsed + EPS >= self.p.max_green_s {
                    Some((other, Rule::AdaptiveMaxGreen))
                } else if cur.3 <= EPS {
                    Some((other, Rule::AdaptiveGapOut))
                } else if elapsed + EPS < queue_green_s {
                    None
                } else if demand > cur.2 * self.p.switch_ratio + self.p.switch_margin {
                    Some((other, Rule::AdaptivePressure))
                } else {
                    None
                }
            }
            _ => None,
        };
        // The longest-red guarantee: whatever we do must leave a schedule meeting every deadline.
        let mem = &self.nodes[node.index()];
        let greens = &ctx.plans[node.index()].greens;
        let n = &ctx.net.intersections[node.index()];
        let demand = |p: PhaseIdx| scores.iter().find(|s| s.0 == p).map_or(0.0, |s| s.1);
        let t = self.timings;
        // Far from every deadline, any choice leaves a feasible schedule: every movement can
        // still be served in turn, after the one this choice starts, before its deadline.
        let oldest = mem.waiting_since.iter().filter_map(|s| *s).fold(f64::INFINITY, f64::min);
        let steps = mem.free.iter().filter(|f| !**f).count() as f64 + 1.0;
        let worst_start =
            ctx.now_s + STEP_S + t.transition_s + steps * (t.min_green_s + t.transition_s);
        if oldest + t.max_red_s >= worst_start {
            return wish.map(|(phase, rule)| explain(phase, rule, detail));
        }
        let (ok, _) = match wish {
            Some((phase, _)) => deadline::feasible(
                n,
                greens,
                &mem.waiting_since,
                demand,
                t,
                ctx.now_s + t.transition_s,
                Some(phase),
            ),
            None => deadline::feasible(
                n,
                greens,
                &mem.waiting_since,
                demand,
                t,
                ctx.now_s + STEP_S + t.transition_s,
                None,
            ),
        };
        if ok {
            return wish.map(|(phase, rule)| explain(phase, rule, detail));
        }
        let (_, first) = deadline::feasible(
            n,
            greens,
            &mem.waiting_since,
            demand,
            t,
            ctx.now_s + t.transition_s,
            None,
        );
        let phase = first.filter(|&p| p != current)?;
        let oldest = mem.waiting_since.iter().filter_map(|s| *s).fold(ctx.now_s, f64::min);
        let detail = format!("{detail}; a movement has waited {:.0} s", ctx.now_s - oldest);
        Some(explain(phase, Rule::AdaptiveMaxRed, detail))
    }
}
