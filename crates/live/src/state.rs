//! What the cockpit shows: the latest snapshot, the history, alerts and recent decisions, and
//! the live stream. Written by the runtime thread after every publish, read by HTTP handlers.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use citybrain_server::{LiveEvent, LiveSource};
use parking_lot::RwLock;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::broadcast;

/// Samples kept for `/api/history` (two hours at one sample per 10 s).
pub const HISTORY_LEN: usize = 720;
/// Alerts kept for `/api/alerts`.
pub const ALERTS_LEN: usize = 100;
/// Decisions kept per intersection.
pub const RECENT_DECISIONS: usize = 10;
/// An alert counts as active this many simulated seconds after it was raised.
pub const ALERT_ACTIVE_S: f64 = 300.0;
/// Events buffered per stream viewer before it skips ahead.
const STREAM_BUFFER: usize = 64;

/// The key figures of one twin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Kpis {
    /// Vehicles in the network.
    pub running: u64,
    /// Vehicles that reached their destination.
    pub finished: u64,
    /// Vehicles created.
    pub created: u64,
    /// Mean speed of the vehicles in the network, m/s (0 when empty).
    pub avg_speed_mps: f64,
    /// CityFlow's average travel time (finished and running vehicles, since creation), s.
    pub avg_travel_time_s: f64,
    /// Vehicles finished over the last 300 simulated seconds (or since the start), per hour.
    pub throughput_per_h: f64,
}

/// One road in the snapshot (brain twin).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct RoadView {
    pub(crate) id: String,
    pub(crate) congestion: f64,
    pub(crate) vehicles: u32,
    pub(crate) halted: u32,
}

/// One signalised intersection in the snapshot.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct SignalView {
    pub(crate) id: String,
    pub(crate) phase: Option<usize>,
    pub(crate) transition: bool,
    pub(crate) green: Vec<usize>,
}

/// One incoming road of an intersection.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Approach {
    pub(crate) road: String,
    pub(crate) vehicles: u32,
    pub(crate) halted: u32,
    /// Vehicles within the stop-line detector's range.
    pub(crate) queue: u32,
}

/// One decision as the cockpit shows it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct DecisionView {
    pub(crate) time_s: f64,
    pub(crate) rule: &'static str,
    pub(crate) chosen_phase: usize,
    pub(crate) reason: String,
    pub(crate) inputs: Vec<Value>,
}

/// Everything the runtime hands over after a publish.
pub(crate) struct Frame {
    pub(crate) time_s: f64,
    pub(crate) hour: u64,
    pub(crate) brain: Kpis,
    pub(crate) baseline: Kpis,
    pub(crate) roads: Vec<RoadView>,
    /// Per signalised intersection, in the brain's order.
    pub(crate) signals: Vec<SignalView>,
    pub(crate) approaches: Vec<Vec<Approach>>,
    pub(crate) publish_ms: f64,
}

#[derive(Serialize)]
struct Sample {
    time_s: f64,
    brain: Kpis,
    baseline: Kpis,
}

struct Inner {
    state: Arc<str>,
    history: VecDeque<Sample>,
    /// (time raised, alert JSON), newest first.
    alerts: VecDeque<(f64, Value)>,
    signals: Vec<SignalView>,
    approaches: Vec<Vec<Approach>>,
    decisions: Vec<VecDeque<DecisionView>>,
    publish_ms: f64,
}

/// The cockpit's view of the running city.
pub struct LiveState {
    network: Arc<str>,
    speed: f64,
    /// Signalised intersections by external id → brain index.
    signal_index: HashMap<String, usize>,
    inner: RwLock<Inner>,
    /// The live stream; `None` once closed.
    tx: RwLock<Option<broadcast::Sender<LiveEvent>>>,
}

impl LiveState {
    /// A state for a network (its `/api/network` document) with these signalised intersections
    /// (external ids, in the brain's order), running at `speed` × real time.
    pub(crate) fn new(network: &Value, signals: Vec<String>, speed: f64) -> Self {
        let (tx, _) = broadcast::channel(STREAM_BUFFER);
        let n = signals.len();
        let views = signals
            .iter()
            .map(|id| SignalView { id: id.clone(), phase: None, transition: false, green: vec![] })
            .collect();
        let state = LiveState {
            network: network.to_string().into(),
            speed,
            signal_index: signals.into_iter().enumerate().map(|(i, id)| (id, i)).collect(),
            inner: RwLock::new(Inner {
                state: Arc::from("{}"),
                history: VecDeque::with_capacity(HISTORY_LEN),
                alerts: VecDeque::with_capacity(ALERTS_LEN),
                signals: views,
                approaches: vec![Vec::new(); n],
                decisions: vec![VecDeque::with_capacity(RECENT_DECISIONS); n],
                publish_ms: f64::NAN,
            }),
            tx: RwLock::new(Some(tx)),
        };
        let empty = Frame {
            time_s: 0.0,
            hour: 1,
            brain: Kpis::default(),
            baseline: Kpis::default(),
            roads: Vec::new(),
            signals: state.inner.read().signals.clone(),
            approaches: vec![Vec::new(); n],
            publish_ms: f64::NAN,
        };
        state.inner.write().state = state.snapshot(&empty, 0).into();
        state
    }

    fn snapshot(&self, f: &Frame, alerts_active: usize) -> String {
        json!({
            "time_s": f.time_s, "hour": f.hour, "speed": self.speed,
            "brain": f.brain, "baseline": f.baseline,
            "roads": f.roads, "intersections": f.signals, "alerts_active": alerts_active,
            // Wall-clock time of this snapshot, so viewers can measure how far behind they are.
            "published_unix_ms": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        })
        .to_string()
    }

    /// Takes a new frame: snapshot, history sample, and a `state` event on the stream.
    pub(crate) fn update(&self, f: Frame) {
        let mut inner = self.inner.write();
        let active = inner.alerts.iter().filter(|(t, _)| f.time_s - t < ALERT_ACTIVE_S).count();
        let text: Arc<str> = self.snapshot(&f, active).into();
        inner.state = text.clone();
        if inner.history.len() == HISTORY_LEN {
            inner.history.pop_front();
        }
        inner.history.push_back(Sample { time_s: f.time_s, brain: f.brain, baseline: f.baseline });
        inner.signals = f.signals;
        inner.approaches = f.approaches;
        inner.publish_ms = f.publish_ms;
        drop(inner);
        self.send(LiveEvent { name: "state", data: text });
    }

    /// Records an alert (its cockpit JSON) and sends it on the stream.
    pub(crate) fn push_alert(&self, time_s: f64, alert: Value) {
        let text: Arc<str> = alert.to_string().into();
        let mut inner = self.inner.write();
        if inner.alerts.len() == ALERTS_LEN {
            inner.alerts.pop_back();
        }
        inner.alerts.push_front((time_s, alert));
        drop(inner);
        self.send(LiveEvent { name: "alert", data: text });
    }

    fn send(&self, event: LiveEvent) {
        if let Some(tx) = self.tx.read().as_ref() {
            // No viewer is not an error.
            let _ = tx.send(event);
        }
    }

    /// Ends the live stream: every viewer's stream finishes (so that a server can shut down
    /// gracefully) and new viewers get an empty one.
    pub fn close(&self) {
        self.tx.write().take();
    }

    /// Records a decision of the signalised intersection `node` (brain index).
    pub(crate) fn push_decision(&self, node: usize, d: DecisionView) {
        let mut inner = self.inner.write();
        if let Some(list) = inner.decisions.get_mut(node) {
            if list.len() == RECENT_DECISIONS {
                list.pop_back();
            }
            list.push_front(d);
        }
    }

    /// The latest reason given at `node` (brain index), or an empty string.
    pub(crate) fn last_reason(&self, node: usize) -> String {
        let inner = self.inner.read();
        inner
            .decisions
            .get(node)
            .and_then(|l| l.front())
            .map_or(String::new(), |d| d.reason.clone())
    }
}

impl LiveSource for LiveState {
    fn network(&self) -> Arc<str> {
        self.network.clone()
    }

    fn state(&self) -> Arc<str> {
        self.inner.read().state.clone()
    }

    fn history(&self) -> String {
        let inner = self.inner.read();
        json!({"samples": inner.history}).to_string()
    }

    fn intersection(&self, id: &str) -> Option<String> {
        let &i = self.signal_index.get(id)?;
        let inner = self.inner.read();
        let s = &inner.signals[i];
        let recent = &inner.decisions[i];
        Some(
            json!({"id": s.id, "phase": s.phase, "transition": s.transition, "green": s.green,
                   "approaches": inner.approaches[i], "decision": recent.front(),
                   "recent": recent})
            .to_string(),
        )
    }

    fn alerts(&self) -> String {
        let inner = self.inner.read();
        let list: Vec<&Value> = inner.alerts.iter().map(|(_, a)| a).collect();
        json!({"alerts": list}).to_string()
    }

    fn publish_ms(&self) -> f64 {
        self.inner.read().publish_ms
    }

    fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        match self.tx.read().as_ref() {
            Some(tx) => tx.subscribe(),
            None => broadcast::channel(1).1,
        }
    }
}
