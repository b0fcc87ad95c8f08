//! Query Entities and Retrieve Entity checks pinned by the conformance suite: bad
//! `format`/`options` values (018_16, 021_20), too-wide or invalid queries (019_03_02/03/05,
//! 021_24), the `datasetId` parameter (019_12), `georel=equals` (019_11_01), ordering by a
//! sub-attribute (019_19), the `type=*` wildcard (019_26), `geometryProperty` without GeoJSON
//! (019_27_01) and the geo-query grammar and `near` reference geometries (019_30).

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Hub, assert_problem};

/// The temporal window the 021 files use.
const WINDOW: &str = "timerel=after&timeAt=2020-01-01T12:03:00Z";

/// `base` followed by the non-empty ones of `format` and `options`, as the suite's keywords
/// send them.
fn with_representation(base: &str, format: &str, options: &str) -> String {
    let mut params = Vec::new();
    if !format.is_empty() {
        params.push(format!("format={format}"));
    }
    if !options.is_empty() {
        params.push(format!("options={options}"));
    }
    format!("{base}{}", params.join("&"))
}

#[tokio::test]
async fn unknown_format_or_options_values_are_invalid_requests() {
    let hub = Hub::start().await;
    // 018_16_01..04 and 021_20_01..04: (format, options).
    let retrieve = [
        ("invalidFormat", ""),
        ("", "invalidOptions"),
        ("", "keyValues,invalid"),
        ("keyValues", "invalid"),
    ];
    for (format, options) in retrieve {
        // The entity does not exist: the parameters are refused before the lookup.
        let path = with_representation("/entities/urn:ngsi-ld:Building:none?", format, options);
        assert_problem(hub.get(&path).await, 400, "InvalidRequest").await;
    }
    let temporal = [
        ("invalidFormat", ""),
        ("", "invalidOptions"),
        ("", "temporalValues,invalidOptions"),
        ("temporalValues", "aggregatedValues,invalidOptions"),
    ];
    for (format, options) in temporal {
        let base = format!("/temporal/entities?type=Vehicle&{WINDOW}&");
        let path = with_representation(&base, format, options);
        assert_problem(hub.get(&path).await, 400, "InvalidRequest").await;
    }
    // Known values still work; Query Entities keeps BadRequestData for an unknown option.
    let (status, _) = hub
        .get_json(&format!("/temporal/entities?type=Vehicle&{WINDOW}&options=temporalValues"))
        .await;
    assert_eq!(status, 200);
    assert_problem(hub.get("/entities?type=T&options=fancy").await, 400, "BadRequestData").await;
}

#[tokio::test]
async fn too_wide_and_invalid_queries_are_bad_request_data() {
    let hub = Hub::start().await;
    for n in 1..=2 {
        let b = json!({"id": format!("urn:ngsi-ld:Entity:0{n}"), "type": "Building",
            "name": {"type": "Property", "value": "x"}});
        assert_eq!(hub.post_json("/entities", &b).await.status(), 201);
    }
    let ids = "urn:ngsi-ld:Entity:01,urn:ngsi-ld:Entity:02";
    let refused = [
        "/entities?idPattern=invalid_entity_id_pattern**&type=Building".to_string(), // 019_03_02
        "/entities?attrs=id,type".to_string(),                                       // 019_03_03
        format!("/entities?id={ids}"),                                               // 019_03_05
        format!("/temporal/entities?id={ids}&timerel=after&timeAt=2020-07-01T12:05:00Z"), // 021_24
    ];
    for path in refused {
        assert_problem(hub.get(&path).await, 400, "BadRequestData").await;
    }
    // The same selectors narrow a query that names a type, or a real attribute.
    for (path, count) in [
        (format!("/entities?type=Building&id={ids}"), 2),
        ("/entities?type=Building&idPattern=urn:ngsi-ld:Entity:0.*".to_string(), 2),
        ("/entities?attrs=name".to_string(), 2),
    ] {
        let (status, body) = hub.get_json(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body.as_array().map(Vec::len), Some(count), "{path}: {body}");
    }
}

/// The body of `building-multi-instances-attributes.jsonld`.
fn multi_instance_building(id: &str) -> Value {
    json!({
        "id": id, "type": "Building",
        "name": [
            {"type": "Property", "value": "Eiffel Tower"},
            {"type": "Property", "value": "Tour Eiffel", "datasetId": "urn:ngsi-ld:Dataset:french-name"},
            {"type": "Property", "value": "Eiffelturm", "datasetId": "urn:ngsi-ld:Dataset:german-name"}
        ],
        "locatedAt": [
            {"type": "Relationship", "object": "urn:ngsi-ld:City:Paris"},
            {"type": "Relationship", "object": "urn:ngsi-ld:Ville:Paris", "datasetId": "urn:ngsi-ld:Dataset:french-name"},
            {"type": "Relationship", "object": "urn:ngsi-ld:Ciudad:París", "datasetId": "urn:ngsi-ld:Dataset:spanish-name"}
        ]
    })
}

#[tokio::test]
async fn dataset_id_keeps_only_the_listed_instances() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Building:ds1";
    assert_eq!(hub.post_json("/entities", &multi_instance_building(id)).await.status(), 201);
    let fr = "urn:ngsi-ld:Dataset:french-name";
    let name = |value: &str, ds: Option<&str>| {
        let mut v = json!({"type": "Property", "value": value});
        if let Some(ds) = ds {
            v["datasetId"] = json!(ds);
        }
        v
    };
    let located = |object: &str, ds: Option<&str>| {
        let mut v = json!({"type": "Relationship", "object": object});
        if let Some(ds) = ds {
            v["datasetId"] = json!(ds);
        }
        v
    };
    // 019_12_01..07: (attrs, datasetId, expected attributes).
    let cases = [
        (
            "name",
            "",
            json!({"name": [name("Eiffel Tower", None), name("Tour Eiffel", Some(fr)),
            name("Eiffelturm", Some("urn:ngsi-ld:Dataset:german-name"))]}),
        ),
        (
            "",
            fr,
            json!({"name": name("Tour Eiffel", Some(fr)),
            "locatedAt": located("urn:ngsi-ld:Ville:Paris", Some(fr))}),
        ),
        (
            "",
            "urn:ngsi-ld:Dataset:french-name,urn:ngsi-ld:Dataset:spanish-name",
            json!({"name": name("Tour Eiffel", Some(fr)),
                "locatedAt": [located("urn:ngsi-ld:Ville:Paris", Some(fr)),
                    located("urn:ngsi-ld:Ciudad:París", Some("urn:ngsi-ld:Dataset:spanish-name"))]}),
        ),
        (
            "",
            "@none",
            json!({"name": name("Eiffel Tower", None),
            "locatedAt": located("urn:ngsi-ld:City:Paris", None)}),
        ),
        ("name", "@none", json!({"name": name("Eiffel Tower", None)})),
        (
            "name",
            "urn:ngsi-ld:Dataset:german-name",
            json!({"name": name("Eiffelturm", Some("urn:ngsi-ld:Dataset:german-name"))}),
        ),
        ("name", "urn:ngsi-ld:Dataset:spanish-name", json!({})),
    ];
    for (attrs, dataset_id, attributes) in cases {
        let mut query = "type=Building".to_string();
        if !attrs.is_empty() {
            query.push_str(&format!("&attrs={attrs}"));
        }
        if !dataset_id.is_empty() {
            query.push_str(&format!("&datasetId={dataset_id}"));
        }
        let mut expected = json!({"id": id, "type": "Building"});
        for (k, v) in attributes.as_object().unwrap() {
            expected[k] = v.clone();
        }
        let (status, body) = hub.get_json(&format!("/entities?{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(same_instances(&body[0]), same_instances(&expected), "{query}");
        // Retrieve Entity honours the parameter the same way.
        let (status, one) = hub.get_json(&format!("/entities/{id}?{query}")).await;
        assert_eq!(status, 200, "{query}: {one}");
        assert_eq!(same_instances(&one), same_instances(&expected), "retrieve {query}");
    }
}

/// `entity` with every multi-instance array sorted, so instance order does not matter.
fn same_instances(entity: &Value) -> Value {
    let mut e = entity.clone();
    for v in e.as_object_mut().unwrap().values_mut() {
        if let Value::Array(items) = v {
            items.sort_by_key(ToString::to_string);
        }
    }
    e
}

async fn count(hub: &Hub, query: &str) -> (u16, Option<String>) {
    let r = hub.get(&format!("/entities?type=Building&count=true&{query}")).await;
    let total = r.headers().get("NGSILD-Results-Count").map(|v| v.to_str().unwrap().to_string());
    (r.status().as_u16(), total)
}

#[tokio::test]
async fn equals_matches_the_stored_polygon() {
    let hub = Hub::start().await;
    // building-location-polygon(-second).jsonld: the first ring touches itself.
    let first = "[[[13.2865906,52.5648645],[13.2879639,52.5648645],[13.2797241,52.4988679],[13.477478,52.4712703],[13.5049438,52.5373084],[13.2865906,52.5648645]]]";
    let second = "[[[13.315773,52.4757209],[13.339119,52.4443421],[13.3892441,52.4669371],[13.315773,52.4757209]]]";
    for (n, ring) in [(1, first), (2, second)] {
        let coords: Value = serde_json::from_str(ring).unwrap();
        let b = json!({"id": format!("urn:ngsi-ld:Building:poly{n}"), "type": "Building",
            "location": {"type": "GeoProperty", "value": {"type": "Polygon", "coordinates": coords}}});
        assert_eq!(hub.post_json("/entities", &b).await.status(), 201);
    }
    // 019_11_01
    let got = count(&hub, &format!("georel=equals&geometry=Polygon&coordinates={first}")).await;
    assert_eq!(got, (200, Some("1".to_string())));
}

#[tokio::test]
async fn order_by_reaches_into_sub_attributes() {
    let hub = Hub::start().await;
    // Created in the order 2, 1, 3 (019_19's suite setup).
    for (n, letter) in [(2, "B"), (1, "A"), (3, "C")] {
        let b = json!({"id": format!("urn:ngsi-ld:Building:{n}"), "type": "Building",
            "name": {"type": "Property", "value": letter,
                "subProperty": {"type": "Property", "value": n}}});
        assert_eq!(hub.post_json("/entities", &b).await.status(), 201);
    }
    let cases = [
        ("name.createdAt", [2, 1, 3]),   // 019_19_04
        ("name.subProperty", [1, 2, 3]), // 019_19_05
        ("name.subProperty;desc", [3, 2, 1]),
        ("type;asc,name.subProperty;desc,name;asc", [3, 2, 1]), // 019_19_09
    ];
    for (order, expected) in cases {
        let (status, body) =
            hub.get_json(&format!("/entities?type=Building&orderBy={order}")).await;
        assert_eq!(status, 200, "{order}: {body}");
        let ids: Vec<&str> =
            body.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
        let want: Vec<String> =
            expected.iter().map(|n| format!("urn:ngsi-ld:Building:{n}")).collect();
        assert_eq!(ids, want, "{order}");
    }
}

#[tokio::test]
async fn type_wildcard_selects_every_type_and_refuses_local_false() {
    let hub = Hub::start().await;
    for (id, t) in [("urn:ngsi-ld:Building:w1", "Building"), ("urn:ngsi-ld:Vehicle:w2", "Vehicle")]
    {
        let e = json!({"id": id, "type": t, "name": {"type": "Property", "value": "x"}});
        assert_eq!(hub.post_json("/entities", &e).await.status(), 201);
    }
    // 019_26_01
    let (status, body) = hub.get_json("/entities?type=*").await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> =
        body.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert!(
        ids.contains(&"urn:ngsi-ld:Building:w1") && ids.contains(&"urn:ngsi-ld:Vehicle:w2"),
        "{ids:?}"
    );
    // 019_26_02
    assert_problem(hub.get("/entities?type=*&local=false").await, 400, "BadRequestData").await;
    // A purge does not take the wildcard: nothing is deleted.
    let purge = hub.req(Method::DELETE, "/entities?type=*").send().await.unwrap();
    assert_problem(purge, 400, "BadRequestData").await;
    let (_, body) = hub.get_json("/entities?type=*").await;
    assert_eq!(body.as_array().map(Vec::len), Some(2), "{body}");
}

#[tokio::test]
async fn geometry_property_on_query_needs_geojson() {
    let hub = Hub::start().await;
    let b = json!({"id": "urn:ngsi-ld:Building:g1", "type": "Building",
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [2.0, 48.0]}}});
    assert_eq!(hub.post_json("/entities", &b).await.status(), 201);
    let ask = |accept: &'static str| {
        hub.req(Method::GET, "/entities?type=Building&geometryProperty=location")
            .header("Accept", accept)
            .send()
    };
    // 019_27_01, then 019_27_02.
    assert_problem(ask("application/json").await.unwrap(), 400, "BadRequestData").await;
    assert_eq!(ask("application/geo+json").await.unwrap().status(), 200);
}

#[tokio::test]
async fn geo_query_grammar_and_extended_near_references() {
    let hub = Hub::start().await;
    // building-geo-east-probe.jsonld
    let probe = json!({"id": "urn:ngsi-ld:Building:east", "type": "Building",
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [10.0, 60.009]}}});
    assert_eq!(hub.post_json("/entities", &probe).await.status(), 201);
    // 019_30_01, 03, 13, 14: a zero, doubled, infinite or overflowing distance.
    for georel in [
        "near;maxDistance==0",
        "near;maxDistance==5;minDistance==1",
        "near;maxDistance==inf",
        "near;maxDistance==1e400",
    ] {
        let (status, _) =
            count(&hub, &format!("georel={georel}&geometry=Point&coordinates=[8,40]")).await;
        assert_eq!(status, 400, "{georel}");
    }
    // 019_30_09 and 10: the distance is measured to the reference line.
    let line = |lat: u32| {
        format!(
            "georel=near;maxDistance==2000&geometry=LineString&coordinates=[[0,{lat}],[10,{lat}]]"
        )
    };
    assert_eq!(count(&hub, &line(60)).await, (200, Some("1".to_string())));
    assert_eq!(count(&hub, &line(61)).await, (200, Some("0".to_string())));
}
