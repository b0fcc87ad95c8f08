//! Attribute provisioning edges from the conformance suite's Provision folders: the Entity
//! type selector on the attribute operations (clause 4.17; suites 562_01, 563_01, 564_01,
//! 565_01), `scope` through the attribute endpoints (clause 4.18; 564_01, 565_01, 010_07,
//! 011_05, 055_03), a datasetId that NGSI-LD Null cannot delete (clause 5.5.8; 558_01) and
//! NGSI-LD Null as a whole member of a temporal entity (clause 5.5.4; 5611_01).

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Hub, assert_problem};

/// Sends one request line (no body) over a plain socket and returns the whole response.
async fn raw_request(addr: std::net::SocketAddr, line: String) -> String {
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(s, "{line}\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    })
    .await
    .unwrap()
}

async fn status(hub: &Hub, method: Method, path: &str, body: Option<&Value>) -> u16 {
    let r = match body {
        Some(b) => hub.send(method, path, "application/json", b).await,
        None => hub.req(method, path).send().await.unwrap(),
    };
    r.status().as_u16()
}

async fn name_value(hub: &Hub, id: &str) -> Value {
    let (s, e) = hub.get_json(&format!("/entities/{id}")).await;
    assert_eq!(s, 200);
    e["name"]["value"].clone()
}

#[tokio::test]
async fn type_selector_gates_append_update_patch_and_delete() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Vehicle:ts1";
    let e = json!({"id": id, "type": "Building", "name": {"type": "Property", "value": "x"}});
    assert_eq!(hub.post_json("/entities", &e).await.status(), 201);
    let frag = json!({"name": {"type": "Property", "value": "y"}});
    let attrs = format!("/entities/{id}/attrs/");
    // (method, path, body, value expected afterwards)
    let steps: Vec<(Method, String, Option<Value>, u16, &str)> = vec![
        (Method::POST, format!("{attrs}?type=Vehicle"), Some(frag.clone()), 404, "x"),
        (Method::POST, format!("{attrs}?type=Building"), Some(frag.clone()), 204, "y"),
        (
            Method::PATCH,
            format!("{attrs}?type=Vehicle"),
            Some(json!({"name": {"type": "Property", "value": "z"}})),
            404,
            "y",
        ),
        (
            Method::PATCH,
            format!("{attrs}?type=Building"),
            Some(json!({"name": {"type": "Property", "value": "z"}})),
            204,
            "z",
        ),
        (Method::PATCH, format!("{attrs}name?type=Vehicle"), Some(json!({"value": "w"})), 404, "z"),
        (
            Method::PATCH,
            format!("{attrs}name?type=Building"),
            Some(json!({"value": "w"})),
            204,
            "w",
        ),
        (Method::DELETE, format!("{attrs}name?type=Vehicle"), None, 404, "w"),
    ];
    for (method, path, body, expected, after) in steps {
        let got = status(&hub, method.clone(), &path, body.as_ref()).await;
        assert_eq!(got, expected, "{method} {path}");
        assert_eq!(name_value(&hub, id).await, after, "after {method} {path}");
    }
    assert_eq!(
        status(&hub, Method::DELETE, &format!("{attrs}name?type=Building"), None).await,
        204
    );
    let (_, e) = hub.get_json(&format!("/entities/{id}")).await;
    assert!(e.get("name").is_none(), "{e}");
}

#[tokio::test]
async fn scope_through_the_attribute_endpoints() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Building:sc1";
    let e = json!({"id": id, "type": "Building", "scope": "/Madrid"});
    assert_eq!(hub.post_json("/entities", &e).await.status(), 201);
    let attrs = format!("/entities/{id}/attrs");
    let scope_of = |e: &Value| e.get("scope").cloned();
    // Partial update and replace of attrs/scope are BadRequestData; the scope stays.
    let r = hub
        .send(Method::PATCH, &format!("{attrs}/scope"), "application/json", &json!({"value": "/B"}))
        .await;
    assert_problem(r, 400, "BadRequestData").await;
    let r = hub
        .send(Method::PUT, &format!("{attrs}/scope"), "application/json", &json!({"scope": "/B"}))
        .await;
    assert_problem(r, 400, "BadRequestData").await;
    let (_, got) = hub.get_json(&format!("/entities/{id}")).await;
    assert_eq!(scope_of(&got), Some(json!("/Madrid")));
    // Append with noOverwrite adds the new scope; without it the scope is replaced.
    let r = hub.post_json(&format!("{attrs}?options=noOverwrite"), &json!({"scope": "/C"})).await;
    assert_eq!(r.status(), 204);
    let (_, got) = hub.get_json(&format!("/entities/{id}")).await;
    assert_eq!(scope_of(&got), Some(json!(["/Madrid", "/C"])));
    assert_eq!(hub.post_json(&attrs, &json!({"scope": "/D"})).await.status(), 204);
    let (_, got) = hub.get_json(&format!("/entities/{id}")).await;
    assert_eq!(scope_of(&got), Some(json!("/D")));
    // Update replaces an existing scope.
    let r = hub.send(Method::PATCH, &attrs, "application/json", &json!({"scope": "/E"})).await;
    assert_eq!(r.status(), 204);
    let (_, got) = hub.get_json(&format!("/entities/{id}")).await;
    assert_eq!(scope_of(&got), Some(json!("/E")));
    // Delete Attribute removes it; a second delete finds nothing.
    assert_eq!(status(&hub, Method::DELETE, &format!("{attrs}/scope"), None).await, 204);
    let (_, got) = hub.get_json(&format!("/entities/{id}")).await;
    assert_eq!(scope_of(&got), None, "{got}");
    let r = hub.req(Method::DELETE, &format!("{attrs}/scope")).send().await.unwrap();
    assert_problem(r, 404, "ResourceNotFound").await;
    // Update does not add a scope to an entity without one: 207, scope not updated.
    let r = hub.send(Method::PATCH, &attrs, "application/json", &json!({"scope": "/F"})).await;
    assert_eq!(r.status(), 207);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["notUpdated"][0]["attributeName"], "scope");
    let (_, got) = hub.get_json(&format!("/entities/{id}")).await;
    assert_eq!(scope_of(&got), None, "{got}");
}

#[tokio::test]
async fn null_datasetid_and_temporal_null_members_are_refused() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Vehicle:nd1";
    let e = json!({"id": id, "type": "Vehicle",
        "temperature": {"type": "Property", "value": 25, "unitCode": "CEL"}});
    assert_eq!(hub.post_json("/entities", &e).await.status(), 201);
    let r = hub
        .send(
            Method::PATCH,
            &format!("/entities/{id}/attrs/temperature"),
            "application/json",
            &json!({"datasetId": "urn:ngsi-ld:null"}),
        )
        .await;
    assert_problem(r, 400, "BadRequestData").await;
    let (_, got) = hub.get_json(&format!("/entities/{id}")).await;
    assert_eq!(got["temperature"]["value"], 25, "{got}");

    let tid = "urn:ngsi-ld:Vehicle:nd2";
    let t = json!({"id": tid, "type": "Vehicle", "expiresAt": "urn:ngsi-ld:null",
        "speed": [{"type": "Property", "value": 1, "observedAt": "2026-01-01T00:00:00Z"}]});
    let r = hub.post_json("/temporal/entities", &t).await;
    assert_problem(r, 400, "BadRequestData").await;
    let (s, _) = hub
        .get_json(&format!("/temporal/entities/{tid}?timerel=before&timeAt=2030-01-01T00:00:00Z"))
        .await;
    assert_eq!(s, 404);
    // The deleted-instance representation inside an attribute stays legal temporal input.
    let first = json!({"id": tid, "type": "Vehicle",
        "speed": [{"type": "Property", "value": 1, "observedAt": "2026-01-01T00:00:00Z"}]});
    assert_eq!(hub.post_json("/temporal/entities", &first).await.status(), 201);
    let second = json!({"id": tid, "type": ["Vehicle", "Truck"], "speed": [{"type": "Property",
        "value": "urn:ngsi-ld:null", "observedAt": "2026-01-02T00:00:00Z"}]});
    assert_eq!(hub.post_json("/temporal/entities", &second).await.status(), 204);
}

#[tokio::test]
async fn temporal_attribute_deletes_check_names_and_instance_ids() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Vehicle:td1";
    let t = json!({"id": id, "type": "Vehicle",
        "speed": [{"type": "Property", "value": 120, "observedAt": "2020-09-01T12:03:00Z"},
                  {"type": "Property", "value": 80, "observedAt": "2020-09-01T12:05:00Z"}],
        "fuelLevel": [{"type": "Property", "value": 67, "observedAt": "2020-09-01T12:03:00Z"},
                      {"type": "Property", "value": 40, "observedAt": "2020-09-01T14:07:00Z",
                       "datasetId": "urn:ngsi-ld:Vehicle:12345-fuel"}]});
    assert_eq!(hub.post_json("/temporal/entities", &t).await.status(), 201);
    // Dot-segment names, percent-encoded once or twice, are not attribute names (015_04).
    // Sent over a raw socket: the HTTP client would resolve `%2e%2e` itself.
    for name in ["%2e%2e", "%252e%252e", "%2e"] {
        let line = format!("DELETE /ngsi-ld/v1/temporal/entities/{id}/attrs/{name} HTTP/1.1");
        let head = raw_request(hub.addr, line).await;
        assert!(head.starts_with("HTTP/1.1 400"), "{name}: {head}");
        assert!(head.contains("BadRequestData"), "{name}: {head}");
    }
    let (s, _) = hub.get_json(&format!("/temporal/entities/{id}")).await;
    assert_eq!(s, 200, "a refused name must not delete the temporal entity");
    // An instanceId that is not a URI is BadRequestData; an unknown one is not found (017).
    let r = hub
        .req(Method::DELETE, &format!("/temporal/entities/{id}/attrs/speed/invalidId"))
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, "BadRequestData").await;
    let r = hub
        .req(Method::DELETE, &format!("/temporal/entities/{id}/attrs/speed/urn:ngsi-ld:0123"))
        .send()
        .await
        .unwrap();
    assert_problem(r, 404, "ResourceNotFound").await;
    // After deleting the default fuelLevel instance the one left is still an array (015_01).
    let r = hub
        .req(Method::DELETE, &format!("/temporal/entities/{id}/attrs/fuelLevel"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (s, e) = hub.get_json(&format!("/temporal/entities/{id}")).await;
    assert_eq!(s, 200);
    let fuel = e["fuelLevel"].as_array().unwrap_or_else(|| panic!("not an array: {e}"));
    assert_eq!(fuel.len(), 1);
    assert_eq!(fuel[0]["value"], 40);
    assert_eq!(e["speed"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn partial_update_keeps_the_attribute_type_and_names_are_checked() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Vehicle:pk1";
    let e = json!({"id": id, "type": "Vehicle", "speed": {"type": "Property", "value": 55},
        "isParked": {"type": "Relationship", "object": "urn:ngsi-ld:OffStreetParking:1"}});
    assert_eq!(hub.post_json("/entities", &e).await.status(), 201);
    // A fragment naming another type is BadRequestData (012_02_03); the attribute stays.
    let r = hub
        .send(
            Method::PATCH,
            &format!("/entities/{id}/attrs/speed"),
            "application/json",
            &json!({"type": "Relationship", "object": "urn:ngsi-ld:Entity:01"}),
        )
        .await;
    assert_problem(r, 400, "BadRequestData").await;
    let (_, got) = hub.get_json(&format!("/entities/{id}")).await;
    assert_eq!(got["speed"], json!({"type": "Property", "value": 55}));
    // The same type, or none, still patches.
    let r = hub
        .send(
            Method::PATCH,
            &format!("/entities/{id}/attrs/speed"),
            "application/json",
            &json!({"type": "Property", "value": 60}),
        )
        .await;
    assert_eq!(r.status(), 204);
    let r = hub
        .send(
            Method::PATCH,
            &format!("/entities/{id}/attrs/speed"),
            "application/json",
            &json!({"value": 61}),
        )
        .await;
    assert_eq!(r.status(), 204);
    let (_, got) = hub.get_json(&format!("/entities/{id}")).await;
    assert_eq!(got["speed"]["value"], 61);
    // A JSON-LD keyword is not an attribute name (055_03_03).
    let r = hub
        .send(
            Method::PUT,
            &format!("/entities/{id}/attrs/@invalid"),
            "application/json",
            &json!({"type": "Relationship", "object": "urn:ngsi-ld:OffStreetParking:2"}),
        )
        .await;
    assert_problem(r, 400, "BadRequestData").await;
}

#[tokio::test]
async fn partial_update_of_sub_attributes_and_null_language_maps() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Vehicle:su1";
    let e = json!({"id": id, "type": "Vehicle",
        "isParked": {"type": "Relationship", "object": "urn:ngsi-ld:OffStreetParking:Downtown1",
            "providedBy": {"type": "Relationship", "object": "urn:ngsi-ld:Person:Bob"}},
        "street": {"type": "LanguageProperty", "languageMap": {"fr": "Grand Place"}}});
    assert_eq!(hub.post_json("/entities", &e).await.status(), 201);
    // A fragment of sub-attributes only merges them; type and object stay (012_01_01).
    let r = hub
        .send(
            Method::PATCH,
            &format!("/entities/{id}/attrs/isParked"),
            "application/json",
            &json!({"providedBy": {"type": "Relationship", "object": "urn:ngsi-ld:Person:JohnDoe"}}),
        )
        .await;
    assert_eq!(r.status(), 204);
    let (_, got) = hub.get_json(&format!("/entities/{id}")).await;
    assert_eq!(
        got["isParked"],
        json!({"type": "Relationship", "object": "urn:ngsi-ld:OffStreetParking:Downtown1",
            "providedBy": {"type": "Relationship", "object": "urn:ngsi-ld:Person:JohnDoe"}})
    );
    // An empty fragment is BadRequestData (012_02_04).
    let r = hub
        .send(
            Method::PATCH,
            &format!("/entities/{id}/attrs/isParked"),
            "application/json",
            &json!({}),
        )
        .await;
    assert_problem(r, 400, "BadRequestData").await;
    // The NGSI-LD Null of a LanguageProperty deletes it (012_05_04).
    let r = hub
        .send(
            Method::PATCH,
            &format!("/entities/{id}/attrs/street"),
            "application/json",
            &json!({"type": "LanguageProperty", "languageMap": {"@none": "urn:ngsi-ld:null"}}),
        )
        .await;
    assert_eq!(r.status(), 204);
    let (_, got) = hub.get_json(&format!("/entities/{id}")).await;
    assert!(got.get("street").is_none(), "{got}");
}
