//! The signal state of one intersection: which green is running, or which transition.
//!
//! States and transitions:
//! - `Start` (before the first decision; the twin shows its initial phase) → `Green` at once.
//! - `Green(a)` → `Green(a)` (hold) | `Transition(a→b)` when `b ≠ a` and the transition time is
//!   positive | `Green(b)` directly when it is zero (the "no yellow" baselines).
//! - `Transition(a→b)` → `Green(b)` once the transition time has passed; nothing else can
//!   interrupt a transition, so a transition always separates two different greens.

use serde::Serialize;

use crate::decision::Signal;
use crate::network::PhaseIdx;

/// Tolerance for comparing times given as floats (steps are whole or tenth seconds).
pub(crate) const EPS: f64 = 1e-6;

/// Where one intersection's signal is in its state machine.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SignalState {
    /// No decision yet.
    Start,
    /// A green phase running since `since_s`.
    Green {
        /// The phase.
        phase: PhaseIdx,
        /// When it started.
        since_s: f64,
    },
    /// The transition from `from` (if any) to `to`, ending at `until_s`.
    Transition {
        /// The green before.
        from: Option<PhaseIdx>,
        /// The green after.
        to: PhaseIdx,
        /// When the transition started.
        since_s: f64,
        /// When `to` starts.
        until_s: f64,
    },
}

impl SignalState {
    /// Ends a transition whose time is up.
    pub fn advance(&mut self, now_s: f64) {
        if let SignalState::Transition { to, until_s, .. } = *self
            && now_s + EPS >= until_s
        {
            *self = SignalState::Green { phase: to, since_s: until_s };
        }
    }

    /// Asks for green `phase`; returns whether the shown signal changed.
    ///
    /// Ignored during a transition (it finishes first). Different greens are always separated by
    /// `transition_s` seconds of transition when it is positive.
    pub fn request(&mut self, now_s: f64, phase: PhaseIdx, transition_s: f64) -> bool {
        match *self {
            SignalState::Start => {
                *self = SignalState::Green { phase, since_s: now_s };
                true
            }
            SignalState::Green { phase: cur, .. } if cur == phase => false,
            SignalState::Green { phase: cur, .. } => {
                *self = if transition_s > EPS {
                    SignalState::Transition {
                        from: Some(cur),
                        to: phase,
                        since_s: now_s,
                        until_s: now_s + transition_s,
                    }
                } else {
                    SignalState::Green { phase, since_s: now_s }
                };
                true
            }
            SignalState::Transition { .. } => false,
        }
    }

    /// Like [`SignalState::request`], but a running transition is redirected to `phase` instead
    /// of finishing first (used by preemption; the transition still lasts its full time).
    pub fn redirect(&mut self, now_s: f64, phase: PhaseIdx, transition_s: f64) -> bool {
        match self {
            SignalState::Transition { to, .. } if *to != phase => {
                *to = phase;
                true
            }
            _ => self.request(now_s, phase, transition_s),
        }
    }

    /// The current green, if a green is showing.
    pub fn green(&self) -> Option<PhaseIdx> {
        match *self {
            SignalState::Green { phase, .. } => Some(phase),
            _ => None,
        }
    }

    /// How long the current green has run (0 when not green).
    pub fn green_elapsed(&self, now_s: f64) -> f64 {
        match *self {
            SignalState::Green { since_s, .. } => now_s - since_s,
            _ => 0.0,
        }
    }

    /// The phase that is or will be green next: the current green or the transition's target.
    pub fn target(&self) -> Option<PhaseIdx> {
        match *self {
            SignalState::Start => None,
            SignalState::Green { phase, .. } => Some(phase),
            SignalState::Transition { to, .. } => Some(to),
        }
    }

    /// What the intersection shows; `None` before the first decision.
    pub fn signal(&self) -> Option<Signal> {
        match *self {
            SignalState::Start => None,
            SignalState::Green { phase, .. } => Some(Signal::Green { phase }),
            SignalState::Transition { to, .. } => Some(Signal::Transition { to }),
        }
    }
}
