//! HTTP notification delivery (the broker's [`NotificationSink`]) and context re-resolution
//! for restored subscriptions. Each request has a timeout and a few retries; the broker
//! runs one worker per subscription, so a slow receiver only delays itself.

use std::sync::Arc;
use std::time::Duration;

use citybrain_broker::{BoxFuture, ContextResolver, Delivery, NotificationSink};
use citybrain_ngsi::Context;
use citybrain_ngsi::error::NgsiResult;
use serde_json::Value;

use crate::contexts::Contexts;
use crate::http::link_header;
use crate::outbound::{OutboundTls, TlsSetupError};

const TIMEOUT: Duration = Duration::from_secs(5);
const RETRIES: u32 = 2;

/// Sends notifications over HTTP.
pub struct HttpSink {
    client: reqwest::Client,
}

impl HttpSink {
    /// A sink with its own connection pool, verifying HTTPS receivers against `tls`.
    pub fn new(tls: &OutboundTls) -> Result<HttpSink, TlsSetupError> {
        // Title-case header names: some receivers (Python test servers) look up `Link` by its
        // exact case.
        let client = tls.client(|builder| {
            builder
                .timeout(TIMEOUT)
                .connect_timeout(Duration::from_secs(2))
                .http1_title_case_headers()
        })?;
        Ok(HttpSink { client })
    }
}

impl NotificationSink for HttpSink {
    fn deliver(&self, d: Delivery) -> BoxFuture<Result<(), String>> {
        let client = self.client.clone();
        Box::pin(async move {
            if !d.endpoint.uri.starts_with("http://") && !d.endpoint.uri.starts_with("https://") {
                return Err(format!("unsupported endpoint scheme in {}", d.endpoint.uri));
            }
            let body = d.body.to_string();
            let mut last = String::new();
            for attempt in 0..=RETRIES {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                }
                let mut req = client
                    .post(&d.endpoint.uri)
                    .header("Content-Type", &d.content_type)
                    .body(body.clone());
                if let Some(link) = &d.link {
                    req = req.header("Link", link_header(link));
                }
                if !d.tenant.is_empty() {
                    req = req.header(crate::TENANT_HEADER, &d.tenant);
                }
                for (k, v) in &d.endpoint.receiver_info {
                    req = req.header(k.as_str(), v.as_str());
                }
                match req.send().await {
                    Ok(resp) if resp.status().is_success() => return Ok(()),
                    Ok(resp) if resp.status().is_client_error() => {
                        return Err(format!("receiver answered {}", resp.status()));
                    }
                    Ok(resp) => last = format!("receiver answered {}", resp.status()),
                    Err(e) => last = e.to_string(),
                }
            }
            Err(last)
        })
    }
}

/// Resolves stored subscription contexts through the shared context cache.
pub struct Resolver(pub Arc<Contexts>);

impl ContextResolver for Resolver {
    fn resolve(&self, raw: Value) -> BoxFuture<NgsiResult<Arc<Context>>> {
        let contexts = self.0.clone();
        Box::pin(async move { contexts.resolve(&raw).await })
    }
}
