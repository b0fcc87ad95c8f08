//! Request checks of Retrieve Entity (clause 5.7.1.4, conformance suite 5711_01: the `type`
//! selector, `geometryProperty` only with GeoJSON, Linked Entity projection only with `join`)
//! and of Query Entities (clause 5.7.2.4, suites 5722_01 and 019_33: too-wide system-only
//! filters, Linked Entity depth against `join`/`joinLevel`, invalid `csf`), and the Query body
//! of POST /entityOperations/query (clause 5.2.23, suite 019_32).

use reqwest::Method;
use serde_json::json;

use crate::support::Hub;

#[tokio::test]
async fn retrieve_type_selector_geometry_property_and_linked_pick() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Building:rc1";
    let b = json!({"id": id, "type": "Building",
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [2.0, 48.0]}}});
    assert_eq!(hub.post_json("/entities", &b).await.status(), 201);
    // (query, Accept, expected status)
    let cases = [
        ("?type=Vehicle", "application/json", 404),
        ("?type=Building", "application/json", 200),
        ("?type=Vehicle,Building", "application/json", 200),
        ("?geometryProperty=location", "application/ld+json", 400),
        ("?geometryProperty=location", "application/geo+json", 200),
        ("?pick=owner%7Bname%7D", "application/ld+json", 400),
        ("?pick=id,location", "application/ld+json", 200),
    ];
    for (query, accept, status) in cases {
        let r = hub
            .req(Method::GET, &format!("/entities/{id}{query}"))
            .header("Accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{query} with {accept}");
    }
}

#[tokio::test]
async fn query_rejects_wide_linked_and_malformed_requests() {
    let hub = Hub::start().await;
    let b = json!({"id": "urn:ngsi-ld:Building:qc1", "type": "Building",
        "name": {"type": "Property", "value": "a{2}"}});
    assert_eq!(hub.post_json("/entities", &b).await.status(), 201);
    let eleven = format!("{}name{}", "a%7B".repeat(11), "%7D".repeat(11));
    // (query string, expected status)
    let cases = [
        ("attrs=createdAt".to_string(), 400),
        ("q=modifiedAt%3E%222020-01-01T00:00:00Z%22".to_string(), 400),
        ("type=Building&q=owner%7Bname%7D%3D%3D%22x%22".to_string(), 400),
        (
            "type=Building&q=owner%7Bworks%7Bname%7D%7D%3D%3D%22x%22&join=inline&joinLevel=1"
                .to_string(),
            400,
        ),
        ("type=Building&csf=))bad((".to_string(), 400),
        (
            "type=Building&pick=locatedAt%7Bowner%7Bname%7D%7D&join=inline&joinLevel=1".to_string(),
            400,
        ),
        (
            "type=Building&omit=locatedAt%7Bowner%7Bname%7D%7D&join=inline&joinLevel=1".to_string(),
            400,
        ),
        ("type=Building&pick=locatedAt%7Bowner%7Bname%7D%7D".to_string(), 400),
        (format!("type=Building&pick={eleven}&join=inline&joinLevel=10"), 400),
        // Still fine: a narrowing filter next to system attrs, one hop with join, a regex
        // with braces inside quotes.
        ("type=Building&attrs=createdAt".to_string(), 200),
        ("attrs=createdAt,name".to_string(), 200),
        ("type=Building&q=owner%7Bname%7D%3D%3D%22x%22&join=inline&joinLevel=1".to_string(), 200),
        ("type=Building&q=name~%3D%22a%7B2%7D%22".to_string(), 200),
    ];
    for (query, status) in cases {
        let r = hub.get(&format!("/entities?{query}")).await;
        assert_eq!(r.status().as_u16(), status, "{query}");
    }
}

#[tokio::test]
async fn batch_query_body_members_are_checked_and_honoured() {
    let hub = Hub::start().await;
    for (id, speed) in [("urn:ngsi-ld:Vehicle:bq-a", 80), ("urn:ngsi-ld:Vehicle:bq-b", 120)] {
        let v = json!({"id": id, "type": "Vehicle", "speed": {"type": "Property", "value": speed},
            "brand": {"type": "Property", "value": "Mercedes"}});
        assert_eq!(hub.post_json("/entities", &v).await.status(), 201);
    }
    let sel = json!([{"type": "Vehicle"}]);
    // (body, status, text the response must contain, text it must not contain)
    let cases = [
        (json!({"type": "Query", "entities": sel, "q": "speed>100"}), 200, "bq-b", "bq-a"),
        (json!({"type": "Query", "entities": sel, "pick": ["speed"]}), 200, "speed", "brand"),
        (json!({"type": "Query", "entities": sel, "omit": ["speed"]}), 200, "brand", "speed"),
        (json!({"type": "Query", "entities": []}), 400, "BadRequestData", "bq-a"),
        (json!({"type": "Query", "entities": sel, "attrs": []}), 400, "BadRequestData", "bq-a"),
        (json!({"type": "Query", "entities": sel, "q": 42}), 400, "BadRequestData", "bq-a"),
        (
            json!({"type": "Query", "entities": sel, "join": "inline", "joinLevel": 0}),
            400,
            "BadRequestData",
            "bq-a",
        ),
        (
            json!({"type": "Query", "entities": sel,
            "temporalQ": {"timerel": "after", "timeAt": "2020-01-01T00:00:00Z"}}),
            400,
            "BadRequestData",
            "bq-a",
        ),
    ];
    for (body, status, has, lacks) in cases {
        let r = hub.post_json("/entityOperations/query", &body).await;
        assert_eq!(r.status().as_u16(), status, "{body}");
        let text = r.text().await.unwrap();
        assert!(text.contains(has) && !text.contains(lacks), "{body} → {text}");
    }
}
