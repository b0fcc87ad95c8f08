//! Projection (`pick`/`omit`, clause 4.21) with and without Linked Entity Retrieval (clause
//! 4.5.23), from the conformance suite's Consumption files: invalid projections (018_18,
//! 019_18, 020_22, 021_22), nothing left after attrs/pick/omit (018_03_02, 018_19, 019_17_01,
//! 020_08, 020_23), nested projections of joined entities (018_20, 018_21, 019_20–019_23), the
//! Query body's `join` (019_24) and a flat retrieve whose linked entity is absent (018_14_02).

use serde_json::{Value, json};

use crate::support::{Hub, assert_problem};

const BUILDING: &str = "urn:ngsi-ld:Building:B1";
const PARIS: &str = "urn:ngsi-ld:City:Paris";
const FRANCE: &str = "urn:ngsi-ld:Country:France";

fn prop(v: Value) -> Value {
    json!({"type": "Property", "value": v})
}

fn rel(object: &str) -> Value {
    json!({"type": "Relationship", "object": object})
}

/// `rel` with the linked entity embedded (inline join).
fn rel_with(object: &str, entity: Value) -> Value {
    json!({"type": "Relationship", "object": object, "entity": entity})
}

/// Percent-encodes the projection characters a query string carries.
fn enc(s: &str) -> String {
    s.replace('{', "%7B").replace('}', "%7D").replace('|', "%7C").replace(';', "%3B")
}

/// Sorts arrays (by their JSON text) so that bodies compare regardless of order.
fn unordered(v: &Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(unordered).collect();
            items.sort_by_key(|x| x.to_string());
            Value::Array(items)
        }
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, x)| (k.clone(), unordered(x))).collect())
        }
        other => other.clone(),
    }
}

async fn create(hub: &Hub, e: Value) {
    let r = hub.post_json("/entities", &e).await;
    assert_eq!(r.status(), 201, "{e}");
}

/// The building-simple-attributes fixture.
async fn simple_building(hub: &Hub, id: &str, name: &str) {
    create(
        hub,
        json!({"id": id, "type": "Building", "name": prop(json!(name)),
            "subCategory": prop(json!("tourism")), "airQualityLevel": prop(json!(4)),
            "almostFull": prop(json!(false))}),
    )
    .await;
}

/// Building → City → Country, as the two-level join files set them up.
async fn two_levels(hub: &Hub) {
    create(hub, json!({"id": BUILDING, "type": "Building", "locatedAt": rel(PARIS)})).await;
    create(
        hub,
        json!({"id": PARIS, "type": "City", "name": prop(json!("Paris")),
            "description": prop(json!("Paris is the capital")), "isInCountry": rel(FRANCE)}),
    )
    .await;
    create(
        hub,
        json!({"id": FRANCE, "type": "Country", "name": prop(json!("France")),
            "description": prop(json!("A European country"))}),
    )
    .await;
}

#[tokio::test]
async fn invalid_projections_are_bad_request_data() {
    let hub = Hub::start().await;
    simple_building(&hub, BUILDING, "Eiffel Tower").await;
    let hub = &hub;
    hub.post_json(
        "/temporal/entities",
        &json!({"id": "urn:ngsi-ld:Vehicle:V1", "type": "Vehicle",
            "speed": [{"type": "Property", "value": 120, "observedAt": "2020-08-01T12:03:00Z"}],
            "fuelLevel": [{"type": "Property", "value": 67, "observedAt": "2020-08-01T12:03:00Z"}]}),
    )
    .await;
    // 018_18_02/03 and 019_18_02/03: pick or omit with attrs; 018_18_04: ';' in a name;
    // 018_18_05–09: braces and separators out of the grammar.
    let bad = [
        "pick=name&attrs=category",
        "omit=name&attrs=category",
        "pick=id;name",
        "pick=id,locatedAt{name",
        "pick=id,locatedAt{{name}",
        "pick=id,,name",
        "pick=id,locatedAt{,name}",
        "pick=id,locatedAt{}",
    ];
    for q in bad {
        let q = enc(q);
        assert_problem(hub.get(&format!("/entities/{BUILDING}?{q}")).await, 400, "BadRequestData")
            .await;
        let query = format!("/entities?type=Building&{q}");
        assert_problem(hub.get(&query).await, 400, "BadRequestData").await;
    }
    // 020_22_02/03 and 021_22_02/03: the same rule on the temporal API.
    for q in ["pick=speed&attrs=fuelLevel", "omit=speed&attrs=fuelLevel"] {
        let retrieve = format!("/temporal/entities/urn:ngsi-ld:Vehicle:V1?{q}");
        assert_problem(hub.get(&retrieve).await, 400, "BadRequestData").await;
        let query = format!(
            "/temporal/entities?type=Building,Vehicle&timerel=after&timeAt=1970-01-01T00:00:00Z&{q}"
        );
        assert_problem(hub.get(&query).await, 400, "BadRequestData").await;
    }
}

#[tokio::test]
async fn nothing_left_is_not_found_and_query_drops_emptied_entities() {
    let hub = Hub::start().await;
    simple_building(&hub, BUILDING, "Eiffel Tower").await;
    // 018_03_02: attrs matching no attribute; 018_19_01: pick matching nothing; 018_19_02:
    // omit of every member.
    for q in [
        "attrs=property_not_found",
        "pick=unknown",
        "omit=id,type,name,subCategory,airQualityLevel,almostFull",
    ] {
        let r = hub.get(&format!("/entities/{BUILDING}?{q}")).await;
        assert_problem(r, 404, "ResourceNotFound").await;
    }
    // Something left (here only the id) is still an answer.
    let (status, body) = hub.get_json(&format!("/entities/{BUILDING}?pick=id,unknown")).await;
    assert_eq!((status, body), (200, json!({"id": BUILDING})));
    // 019_17_01: pick=name over Building,Vehicle lists the entities that have a name only.
    simple_building(&hub, "urn:ngsi-ld:Building:B3", "Pisa Tower").await;
    create(
        &hub,
        json!({"id": "urn:ngsi-ld:Vehicle:V2", "type": "Vehicle",
            "brandName": prop(json!("Mercedes"))}),
    )
    .await;
    let (status, body) = hub.get_json("/entities?type=Building,Vehicle&pick=name").await;
    assert_eq!(status, 200);
    let want = json!([{"name": prop(json!("Eiffel Tower"))}, {"name": prop(json!("Pisa Tower"))}]);
    assert_eq!(unordered(&body), unordered(&want));
    // 020_08: attrs naming no attribute; 020_23_01/02: unmatched pick, omit of every member.
    let v = "urn:ngsi-ld:Vehicle:T1";
    let r = hub
        .post_json(
            "/temporal/entities",
            &json!({"id": v, "type": "Vehicle",
                "speed": [{"type": "Property", "value": 80, "observedAt": "2020-08-01T12:05:00Z"}],
                "fuelLevel": [{"type": "Property", "value": 53, "observedAt": "2020-08-01T13:05:00Z"}]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    for q in ["attrs=unknownAttribute", "pick=unknown", "omit=id,type,fuelLevel,speed"] {
        let r = hub.get(&format!("/temporal/entities/{v}?{q}")).await;
        assert_problem(r, 404, "ResourceNotFound").await;
    }
    let (status, _) = hub.get_json(&format!("/temporal/entities/{v}?attrs=speed")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn nested_pick_projects_joined_entities() {
    let hub = Hub::start().await;
    two_levels(&hub).await;
    let get = |join: &str, pick: &str| {
        let path = format!("/entities/{BUILDING}?join={join}&joinLevel=2&pick={}", enc(pick));
        let hub = &hub;
        async move { hub.get_json(&path).await }
    };
    let paris = json!({"id": PARIS, "name": prop(json!("Paris"))});
    // 018_20_01: inline, the city picked down to id and name (its country not followed).
    let (s, body) = get("inline", "id,locatedAt{id,name}").await;
    assert_eq!(
        (s, body),
        (200, json!({"id": BUILDING, "locatedAt": rel_with(PARIS, paris.clone())}))
    );
    // 018_20_02: flat, the same projections listed side by side.
    let (s, body) = get("flat", "id,locatedAt{id,name}").await;
    let want = json!([{"id": BUILDING, "locatedAt": rel(PARIS)}, paris]);
    assert_eq!((s, unordered(&body)), (200, unordered(&want)));
    // 018_20_03/04: a second level picked inside the first.
    let pick = "id,locatedAt{id,name,isInCountry{id,description}}";
    let france = json!({"id": FRANCE, "description": prop(json!("A European country"))});
    let (s, body) = get("inline", pick).await;
    let city = json!({"id": PARIS, "name": prop(json!("Paris")),
        "isInCountry": rel_with(FRANCE, france.clone())});
    assert_eq!((s, body), (200, json!({"id": BUILDING, "locatedAt": rel_with(PARIS, city)})));
    let (s, body) = get("flat", pick).await;
    let want = json!([{"id": BUILDING, "locatedAt": rel(PARIS)},
        {"id": PARIS, "name": prop(json!("Paris")), "isInCountry": rel(FRANCE)}, france]);
    assert_eq!((s, unordered(&body)), (200, unordered(&want)));
}

#[tokio::test]
async fn nested_omit_projects_joined_entities() {
    let hub = Hub::start().await;
    two_levels(&hub).await;
    let get = |join: &str, omit: &str| {
        let path = format!("/entities/{BUILDING}?join={join}&joinLevel=2&omit={}", enc(omit));
        let hub = &hub;
        async move { hub.get_json(&path).await }
    };
    let city = |country: Value| {
        json!({"id": PARIS, "type": "City", "description": prop(json!("Paris is the capital")),
            "isInCountry": country})
    };
    let france = json!({"id": FRANCE, "type": "Country", "name": prop(json!("France")),
        "description": prop(json!("A European country"))});
    let france_no_description =
        json!({"id": FRANCE, "type": "Country", "name": prop(json!("France"))});
    // 018_21_01/02: `type` omitted from the building only, `name` from the city only; the
    // relationship itself stays.
    let (s, body) = get("inline", "type,locatedAt{name}").await;
    let linked = city(rel_with(FRANCE, france.clone()));
    assert_eq!((s, body), (200, json!({"id": BUILDING, "locatedAt": rel_with(PARIS, linked)})));
    let (s, body) = get("flat", "type,locatedAt{name}").await;
    let want = json!([{"id": BUILDING, "locatedAt": rel(PARIS)}, city(rel(FRANCE)), france]);
    assert_eq!((s, unordered(&body)), (200, unordered(&want)));
    // 018_21_03/04: the country's description omitted one level further down.
    let omit = "type,locatedAt{name,isInCountry{description}}";
    let (s, body) = get("inline", omit).await;
    let linked = city(rel_with(FRANCE, france_no_description.clone()));
    assert_eq!((s, body), (200, json!({"id": BUILDING, "locatedAt": rel_with(PARIS, linked)})));
    let (s, body) = get("flat", omit).await;
    let want = json!([{"id": BUILDING, "locatedAt": rel(PARIS)}, city(rel(FRANCE)), france_no_description]);
    assert_eq!((s, unordered(&body)), (200, unordered(&want)));
    // 019_21_03/019_23_01: the same projection on a query.
    let path =
        format!("/entities?type=Building&join=inline&joinLevel=1&omit={}", enc("locatedAt{name}"));
    let (s, body) = hub.get_json(&path).await;
    let linked = city(rel(FRANCE));
    let want = json!([{"id": BUILDING, "type": "Building", "locatedAt": rel_with(PARIS, linked)}]);
    assert_eq!((s, body), (200, want));
}

#[tokio::test]
async fn query_body_join_and_flat_retrieve_without_linked_entity() {
    let hub = Hub::start().await;
    create(&hub, json!({"id": BUILDING, "type": "Building", "locatedAt": rel(PARIS)})).await;
    // 018_14_02: the linked city does not exist, so a flat retrieve answers the entity alone.
    let (s, body) = hub.get_json(&format!("/entities/{BUILDING}?join=flat&joinLevel=1")).await;
    let building = json!({"id": BUILDING, "type": "Building", "locatedAt": rel(PARIS)});
    assert_eq!((s, body), (200, building.clone()));
    create(&hub, json!({"id": PARIS, "type": "City"})).await;
    let city = json!({"id": PARIS, "type": "City"});
    // 019_24_01..04: the Query's `join` member, normalized and keyValues.
    let cases = [
        (
            "inline",
            "",
            json!([{"id": BUILDING, "type": "Building",
            "locatedAt": rel_with(PARIS, city.clone())}]),
        ),
        ("flat", "", json!([building, city.clone()])),
        (
            "inline",
            "?options=keyValues",
            json!([{"id": BUILDING, "type": "Building",
            "locatedAt": city.clone()}]),
        ),
        (
            "flat",
            "?options=keyValues",
            json!([{"id": BUILDING, "type": "Building",
            "locatedAt": PARIS}, city]),
        ),
    ];
    for (join, options, want) in cases {
        let q = json!({"type": "Query", "entities": [{"type": "Building"}], "join": join});
        let r = hub.post_json(&format!("/entityOperations/query{options}"), &q).await;
        assert_eq!(r.status(), 200, "{join}{options}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(unordered(&body), unordered(&want), "{join}{options}");
    }
    // The body's joinLevel bounds the walk like the parameter does.
    let q = json!({"type": "Query", "entities": [{"type": "Building"}], "join": "flat",
        "joinLevel": 11});
    assert_problem(hub.post_json("/entityOperations/query", &q).await, 400, "BadRequestData").await;
}
