//! Consumption edge rules from the conformance suite's Antares-extension files: entity
//! ordering (clause 4.23: suites 423_01, 4233_01, 5243_01), EntitySelector checks on
//! POST /entityOperations/query (clause 5.2.33: 5233_01), the `|` spelling of the projection
//! or-operator (clause 4.21: 421_01) and language range lookup (clause 4.15: 415_01).

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::Hub;

fn ids(body: &Value) -> Vec<String> {
    body.as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().rsplit(':').next().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn order_by_value_distance_subitem_and_collation() {
    let hub = Hub::start().await;
    let p = "urn:ngsi-ld:Building:ord";
    let bodies = [
        json!({"id": format!("{p}:near"), "type": "Building",
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [8.01, 40.01]}},
            "rankProbe": {"type": "Property", "value": 5},
            "address": {"type": "Property", "value": {"city": "Amsterdam"}},
            "name": {"type": "Property", "value": "b"}}),
        json!({"id": format!("{p}:mid"), "type": "Building",
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [9, 41]}},
            "rankProbe": {"type": "Property", "value": "abc"},
            "address": {"type": "Property", "value": {"city": "Berlin"}},
            "name": {"type": "Property", "value": "á"}}),
        json!({"id": format!("{p}:far"), "type": "Building",
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [10, 45]}},
            "address": {"type": "Property", "value": {"city": "Zurich"}},
            "name": {"type": "Property", "value": "A"}}),
    ];
    for b in &bodies {
        assert_eq!(hub.post_json("/entities", b).await.status(), 201);
    }
    // (orderBy and extra parameters, expected id suffixes in order)
    let cases: [(&str, [&str; 3]); 7] = [
        ("location;dist-asc&orderFrom=%5B8,40%5D", ["near", "mid", "far"]),
        ("location;dist-desc&orderFrom=%5B8,40%5D", ["far", "mid", "near"]),
        ("rankProbe", ["near", "mid", "far"]),
        ("rankProbe;desc", ["mid", "near", "far"]),
        ("address%5Bcity%5D;desc", ["far", "mid", "near"]),
        ("name", ["far", "near", "mid"]),
        ("name&collation=und", ["far", "mid", "near"]),
    ];
    for (order, expected) in cases {
        let (status, body) =
            hub.get_json(&format!("/entities?type=Building&orderBy={order}")).await;
        assert_eq!(status, 200, "orderBy={order}: {body}");
        assert_eq!(ids(&body), expected, "orderBy={order}");
    }
    // Paging cuts the ordered list; the count covers every match.
    let r = hub.get("/entities?type=Building&orderBy=id;desc&limit=1&offset=1&count=true").await;
    assert_eq!(r.headers()["NGSILD-Results-Count"], "3");
    assert_eq!(ids(&r.json::<Value>().await.unwrap()), ["mid"]);
    for bad in [
        "orderBy=location;dist-asc",
        "orderBy=name&collation=!!nope",
        "orderBy=name;sideways",
        "orderBy=location;dist-asc&orderFrom=8,40",
    ] {
        let r = hub.get(&format!("/entities?type=Building&{bad}")).await;
        assert_eq!(r.status(), 400, "{bad}");
        assert!(r.text().await.unwrap().contains("BadRequestData"), "{bad}");
    }
}

#[tokio::test]
async fn query_body_ordering_member() {
    let hub = Hub::start().await;
    for (id, lon, lat, name) in [("near", 8.01, 40.01, "Zebra"), ("far", 10.0, 45.0, "Ähre")] {
        let b = json!({"id": format!("urn:ngsi-ld:Vehicle:{id}"), "type": "Vehicle",
            "name": {"type": "Property", "value": name},
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}});
        assert_eq!(hub.post_json("/entities", &b).await.status(), 201);
    }
    // (ordering member, expected status, expected order)
    let cases = [
        (
            json!({"orderBy": ["location;dist-asc"], "coordinates": [8, 40], "geometry": "Point"}),
            200,
            vec!["near", "far"],
        ),
        (
            json!({"orderBy": ["location;dist-desc"], "coordinates": [8, 40]}),
            200,
            vec!["far", "near"],
        ),
        (json!({"orderBy": ["name;asc"]}), 200, vec!["near", "far"]),
        (
            json!({"orderBy": ["name;asc"], "collation": "de-u-co-phonebk"}),
            200,
            vec!["far", "near"],
        ),
        (json!({"orderBy": ["location;dist-asc"]}), 400, vec![]),
        (json!({"orderBy": ["location;dist-asc"], "coordinates": "8,40"}), 400, vec![]),
        (json!({"orderBy": ["id;asc"], "geometry": 5}), 400, vec![]),
        (json!({"orderBy": ["id;asc"], "collation": "not a bcp47 tag!!"}), 400, vec![]),
    ];
    for (ordering, status, order) in cases {
        let q = json!({"type": "Query", "entities": [{"type": "Vehicle"}], "ordering": ordering});
        let r = hub.post_json("/entityOperations/query", &q).await;
        assert_eq!(r.status().as_u16(), status, "{ordering}");
        if status == 200 {
            assert_eq!(ids(&r.json::<Value>().await.unwrap()), order, "{ordering}");
        }
    }
}

#[tokio::test]
async fn query_body_entity_selectors_are_checked() {
    let hub = Hub::start().await;
    let (a, b) = ("urn:ngsi-ld:Vehicle:sel-A", "urn:ngsi-ld:Vehicle:sel-B");
    for id in [a, b] {
        let e = json!({"id": id, "type": "Vehicle", "speed": {"type": "Property", "value": 1}});
        assert_eq!(hub.post_json("/entities", &e).await.status(), 201);
    }
    // (selector, expected status, expected ids)
    let cases = [
        (json!({"type": "Vehicle", "id": [a, b]}), 200, vec!["sel-A", "sel-B"]),
        (
            json!({"type": "Vehicle", "id": a, "idPattern": "^urn:ngsi-ld:Vehicle:sel-B$"}),
            200,
            vec!["sel-A"],
        ),
        (
            json!({"type": "Vehicle", "idPattern": "^urn:ngsi-ld:Vehicle:sel-B$"}),
            200,
            vec!["sel-B"],
        ),
        (json!({"id": a}), 400, vec![]),
        (json!({"type": "Vehicle", "id": "not a uri"}), 400, vec![]),
        (json!({"type": "Vehicle", "id": [a, 5]}), 400, vec![]),
        (json!({"type": "Vehicle", "idPattern": 5}), 400, vec![]),
    ];
    for (selector, status, expected) in cases {
        let q = json!({"type": "Query", "entities": [selector]});
        let r = hub.post_json("/entityOperations/query", &q).await;
        assert_eq!(r.status().as_u16(), status, "{selector}");
        let body: Value = r.json().await.unwrap();
        if status == 200 {
            assert_eq!(ids(&body), expected, "{selector}");
        } else {
            assert!(body["type"].as_str().unwrap().ends_with("BadRequestData"), "{selector}");
        }
    }
}

#[tokio::test]
async fn projection_pipe_operator_and_language_lookup() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Building:proj1";
    let e = json!({"id": id, "type": "Building",
        "name": {"type": "Property", "value": "Eiffel Tower"},
        "subCategory": {"type": "Property", "value": "tourism"},
        "airQualityLevel": {"type": "Property", "value": 4},
        "street": {"type": "LanguageProperty", "languageMap": {"fr": "Grand Place", "nl": "Grote Markt"}}});
    assert_eq!(hub.post_json("/entities", &e).await.status(), 201);
    let (s1, comma) = hub.get_json(&format!("/entities/{id}?pick=name,airQualityLevel")).await;
    let (s2, pipe) = hub.get_json(&format!("/entities/{id}?pick=name%7CairQualityLevel")).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(comma, pipe);
    assert!(pipe.get("name").is_some() && pipe.get("subCategory").is_none(), "{pipe}");
    for bad in ["pick=name%7C%7CairQualityLevel", "omit=name,,street"] {
        let r = hub.req(Method::GET, &format!("/entities/{id}?{bad}")).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }
    // (lang, expected tag, expected text)
    let cases = [
        ("fr;q=0.2,nl;q=0.9", "nl", "Grote Markt"),
        ("FR", "fr", "Grand Place"),
        ("nl-BE", "nl", "Grote Markt"),
        ("NL-be;q=0.5,de;q=0.4", "nl", "Grote Markt"),
    ];
    for (lang, tag, text) in cases {
        let (status, body) = hub.get_json(&format!("/entities/{id}?lang={lang}")).await;
        assert_eq!(status, 200);
        assert_eq!(body["street"]["lang"], tag, "lang={lang}");
        assert_eq!(body["street"]["value"], text, "lang={lang}");
    }
    let regional = json!({"id": "urn:ngsi-ld:Building:proj2", "type": "Building",
        "street": {"type": "LanguageProperty", "languageMap": {"en-US": "Main Square", "de": "Hauptplatz"}}});
    assert_eq!(hub.post_json("/entities", &regional).await.status(), 201);
    let (_, body) = hub.get_json("/entities/urn:ngsi-ld:Building:proj2?lang=en").await;
    assert_eq!(body["street"]["lang"], "en-US");
    assert_eq!(body["street"]["value"], "Main Square");
}

#[tokio::test]
async fn preferring_an_earlier_version_reformats_a_vocab_property() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Building:vocab1";
    let e = json!({"id": id, "type": "Building",
        "vocabProperty": {"type": "VocabProperty", "vocab": "monument"}});
    assert_eq!(hub.post_json("/entities", &e).await.status(), 201);
    // (Prefer, status, Preference-Applied, attribute type, value member)
    let cases = [
        ("ngsi-ld=1.5", 203, Some("ngsi-ld=1.5"), "Property", "value"),
        ("ngsi-ld=1.9", 200, Some("ngsi-ld=1.9"), "VocabProperty", "vocab"),
        ("body=json", 200, None, "VocabProperty", "vocab"),
    ];
    for (prefer, status, applied, kind, member) in cases {
        let path = format!("/entities/{id}");
        let r = hub.req(Method::GET, &path).header("Prefer", prefer).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{prefer}");
        let got = r.headers().get("Preference-Applied").map(|v| v.to_str().unwrap().to_string());
        assert_eq!(got.as_deref(), applied, "{prefer}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["vocabProperty"]["type"], kind, "{prefer}");
        assert_eq!(body["vocabProperty"][member], "monument", "{prefer}");
    }
}

#[tokio::test]
async fn q_terms_query_into_linked_entities() {
    let hub = Hub::start().await;
    let (f, t) = ("urn:ngsi-ld:Building:qlF", "urn:ngsi-ld:Building:qlT");
    let features = json!({"id": f, "type": "Building",
        "address": {"type": "Property", "value": {"city": "Berlin"}},
        "managedBy": {"type": "Relationship", "object": t}});
    let target =
        json!({"id": t, "type": "Building", "name": {"type": "Property", "value": "Pisa Tower"}});
    assert_eq!(hub.post_json("/entities", &features).await.status(), 201);
    assert_eq!(hub.post_json("/entities", &target).await.status(), 201);
    let join = "&join=inline&joinLevel=1";
    // (q, extra parameters, expected count)
    let cases = [
        ("managedBy%7Bname%7D==%22Pisa%20Tower%22", join, "1"),
        ("managedBy%7BBuilding:name%7D==%22Pisa%20Tower%22", join, "1"),
        ("managedBy%7BVehicle:name%7D==%22Pisa%20Tower%22", join, "0"),
        ("managedBy%7Bname%7D==%22Leaning%22", join, "0"),
        ("managedBy%7Bname%7D==%22Pisa%20Tower%22;address%5Bcity%5D==%22Rome%22", join, "0"),
        ("managedBy%7Bname%7D==%22Pisa%20Tower%22%7Cname==%22Pisa%20Tower%22", join, "2"),
        ("!managedBy%7Bname%7D", join, "1"),
    ];
    for (q, extra, count) in cases {
        let r = hub.get(&format!("/entities?type=Building&count=true&q={q}{extra}")).await;
        assert_eq!(r.status(), 200, "q={q}");
        assert_eq!(r.headers()["NGSILD-Results-Count"], count, "q={q}");
    }
    let (_, body) = hub
        .get_json(&format!(
            "/entities?type=Building&q=managedBy%7Bname%7D==%22Pisa%20Tower%22{join}"
        ))
        .await;
    assert_eq!(ids(&body), ["qlF"]);
}
