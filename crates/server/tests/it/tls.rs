//! HTTPS notifications and @context fetching: a CA and a server certificate for 127.0.0.1
//! are made at test time, an HTTPS receiver inside the test serves with them, and the hub
//! trusts that CA only when it is given one (`--ca-cert`). Verification is never off.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use citybrain_server::{OutboundTls, TlsSetupError, install_tls_provider};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::server::TlsStream;

use crate::subscriptions::next;
use crate::support::Hub;

const TERMS: &str = "https://example.org/city-terms/";

/// A test CA and a certificate it issued for 127.0.0.1 and localhost.
struct TestPki {
    ca_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
}

fn test_pki() -> TestPki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "Citybrain test city CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let mut server_params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    server_params.distinguished_name.push(DnType::CommonName, "receiver.test");
    let server_cert = server_params.signed_by(&server_key, &ca).unwrap();
    TestPki {
        ca_pem: ca.pem(),
        server_chain: vec![server_cert.der().clone(), ca.der().clone()],
        server_key: server_key.serialize_der(),
    }
}

/// axum's listener over TLS: hands over only connections whose handshake succeeded, and
/// reports each failed handshake (a client that refused our certificate).
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    refused: mpsc::UnboundedSender<String>,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else { continue };
            let handshake = self.acceptor.accept(tcp);
            match tokio::time::timeout(Duration::from_secs(5), handshake).await {
                Ok(Ok(tls)) => return (tls, addr),
                Ok(Err(e)) => {
                    let _ = self.refused.send(e.to_string());
                }
                Err(_) => {
                    let _ = self.refused.send("handshake timed out".to_string());
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// What the HTTPS receiver saw.
struct Receiver {
    base: String,
    notifications: mpsc::UnboundedReceiver<(HeaderMap, Value)>,
    refused: mpsc::UnboundedReceiver<String>,
}

/// An HTTPS server on 127.0.0.1 with the certificate of `pki`: POST /notify records
/// notifications, GET /context.jsonld serves a JSON-LD context.
async fn https_receiver(pki: &TestPki) -> Receiver {
    install_tls_provider();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server_key.clone()));
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(pki.server_chain.clone(), key)
        .unwrap();
    let (tx, notifications) = mpsc::unbounded_channel();
    let app = axum::Router::new()
        .route(
            "/notify",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send((headers, serde_json::from_str(&body).unwrap_or(Value::Null)));
                    "ok"
                }
            }),
        )
        .route(
            "/context.jsonld",
            axum::routing::get(|| async {
                axum::Json(json!({"@context": {
                    "Bus": format!("{TERMS}Bus"),
                    "occupancy": format!("{TERMS}occupancy"),
                }}))
            }),
        );
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let (refused_tx, refused) = mpsc::unbounded_channel();
    let listener =
        TlsListener { tcp, acceptor: TlsAcceptor::from(Arc::new(config)), refused: refused_tx };
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { base: format!("https://{addr}"), notifications, refused }
}

/// The hub's trust for `pki`: the system's roots plus the test CA, read from a PEM file as
/// `--ca-cert` does.
fn trusting(pki: &TestPki, dir: &tempfile::TempDir) -> OutboundTls {
    let path = dir.path().join("city-ca.pem");
    std::fs::write(&path, &pki.ca_pem).unwrap();
    OutboundTls::with_ca_file(&path).unwrap()
}

fn subscription_to(uri: &str) -> Value {
    json!({"type": "Subscription", "entities": [{"type": "Vehicle"}],
        "notification": {"endpoint": {"uri": uri, "accept": "application/json"}}})
}

async fn subscribe(hub: &Hub, uri: &str) -> String {
    let r = hub.post_json("/subscriptions", &subscription_to(uri)).await;
    assert_eq!(r.status(), 201);
    r.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().to_string()
}

/// The subscription once its notification status is `want` (the hub records a delivery's
/// outcome just after the receiver has seen it), or as last seen.
async fn subscription_when(hub: &Hub, id: &str, want: &str) -> Value {
    let mut sub = Value::Null;
    for _ in 0..100 {
        let (status, body) = hub.get_json(&format!("/subscriptions/{id}")).await;
        assert_eq!(status, 200);
        sub = body;
        if sub["notification"]["status"] == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sub
}

async fn create_vehicle(hub: &Hub, id: &str) {
    let e = json!({"id": id, "type": "Vehicle", "speed": {"type": "Property", "value": 42}});
    assert_eq!(hub.post_json("/entities", &e).await.status(), 201);
}

#[tokio::test]
async fn https_notifications_reach_a_receiver_certified_by_the_trusted_ca() {
    let pki = test_pki();
    let dir = tempfile::tempdir().unwrap();
    let mut receiver = https_receiver(&pki).await;
    let hub = Hub::start_with_tls(&trusting(&pki, &dir)).await;
    let id = subscribe(&hub, &format!("{}/notify", receiver.base)).await;
    create_vehicle(&hub, "urn:ngsi-ld:Vehicle:tls1").await;
    let (_, body) = next(&mut receiver.notifications, 10).await.expect("an HTTPS notification");
    assert_eq!(body["type"], "Notification");
    assert_eq!(body["data"][0]["id"], "urn:ngsi-ld:Vehicle:tls1");
    assert_eq!(body["data"][0]["speed"]["value"], 42);
    let sub = subscription_when(&hub, &id, "ok").await;
    assert_eq!(sub["notification"]["status"], "ok", "{sub}");
    assert!(sub["notification"]["lastSuccess"].is_string(), "{sub}");
    assert!(receiver.refused.try_recv().is_err(), "no handshake was refused");
}

#[tokio::test]
async fn an_https_context_from_the_trusted_ca_expands_the_entity() {
    let pki = test_pki();
    let dir = tempfile::tempdir().unwrap();
    let receiver = https_receiver(&pki).await;
    let hub = Hub::start_with_tls(&trusting(&pki, &dir)).await;
    let context = format!("{}/context.jsonld", receiver.base);
    let bus = json!({"id": "urn:ngsi-ld:Bus:tls1", "type": "Bus",
        "occupancy": {"type": "Property", "value": 31}, "@context": context});
    assert_eq!(hub.post_ld("/entities", &bus).await.status(), 201);
    // Read back with the core context only: the names are the context's full IRIs.
    let (status, body) = hub.get_json("/entities/urn:ngsi-ld:Bus:tls1").await;
    assert_eq!(status, 200);
    assert_eq!(body["type"], format!("{TERMS}Bus"), "{body}");
    assert_eq!(body[format!("{TERMS}occupancy")]["value"], 31, "{body}");
    // Read back with the same https context: the short names again.
    let r = hub
        .req(Method::GET, "/entities/urn:ngsi-ld:Bus:tls1")
        .header(
            "Link",
            format!(
                "<{context}>; rel=\"http://www.w3.org/ns/json-ld#context\"; \
                 type=\"application/ld+json\""
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["type"], "Bus", "{body}");
    assert_eq!(body["occupancy"]["value"], 31, "{body}");
}

#[tokio::test]
async fn without_the_ca_the_receiver_is_not_trusted_and_the_failure_shows() {
    let pki = test_pki();
    let mut receiver = https_receiver(&pki).await;
    let hub = Hub::start().await;
    let id = subscribe(&hub, &format!("{}/notify", receiver.base)).await;
    create_vehicle(&hub, "urn:ngsi-ld:Vehicle:tls2").await;
    // The hub refuses the receiver's certificate during the handshake: its issuer is unknown.
    let refused = tokio::time::timeout(Duration::from_secs(10), receiver.refused.recv())
        .await
        .expect("the hub attempts an HTTPS connection")
        .unwrap();
    assert!(refused.contains("UnknownCA"), "{refused}");
    // Its retries fail too; then the subscription reports the failure.
    let sub = subscription_when(&hub, &id, "failed").await;
    assert_eq!(sub["notification"]["status"], "failed", "{sub}");
    assert!(sub["notification"]["lastFailure"].is_string(), "{sub}");
    assert!(sub["notification"].get("lastSuccess").is_none(), "{sub}");
    assert!(receiver.notifications.try_recv().is_err(), "nothing was delivered");
    // An https context from the same server is unavailable for the same reason.
    let bus = json!({"id": "urn:ngsi-ld:Bus:tls2", "type": "Bus",
        "@context": format!("{}/context.jsonld", receiver.base)});
    let r = hub.post_ld("/entities", &bus).await;
    crate::support::assert_problem(r, 503, "LdContextNotAvailable").await;
}

#[tokio::test]
async fn a_ca_file_that_is_missing_or_not_pem_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing-ca.pem");
    let e = OutboundTls::with_ca_file(&missing).err().expect("a missing file is an error");
    assert!(matches!(e, TlsSetupError::Read { .. }), "{e}");
    assert!(e.to_string().contains("missing-ca.pem"), "{e}");
    let not_pem = dir.path().join("notes.txt");
    std::fs::write(&not_pem, "this is not a certificate").unwrap();
    let e = OutboundTls::with_ca_file(&not_pem).err().expect("a file without PEM is an error");
    assert!(matches!(e, TlsSetupError::Invalid { .. }), "{e}");
    assert!(e.to_string().contains("notes.txt"), "{e}");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nAAECAwQFBgcICQ==\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let e = OutboundTls::with_ca_file(&garbage).err().expect("a PEM that is no X.509 is an error");
    assert!(matches!(e, TlsSetupError::Invalid { .. }), "{e}");
    assert!(e.to_string().contains("garbage.pem"), "{e}");
}
