//! The runtime: the brain twin and the fixed-time baseline stepped in lock-step in a dedicated
//! thread at `speed` × real time, publishing to the hub every `publish_every_s` simulated
//! seconds and feeding the brain what it reads back.
//!
//! Pacing: step k is due at `origin + k / speed`; the thread sleeps on a channel until then
//! (so stopping is immediate and nothing busy-waits). When it falls more than a second behind
//! (a slow machine, a huge `speed`) it re-anchors instead of sprinting to catch up.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use citybrain_broker::Broker;
use citybrain_ngsi::time::now_micros;
use citybrain_signal::{
    Alert, BrainConfig, ControlConfig, ControllerKind, LaneObs, RoadId as BrainRoad,
};
use citybrain_sim::{
    ControlMode, Engine, EngineConfig, ImportError, IntersectionId, RoadNetwork, Scenario,
};
use serde_json::json;

use crate::explain::{alert_message, decision_reason};
use crate::glue::{BrainDriver, add_transition_phases, read_detectors};
use crate::hub::{HubLink, SignalReport};
use crate::network_json::network_json;
use crate::state::{Approach, DecisionView, Frame, Kpis, LiveState, RoadView, SignalView};

/// How to run the city.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Simulated seconds per real second.
    pub speed: f64,
    /// Simulated seconds between publishes to the hub (and brain observations).
    pub publish_every_s: u64,
    /// Length of the demand, seconds: it repeats with this period.
    pub demand_period_s: f64,
    /// The scenario's name, for `/api/network`.
    pub scenario: String,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            speed: 10.0,
            publish_every_s: 10,
            demand_period_s: 3600.0,
            scenario: String::new(),
        }
    }
}

/// The city could not start; all are the caller's mistakes.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The roadnet or flow file is not a valid scenario.
    #[error(transparent)]
    Scenario(#[from] ImportError),
    /// The roadnet is not JSON.
    #[error("{0}: not JSON: {1}")]
    NotJson(String, serde_json::Error),
    /// An option is out of range.
    #[error("{0}")]
    Option(String),
    /// The scenario has no signalised intersection for the brain.
    #[error("the brain cannot drive this network: {0}")]
    Brain(String),
}

/// The running city. Dropping it (or [`Live::stop`]) stops the thread.
pub struct Live {
    state: Arc<LiveState>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Live {
    /// Parses the scenario and starts the twins. `handle` runs the broker's async calls.
    pub fn start(
        roadnet: (&str, &str),
        flow: (&str, &str),
        broker: Broker,
        handle: tokio::runtime::Handle,
        opts: LiveOptions,
    ) -> Result<Live, StartError> {
        if !(opts.speed.is_finite() && opts.speed > 0.0) {
            return Err(StartError::Option(format!(
                "speed {} is not allowed; expected a number > 0",
                opts.speed
            )));
        }
        if opts.publish_every_s == 0 {
            return Err(StartError::Option("the publish period must be >= 1 s".into()));
        }
        let runner = Runner::new(roadnet, flow, broker, handle, &opts)?;
        let state = runner.live.clone();
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("citybrain-live".into())
            .spawn(move || runner.run(&stopped))
            .map_err(|e| StartError::Option(format!("cannot start the simulation thread: {e}")))?;
        Ok(Live { state, stop: Some(stop), thread: Some(thread) })
    }

    /// What the cockpit shows.
    pub fn state(&self) -> Arc<LiveState> {
        self.state.clone()
    }

    /// Stops the twins and waits for the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.state.close();
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Finished counts over the last 300 s, for the throughput.
struct Throughput {
    window: VecDeque<(f64, u64)>,
}

const THROUGHPUT_WINDOW_S: f64 = 300.0;

impl Throughput {
    fn new() -> Self {
        Throughput { window: VecDeque::from([(0.0, 0)]) }
    }

    fn record(&mut self, time_s: f64, finished: u64) {
        self.window.push_back((time_s, finished));
        while self.window.len() > 2
            && self.window.get(1).is_some_and(|(t, _)| time_s - t >= THROUGHPUT_WINDOW_S)
        {
            self.window.pop_front();
        }
    }

    fn per_hour(&self) -> f64 {
        match (self.window.front(), self.window.back()) {
            (Some(&(t0, f0)), Some(&(t1, f1))) if t1 > t0 => (f1 - f0) as f64 * 3600.0 / (t1 - t0),
            _ => 0.0,
        }
    }
}

fn kpis(engine: &Engine, throughput: &Throughput) -> Kpis {
    let m = engine.metrics();
    let (n, sum) = engine.vehicles().fold((0u64, 0.0), |(n, s), v| (n + 1, s + v.speed_mps));
    Kpis {
        running: m.running,
        finished: m.finished,
        created: m.created,
        avg_speed_mps: if n == 0 { 0.0 } else { sum / n as f64 },
        avg_travel_time_s: m.avg_travel_time_s,
        throughput_per_h: throughput.per_hour(),
    }
}

struct Runner {
    brain_twin: Engine,
    baseline: Engine,
    driver: BrainDriver,
    hub: HubLink,
    handle: tokio::runtime::Handle,
    live: Arc<LiveState>,
    opts: LiveOptions,
    brain_flow: Throughput,
    baseline_flow: Throughput,
    /// Alerts raised since the last publish (they go to the hub with it).
    pending_alerts: Vec<Alert>,
    /// Scratch buffers of the detectors.
    readings: Vec<citybrain_sim::LaneObservation>,
    advance: Vec<citybrain_sim::LaneObservation>,
    lanes: Vec<LaneObs>,
}

impl Runner {
    fn new(
        roadnet: (&str, &str),
        flow: (&str, &str),
        broker: Broker,
        handle: tokio::runtime::Handle,
        opts: &LiveOptions,
    ) -> Result<Self, StartError> {
        let (roadnet_text, roadnet_name) = roadnet;
        let (flow_text, flow_name) = flow;
        // The baseline runs the roadnet's own programs; the brain needs transition phases.
        let plain = Scenario::from_json(roadnet_text, roadnet_name, flow_text, flow_name)?;
        let mut doc: serde_json::Value = serde_json::from_str(roadnet_text)
            .map_err(|e| StartError::NotJson(roadnet_name.to_string(), e))?;
        add_transition_phases(&mut doc);
        let controlled = Scenario::from_json(&doc.to_string(), roadnet_name, flow_text, flow_name)?;
        let config = EngineConfig::default();
        let engine = |s: &Scenario| {
            let mut e = Engine::new(s.network.clone(), s.demand.clone(), config.clone())
                .map_err(|e| StartError::Option(e.to_string()))?;
            e.repeat_demand(opts.demand_period_s).map_err(|e| StartError::Option(e.to_string()))?;
            Ok::<_, StartError>(e)
        };
        let mut brain_twin = engine(&controlled)?;
        let baseline = engine(&plain)?;
        brain_twin.set_control_mode(ControlMode::External);
        let brain_config = BrainConfig::new(ControlConfig::new(ControllerKind::Adaptive));
        let driver = BrainDriver::new(&brain_twin, brain_config, true)
            .map_err(|e| StartError::Brain(e.to_string()))?;
        let net = brain_twin.network().clone();
        let signals = driver.brain.network().intersections.iter().map(|i| i.name.clone()).collect();
        let live =
            Arc::new(LiveState::new(&network_json(&net, &opts.scenario), signals, opts.speed));
        Ok(Runner {
            hub: HubLink::new(broker, &net),
            brain_twin,
            baseline,
            driver,
            handle,
            live,
            opts: opts.clone(),
            brain_flow: Throughput::new(),
            baseline_flow: Throughput::new(),
            pending_alerts: Vec::new(),
            readings: Vec::new(),
            advance: Vec::new(),
            lanes: Vec::new(),
        })
    }

    fn run(mut self, stop: &mpsc::Receiver<()>) {
        let step = Duration::from_secs_f64(1.0 / self.opts.speed);
        let mut origin = Instant::now();
        let mut paced: u32 = 0;
        loop {
            let fresh = if self.brain_twin.steps().is_multiple_of(self.opts.publish_every_s) {
                self.publish_and_read()
            } else {
                None
            };
            if let Err(e) = self.step(fresh) {
                tracing::error!("the live city stopped: {e}");
                return;
            }
            paced += 1;
            let due = origin + step * paced;
            let now = Instant::now();
            if now > due + Duration::from_secs(1) {
                origin = now;
                paced = 0;
            }
            match stop.recv_timeout(due.saturating_duration_since(now)) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                _ => return,
            }
        }
    }

    /// One simulated second of both twins.
    fn step(&mut self, fresh: Option<Vec<LaneObs>>) -> Result<(), crate::glue::DriveError> {
        self.driver.before_step_with(&mut self.brain_twin, fresh)?;
        for alert in std::mem::take(&mut self.driver.alerts) {
            let intersection = alert.location.intersection.clone();
            let body = json!({"time_s": alert.time, "kind": alert.kind, "severity": alert.severity,
                              "road": alert.road, "intersection": intersection,
                              "message": alert_message(&alert), "evidence": alert.evidence});
            self.live.push_alert(alert.time, body);
            self.pending_alerts.push(alert);
        }
        if let Some(kept) = self.driver.decisions.as_mut() {
            for (_, d) in std::mem::take(kept) {
                let inputs =
                    d.choice.scores.iter().map(|(p, s)| json!({"phase": p, "score": s})).collect();
                let view = DecisionView {
                    time_s: d.time_s,
                    rule: d.choice.rule.as_str(),
                    chosen_phase: d.choice.phase,
                    reason: decision_reason(&d),
                    inputs,
                };
                self.live.push_decision(d.intersection.index(), view);
            }
        }
        self.brain_twin.step();
        self.baseline.step();
        let t = self.brain_twin.time_s();
        self.brain_flow.record(t, self.brain_twin.metrics().finished);
        self.baseline_flow.record(t, self.baseline.metrics().finished);
        Ok(())
    }

    /// Publishes the brain twin's readings, signals and new alerts, reads the observations back
    /// from the hub (None when the hub failed: the brain keeps its last observation), and
    /// updates the cockpit's state.
    fn publish_and_read(&mut self) -> Option<Vec<LaneObs>> {
        let started = Instant::now();
        read_detectors(
            &self.brain_twin,
            self.driver.brain.config(),
            &mut self.readings,
            &mut self.advance,
            &mut self.lanes,
        );
        let net = self.brain_twin.network().clone();
        let signals = self.signal_reports(&net);
        let alerts = std::mem::take(&mut self.pending_alerts);
        let time_s = self.brain_twin.time_s();
        let published = self.handle.block_on(self.hub.publish(
            time_s,
            now_micros(),
            &self.lanes,
            &signals,
            &alerts,
        ));
        let read = published.and_then(|()| self.hub.read_observations(net.lanes().len()));
        let publish_ms = started.elapsed().as_secs_f64() * 1000.0;
        let fresh = match read {
            Ok(lanes) => Some(lanes),
            Err(e) => {
                tracing::warn!("publishing to the hub failed: {e}");
                None
            }
        };
        self.update_state(&net, publish_ms);
        fresh
    }

    fn signal_reports(&self, net: &RoadNetwork) -> Vec<SignalReport> {
        let mapping = self.driver.mapping();
        mapping
            .sim_node
            .iter()
            .enumerate()
            .map(|(i, &node)| {
                let n = net.intersection(node);
                SignalReport {
                    id: n.id.clone(),
                    x: n.point.x,
                    y: n.point.y,
                    phase: self.brain_twin.phase(node),
                    green: self.green(net, node),
                    explanation: self.live.last_reason(i),
                }
            })
            .collect()
    }

    fn green(&self, net: &RoadNetwork, node: IntersectionId) -> Vec<usize> {
        let n = net.intersection(node);
        (0..n.road_links.len())
            .filter(|&i| self.brain_twin.road_link_green(n.road_links[i]))
            .collect()
    }

    fn update_state(&self, net: &RoadNetwork, publish_ms: f64) {
        let brain = self.driver.brain.network();
        let congestion = self.driver.brain.congestion();
        let sum = |lanes: &[citybrain_sim::LaneId], f: fn(&LaneObs) -> u32| -> u32 {
            lanes.iter().map(|l| self.lanes.get(l.0 as usize).map_or(0, f)).sum()
        };
        let roads = net
            .roads()
            .iter()
            .enumerate()
            .map(|(i, r)| RoadView {
                id: r.id.clone(),
                congestion: congestion.road_index(brain, BrainRoad(i as u32)),
                vehicles: sum(&r.lanes, |l| l.vehicles),
                halted: sum(&r.lanes, |l| l.halted),
            })
            .collect();
        let mapping = self.driver.mapping();
        let mut signals = Vec::with_capacity(mapping.sim_node.len());
        let mut approaches = Vec::with_capacity(mapping.sim_node.len());
        for (i, &node) in mapping.sim_node.iter().enumerate() {
            let phase = self.brain_twin.phase(node);
            signals.push(SignalView {
                id: net.intersection(node).id.clone(),
                phase,
                transition: phase.is_some() && phase == brain.intersections[i].transition,
                green: self.green(net, node),
            });
            approaches.push(
                net.roads()
                    .iter()
                    .filter(|r| r.end == node)
                    .map(|r| Approach {
                        road: r.id.clone(),
                        vehicles: sum(&r.lanes, |l| l.vehicles),
                        halted: sum(&r.lanes, |l| l.halted),
                        queue: sum(&r.lanes, |l| l.near_stop_line),
                    })
                    .collect(),
            );
        }
        let time_s = self.brain_twin.time_s();
        self.live.update(Frame {
            time_s,
            hour: 1 + (time_s / self.opts.demand_period_s).floor() as u64,
            brain: kpis(&self.brain_twin, &self.brain_flow),
            baseline: kpis(&self.baseline, &self.baseline_flow),
            roads,
            signals,
            approaches,
            publish_ms,
        });
    }
}
