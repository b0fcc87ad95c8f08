//! Batch operations and their multi-status results.

use serde_json::{Value, json};

use crate::support::Hub;

#[tokio::test]
async fn create_upsert_update_delete() {
    let hub = Hub::start().await;
    let e = |i: u32, v: u32| json!({"id": format!("urn:ngsi-ld:Sensor:{i}"), "type": "Sensor", "level": v});
    let r = hub.post_json("/entityOperations/create", &json!([e(1, 1), e(2, 1)])).await;
    assert_eq!(r.status(), 201);
    let r = hub
        .post_json(
            "/entityOperations/create",
            &json!([e(2, 1), e(3, 1), {"id": "bad id", "type": "Sensor"}]),
        )
        .await;
    assert_eq!(r.status(), 207);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["success"], json!(["urn:ngsi-ld:Sensor:3"]));
    assert_eq!(body["errors"].as_array().unwrap().len(), 2);
    assert_eq!(
        body["errors"][0]["error"]["type"],
        "https://uri.etsi.org/ngsi-ld/errors/AlreadyExists"
    );
    let r = hub.post_json("/entityOperations/upsert", &json!([e(1, 5), e(4, 5)])).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap(), json!(["urn:ngsi-ld:Sensor:4"]));
    let r = hub.post_json("/entityOperations/upsert", &json!([e(1, 6)])).await;
    assert_eq!(r.status(), 204);
    let r = hub.post_json("/entityOperations/update", &json!([{"id": "urn:ngsi-ld:Sensor:2", "extra": 1}, {"id": "urn:ngsi-ld:Sensor:99", "extra": 1}])).await;
    assert_eq!(r.status(), 207);
    let (_, body) = hub.get_json("/entities/urn:ngsi-ld:Sensor:2").await;
    assert_eq!(body["extra"]["value"], 1);
    let (_, body) = hub.get_json("/entities/urn:ngsi-ld:Sensor:1").await;
    assert_eq!(body["level"]["value"], 6);
    let r = hub
        .post_json(
            "/entityOperations/delete",
            &json!(["urn:ngsi-ld:Sensor:1", "urn:ngsi-ld:Sensor:2"]),
        )
        .await;
    assert_eq!(r.status(), 204);
    let r = hub.post_json("/entityOperations/delete", &json!(["urn:ngsi-ld:Sensor:1"])).await;
    assert_eq!(r.status(), 207);
    let r = hub
        .post_json(
            "/entityOperations/query",
            &json!({"type": "Query", "entities": [{"type": "Sensor"}], "q": "level==5"}),
        )
        .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body.as_array().unwrap().len(), 1);
}

/// 003_03_02, 006_03_02: an empty body is an empty batch (BadRequestData, like `[]`), for
/// every batch operation; the entity endpoints keep InvalidRequest for a missing body.
#[tokio::test]
async fn an_empty_batch_body_is_bad_data() {
    let hub = Hub::start().await;
    for op in ["create", "upsert", "update", "merge", "delete"] {
        for body in ["", "  \n", "[]"] {
            let r = hub
                .req(reqwest::Method::POST, &format!("/entityOperations/{op}"))
                .header("Content-Type", "application/json")
                .header("Content-Length", body.len())
                .body(body)
                .send()
                .await
                .unwrap();
            crate::support::assert_problem(r, 400, "BadRequestData").await;
        }
    }
    let r = hub
        .req(reqwest::Method::POST, "/entities")
        .header("Content-Type", "application/json")
        .header("Content-Length", 0)
        .body("")
        .send()
        .await
        .unwrap();
    crate::support::assert_problem(r, 400, "InvalidRequest").await;
}
