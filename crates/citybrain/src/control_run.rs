//! One simulated run under a controller: load, configure, step, summarise.
//!
//! Shared by `citybrain sim --control …` and `citybrain bench control`.

use std::time::Instant;

use anyhow::{Context, anyhow};
use citybrain_signal as signal;
use citybrain_sim as sim;
use serde::Serialize;
use signal::{Alert, BrainConfig, ControlConfig, ControllerKind, PreemptParams};
use sim::{Engine, EngineConfig, Scenario};

use crate::UsageError;
use citybrain_live::{BrainDriver, add_transition_phases};

/// A lane blocked for a while: `ROAD:LANE:START:DURATION[:POSITION]` on the command line.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct IncidentSpec {
    pub(crate) road: String,
    pub(crate) lane: usize,
    pub(crate) start_s: f64,
    pub(crate) duration_s: f64,
    /// Metres from the lane's start; the lane's middle when absent.
    pub(crate) position_m: Option<f64>,
}

impl std::str::FromStr for IncidentSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(':').collect();
        let expected = "expected ROAD:LANE:START:DURATION[:POSITION_M], e.g. road_1_1_0:1:600:300";
        if !(4..=5).contains(&parts.len()) || parts[0].is_empty() {
            return Err(format!("bad incident `{s}`: {expected}"));
        }
        let number = |i: usize, what: &str| -> Result<f64, String> {
            let v: f64 = parts[i].parse().map_err(|_| {
                format!("bad incident `{s}`: {what} `{}` is not a number", parts[i])
            })?;
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(format!("bad incident `{s}`: {what} must be >= 0"))
            }
        };
        let lane = parts[1]
            .parse()
            .map_err(|_| format!("bad incident `{s}`: lane `{}` is not a lane index", parts[1]))?;
        let duration_s = number(3, "duration")?;
        if duration_s <= 0.0 {
            return Err(format!("bad incident `{s}`: duration must be > 0"));
        }
        Ok(IncidentSpec {
            road: parts[0].to_string(),
            lane,
            start_s: number(2, "start")?,
            duration_s,
            position_m: if parts.len() == 5 { Some(number(4, "position")?) } else { None },
        })
    }
}

/// How to run: controller (none = the twin's native fixed-time programs) and scenario extras.
#[derive(Clone, Debug)]
pub(crate) struct RunOptions {
    pub(crate) control: Option<ControlConfig>,
    pub(crate) emergency_every_s: Option<f64>,
    pub(crate) preemption: bool,
    pub(crate) incidents: Vec<IncidentSpec>,
    pub(crate) steps: u64,
}

impl RunOptions {
    /// Native control for an hour.
    pub(crate) fn native() -> Self {
        RunOptions {
            control: None,
            emergency_every_s: None,
            preemption: false,
            incidents: Vec::new(),
            steps: 3600,
        }
    }

    /// `kind` with its defaults for an hour.
    pub(crate) fn controlled(kind: ControllerKind) -> Self {
        RunOptions { control: Some(ControlConfig::new(kind)), ..RunOptions::native() }
    }
}

/// What a run produced.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct RunSummary {
    /// The twin's metrics (CityFlow's definitions).
    pub(crate) metrics: sim::Metrics,
    pub(crate) emergency_count: u64,
    /// CityFlow's average travel time restricted to emergency vehicles.
    pub(crate) emergency_avg_travel_time: Option<f64>,
    /// The same over every other vehicle.
    pub(crate) others_avg_travel_time: f64,
    pub(crate) alerts: Vec<Alert>,
    /// Per incident: when a vehicle first stood still behind it (ground truth, for evaluation).
    pub(crate) incident_affected_s: Vec<Option<f64>>,
    /// Wall-clock seconds spent stepping (observing, deciding and the twin's steps).
    pub(crate) stepping_s: f64,
}

/// Reads a roadnet and flow file pair into a scenario (adding transition phases when a
/// controller will need them).
pub(crate) fn load(
    roadnet_path: &std::path::Path,
    flow_path: &std::path::Path,
    controlled: bool,
) -> anyhow::Result<Scenario> {
    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p)
            .with_context(|| format!("reading {}", p.display()))
            .map_err(|e| anyhow!(UsageError(e)))
    };
    let roadnet = read(roadnet_path)?;
    let flow = read(flow_path)?;
    let roadnet_name = roadnet_path.display().to_string();
    parse(&roadnet, &roadnet_name, &flow, &flow_path.display().to_string(), controlled)
}

/// Parses a roadnet and flow document pair (see [`load`]).
pub(crate) fn parse(
    roadnet: &str,
    roadnet_name: &str,
    flow: &str,
    flow_name: &str,
    controlled: bool,
) -> anyhow::Result<Scenario> {
    let mut roadnet = roadnet.to_string();
    if controlled {
        let mut doc: serde_json::Value = serde_json::from_str(&roadnet)
            .map_err(|e| UsageError(anyhow!("{roadnet_name}: not JSON: {e}")))?;
        add_transition_phases(&mut doc);
        roadnet = doc.to_string();
    }
    Scenario::from_json(&roadnet, roadnet_name, flow, flow_name)
        .map_err(|e| anyhow!(UsageError(e.into())))
}

/// Runs `scenario` under `opts`.
pub(crate) fn run(scenario: &Scenario, opts: &RunOptions) -> anyhow::Result<RunSummary> {
    let config = EngineConfig {
        emergency_every_s: opts.emergency_every_s,
        record_vehicles: true,
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(scenario.network.clone(), scenario.demand.clone(), config)
        .map_err(|e| anyhow!(UsageError(e.into())))?;
    let blocks = block_lanes(&mut engine, &opts.incidents)?;
    let mut affected = vec![None; blocks.len()];
    let started = Instant::now();
    let alerts = match &opts.control {
        None => {
            engine.run(opts.steps);
            Vec::new()
        }
        Some(control) => {
            let mut config = BrainConfig::new(control.clone());
            config.preemption = opts.preemption.then(PreemptParams::default);
            engine.set_control_mode(sim::ControlMode::External);
            let mut driver = BrainDriver::new(&engine, config, false)
                .map_err(|e| anyhow!(UsageError(e.into())))?;
            for _ in 0..opts.steps {
                driver.before_step(&mut engine)?;
                engine.step();
                note_affected(&engine, &blocks, &mut affected);
            }
            driver.alerts
        }
    };
    let stepping_s = started.elapsed().as_secs_f64();
    let (emergency_count, emergency_avg_travel_time, others_avg_travel_time) =
        split_travel_times(&engine);
    Ok(RunSummary {
        metrics: engine.metrics(),
        emergency_count,
        emergency_avg_travel_time,
        others_avg_travel_time,
        alerts,
        incident_affected_s: affected,
        stepping_s,
    })
}

pub(crate) fn block_lanes(
    engine: &mut Engine,
    incidents: &[IncidentSpec],
) -> anyhow::Result<Vec<sim::LaneBlock>> {
    let mut blocks = Vec::new();
    for inc in incidents {
        let net = engine.network().clone();
        let road = net.road_id(&inc.road).ok_or_else(|| {
            UsageError(anyhow!("--incident: road `{}` does not exist in the roadnet", inc.road))
        })?;
        let lanes = &net.road(road).lanes;
        let lane = *lanes.get(inc.lane).ok_or_else(|| {
            UsageError(anyhow!(
                "--incident: road `{}` has lanes 0..{}, not lane {}",
                inc.road,
                lanes.len(),
                inc.lane
            ))
        })?;
        let length = net.lane(lane).length;
        let position = inc.position_m.unwrap_or(length / 2.0);
        engine
            .block_lane(lane, position, inc.start_s, inc.start_s + inc.duration_s)
            .map_err(|e| UsageError(anyhow!("--incident {}: {e}", inc.road)))?;
        blocks.push(sim::LaneBlock {
            lane,
            position_m: position,
            from_s: inc.start_s,
            until_s: inc.start_s + inc.duration_s,
        });
    }
    Ok(blocks)
}

/// Ground truth for evaluations (the brain never sees it): the first time a vehicle stood still
/// behind each active blockage.
fn note_affected(engine: &Engine, blocks: &[sim::LaneBlock], affected: &mut [Option<f64>]) {
    let now = engine.time_s();
    for (b, first) in blocks.iter().zip(affected.iter_mut()) {
        if first.is_some() || now < b.from_s || now >= b.until_s {
            continue;
        }
        let drivable = engine.network().lane_drivable(b.lane);
        let stopped = engine.vehicles_on(drivable).any(|id| {
            engine
                .vehicle(id)
                .is_some_and(|v| v.speed_mps < 0.1 && v.location.distance_m <= b.position_m)
        });
        if stopped {
            *first = Some(now);
        }
    }
}

/// (emergency count, their CityFlow-style average travel time, everyone else's).
pub(crate) fn split_travel_times(engine: &Engine) -> (u64, Option<f64>, f64) {
    let now = engine.time_s();
    let (mut ev, mut others) = ((0u64, 0.0), (0u64, 0.0));
    for r in engine.vehicle_records() {
        let t = r.exited_s.unwrap_or(now) - r.created_s;
        let acc = if r.emergency { &mut ev } else { &mut others };
        acc.0 += 1;
        acc.1 += t;
    }
    let avg = |(n, s): (u64, f64)| if n == 0 { 0.0 } else { s / n as f64 };
    let ev_avg = (ev.0 > 0).then(|| avg(ev));
    (ev.0, ev_avg, avg(others))
}

/// The emergency vehicles' average free-flow travel time (None when there are none): the
/// lower bound preemption can approach. Per vehicle: every road of its route on its shortest
/// lane and, between roads, the shortest lane link joining them, driven at the lane's speed
/// limit or the vehicle's top speed if lower, plus the time lost accelerating from rest to that
/// speed at the vehicle's usual acceleration (v / 2a).
pub(crate) fn emergency_free_flow_travel_time(engine: &Engine) -> Option<f64> {
    let demand = engine.demand();
    let net = engine.network();
    let (mut n, mut sum) = (0u64, 0.0);
    for r in engine.vehicle_records().filter(|r| r.emergency) {
        let flow = &demand.flows[r.flow.index()];
        let Some(route) = flow.route.as_deref() else { continue };
        n += 1;
        sum += free_flow_travel_time(net, route, &flow.params);
    }
    (n > 0).then(|| sum / n as f64)
}

/// Free-flow travel time of one route (see [`emergency_free_flow_travel_time`]).
pub(crate) fn free_flow_travel_time(
    net: &sim::RoadNetwork,
    route: &[sim::RoadId],
    v: &sim::VehicleParams,
) -> f64 {
    let lane_time = |l: sim::LaneId| {
        let lane = net.lane(l);
        lane.length / lane.max_speed.min(v.max_speed_mps)
    };
    let mut t = 0.0;
    let mut top = 0.0f64;
    for (k, &road) in route.iter().enumerate() {
        let lanes = &net.road(road).lanes;
        t += lanes.iter().map(|&l| lane_time(l)).fold(f64::INFINITY, f64::min);
        top = lanes.iter().map(|&l| net.lane(l).max_speed).fold(top, f64::max);
        let Some(&next) = route.get(k + 1) else { continue };
        let link = lanes
            .iter()
            .flat_map(|&l| net.lane(l).out_links.iter())
            .map(|&ll| net.lane_link(ll))
            .filter(|ll| net.lane(ll.end_lane).road == next)
            .map(|ll| ll.length / net.lane(ll.start_lane).max_speed.min(v.max_speed_mps))
            .fold(f64::INFINITY, f64::min);
        if link.is_finite() {
            t += link;
        }
    }
    let speed = top.min(v.max_speed_mps);
    t + speed / (2.0 * v.usual_pos_acc)
}
