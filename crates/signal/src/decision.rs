//! What the brain outputs: the signal each intersection shows, and the record of every decision.

use serde::Serialize;

use crate::network::{IntersectionId, PhaseIdx};

/// What one intersection shows until the next step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signal {
    /// A green phase.
    Green {
        /// The phase.
        phase: PhaseIdx,
    },
    /// The transition (right turns only, everything else red) on the way to `to`.
    Transition {
        /// The green that will follow.
        to: PhaseIdx,
    },
}

/// The rule that produced a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Fixed-time: the next phase of the cycle.
    FixedCycle,
    /// Max-pressure: the phase with the largest pressure (ties to the lowest index).
    MaxPressure,
    /// SOTL: few vehicles on green, many waiting on red; switch to the next phase.
    SotlSwitch,
    /// Adaptive: the first green of the run.
    AdaptiveStart,
    /// Adaptive: another phase's demand outweighs keeping the current green.
    AdaptivePressure,
    /// Adaptive: the current green has no more vehicles to serve.
    AdaptiveGapOut,
    /// Adaptive: the current green reached its maximum.
    AdaptiveMaxGreen,
    /// Adaptive: a movement reached the longest red allowed and must be served.
    AdaptiveMaxRed,
    /// Emergency preemption: green for an emergency vehicle's movement.
    Preempt,
    /// Emergency preemption ended: back to the normal controller.
    PreemptEnd,
}

impl Rule {
    /// The rule's name as written in CSV and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::FixedCycle => "fixed_cycle",
            Rule::MaxPressure => "max_pressure",
            Rule::SotlSwitch => "sotl_switch",
            Rule::AdaptiveStart => "adaptive_start",
            Rule::AdaptivePressure => "adaptive_pressure",
            Rule::AdaptiveGapOut => "adaptive_gap_out",
            Rule::AdaptiveMaxGreen => "adaptive_max_green",
            Rule::AdaptiveMaxRed => "adaptive_max_red",
            Rule::Preempt => "preempt",
            Rule::PreemptEnd => "preempt_end",
        }
    }
}

/// A controller's choice at a decision point, with its inputs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Choice {
    /// The green to show (may be the current one: a decision to hold).
    pub phase: PhaseIdx,
    /// Why.
    pub rule: Rule,
    /// The score of each green phase the rule compared (pressure, demand…), by phase index.
    pub scores: Vec<(PhaseIdx, f64)>,
    /// Extra context in words (e.g. the emergency vehicle's id).
    pub detail: String,
}

impl Choice {
    /// A choice with no scores and no detail.
    pub fn bare(phase: PhaseIdx, rule: Rule) -> Self {
        Choice { phase, rule, scores: Vec::new(), detail: String::new() }
    }
}

/// One recorded decision: an explained choice at one intersection at one time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    /// When, in seconds.
    pub time_s: f64,
    /// Where.
    pub intersection: IntersectionId,
    /// The green shown before the decision, if any.
    pub previous: Option<PhaseIdx>,
    /// The choice and its inputs.
    #[serde(flatten)]
    pub choice: Choice,
}

impl Decision {
    /// The CSV header matching [`Decision::csv_row`].
    pub const CSV_HEADER: &'static str =
        "time_s,intersection,previous_phase,phase,rule,scores,detail";

    /// One CSV line (without newline); `name` is the intersection's external id.
    pub fn csv_row(&self, name: &str) -> String {
        let scores: Vec<String> =
            self.choice.scores.iter().map(|(p, s)| format!("{p}:{s:.2}")).collect();
        let previous = self.previous.map(|p| p.to_string()).unwrap_or_default();
        format!(
            "{},{},{},{},{},{},{}",
            self.time_s,
            csv_field(name),
            previous,
            self.choice.phase,
            self.choice.rule.as_str(),
            scores.join(" "),
            csv_field(&self.choice.detail)
        )
    }
}

/// Quotes a CSV field when it needs it.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
