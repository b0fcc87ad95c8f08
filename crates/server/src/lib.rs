//! `citybrain-server`: the HTTP face of the city data hub — the NGSI-LD API under
//! `/ngsi-ld/v1` (axum), content negotiation, JSON-LD Link contexts, ProblemDetails errors,
//! remote context fetching and HTTP(S) notification delivery. The only crate that knows HTTP.
//!
//! Start it with [`run`] on any listener (tests use port 0) and a shutdown future.

mod batch;
mod checks;
mod cockpit;
mod contexts;
mod csource;
mod csource_subscriptions;
mod datasets;
mod discovery;
mod entities;
mod entity_maps;
mod http;
mod join;
mod notify;
mod order;
mod outbound;
mod problem;
mod projection;
mod render_cache;
mod respond;
mod subscriptions;
mod temporal;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use citybrain_broker::Broker;
use tokio::net::TcpListener;
use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;

pub use cockpit::{LiveEvent, LiveSource, RATE_WINDOW_S, RequestCounter};
pub use contexts::Contexts;
pub use entity_maps::EntityMaps;
pub use notify::{HttpSink, Resolver};
pub use outbound::{OutboundTls, TlsSetupError, install_tls_provider};
pub use problem::{ApiError, ApiResult};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Name of the tenant header.
pub const TENANT_HEADER: &str = "NGSILD-Tenant";

/// Shared state of the HTTP application.
#[derive(Clone)]
pub struct AppState {
    /// The service layer.
    pub broker: Broker,
    /// Remote context cache.
    pub contexts: Arc<Contexts>,
    /// The running city behind the cockpit, when there is one (`citybrain demo`).
    pub live: Option<Arc<dyn LiveSource>>,
    /// Requests to the APIs.
    pub requests: Arc<RequestCounter>,
    /// Rendered responses of recently retrieved entities.
    pub(crate) renders: Arc<render_cache::RenderCache>,
    /// Live EntityMaps (in memory, transient).
    pub maps: Arc<EntityMaps>,
}

impl AppState {
    /// State over `broker` whose notifications and context fetches trust the system's CA
    /// roots only. On a machine without any, HTTPS fails verification and plain HTTP works.
    pub fn new(broker: Broker) -> Result<AppState, TlsSetupError> {
        AppState::with_tls(broker, &OutboundTls::system())
    }

    /// State over `broker` whose notifications and context fetches verify HTTPS servers
    /// against `tls`.
    pub fn with_tls(broker: Broker, tls: &OutboundTls) -> Result<AppState, TlsSetupError> {
        let contexts = Arc::new(Contexts::new(tls)?);
        broker.set_notification_sink(Arc::new(notify::HttpSink::new(tls)?));
        broker.set_context_resolver(Arc::new(notify::Resolver(contexts.clone())));
        Ok(AppState {
            broker,
            contexts,
            live: None,
            requests: Arc::new(RequestCounter::default()),
            renders: Arc::new(render_cache::RenderCache::default()),
            maps: Arc::new(EntityMaps::default()),
        })
    }

    /// The same state with a live city behind the cockpit: adds the `/api` routes, the live
    /// stream and the embedded web assets.
    pub fn with_live(mut self, live: Arc<dyn LiveSource>) -> AppState {
        self.live = Some(live);
        self
    }
}

/// The axum router for the NGSI-LD API, plus the cockpit when `state` has a live source.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/entities",
            get(entities::query)
                .post(entities::create)
                .delete(entities::purge)
                // `/entities/` arrives here once its trailing slash is trimmed: a replace or
                // merge without an entity id.
                .put(entities::empty_id)
                .patch(entities::empty_id),
        )
        .route(
            "/entities/{id}",
            get(entities::retrieve)
                .put(entities::replace)
                .patch(entities::merge)
                .delete(entities::delete),
        )
        .route("/entities/{id}/attrs", post(entities::append).patch(entities::update))
        .route(
            "/entities/{id}/attrs/{attr}",
            axum::routing::patch(entities::patch_attr)
                .put(entities::replace_attr)
                .delete(entities::delete_attr),
        )
        .route("/entityOperations/{op}", post(batch::operation))
        .route("/subscriptions", get(subscriptions::list).post(subscriptions::create))
        .route(
            "/subscriptions/{id}",
            get(subscriptions::retrieve).patch(subscriptions::update).delete(subscriptions::delete),
        )
        .route("/csourceRegistrations", get(csource::query).post(csource::create))
        .route(
            "/csourceRegistrations/{id}",
            get(csource::retrieve).patch(csource::update).delete(csource::delete),
        )
        .route(
            "/csourceSubscriptions",
            get(csource_subscriptions::list).post(csource_subscriptions::create),
        )
        .route(
            "/csourceSubscriptions/{id}",
            get(csource_subscriptions::retrieve)
                .patch(csource_subscriptions::update)
                .delete(csource_subscriptions::delete),
        )
        .route("/temporal/entities", get(temporal::query).post(temporal::create))
        .route("/temporal/entities/{id}", get(temporal::retrieve).delete(temporal::delete))
        .route("/temporal/entities/{id}/attrs", post(temporal::append))
        .route("/temporal/entities/{id}/attrs/{attr}", axum::routing::delete(temporal::delete_attr))
        .route(
            "/temporal/entities/{id}/attrs/{attr}/{instance}",
            axum::routing::delete(temporal::delete_instance).patch(temporal::modify_instance),
        )
        .route("/temporal/entityOperations/query", post(temporal::query_post))
        .route("/entityMaps", get(entity_maps::create_for_query))
        .route(
            "/entityMaps/{id}",
            get(entity_maps::retrieve).patch(entity_maps::update).delete(entity_maps::delete),
        )
        .route("/temporal/entityMaps", get(entity_maps::create_for_temporal_query))
        .route("/types", get(discovery::types))
        .route("/types/{type}", get(discovery::type_info))
        .route("/attributes", get(discovery::attributes))
        .route("/attributes/{attr}", get(discovery::attribute_info))
        .route("/info/sourceIdentity", get(discovery::source_identity));
    let mut app = Router::new().nest("/ngsi-ld/v1", api);
    if state.live.is_some() {
        app = app.merge(cockpit::routes()).fallback(cockpit::assets);
    }
    app.layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(preconditions))
        .layer(middleware::from_fn_with_state(state.clone(), cockpit::count_requests))
        .with_state(state)
}

/// Checks that hold for every request before routing (Content-Length on POST/PATCH/PUT is
/// a bare 411, clause 6.3.4) and echoes `NGSILD-Tenant` on every response (clause 6.3.14).
async fn preconditions(req: Request, next: Next) -> Response {
    let needs_length = matches!(*req.method(), Method::POST | Method::PATCH | Method::PUT);
    if needs_length && !req.headers().contains_key(header::CONTENT_LENGTH) {
        return StatusCode::LENGTH_REQUIRED.into_response();
    }
    let tenant = req.headers().get(TENANT_HEADER).cloned();
    let mut resp = next.run(req).await;
    if let Some(t) = tenant {
        resp.headers_mut().insert(TENANT_HEADER, t);
    }
    if resp.status() == StatusCode::NO_CONTENT {
        resp.headers_mut().remove(header::CONTENT_LENGTH);
    }
    resp
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Transient entities are deleted from storage by a sweep for as long as the API serves.
    let sweep = state.broker.spawn_expiry_sweep(EXPIRY_SWEEP_PERIOD);
    let app = NormalizePathLayer::trim_trailing_slash().layer(router(state));
    let served = axum::serve(listener, axum::ServiceExt::<Request>::into_make_service(app))
        .with_graceful_shutdown(shutdown)
        .await;
    sweep.abort();
    served
}

/// How often expired entities and attributes are deleted. Readers stop seeing them at the
/// moment they expire, so this bounds only the lag of storage and deletion notifications.
const EXPIRY_SWEEP_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

/// The tenant named by the request (`""` for the default tenant).
pub(crate) fn tenant_of(headers: &axum::http::HeaderMap) -> ApiResult<String> {
    match headers.get(TENANT_HEADER) {
        None => Ok(String::new()),
        Some(v) => {
            let t = v.to_str().map_err(|_| ApiError::bad_data("NGSILD-Tenant is not text"))?;
            let ok = !t.is_empty()
                && t.len() <= 64
                && t.chars().all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c));
            if !ok {
                return Err(ApiError::bad_data(format!("'{t}' is not a valid tenant name")));
            }
            Ok(t.to_string())
        }
    }
}

pub(crate) fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[allow(dead_code)]
pub(crate) fn state_of(s: State<AppState>) -> AppState {
    s.0
}
