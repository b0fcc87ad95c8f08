//! The broker's in-process API, as the traffic twin and the cockpit use it (no HTTP).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use citybrain_broker::{BatchOp, Broker, EntityQuery, UpsertMode};
use citybrain_ngsi::Context;
use citybrain_ngsi::filters::parse_type_expr;
use citybrain_ngsi::parse::{parse_entity, parse_fragment};
use citybrain_ngsi::subscription::Subscription;
use citybrain_store::SqliteStore;
use serde_json::json;

fn flow(i: u32, intensity: u32) -> serde_json::Value {
    json!({"id": format!("urn:ngsi-ld:TrafficFlowObserved:{i}"), "type": "TrafficFlowObserved",
           "intensity": {"type": "Property", "value": intensity}})
}

#[tokio::test]
async fn publish_query_and_subscribe_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::open(Arc::new(SqliteStore::open(dir.path()).unwrap())).unwrap();
    let ctx = Context::core();

    let sub = Subscription::parse(
        &json!({"type": "Subscription", "entities": [{"type": "TrafficFlowObserved"}], "q": "intensity>500",
                "notification": {"endpoint": {"uri": "urn:citybrain:cockpit"}}}),
        &ctx,
        &Broker::new_subscription_id(),
        0,
    )
    .unwrap();
    let (_id, mut rx) = broker.subscribe_channel("", sub, 64).await.unwrap();

    // The twin publishes a batch of observations.
    let items = (0..10).map(|i| Ok(parse_fragment(&flow(i, i * 100), &ctx, 0).unwrap())).collect();
    let result = broker.batch("", BatchOp::Upsert(UpsertMode::Update), items).await.unwrap();
    assert_eq!(result.success.len(), 10);

    // The controller reads them back through the service layer.
    let query = EntityQuery {
        types: Some(parse_type_expr("TrafficFlowObserved", &|t| ctx.expand(t)).unwrap()),
        q: Some(citybrain_ngsi::query::parse_q("intensity>=700", &|t| ctx.expand(t)).unwrap()),
        limit: 100,
        ..EntityQuery::default()
    };
    let page = broker.query_entities("", &query).unwrap();
    assert_eq!(page.entities.len(), 3);

    // The cockpit is told about the busy roads only.
    let mut notified = Vec::new();
    while let Ok(Some(n)) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
        notified.extend(n.entities.into_iter().map(|e| e.id));
    }
    notified.sort();
    assert_eq!(
        notified,
        (6..10).map(|i| format!("urn:ngsi-ld:TrafficFlowObserved:{i}")).collect::<Vec<_>>()
    );

    // A single upsert and a retrieve.
    let e = parse_entity(&flow(3, 900), &ctx, 0).unwrap();
    assert!(!broker.upsert_entity("", e).await.unwrap());
    assert_eq!(
        broker.retrieve_entity("", "urn:ngsi-ld:TrafficFlowObserved:3").unwrap().attrs.len(),
        1
    );
    let n = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await.unwrap().unwrap();
    assert_eq!(n.entities[0].id, "urn:ngsi-ld:TrafficFlowObserved:3");
}

#[tokio::test]
async fn state_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Context::core();
    {
        let broker = Broker::open(Arc::new(SqliteStore::open(dir.path()).unwrap())).unwrap();
        broker.create_entity("police", parse_entity(&flow(1, 10), &ctx, 0).unwrap()).await.unwrap();
    }
    let broker = Broker::open(Arc::new(SqliteStore::open(dir.path()).unwrap())).unwrap();
    assert!(broker.tenant_exists("police"));
    assert_eq!(
        broker.retrieve_entity("police", "urn:ngsi-ld:TrafficFlowObserved:1").unwrap().id,
        "urn:ngsi-ld:TrafficFlowObserved:1"
    );
    assert!(broker.retrieve_entity("", "urn:ngsi-ld:TrafficFlowObserved:1").is_err());
}
