//! Remote JSON-LD contexts: fetched over HTTP(S) with a timeout, cached, and resolved into
//! term tables that are cached too. An unreachable context is `LdContextNotAvailable` (503),
//! a fetched document that is not a JSON-LD context is `BadRequestData`; nothing hangs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use citybrain_ngsi::context::{CORE_CONTEXT_URL, Context, DocumentSource, remote_urls};
use citybrain_ngsi::error::{ErrorKind, NgsiError, NgsiResult};
use parking_lot::Mutex;
use serde_json::Value;

use crate::http::{BodyType, link_context};
use crate::outbound::{OutboundTls, TlsSetupError};
use crate::problem::{ApiError, ApiResult};

const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const DOC_TTL: Duration = Duration::from_secs(600);
const MAX_CACHED: usize = 2048;
const MAX_DOCS_PER_CONTEXT: usize = 32;

/// The context of one request.
#[derive(Clone)]
pub(crate) struct RequestContext {
    /// The resolved term table.
    pub ctx: Arc<Context>,
    /// The `@context` value as the client gave it (`None` = core only).
    pub raw: Option<Value>,
}

impl RequestContext {
    /// What to advertise in a response's Link header or `@context` member.
    pub(crate) fn link_url(&self) -> String {
        match &self.raw {
            Some(Value::String(url)) => url.clone(),
            _ => CORE_CONTEXT_URL.to_string(),
        }
    }

    /// The `@context` member for ld+json bodies.
    pub(crate) fn body_context(&self) -> Value {
        match &self.raw {
            Some(v @ (Value::String(_) | Value::Array(_) | Value::Object(_))) => v.clone(),
            _ => Value::String(CORE_CONTEXT_URL.to_string()),
        }
    }
}

/// Fetches and caches contexts.
pub struct Contexts {
    client: reqwest::Client,
    docs: Mutex<HashMap<String, (Arc<Value>, Instant)>>,
    resolved: Mutex<HashMap<String, Arc<Context>>>,
}

struct Docs<'a>(&'a HashMap<String, Arc<Value>>);

impl DocumentSource for Docs<'_> {
    fn document(&self, url: &str) -> NgsiResult<Arc<Value>> {
        self.0.get(url).cloned().ok_or_else(|| {
            NgsiError::new(
                ErrorKind::LdContextNotAvailable,
                format!("cannot retrieve @context {url}"),
            )
        })
    }
}

impl Contexts {
    /// A new cache with its own HTTP client, verifying HTTPS servers against `tls`.
    pub fn new(tls: &OutboundTls) -> Result<Contexts, TlsSetupError> {
        let client = tls.client(|builder| {
            builder.timeout(FETCH_TIMEOUT).connect_timeout(Duration::from_secs(3))
        })?;
        Ok(Contexts {
            client,
            docs: Mutex::new(HashMap::new()),
            resolved: Mutex::new(HashMap::new()),
        })
    }

    /// Resolves a context value (URL, object or array) plus the core context.
    pub async fn resolve(&self, raw: &Value) -> NgsiResult<Arc<Context>> {
        let key = match raw {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if let Some(ctx) = self.resolved.lock().get(&key) {
            return Ok(ctx.clone());
        }
        let mut docs: HashMap<String, Arc<Value>> = HashMap::new();
        let mut pending = remote_urls(raw);
        while let Some(url) = pending.pop() {
            if docs.contains_key(&url) {
                continue;
            }
            if docs.len() >= MAX_DOCS_PER_CONTEXT {
                return Err(NgsiError::bad_data(
                    "the @context references too many remote documents",
                ));
            }
            let doc = self.fetch(&url).await?;
            if let Some(inner) = doc.get("@context") {
                pending.extend(remote_urls(inner));
            }
            docs.insert(url, doc);
        }
        let ctx = Arc::new(Context::resolve(raw, &Docs(&docs))?);
        let mut cache = self.resolved.lock();
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(key, ctx.clone());
        Ok(ctx)
    }

    async fn fetch(&self, url: &str) -> NgsiResult<Arc<Value>> {
        if let Some((doc, at)) = self.docs.lock().get(url)
            && at.elapsed() < DOC_TTL
        {
            return Ok(doc.clone());
        }
        let unavailable = |why: String| {
            NgsiError::new(
                ErrorKind::LdContextNotAvailable,
                format!("cannot retrieve @context {url}: {why}"),
            )
        };
        let resp = self
            .client
            .get(url)
            .header("Accept", "application/ld+json, application/json")
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(unavailable(format!("HTTP status {}", resp.status())));
        }
        let bytes = resp.bytes().await.map_err(|e| unavailable(e.to_string()))?;
        let doc: Value = serde_json::from_slice(&bytes)
            .map_err(|_| NgsiError::bad_data(format!("the @context at {url} is not valid JSON")))?;
        if doc.get("@context").is_none() {
            return Err(NgsiError::bad_data(format!(
                "the document at {url} has no @context member"
            )));
        }
        let doc = Arc::new(doc);
        let mut docs = self.docs.lock();
        if docs.len() >= MAX_CACHED {
            docs.clear();
        }
        docs.insert(url.to_string(), (doc.clone(), Instant::now()));
        Ok(doc)
    }

    /// The context of a request without a body: the Link header's, or the core context.
    pub(crate) async fn for_headers(&self, headers: &HeaderMap) -> ApiResult<RequestContext> {
        match link_context(headers)? {
            Some(url) => {
                let raw = Value::String(url);
                let ctx = self.resolve(&raw).await?;
                Ok(RequestContext { ctx, raw: Some(raw) })
            }
            None => Ok(RequestContext { ctx: Context::core(), raw: None }),
        }
    }

    /// The context of a request with a JSON body: from `@context` for ld+json (required),
    /// from the Link header for plain JSON (where an `@context` member is an error).
    pub(crate) async fn for_body(
        &self,
        headers: &HeaderMap,
        body: &Value,
        bt: BodyType,
    ) -> ApiResult<RequestContext> {
        let member = body.get("@context");
        match bt {
            BodyType::LdJson => {
                if crate::http::link_context(headers)?.is_some() {
                    return Err(ApiError::bad_data(
                        "a JSON-LD Link header cannot accompany an application/ld+json body: \
                         its @context goes in the body (clause 6.3.5)",
                    ));
                }
                let Some(raw) = member else {
                    return Err(ApiError::bad_data(
                        "an application/ld+json body must contain an @context",
                    ));
                };
                let ctx = self.resolve(raw).await?;
                Ok(RequestContext { ctx, raw: Some(raw.clone()) })
            }
            BodyType::Json => {
                if member.is_some() {
                    return Err(ApiError::bad_data(
                        "an application/json body shall not contain an @context; use application/ld+json or the Link header",
                    ));
                }
                self.for_headers(headers).await
            }
        }
    }
}
