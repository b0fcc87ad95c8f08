//! Conformance cases from several suite files that do not belong to one area: batch update
//! with `noOverwrite` (005_02) and the keyValues shapes of lists and multi-instance attributes
//! (454_01, 4517_01). The linked-entity subscription `q` (49_01) is in `subscriptions.rs`,
//! next to the notification receiver.

use serde_json::{Value, json};

use crate::support::Hub;

fn building(id: &str, attrs: Value) -> Value {
    let mut e = json!({"id": id, "type": "Building"});
    for (k, v) in attrs.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

fn simple_attributes() -> Value {
    json!({
        "name": {"type": "Property", "value": "Eiffel Tower"},
        "subCategory": {"type": "Property", "value": "tourism"},
        "airQualityLevel": {"type": "Property", "value": 4, "unitCode": "C62",
            "observedAt": "2020-09-09T16:40:00Z"},
        "almostFull": {"type": "Property", "value": false}
    })
}

/// 005_02_01/02/03: `entityOperations/update?options=noOverwrite` answers 207 when an
/// entity's attributes already exist (kept, and reported per entity), 204 when every
/// attribute was new; new attributes are applied either way.
#[tokio::test]
async fn batch_update_no_overwrite_reports_kept_attributes() {
    let hub = Hub::start().await;
    let ids = ["urn:ngsi-ld:Building:b1", "urn:ngsi-ld:Building:b2"];
    for id in ids {
        let r = hub.post_json("/entities", &building(id, simple_attributes())).await;
        assert_eq!(r.status(), 201);
    }
    // 01: the same entities again (every attribute exists, none is overwritten).
    let changed = json!({"name": {"type": "Property", "value": "Other"}});
    let batch: Vec<Value> = ids.iter().map(|id| building(id, changed.clone())).collect();
    let r = hub.post_json("/entityOperations/update?options=noOverwrite", &json!(batch)).await;
    assert_eq!(r.status(), 207);
    let body: Value = r.json().await.unwrap();
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{body}");
    assert_eq!(errors[0]["entityId"], ids[0]);
    assert!(errors[0]["error"]["detail"].as_str().unwrap().contains("name"), "{body}");
    let (_, e) = hub.get_json(&format!("/entities/{}", ids[0])).await;
    assert_eq!(e["name"]["value"], "Eiffel Tower");

    // 02: only a new attribute → 204.
    let located =
        json!({"locatedAt": {"type": "Relationship", "object": "urn:ngsi-ld:City:Paris"}});
    let batch: Vec<Value> = ids.iter().map(|id| building(id, located.clone())).collect();
    let r = hub.post_json("/entityOperations/update?options=noOverwrite", &json!(batch)).await;
    assert_eq!(r.status(), 204);

    // 03: a new attribute next to existing ones → 207, the new one applied.
    let mixed = json!({
        "name": {"type": "Property", "value": "Other"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [13.3986, 52.5547]}}
    });
    let batch: Vec<Value> = ids.iter().map(|id| building(id, mixed.clone())).collect();
    let r = hub.post_json("/entityOperations/update?options=noOverwrite", &json!(batch)).await;
    assert_eq!(r.status(), 207);
    for id in ids {
        let (_, e) = hub.get_json(&format!("/entities/{id}")).await;
        assert_eq!(e["name"]["value"], "Eiffel Tower");
        assert_eq!(e["location"]["value"]["coordinates"], json!([13.3986, 52.5547]));
        assert_eq!(e["locatedAt"]["object"], "urn:ngsi-ld:City:Paris");
    }
}

/// 454_01: keyValues per attribute type (clause 4.5.4): bare value, object and lists;
/// wrapped languageMap/json/vocab; a multi-instance attribute as the `dataset` map keyed by
/// datasetId with `@none` for the default instance; nothing reified.
#[tokio::test]
async fn key_values_per_attribute_type() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Vehicle:kv454";
    let body = json!({"id": id, "type": "Vehicle",
        "speed": [{"type": "Property", "value": 55},
                  {"type": "Property", "value": 11, "datasetId": "urn:ngsi-ld:Dataset:gps"}],
        "brandName": {"type": "LanguageProperty", "languageMap": {"en": "hi"}},
        "street": {"type": "JsonProperty", "json": {"a": 1}},
        "category": {"type": "VocabProperty", "vocab": "non-commercial"},
        "tyreTreadDepths": {"type": "ListProperty", "valueList": [1.2, 3.4]},
        "isParked": {"type": "Relationship", "object": "urn:ngsi-ld:OffStreetParking:1"},
        "route": {"type": "ListRelationship", "objectList": ["urn:ngsi-ld:Road:1", "urn:ngsi-ld:Road:2"]}});
    assert_eq!(hub.post_json("/entities", &body).await.status(), 201);
    // One entity and a query (the streamed renderer) give the same simplified body.
    let (status, one) = hub.get_json(&format!("/entities/{id}?options=keyValues")).await;
    assert_eq!(status, 200);
    let (_, list) = hub.get_json("/entities?type=Vehicle&options=keyValues").await;
    assert_eq!(list[0], one);
    assert_eq!(one["brandName"], json!({"languageMap": {"en": "hi"}}));
    assert_eq!(one["street"], json!({"json": {"a": 1}}));
    assert_eq!(one["category"], json!({"vocab": "non-commercial"}));
    assert_eq!(one["tyreTreadDepths"], json!([1.2, 3.4]));
    assert_eq!(one["isParked"], "urn:ngsi-ld:OffStreetParking:1");
    assert_eq!(one["route"], json!(["urn:ngsi-ld:Road:1", "urn:ngsi-ld:Road:2"]));
    assert_eq!(one["speed"], json!({"dataset": {"@none": 55, "urn:ngsi-ld:Dataset:gps": 11}}));
    let reified: Vec<&String> = one
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| v.get("type").is_some() && v.get("value").is_some())
        .map(|(k, _)| k)
        .collect();
    assert!(reified.is_empty(), "{one}");
}

/// 4517_01: simplified GeoJSON (clause 4.5.17.1): the default instance's geometry, bare
/// property values, the `dataset` map for a multi-instance attribute.
#[tokio::test]
async fn simplified_geojson_with_dataset_map() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Vehicle:geo4517";
    let body = json!({"id": id, "type": "Vehicle",
        "location": [
            {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [9.0, 9.0]},
             "datasetId": "urn:ngsi-ld:Dataset:gps"},
            {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [3.0, 4.0]}}],
        "speed": {"type": "Property", "value": 5}});
    assert_eq!(hub.post_json("/entities", &body).await.status(), 201);
    let r = hub
        .req(reqwest::Method::GET, &format!("/entities/{id}?options=keyValues"))
        .header("Accept", "application/geo+json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let f: Value = r.json().await.unwrap();
    assert_eq!(f["type"], "Feature");
    assert_eq!(f["geometry"], json!({"type": "Point", "coordinates": [3.0, 4.0]}));
    assert_eq!(f["properties"]["speed"], 5);
    let loc = f["properties"]["location"].as_object().unwrap();
    assert_eq!(loc.keys().collect::<Vec<_>>(), ["dataset"]);
    let ds: Vec<&String> = loc["dataset"].as_object().unwrap().keys().collect();
    assert_eq!(ds, ["@none", "urn:ngsi-ld:Dataset:gps"]);
}
