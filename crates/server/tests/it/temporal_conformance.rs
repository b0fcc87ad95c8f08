//! Temporal cases of the ETSI conformance suite, sent as the suite's files send them:
//! deletions recorded after a temporal create (020_17–020_20), the scope's temporal evolution
//! (456_01), the wrapped simplified values (020_12_02, 020_15_02, 020_16_02) and `format`
//! taking precedence over `options` (021_19_02).

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::Hub;

/// The payload of vehicle-temporal-representation-different-attributes-types.jsonld.
fn different_types(id: &str) -> Value {
    json!({"id": id, "type": "Vehicle",
        "isParkedIn": [
            {"type": "Relationship", "object": "urn:ngsi-ld:OffStreetParking:Commerce",
             "observedAt": "2024-12-01T12:00:00Z"},
            {"type": "Relationship", "object": "urn:ngsi-ld:OffStreetParking:Graslin",
             "observedAt": "2024-12-05T12:00:00Z"}],
        "name": [
            {"type": "LanguageProperty", "languageMap": {"fr": "Ma voiture", "en": "My vehicle"},
             "observedAt": "2024-12-01T12:00:00Z"},
            {"type": "LanguageProperty",
             "languageMap": {"fr": "Ma jolie voiture", "en": "My pretty vehicle"},
             "observedAt": "2024-12-05T12:00:00Z"}],
        "fuelLevel": [
            {"type": "Property", "value": 67, "observedAt": "2020-08-01T12:03:00Z"},
            {"type": "Property", "value": 53, "observedAt": "2020-08-01T13:05:00Z"}]})
}

/// Removes the members the suite's comparison ignores (`instanceId`, `deletedAt`), checking
/// first that every instance carries a `deletedAt`.
fn without_volatile(mut attr: Value) -> Value {
    let instances = attr.as_array_mut().expect("normalized instances are an array");
    for inst in instances.iter_mut() {
        let m = inst.as_object_mut().unwrap();
        assert!(m.remove("deletedAt").is_some_and(|d| d.is_string()), "{m:?}");
        m.remove("instanceId");
    }
    attr
}

#[tokio::test]
async fn attribute_deletions_after_a_temporal_create_show_under_deleted_at() {
    let hub = Hub::start().await;
    // (attribute, normalized deletion record, temporalValues form): 020_17_0x and 020_18_0x.
    let cases = [
        (
            "fuelLevel",
            json!([{"type": "Property", "value": "urn:ngsi-ld:null"}]),
            json!({"type": "Property", "values": [["urn:ngsi-ld:null"]]}),
        ),
        (
            "isParkedIn",
            json!([{"type": "Relationship", "object": "urn:ngsi-ld:null"}]),
            json!({"type": "Relationship", "objects": [["urn:ngsi-ld:null"]]}),
        ),
        (
            "name",
            json!([{"type": "LanguageProperty", "languageMap": {"@none": "urn:ngsi-ld:null"}}]),
            json!({"type": "LanguageProperty",
                "languageMaps": [[{"languageMap": {"@none": "urn:ngsi-ld:null"}}]]}),
        ),
    ];
    for (n, (attr, normalized, values)) in cases.into_iter().enumerate() {
        let id = format!("urn:ngsi-ld:Vehicle:del{n}");
        assert_eq!(hub.post_json("/temporal/entities", &different_types(&id)).await.status(), 201);
        let r = hub.req(Method::DELETE, &format!("/entities/{id}/attrs/{attr}")).send().await;
        assert_eq!(r.unwrap().status(), 204, "{attr}");

        let (status, e) =
            hub.get_json(&format!("/temporal/entities/{id}?timeproperty=deletedAt")).await;
        assert_eq!(status, 200);
        let keys: Vec<&String> = e.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 3, "only the deleted attribute shows: {e}");
        assert_eq!(without_volatile(e[attr].clone()), normalized, "{e}");

        let path = format!("/temporal/entities/{id}?timeproperty=deletedAt&options=temporalValues");
        let (_, mut e) = hub.get_json(&path).await;
        let key = values.as_object().unwrap().keys().find(|k| *k != "type").unwrap().clone();
        let pairs = e[attr][&key].as_array_mut().unwrap();
        assert_eq!(pairs.len(), 1, "{e}");
        assert!(pairs[0][1].is_string(), "{e}");
        pairs[0].as_array_mut().unwrap().truncate(1);
        assert_eq!(e[attr], values);

        // The teardown's temporal delete takes the Entity with it.
        let r = hub.req(Method::DELETE, &format!("/temporal/entities/{id}")).send().await;
        assert_eq!(r.unwrap().status(), 204);
        assert_eq!(hub.get(&format!("/entities/{id}")).await.status(), 404);
    }
}

#[tokio::test]
async fn a_temporal_create_makes_the_entity_follow_its_latest_observations() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Vehicle:latest";
    assert_eq!(hub.post_json("/temporal/entities", &different_types(id)).await.status(), 201);
    let (status, e) = hub.get_json(&format!("/entities/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(e["fuelLevel"]["value"], 53);
    assert_eq!(e["isParkedIn"]["object"], "urn:ngsi-ld:OffStreetParking:Graslin");
    // An older observation extends the history but leaves the Entity alone; a newer one
    // becomes its value.
    let older = json!({"fuelLevel": {"type": "Property", "value": 10,
        "observedAt": "2020-01-01T00:00:00Z"}});
    let r = hub.post_json(&format!("/temporal/entities/{id}/attrs"), &older).await;
    assert_eq!(r.status(), 204);
    assert_eq!(hub.get_json(&format!("/entities/{id}")).await.1["fuelLevel"]["value"], 53);
    let newer = json!({"fuelLevel": {"type": "Property", "value": 20,
        "observedAt": "2021-01-01T00:00:00Z"}});
    let r = hub.post_json(&format!("/temporal/entities/{id}/attrs"), &newer).await;
    assert_eq!(r.status(), 204);
    assert_eq!(hub.get_json(&format!("/entities/{id}")).await.1["fuelLevel"]["value"], 20);
    let (_, t) = hub.get_json(&format!("/temporal/entities/{id}?attrs=fuelLevel")).await;
    assert_eq!(t["fuelLevel"].as_array().unwrap().len(), 4, "{t}");
    // 5611_01_01: new type names add up on the Entity too; a deletion observed last removes
    // the attribute from it while the history keeps the null instance.
    let deleted = json!({"id": id, "type": ["Vehicle", "Truck"],
        "fuelLevel": [{"type": "Property", "value": "urn:ngsi-ld:null",
            "observedAt": "2022-01-01T00:00:00Z"}]});
    assert_eq!(hub.post_json("/temporal/entities", &deleted).await.status(), 204);
    let (_, e) = hub.get_json(&format!("/entities/{id}")).await;
    assert_eq!(e["type"], json!(["Vehicle", "Truck"]), "{e}");
    assert!(e.get("fuelLevel").is_none(), "{e}");
    let (_, t) = hub.get_json(&format!("/temporal/entities/{id}?attrs=fuelLevel")).await;
    assert_eq!(t["fuelLevel"].as_array().unwrap().len(), 5, "{t}");
}

#[tokio::test]
async fn scope_deletion_shows_as_an_empty_scope_instance() {
    let hub = Hub::start().await;
    // 020_19_01 (normalized) and 020_20_01 (temporalValues).
    for (n, options) in ["", "&options=temporalValues"].into_iter().enumerate() {
        let id = format!("urn:ngsi-ld:Vehicle:scope{n}");
        let body = json!({"id": id, "type": "Vehicle",
            "scope": ["/Madrid/Gardens/ParqueNorte", "/CompanyA/OrganizationB/UnitC"],
            "fuelLevel": [
                {"type": "Property", "value": 67, "observedAt": "2020-08-01T12:03:00Z"},
                {"type": "Property", "value": 53, "observedAt": "2020-08-01T13:05:00Z"}]});
        assert_eq!(hub.post_json("/temporal/entities", &body).await.status(), 201);
        let r = hub.req(Method::DELETE, &format!("/entities/{id}/attrs/scope")).send().await;
        assert_eq!(r.unwrap().status(), 204);
        let path = format!("/temporal/entities/{id}?timeproperty=deletedAt{options}");
        let (status, mut e) = hub.get_json(&path).await;
        assert_eq!(status, 200);
        assert!(e.get("fuelLevel").is_none(), "{e}");
        if options.is_empty() {
            assert_eq!(
                without_volatile(e["scope"].clone()),
                json!([{"type": "Property", "value": []}])
            );
        } else {
            let pairs = e["scope"]["values"].as_array_mut().unwrap();
            pairs[0].as_array_mut().unwrap().truncate(1);
            assert_eq!(e["scope"], json!({"type": "Property", "values": [[[]]]}));
        }
    }
}

#[tokio::test]
async fn a_core_api_scope_change_becomes_a_scope_instance() {
    // 456_01: observedAt is a copy of modifiedAt, no members beyond the temporal ones.
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Vehicle:456";
    let e = json!({"id": id, "type": "Vehicle", "scope": "/Old",
        "speed": {"type": "Property", "value": 1, "observedAt": "2026-08-10T00:00:00Z"}});
    assert_eq!(hub.post_json("/entities", &e).await.status(), 201);
    let patch = json!({"type": "Vehicle", "scope": "/New"});
    let r = hub.send(Method::PATCH, &format!("/entities/{id}"), "application/json", &patch).await;
    assert_eq!(r.status(), 204);
    let (status, t) = hub.get_json(&format!("/temporal/entities/{id}?options=sysAttrs")).await;
    assert_eq!(status, 200);
    let new: Vec<&Value> = t["scope"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["value"] == json!(["/New"]) || i["value"] == "/New")
        .collect();
    assert_eq!(new.len(), 1, "{t}");
    assert_eq!(new[0]["type"], "Property");
    assert!(new[0]["observedAt"].is_string());
    assert_eq!(new[0]["observedAt"], new[0]["modifiedAt"]);
    let allowed =
        ["type", "value", "instanceId", "createdAt", "modifiedAt", "deletedAt", "observedAt"];
    assert!(new[0].as_object().unwrap().keys().all(|k| allowed.contains(&k.as_str())), "{t}");
}

#[tokio::test]
async fn simplified_values_of_language_json_and_vocab_properties_are_wrapped() {
    let hub = Hub::start().await;
    let at = |m: u32| format!("2020-08-01T12:0{m}:00Z");
    let id = "urn:ngsi-ld:Vehicle:wrapped";
    let body = json!({"id": id, "type": "Vehicle",
        "street": [
            {"type": "LanguageProperty", "languageMap": {"fr": "Grand Place", "nl": "Grote Markt"},
             "observedAt": at(3)}],
        "speed": [{"type": "JsonProperty", "json": {"value": 120}, "observedAt": at(3)}],
        "vocabProperty": [
            {"type": "VocabProperty", "vocab": "monument", "observedAt": at(3)},
            {"type": "VocabProperty", "vocab": ["monument", "sightseeing"], "observedAt": at(5)}]});
    assert_eq!(hub.post_json("/temporal/entities", &body).await.status(), 201);
    let (status, e) =
        hub.get_json(&format!("/temporal/entities/{id}?options=temporalValues")).await;
    assert_eq!(status, 200);
    // 020_12_02, 020_15_02, 020_16_02.
    assert_eq!(
        e["street"],
        json!({"type": "LanguageProperty", "languageMaps":
            [[{"languageMap": {"fr": "Grand Place", "nl": "Grote Markt"}}, at(3)]]})
    );
    assert_eq!(
        e["speed"],
        json!({"type": "JsonProperty", "jsons": [[{"json": {"value": 120}}, at(3)]]})
    );
    assert_eq!(
        e["vocabProperty"],
        json!({"type": "VocabProperty", "vocabs": [
            [{"vocab": "monument"}, at(3)],
            [{"vocab": ["monument", "sightseeing"]}, at(5)]]})
    );
}

#[tokio::test]
async fn format_takes_precedence_over_options() {
    // 021_19_02: format=temporalValues wins over options=aggregatedValues.
    let hub = Hub::start().await;
    let body = json!({"id": "urn:ngsi-ld:Vehicle:021-19-A", "type": "Vehicle",
        "speed": [
            {"type": "Property", "value": 120, "observedAt": "2020-08-01T12:03:00Z"},
            {"type": "Property", "value": 80, "observedAt": "2020-08-01T12:05:00Z"}]});
    assert_eq!(hub.post_json("/temporal/entities", &body).await.status(), 201);
    let w = "type=Vehicle&timerel=after&timeAt=2020-01-01T12:03:00Z";
    let (status, list) = hub
        .get_json(&format!(
            "/temporal/entities?{w}&format=temporalValues&options=aggregatedValues&aggrMethods=sum"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        list[0]["speed"],
        json!({"type": "Property", "values":
            [[120, "2020-08-01T12:03:00Z"], [80, "2020-08-01T12:05:00Z"]]})
    );
    let (_, list) = hub
        .get_json(&format!("/temporal/entities?{w}&options=aggregatedValues&aggrMethods=sum"))
        .await;
    assert!(list[0]["speed"]["sum"].is_array(), "{list}");
}

#[tokio::test]
async fn temporal_queries_follow_order_by() {
    // 021_23: three Buildings created in the order 2, 1, 3. (021_23_05 and _09 order by
    // `name.subProperty`, which rests on the sub-attribute paths of crate::order.)
    let hub = Hub::start().await;
    for (n, name) in [(2, "B"), (1, "A"), (3, "C")] {
        let b = json!({"id": format!("urn:ngsi-ld:Building:{n}"), "type": "Building",
            "name": {"type": "Property", "value": name,
                "subProperty": {"type": "Property", "value": n}}});
        assert_eq!(hub.post_json("/entities", &b).await.status(), 201);
    }
    let ids = |order: [u32; 3]| -> Vec<String> {
        order.iter().map(|n| format!("urn:ngsi-ld:Building:{n}")).collect()
    };
    let cases = [
        ("name", ids([1, 2, 3])),
        ("id", ids([1, 2, 3])),
        ("createdAt", ids([2, 1, 3])),
        ("name.createdAt", ids([2, 1, 3])),
        ("name;asc", ids([1, 2, 3])),
        ("name;desc", ids([3, 2, 1])),
        ("type,name", ids([1, 2, 3])),
    ];
    for (order_by, want) in cases {
        let path = format!(
            "/temporal/entities?type=Building&orderBy={order_by}&timerel=after\
             &timeAt=1970-01-01T00:00:00Z&timeproperty=createdAt"
        );
        let (status, list) = hub.get_json(&path).await;
        assert_eq!(status, 200, "{order_by}: {list}");
        let got: Vec<String> =
            list.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().into()).collect();
        assert_eq!(got, want, "{order_by}");
    }
}

#[tokio::test]
async fn an_observation_sent_again_replaces_the_stored_instance() {
    // 008_01_01: the update re-sends speed@12:03 with a new value and 80@12:05, 67, 53 as
    // they were; each replaces its stored instance instead of doubling it.
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Vehicle:008";
    let p = |v: u32, t: &str| json!({"type": "Property", "value": v, "observedAt": t});
    let fuel_ds = json!({"type": "Property", "value": 40, "observedAt": "2020-09-01T14:07:00Z",
        "datasetId": "urn:ngsi-ld:Vehicle:12345-fuel"});
    let create = json!({"id": id, "type": "Vehicle",
        "speed": [p(120, "2020-09-01T12:03:00Z"), p(80, "2020-09-01T12:05:00Z")],
        "fuelLevel": [p(67, "2020-09-01T12:03:00Z"), p(53, "2020-09-01T13:05:00Z"), fuel_ds]});
    assert_eq!(hub.post_ld("/temporal/entities", &with_core(create)).await.status(), 201);
    let update = json!({"id": id, "type": "Vehicle",
        "speed": [p(121, "2020-09-01T12:03:00Z"), p(80, "2020-09-01T12:05:00Z"),
            p(100, "2020-09-01T12:07:00Z")],
        "fuelLevel": [p(67, "2020-09-01T12:03:00Z"), p(53, "2020-09-01T13:05:00Z"),
            p(40, "2020-09-01T14:07:00Z")]});
    let r = hub.post_ld("/temporal/entities", &with_core(update)).await;
    assert_eq!(r.status(), 204);
    assert!(r.text().await.unwrap().is_empty());
    let (_, e) = hub.get_json(&format!("/temporal/entities/{id}")).await;
    let values = |attr: &str| -> Vec<(Value, Value, Value)> {
        let mut v: Vec<(Value, Value, Value)> = e[attr]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["observedAt"].clone(), i["value"].clone(), i["datasetId"].clone()))
            .collect();
        v.sort_by_key(|t| format!("{t:?}"));
        v
    };
    let at = |t: &str| Value::from(format!("2020-09-01T{t}Z"));
    assert_eq!(
        values("speed"),
        vec![
            (at("12:03:00"), json!(121), Value::Null),
            (at("12:05:00"), json!(80), Value::Null),
            (at("12:07:00"), json!(100), Value::Null),
        ]
    );
    assert_eq!(
        values("fuelLevel"),
        vec![
            (at("12:03:00"), json!(67), Value::Null),
            (at("13:05:00"), json!(53), Value::Null),
            (at("14:07:00"), json!(40), Value::Null),
            (at("14:07:00"), json!(40), json!("urn:ngsi-ld:Vehicle:12345-fuel")),
        ]
    );
}

fn with_core(mut body: Value) -> Value {
    body["@context"] = json!("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld");
    body
}

#[tokio::test]
async fn scope_query_follows_scope_validity_over_time() {
    // 5744_03_04, _07–_11: a scope is valid from its observation until replaced (clause
    // 4.18); scopeQ selects entities with a matching scope valid inside the window and only
    // the instances observed while it was; the scope valid at the window start is shown.
    let hub = Hub::start().await;
    let p = |v: Value, t: &str| json!({"type": "Property", "value": v, "observedAt": t});
    let t = |hm: &str| format!("2026-03-01T{hm}:00Z");
    let fixtures = [
        ("ab", Some(json!([p(json!("/A/B"), &t("10:00"))])), vec![("abval", "12:05")]),
        ("bare", None, vec![("bareval", "12:05")]),
        (
            "mid",
            Some(json!([p(json!("/M"), &t("12:10"))])),
            vec![("midpre", "12:05"), ("midpost", "12:15")],
        ),
        (
            "rep",
            Some(json!([p(json!("/R"), &t("10:00")), p(json!("/S"), &t("12:30"))])),
            vec![("repold", "12:15"), ("repnew", "12:45")],
        ),
        ("late", Some(json!([p(json!("/Z"), &t("14:00"))])), vec![("lateval", "12:05")]),
    ];
    for (name, scope, speeds) in fixtures {
        let speed: Vec<Value> = speeds.iter().map(|(v, hm)| p(json!(v), &t(hm))).collect();
        let mut e = json!({"id": format!("urn:ngsi-ld:Vehicle:qs-{name}"), "type": "Vehicle",
            "speed": speed});
        if let Some(s) = scope {
            e["scope"] = s;
        }
        assert_eq!(hub.post_json("/temporal/entities", &e).await.status(), 201);
    }
    let window = "timerel=between&timeAt=2026-03-01T12:00:00Z&endTimeAt=2026-03-01T13:00:00Z";
    // (scopeQ, texts the answer holds, texts it must not hold)
    let cases: [(&str, &[&str], &[&str]); 6] = [
        ("/%23", &["qs-ab", "qs-mid", "qs-rep"], &["qs-bare", "qs-late"]),
        ("/M", &["qs-mid", "midpost"], &["midpre"]),
        ("/R", &["qs-rep", "repold"], &["repnew"]),
        ("/S", &["qs-rep", "repnew"], &["repold"]),
        ("/Z", &[], &["qs-"]),
        ("/A/B", &["\"/A/B\""], &[]),
    ];
    for (scope_q, yes, no) in cases {
        let path = format!("/temporal/entities?type=Vehicle&scopeQ={scope_q}&{window}");
        let r = hub.get(&path).await;
        assert_eq!(r.status(), 200, "{scope_q}");
        let text = r.text().await.unwrap();
        for y in yes {
            assert!(text.contains(y), "{scope_q}: {y} missing in {text}");
        }
        for n in no {
            assert!(!text.contains(n), "{scope_q}: {n} present in {text}");
        }
    }
    // The Entity holds the most recently observed scope.
    let (_, e) = hub.get_json("/entities/urn:ngsi-ld:Vehicle:qs-rep").await;
    assert_eq!(e["scope"], "/S", "{e}");
}
