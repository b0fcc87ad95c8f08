//! Queries: type expressions, q, geo, pagination, count, types/attributes discovery.

use serde_json::{Value, json};

use crate::support::Hub;

async fn seed(hub: &Hub) {
    let mut items = Vec::new();
    for i in 0..30 {
        items.push(json!({
            "id": format!("urn:ngsi-ld:Vehicle:{i}"), "type": if i % 3 == 0 { "Truck" } else { "Car" },
            "speed": {"type": "Property", "value": i * 10, "observedAt": "2024-01-01T00:00:00Z"},
            "brand": {"type": "Property", "value": if i % 2 == 0 { "Volvo" } else { "Fiat" }},
            "address": {"type": "Property", "value": {"city": if i < 15 { "Hangzhou" } else { "Jinan" }}},
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [120.0 + f64::from(i) * 0.01, 30.0]}},
            "scope": if i < 5 { "/Hangzhou/Gudang" } else { "/Jinan" },
        }));
    }
    let r = hub.post_json("/entityOperations/create", &Value::Array(items)).await;
    assert_eq!(r.status(), 201);
}

async fn ids(hub: &Hub, query: &str) -> Vec<String> {
    let (status, body) = hub.get_json(&format!("/entities?{query}&limit=1000")).await;
    assert_eq!(status, 200, "{query}: {body}");
    let mut out: Vec<String> =
        body.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    out.sort();
    out
}

#[tokio::test]
async fn filters() {
    let hub = Hub::start().await;
    seed(&hub).await;
    let cases: Vec<(&str, usize)> = vec![
        ("type=Car", 20),
        ("type=Car,Truck", 30),
        ("type=Truck&q=speed%3E=150", 5),
        ("type=Car&q=brand==%22Volvo%22", 10),
        ("type=Car&q=speed==100..200;brand==%22Fiat%22", 4),
        ("type=Car&q=address[city]==%22Jinan%22", 10),
        ("type=Car&q=(speed%3C20|speed%3E270)", 3),
        ("idPattern=Vehicle:1.*", 11),
        // An id list alone is too wide (clause 5.7.2.4, conformance 019_03_05): it narrows
        // a query that names a type.
        ("type=Car&id=urn:ngsi-ld:Vehicle:1,urn:ngsi-ld:Vehicle:2,urn:ngsi-ld:Vehicle:3", 2),
        ("type=Car&scopeQ=/Hangzhou/%23", 3),
        ("type=Car&attrs=nothing", 0),
        ("georel=near;maxDistance==2000&geometry=Point&coordinates=[120.0,30.0]", 3),
        (
            "type=Car&georel=within&geometry=Polygon&coordinates=[[[119.9,29.9],[120.055,29.9],[120.055,30.1],[119.9,30.1],[119.9,29.9]]]",
            4,
        ),
    ];
    for (q, n) in cases {
        assert_eq!(ids(&hub, q).await.len(), n, "{q}");
    }
}

#[tokio::test]
async fn pagination_count_and_projection() {
    let hub = Hub::start().await;
    seed(&hub).await;
    let r = hub.get("/entities?type=Car&limit=5&offset=5&count=true").await;
    assert_eq!(r.headers()["ngsild-results-count"], "20");
    let links: Vec<String> =
        r.headers().get_all("link").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    assert!(links.iter().any(|l| l.contains("rel=\"next\"") && l.contains("offset=10")));
    assert!(links.iter().any(|l| l.contains("rel=\"prev\"") && l.contains("offset=0")));
    let page: Value = r.json().await.unwrap();
    assert_eq!(page.as_array().unwrap().len(), 5);
    let mut all = Vec::new();
    for offset in (0..20).step_by(7) {
        let (_, body) = hub.get_json(&format!("/entities?type=Car&limit=7&offset={offset}")).await;
        all.extend(body.as_array().unwrap().iter().map(|e| e["id"].clone()));
    }
    all.sort_by_key(|v| v.to_string());
    all.dedup();
    assert_eq!(all.len(), 20, "pages are disjoint and complete");
    let (_, body) = hub.get_json("/entities?type=Truck&pick=id,speed&limit=1").await;
    assert_eq!(body[0].as_object().unwrap().keys().collect::<Vec<_>>(), vec!["id", "speed"]);
    let (_, body) =
        hub.get_json("/entities?type=Truck&omit=brand,address&limit=1&options=keyValues").await;
    assert!(body[0].get("brand").is_none() && body[0]["speed"].is_number());
    let r = hub
        .req(reqwest::Method::GET, "/entities?type=Truck&limit=2")
        .header("Accept", "application/geo+json")
        .send()
        .await
        .unwrap();
    let fc: Value = r.json().await.unwrap();
    assert_eq!(fc["type"], "FeatureCollection");
    assert_eq!(fc["features"][0]["geometry"]["type"], "Point");
    assert!(fc.get("@context").is_some());
}

#[tokio::test]
async fn types_and_attributes() {
    let hub = Hub::start().await;
    seed(&hub).await;
    let (_, body) = hub.get_json("/types").await;
    let mut list: Vec<&str> =
        body["typeList"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    list.sort();
    assert_eq!(list, vec!["Car", "Truck"]);
    let (_, body) = hub.get_json("/types/Truck").await;
    assert_eq!(body["entityCount"], 10);
    assert_eq!(body["type"], "EntityTypeInfo");
    let (_, body) = hub.get_json("/attributes").await;
    assert!(body["attributeList"].as_array().unwrap().contains(&json!("speed")));
    let (status, body) = hub.get_json("/attributes/speed").await;
    assert_eq!(status, 200);
    assert_eq!(body["attributeCount"], 30);
    assert_eq!(hub.get("/types/Bus").await.status(), 404);
    // 026_01: the details list names each attribute and its types, nothing more.
    let (_, body) = hub.get_json("/attributes?details=true").await;
    let speed = body.as_array().unwrap().iter().find(|a| a["attributeName"] == "speed").unwrap();
    let mut keys: Vec<&str> = speed.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["attributeName", "id", "type", "typeNames"], "{speed}");
    assert_eq!(speed["type"], "Attribute");
}

#[tokio::test]
async fn linked_entity_retrieval() {
    let hub = Hub::start().await;
    hub.post_json("/entities", &json!({"id": "urn:ngsi-ld:City:Paris", "type": "City"})).await;
    hub.post_json("/entities", &json!({"id": "urn:ngsi-ld:Building:b", "type": "Building", "locatedAt": {"type": "Relationship", "object": "urn:ngsi-ld:City:Paris"}})).await;
    let (_, inline) = hub.get_json("/entities/urn:ngsi-ld:Building:b?join=inline").await;
    assert_eq!(
        inline["locatedAt"]["entity"],
        json!({"id": "urn:ngsi-ld:City:Paris", "type": "City"})
    );
    let (_, flat) = hub.get_json("/entities?type=Building&join=flat").await;
    let ids: Vec<&str> =
        flat.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["urn:ngsi-ld:Building:b", "urn:ngsi-ld:City:Paris"]);
    assert_eq!(hub.get("/entities?type=Building&join=sideways").await.status(), 400);
}
