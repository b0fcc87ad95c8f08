//! Building successful responses: media type, Link header or `@context` member.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
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
    mut body: Value,
    headers: &HeaderMap,
) -> Response {
    let prefer_json = headers
        .get("Prefer")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.split(',').any(|x| x.trim() == "body=json"));
    let inline = match media {
        Media::LdJson => true,
        Media::GeoJson => !prefer_json,
        Media::Json => false,
    };
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
    let mut resp = (status, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, header_value(media.content_type()));
    if !inline || media == Media::GeoJson && prefer_json {
        h.insert(header::LINK, link_header(&rctx.link_url()));
    }
    resp
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
