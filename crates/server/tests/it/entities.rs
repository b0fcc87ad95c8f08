//! Entity CRUD and attribute operations through HTTP.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{CORE, Hub, assert_problem};

fn building(id: &str) -> Value {
    json!({
        "id": id, "type": "Building",
        "name": {"type": "Property", "value": "Eiffel Tower"},
        "airQualityLevel": {"type": "Property", "value": 4, "unitCode": "C62", "observedAt": "2020-09-09T16:40:00.000Z"},
        "locatedAt": {"type": "Relationship", "object": "urn:ngsi-ld:City:Paris"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [2.2945, 48.8584]}},
        "@context": [{"Building": "https://example.org/Building", "name": "https://example.org/name"}, CORE]
    })
}

#[tokio::test]
async fn create_retrieve_delete() {
    let hub = Hub::start().await;
    let r = hub.post_ld("/entities", &building("urn:ngsi-ld:Building:1")).await;
    assert_eq!(r.status(), 201);
    assert!(
        r.headers()["location"].to_str().unwrap().ends_with("/entities/urn:ngsi-ld:Building:1")
    );
    assert_eq!(r.text().await.unwrap(), "");
    // Without the user context, user terms come back as IRIs; core terms stay short.
    let (status, body) = hub.get_json("/entities/urn:ngsi-ld:Building:1").await;
    assert_eq!(status, 200);
    assert_eq!(body["type"], "https://example.org/Building");
    assert_eq!(body["https://example.org/name"]["value"], "Eiffel Tower");
    assert_eq!(body["airQualityLevel"]["unitCode"], "C62");
    assert_eq!(body["locatedAt"]["object"], "urn:ngsi-ld:City:Paris");
    assert!(body.get("@context").is_none());
    // Duplicate create.
    assert_problem(
        hub.post_ld("/entities", &building("urn:ngsi-ld:Building:1")).await,
        409,
        "AlreadyExists",
    )
    .await;
    let r = hub.req(Method::DELETE, "/entities/urn:ngsi-ld:Building:1").send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_problem(hub.get("/entities/urn:ngsi-ld:Building:1").await, 404, "ResourceNotFound")
        .await;
}

#[tokio::test]
async fn link_header_context_and_ld_json_accept() {
    let hub = Hub::start().await;
    let mut e = building("urn:ngsi-ld:Building:2");
    e.as_object_mut().unwrap().remove("@context");
    let r = hub.post_json("/entities", &e).await;
    assert_eq!(r.status(), 201);
    let r = hub
        .req(Method::GET, "/entities/urn:ngsi-ld:Building:2?options=sysAttrs")
        .header("Accept", "application/ld+json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/ld+json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["@context"], CORE);
    assert_eq!(body["type"], "Building");
    assert!(body["createdAt"].is_string() && body["name"]["modifiedAt"].is_string());
    let r = hub.get("/entities/urn:ngsi-ld:Building:2").await;
    assert!(r.headers()["link"].to_str().unwrap().contains(CORE));
    let (_, kv) = hub.get_json("/entities/urn:ngsi-ld:Building:2?options=keyValues").await;
    assert_eq!(kv["name"], "Eiffel Tower");
    assert_eq!(kv["locatedAt"], "urn:ngsi-ld:City:Paris");
    let (_, concise) = hub.get_json("/entities/urn:ngsi-ld:Building:2?options=concise").await;
    assert_eq!(concise["name"], "Eiffel Tower");
    assert_eq!(concise["locatedAt"], json!({"object": "urn:ngsi-ld:City:Paris"}));
}

#[tokio::test]
async fn attribute_operations() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Building:3";
    let mut e = building(id);
    e.as_object_mut().unwrap().remove("@context");
    assert_eq!(hub.post_json("/entities", &e).await.status(), 201);
    // Append a new attribute plus overwrite an existing one.
    let r = hub
        .post_json(
            &format!("/entities/{id}/attrs"),
            &json!({"height": {"type": "Property", "value": 300}, "name": "Tour Eiffel"}),
        )
        .await;
    assert_eq!(r.status(), 204);
    // noOverwrite reports the existing one as not updated.
    let r = hub
        .post_json(&format!("/entities/{id}/attrs?options=noOverwrite"), &json!({"name": "X"}))
        .await;
    assert_eq!(r.status(), 207);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["notUpdated"][0]["attributeName"], "name");
    // Update only existing attributes.
    let r = hub
        .send(
            Method::PATCH,
            &format!("/entities/{id}/attrs"),
            "application/json",
            &json!({"height": 301, "missing": 1}),
        )
        .await;
    assert_eq!(r.status(), 207);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["updated"], json!(["height"]));
    // Partial update keeps metadata not mentioned.
    let r = hub
        .send(
            Method::PATCH,
            &format!("/entities/{id}/attrs/airQualityLevel"),
            "application/json",
            &json!({"value": 5}),
        )
        .await;
    assert_eq!(r.status(), 204);
    let (_, body) = hub.get_json(&format!("/entities/{id}")).await;
    assert_eq!(body["airQualityLevel"]["value"], 5);
    assert_eq!(body["airQualityLevel"]["unitCode"], "C62");
    assert_eq!(body["height"]["value"], 301);
    assert_eq!(body["name"]["value"], "Tour Eiffel");
    // Delete an attribute, then it is gone and deleting again is 404.
    let r = hub.req(Method::DELETE, &format!("/entities/{id}/attrs/height")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = hub.req(Method::DELETE, &format!("/entities/{id}/attrs/height")).send().await.unwrap();
    assert_problem(r, 404, "ResourceNotFound").await;
    // Merge: NGSI-LD null deletes, new attributes are added.
    let r = hub
        .send(
            Method::PATCH,
            &format!("/entities/{id}"),
            "application/merge-patch+json",
            &json!({"name": "urn:ngsi-ld:null", "floors": 3}),
        )
        .await;
    assert_eq!(r.status(), 204);
    let (_, body) = hub.get_json(&format!("/entities/{id}")).await;
    assert!(body.get("name").is_none());
    assert_eq!(body["floors"]["value"], 3);
    // Replace keeps only the new attributes.
    let r = hub
        .send(
            Method::PUT,
            &format!("/entities/{id}"),
            "application/json",
            &json!({"type": "Building", "roof": 1}),
        )
        .await;
    assert_eq!(r.status(), 204);
    let (_, body) = hub.get_json(&format!("/entities/{id}")).await;
    assert!(body.get("floors").is_none());
    assert_eq!(body["roof"]["value"], 1);
}

#[tokio::test]
async fn multi_attributes_with_dataset_ids() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Vehicle:9";
    let e = json!({"id": id, "type": "Vehicle", "speed": [
        {"type": "Property", "value": 10},
        {"type": "Property", "value": 20, "datasetId": "urn:ngsi-ld:Dataset:gps"}
    ]});
    assert_eq!(hub.post_json("/entities", &e).await.status(), 201);
    let (_, body) = hub.get_json(&format!("/entities/{id}")).await;
    assert_eq!(body["speed"].as_array().unwrap().len(), 2);
    let r = hub
        .req(
            Method::DELETE,
            &format!("/entities/{id}/attrs/speed?datasetId=urn:ngsi-ld:Dataset:gps"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (_, body) = hub.get_json(&format!("/entities/{id}")).await;
    assert_eq!(body["speed"]["value"], 10);
}

/// Repeated retrieves are served from rendered copies; every write, delete and change of
/// representation must still show at once.
#[tokio::test]
async fn repeated_retrieves_follow_every_write_and_representation() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Building:cached";
    let path = format!("/entities/{id}");
    assert_eq!(hub.post_ld("/entities", &building(id)).await.status(), 201);
    for _ in 0..3 {
        let (status, body) = hub.get_json(&path).await;
        assert_eq!((status, body["airQualityLevel"]["value"].clone()), (200, json!(4)));
    }
    for level in 5..8 {
        let patch = json!({"airQualityLevel": {"type": "Property", "value": level}});
        let r = hub
            .req(Method::PATCH, &format!("{path}/attrs"))
            .header("Content-Type", "application/json")
            .body(patch.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let (_, body) = hub.get_json(&path).await;
        assert_eq!(body["airQualityLevel"]["value"], json!(level), "stale after update");
    }
    // Same entity, other representations: keyValues, ld+json, a user context by Link.
    let (_, kv) = hub.get_json(&format!("{path}?options=keyValues")).await;
    assert_eq!(kv["airQualityLevel"], json!(7));
    let r =
        hub.req(Method::GET, &path).header("Accept", "application/ld+json").send().await.unwrap();
    let ld: Value = r.json().await.unwrap();
    assert!(ld.get("@context").is_some(), "ld+json must carry @context: {ld}");
    let (_, plain) = hub.get_json(&path).await;
    assert!(plain.get("@context").is_none(), "plain JSON must not carry @context: {plain}");
    // Replaced, then deleted and created again with other content.
    let mut replacement = building(id);
    replacement["name"]["value"] = json!("Tokyo Tower");
    let r = hub
        .req(Method::PUT, &path)
        .header("Content-Type", "application/ld+json")
        .body(replacement.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (_, body) = hub.get_json(&path).await;
    assert_eq!(body["https://example.org/name"]["value"], "Tokyo Tower");
    assert_eq!(hub.req(Method::DELETE, &path).send().await.unwrap().status(), 204);
    assert_problem(hub.get(&path).await, 404, "ResourceNotFound").await;
    let mut again = building(id);
    again["name"]["value"] = json!("Canton Tower");
    assert_eq!(hub.post_ld("/entities", &again).await.status(), 201);
    let (_, body) = hub.get_json(&path).await;
    assert_eq!(body["https://example.org/name"]["value"], "Canton Tower");
}
