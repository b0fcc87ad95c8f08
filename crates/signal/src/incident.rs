//! Incident detection from lane observations.
//!
//! A lane is suspected blocked when it shows one of two signatures a normal lane does not:
//! - **no discharge on green** — vehicles are halted at its stop line, its movement has green (or
//!   the lane has no signal at all), the roads it feeds have room, and for `stuck_s` seconds of
//!   such green not one vehicle left the lane nor did its queue shrink;
//! - **stopped vehicle** — a vehicle stands still on the lane with free road ahead of it (it is
//!   not in a queue at a stop line nor behind another vehicle) for `stopped_s` seconds: a
//!   broken-down or crashed vehicle, or the head of a queue behind one.
//!
//! Queues at a red light, behind a full exit or waiting to enter stand at a stop line or close
//! behind another vehicle, and a discharging queue moves; neither matches.
//!
//! One alert per lane and incident: the lane is re-armed once neither signature has been seen
//! for `clear_s` seconds (or the lane has no halted vehicle), so the incident counts as gone.

use serde::Serialize;

use crate::alert::{Alert, AlertKind, Evidence, Location, Severity};
use crate::decision::Signal;
use crate::network::{IntersectionId, LaneId, Network};
use crate::observe::{LaneObs, Observation};

/// Tuning of the incident detector.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IncidentParams {
    /// Seconds of usable green without any discharge before an alert.
    pub stuck_s: f64,
    /// The same for lanes whose movements are green in every phase (right turns): they yield
    /// to other traffic, so a pause in their discharge means less.
    pub permissive_stuck_s: f64,
    /// Seconds a vehicle must stand still with free road ahead before an alert.
    pub stopped_s: f64,
    /// Seconds without either signature after which an alerted lane counts as clear.
    pub clear_s: f64,
    /// Occupancy (0–1) of a downstream lane at which it counts as full.
    pub full_occupancy: f64,
    /// Road length per vehicle in a jam, metres.
    pub jam_spacing_m: f64,
    /// Halted vehicles from which an incident is of high severity.
    pub high_halted: u32,
}

impl Default for IncidentParams {
    fn default() -> Self {
        IncidentParams {
            stuck_s: 15.0,
            permissive_stuck_s: 45.0,
            stopped_s: 20.0,
            clear_s: 10.0,
            full_occupancy: 0.7,
            jam_spacing_m: 7.5,
            high_halted: 8,
        }
    }
}

#[derive(Clone, Debug, Default)]
struct LaneWatch {
    prev: LaneObs,
    stuck_s: f64,
    stopped_s: f64,
    clear_s: f64,
    alerted: bool,
}

/// Watches every lane for blockages.
#[derive(Clone, Debug)]
pub struct IncidentDetector {
    params: IncidentParams,
    /// For each lane, the (intersection, movement) pairs it feeds.
    feeds: Vec<Vec<(IntersectionId, usize)>>,
    /// Lanes whose every movement is green in every green phase (or that feed no signal).
    permissive: Vec<bool>,
    lanes: Vec<LaneWatch>,
    last_s: Option<f64>,
}

impl IncidentDetector {
    /// A detector for `net`'s lanes.
    pub fn new(net: &Network, params: IncidentParams) -> Self {
        let mut feeds = vec![Vec::new(); net.lanes.len()];
        for (n, node) in net.intersections.iter().enumerate() {
            for (m, mv) in node.movements.iter().enumerate() {
                for l in &mv.in_lanes {
                    feeds[l.index()].push((IntersectionId(n as u32), m));
                }
            }
        }
        let permissive = feeds
            .iter()
            .map(|f| {
                f.iter().all(|&(n, m): &(IntersectionId, usize)| {
                    let node = &net.intersections[n.index()];
                    node.green_phases().all(|p| node.serves(p, m))
                })
            })
            .collect();
        IncidentDetector {
            params,
            lanes: vec![LaneWatch::default(); net.lanes.len()],
            feeds,
            permissive,
            last_s: None,
        }
    }

    /// Folds in one observation, given what each intersection shows; returns new alerts.
    pub fn update(
        &mut self,
        net: &Network,
        obs: &Observation,
        signals: &[Option<Signal>],
    ) -> Vec<Alert> {
        let dt = self.last_s.map_or(1.0, |t| (obs.time_s - t).max(0.0));
        self.last_s = Some(obs.time_s);
        let mut alerts = Vec::new();
        for i in 0..net.lanes.len() {
            let lane = LaneId(i as u32);
            let o = obs.lane(lane);
            let prev = self.lanes[i].prev;
            if o.halted == 0 {
                self.lanes[i] = LaneWatch { prev: o, ..LaneWatch::default() };
                continue;
            }
            let progress = o.vehicles < prev.vehicles || o.halted < prev.halted;
            // Only a queue at the stop line that did not move needs the (costlier) signal check.
            let stalled =
                !progress && o.near_stop_line > 0 && self.usable_green(net, obs, signals, lane);
            let w = &mut self.lanes[i];
            w.prev = o;
            if progress {
                w.stuck_s = 0.0;
            } else if stalled {
                w.stuck_s += dt;
            }
            // Counted from the first reading that shows a vehicle standing apart.
            w.stopped_s = match (o.stopped_apart > 0, prev.stopped_apart > 0) {
                (true, true) => w.stopped_s + dt,
                _ => 0.0,
            };
            let stuck_limit = if self.permissive[i] {
                self.params.permissive_stuck_s
            } else {
                self.params.stuck_s
            };
            if w.alerted {
                let seen = w.stopped_s > 0.0 || w.stuck_s > 0.0;
                w.clear_s = if seen { 0.0 } else { w.clear_s + dt };
                if w.clear_s >= self.params.clear_s {
                    *w = LaneWatch { prev: o, ..LaneWatch::default() };
                }
                continue;
            }
            let rule = if w.stuck_s >= stuck_limit {
                Some(("no_discharge_on_green", w.stuck_s))
            } else if w.stopped_s >= self.params.stopped_s {
                Some(("stopped_vehicle", w.stopped_s))
            } else {
                None
            };
            if let Some((rule, duration_s)) = rule {
                w.alerted = true;
                alerts.push(self.alert(net, obs.time_s, lane, o, rule, duration_s));
            }
        }
        alerts
    }

    /// Whether the lane may discharge now: a movement it feeds has green and room downstream,
    /// or it feeds no signal at all.
    fn usable_green(
        &self,
        net: &Network,
        obs: &Observation,
        signals: &[Option<Signal>],
        lane: LaneId,
    ) -> bool {
        let feeds = &self.feeds[lane.index()];
        if feeds.is_empty() {
            return net.roads[net.road_of(lane).index()].to.is_none();
        }
        feeds.iter().any(|&(node, m)| {
            let n = &net.intersections[node.index()];
            let shown = match signals.get(node.index()).copied().flatten() {
                Some(Signal::Green { phase }) => Some(phase),
                Some(Signal::Transition { .. }) => n.transition,
                None => None,
            };
            let green = shown.is_some_and(|p| n.serves(p, m));
            let room = n.movements[m].out_lanes.iter().all(|&out| {
                let cap = net.lanes[out.index()].length_m / self.params.jam_spacing_m;
                f64::from(obs.lane(out).vehicles) < self.params.full_occupancy * cap
            });
            green && room
        })
    }

    fn alert(
        &self,
        net: &Network,
        now_s: f64,
        lane: LaneId,
        o: LaneObs,
        rule: &'static str,
        duration_s: f64,
    ) -> Alert {
        let road = &net.roads[net.road_of(lane).index()];
        let index = road.lanes.iter().position(|&l| l == lane).unwrap_or(0) as u32;
        let intersection = road.to.map(|n| net.intersections[n.index()].name.clone());
        let description = match (rule, &intersection) {
            ("stopped_vehicle", Some(n)) => format!(
                "lane {index} of {}, vehicle stopped {:.0} m before the stop line toward {n}",
                road.name, o.stopped_apart_m
            ),
            ("stopped_vehicle", None) => format!(
                "lane {index} of {}, vehicle stopped {:.0} m before its end",
                road.name, o.stopped_apart_m
            ),
            (_, Some(n)) => format!("lane {index} of {}, at the stop line toward {n}", road.name),
            (_, None) => format!("lane {index} of {}, at its end", road.name),
        };
        let severity =
            if o.halted >= self.params.high_halted { Severity::High } else { Severity::Medium };
        let free = net.lanes[lane.index()].speed_limit_mps;
        Alert {
            time: now_s,
            kind: AlertKind::Incident,
            severity,
            road: road.name.clone(),
            location: Location {
                road: road.name.clone(),
                lane: Some(index),
                intersection,
                description,
            },
            evidence: Evidence {
                rule,
                vehicles: o.vehicles,
                halted: o.halted,
                mean_speed_mps: o.mean_speed_mps,
                duration_s,
                congestion_index: (free / o.mean_speed_mps.max(0.2)).clamp(1.0, 50.0),
            },
        }
    }
}
