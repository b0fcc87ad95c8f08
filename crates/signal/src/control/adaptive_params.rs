//! Tuning of the adaptive controller, with the defaults used everywhere (tuned on the shared
//! scenarios' baselines and checked on generated grids no run was tuned on).

use crate::SignalError;

/// Tuning of the adaptive controller.
#[derive(Clone, Debug, PartialEq)]
pub struct AdaptiveParams {
    /// Shortest transition between different greens, seconds (real signals need one; ≥ 5).
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
    /// Weight of a moving vehicle within stop-line detector range (a queued one counts 1).
    pub near_weight: f64,
    /// Weight of a moving vehicle within advance-detector range (beyond the stop-line zone).
    pub approach_weight: f64,
    /// Weight of a moving vehicle further upstream.
    pub far_weight: f64,
    /// Weight of a moving vehicle beyond the stop-line zone on a lane that has green (it is
    /// likely in the platoon the green is discharging).
    pub green_far_weight: f64,
    /// Extra demand (vehicles) another phase needs to end a green that still has demand.
    pub switch_margin: f64,
    /// Ratio by which another phase's demand must exceed the current green's to end it.
    pub switch_ratio: f64,
    /// Outgoing-lane occupancy (0–1) at which a movement counts as blocked.
    pub spill_occupancy: f64,
    /// Road length per vehicle in a jam, metres (capacity of a lane = length / spacing).
    pub jam_spacing_m: f64,
    /// Seconds of green without any vehicle leaving or starting from a movement's queue after
    /// which the green counts as useless for it (0: never).
    pub stall_s: f64,
    /// Saturation headway: seconds between vehicles leaving a queue on one lane.
    pub sat_headway_s: f64,
    /// Queue-clearing green: a green is not ended by another phase's demand before this factor
    /// times the time its longest per-lane queue at the start of the green takes to discharge
    /// (at most the maximum green; 0: off). At high load queues are long, so greens and the
    /// cycle grow with demand and fewer transitions are lost; gap-out still ends it early.
    pub queue_green_scale: f64,
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
            approach_weight: 0.5,
            far_weight: 0.2,
            green_far_weight: 1.0,
            switch_margin: 2.0,
            switch_ratio: 1.5,
            spill_occupancy: 1.0,
            jam_spacing_m: 7.5,
            stall_s: 6.0,
            sat_headway_s: 2.0,
            queue_green_scale: 1.2,
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
        if !(self.sat_headway_s > 0.0 && self.sat_headway_s.is_finite()) {
            return err("adaptive saturation headway must be a finite number > 0 s".into());
        }
        if !(self.queue_green_scale >= 0.0 && self.queue_green_scale.is_finite()) {
            return err("adaptive queue green scale must be a finite number >= 0".into());
        }
        if !(self.jam_spacing_m > 0.0 && self.spill_occupancy > 0.0) {
            return err("adaptive jam spacing and spill occupancy must be > 0".into());
        }
        Ok(())
    }
}
