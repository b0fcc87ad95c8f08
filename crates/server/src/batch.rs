//! `/entityOperations/{create,upsert,update,delete,merge,query}`: batch operations with the
//! 207 multi-status results the spec defines, and query by POST.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use citybrain_broker::{BatchError, BatchOp, BatchResult, UpsertMode};
use citybrain_ngsi::error::NgsiError;
use citybrain_ngsi::filters::{parse_id_pattern, parse_scope_q, parse_type_expr};
use citybrain_ngsi::parse::{Fragment, is_uri, parse_fragment};
use citybrain_ngsi::query::parse_q;
use citybrain_ngsi::time::now_micros;
use serde_json::{Value, json};

use crate::entities::{DEFAULT_LIMIT, MAX_LIMIT, View, geo_query, query_response};
use crate::http::{BodyType, Media, Options, Params, body_type, negotiate, parse_json};
use crate::problem::{ApiError, ApiResult};
use crate::respond::{self, no_content};
use crate::{AppState, header_value, tenant_of};

/// POST /entityOperations/{op}
pub(crate) async fn operation(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(op): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    if op == "query" {
        return query(st, headers, q, body).await;
    }
    let p = Params::parse(q.as_deref(), &["options", "local"])?;
    let opts = Options::parse(&p)?;
    let op = match op.as_str() {
        "create" => BatchOp::Create,
        "upsert" => {
            BatchOp::Upsert(if opts.update { UpsertMode::Update } else { UpsertMode::Replace })
        }
        "update" => BatchOp::Update { no_overwrite: opts.no_overwrite },
        "merge" => BatchOp::Merge,
        "delete" => return delete(st, headers, body).await,
        other => return Err(ApiError::invalid(format!("unknown entity operation '{other}'"))),
    };
    let bt = body_type(&headers, false)?;
    if bt == BodyType::LdJson && crate::http::link_context(&headers)?.is_some() {
        // The whole request is malformed, not one item (clause 6.3.5).
        return Err(ApiError::bad_data(
            "a JSON-LD Link header cannot accompany an application/ld+json body: each \
             entity's @context goes in the body (clause 6.3.5)",
        ));
    }
    let tenant = tenant_of(&headers)?;
    let json = batch_json(&body)?;
    let Value::Array(items) = json else {
        return Err(ApiError::bad_data("a batch operation needs a JSON array of entities"));
    };
    if items.is_empty() {
        return Err(ApiError::bad_data("the batch is empty"));
    }
    if let Some(i) = items.iter().position(Value::is_null) {
        // Clause 5.6.7.4: a null item fails the whole request.
        return Err(ApiError::bad_data(format!("batch item #{i} is null")));
    }
    let mut fragments = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        fragments.push(parse_item(&st, &headers, item, bt, i).await);
    }
    let result = st.broker.batch(&tenant, op, fragments).await?;
    Ok(batch_response(op, result))
}

async fn parse_item(
    st: &AppState,
    headers: &HeaderMap,
    item: &Value,
    bt: BodyType,
    index: usize,
) -> Result<Fragment, BatchError> {
    let id =
        item.get("id").and_then(Value::as_str).map_or_else(|| format!("#{index}"), str::to_string);
    let fail = |e: NgsiError| BatchError { entity_id: id.clone(), error: e };
    if !item.is_object() {
        return Err(fail(NgsiError::bad_data("each batch item must be a JSON object")));
    }
    let rctx = st.contexts.for_body(headers, item, bt).await.map_err(|e| fail(e.0))?;
    let fragment = parse_fragment(item, &rctx.ctx, now_micros()).map_err(fail)?;
    if fragment.id.is_none() {
        return Err(fail(NgsiError::bad_data("the entity has no 'id'")));
    }
    Ok(fragment)
}

fn errors_json(errors: &[BatchError]) -> Vec<Value> {
    errors
        .iter()
        .map(|e| json!({"entityId": e.entity_id, "error": e.error.problem_details()}))
        .collect()
}

fn json_response(status: StatusCode, body: Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, header_value("application/json"));
    resp
}

fn batch_response(op: BatchOp, r: BatchResult) -> Response {
    if !r.errors.is_empty() {
        return json_response(
            StatusCode::MULTI_STATUS,
            json!({"success": r.success, "errors": errors_json(&r.errors)}),
        );
    }
    match op {
        BatchOp::Create => json_response(StatusCode::CREATED, json!(r.success)),
        BatchOp::Upsert(_) if !r.created.is_empty() => {
            json_response(StatusCode::CREATED, json!(r.created))
        }
        _ => no_content(),
    }
}

/// A batch body as JSON. An empty body is an empty batch, well-formed but holding nothing
/// to operate on (BadRequestData, as for `[]`; 003_03_02, 006_03_02), not a malformed request.
fn batch_json(body: &[u8]) -> ApiResult<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_data("the batch is empty: the body holds no entities"));
    }
    parse_json(body)
}

async fn delete(st: AppState, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    body_type(&headers, false)?;
    let tenant = tenant_of(&headers)?;
    let json = batch_json(&body)?;
    let Value::Array(items) = json else {
        return Err(ApiError::bad_data("batch delete needs a JSON array of entity ids"));
    };
    if items.is_empty() {
        return Err(ApiError::bad_data("the batch is empty"));
    }
    if let Some(i) = items.iter().position(Value::is_null) {
        // Clause 5.6.7.4: a null item fails the whole request.
        return Err(ApiError::bad_data(format!("batch item #{i} is null")));
    }
    let mut ids = Vec::new();
    let mut bad = Vec::new();
    for item in items {
        match item.as_str() {
            Some(id) if is_uri(id) => ids.push(id.to_string()),
            _ => bad.push(BatchError {
                entity_id: item.as_str().unwrap_or_default().to_string(),
                error: NgsiError::bad_data(format!("{item} is not an entity id")),
            }),
        }
    }
    let mut result = st.broker.batch_delete(&tenant, ids).await?;
    result.errors.extend(bad);
    Ok(batch_response(BatchOp::Merge, result))
}

/// POST /entityOperations/query
async fn query(
    st: AppState,
    headers: HeaderMap,
    q: Option<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let p = Params::parse(
        q.as_deref(),
        &["limit", "offset", "count", "options", "format", "local", "lang"],
    )?;
    let bt = body_type(&headers, false)?;
    let media = negotiate(&headers, &[Media::Json, Media::LdJson, Media::GeoJson])?;
    let tenant = tenant_of(&headers)?;
    let json = parse_json(&body)?;
    if json.get("type").and_then(Value::as_str) != Some("Query") {
        return Err(ApiError::bad_data("the body must be a Query (\"type\": \"Query\")"));
    }
    crate::checks::check_query_body(&json)?;
    let rctx = st.contexts.for_body(&headers, &json, bt).await?;
    let ctx = rctx.ctx.clone();
    let expand = |t: &str| ctx.expand(t);
    let mut query = citybrain_broker::EntityQuery {
        limit: p.usize("limit")?.unwrap_or(DEFAULT_LIMIT),
        offset: p.usize("offset")?.unwrap_or(0),
        count: p.flag("count")?,
        ..Default::default()
    };
    if query.limit > MAX_LIMIT {
        return Err(ApiError::kind(citybrain_ngsi::ErrorKind::TooManyResults, "limit too large"));
    }
    if let Some(entities) = json.get("entities").and_then(Value::as_array) {
        // One selector is supported exactly; several are combined into an id list + type union.
        let mut type_names = Vec::new();
        for sel in entities {
            let selector = crate::checks::entity_selector(sel)?;
            if selector.ids.is_empty() {
                if let Some(pat) = selector.id_pattern {
                    query.id_pattern = Some(parse_id_pattern(pat)?);
                }
            } else {
                // Table 5.2.33-1: id takes precedence over idPattern.
                query.ids.extend(selector.ids);
            }
            type_names.push(selector.type_expr.to_string());
        }
        if !type_names.is_empty() {
            query.types = Some(parse_type_expr(&type_names.join(","), &expand)?);
        }
    }
    if let Some(attrs) = json.get("attrs").and_then(Value::as_array) {
        query.attrs = attrs.iter().filter_map(Value::as_str).map(|a| ctx.expand(a)).collect();
    }
    if let Some(qs) = json.get("q").and_then(Value::as_str) {
        query.q = Some(parse_q(qs, &expand)?);
    }
    if let Some(s) = json.get("scopeQ").and_then(Value::as_str) {
        query.scope_q = Some(parse_scope_q(s)?);
    }
    if let Some(g) = json.get("geoQ") {
        query.geo = geo_query(
            g.get("georel").and_then(Value::as_str),
            g.get("geometry").and_then(Value::as_str),
            g.get("coordinates").cloned(),
            g.get("geoproperty").and_then(Value::as_str),
            &ctx,
        )?;
    }
    let mut view_params = Vec::new();
    if let Some(attrs) = json.get("attrs").and_then(Value::as_array) {
        let names: Vec<&str> = attrs.iter().filter_map(Value::as_str).collect();
        view_params.push(format!("attrs={}", names.join(",")));
    }
    for name in ["pick", "omit"] {
        if let Some(v) = json.get(name) {
            let list = crate::checks::projection_list(v).replace('&', "%26");
            view_params.push(format!("{name}={list}"));
        }
    }
    let raw = [q.clone().unwrap_or_default(), view_params.join("&")].join("&");
    let vp = Params::parse(
        Some(&raw),
        &[
            "limit", "offset", "count", "options", "format", "local", "lang", "attrs", "pick",
            "omit",
        ],
    )?;
    let view = View::from_params(&vp, &ctx)?;
    let ordering = crate::order::Ordering::from_body(&json, &ctx)?;
    let mut page = crate::entities::ordered_page(&st, &tenant, &query, ordering.as_ref(), &ctx)?;
    view.drop_unselected(&mut page.entities);
    // Table 5.2.23-1: the Query's join/joinLevel members (019_24).
    if let Some(join) = crate::join::from_query_body(&json)? {
        let items =
            crate::join::render(&st.broker, &tenant, join, &page.entities, &view, &ctx, media);
        let mut resp = respond::json(StatusCode::OK, media, &rctx, Value::Array(items), &headers);
        if let Some(total) = page.total {
            resp.headers_mut().insert("NGSILD-Results-Count", header_value(&total.to_string()));
        }
        return Ok(resp);
    }
    Ok(query_response(&page, &view, &rctx, media, &headers, &query, None))
}
