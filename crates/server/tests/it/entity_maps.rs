//! EntityMaps (clause 5.14) and their use by queries (clause 5.5.14), as the conformance
//! suite's EntityMap TPs (5141–5145, 5593) and temporal 5734_01 exercise them.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Hub, assert_problem};

async fn vehicle(hub: &Hub, id: &str, speed: i64) {
    let body = json!({"id": id, "type": "Vehicle", "speed": {"type": "Property", "value": speed}});
    assert_eq!(hub.post_json("/entities", &body).await.status(), 201);
}

/// GET with an optional `NGSILD-EntityMap` header: status, that header, body.
async fn get_with_map(hub: &Hub, path: &str, map: Option<&str>) -> (u16, Option<String>, Value) {
    let mut rb = hub.req(Method::GET, path);
    if let Some(m) = map {
        rb = rb.header("NGSILD-EntityMap", m);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let loc = r.headers().get("NGSILD-EntityMap").map(|v| v.to_str().unwrap().to_string());
    (status, loc, r.json().await.unwrap_or(Value::Null))
}

fn map_id(location: &str) -> &str {
    location.rsplit('/').next().unwrap()
}

fn ids(body: &Value) -> Vec<String> {
    let mut v: Vec<String> =
        body.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn entity_map_resource_lifecycle() {
    let hub = Hub::start().await;
    let (slow, fast) = ("urn:ngsi-ld:Vehicle:slow", "urn:ngsi-ld:Vehicle:fast");
    vehicle(&hub, slow, 30).await;
    vehicle(&hub, fast, 90).await;

    let (status, loc, body) =
        get_with_map(&hub, "/entityMaps?type=Vehicle&q=speed%3E50", None).await;
    assert_eq!(status, 201);
    assert_eq!(body["type"], "EntityMap");
    assert_eq!(body["entityMap"][fast], json!(["@none"]));
    assert!(body["entityMap"].get(slow).is_none(), "q narrows the map: {body}");
    let id = map_id(loc.as_deref().unwrap()).to_string();
    assert_eq!(body["id"], id.as_str());

    // Request errors: (path, status, error type).
    let bad = [
        ("/entityMaps?id=urn:ngsi-ld:Vehicle:slow", 400, "BadRequestData"),
        ("/entityMaps?type=Vehicle&entityMapLifetime=1hour", 400, "BadRequestData"),
        ("/entityMaps/not%20a%20uri", 400, "BadRequestData"),
        ("/entityMaps/urn:ngsi-ld:EntityMap:unknown", 404, "ResourceNotFound"),
        ("/temporal/entityMaps?type=Vehicle", 400, "BadRequestData"),
    ];
    for (path, status, kind) in bad {
        assert_problem(hub.get(path).await, status, kind).await;
    }

    // Another tenant neither sees nor deletes it.
    let other = hub
        .req(Method::DELETE, &format!("/entityMaps/{id}"))
        .header("NGSILD-Tenant", "other")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);

    // Output-only members are ignored, the expiry is bounded by the broker.
    let patch = json!({"expiresAt": "2099-01-01T00:00:00Z",
        "entityMap": {"urn:ngsi-ld:Vehicle:injected": ["@none"]}});
    let r = hub.send(Method::PATCH, &format!("/entityMaps/{id}"), "application/json", &patch).await;
    assert_eq!(r.status(), 204);
    let (status, got) = hub.get_json(&format!("/entityMaps/{id}")).await;
    assert_eq!(status, 200);
    assert!(got["expiresAt"].as_str().unwrap() < "2099-01-01T00:00:00Z", "{got}");
    assert!(got["entityMap"].get("urn:ngsi-ld:Vehicle:injected").is_none());
    assert!(got["entityMap"].get(fast).is_some());
    let r = hub
        .send(
            Method::PATCH,
            &format!("/entityMaps/{id}"),
            "application/json",
            &json!({"expiresAt": "tomorrow"}),
        )
        .await;
    assert_problem(r, 400, "BadRequestData").await;

    // An expired map is gone.
    let past = json!({"expiresAt": "2000-01-01T00:00:00Z"});
    let r = hub.send(Method::PATCH, &format!("/entityMaps/{id}"), "application/json", &past).await;
    assert_eq!(r.status(), 204);
    assert_problem(hub.get(&format!("/entityMaps/{id}")).await, 404, "ResourceNotFound").await;

    // Delete, then delete again.
    let (_, loc, _) = get_with_map(&hub, "/entityMaps?type=Vehicle", None).await;
    let path = format!("/entityMaps/{}", map_id(loc.as_deref().unwrap()));
    assert_eq!(hub.req(Method::DELETE, &path).send().await.unwrap().status(), 204);
    assert_problem(hub.req(Method::DELETE, &path).send().await.unwrap(), 404, "ResourceNotFound")
        .await;
}

#[tokio::test]
async fn a_live_map_fixes_the_query_and_pages_walk_it() {
    let hub = Hub::start().await;
    for i in 0..5 {
        vehicle(&hub, &format!("urn:ngsi-ld:Vehicle:p-{i}"), 50).await;
    }
    let (status, loc, body) =
        get_with_map(&hub, "/entities?type=Vehicle&entityMap=true", None).await;
    assert_eq!(status, 201);
    assert_eq!(ids(&body).len(), 5);
    let loc = loc.unwrap();
    vehicle(&hub, "urn:ngsi-ld:Vehicle:late", 50).await;

    // (query, expected items, expected count header) with the map: the late entity stays out.
    let r = hub
        .req(Method::GET, "/entities?type=Vehicle&limit=2")
        .header("NGSILD-EntityMap", &loc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["NGSILD-EntityMap"], loc.as_str());
    let links: Vec<String> =
        r.headers().get_all("Link").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    assert!(
        links.iter().any(|l| l.contains("rel=\"next\"") && l.contains("offset=2")),
        "{links:?}"
    );
    assert!(links.iter().all(|l| !l.contains("urn:ngsi-ld:Vehicle")), "{links:?}");

    let del = hub.req(Method::DELETE, "/entities/urn:ngsi-ld:Vehicle:p-1").send().await.unwrap();
    assert_eq!(del.status(), 204);
    let (status, _, body) = get_with_map(&hub, "/entities?type=Vehicle&limit=10", Some(&loc)).await;
    assert_eq!(status, 200);
    assert_eq!(
        ids(&body),
        [
            "urn:ngsi-ld:Vehicle:p-0",
            "urn:ngsi-ld:Vehicle:p-2",
            "urn:ngsi-ld:Vehicle:p-3",
            "urn:ngsi-ld:Vehicle:p-4"
        ]
    );
    let (_, map) = hub.get_json(&format!("/entityMaps/{}", map_id(&loc))).await;
    assert!(map["entityMap"].get("urn:ngsi-ld:Vehicle:p-1").is_none(), "pruned: {map}");
    assert_eq!(map["entityMap"].as_object().unwrap().len(), 4);

    // A dead reference makes a new map.
    let (status, fresh, body) =
        get_with_map(&hub, "/entities?type=Vehicle", Some("urn:ngsi-ld:EntityMap:dead")).await;
    assert_eq!(status, 201);
    assert!(!fresh.unwrap().contains("dead"));
    assert_eq!(ids(&body).len(), 5);
}

#[tokio::test]
async fn temporal_queries_create_and_use_maps() {
    let hub = Hub::start().await;
    let (one, two) = ("urn:ngsi-ld:Vehicle:t-1", "urn:ngsi-ld:Vehicle:t-2");
    vehicle(&hub, one, 30).await;
    vehicle(&hub, two, 90).await;
    let window = "timerel=after&timeAt=2000-01-01T00:00:00Z&timeproperty=createdAt";

    let (status, loc, _) =
        get_with_map(&hub, &format!("/temporal/entities/{one}?{window}&entityMap=true"), None)
            .await;
    assert_eq!(status, 200);
    let (_, map) = hub.get_json(&format!("/entityMaps/{}", map_id(&loc.unwrap()))).await;
    assert_eq!(map["entityMap"], json!({one: ["@none"]}));

    let (status, loc, _) = get_with_map(
        &hub,
        &format!("/temporal/entities?type=Vehicle&id={one}&{window}&entityMap=true"),
        None,
    )
    .await;
    assert_eq!(status, 201);
    let loc = loc.unwrap();
    let (status, echoed, body) =
        get_with_map(&hub, &format!("/temporal/entities?type=Vehicle&{window}"), Some(&loc)).await;
    assert_eq!(status, 200);
    assert_eq!(echoed.as_deref(), Some(loc.as_str()));
    assert_eq!(ids(&body), [one]);

    // /temporal/entityMaps: candidates are the entities with instances in the window.
    let cases = [("2999-01-01T00:00:00Z", 2), ("2000-01-01T00:00:00Z", 0)];
    for (before, n) in cases {
        let path = format!(
            "/temporal/entityMaps?type=Vehicle&timerel=before&timeAt={before}&timeproperty=createdAt"
        );
        let (status, _, body) = get_with_map(&hub, &path, None).await;
        assert_eq!(status, 201);
        assert_eq!(body["entityMap"].as_object().unwrap().len(), n, "before {before}: {body}");
    }
}

#[tokio::test]
async fn retrieve_reports_a_map_without_narrowing_it() {
    let hub = Hub::start().await;
    let (a, b) = ("urn:ngsi-ld:Vehicle:r-a", "urn:ngsi-ld:Vehicle:r-b");
    vehicle(&hub, a, 10).await;
    vehicle(&hub, b, 20).await;
    // The flag makes a map holding the entity; the body stays the entity.
    let (status, loc, body) =
        get_with_map(&hub, &format!("/entities/{a}?entityMap=true"), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], a);
    assert!(body.get("entityMap").is_none());
    let (_, map) = hub.get_json(&format!("/entityMaps/{}", map_id(&loc.unwrap()))).await;
    assert_eq!(map["entityMap"], json!({a: ["@none"]}));
    // A live query map is echoed by a retrieve and keeps all its ids.
    let (_, qloc, _) = get_with_map(&hub, "/entities?type=Vehicle&entityMap=true", None).await;
    let qloc = qloc.unwrap();
    let (status, echoed, _) = get_with_map(&hub, &format!("/entities/{a}"), Some(&qloc)).await;
    assert_eq!(status, 200);
    assert_eq!(echoed.as_deref(), Some(qloc.as_str()));
    let (_, map) = hub.get_json(&format!("/entityMaps/{}", map_id(&qloc))).await;
    assert_eq!(map["entityMap"].as_object().unwrap().len(), 2, "{map}");
    // A dead reference makes a new map.
    let (status, fresh, _) =
        get_with_map(&hub, &format!("/entities/{a}"), Some("urn:ngsi-ld:EntityMap:dead")).await;
    assert_eq!(status, 200);
    assert!(!fresh.unwrap().contains("dead"));
}
