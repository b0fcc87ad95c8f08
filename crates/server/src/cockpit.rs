//! The cockpit: its JSON API (`/api/...`, contract in the README's "Cockpit API"), the live
//! stream (Server-Sent Events) and the embedded web assets (`web/` at the repository root).
//!
//! The server does not know the running city: it asks a [`LiveSource`] (implemented by
//! `citybrain-live`) for pre-serialised JSON. The hub panel's figures come from the broker and
//! from [`RequestCounter`], a middleware that counts requests to `/ngsi-ld/v1` and `/api`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use citybrain_broker::DEFAULT_TENANT;
use futures_util::Stream;
use parking_lot::Mutex;
use serde_json::json;
use tokio::sync::broadcast;

use crate::AppState;

/// One event of the live stream: the SSE event name and its pre-serialised JSON data (so that
/// many viewers cost one serialisation).
#[derive(Clone, Debug)]
pub struct LiveEvent {
    /// `state` or `alert`.
    pub name: &'static str,
    /// The JSON payload.
    pub data: Arc<str>,
}

/// The running city as the cockpit sees it. Every method returns JSON text.
pub trait LiveSource: Send + Sync + 'static {
    /// `GET /api/network`: the static network description.
    fn network(&self) -> Arc<str>;
    /// `GET /api/state`: the latest snapshot.
    fn state(&self) -> Arc<str>;
    /// `GET /api/history`: the recent samples.
    fn history(&self) -> String;
    /// `GET /api/intersections/{id}`; `None` for an unknown id.
    fn intersection(&self, id: &str) -> Option<String>;
    /// `GET /api/alerts`: the latest alerts, newest first.
    fn alerts(&self) -> String;
    /// Duration of the last publish to the hub, milliseconds.
    fn publish_ms(&self) -> f64;
    /// The live stream (state after every publish, alerts as raised).
    fn subscribe(&self) -> broadcast::Receiver<LiveEvent>;
}

/// Counts HTTP requests to the API, with the rate over the last [`RATE_WINDOW_S`] seconds.
#[derive(Debug)]
pub struct RequestCounter {
    started: Instant,
    inner: Mutex<Counts>,
}

/// Seconds over which `requests_per_s` is averaged.
pub const RATE_WINDOW_S: u64 = 10;

#[derive(Debug, Default)]
struct Counts {
    total: u64,
    /// (second since start, requests in it), one slot per second of the window.
    buckets: [(u64, u64); RATE_WINDOW_S as usize],
}

impl Default for RequestCounter {
    fn default() -> Self {
        RequestCounter { started: Instant::now(), inner: Mutex::new(Counts::default()) }
    }
}

impl RequestCounter {
    fn second(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Counts one request.
    pub fn count(&self) {
        let now = self.second();
        let mut c = self.inner.lock();
        c.total += 1;
        let slot = &mut c.buckets[(now % RATE_WINDOW_S) as usize];
        if slot.0 != now {
            *slot = (now, 0);
        }
        slot.1 += 1;
    }

    /// (requests so far, requests per second over the last window).
    pub fn figures(&self) -> (u64, f64) {
        let now = self.second();
        let c = self.inner.lock();
        let recent: u64 = c
            .buckets
            .iter()
            .filter(|(s, _)| *s + RATE_WINDOW_S > now && *s <= now)
            .map(|(_, n)| n)
            .sum();
        (c.total, recent as f64 / RATE_WINDOW_S as f64)
    }
}

/// The middleware behind [`RequestCounter`].
pub(crate) async fn count_requests(
    State(s): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    if path.starts_with("/ngsi-ld/") || path.starts_with("/api/") {
        s.requests.count();
    }
    next.run(req).await
}

/// The cockpit's routes (only when a live source is present).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/network", get(network))
        .route("/api/state", get(state))
        .route("/api/history", get(history))
        .route("/api/intersections/{id}", get(intersection))
        .route("/api/alerts", get(alerts))
        .route("/api/hub", get(hub))
        .route("/api/stream", get(stream))
}

fn json_text(body: impl Into<axum::body::Body>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body.into()).into_response()
}

fn not_found(detail: String) -> Response {
    let body = json!({"title": "Not Found", "detail": detail}).to_string();
    (StatusCode::NOT_FOUND, json_text(body)).into_response()
}

/// The live source; the routes are only mounted when there is one.
fn live(s: &AppState) -> &Arc<dyn LiveSource> {
    s.live.as_ref().expect("cockpit routes are mounted only with a live source")
}

async fn network(State(s): State<AppState>) -> Response {
    json_text(live(&s).network().to_string())
}

async fn state(State(s): State<AppState>) -> Response {
    json_text(live(&s).state().to_string())
}

async fn history(State(s): State<AppState>) -> Response {
    json_text(live(&s).history())
}

async fn alerts(State(s): State<AppState>) -> Response {
    json_text(live(&s).alerts())
}

async fn intersection(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    match live(&s).intersection(&id) {
        Some(body) => json_text(body),
        None => not_found(format!("unknown intersection `{id}`")),
    }
}

async fn hub(State(s): State<AppState>) -> Response {
    let types = s.broker.type_infos(DEFAULT_TENANT).unwrap_or_default();
    let core = citybrain_ngsi::Context::core();
    let by_type: serde_json::Map<String, serde_json::Value> =
        types.into_iter().map(|t| (core.compact(&t.type_iri), json!(t.count))).collect();
    let subscriptions = s.broker.list_subscriptions(DEFAULT_TENANT).map_or(0, |l| l.len());
    let (total, rate) = s.requests.figures();
    let publish_ms = live(&s).publish_ms();
    json_text(
        json!({"entities_by_type": by_type, "subscriptions": subscriptions,
               "requests_per_s": rate, "requests_total": total,
               "publish_ms": if publish_ms.is_finite() { json!(publish_ms) } else { json!(null) }})
        .to_string(),
    )
}

/// Seconds between keep-alive comments on the live stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

async fn stream(State(s): State<AppState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let source = live(&s);
    // The snapshot first, then the subscription: every later event is newer than it.
    let first = LiveEvent { name: "state", data: source.state() };
    let rx = source.subscribe();
    let initial = futures_util::stream::once(async move { first });
    let updates = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(ev) => return Some((ev, rx)),
                // A viewer that fell behind skips what it missed.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let events = futures_util::StreamExt::map(
        futures_util::StreamExt::chain(initial, updates),
        |ev: LiveEvent| Ok(Event::default().event(ev.name).data(&*ev.data)),
    );
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// The web assets, embedded at compile time.
#[derive(rust_embed::Embed)]
#[folder = "$CARGO_MANIFEST_DIR/../../web/"]
#[allow_missing = true]
struct Assets;

/// Serves an embedded asset (`/` is `index.html`); unknown `/api/*` paths get a JSON 404.
pub(crate) async fn assets(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path == "api" || path.starts_with("api/") {
        return not_found(format!("no API route `{}`", uri.path()));
    }
    let path = if path.is_empty() { "index.html" } else { path };
    match <Assets as rust_embed::Embed>::get(path) {
        Some(file) => (
            [
                (header::CONTENT_TYPE, file.metadata.mimetype().to_string()),
                (header::CACHE_CONTROL, "no-cache".to_string()),
            ],
            file.data.into_owned(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, format!("not found: {}\n", uri.path())).into_response(),
    }
}
