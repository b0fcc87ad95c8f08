//! Building successful responses: media type, Link header or `@context` member.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::contexts::RequestContext;
use crate::header_value;
use crate::http::{Media, link_header};

/// A JSON response in `media` with the request's context as Link header or body member.
/// `body` is an object or an array of objects; `@context` is added to each for ld+json.
pub(crate) fn json(
    status: StatusCode,
    media: Media,
    rctx: &RequestContext,
    body: Value,
    headers: &HeaderMap,
) -> Response {
    json_body(media, rctx, body, headers).response(status)
}

/// A serialised JSON body with the headers that describe it; cheap to clone and to turn
/// into a response again (the retrieve cache keeps these).
#[derive(Clone)]
pub(crate) struct JsonBody {
    content_type: HeaderValue,
    link: Option<HeaderValue>,
    body: Bytes,
}

impl JsonBody {
    /// The response with `status`.
    pub(crate) fn response(&self, status: StatusCode) -> Response {
        let mut resp = (status, self.body.clone()).into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, self.content_type.clone());
        if let Some(link) = &self.link {
            h.insert(header::LINK, link.clone());
        }
        resp
    }

    /// Size of the body in bytes.
    pub(crate) fn len(&self) -> usize {
        self.body.len()
    }
}

/// The NGSI-LD version a client prefers (clause 6.3.6, `Prefer: ngsi-ld=<version>`), read
/// as RFC 7240 allows: preferences are comma-separated, names case-insensitive, values a
/// token or a quoted string, and parameters after `;` do not change the preference.
pub(crate) fn version_preference(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("Prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|pref| {
            let head = pref.split(';').next().unwrap_or_default();
            let (name, value) = head.split_once('=')?;
            if !name.trim().eq_ignore_ascii_case("ngsi-ld") {
                return None;
            }
            let value = value.trim();
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
            let well_formed = !value.is_empty()
                && value.split('.').all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            well_formed.then(|| value.to_string())
        })
}

/// Whether the request's context goes into the body (`@context` member) rather than a Link
/// header, and whether the client asked for a plain JSON body (`Prefer: body=json`).
fn context_placement(media: Media, headers: &HeaderMap) -> (bool, bool) {
    let prefer_json = headers
        .get("Prefer")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.split(',').any(|x| x.trim() == "body=json"));
    let inline = match media {
        Media::LdJson => true,
        Media::GeoJson => !prefer_json,
        Media::Json => false,
    };
    (inline, prefer_json)
}

/// Serialises `body` in `media` with the request's context as Link header or body member
/// (see [`json`]).
pub(crate) fn json_body(
    media: Media,
    rctx: &RequestContext,
    mut body: Value,
    headers: &HeaderMap,
) -> JsonBody {
    let (inline, prefer_json) = context_placement(media, headers);
    if inline {
        let ctx = rctx.body_context();
        match &mut body {
            Value::Object(map) if media == Media::GeoJson => {
                map.insert("@context".into(), ctx);
            }
            Value::Object(map) => insert_first(map, ctx),
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(map) = item {
                        insert_first(map, ctx.clone());
                    }
                }
            }
            _ => {}
        }
    }
    // Serialising a Value cannot fail (its keys are strings).
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let link =
        (!inline || media == Media::GeoJson && prefer_json).then(|| link_header(&rctx.link_url()));
    JsonBody { content_type: header_value(media.content_type()), link, body: Bytes::from(bytes) }
}

/// The `@context` member each object of a JSON or JSON-LD body must carry (ld+json), or
/// `None` when the context goes in the Link header.
pub(crate) fn inline_context(
    media: Media,
    rctx: &RequestContext,
    headers: &HeaderMap,
) -> Option<Value> {
    context_placement(media, headers).0.then(|| rctx.body_context())
}

/// Like [`json_body`] for a JSON or JSON-LD rendering serialised straight to bytes; the
/// rendering carries [`inline_context`] itself.
pub(crate) fn streamed_body(
    media: Media,
    rctx: &RequestContext,
    headers: &HeaderMap,
    body: &impl Serialize,
) -> JsonBody {
    debug_assert!(media != Media::GeoJson, "GeoJSON bodies go through json_body");
    let (inline, _) = context_placement(media, headers);
    // The renderings only hold strings and JSON values, so serialising cannot fail.
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let link = (!inline).then(|| link_header(&rctx.link_url()));
    JsonBody { content_type: header_value(media.content_type()), link, body: Bytes::from(bytes) }
}

fn insert_first(map: &mut Map<String, Value>, ctx: Value) {
    map.insert("@context".into(), ctx);
}

/// Appends the pagination `Link` headers (clause 5.5.9) of a page at `offset` of `limit`
/// items out of `total` for the collection at `path`: `rel="prev"` unless the page is the
/// first, `rel="next"` while items remain. `params` are the other query parameters, kept in
/// the links as they were given.
pub(crate) fn page_links(
    resp: &mut Response,
    path: &str,
    params: &[&str],
    page: Page,
    media: Media,
) {
    let link = |offset: usize, rel: &str| {
        let mut parts: Vec<String> = params.iter().map(|p| (*p).to_string()).collect();
        parts.push(format!("limit={}", page.limit));
        parts.push(format!("offset={offset}"));
        format!("<{path}?{}>;rel=\"{rel}\";type=\"{}\"", parts.join("&"), media.content_type())
    };
    if page.limit == 0 {
        return;
    }
    let mut links = Vec::new();
    if page.offset > 0 {
        links.push(link(page.offset.saturating_sub(page.limit), "prev"));
    }
    if page.more {
        links.push(link(page.offset + page.limit, "next"));
    }
    for l in links {
        resp.headers_mut().append(header::LINK, header_value(&l));
    }
}

/// Where a page sits in its result set.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Page {
    /// Page size asked for.
    pub(crate) limit: usize,
    /// Index of the page's first item.
    pub(crate) offset: usize,
    /// Whether items remain after the page.
    pub(crate) more: bool,
}

/// 204 No Content.
pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}
