//! EntityMaps (clause 5.14, resources `/entityMaps`, `/temporal/entityMaps`): the set of
//! entity ids a query matched, kept for a while so that later pages and repeated queries
//! walk the same result set (clause 5.5.14). Maps are transient and per tenant; they live in
//! memory only and disappear at their `expiresAt`.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use citybrain_broker::{EntityQuery, QueryPage};
use citybrain_ngsi::ErrorKind;
use citybrain_ngsi::parse::is_uri;
use citybrain_ngsi::time::{Micros, format_datetime, now_micros, parse_datetime, parse_duration};
use serde_json::{Map, Value, json};

use crate::entities::{QUERY_PARAMS, entity_query};
use crate::http::{Params, parse_json};
use crate::problem::{ApiError, ApiResult};
use crate::respond::no_content;
use crate::{AppState, header_value, tenant_of};

/// Request and response header naming an EntityMap by its resource path.
pub(crate) const HEADER: &str = "NGSILD-EntityMap";
/// Path prefix of an EntityMap's resource.
const PATH: &str = "/ngsi-ld/v1/entityMaps/";
/// Lifetime when the request names none.
const DEFAULT_LIFETIME: Micros = 3_600_000_000;
/// Longest lifetime granted, whatever the request asks (Table 6.4.3.2-1 lets the broker
/// override the requested duration).
const MAX_LIFETIME: Micros = 24 * DEFAULT_LIFETIME;
/// Most maps one tenant may hold; the oldest expiring ones go first beyond it.
const MAX_MAPS: usize = 10_000;

#[derive(Clone, Debug)]
struct Stored {
    expires_at: Micros,
    ids: Vec<String>,
}

/// Every tenant's live EntityMaps.
#[derive(Default)]
pub struct EntityMaps {
    maps: Mutex<HashMap<(String, String), Stored>>,
}

/// How a query used an EntityMap, to be reported in its response.
#[derive(Debug, Clone)]
pub(crate) struct MapUse {
    /// Resource path of the map, for the `NGSILD-EntityMap` header.
    pub(crate) location: String,
    /// Whether the map was made by this request (201) or was live already (200).
    pub(crate) created: bool,
}

impl MapUse {
    /// Adds the header, and turns a 200 into 201 when a query made the map.
    pub(crate) fn mark(&self, resp: &mut Response, created_status: bool) {
        resp.headers_mut().insert(HEADER, header_value(&self.location));
        if self.created && created_status && resp.status() == StatusCode::OK {
            *resp.status_mut() = StatusCode::CREATED;
        }
    }
}

fn location(id: &str) -> String {
    format!("{PATH}{id}")
}

/// The map id a header value names: the last path segment of the resource URI.
fn id_of_location(value: &str) -> &str {
    value.rsplit('/').next().unwrap_or(value)
}

impl EntityMaps {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<(String, String), Stored>) -> T) -> T {
        let mut guard = self.maps.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = now_micros();
        guard.retain(|_, m| m.expires_at > now);
        f(&mut guard)
    }

    /// Stores a new map of `ids` and returns its id and expiry.
    fn create(&self, tenant: &str, ids: Vec<String>, lifetime: Option<Micros>) -> (String, Micros) {
        let id = format!("urn:ngsi-ld:EntityMap:{}", uuid::Uuid::new_v4());
        let expires_at =
            now_micros().saturating_add(lifetime.unwrap_or(DEFAULT_LIFETIME).min(MAX_LIFETIME));
        self.with(|maps| {
            if maps.keys().filter(|(t, _)| t == tenant).count() >= MAX_MAPS
                && let Some(oldest) = maps
                    .iter()
                    .filter(|((t, _), _)| t == tenant)
                    .min_by_key(|(_, m)| m.expires_at)
                    .map(|(k, _)| k.clone())
            {
                maps.remove(&oldest);
            }
            maps.insert((tenant.to_string(), id.clone()), Stored { expires_at, ids });
        });
        (id, expires_at)
    }

    fn get(&self, tenant: &str, id: &str) -> Option<Stored> {
        self.with(|maps| maps.get(&(tenant.to_string(), id.to_string())).cloned())
    }

    /// Restricts a live map to the ids of `matching` it holds (clause 5.5.9.3: entities no
    /// longer fitting the query leave the map) and returns them in the map's order; `None`
    /// when the map is unknown or expired.
    fn narrow(&self, tenant: &str, id: &str, matching: &[String]) -> Option<Vec<String>> {
        let now: std::collections::HashSet<&str> = matching.iter().map(String::as_str).collect();
        self.with(|maps| {
            let m = maps.get_mut(&(tenant.to_string(), id.to_string()))?;
            m.ids.retain(|i| now.contains(i.as_str()));
            Some(m.ids.clone())
        })
    }

    /// Decides how a query with `matching` ids uses an EntityMap: the live map named by the
    /// request's header narrows the result to its ids; an unknown or expired one, or the
    /// `entityMap=true` flag, makes a new map of `matching`. Returns the ids to keep (`None`:
    /// all of `matching`) and the use to report; `(None, None)` when no map is involved.
    pub(crate) fn resolve(
        &self,
        tenant: &str,
        headers: &HeaderMap,
        flag: bool,
        matching: &[String],
    ) -> ApiResult<(Option<Vec<String>>, Option<MapUse>)> {
        let named = match headers.get(HEADER) {
            Some(v) => Some(
                v.to_str()
                    .map_err(|_| ApiError::bad_data(format!("{HEADER} is not text")))?
                    .to_string(),
            ),
            None => None,
        };
        if let Some(value) = &named {
            let id = id_of_location(value.trim());
            if let Some(kept) = self.narrow(tenant, id, matching) {
                return Ok((Some(kept), Some(MapUse { location: location(id), created: false })));
            }
        }
        if named.is_none() && !flag {
            return Ok((None, None));
        }
        let (id, _) = self.create(tenant, matching.to_vec(), None);
        Ok((None, Some(MapUse { location: location(&id), created: true })))
    }

    /// The map a single-entity retrieve reports (clauses 5.7.1.4, 5.7.3.4): a live map named
    /// by the header is echoed unchanged; an unknown or expired one, or the flag, makes a new
    /// map holding `id`. `None` when the request involves no map.
    pub(crate) fn for_retrieve(
        &self,
        tenant: &str,
        headers: &HeaderMap,
        flag: bool,
        id: &str,
    ) -> Option<MapUse> {
        let named = headers.get(HEADER).and_then(|v| v.to_str().ok()).map(str::trim);
        if let Some(value) = named {
            let map_id = id_of_location(value);
            if self.get(tenant, map_id).is_some() {
                return Some(MapUse { location: location(map_id), created: false });
            }
        }
        if named.is_none() && !flag {
            return None;
        }
        let (map_id, _) = self.create(tenant, vec![id.to_string()], None);
        Some(MapUse { location: location(&map_id), created: true })
    }

    /// Whether a request asks for an EntityMap at all (flag or header).
    pub(crate) fn requested(headers: &HeaderMap, flag: bool) -> bool {
        flag || headers.contains_key(HEADER)
    }
}

/// Runs an entity query that names or asks for an EntityMap (clause 5.5.14): a live map fixes
/// the candidates to its ids, rechecked against the query; otherwise a new map of every
/// matching id is made. Paging then walks the fixed set.
pub(crate) fn query_page(
    st: &AppState,
    tenant: &str,
    headers: &HeaderMap,
    flag: bool,
    query: &mut EntityQuery,
) -> ApiResult<(QueryPage, Option<MapUse>)> {
    let matching = st.broker.query_ids(tenant, query)?;
    let (kept, used) = st.maps.resolve(tenant, headers, flag, &matching)?;
    if let Some(kept) = kept {
        if kept.is_empty() {
            let page = QueryPage { entities: Vec::new(), total: query.count.then_some(0) };
            return Ok((page, used));
        }
        query.ids = kept;
    }
    Ok((st.broker.query_entities(tenant, query)?, used))
}

/// The 5.2.39 representation of a map.
fn render(id: &str, m: &Stored) -> Value {
    let entries: Map<String, Value> = m.ids.iter().map(|i| (i.clone(), json!(["@none"]))).collect();
    json!({
        "id": id,
        "type": "EntityMap",
        "expiresAt": format_datetime(m.expires_at),
        "entityMap": entries,
        "linkedMaps": {},
    })
}

fn created(id: &str, m: &Stored) -> Response {
    let mut resp = (StatusCode::CREATED, render(id, m).to_string()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, header_value("application/json"));
    resp.headers_mut().insert(HEADER, header_value(&location(id)));
    resp
}

fn check_map_id(id: &str) -> ApiResult<()> {
    if is_uri(id) {
        Ok(())
    } else {
        Err(ApiError::bad_data(format!("EntityMap id '{id}' is not a URI")))
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::kind(ErrorKind::ResourceNotFound, format!("no EntityMap '{id}'"))
}

fn lifetime(p: &Params) -> ApiResult<Option<Micros>> {
    p.get("entityMapLifetime")
        .map(|text| {
            parse_duration(text).filter(|d| *d > 0).ok_or_else(|| {
                ApiError::bad_data(format!(
                    "entityMapLifetime must be an ISO 8601 duration such as PT1H, not '{text}'"
                ))
            })
        })
        .transpose()
}

/// Clause 5.14.4.4: a query naming none of type, attrs, q, a geo-query or `local` is too wide.
fn check_not_too_wide(p: &Params, q: &EntityQuery) -> ApiResult<()> {
    let local = p.get("local") == Some("true");
    if q.types.is_none() && q.attrs.is_empty() && q.q.is_none() && q.geo.is_none() && !local {
        return Err(ApiError::bad_data(
            "an EntityMap query needs at least one of type, attrs, q, a geo-query or local=true",
        ));
    }
    Ok(())
}

/// GET /entityMaps: creates a map of the entities a query matches.
pub(crate) async fn create_for_query(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let allowed: Vec<&str> = QUERY_PARAMS.iter().copied().chain(["entityMapLifetime"]).collect();
    let p = Params::parse(q.as_deref(), &allowed)?;
    let tenant = tenant_of(&headers)?;
    let rctx = st.contexts.for_headers(&headers).await?;
    let query = entity_query(&p, &rctx.ctx, false)?;
    check_not_too_wide(&p, &query)?;
    let life = lifetime(&p)?;
    let ids = st.broker.query_ids(&tenant, &query)?;
    let (id, expires_at) = st.maps.create(&tenant, ids.clone(), life);
    Ok(created(&id, &Stored { expires_at, ids }))
}

/// GET /temporal/entityMaps: creates a map of the entities a temporal query matches.
pub(crate) async fn create_for_temporal_query(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let allowed: Vec<&str> = QUERY_PARAMS
        .iter()
        .chain(crate::temporal::TEMPORAL_PARAMS)
        .copied()
        .chain(["entityMapLifetime"])
        .collect();
    let p = Params::parse(q.as_deref(), &allowed)?;
    if p.get("timerel").is_none() {
        return Err(ApiError::bad_data(
            "a temporal EntityMap needs a temporal query (timerel and timeAt)",
        ));
    }
    let tenant = tenant_of(&headers)?;
    let rctx = st.contexts.for_headers(&headers).await?;
    let mut query = entity_query(&p, &rctx.ctx, false)?;
    check_not_too_wide(&p, &query)?;
    let life = lifetime(&p)?;
    query.attrs.clear();
    let ids = crate::temporal::matching_ids(&st, &tenant, &p, &query, &rctx.ctx).await?;
    let (id, expires_at) = st.maps.create(&tenant, ids.clone(), life);
    Ok(created(&id, &Stored { expires_at, ids }))
}

/// GET /entityMaps/{id}
pub(crate) async fn retrieve(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    check_map_id(&id)?;
    let tenant = tenant_of(&headers)?;
    let m = st.maps.get(&tenant, &id).ok_or_else(|| not_found(&id))?;
    let mut resp = (StatusCode::OK, render(&id, &m).to_string()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, header_value("application/json"));
    Ok(resp)
}

/// PATCH /entityMaps/{id}: only `expiresAt` can change; output-only members are ignored.
pub(crate) async fn update(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    check_map_id(&id)?;
    let tenant = tenant_of(&headers)?;
    let json = parse_json(&body)?;
    let obj = json.as_object().ok_or_else(|| ApiError::bad_data("the body must be an object"))?;
    let expires = obj
        .get("expiresAt")
        .map(|v| {
            v.as_str().and_then(parse_datetime).ok_or_else(|| {
                ApiError::bad_data(format!("expiresAt must be a DateTime string, not {v}"))
            })
        })
        .transpose()?;
    let limit = now_micros().saturating_add(MAX_LIFETIME);
    let found = st.maps.with(|maps| {
        let Some(m) = maps.get_mut(&(tenant.clone(), id.clone())) else {
            return false;
        };
        if let Some(t) = expires {
            m.expires_at = t.min(limit);
        }
        true
    });
    if found { Ok(no_content()) } else { Err(not_found(&id)) }
}

/// DELETE /entityMaps/{id}
pub(crate) async fn delete(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    check_map_id(&id)?;
    let tenant = tenant_of(&headers)?;
    let removed = st.maps.with(|maps| maps.remove(&(tenant, id.clone())).is_some());
    if removed { Ok(no_content()) } else { Err(not_found(&id)) }
}
