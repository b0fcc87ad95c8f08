//! `/csourceSubscriptions` handlers: subscriptions to Context Source Registrations
//! (clauses 5.11 and 6.10–6.11). They select registrations by `entities` and
//! `watchedAttributes` and are notified when a selected registration is created, changed
//! or deleted; the members that only shape entity notifications are refused.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use citybrain_broker::Broker;
use citybrain_ngsi::parse::is_uri;
use citybrain_ngsi::registration::check_csource_subscription;
use citybrain_ngsi::subscription::Subscription;
use citybrain_ngsi::time::now_micros;
use citybrain_ngsi::{Context, ErrorKind};
use serde_json::Value;

use crate::entities::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::http::{Media, Params, body_type, negotiate, parse_json};
use crate::problem::{ApiError, ApiResult};
use crate::respond::{self, no_content};
use crate::{AppState, header_value, tenant_of};

const COLLECTION: &str = "/ngsi-ld/v1/csourceSubscriptions";

fn check_id(id: &str) -> ApiResult<()> {
    if is_uri(id) {
        Ok(())
    } else {
        Err(ApiError::bad_data(format!("subscription id '{id}' is not a URI")))
    }
}

/// The subscription compacted with `ctx`; `notificationTrigger` is left out because
/// registration notifications carry a `triggerReason` of their own.
fn render(sub: &Subscription, ctx: &Context) -> Value {
    let mut m = sub.render(ctx, now_micros());
    m.remove("notificationTrigger");
    Value::Object(m)
}

/// POST /csourceSubscriptions
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
    check_csource_subscription(&json)?;
    let sub = Subscription::parse(&json, &rctx.ctx, &Broker::new_subscription_id(), now_micros())?;
    let raw = rctx
        .raw
        .clone()
        .or_else(|| crate::http::link_context(&headers).ok().flatten().map(Value::String));
    let id = st.broker.create_csource_subscription(&tenant, sub, rctx.ctx.clone(), raw).await?;
    let mut resp = StatusCode::CREATED.into_response();
    resp.headers_mut().insert(header::LOCATION, header_value(&format!("{COLLECTION}/{id}")));
    Ok(resp)
}

/// GET /csourceSubscriptions/{id}
pub(crate) async fn retrieve(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let media = negotiate(&headers, &[Media::Json, Media::LdJson])?;
    let _ = Params::parse(q.as_deref(), &[])?;
    check_id(&id)?;
    let tenant = tenant_of(&headers)?;
    let rctx = st.contexts.for_headers(&headers).await?;
    let sub = st.broker.get_csource_subscription(&tenant, &id)?;
    Ok(respond::json(StatusCode::OK, media, &rctx, render(&sub, &rctx.ctx), &headers))
}

/// GET /csourceSubscriptions
pub(crate) async fn list(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let media = negotiate(&headers, &[Media::Json, Media::LdJson])?;
    let p = Params::parse(q.as_deref(), &["limit", "offset", "count"])?;
    let tenant = tenant_of(&headers)?;
    let rctx = st.contexts.for_headers(&headers).await?;
    let limit = p.usize("limit")?.unwrap_or(DEFAULT_LIMIT);
    if limit > MAX_LIMIT {
        return Err(ApiError::kind(
            ErrorKind::TooManyResults,
            format!("limit {limit} is above the maximum of {MAX_LIMIT}"),
        ));
    }
    let offset = p.usize("offset")?.unwrap_or(0);
    let all = st.broker.list_csource_subscriptions(&tenant)?;
    let total = all.len();
    let items: Vec<Value> =
        all.iter().skip(offset).take(limit).map(|s| render(s, &rctx.ctx)).collect();
    let mut resp = respond::json(StatusCode::OK, media, &rctx, Value::Array(items), &headers);
    let page = respond::Page { limit, offset, more: offset + limit < total };
    respond::page_links(&mut resp, COLLECTION, &[], page, media);
    if p.flag("count")? {
        resp.headers_mut().insert("NGSILD-Results-Count", header_value(&total.to_string()));
    }
    Ok(resp)
}

/// PATCH /csourceSubscriptions/{id}
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
    check_csource_subscription(&json)?;
    let ctx = rctx.ctx.clone();
    st.broker
        .update_csource_subscription(&tenant, &id, |sub| sub.update(&json, &ctx, now_micros()))
        .await?;
    Ok(no_content())
}

/// DELETE /csourceSubscriptions/{id}
pub(crate) async fn delete(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let _ = Params::parse(q.as_deref(), &[])?;
    check_id(&id)?;
    let tenant = tenant_of(&headers)?;
    st.broker.delete_csource_subscription(&tenant, &id).await?;
    Ok(no_content())
}
