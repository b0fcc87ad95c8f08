//! Rendered responses of recently retrieved entities.
//!
//! Dashboards and departments' systems poll the same entities over and over; decoding,
//! compacting and serialising an entity costs about a third of a retrieve's CPU. A cached
//! rendering is valid while the entity's version stamp (from the broker) and the resolved
//! `@context` are the same, and the request asks for the same representation, so a write
//! to the entity makes its cached renderings unreachable at once. The cache holds at most
//! [`MAX_BYTES`] of bodies; when full it is emptied and refills with what is asked for next.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::HeaderMap;
use citybrain_ngsi::Context;
use parking_lot::Mutex;

use crate::respond::JsonBody;

/// Most body bytes kept (a TrafficFlowObserved renders to about 700 bytes: ~12,000 entities).
pub(crate) const MAX_BYTES: usize = 8 << 20;

/// The request headers a retrieve's response depends on.
const VARYING_HEADERS: [&str; 3] = ["accept", "link", "prefer"];

struct Entry {
    stamp: u64,
    ctx: Arc<Context>,
    body: JsonBody,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    bytes: usize,
}

/// The cache; one per server.
#[derive(Default)]
pub(crate) struct RenderCache {
    inner: Mutex<Inner>,
}

/// What identifies a rendering besides the entity's version: tenant, id, the query string
/// and the headers the response varies on.
pub(crate) fn key(tenant: &str, id: &str, query: Option<&str>, headers: &HeaderMap) -> String {
    let mut key = String::with_capacity(tenant.len() + id.len() + 64);
    for part in [tenant, id, query.unwrap_or("")] {
        key.push_str(part);
        key.push('\0');
    }
    for name in VARYING_HEADERS {
        for value in headers.get_all(name) {
            key.push_str(&String::from_utf8_lossy(value.as_bytes()));
            key.push('\u{1}');
        }
        key.push('\0');
    }
    key
}

impl RenderCache {
    /// The rendering stored under `key` if it was made from version `stamp` with `ctx`.
    pub(crate) fn get(&self, key: &str, stamp: u64, ctx: &Arc<Context>) -> Option<JsonBody> {
        let inner = self.inner.lock();
        let entry = inner.entries.get(key)?;
        (entry.stamp == stamp && Arc::ptr_eq(&entry.ctx, ctx)).then(|| entry.body.clone())
    }

    /// Keeps `body`, rendered from version `stamp` with `ctx`, under `key`.
    pub(crate) fn put(&self, key: String, stamp: u64, ctx: Arc<Context>, body: JsonBody) {
        let size = key.len() + body.len();
        if size > MAX_BYTES / 64 {
            return;
        }
        let mut inner = self.inner.lock();
        if inner.bytes + size > MAX_BYTES {
            inner.entries.clear();
            inner.bytes = 0;
        }
        let replaced = inner.entries.insert(key, Entry { stamp, ctx, body });
        inner.bytes += size;
        if let Some(old) = replaced {
            inner.bytes = inner.bytes.saturating_sub(old.body.len());
        }
    }

    /// Number of cached renderings.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, StatusCode};

    use super::*;
    use crate::contexts::RequestContext;
    use crate::http::Media;

    struct NoDocuments;
    impl citybrain_ngsi::context::DocumentSource for NoDocuments {
        fn document(&self, url: &str) -> citybrain_ngsi::error::NgsiResult<Arc<serde_json::Value>> {
            Err(citybrain_ngsi::error::NgsiError::bad_data(format!("no document {url}")))
        }
    }

    fn body(text: &str) -> JsonBody {
        let rctx = RequestContext { ctx: Context::core(), raw: None };
        crate::respond::json_body(
            Media::Json,
            &rctx,
            serde_json::json!({ "v": text }),
            &HeaderMap::new(),
        )
    }

    #[test]
    fn a_rendering_is_found_only_for_the_same_stamp_and_context() {
        let cache = RenderCache::default();
        let ctx = Context::core();
        let inline = serde_json::json!({ "speed": "https://example.org/speed" });
        let other_ctx = Arc::new(Context::resolve(&inline, &NoDocuments).expect("inline context"));
        cache.put("k".into(), 7, ctx.clone(), body("a"));
        assert!(cache.get("k", 7, &ctx).is_some());
        assert!(cache.get("k", 8, &ctx).is_none(), "a newer version must not hit");
        assert!(cache.get("k", 7, &other_ctx).is_none(), "another context must not hit");
        assert!(cache.get("other", 7, &ctx).is_none());
    }

    #[test]
    fn the_cache_empties_itself_instead_of_growing_past_its_bound() {
        let cache = RenderCache::default();
        let ctx = Context::core();
        let big = "x".repeat(MAX_BYTES / 100);
        for i in 0..300 {
            cache.put(format!("k{i}"), i, ctx.clone(), body(&big));
        }
        assert!(cache.len() < 100, "{} entries kept", cache.len());
        assert!(cache.inner.lock().bytes <= MAX_BYTES);
        let resp = cache.get("k299", 299, &ctx).map(|b| b.response(StatusCode::OK));
        assert_eq!(
            resp.map(|r| r.headers().get("content-type").cloned()),
            Some(Some(HeaderValue::from_static("application/json")))
        );
    }

    #[test]
    fn keys_differ_by_query_and_varying_headers() {
        let mut h = HeaderMap::new();
        let plain = key("", "urn:a", None, &h);
        assert_ne!(plain, key("", "urn:a", Some("options=keyValues"), &h));
        assert_ne!(plain, key("t1", "urn:a", None, &h));
        h.insert("accept", HeaderValue::from_static("application/ld+json"));
        assert_ne!(plain, key("", "urn:a", None, &h));
        let mut h2 = HeaderMap::new();
        h2.insert("link", HeaderValue::from_static("<http://x/ctx.jsonld>"));
        assert_ne!(key("", "urn:a", None, &h), key("", "urn:a", None, &h2));
    }
}
