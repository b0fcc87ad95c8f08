//! Common behaviours: errors, media types, parameters, tenants.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Hub, assert_problem};

#[tokio::test]
async fn bad_input_is_a_problem_details_never_a_500() {
    let hub = Hub::start().await;
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        ("application/json", json!({"id": "not a uri", "type": "T"}), 400, "BadRequestData"),
        ("application/json", json!({"id": "urn:a:1"}), 400, "BadRequestData"),
        (
            "application/json",
            json!({"id": "urn:a:1", "type": "T", "p": {"type": "Property"}}),
            400,
            "BadRequestData",
        ),
        (
            "application/json",
            json!({"id": "urn:a:1", "type": "T", "@context": []}),
            400,
            "BadRequestData",
        ),
        ("application/ld+json", json!({"id": "urn:a:1", "type": "T"}), 400, "BadRequestData"),
        ("application/json", json!([1, 2]), 400, "BadRequestData"),
    ];
    for (ct, body, status, kind) in cases {
        let r = hub.send(Method::POST, "/entities", ct, &body).await;
        assert_problem(r, status, kind).await;
    }
    let r = hub
        .req(Method::POST, "/entities")
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, "InvalidRequest").await;
    let r = hub
        .req(Method::POST, "/entities")
        .header("Content-Type", "application/xml")
        .body("<a/>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = hub.get("/entities?type=T&invalidParam=1").await;
    assert_problem(r, 400, "InvalidRequest").await;
    let r = hub.get("/entities?type=T&q=speed%3E%3E").await;
    assert_problem(r, 400, "BadRequestData").await;
    let r = hub.get("/entities?type=T&options=fancy").await;
    assert_problem(r, 400, "BadRequestData").await;
    let r = hub.get("/entities?georel=near;maxDistance==10&geometry=Point&coordinates=[1").await;
    assert_problem(r, 400, "BadRequestData").await;
    let r = hub.get("/entities").await;
    assert_problem(r, 400, "BadRequestData").await;
    let big = "x".repeat(citybrain_server::MAX_BODY_BYTES + 10);
    let r = hub
        .req(Method::POST, "/entities")
        .header("Content-Type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn accept_negotiation_and_not_acceptable() {
    let hub = Hub::start().await;
    assert_eq!(
        hub.post_json("/entities", &json!({"id": "urn:a:1", "type": "T"})).await.status(),
        201
    );
    for (accept, expected) in [
        ("*/*", "application/json"),
        ("application/ld+json", "application/ld+json"),
        ("application/json;q=0, */*", "application/ld+json"),
        ("application/geo+json", "application/geo+json"),
    ] {
        let r = hub
            .req(Method::GET, "/entities/urn:a:1")
            .header("Accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-type"], expected, "{accept}");
    }
    let r = hub
        .req(Method::GET, "/entities/urn:a:1")
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 406);
    let r = hub
        .req(Method::GET, "/types")
        .header("Accept", "application/geo+json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 406);
}

#[tokio::test]
async fn tenants_are_isolated_and_echoed() {
    let hub = Hub::start().await;
    let r = hub
        .req(Method::POST, "/entities")
        .header("Content-Type", "application/json")
        .header("NGSILD-Tenant", "police")
        .body(json!({"id": "urn:a:1", "type": "T"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["ngsild-tenant"], "police");
    let r = hub
        .req(Method::GET, "/entities/urn:a:1")
        .header("NGSILD-Tenant", "police")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(hub.get("/entities/urn:a:1").await.status(), 404);
    let r = hub
        .req(Method::GET, "/entities?type=T")
        .header("NGSILD-Tenant", "nobody")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["ngsild-tenant"], "nobody");
    assert_problem(r, 404, "NonexistentTenant").await;
}

#[tokio::test]
async fn unreachable_remote_context_is_503_and_invalid_one_is_400() {
    let hub = Hub::start().await;
    // A port nothing listens on: connection refused, fast.
    let dead = json!({"id": "urn:a:1", "type": "T", "@context": "http://127.0.0.1:9/ctx.jsonld"});
    assert_problem(hub.post_ld("/entities", &dead).await, 503, "LdContextNotAvailable").await;
    // A context server that answers something that is not a context.
    let app = axum::Router::new()
        .route("/bad.jsonld", axum::routing::get(|| async { "this is { not json" }))
        .route("/nocontext.jsonld", axum::routing::get(|| async { axum::Json(json!({"note": 1})) }))
        .route(
            "/good.jsonld",
            axum::routing::get(|| async {
                axum::Json(json!({"@context": {"T": "https://example.org/T"}}))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    for file in ["bad", "nocontext"] {
        let e = json!({"id": "urn:a:1", "type": "T", "@context": format!("http://{addr}/{file}.jsonld")});
        assert_problem(hub.post_ld("/entities", &e).await, 400, "BadRequestData").await;
    }
    assert_eq!(hub.get("/entities/urn:a:1").await.status(), 404);
    let e = json!({"id": "urn:a:1", "type": "T", "@context": format!("http://{addr}/good.jsonld")});
    assert_eq!(hub.post_ld("/entities", &e).await.status(), 201);
    let (_, body) = hub.get_json("/entities/urn:a:1").await;
    assert_eq!(body["type"], "https://example.org/T");
}

#[tokio::test]
async fn missing_content_length_is_a_bare_411() {
    let hub = Hub::start().await;
    let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(
        bytes::Bytes::from_static(b"{\"id\":\"urn:a:1\",\"type\":\"T\"}"),
    )]);
    let r = hub
        .req(Method::POST, "/entities")
        .header("Content-Type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 411);
    assert_eq!(r.text().await.unwrap(), "");
}
