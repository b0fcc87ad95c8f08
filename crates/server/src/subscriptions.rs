//! `/subscriptions` handlers.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use citybrain_broker::{Broker, SubscriptionView};
use citybrain_ngsi::Context;
use citybrain_ngsi::parse::is_uri;
use citybrain_ngsi::subscription::Subscription;
use citybrain_ngsi::time::{format_datetime, now_micros};
use serde_json::Value;

use crate::http::{Media, Params, body_type, negotiate, parse_json};
use crate::problem::{ApiError, ApiResult};
use crate::respond::{self, no_content};
use crate::{AppState, header_value, tenant_of};

fn check_id(id: &str) -> ApiResult<()> {
    if is_uri(id) {
        Ok(())
    } else {
        Err(ApiError::bad_data(format!("subscription id '{id}' is not a URI")))
    }
}

/// POST /subscriptions
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
    let sub = Subscription::parse(&json, &rctx.ctx, &Broker::new_subscription_id(), now_micros())?;
    check_jsonld_context(&st, &sub).await?;
    let raw = rctx
        .raw
        .clone()
        .or_else(|| crate::http::link_context(&headers).ok().flatten().map(Value::String));
    let id = st.broker.create_subscription(&tenant, sub, rctx.ctx.clone(), raw).await?;
    let mut resp = StatusCode::CREATED.into_response();
    resp.headers_mut()
        .insert(header::LOCATION, header_value(&format!("/ngsi-ld/v1/subscriptions/{id}")));
    Ok(resp)
}

/// A `jsonldContext` must be retrievable: notifications are compacted with it (clause
/// 5.8.1.4 raises LdContextNotAvailable otherwise).
async fn check_jsonld_context(st: &AppState, sub: &Subscription) -> ApiResult<()> {
    if let Some(url) = &sub.jsonld_context {
        st.contexts.resolve(&Value::String(url.clone())).await?;
    }
    Ok(())
}

fn render(view: &SubscriptionView, ctx: &Context) -> Value {
    let mut m = view.sub.render(ctx, now_micros());
    let s = &view.status;
    if s.times_sent > 0
        && let Some(Value::Object(n)) = m.get_mut("notification")
    {
        n.insert("timesSent".into(), Value::from(s.times_sent));
        n.insert("timesFailed".into(), Value::from(s.times_failed));
        for (k, t) in [
            ("lastNotification", s.last_notification),
            ("lastSuccess", s.last_success),
            ("lastFailure", s.last_failure),
        ] {
            if let Some(t) = t {
                n.insert(k.into(), Value::String(format_datetime(t)));
            }
        }
        let ok = s.last_failure.is_none_or(|f| s.last_success.is_some_and(|ok| ok > f));
        n.insert("status".into(), Value::String(if ok { "ok" } else { "failed" }.into()));
    }
    Value::Object(m)
}

/// GET /subscriptions/{id}
pub(crate) async fn retrieve(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let _ = Params::parse(q.as_deref(), &["local"])?;
    let media = negotiate(&headers, &[Media::Json, Media::LdJson])?;
    check_id(&id)?;
    let tenant = tenant_of(&headers)?;
    let rctx = st.contexts.for_headers(&headers).await?;
    let view = st.broker.get_subscription(&tenant, &id)?;
    let mut resp = respond::json(StatusCode::OK, media, &rctx, render(&view, &rctx.ctx), &headers);
    // A Subscription has no version fallbacks (clause 4.3.6.8 covers Entity data only):
    // the preferred version is applied by serving the subscription unaltered.
    if let Some(version) = respond::version_preference(&headers) {
        resp.headers_mut()
            .insert("Preference-Applied", header_value(&format!("ngsi-ld={version}")));
    }
    Ok(resp)
}

/// GET /subscriptions
pub(crate) async fn list(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref(), &["limit", "offset", "count", "local"])?;
    let media = negotiate(&headers, &[Media::Json, Media::LdJson])?;
    let tenant = tenant_of(&headers)?;
    let rctx = st.contexts.for_headers(&headers).await?;
    let limit = p.usize("limit")?.unwrap_or(crate::entities::DEFAULT_LIMIT);
    if limit > crate::entities::MAX_LIMIT {
        return Err(ApiError::kind(citybrain_ngsi::ErrorKind::TooManyResults, "limit too large"));
    }
    let offset = p.usize("offset")?.unwrap_or(0);
    let all = st.broker.list_subscriptions(&tenant)?;
    let total = all.len();
    let items: Vec<Value> =
        all.iter().skip(offset).take(limit).map(|v| render(v, &rctx.ctx)).collect();
    let mut resp = respond::json(StatusCode::OK, media, &rctx, Value::Array(items), &headers);
    let page = respond::Page { limit, offset, more: offset + limit < total };
    respond::page_links(&mut resp, "/ngsi-ld/v1/subscriptions", &[], page, media);
    if p.flag("count")? {
        resp.headers_mut().insert("NGSILD-Results-Count", header_value(&total.to_string()));
    }
    Ok(resp)
}

/// PATCH /subscriptions/{id}
pub(crate) async fn update(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let _ = Params::parse(q.as_deref(), &["local"])?;
    let bt = body_type(&headers, true)?;
    check_id(&id)?;
    let tenant = tenant_of(&headers)?;
    let json = crate::http::parse_json_object(&body, "the update")?;
    let rctx = st.contexts.for_body(&headers, &json, bt).await?;
    let ctx = rctx.ctx.clone();
    if let Some(url) = json.get("jsonldContext").and_then(Value::as_str)
        && is_uri(url)
    {
        st.contexts.resolve(&Value::String(url.to_string())).await?;
    }
    st.broker
        .update_subscription(&tenant, &id, |sub| sub.update(&json, &ctx, now_micros()))
        .await?;
    Ok(no_content())
}

/// DELETE /subscriptions/{id}
pub(crate) async fn delete(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let _ = Params::parse(q.as_deref(), &["local"])?;
    check_id(&id)?;
    let tenant = tenant_of(&headers)?;
    st.broker.delete_subscription(&tenant, &id).await?;
    Ok(no_content())
}
