//! Human sentences for the brain's decisions and alerts (the cockpit shows them as they are).

use citybrain_signal::{Alert, AlertKind, Decision, Rule};

/// One sentence that says why `d` was taken, from its rule, scores and detail.
pub fn decision_reason(d: &Decision) -> String {
    let c = &d.choice;
    let phase = c.phase;
    let kept = d.previous == Some(phase);
    let own = c.scores.iter().find(|(p, _)| *p == phase).map(|(_, s)| *s);
    let best_other =
        c.scores.iter().filter(|(p, _)| *p != phase).max_by(|a, b| a.1.total_cmp(&b.1)).copied();
    let versus = match (own, best_other) {
        (Some(s), Some((p, o))) => format!(" ({s:.1} vs {o:.1} for phase {p})"),
        (Some(s), None) => format!(" ({s:.1})"),
        _ => String::new(),
    };
    let from = d.previous.map_or(String::new(), |p| format!(" after phase {p}"));
    let mut sentence = match c.rule {
        Rule::FixedCycle => format!("phase {phase} is next in the fixed cycle{from}"),
        Rule::MaxPressure if kept => {
            format!("phase {phase} still has the highest pressure{versus}")
        }
        Rule::MaxPressure => format!("phase {phase} has the highest pressure{versus}"),
        Rule::SotlSwitch => format!(
            "few vehicles left on green and many waiting on red: switched to phase {phase}{from}"
        ),
        Rule::AdaptiveStart => format!("first green of the run: phase {phase}{versus}"),
        Rule::AdaptivePressure if kept => {
            format!("kept phase {phase}: its demand still outweighs the others{versus}")
        }
        Rule::AdaptivePressure => {
            format!("phase {phase}'s demand outweighs keeping the current green{versus}")
        }
        Rule::AdaptiveGapOut => {
            format!(
                "the green{from} had no more vehicles to serve: switched to phase {phase}{versus}"
            )
        }
        Rule::AdaptiveMaxGreen => {
            format!("the green{from} reached its maximum length: switched to phase {phase}{versus}")
        }
        Rule::AdaptiveMaxRed => {
            format!("a movement of phase {phase} waited the longest red allowed and must be served")
        }
        Rule::Preempt => format!("green for an emergency vehicle: phase {phase}"),
        Rule::PreemptEnd => format!("emergency preemption ended: back to phase {phase}"),
    };
    if !c.detail.is_empty() {
        sentence.push_str("; ");
        sentence.push_str(&c.detail);
    }
    sentence
}

/// One sentence describing `a`.
pub fn alert_message(a: &Alert) -> String {
    let e = &a.evidence;
    let place = if a.location.description.is_empty() {
        format!("road {}", a.road)
    } else {
        format!("road {} ({})", a.road, a.location.description)
    };
    match a.kind {
        AlertKind::Incident => format!(
            "possible incident on {place}: {} vehicles, {} halted for {:.0} s without discharging",
            e.vehicles, e.halted, e.duration_s
        ),
        AlertKind::Congestion => format!(
            "congestion on {place}: travel time {:.1}× free flow, {} vehicles, {} halted",
            e.congestion_index, e.vehicles, e.halted
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use citybrain_signal::{Choice, IntersectionId};

    fn decision(
        previous: Option<usize>,
        phase: usize,
        rule: Rule,
        scores: &[(usize, f64)],
    ) -> Decision {
        Decision {
            time_s: 100.0,
            intersection: IntersectionId(0),
            previous,
            choice: Choice { phase, rule, scores: scores.to_vec(), detail: String::new() },
        }
    }

    #[test]
    fn reasons_name_the_phase_and_compare_the_scores() {
        let d = decision(Some(1), 3, Rule::MaxPressure, &[(1, 8.5), (3, 12.0)]);
        assert_eq!(
            decision_reason(&d),
            "phase 3 has the highest pressure (12.0 vs 8.5 for phase 1)"
        );
        let d = decision(Some(2), 2, Rule::AdaptivePressure, &[(2, 9.0), (4, 3.0)]);
        assert_eq!(
            decision_reason(&d),
            "kept phase 2: its demand still outweighs the others (9.0 vs 3.0 for phase 4)"
        );
        let mut d = decision(Some(2), 4, Rule::Preempt, &[]);
        d.choice.detail = "emergency vehicle 7 approaching".into();
        assert_eq!(
            decision_reason(&d),
            "green for an emergency vehicle: phase 4; emergency vehicle 7 approaching"
        );
    }
}
