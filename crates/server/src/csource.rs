//! `/csourceRegistrations` handlers: register, discover, retrieve, update and delete
//! Context Source Registrations (clauses 5.9, 5.10, 6.8 and 6.9), per tenant.
//!
//! Registrations are stored and discovered only: queries on `/entities` are answered from
//! the hub's own data and are not forwarded to the registered sources.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use citybrain_broker::Broker;
use citybrain_ngsi::filters::{parse_id_pattern, parse_type_expr};
use citybrain_ngsi::parse::{is_uri, is_valid_name};
use citybrain_ngsi::registration::{Discovery, Registration};
use citybrain_ngsi::time::now_micros;
use citybrain_ngsi::{Context, ErrorKind};
use serde_json::Value;

use crate::entities::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::http::{Media, Params, body_type, negotiate, parse_json};
use crate::problem::{ApiError, ApiResult};
use crate::respond::{self, no_content};
use crate::{AppState, header_value, tenant_of};

const COLLECTION: &str = "/ngsi-ld/v1/csourceRegistrations";

/// Query parameters of the discovery operation this hub evaluates.
const DISCOVERY_PARAMS: [&str; 8] =
    ["id", "type", "idPattern", "attrs", "limit", "offset", "count", "options"];

/// Discovery parameters of clause 6.8.3.1 that this hub does not evaluate: refused by name
/// (OperationNotSupported) rather than answered as if they matched everything.
const UNEVALUATED_PARAMS: [&str; 13] = [
    "q",
    "csf",
    "georel",
    "geometry",
    "coordinates",
    "geoproperty",
    "timeproperty",
    "timerel",
    "timeAt",
    "endTimeAt",
    "scopeQ",
    "lang",
    "local",
];

fn refuse_unevaluated(p: &Params) -> ApiResult<()> {
    match UNEVALUATED_PARAMS.iter().find(|name| p.get(name).is_some()) {
        Some(name) => Err(ApiError::kind(
            ErrorKind::OperationNotSupported,
            format!("parameter '{name}' is not supported when discovering registrations"),
        )),
        None => Ok(()),
    }
}

fn check_id(id: &str) -> ApiResult<()> {
    if is_uri(id) {
        Ok(())
    } else {
        Err(ApiError::bad_data(format!("registration id '{id}' is not a URI")))
    }
}

/// `options`: only `sysAttrs` (createdAt/modifiedAt) applies to registrations.
fn sys_attrs(p: &Params) -> ApiResult<bool> {
    let mut sys = false;
    for option in p.list("options") {
        match option.as_str() {
            "sysAttrs" => sys = true,
            other => {
                return Err(ApiError::bad_data(format!(
                    "options '{other}' does not apply to context source registrations; \
                     only sysAttrs does"
                )));
            }
        }
    }
    Ok(sys)
}

/// POST /csourceRegistrations
pub(crate) async fn create(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let _ = Params::parse(q.as_deref(), &[])?;
    let bt = body_type(&headers, false)?;
    let tenant = tenant_of(&headers)?;
    let json = parse_json(&body)?;
    let rctx = st.contexts.for_body(&headers, &json, bt).await?;
    let now = now_micros();
    let reg = Registration::parse(&json, &rctx.ctx, &Broker::new_registration_id(), now)?;
    reg.check_not_expired(now)?;
    let id = st.broker.create_registration(&tenant, reg).await?;
    let mut resp = StatusCode::CREATED.into_response();
    resp.headers_mut().insert(header::LOCATION, header_value(&format!("{COLLECTION}/{id}")));
    Ok(resp)
}

/// The discovery query of a GET (clause 5.10.2): entity types or attribute names are
/// required; ids, id pattern and names are read with the request's context.
fn discovery(p: &Params, ctx: &Context) -> ApiResult<Discovery> {
    let type_text = p.get("type").filter(|t| !t.is_empty());
    let attrs = p.list("attrs");
    if type_text.is_none() && attrs.is_empty() {
        return Err(ApiError::bad_data(
            "discovering context source registrations needs 'type' or 'attrs'",
        ));
    }
    let ids = p.list("id");
    if let Some(bad) = ids.iter().find(|id| !is_uri(id)) {
        return Err(ApiError::bad_data(format!(
            "parameter 'id' holds '{bad}', which is not a URI"
        )));
    }
    if let Some(bad) = attrs.iter().find(|a| !(is_valid_name(a) || is_uri(a))) {
        return Err(ApiError::bad_data(format!(
            "parameter 'attrs' holds '{bad}', which is not an attribute name"
        )));
    }
    let types = type_text.map(|t| parse_type_expr(t, &|x| ctx.expand(x))).transpose()?;
    let id_pattern = p.get("idPattern").map(parse_id_pattern).transpose()?;
    let attrs = attrs.iter().map(|a| ctx.expand(a)).collect();
    Ok(Discovery { ids, types, id_pattern, attrs })
}

/// The raw query parameters other than the page's, for the pagination links.
fn kept_params(raw: Option<&str>) -> Vec<&str> {
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("limit=") && !p.starts_with("offset="))
        .collect()
}

/// GET /csourceRegistrations
pub(crate) async fn query(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let media = negotiate(&headers, &[Media::Json, Media::LdJson])?;
    let known: Vec<&str> = DISCOVERY_PARAMS.iter().chain(&UNEVALUATED_PARAMS).copied().collect();
    let p = Params::parse(q.as_deref(), &known)?;
    refuse_unevaluated(&p)?;
    let tenant = tenant_of(&headers)?;
    let rctx = st.contexts.for_headers(&headers).await?;
    let sys = sys_attrs(&p)?;
    let wanted = discovery(&p, &rctx.ctx)?;
    let limit = p.usize("limit")?.unwrap_or(DEFAULT_LIMIT);
    if limit > MAX_LIMIT {
        return Err(ApiError::kind(
            ErrorKind::TooManyResults,
            format!("limit {limit} is above the maximum of {MAX_LIMIT}"),
        ));
    }
    let offset = p.usize("offset")?.unwrap_or(0);
    let found = st.broker.discover_registrations(&tenant, &wanted)?;
    let total = found.len();
    let items: Vec<Value> = found
        .iter()
        .skip(offset)
        .take(limit)
        .map(|r| Value::Object(r.render(&rctx.ctx, sys)))
        .collect();
    let mut resp = respond::json(StatusCode::OK, media, &rctx, Value::Array(items), &headers);
    let page = respond::Page { limit, offset, more: offset + limit < total };
    respond::page_links(&mut resp, COLLECTION, &kept_params(q.as_deref()), page, media);
    if p.flag("count")? {
        resp.headers_mut().insert("NGSILD-Results-Count", header_value(&total.to_string()));
    }
    Ok(resp)
}

/// GET /csourceRegistrations/{id}
pub(crate) async fn retrieve(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let media = negotiate(&headers, &[Media::Json, Media::LdJson])?;
    let p = Params::parse(q.as_deref(), &["options"])?;
    check_id(&id)?;
    let tenant = tenant_of(&headers)?;
    let rctx = st.contexts.for_headers(&headers).await?;
    let sys = sys_attrs(&p)?;
    let reg = st.broker.get_registration(&tenant, &id)?;
    let body = Value::Object(reg.render(&rctx.ctx, sys));
    Ok(respond::json(StatusCode::OK, media, &rctx, body, &headers))
}

/// PATCH /csourceRegistrations/{id}
pub(crate) async fn update(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let _ = Params::parse(q.as_deref(), &[])?;
    let bt = body_type(&headers, true)?;
    check_id(&id)?;
    let tenant = tenant_of(&headers)?;
    let json = crate::http::parse_json_object(&body, "the update")?;
    let rctx = st.contexts.for_body(&headers, &json, bt).await?;
    let ctx = rctx.ctx.clone();
    st.broker
        .update_registration(&tenant, &id, |reg| reg.update(&json, &ctx, now_micros()))
        .await?;
    Ok(no_content())
}

/// DELETE /csourceRegistrations/{id}
pub(crate) async fn delete(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let _ = Params::parse(q.as_deref(), &[])?;
    check_id(&id)?;
    let tenant = tenant_of(&headers)?;
    st.broker.delete_registration(&tenant, &id).await?;
    Ok(no_content())
}
