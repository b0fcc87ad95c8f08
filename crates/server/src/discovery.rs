//! Discovery endpoints: `/types`, `/types/{type}`, `/attributes`, `/attributes/{attr}` and
//! `/info/sourceIdentity`.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use citybrain_ngsi::time::{format_datetime, now_micros};
use serde_json::{Value, json};

use crate::http::{Media, Params, negotiate};
use crate::problem::{ApiError, ApiResult};
use crate::respond;
use crate::{AppState, tenant_of};

/// GET /types
pub(crate) async fn types(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref(), &["details", "local"])?;
    let media = negotiate(&headers, &[Media::Json, Media::LdJson])?;
    let tenant = tenant_of(&headers)?;
    let rctx = st.contexts.for_headers(&headers).await?;
    let ctx = &rctx.ctx;
    let infos = st.broker.type_infos(&tenant)?;
    let body = if p.flag("details")? {
        Value::Array(
            infos
                .iter()
                .map(|t| json!({"id": t.type_iri, "type": "EntityType", "typeName": ctx.compact(&t.type_iri),
                    "attributeNames": t.attrs.keys().map(|a| ctx.compact(a)).collect::<Vec<_>>()}))
                .collect(),
        )
    } else {
        json!({"id": format!("urn:ngsi-ld:EntityTypeList:{}", uuid::Uuid::new_v4()), "type": "EntityTypeList",
               "typeList": infos.iter().map(|t| ctx.compact(&t.type_iri)).collect::<Vec<_>>()})
    };
    Ok(respond::json(StatusCode::OK, media, &rctx, body, &headers))
}

/// GET /types/{type}
pub(crate) async fn type_info(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let _ = Params::parse(q.as_deref(), &["local"])?;
    let media = negotiate(&headers, &[Media::Json, Media::LdJson])?;
    let tenant = tenant_of(&headers)?;
    let rctx = st.contexts.for_headers(&headers).await?;
    let ctx = &rctx.ctx;
    let iri = ctx.expand(&name);
    let infos = st.broker.type_infos(&tenant)?;
    let info = infos.iter().find(|t| t.type_iri == iri).ok_or_else(|| {
        ApiError(citybrain_ngsi::NgsiError::not_found(format!("no entity of type '{name}'")))
    })?;
    let details: Vec<Value> = info
        .attrs
        .iter()
        .map(|(a, kinds)| json!({"id": a, "type": "Attribute", "attributeName": ctx.compact(a), "attributeTypes": kinds.iter().collect::<Vec<_>>()}))
        .collect();
    let body = json!({"id": info.type_iri, "type": "EntityTypeInfo", "typeName": ctx.compact(&info.type_iri),
                      "entityCount": info.count, "attributeDetails": details});
    Ok(respond::json(StatusCode::OK, media, &rctx, body, &headers))
}

/// GET /attributes
pub(crate) async fn attributes(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref(), &["details", "local"])?;
    let media = negotiate(&headers, &[Media::Json, Media::LdJson])?;
    let tenant = tenant_of(&headers)?;
    let rctx = st.contexts.for_headers(&headers).await?;
    let ctx = &rctx.ctx;
    let infos = st.broker.attribute_infos(&tenant)?;
    let body = if p.flag("details")? {
        Value::Array(infos.iter().map(|a| attribute_summary(a, ctx)).collect())
    } else {
        json!({"id": format!("urn:ngsi-ld:AttributeList:{}", uuid::Uuid::new_v4()), "type": "AttributeList",
               "attributeList": infos.iter().map(|a| ctx.compact(&a.name)).collect::<Vec<_>>()})
    };
    Ok(respond::json(StatusCode::OK, media, &rctx, body, &headers))
}

/// An attribute in the `details=true` list: name and the types that use it. The counts and
/// attribute types are for `GET /attributes/{attr}` (026_01 compares the list items exactly;
/// 027_02 expects the full element).
fn attribute_summary(a: &citybrain_broker::AttributeInfo, ctx: &citybrain_ngsi::Context) -> Value {
    json!({"id": a.name, "type": "Attribute", "attributeName": ctx.compact(&a.name),
           "typeNames": a.types.iter().map(|t| ctx.compact(t)).collect::<Vec<_>>()})
}

fn attribute_json(a: &citybrain_broker::AttributeInfo, ctx: &citybrain_ngsi::Context) -> Value {
    json!({"id": a.name, "type": "Attribute", "attributeName": ctx.compact(&a.name), "attributeCount": a.count,
           "attributeTypes": a.kinds.iter().collect::<Vec<_>>(),
           "typeNames": a.types.iter().map(|t| ctx.compact(t)).collect::<Vec<_>>()})
}

/// GET /attributes/{attr}
pub(crate) async fn attribute_info(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let _ = Params::parse(q.as_deref(), &["local"])?;
    let media = negotiate(&headers, &[Media::Json, Media::LdJson])?;
    let tenant = tenant_of(&headers)?;
    let rctx = st.contexts.for_headers(&headers).await?;
    let iri = rctx.ctx.expand(&name);
    let infos = st.broker.attribute_infos(&tenant)?;
    let info = infos.iter().find(|a| a.name == iri).ok_or_else(|| {
        ApiError(citybrain_ngsi::NgsiError::not_found(format!("no attribute '{name}'")))
    })?;
    let body = attribute_json(info, &rctx.ctx);
    Ok(respond::json(StatusCode::OK, media, &rctx, body, &headers))
}

/// GET /info/sourceIdentity
pub(crate) async fn source_identity(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let media = negotiate(&headers, &[Media::Json, Media::LdJson])?;
    let tenant = tenant_of(&headers)?;
    let rctx = st.contexts.for_headers(&headers).await?;
    let alias = if tenant.is_empty() {
        "urn:citybrain:hub".to_string()
    } else {
        format!("urn:citybrain:hub:tenant:{tenant}")
    };
    let uptime_us = now_micros() - st.broker.started_at();
    let body = json!({
        "id": format!("{alias}:identity"),
        "type": "ContextSourceIdentity",
        "contextSourceAlias": alias,
        "contextSourceUptime": citybrain_ngsi::time::format_duration_secs(uptime_us.max(0)),
        "contextSourceTimeAt": format_datetime(now_micros()).replace(".000Z", "Z"),
    });
    Ok(respond::json(StatusCode::OK, media, &rctx, body, &headers))
}
