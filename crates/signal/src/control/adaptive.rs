//! Citybrain's adaptive controller: actuated, demand-weighted, with a guaranteed longest red.
//!
//! Every step, for each intersection showing a green that has run its minimum:
//! 1. **Maximum green** — past `max_green_s` the green ends if any other phase has demand.
//! 2. **Gap-out** — the green ends when no vehicle is queued on, or close to the stop line of, its
//!    movements, and another phase has demand.
//! 3. **Pressure** — the green ends when the best other phase's demand exceeds the current one's
//!    by the switching ratio and margin (the lost time of a transition has to pay off).
//! 4. **Longest red** — before holding or switching, the earliest-deadline schedule of the
//!    movements waiting on red (see `deadline`) must still meet every deadline afterwards;
//!    otherwise the green goes to the schedule's first phase.
//!
//! A movement's demand counts queued vehicles, vehicles close to the stop line and (less) vehicles
//! further upstream, scaled down when its outgoing lanes are filling up (a green into a full road
//! is wasted). Movements green in every phase (right turns in the shared roadnets) are ignored.

use super::deadline::{self, Timings};
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
    /// Green assumed per phase when planning how to serve every waiting movement before its
    /// longest red (at least the minimum green; longer plans act earlier with fuller greens).
    pub plan_green_s: f64,
    /// Weight of a moving vehicle within detector range of the stop line (a queued one counts 1).
    pub near_weight: f64,
    /// Growth of a waiting movement's demand per second it has waited (0.02: a queue that has
    /// waited 50 s counts double).
    pub age_weight: f64,
    /// Weight of a moving vehicle within advance-detector range (beyond the stop-line zone).
    pub approach_weight: f64,
    /// Weight of a moving vehicle further upstream.
    pub far_weight: f64,
    /// Weight of a moving vehicle further upstream on a lane that has green (it is likely in
    /// the platoon the green is discharging).
    pub green_far_weight: f64,
    /// Extra demand (vehicles) another phase needs to pre-empt a green that still has demand.
    pub switch_margin: f64,
    /// Ratio by which another phase's demand must exceed the current green's.
    pub switch_ratio: f64,
    /// Weight of the mean queue on a movement's outgoing lanes, subtracted from its demand
    /// (as max-pressure does: serving into a queue moves the queue, not the traffic).
    pub out_weight: f64,
    /// Outgoing-lane occupancy (0–1) at which a movement counts as blocked.
    pub spill_occupancy: f64,
    /// Room (metres) before a downstream queue reaches its lane's entrance below which a
    /// movement counts as progressively blocked (0: judge by vehicle count instead).
    pub room_m: f64,
    /// A green given at a movement's longest red ends only by gap-out, maximum green or another
    /// longest red, not by the pressure rule.
    pub protect_max_red: bool,
    /// Saturation flow of one lane, vehicles per second; when positive, phases are compared by
    /// vehicles served per second (a phase to start pays the transition) instead of by demand.
    pub service_rate_vps: f64,
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
            plan_green_s: 10.0,
            near_weight: 1.0,
            age_weight: 0.0,
            approach_weight: 0.5,
            far_weight: 0.2,
            green_far_weight: 1.0,
            switch_margin: 2.0,
            switch_ratio: 1.5,
            out_weight: 0.0,
            spill_occupancy: 1.0,
            jam_spacing_m: 7.5,
            service_rate_vps: 0.0,
            protect_max_red: false,
            room_m: 0.0,
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
        if self.min_transition_s < 5.0 && std::env::var("CB_UNSAFE").is_err() {
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
    /// The current green was given to movements at their longest red: it is not cut short by
    /// the pressure rule (serving two of their vehicles and leaving would only repeat it).
    protected: bool,
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
                protected: false,
                free,
            });
        }
        Ok(Adaptive { p, timings, nodes })
    }

    /// A movement's (queued, moving near the stop line, moving further upstream) vehicles, and
    /// the factor by which its outgoing lanes' occupancy discounts them.
    fn movement_counts(&self, ctx: &Ctx<'_>, node: IntersectionId, m: usize) -> [f64; 6] {
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
        let out_queue = if mv.out_lanes.is_empty() {
            0.0
        } else {
            f64::from(ctx.obs.halted(&mv.out_lanes)) / mv.out_lanes.len() as f64
        };
        [queued, near, coming, far, self.outflow_factor(ctx, &mv.out_lanes), out_queue]
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
        let by_count = (1.0 - occupancy / self.p.spill_occupancy).clamp(0.0, 1.0);
        if self.p.room_m <= 0.0 {
            return by_count;
        }
        // Room left before the queue on each outgoing lane reaches its entrance.
        let by_queue = out
            .iter()
            .map(|&l| {
                let length = ctx.net.lanes[l.index()].length_m;
                let queue = f64::from(ctx.obs.lane(l).halted) * self.p.jam_spacing_m;
                ((length - queue) / self.p.room_m).clamp(0.0, 1.0)
            })
            .sum::<f64>()
            / out.len() as f64;
        by_queue
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
                let [q, near, coming, far, f, out] = self.movement_counts(ctx, node, m);
                let out = p.out_weight * out;
                // Vehicles that have waited long count more: demand grows with waiting time.
                let age = mem.waiting_since[m].map_or(0.0, |s| ctx.now_s - s);
                let aged = (q + p.near_weight * near) * (1.0 + p.age_weight * age);
                [
                    (aged + p.approach_weight * coming + p.far_weight * far) * f - out,
                    (q + near + p.green_far_weight * (coming + far)) * f - out,
                    (q + near) * f,
                ]
            })
            .collect();
        let rate = p.service_rate_vps;
        let transition = self.timings.transition_s;
        ctx.plans[node.index()]
            .greens
            .iter()
            .map(|&ph| {
                let mut sum = [0.0; 3];
                let (mut longest, mut lanes) = (0.0f64, 0.0);
                for &m in &n.phases[ph].movements {
                    for k in 0..3 {
                        sum[k] += per_movement[m][k];
                    }
                    longest = longest.max(per_movement[m][0]);
                    lanes += (per_movement[m][1] / 2.0).clamp(0.0, 1.0);
                }
                if rate > 0.0 {
                    // Vehicles served per second: starting this phase (its queues cleared in
                    // parallel after a transition), or keeping it (lanes still discharging).
                    let start = sum[0] / (transition + longest / rate);
                    (ph, start, rate * lanes, sum[2])
                } else {
                    (ph, sum[0], sum[1], sum[2])
                }
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
        let cur = scores.iter().find(|s| s.0 == current).copied()?;
        let detail = format!("green {elapsed:.0} s; transition {:.0} s", self.timings.transition_s);
        let wish = match best_of(Some(current)) {
            Some((other, demand, _, _)) if demand > EPS => {
                if elapsed + EPS >= self.p.max_green_s {
                    Some((other, Rule::AdaptiveMaxGreen))
                } else if cur.3 <= EPS {
                    Some((other, Rule::AdaptiveGapOut))
                } else if !(self.p.protect_max_red && self.nodes[node.index()].protected)
                    && demand > cur.2 * self.p.switch_ratio + self.p.switch_margin
                {
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
            if wish.is_some() {
                self.nodes[node.index()].protected = false;
            }
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
        self.nodes[node.index()].protected = true;
        Some(explain(phase, Rule::AdaptiveMaxRed, detail))
    }
}
