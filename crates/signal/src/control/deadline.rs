//! The longest-red guarantee of the adaptive controller, as an earliest-deadline schedule.
//!
//! Every movement with vehicles waiting on red has a deadline: the time it started waiting plus
//! the maximum red. The schedule serves the waiting movements greedily in deadline order — the
//! phase serving the earliest one (and as many other waiting ones as possible) first, each green
//! lasting the minimum green, each change costing a transition. A controller that checks, before
//! holding a green for one more step or switching elsewhere, that this schedule still meets every
//! deadline afterwards — and otherwise follows the schedule's first phase — never lets a movement
//! wait past its deadline, as long as the maximum red covers serving every movement once
//! ([`min_max_red_s`]). Far from the deadlines the schedule is slack and the controller is free.

use crate::network::{Intersection, PhaseIdx};

/// The timings the schedule needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timings {
    /// Green assumed per phase of the schedule (at least the minimum green).
    pub(crate) min_green_s: f64,
    pub(crate) transition_s: f64,
    pub(crate) max_red_s: f64,
}

/// The shortest maximum red for which the guarantee holds at an intersection: every movement served once,
/// one after the other, plus one transition and one step of slack.
pub(crate) fn min_max_red_s(free: &[bool], t: Timings, step_s: f64) -> f64 {
    let movements = free.iter().filter(|f| !**f).count() as f64;
    movements * (t.min_green_s + t.transition_s) + t.transition_s + step_s
}

/// Whether the greedy schedule meets every deadline when its greens start at `start_s`, after
/// `first` (if given) has been served first. Returns the schedule's first phase.
///
/// `waiting[m]` is when movement `m` started waiting (None: not waiting); `demand[p]` breaks ties
/// between phases.
pub(crate) fn feasible(
    node: &Intersection,
    greens: &[PhaseIdx],
    waiting: &[Option<f64>],
    demand: impl Fn(PhaseIdx) -> f64,
    t: Timings,
    mut start_s: f64,
    first: Option<PhaseIdx>,
) -> (bool, Option<PhaseIdx>) {
    let mut order: Vec<(f64, usize)> =
        waiting.iter().enumerate().filter_map(|(m, s)| s.map(|s| (s, m))).collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut served = vec![false; waiting.len()];
    let mut first_phase = first;
    let serve = |phase: PhaseIdx, served: &mut Vec<bool>| {
        for &m in &node.phases[phase].movements {
            if let Some(s) = served.get_mut(m) {
                *s = true;
            }
        }
    };
    if let Some(p) = first {
        let late = node.phases[p]
            .movements
            .iter()
            .any(|&m| waiting.get(m).copied().flatten().is_some_and(|s| s + t.max_red_s < start_s));
        if late {
            return (false, first_phase);
        }
        serve(p, &mut served);
        start_s += t.min_green_s + t.transition_s;
    }
    for &(since, m) in &order {
        if served[m] {
            continue;
        }
        // Prefer the phase serving the oldest waiting movements: comparing their waiting
        // times oldest first keeps the plan for older movements unchanged when newer ones
        // start waiting, which is what makes the guarantee hold step after step.
        let ages = |p: PhaseIdx| {
            let mut v: Vec<f64> = node.phases[p]
                .movements
                .iter()
                .filter(|&&k| !served[k])
                .filter_map(|&k| waiting.get(k).copied().flatten())
                .collect();
            v.sort_by(f64::total_cmp);
            v
        };
        let older = |a: &[f64], b: &[f64]| {
            for (x, y) in a.iter().zip(b) {
                match y.total_cmp(x) {
                    std::cmp::Ordering::Equal => {}
                    other => return other,
                }
            }
            a.len().cmp(&b.len())
        };
        let phase = greens.iter().copied().filter(|&p| node.serves(p, m)).max_by(|&a, &b| {
            older(&ages(a), &ages(b)).then(demand(a).total_cmp(&demand(b))).then(b.cmp(&a))
        });
        let Some(phase) = phase else { continue };
        // The first phase is known even when a deadline is already missed (after emergency
        // preemption): the controller then serves the oldest movement first.
        first_phase.get_or_insert(phase);
        if since + t.max_red_s < start_s {
            return (false, first_phase);
        }
        serve(phase, &mut served);
        start_s += t.min_green_s + t.transition_s;
    }
    (true, first_phase)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{Intersection, Movement, Phase, RoadId, Turn};

    /// Two movements, each served by its own phase.
    fn node() -> Intersection {
        let movement = |to| Movement {
            from_road: RoadId(0),
            to_road: RoadId(to),
            turn: Turn::Straight,
            in_lanes: Vec::new(),
            out_lanes: Vec::new(),
        };
        Intersection {
            name: "n".into(),
            movements: vec![movement(1), movement(2)],
            phases: vec![Phase { movements: vec![0] }, Phase { movements: vec![1] }],
            transition: None,
        }
    }

    const T: Timings = Timings { min_green_s: 10.0, transition_s: 5.0, max_red_s: 60.0 };

    #[test]
    fn a_slack_schedule_is_feasible_and_starts_with_the_oldest() {
        let (ok, first) =
            feasible(&node(), &[0, 1], &[Some(5.0), Some(0.0)], |_| 0.0, T, 10.0, None);
        assert!(ok);
        assert_eq!(first, Some(1));
    }

    #[test]
    fn a_missed_deadline_still_names_the_phase_to_serve_first() {
        // Movement 1 has waited 100 s, past its 60 s deadline (as after a long preemption).
        let (ok, first) = feasible(&node(), &[0, 1], &[None, Some(0.0)], |_| 0.0, T, 100.0, None);
        assert!(!ok);
        assert_eq!(first, Some(1), "the controller must still know what to serve");
    }

    #[test]
    fn serving_another_phase_first_can_break_a_tight_deadline() {
        let waiting = [None, Some(0.0)];
        let (ok, _) = feasible(&node(), &[0, 1], &waiting, |_| 0.0, T, 50.0, Some(0));
        assert!(!ok, "movement 1 would start at 65 s, past 60 s");
        let (ok, _) = feasible(&node(), &[0, 1], &waiting, |_| 0.0, T, 50.0, None);
        assert!(ok);
    }
}
