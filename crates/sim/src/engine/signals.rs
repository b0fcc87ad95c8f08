//! Traffic-light state and control.
//!
//! The *plan* (phases and their durations) is part of the network; the *state* here is which
//! phase each light shows and, for lights under native control, how long it still shows it.
//! Native control is CityFlow's `rlTrafficLight: false`: every light starts in phase 0 and
//! cycles through its phases with their own durations, advancing at the end of each step.
//! Under external control a light keeps its phase until [`Engine::set_phase`] changes it; a
//! change applies to the next step, as when CityFlow's `set_tl_phase` is called between steps.

use super::Engine;
use crate::error::ControlError;
use crate::ids::IntersectionId;
use crate::network::RoadNetwork;

/// Who decides a light's phases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ControlMode {
    /// Each light cycles its own phases from phase 0 (CityFlow `rlTrafficLight: false`).
    #[default]
    Native,
    /// Phases change only through [`Engine::set_phase`] (CityFlow `rlTrafficLight: true`).
    External,
}

/// The state of one light.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct SignalState {
    pub(crate) phase: usize,
    pub(crate) remaining_s: f64,
    pub(crate) mode: ControlMode,
}

/// Initial light states and the green flags of every road link.
pub(crate) fn initial(
    net: &RoadNetwork,
    mode: ControlMode,
) -> (Vec<Option<SignalState>>, Vec<bool>) {
    let mut green = vec![false; net.road_links().len()];
    let mut states = Vec::with_capacity(net.intersections().len());
    for inter in net.intersections() {
        if inter.is_signalised() {
            states.push(Some(SignalState {
                phase: 0,
                remaining_s: inter.phases[0].duration_s,
                mode,
            }));
            for (i, rl) in inter.road_links.iter().enumerate() {
                green[rl.index()] = inter.phases[0].green[i];
            }
        } else {
            // Unsignalised: every movement may go; conflicts are settled at the crosses.
            states.push(None);
            for rl in &inter.road_links {
                green[rl.index()] = true;
            }
        }
    }
    (states, green)
}

impl Engine {
    /// Advances native lights by one step.
    pub(super) fn tick_signals(&mut self) {
        let dt = self.cfg.interval_s;
        for i in 0..self.signals.len() {
            let Some(s) = &mut self.signals[i] else { continue };
            if s.mode != ControlMode::Native {
                continue;
            }
            s.remaining_s -= dt;
            let phases = &self.net.intersections()[i].phases;
            let before = s.phase;
            // Whole cycles shorter than a step are skipped arithmetically (tiny durations
            // would otherwise spin here for a very long time).
            let cycle: f64 = phases.iter().map(|p| p.duration_s).sum();
            if s.remaining_s < -cycle {
                s.remaining_s %= cycle;
            }
            while s.remaining_s <= 0.0 {
                s.phase = (s.phase + 1) % phases.len();
                s.remaining_s += phases[s.phase].duration_s;
            }
            if s.phase != before {
                self.show_phase(i);
            }
        }
    }

    fn show_phase(&mut self, i: usize) {
        let Some(s) = self.signals[i] else { return };
        let inter = &self.net.intersections()[i];
        for (k, rl) in inter.road_links.iter().enumerate() {
            self.green[rl.index()] = inter.phases[s.phase].green[k];
        }
    }

    /// Shows `phase` at a light from the next step on. Under native control the light then
    /// continues its cycle from that phase, with the phase's full duration.
    pub fn set_phase(
        &mut self,
        intersection: IntersectionId,
        phase: usize,
    ) -> Result<(), ControlError> {
        let i = intersection.index();
        let inter = self
            .net
            .intersections()
            .get(i)
            .ok_or(ControlError::UnknownIntersection(intersection.0))?;
        let Some(s) = &mut self.signals[i] else {
            return Err(ControlError::NoSignal(inter.id.clone()));
        };
        if phase >= inter.phases.len() {
            return Err(ControlError::NoSuchPhase {
                intersection: inter.id.clone(),
                phases: inter.phases.len(),
                requested: phase,
            });
        }
        s.phase = phase;
        s.remaining_s = inter.phases[phase].duration_s;
        self.show_phase(i);
        Ok(())
    }

    /// The phase a light shows (`None` for virtual and unsignalised intersections).
    pub fn phase(&self, intersection: IntersectionId) -> Option<usize> {
        self.signals.get(intersection.index()).copied().flatten().map(|s| s.phase)
    }

    /// Puts every light under `mode`.
    pub fn set_control_mode(&mut self, mode: ControlMode) {
        for s in self.signals.iter_mut().flatten() {
            s.mode = mode;
        }
    }

    /// Puts one light under `mode` (e.g. hand one intersection to a preemption controller).
    pub fn set_intersection_control(
        &mut self,
        intersection: IntersectionId,
        mode: ControlMode,
    ) -> Result<(), ControlError> {
        match self.signals.get_mut(intersection.index()) {
            None => Err(ControlError::UnknownIntersection(intersection.0)),
            Some(None) => {
                Err(ControlError::NoSignal(self.net.intersection(intersection).id.clone()))
            }
            Some(Some(s)) => {
                s.mode = mode;
                Ok(())
            }
        }
    }

    /// Is the road link (movement) green in this step?
    pub fn road_link_green(&self, road_link: crate::ids::RoadLinkId) -> bool {
        self.green.get(road_link.index()).copied().unwrap_or(false)
    }
}
