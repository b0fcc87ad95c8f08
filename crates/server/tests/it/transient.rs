//! Transient entities and attributes (NGSI-LD v1.9 `expiresAt`): a system member shown only
//! with `sysAttrs`, validated on input, hidden from readers once it passes and then deleted
//! from storage by the expiry sweep, with an `entityDeleted` notification.
//! Conformance: Consumption/Entity/RetrieveEntity/6311_01 (01, 02, 03).

use std::sync::Arc;
use std::time::Duration;

use citybrain_broker::{Broker, EntityQuery};
use citybrain_ngsi::Context;
use citybrain_ngsi::parse::parse_entity;
use citybrain_ngsi::time::{format_datetime, now_micros};
use citybrain_store::SqliteStore;
use reqwest::Method;
use serde_json::{Value, json};

use crate::subscriptions::{next, receiver};
use crate::support::{Hub, assert_problem};

/// A DateTime `secs` seconds from now.
fn in_secs(secs: i64) -> String {
    format_datetime(now_micros() + secs * 1_000_000)
}

/// Polls `done` every 50 ms, for at most `limit`; returns whether it became true.
async fn eventually<F, Fut>(limit: Duration, mut done: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < until {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn expires_at_is_a_system_member_shown_only_with_sys_attrs() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Vehicle:6311-transient";
    let e = json!({"id": id, "type": "Vehicle", "expiresAt": "2100-01-01T00:00:00Z",
        "speed": {"type": "Property", "value": 7, "observedAt": "2026-08-13T00:00:00Z",
            "expiresAt": "2100-01-01T00:00:00Z"}});
    assert_eq!(hub.post_json("/entities/", &e).await.status(), 201);

    // 6311_01_01: no expiresAt anywhere without sysAttrs.
    let r = hub.get(&format!("/entities/{id}")).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(!text.contains("expiresAt"), "{text}");
    assert!(text.contains("speed"), "{text}");

    // 6311_01_02: with sysAttrs, at entity and attribute level, as given.
    let (s, body) = hub.get_json(&format!("/entities/{id}?options=sysAttrs")).await;
    assert_eq!(s, 200);
    assert_eq!(body["expiresAt"], "2100-01-01T00:00:00Z", "{body}");
    assert_eq!(body["speed"]["expiresAt"], "2100-01-01T00:00:00Z", "{body}");
    assert!(body.get("createdAt").is_some());
    // Queries and the concise format follow the same gate.
    let (_, list) = hub.get_json("/entities?type=Vehicle&options=sysAttrs,concise").await;
    assert_eq!(list[0]["expiresAt"], "2100-01-01T00:00:00Z", "{list}");
    assert_eq!(list[0]["speed"]["expiresAt"], "2100-01-01T00:00:00Z", "{list}");
    let r = hub.get("/entities?type=Vehicle").await;
    assert!(!r.text().await.unwrap().contains("expiresAt"));

    // 6311_01_03: temporal instances too.
    let path = format!("/temporal/entities/{id}?timerel=after&timeAt=2020-01-01T00:00:00Z");
    let r = hub.get(&path).await;
    assert_eq!(r.status(), 200);
    assert!(!r.text().await.unwrap().contains("expiresAt"));
    let (s, t) = hub.get_json(&format!("{path}&options=sysAttrs")).await;
    assert_eq!(s, 200);
    assert_eq!(t["speed"][0]["expiresAt"], "2100-01-01T00:00:00Z", "{t}");

    // expiresAt is no attribute: it cannot be addressed as one.
    let r = hub.get(&format!("/entities/{id}?attrs=expiresAt")).await;
    assert!(!r.text().await.unwrap().contains("2100-01-01"));
}

#[tokio::test]
async fn a_bad_or_past_expires_at_is_bad_request_data() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Vehicle:bad-expiry";
    let past = "2000-01-01T00:00:00Z";
    let bodies = [
        json!({"id": id, "type": "Vehicle", "expiresAt": "tomorrow"}),
        json!({"id": id, "type": "Vehicle", "expiresAt": 4_102_444_800_i64}),
        json!({"id": id, "type": "Vehicle", "expiresAt": "2100-01-01T00:00:00+02:00"}),
        json!({"id": id, "type": "Vehicle", "expiresAt": past}),
        json!({"id": id, "type": "Vehicle", "expiresAt": "urn:ngsi-ld:null"}),
        json!({"id": id, "type": "Vehicle",
            "speed": {"type": "Property", "value": 1, "expiresAt": past}}),
        json!({"id": id, "type": "Vehicle",
            "speed": {"type": "Property", "value": 1,
                "accuracy": {"type": "Property", "value": 1, "expiresAt": "soon"}}}),
    ];
    for body in bodies {
        let r = hub.post_json("/entities", &body).await;
        let problem = assert_problem(r, 400, "BadRequestData").await;
        assert!(problem["detail"].as_str().unwrap().contains("expiresAt"), "{problem}");
    }
    let (s, _) = hub.get_json(&format!("/entities/{id}")).await;
    assert_eq!(s, 404, "a refused entity is not created");

    // Fragments and batches are checked the same way and change nothing.
    let e = json!({"id": id, "type": "Vehicle", "speed": 1});
    assert_eq!(hub.post_json("/entities", &e).await.status(), 201);
    let r = hub
        .send(
            Method::PATCH,
            &format!("/entities/{id}"),
            "application/json",
            &json!({"expiresAt": past}),
        )
        .await;
    assert_problem(r, 400, "BadRequestData").await;
    let r = hub
        .send(
            Method::PATCH,
            &format!("/entities/{id}/attrs/speed"),
            "application/json",
            &json!({"value": 2, "expiresAt": "never"}),
        )
        .await;
    assert_problem(r, 400, "BadRequestData").await;
    let batch = json!([{"id": "urn:ngsi-ld:Vehicle:b1", "type": "Vehicle", "expiresAt": past}]);
    let r = hub.post_json("/entityOperations/create", &batch).await;
    assert_eq!(r.status(), 207);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["entityId"], "urn:ngsi-ld:Vehicle:b1", "{body}");
    assert_eq!(body["success"], json!([]), "{body}");
    let (_, got) = hub.get_json(&format!("/entities/{id}?options=sysAttrs")).await;
    assert_eq!(got["speed"]["value"], 1, "{got}");
    assert!(got.get("expiresAt").is_none(), "{got}");
}

#[tokio::test]
async fn merge_sets_and_clears_an_entity_expiry() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Vehicle:merge-expiry";
    let e = json!({"id": id, "type": "Vehicle", "speed": 1});
    assert_eq!(hub.post_json("/entities", &e).await.status(), 201);
    let patch = |body: Value| {
        let hub = &hub;
        async move {
            hub.send(Method::PATCH, &format!("/entities/{id}"), "application/json", &body)
                .await
                .status()
        }
    };
    assert_eq!(patch(json!({"expiresAt": "2100-01-01T00:00:00Z"})).await, 204);
    let (_, got) = hub.get_json(&format!("/entities/{id}?options=sysAttrs")).await;
    assert_eq!(got["expiresAt"], "2100-01-01T00:00:00Z", "{got}");
    assert_eq!(patch(json!({"expiresAt": "urn:ngsi-ld:null"})).await, 204);
    let (_, got) = hub.get_json(&format!("/entities/{id}?options=sysAttrs")).await;
    assert!(got.get("expiresAt").is_none(), "the NGSI-LD null makes it permanent: {got}");
    assert_eq!(got["speed"]["value"], 1);
}

#[tokio::test]
async fn an_expired_entity_is_gone_and_subscribers_hear_of_it() {
    let hub = Hub::start().await;
    let (uri, mut rx) = receiver(Duration::ZERO).await;
    let sub = json!({"type": "Subscription", "entities": [{"type": "Vehicle"}],
        "notificationTrigger": ["entityDeleted"],
        "notification": {"endpoint": {"uri": uri, "accept": "application/json"}}});
    assert_eq!(hub.post_json("/subscriptions", &sub).await.status(), 201);
    let id = "urn:ngsi-ld:Vehicle:short-lived";
    let keep = "urn:ngsi-ld:Vehicle:kept";
    let e = json!({"id": id, "type": "Vehicle", "expiresAt": in_secs(1), "speed": 1});
    assert_eq!(hub.post_json("/entities", &e).await.status(), 201);
    let k = json!({"id": keep, "type": "Vehicle", "expiresAt": in_secs(3600), "speed": 2});
    assert_eq!(hub.post_json("/entities", &k).await.status(), 201);

    let gone = eventually(Duration::from_secs(10), || async {
        hub.get_json(&format!("/entities/{id}")).await.0 == 404
    })
    .await;
    assert!(gone, "the entity expired");
    let (_, list) = hub.get_json("/entities?type=Vehicle").await;
    let ids: Vec<&str> = list.as_array().unwrap().iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids, vec![keep]);
    let (_, n) = next(&mut rx, 10).await.expect("an entityDeleted notification");
    assert_eq!(n["data"][0]["id"], id, "{n}");
    assert_eq!(n["triggerReason"], "entityDeleted", "{n}");
    // Deleted, not just hidden: the id can be created again.
    let again = json!({"id": id, "type": "Vehicle", "speed": 3});
    assert_eq!(hub.post_json("/entities", &again).await.status(), 201);
}

#[tokio::test]
async fn an_expired_attribute_leaves_the_rest_of_the_entity() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Vehicle:short-attr";
    let e = json!({"id": id, "type": "Vehicle", "name": "n",
        "speed": [{"type": "Property", "value": 1, "expiresAt": in_secs(1)},
                  {"type": "Property", "value": 2, "datasetId": "urn:ngsi-ld:ds:keep"}],
        "brand": {"type": "Property", "value": "b",
            "note": {"type": "Property", "value": "x", "expiresAt": in_secs(1)}}});
    assert_eq!(hub.post_json("/entities", &e).await.status(), 201);
    let expired = eventually(Duration::from_secs(10), || async {
        let (_, got) = hub.get_json(&format!("/entities/{id}")).await;
        got["speed"].is_object() && got["brand"].get("note").is_none()
    })
    .await;
    assert!(expired, "the default speed instance and the note expired");
    let (s, got) = hub.get_json(&format!("/entities/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(got["speed"]["datasetId"], "urn:ngsi-ld:ds:keep", "{got}");
    assert_eq!(got["name"]["value"], "n");
    assert_eq!(got["brand"]["value"], "b");
    let (_, list) = hub.get_json("/entities?type=Vehicle&q=speed==1").await;
    assert_eq!(list, json!([]), "queries no longer see the expired instance");
}

/// Readers stop seeing an expired entity at once; the sweep then removes it from memory and
/// from the store, so it is not loaded again after a restart.
#[tokio::test]
async fn the_sweep_deletes_expired_entities_from_storage() {
    let dir = tempfile::tempdir().unwrap();
    let open = || Broker::open(Arc::new(SqliteStore::open(dir.path()).unwrap())).unwrap();
    let broker = open();
    let ctx = Context::core();
    let now = now_micros();
    for (n, secs) in [(1, 1), (2, 3600)] {
        let doc = json!({"id": format!("urn:ngsi-ld:Vehicle:s{n}"), "type": "Vehicle",
            "expiresAt": in_secs(secs), "speed": n});
        broker.create_entity("", parse_entity(&doc, &ctx, now).unwrap()).await.unwrap();
    }
    let all = EntityQuery { limit: 100, ..EntityQuery::default() };
    let hidden = eventually(Duration::from_secs(10), || async {
        broker.query_entities("", &all).unwrap().entities.len() == 1
    })
    .await;
    assert!(hidden, "the expired entity is no longer listed");
    assert!(broker.retrieve_entity("", "urn:ngsi-ld:Vehicle:s1").is_err());
    assert_eq!(broker.stats("").unwrap().0, 2, "no sweep has run: still stored");
    assert_eq!(broker.sweep_expired().await.unwrap(), 1);
    assert_eq!(broker.stats("").unwrap().0, 1);
    assert_eq!(broker.sweep_expired().await.unwrap(), 0, "nothing left to sweep");
    drop(broker);
    let reopened = open();
    assert_eq!(reopened.stats("").unwrap().0, 1, "the deletion reached the store");
    let kept = reopened.retrieve_entity("", "urn:ngsi-ld:Vehicle:s2").unwrap();
    assert!(kept.expires_at.is_some(), "the other expiry survives a restart");
}
