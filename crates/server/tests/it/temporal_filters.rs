//! Temporal queries judge `q` and geo-queries on the instances inside the time window only
//! (clause 5.7.4.4), payload DateTimes must be UTC, and times come back in the `Z` form the
//! conformance suite compares literally (its 5744 test cases, as request → expected ids).

use serde_json::{Value, json};

use crate::support::{Hub, assert_problem};

const IN: &str = "2026-03-01T12:00:00Z";
const OUT: &str = "2026-01-05T00:00:00Z";
const WINDOW: &str = "timerel=between&timeAt=2026-03-01T00:00:00Z&endTimeAt=2026-03-02T00:00:00Z";

fn prop(v: Value, at: &str) -> Value {
    json!({"type": "Property", "value": v, "observedAt": at})
}

fn id(name: &str) -> String {
    format!("urn:ngsi-ld:Vehicle:tf-{name}")
}

async fn seed(hub: &Hub) {
    let entities = vec![
        json!({"id": id("fast"), "type": "Vehicle",
            "speed": [prop(json!(30), IN), prop(json!(90), OUT)],
            "heading": [prop(json!(45), IN)], "route": [prop(json!("550"), IN)],
            "active": [prop(json!(true), IN)]}),
        json!({"id": id("slow"), "type": "Vehicle",
            "speed": [prop(json!(10), IN), prop(json!(80), OUT)],
            "heading": [prop(json!(170), IN)], "active": [prop(json!(false), IN)]}),
        json!({"id": id("shapes"), "type": "Vehicle", "name": [prop(json!("m"), IN)],
            "ref": [{"type": "Relationship", "object": "urn:dest:qp1", "observedAt": IN}],
            "tags": [prop(json!(["a", "b"]), IN)]}),
        json!({"id": id("nowin"), "type": "Vehicle", "speed": [prop(json!(99), OUT)]}),
        json!({"id": id("multi"), "type": "Vehicle", "speed": [prop(json!(5), IN),
            {"type": "Property", "value": 60, "observedAt": IN, "datasetId": "urn:ngsi-ld:Dataset:qp1"}]}),
        json!({"id": id("langv"), "type": "Vehicle", "label": [{"type": "LanguageProperty",
            "languageMap": {"en": "red", "fr": "rouge"}, "observedAt": IN}]}),
        json!({"id": id("langother"), "type": "Vehicle", "label": [{"type": "LanguageProperty",
            "languageMap": {"en": "black", "fr": "rouge"}, "observedAt": IN}]}),
        json!({"id": id("geoin"), "type": "Vehicle", "location": [{"type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [17.1001, 48.1001]}, "observedAt": IN}]}),
        json!({"id": id("geoout"), "type": "Vehicle", "location": [
            {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [10.0, 40.0]}, "observedAt": IN},
            {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [17.1, 48.1]}, "observedAt": OUT}]}),
    ];
    for e in entities {
        let r = hub.post_json("/temporal/entities", &e).await;
        assert_eq!(r.status(), 201, "{e}");
    }
}

async fn query_ids(hub: &Hub, filter: &str) -> Vec<String> {
    let path = format!("/temporal/entities?type=Vehicle&{filter}&{WINDOW}");
    let (status, body) = hub.get_json(&path).await;
    assert_eq!(status, 200, "{filter}: {body}");
    body.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn values_and_geo_filters_see_only_windowed_instances() {
    let hub = Hub::start().await;
    seed(&hub).await;
    // (query, must contain, must not contain)
    let cases: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
        ("q=speed%3E25", vec!["fast", "multi"], vec!["slow", "nowin"]),
        ("q=speed%3E%3D5%3Bheading%3C90", vec!["fast"], vec!["slow", "multi"]),
        ("q=speed%3E25%7Cheading%3E100", vec!["fast", "slow"], vec!["shapes"]),
        ("q=speed%3E25%7Cname~%3D%22%5Em%22", vec!["fast", "shapes"], vec!["nowin"]),
        ("q=speed%21%3D10", vec!["fast"], vec!["nowin"]),
        ("q=%21heading%3Bspeed%3E25", vec!["multi"], vec!["fast"]),
        ("q=speed%3D%3D10..40", vec!["fast", "slow"], vec!["nowin", "shapes"]),
        ("q=ref%3D%3D%22urn:dest:qp1%22", vec!["shapes"], vec!["fast"]),
        ("q=ref%3E%22urn:a%22", vec![], vec!["shapes"]),
        ("q=tags%3D%3D%22b%22,%22z%22", vec!["shapes"], vec!["fast"]),
        ("q=speed%3E50", vec!["multi"], vec!["fast", "slow"]),
        ("q=active%3D%3Dfalse", vec!["slow"], vec!["fast"]),
        ("q=label%5Ben%5D%3D%3D%22red%22", vec!["langv"], vec!["langother"]),
        ("q=label%5B*%5D%3D%3D%22rouge%22", vec!["langv", "langother"], vec![]),
        (
            "georel=near%3BmaxDistance%3D%3D1000&geometry=Point&coordinates=%5B17.1,48.1%5D",
            vec!["geoin"],
            vec!["geoout"],
        ),
    ];
    for (filter, yes, no) in cases {
        let got = query_ids(&hub, filter).await;
        for y in yes {
            assert!(got.contains(&id(y)), "{filter}: {y} missing from {got:?}");
        }
        for n in no {
            assert!(!got.contains(&id(n)), "{filter}: {n} must not match, got {got:?}");
        }
    }
}

#[tokio::test]
async fn windowed_instances_render_in_z_form() {
    let hub = Hub::start().await;
    seed(&hub).await;
    let path = format!("/temporal/entities?type=Vehicle&q=speed%3E25&{WINDOW}");
    let text = hub.get(&path).await.text().await.unwrap();
    assert!(text.contains(IN), "{text}");
    assert!(!text.contains(OUT), "{text}");
    let (_, e) =
        hub.get_json(&format!("/temporal/entities/{}?options=temporalValues", id("fast"))).await;
    let values = e["speed"]["values"].as_array().unwrap();
    assert!(values.contains(&json!([30, IN])), "{e}");
}

#[tokio::test]
async fn offset_datetimes_are_refused() {
    let hub = Hub::start().await;
    let body = json!({"id": id("offset"), "type": "Vehicle",
        "speed": [prop(json!(50), "2026-03-01T02:00:00+03:00")]});
    let r = hub.post_json("/temporal/entities", &body).await;
    let p = assert_problem(r, 400, "BadRequestData").await;
    assert!(p["detail"].as_str().unwrap().contains("observedAt"), "{p}");
    let entity = json!({"id": id("offset2"), "type": "Vehicle",
        "speed": prop(json!(50), "2026-03-01T02:00:00-01:00")});
    assert_problem(hub.post_json("/entities", &entity).await, 400, "BadRequestData").await;
}

#[tokio::test]
async fn scope_query_on_temporal_entities() {
    let hub = Hub::start().await;
    let at = "2026-03-01T10:00:00Z";
    let speed = json!([prop(json!(1), "2026-03-01T12:05:00Z")]);
    let scoped = vec![
        ("ab", Some(json!([prop(json!("/A/B"), at)]))),
        ("xx", Some(json!([prop(json!("/X"), at)]))),
        ("bare", None),
        ("both", Some(json!([prop(json!(["/A/B", "/C"]), at)]))),
    ];
    for (name, scope) in scoped {
        let mut e = json!({"id": id(name), "type": "Vehicle", "speed": speed});
        if let Some(s) = scope {
            e["scope"] = s;
        }
        assert_eq!(hub.post_json("/temporal/entities", &e).await.status(), 201);
    }
    let cases: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
        ("scopeQ=/A/B", vec!["ab", "both"], vec!["xx", "bare"]),
        ("scopeQ=/Y", vec![], vec!["ab", "xx", "both", "bare"]),
        ("scopeQ=/A/%23", vec!["ab", "both"], vec!["xx"]),
        ("scopeQ=(/A/B%3B/C)", vec!["both"], vec!["ab"]),
        ("scopeQ=/X%7C/M", vec!["xx"], vec!["ab"]),
    ];
    for (filter, yes, no) in cases {
        let got = query_ids(&hub, filter).await;
        for y in yes {
            assert!(got.contains(&id(y)), "{filter}: {y} missing from {got:?}");
        }
        for n in no {
            assert!(!got.contains(&id(n)), "{filter}: {n} must not match, got {got:?}");
        }
    }
    // Clause 4.5.6: the scope shows as the instances of a temporal Property.
    let (_, e) = hub.get_json(&format!("/temporal/entities/{}", id("ab"))).await;
    assert_eq!(e["scope"][0]["type"], "Property", "{e}");
    assert_eq!(e["scope"][0]["value"], json!(["/A/B"]), "{e}");
}
