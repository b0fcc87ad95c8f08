//! `/temporal/entities` and `/temporal/entityOperations/query`: the temporal API.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use citybrain_ngsi::AttrKind;
use citybrain_ngsi::Context;
use citybrain_ngsi::model::Attribute;
use citybrain_ngsi::parse::{
    NGSI_LD_NULL, attribute_name, is_uri, parse_instance, parse_temporal_scope, parse_types,
};
use citybrain_ngsi::render::RenderOptions;
use citybrain_ngsi::temporal::{
    INSTANCE_LIMIT, Instance, SCOPE_IRI, TemporalEntity, TemporalFilter, TemporalFormat,
    render_temporal,
};
use citybrain_ngsi::time::{Micros, now_micros, parse_datetime};
use serde_json::Value;

use crate::contexts::RequestContext;
use crate::entities::{DEFAULT_LIMIT, MAX_LIMIT, QUERY_PARAMS, View, entity_query};
use crate::http::{Media, Options, Params, body_type, negotiate, parse_json};
use crate::problem::{ApiError, ApiResult};
use crate::respond::{self, no_content};
use crate::{AppState, header_value, tenant_of};

pub(crate) const TEMPORAL_PARAMS: &[&str] = &[
    "timerel",
    "timeAt",
    "endTimeAt",
    "lastN",
    "timeproperty",
    "aggrMethods",
    "aggrPeriodDuration",
];

fn check_id(id: &str) -> ApiResult<()> {
    if is_uri(id) {
        Ok(())
    } else {
        Err(ApiError::bad_data(format!("entity id '{id}' is not a URI")))
    }
}

/// An instanceId is a URI (clause 4.5.7); anything else is BadRequestData, not a miss.
fn check_instance_id(instance: &str) -> ApiResult<()> {
    if is_uri(instance) {
        Ok(())
    } else {
        Err(ApiError::bad_data(format!("instanceId '{instance}' is not a URI")))
    }
}

/// Parses the attribute instances of a temporal body (every attribute may hold many).
fn instances(json: &Value, ctx: &Context) -> ApiResult<Vec<(String, Attribute)>> {
    let map =
        json.as_object().ok_or_else(|| ApiError::bad_data("the body must be a JSON object"))?;
    let now = now_micros();
    let mut out = Vec::new();
    for (key, value) in map {
        if matches!(key.as_str(), "id" | "type" | "@context" | "scope" | "createdAt" | "modifiedAt")
        {
            continue;
        }
        if value.as_str() == Some(NGSI_LD_NULL) {
            return Err(ApiError::bad_data(format!(
                "member '{key}' is {NGSI_LD_NULL}: NGSI-LD Null may stand for a whole member \
                 only in partial update and merge fragments (clause 5.5.4), not in a \
                 temporal entity"
            )));
        }
        let name = attribute_name(key, ctx)?;
        let items: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for item in items {
            out.push((name.clone(), parse_instance(key, item, ctx, now)?));
        }
    }
    Ok(out)
}

/// The `scope` of a temporal entity: the scopes it holds now and, when it is given as
/// Property instances (clause 4.5.6), those instances for its temporal evolution. The scopes
/// held now are those of the most recently observed instance.
fn temporal_scope(value: &Value) -> ApiResult<(Vec<String>, Vec<Attribute>)> {
    let items: Vec<&Value> = match value {
        Value::Object(_) => vec![value],
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            items.iter().collect()
        }
        plain => return Ok((parse_temporal_scope(plain)?, Vec::new())),
    };
    let now = now_micros();
    let mut out: Vec<Attribute> = Vec::with_capacity(items.len());
    for item in items {
        let scopes = parse_temporal_scope(item)?;
        let mut attr = Attribute::new(AttrKind::Property, serde_json::json!(scopes));
        attr.observed_at = match item.get("observedAt") {
            None => None,
            Some(t) => Some(t.as_str().and_then(parse_datetime).ok_or_else(|| {
                ApiError::bad_data(format!("scope observedAt must be a DateTime, not {t}"))
            })?),
        };
        attr.stamp(now, now);
        out.push(attr);
    }
    let latest = out.iter().max_by_key(|a| a.observed_at).map(|a| scope_list(&a.value));
    Ok((latest.unwrap_or_default(), out))
}

fn scope_list(value: &Value) -> Vec<String> {
    value.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
}

/// POST /temporal/entities
pub(crate) async fn create(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let _ = Params::parse(q.as_deref(), &["local"])?;
    let bt = body_type(&headers, false)?;
    let tenant = tenant_of(&headers)?;
    let json = parse_json(&body)?;
    let rctx = st.contexts.for_body(&headers, &json, bt).await?;
    let id = json
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_data("the temporal entity has no 'id'"))?
        .to_string();
    check_id(&id)?;
    let types = parse_types(
        json.get("type").ok_or_else(|| ApiError::bad_data("the temporal entity has no 'type'"))?,
        &rctx.ctx,
    )?;
    let mut attrs = instances(&json, &rctx.ctx)?;
    let (scope, scope_instances) = match json.get("scope") {
        Some(value) => temporal_scope(value)?,
        None => (Vec::new(), Vec::new()),
    };
    attrs.extend(scope_instances.into_iter().map(|a| (SCOPE_IRI.to_string(), a)));
    let created = st.broker.temporal_upsert(&tenant, &id, types, scope, attrs).await?;
    if created {
        let mut resp = StatusCode::CREATED.into_response();
        resp.headers_mut()
            .insert(header::LOCATION, header_value(&format!("/ngsi-ld/v1/temporal/entities/{id}")));
        Ok(resp)
    } else {
        Ok(no_content())
    }
}

/// POST /temporal/entities/{id}/attrs
pub(crate) async fn append(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let _ = Params::parse(q.as_deref(), &["local"])?;
    let bt = body_type(&headers, false)?;
    check_id(&id)?;
    let tenant = tenant_of(&headers)?;
    let json = parse_json(&body)?;
    let rctx = st.contexts.for_body(&headers, &json, bt).await?;
    let attrs = instances(&json, &rctx.ctx)?;
    st.broker.temporal_append(&tenant, &id, attrs).await?;
    Ok(no_content())
}

/// DELETE /temporal/entities/{id}
pub(crate) async fn delete(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let _ = Params::parse(q.as_deref(), &["local"])?;
    check_id(&id)?;
    let tenant = tenant_of(&headers)?;
    st.broker.temporal_delete(&tenant, &id).await?;
    Ok(no_content())
}

/// DELETE /temporal/entities/{id}/attrs/{attr}
pub(crate) async fn delete_attr(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((id, attr)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref(), &["datasetId", "deleteAll", "local"])?;
    check_id(&id)?;
    let tenant = tenant_of(&headers)?;
    let rctx = st.contexts.for_headers(&headers).await?;
    let name = attribute_name(&attr, &rctx.ctx)?;
    st.broker
        .temporal_delete_attr(&tenant, &id, &name, p.get("datasetId"), p.flag("deleteAll")?)
        .await?;
    Ok(no_content())
}

/// DELETE /temporal/entities/{id}/attrs/{attr}/{instanceId}
pub(crate) async fn delete_instance(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((id, attr, instance)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    check_id(&id)?;
    check_instance_id(&instance)?;
    let tenant = tenant_of(&headers)?;
    let rctx = st.contexts.for_headers(&headers).await?;
    let name = attribute_name(&attr, &rctx.ctx)?;
    st.broker.temporal_delete_instance(&tenant, &id, &name, &instance).await?;
    Ok(no_content())
}

/// PATCH /temporal/entities/{id}/attrs/{attr}/{instanceId}
pub(crate) async fn modify_instance(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((id, attr, instance)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let bt = body_type(&headers, true)?;
    check_id(&id)?;
    check_instance_id(&instance)?;
    let tenant = tenant_of(&headers)?;
    let json = parse_json(&body)?;
    let rctx = st.contexts.for_body(&headers, &json, bt).await?;
    let name = attribute_name(&attr, &rctx.ctx)?;
    let value = json.get(&attr).cloned().unwrap_or(json.clone());
    let value = match value {
        Value::Array(mut items) if !items.is_empty() => items.remove(0),
        Value::Object(mut m) => {
            m.remove("@context");
            Value::Object(m)
        }
        other => other,
    };
    let new = parse_instance(&attr, &value, &rctx.ctx, now_micros())?;
    st.broker.temporal_modify_instance(&tenant, &id, &name, &instance, new).await?;
    Ok(no_content())
}

struct TemporalView {
    filter: TemporalFilter,
    format: TemporalFormat,
    view: View,
}

fn temporal_view(p: &Params, ctx: &Context) -> ApiResult<TemporalView> {
    let mut filter = TemporalFilter::parse(
        p.get("timerel"),
        p.get("timeAt"),
        p.get("endTimeAt"),
        p.get("timeproperty"),
        p.get("lastN"),
    )?;
    filter.attrs = p.list("attrs").iter().map(|a| ctx.expand(a)).collect();
    filter.dataset_id = p.list("datasetId");
    let opts = Options::parse(p)?;
    // Clause 6.3.12: with both present, `format` takes precedence over `options`.
    let (aggregated, values) = match p.get("format") {
        Some(f) => (f == "aggregatedValues", f == "temporalValues"),
        None => (opts.aggregated, opts.temporal_values),
    };
    let format = if aggregated {
        TemporalFormat::aggregated(p.get("aggrMethods"), p.get("aggrPeriodDuration"))?
    } else if values {
        TemporalFormat::Values
    } else {
        TemporalFormat::Normalized
    };
    Ok(TemporalView { filter, format, view: View::from_params(p, ctx)? })
}

/// Clause 5.7.3.4 / 5.7.4.4: the temporal API has no Linked Entity retrieval, so a projection
/// or filter reaching into a linked entity (`attr{…}`) is BadRequestData.
fn reject_linked(p: &Params) -> ApiResult<()> {
    for name in ["attrs", "pick", "omit", "q"] {
        if p.get(name).is_some_and(|v| v.contains('{')) {
            return Err(ApiError::bad_data(format!(
                "'{name}' selects a linked entity (attr{{…}}), which the temporal API does not support"
            )));
        }
    }
    Ok(())
}

/// Clause 5.7.4.4 checks of a temporal query beyond the entity query's: the too-wide guard
/// of Query Entities (see [`crate::checks::too_wide`]), `csf` must parse. `orderBy` follows
/// clause 4.23 as on Query Entities (suite file 021_23).
fn check_temporal_query(p: &Params, ctx: &Context) -> ApiResult<()> {
    reject_linked(p)?;
    if crate::checks::too_wide(p, ctx) {
        return Err(ApiError::bad_data(crate::checks::TOO_WIDE));
    }
    if let Some(csf) = p.get("csf") {
        citybrain_ngsi::query::parse_q(csf, &|t| ctx.expand(t))
            .map_err(|e| ApiError::bad_data(format!("csf is not a valid filter: {}", e.detail)))?;
    }
    Ok(())
}

/// The instances of one attribute each, as a response carries them.
type Kept = BTreeMap<String, Vec<(Micros, Instance)>>;

/// The instances of `e` in the window that the response shows (`pick`/`omit` applied), cut
/// to one page (clause 6.3.10) unless aggregated; with whether anything was cut.
fn page_of(e: &TemporalEntity, tv: &TemporalView, rctx: &RequestContext) -> (Kept, bool) {
    let mut kept = tv.filter.apply(e);
    let o: RenderOptions<'_> = tv.view.options(&rctx.ctx);
    kept.retain(|name, _| o.attrs.is_none_or(|a| a.contains(name)) && !o.omit.contains(name));
    let cut = !matches!(tv.format, TemporalFormat::Aggregated { .. })
        && tv.filter.page(&mut kept, INSTANCE_LIMIT);
    (kept, cut)
}

fn render(e: &TemporalEntity, kept: &Kept, tv: &TemporalView, rctx: &RequestContext) -> Value {
    let o: RenderOptions<'_> = tv.view.options(&rctx.ctx);
    render_temporal(e, kept, &tv.format, &o)
}

/// Clause 6.3.10: a response whose instances were cut to a page is 206 Partial Content with
/// a `date-time` Content-Range telling the client where the next page starts.
fn mark_partial<'a>(
    resp: &mut Response,
    tv: &TemporalView,
    pages: impl IntoIterator<Item = &'a Kept>,
) {
    if let Some(range) = tv.filter.content_range(pages) {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        resp.headers_mut().insert(header::CONTENT_RANGE, header_value(&range));
    }
}

/// GET /temporal/entities/{id}
pub(crate) async fn retrieve(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let allowed: Vec<&str> =
        ["attrs", "options", "format", "lang", "pick", "omit", "local", "datasetId", "entityMap"]
            .iter()
            .chain(TEMPORAL_PARAMS)
            .copied()
            .collect();
    let p = Params::parse(q.as_deref(), &allowed)?;
    reject_linked(&p)?;
    let media = negotiate(&headers, &[Media::Json, Media::LdJson])?;
    check_id(&id)?;
    let tenant = tenant_of(&headers)?;
    let rctx = st.contexts.for_headers(&headers).await?;
    let tv = temporal_view(&p, &rctx.ctx)?;
    let e = st.broker.temporal_entity(&tenant, &id).await?;
    // 020_08, 020_23: attrs matching no attribute, or pick/omit leaving nothing, is 404.
    if tv.view.selects_nothing(e.attrs.keys(), !e.scope.is_empty()) {
        return Err(crate::entities::nothing_selected(&e.id));
    }
    let flag = p.flag("entityMap")?;
    let (kept, cut) = page_of(&e, &tv, &rctx);
    let mut resp =
        respond::json(StatusCode::OK, media, &rctx, render(&e, &kept, &tv, &rctx), &headers);
    if cut {
        mark_partial(&mut resp, &tv, [&kept]);
    }
    // Clause 5.7.3.4: a retrieve asking for a map gets one holding the entity; the response
    // stays 200 since the resource is the entity, not the map.
    if let Some(u) = st.maps.for_retrieve(&tenant, &headers, flag, &e.id) {
        u.mark(&mut resp, false);
    }
    Ok(resp)
}

/// GET /temporal/entities
pub(crate) async fn query(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let allowed: Vec<&str> = QUERY_PARAMS.iter().chain(TEMPORAL_PARAMS).copied().collect();
    let p = Params::parse(q.as_deref(), &allowed)?.with_count_option_as_flag();
    Options::parse_or(&p, citybrain_ngsi::ErrorKind::InvalidRequest)?;
    let media = negotiate(&headers, &[Media::Json, Media::LdJson])?;
    let tenant = tenant_of(&headers)?;
    let rctx = st.contexts.for_headers(&headers).await?;
    check_temporal_query(&p, &rctx.ctx)?;
    let mut tv = temporal_view(&p, &rctx.ctx)?;
    let mut eq = entity_query(&p, &rctx.ctx, true)?;
    eq.attrs.clear();
    tv.filter.scope_q = eq.scope_q.clone();
    let flag = p.flag("entityMap")?;
    let ordering = crate::order::Ordering::from_params(&p, &rctx.ctx)?;
    let shape = QueryShape { media, map_flag: flag, ordering: ordering.as_ref() };
    run_query(&st, &tenant, &eq, &tv, &rctx, &headers, shape).await
}

/// How a temporal query answers besides what it selects: media type, EntityMap flag and
/// the clause 4.23 ordering of the entities.
struct QueryShape<'a> {
    media: Media,
    map_flag: bool,
    ordering: Option<&'a crate::order::Ordering>,
}

/// Orders temporal entities by what their time window last saw of each attribute.
fn order_entities(
    found: Vec<TemporalEntity>,
    tv: &TemporalView,
    ordering: &crate::order::Ordering,
) -> Vec<TemporalEntity> {
    let mut views: Vec<citybrain_ngsi::model::Entity> =
        found.iter().map(|e| tv.filter.latest_in_window(e)).collect();
    ordering.sort(&mut views);
    let mut by_id: std::collections::HashMap<String, TemporalEntity> =
        found.into_iter().map(|e| (e.id.clone(), e)).collect();
    views.iter().filter_map(|v| by_id.remove(&v.id)).collect()
}

/// The temporal entities that `eq` and the window of `tv` select, in the broker's order.
async fn matching(
    st: &AppState,
    tenant: &str,
    eq: &citybrain_broker::EntityQuery,
    tv: &TemporalView,
) -> ApiResult<Vec<TemporalEntity>> {
    let all = st.broker.temporal_query(tenant, eq).await?;
    Ok(all
        .into_iter()
        .filter(|e| tv.filter.attrs.is_empty() || !tv.filter.apply(e).is_empty())
        .filter(|e| !windowed_filters(eq) || eq.matches(&tv.filter.window_entity(e)))
        .collect())
}

/// Ids of the entities with instances inside the temporal query's window (clause 5.14.5.4:
/// the candidates of a temporal EntityMap).
pub(crate) async fn matching_ids(
    st: &AppState,
    tenant: &str,
    p: &Params,
    eq: &citybrain_broker::EntityQuery,
    ctx: &Context,
) -> ApiResult<Vec<String>> {
    let tv = temporal_view(p, ctx)?;
    Ok(matching(st, tenant, eq, &tv)
        .await?
        .into_iter()
        .filter(|e| !tv.filter.apply(e).is_empty())
        .map(|e| e.id)
        .collect())
}

async fn run_query(
    st: &AppState,
    tenant: &str,
    eq: &citybrain_broker::EntityQuery,
    tv: &TemporalView,
    rctx: &RequestContext,
    headers: &HeaderMap,
    shape: QueryShape<'_>,
) -> ApiResult<Response> {
    let QueryShape { media, map_flag, ordering } = shape;
    let mut found = matching(st, tenant, eq, tv).await?;
    if let Some(ordering) = ordering {
        found = order_entities(found, tv, ordering);
    }
    let mut map_use = None;
    if crate::entity_maps::EntityMaps::requested(headers, map_flag) {
        let ids: Vec<String> = found.iter().map(|e| e.id.clone()).collect();
        let (kept, used) = st.maps.resolve(tenant, headers, map_flag, &ids)?;
        if let Some(kept) = kept {
            let kept: std::collections::HashSet<String> = kept.into_iter().collect();
            found.retain(|e| kept.contains(&e.id));
        }
        map_use = used;
    }
    let total = found.len();
    let entities: Vec<&TemporalEntity> = found.iter().skip(eq.offset).take(eq.limit).collect();
    let pages: Vec<(Kept, bool)> = entities.iter().map(|e| page_of(e, tv, rctx)).collect();
    let body: Vec<Value> =
        entities.iter().zip(&pages).map(|(e, (kept, _))| render(e, kept, tv, rctx)).collect();
    let mut resp = respond::json(StatusCode::OK, media, rctx, Value::Array(body), headers);
    if pages.iter().any(|(_, cut)| *cut) {
        mark_partial(&mut resp, tv, pages.iter().map(|(kept, _)| kept));
    }
    if eq.count {
        resp.headers_mut().insert("NGSILD-Results-Count", header_value(&total.to_string()));
    }
    if let Some(u) = map_use {
        u.mark(&mut resp, true);
    }
    Ok(resp)
}

/// Whether `eq` filters on attribute content (`q`, geo-query, `scopeQ`), which a temporal
/// query judges on the instances inside the time window only.
fn windowed_filters(eq: &citybrain_broker::EntityQuery) -> bool {
    eq.q.is_some() || eq.geo.is_some() || eq.scope_q.is_some()
}

/// POST /temporal/entityOperations/query
pub(crate) async fn query_post(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let url_params = Params::parse(
        q.as_deref(),
        &[
            "limit",
            "offset",
            "count",
            "options",
            "format",
            "local",
            "lang",
            "aggrMethods",
            "aggrPeriodDuration",
            "lastN",
        ],
    )?;
    let bt = body_type(&headers, false)?;
    let media = negotiate(&headers, &[Media::Json, Media::LdJson])?;
    let tenant = tenant_of(&headers)?;
    let json = parse_json(&body)?;
    if json.get("type").and_then(Value::as_str) != Some("Query") {
        return Err(ApiError::bad_data("the body must be a Query (\"type\": \"Query\")"));
    }
    let rctx = st.contexts.for_body(&headers, &json, bt).await?;
    // Turn the body into GET-style parameters so one code path validates everything.
    let mut pairs: Vec<String> = q.clone().map(|s| vec![s]).unwrap_or_default();
    let enc = |s: &str| {
        s.replace('%', "%25")
            .replace('&', "%26")
            .replace('=', "%3D")
            .replace('+', "%2B")
            .replace('#', "%23")
    };
    if let Some(entities) = json.get("entities").and_then(Value::as_array) {
        let types: Vec<&str> =
            entities.iter().filter_map(|e| e.get("type").and_then(Value::as_str)).collect();
        if !types.is_empty() {
            pairs.push(format!("type={}", enc(&types.join(","))));
        }
        let ids: Vec<&str> =
            entities.iter().filter_map(|e| e.get("id").and_then(Value::as_str)).collect();
        if !ids.is_empty() {
            pairs.push(format!("id={}", enc(&ids.join(","))));
        }
        if let Some(pat) = entities.iter().find_map(|e| e.get("idPattern").and_then(Value::as_str))
        {
            pairs.push(format!("idPattern={}", enc(pat)));
        }
    }
    if let Some(attrs) = json.get("attrs").and_then(Value::as_array) {
        let names: Vec<&str> = attrs.iter().filter_map(Value::as_str).collect();
        pairs.push(format!("attrs={}", enc(&names.join(","))));
    }
    if let Some(qs) = json.get("q").and_then(Value::as_str) {
        pairs.push(format!("q={}", enc(qs)));
    }
    if let Some(t) = json.get("temporalQ").and_then(Value::as_object) {
        for k in ["timerel", "timeAt", "endTimeAt", "timeproperty", "lastN"] {
            if let Some(v) = t.get(k) {
                let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                pairs.push(format!("{k}={}", enc(&text)));
            }
        }
    }
    // Aggregation (clause 5.2.21 / 5.2.44): `aggrMethods` (an array or a comma separated
    // string) and `aggrPeriodDuration`, in `temporalQ` or in `aggrParams`; naming methods
    // asks for the aggregated representation.
    let mut aggregate = false;
    for holder in ["temporalQ", "aggrParams"] {
        let Some(t) = json.get(holder).and_then(Value::as_object) else { continue };
        if let Some(m) = t.get("aggrMethods") {
            let text = match m {
                Value::String(s) => s.clone(),
                Value::Array(items) => items
                    .iter()
                    .map(|i| {
                        i.as_str().map(str::to_string).ok_or_else(|| {
                            ApiError::bad_data(format!(
                                "aggrMethods entries must be strings, not {i}"
                            ))
                        })
                    })
                    .collect::<ApiResult<Vec<_>>>()?
                    .join(","),
                other => {
                    return Err(ApiError::bad_data(format!(
                        "aggrMethods must be a string or an array of strings, not {other}"
                    )));
                }
            };
            pairs.push(format!("aggrMethods={}", enc(&text)));
            aggregate = true;
        }
        if let Some(d) = t.get("aggrPeriodDuration") {
            let text = d.as_str().map_or_else(|| d.to_string(), str::to_string);
            pairs.push(format!("aggrPeriodDuration={}", enc(&text)));
        }
    }
    if aggregate && url_params.get("options").is_none() && url_params.get("format").is_none() {
        pairs.push("options=aggregatedValues".to_string());
    }
    let raw = pairs.join("&");
    let allowed: Vec<&str> = QUERY_PARAMS.iter().chain(TEMPORAL_PARAMS).copied().collect();
    let gp = Params::parse(Some(&raw), &allowed)?;
    let mut tv = temporal_view(&gp, &rctx.ctx)?;
    let mut eq = entity_query(&gp, &rctx.ctx, false)?;
    eq.attrs.clear();
    tv.filter.scope_q = eq.scope_q.clone();
    eq.limit = gp.usize("limit")?.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let shape = QueryShape { media, map_flag: false, ordering: None };
    run_query(&st, &tenant, &eq, &tv, &rctx, &headers, shape).await
}
