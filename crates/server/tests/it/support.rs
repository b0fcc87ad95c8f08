//! Starting a real server on port 0 and talking to it.

use std::net::SocketAddr;
use std::sync::Arc;

use citybrain_broker::Broker;
use citybrain_server::{AppState, OutboundTls, install_tls_provider, run};
use citybrain_store::SqliteStore;
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::Value;

pub(crate) const CORE: &str = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld";

pub(crate) struct Hub {
    pub(crate) addr: SocketAddr,
    pub(crate) client: Client,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Hub {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Hub {
    pub(crate) async fn start() -> Hub {
        Hub::start_with_tls(&OutboundTls::system()).await
    }

    /// A hub whose notifications and context fetches verify HTTPS servers against `tls`.
    pub(crate) async fn start_with_tls(tls: &OutboundTls) -> Hub {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let broker = Broker::open(store).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(run(listener, AppState::with_tls(broker, tls).unwrap(), async move {
            let _ = rx.await;
        }));
        Hub { addr, client: http_client(), _dir: dir, shutdown: Some(tx) }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}/ngsi-ld/v1{}", self.addr, path)
    }

    pub(crate) fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// POST/PATCH/PUT a JSON body with the given content type.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: &Value,
    ) -> Response {
        self.req(method, path)
            .header("Content-Type", content_type)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn post_ld(&self, path: &str, body: &Value) -> Response {
        self.send(Method::POST, path, "application/ld+json", body).await
    }

    pub(crate) async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.send(Method::POST, path, "application/json", body).await
    }

    pub(crate) async fn get(&self, path: &str) -> Response {
        self.req(Method::GET, path).send().await.unwrap()
    }

    pub(crate) async fn get_json(&self, path: &str) -> (u16, Value) {
        let r = self.get(path).await;
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

/// A test's own HTTP client (reqwest needs the process's TLS provider before it is built).
pub(crate) fn http_client() -> Client {
    install_tls_provider();
    Client::new()
}

/// Asserts a ProblemDetails response of `status` and error `kind`.
pub(crate) async fn assert_problem(resp: Response, status: u16, kind: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status, "unexpected status");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], format!("https://uri.etsi.org/ngsi-ld/errors/{kind}"), "{body}");
    assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert_ne!(body["title"], body["detail"]);
    body
}
