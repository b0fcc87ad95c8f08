//! Subscriptions and HTTP notifications, with a notification receiver inside the test.

use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::support::{Hub, assert_problem};

/// A receiver that records (headers, body) of every POST, optionally answering slowly.
pub(crate) async fn receiver(
    delay: Duration,
) -> (String, mpsc::UnboundedReceiver<(HeaderMap, Value)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/notify",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let tx = tx.clone();
            async move {
                tokio::time::sleep(delay).await;
                let _ = tx.send((headers, serde_json::from_str(&body).unwrap_or(Value::Null)));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/notify"), rx)
}

pub(crate) async fn next(
    rx: &mut mpsc::UnboundedReceiver<(HeaderMap, Value)>,
    secs: u64,
) -> Option<(HeaderMap, Value)> {
    tokio::time::timeout(Duration::from_secs(secs), rx.recv()).await.ok().flatten()
}

fn subscription(uri: &str, extra: Value) -> Value {
    let mut s = json!({"type": "Subscription", "entities": [{"type": "Vehicle"}],
        "notification": {"endpoint": {"uri": uri, "accept": "application/json"}}});
    for (k, v) in extra.as_object().unwrap() {
        s[k] = v.clone();
    }
    s
}

#[tokio::test]
async fn notifies_on_matching_changes_only() {
    let hub = Hub::start().await;
    let (uri, mut rx) = receiver(Duration::ZERO).await;
    let r = hub.post_json("/subscriptions", &subscription(&uri, json!({"id": "urn:ngsi-ld:Subscription:s1", "q": "speed>50", "watchedAttributes": ["speed"]}))).await;
    assert_eq!(r.status(), 201);
    assert!(r.headers()["location"].to_str().unwrap().ends_with("urn:ngsi-ld:Subscription:s1"));
    hub.post_json(
        "/entities",
        &json!({"id": "urn:ngsi-ld:Vehicle:1", "type": "Vehicle", "speed": 10, "brand": "X"}),
    )
    .await;
    hub.send(
        Method::PATCH,
        "/entities/urn:ngsi-ld:Vehicle:1/attrs",
        "application/json",
        &json!({"speed": 80}),
    )
    .await;
    let (headers, n) = next(&mut rx, 5).await.expect("a notification");
    assert_eq!(n["type"], "Notification");
    assert_eq!(n["subscriptionId"], "urn:ngsi-ld:Subscription:s1");
    assert_eq!(n["data"][0]["id"], "urn:ngsi-ld:Vehicle:1");
    assert_eq!(n["data"][0]["speed"]["value"], 80);
    assert!(n["data"][0].get("@context").is_none());
    assert!(headers["link"].to_str().unwrap().contains("ngsi-ld-core-context"));
    // A change to an unwatched attribute does not notify.
    hub.send(
        Method::PATCH,
        "/entities/urn:ngsi-ld:Vehicle:1/attrs",
        "application/json",
        &json!({"brand": "Y"}),
    )
    .await;
    assert!(next(&mut rx, 1).await.is_none());
    // Status fields appear after delivery.
    let (_, s) = hub.get_json("/subscriptions/urn:ngsi-ld:Subscription:s1").await;
    assert_eq!(s["notification"]["timesSent"], 1);
    assert_eq!(s["notification"]["status"], "ok");
    assert!(s["notification"]["lastSuccess"].is_string());
    assert_eq!(s["status"], "active");
}

#[tokio::test]
async fn crud_pause_resume_and_errors() {
    let hub = Hub::start().await;
    let (uri, mut rx) = receiver(Duration::ZERO).await;
    let sub = subscription(
        &uri,
        json!({"id": "urn:ngsi-ld:Subscription:p", "isActive": false, "notification": {"format": "keyValues", "endpoint": {"uri": uri, "accept": "application/json"}}}),
    );
    assert_eq!(hub.post_json("/subscriptions", &sub).await.status(), 201);
    assert_problem(hub.post_json("/subscriptions", &sub).await, 409, "AlreadyExists").await;
    let (_, s) = hub.get_json("/subscriptions/urn:ngsi-ld:Subscription:p").await;
    assert_eq!(s["status"], "paused");
    hub.post_json(
        "/entities",
        &json!({"id": "urn:ngsi-ld:Vehicle:2", "type": "Vehicle", "speed": 1}),
    )
    .await;
    assert!(next(&mut rx, 1).await.is_none(), "paused subscriptions do not notify");
    let r = hub
        .send(
            Method::PATCH,
            "/subscriptions/urn:ngsi-ld:Subscription:p",
            "application/json",
            &json!({"isActive": true}),
        )
        .await;
    assert_eq!(r.status(), 204);
    hub.send(
        Method::PATCH,
        "/entities/urn:ngsi-ld:Vehicle:2/attrs",
        "application/json",
        &json!({"speed": 2}),
    )
    .await;
    let (_, n) = next(&mut rx, 5).await.expect("resumed");
    assert_eq!(n["data"][0]["speed"], 2, "keyValues format");
    let (_, list) = hub.get_json("/subscriptions").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_problem(hub.get("/subscriptions/InvalidUri").await, 400, "BadRequestData").await;
    assert_problem(
        hub.get("/subscriptions/urn:ngsi-ld:Subscription:none").await,
        404,
        "ResourceNotFound",
    )
    .await;
    assert_problem(
        hub.post_json(
            "/subscriptions",
            &json!({"type": "Subscription", "entities": [{"type": "V"}]}),
        )
        .await,
        400,
        "BadRequestData",
    )
    .await;
    let r =
        hub.req(Method::DELETE, "/subscriptions/urn:ngsi-ld:Subscription:p").send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(hub.get("/subscriptions/urn:ngsi-ld:Subscription:p").await.status(), 404);
}

#[tokio::test]
async fn a_slow_receiver_does_not_delay_others_or_the_api() {
    let hub = Hub::start().await;
    let (slow_uri, _slow_rx) = receiver(Duration::from_secs(3)).await;
    let (fast_uri, mut fast_rx) = receiver(Duration::ZERO).await;
    hub.post_json("/subscriptions", &subscription(&slow_uri, json!({}))).await;
    hub.post_json("/subscriptions", &subscription(&fast_uri, json!({}))).await;
    let start = Instant::now();
    for i in 0..5 {
        let r = hub
            .post_json(
                "/entities",
                &json!({"id": format!("urn:ngsi-ld:Vehicle:s{i}"), "type": "Vehicle", "speed": i}),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "the API is not held up by the slow receiver"
    );
    for _ in 0..5 {
        assert!(
            next(&mut fast_rx, 2).await.is_some(),
            "the fast receiver gets every notification promptly"
        );
    }
}

#[tokio::test]
async fn attribute_deleted_and_ld_json_notifications() {
    let hub = Hub::start().await;
    let (uri, mut rx) = receiver(Duration::ZERO).await;
    let sub = json!({"type": "Subscription", "entities": [{"type": "Vehicle"}], "notificationTrigger": ["attributeDeleted"],
        "notification": {"endpoint": {"uri": uri, "accept": "application/ld+json"}}});
    hub.post_json("/subscriptions", &sub).await;
    hub.post_json(
        "/entities",
        &json!({"id": "urn:ngsi-ld:Vehicle:d", "type": "Vehicle", "speed": 1, "name": "n"}),
    )
    .await;
    assert!(next(&mut rx, 1).await.is_none(), "creation is not an attributeDeleted");
    hub.req(Method::DELETE, "/entities/urn:ngsi-ld:Vehicle:d/attrs/name").send().await.unwrap();
    let (headers, n) = next(&mut rx, 5).await.expect("attributeDeleted");
    assert_eq!(headers["content-type"], "application/ld+json");
    assert!(n.get("@context").is_some());
    assert_eq!(n["data"][0]["name"]["value"], "urn:ngsi-ld:null");
    assert_eq!(n["data"][0]["speed"]["value"], 1);
}

#[tokio::test]
async fn time_interval_notifications_repeat() {
    let hub = Hub::start().await;
    let (uri, mut rx) = receiver(Duration::ZERO).await;
    hub.post_json(
        "/entities",
        &json!({"id": "urn:ngsi-ld:Vehicle:t", "type": "Vehicle", "speed": 1}),
    )
    .await;
    hub.post_json("/subscriptions", &subscription(&uri, json!({"timeInterval": 1}))).await;
    for _ in 0..2 {
        let (_, n) = next(&mut rx, 3).await.expect("periodic notification");
        assert_eq!(n["data"][0]["id"], "urn:ngsi-ld:Vehicle:t");
    }
}

/// 49_01_01: a subscription's `q` into a linked entity (`isConnectedTo{batteryLevel}<0.5`,
/// clause 4.9 EXAMPLES 13/14) follows the relationship through the broker's store: the
/// Vehicle connected to the low-battery Device notifies, the one connected to the healthy
/// Device (created first) does not; a negated `!rel{attr}` holds when no target has it.
#[tokio::test]
async fn linked_entity_q_follows_relationships() {
    let hub = Hub::start().await;
    let (uri, mut rx) = receiver(Duration::ZERO).await;
    let device = |id: &str, level: f64| json!({"id": id, "type": "Device", "batteryLevel": {"type": "Property", "value": level}});
    for d in [device("urn:ngsi-ld:Device:low", 0.3), device("urn:ngsi-ld:Device:full", 0.95)] {
        assert_eq!(hub.post_json("/entities", &d).await.status(), 201);
    }
    let sub = subscription(
        &uri,
        json!({"id": "urn:ngsi-ld:Subscription:linked", "q": "isConnectedTo{batteryLevel}<0.5"}),
    );
    assert_eq!(hub.post_json("/subscriptions", &sub).await.status(), 201);
    let vehicle = |id: &str, device: &str| {
        json!({"id": id, "type": "Vehicle",
            "isConnectedTo": {"type": "Relationship", "object": device}})
    };
    for v in [
        vehicle("urn:ngsi-ld:Vehicle:ok", "urn:ngsi-ld:Device:full"),
        vehicle("urn:ngsi-ld:Vehicle:low", "urn:ngsi-ld:Device:low"),
    ] {
        assert_eq!(hub.post_json("/entities", &v).await.status(), 201);
    }
    let (_, n) = next(&mut rx, 5).await.expect("a notification");
    assert_eq!(n["subscriptionId"], "urn:ngsi-ld:Subscription:linked");
    assert_eq!(n["data"][0]["id"], "urn:ngsi-ld:Vehicle:low");
    assert_eq!(n["data"].as_array().unwrap().len(), 1);

    // The negated form, and a type hint that excludes the target.
    let sub = subscription(
        &uri,
        json!({"id": "urn:ngsi-ld:Subscription:unlinked", "q": "!isConnectedTo{Sensor:batteryLevel}"}),
    );
    assert_eq!(hub.post_json("/subscriptions", &sub).await.status(), 201);
    let v = vehicle("urn:ngsi-ld:Vehicle:third", "urn:ngsi-ld:Device:low");
    assert_eq!(hub.post_json("/entities", &v).await.status(), 201);
    let mut seen = Vec::new();
    for _ in 0..2 {
        let (_, n) = next(&mut rx, 5).await.expect("a notification");
        seen.push((n["subscriptionId"].clone(), n["data"][0]["id"].clone()));
    }
    seen.sort_by_key(|(s, _)| s.to_string());
    assert_eq!(
        seen,
        vec![
            (json!("urn:ngsi-ld:Subscription:linked"), json!("urn:ngsi-ld:Vehicle:third")),
            (json!("urn:ngsi-ld:Subscription:unlinked"), json!("urn:ngsi-ld:Vehicle:third")),
        ]
    );
}
