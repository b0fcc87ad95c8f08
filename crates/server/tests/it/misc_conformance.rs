//! Conformance cases from several suite files that do not belong to one area: batch update
//! with `noOverwrite` (005_02), ...

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
