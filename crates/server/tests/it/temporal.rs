//! The temporal API: history of every change, temporal create/append/delete, time filters,
//! temporalValues and aggregation.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Hub, assert_problem};

fn vehicle(id: &str) -> Value {
    json!({"id": id, "type": "Vehicle",
        "speed": [
            {"type": "Property", "value": 120, "observedAt": "2020-08-01T12:03:00Z"},
            {"type": "Property", "value": 80, "observedAt": "2020-08-01T12:05:00Z"},
            {"type": "Property", "value": 100, "observedAt": "2020-08-01T12:07:00Z"}],
        "fuelLevel": [
            {"type": "Property", "value": 67, "observedAt": "2020-08-01T12:03:00Z"},
            {"type": "Property", "value": 53, "observedAt": "2020-08-01T13:05:00Z"},
            {"type": "Property", "value": 40, "observedAt": "2020-08-01T14:07:00Z"}]})
}

#[tokio::test]
async fn temporal_create_query_and_aggregate() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Vehicle:T1";
    assert_eq!(hub.post_json("/temporal/entities", &vehicle(id)).await.status(), 201);
    let (status, e) = hub.get_json(&format!("/temporal/entities/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(e["speed"].as_array().unwrap().len(), 3);
    assert!(e["speed"][0]["instanceId"].is_string());
    let (_, e) = hub
        .get_json(&format!(
            "/temporal/entities/{id}?timerel=after&timeAt=2020-08-01T12:05:00Z&attrs=speed"
        ))
        .await;
    assert_eq!(e["speed"].as_array().unwrap().len(), 2);
    assert!(e.get("fuelLevel").is_none());
    let (_, e) =
        hub.get_json(&format!("/temporal/entities/{id}?options=temporalValues&lastN=1")).await;
    assert_eq!(e["speed"], json!({"type": "Property", "values": [[100, "2020-08-01T12:07:00Z"]]}));
    let (_, e) = hub.get_json(&format!("/temporal/entities/{id}?options=aggregatedValues&aggrMethods=avg&aggrPeriodDuration=PT1H")).await;
    assert_eq!(e["speed"]["avg"], json!([[100.0, "2020-08-01T12:03:00Z", "2020-08-01T13:03:00Z"]]));
    assert_eq!(e["fuelLevel"]["avg"].as_array().unwrap().len(), 3);
    let (_, list) = hub
        .get_json("/temporal/entities?type=Vehicle&timerel=before&timeAt=2020-08-01T12:04:00Z")
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["speed"][0]["value"], 120);
    // Append, then delete one attribute's history and the whole representation.
    let r = hub.post_json(&format!("/temporal/entities/{id}/attrs"), &json!({"speed": {"type": "Property", "value": 90, "observedAt": "2020-08-01T12:09:00Z"}})).await;
    assert_eq!(r.status(), 204);
    let (_, e) = hub.get_json(&format!("/temporal/entities/{id}?attrs=speed")).await;
    assert_eq!(e["speed"].as_array().unwrap().len(), 4);
    let instance = e["speed"][0]["instanceId"].as_str().unwrap().to_string();
    let r = hub
        .req(Method::DELETE, &format!("/temporal/entities/{id}/attrs/speed/{instance}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (_, e) = hub.get_json(&format!("/temporal/entities/{id}?attrs=speed")).await;
    assert_eq!(e["speed"].as_array().unwrap().len(), 3);
    let r = hub
        .req(Method::DELETE, &format!("/temporal/entities/{id}/attrs/fuelLevel"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (_, e) = hub.get_json(&format!("/temporal/entities/{id}")).await;
    assert!(e.get("fuelLevel").is_none());
    assert_eq!(
        hub.req(Method::DELETE, &format!("/temporal/entities/{id}")).send().await.unwrap().status(),
        204
    );
    assert_problem(hub.get(&format!("/temporal/entities/{id}")).await, 404, "ResourceNotFound")
        .await;
}

#[tokio::test]
async fn every_entity_change_is_kept_in_history() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Vehicle:H";
    hub.post_json("/entities", &json!({"id": id, "type": "Vehicle", "speed": {"type": "Property", "value": 1, "observedAt": "2024-01-01T00:00:00Z"}})).await;
    for (i, t) in ["2024-01-01T00:01:00Z", "2024-01-01T00:02:00Z"].iter().enumerate() {
        let r = hub
            .send(
                Method::PATCH,
                &format!("/entities/{id}/attrs"),
                "application/json",
                &json!({"speed": {"type": "Property", "value": i + 2, "observedAt": t}}),
            )
            .await;
        assert_eq!(r.status(), 204);
    }
    let (_, e) = hub.get_json(&format!("/temporal/entities/{id}?options=temporalValues")).await;
    let values: Vec<i64> =
        e["speed"]["values"].as_array().unwrap().iter().map(|p| p[0].as_i64().unwrap()).collect();
    assert_eq!(values, vec![1, 2, 3]);
    let (_, e) = hub
        .get_json(&format!(
            "/temporal/entities/{id}?options=aggregatedValues&aggrMethods=sum,max,totalCount"
        ))
        .await;
    assert_eq!(e["speed"]["sum"][0][0], 6.0);
    assert_eq!(e["speed"]["totalCount"][0][0], 3);
}

#[tokio::test]
async fn temporal_bad_input() {
    let hub = Hub::start().await;
    hub.post_json("/temporal/entities", &vehicle("urn:ngsi-ld:Vehicle:T2")).await;
    for q in [
        "timerel=after",
        "timerel=between&timeAt=2020-08-01T12:05:00Z",
        "timerel=during&timeAt=2020-08-01T12:05:00Z",
        "timerel=after&timeAt=noon",
        "lastN=-1",
        "options=aggregatedValues&aggrMethods=median",
    ] {
        assert_problem(
            hub.get(&format!("/temporal/entities/urn:ngsi-ld:Vehicle:T2?{q}")).await,
            400,
            "BadRequestData",
        )
        .await;
    }
    assert_problem(hub.get("/temporal/entities?type=Vehicle&bogus=1").await, 400, "InvalidRequest")
        .await;
    let r = hub
        .req(Method::GET, "/temporal/entities?type=Vehicle")
        .header("Accept", "application/geo+json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 406);
    let r = hub.post_json("/temporal/entityOperations/query", &json!({"type": "Query", "entities": [{"type": "Vehicle"}], "temporalQ": {"timerel": "after", "timeAt": "2020-08-01T14:00:00Z"}})).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body[0]["fuelLevel"][0]["value"], 40);
}
