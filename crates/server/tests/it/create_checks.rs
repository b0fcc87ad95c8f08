//! Create Entity input checks from the conformance suite's Antares CreateEntity files:
//! scope grammar (418_01), ids with invisible characters (451_02), ListRelationship
//! normalization (4522_01), JsonProperty members (4524_01), concise GeoProperty inference
//! (452_02), `ngsildproof` sealed members (452_03), Relationship `unitCode` (453_01),
//! `datasetId: "@none"` (455_01), type names (462_01), NGSI-LD null on create (465_01,
//! 521_01, 554_01), string-encoded geometry and `location` (471_01), LanguageProperty
//! members (5232_01).

use serde_json::{Value, json};

use crate::support::{Hub, assert_problem};

fn vehicle(id: &str, attrs: Value) -> Value {
    let mut e = json!({"id": id, "type": "Vehicle"});
    e.as_object_mut().unwrap().extend(attrs.as_object().unwrap().clone());
    e
}

#[tokio::test]
async fn malformed_create_payloads_are_bad_request_data_and_create_nothing() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Vehicle:cc1";
    let bad = [
        json!({"scope": "/a//b"}),
        json!({"scope": "/9bad"}),
        json!({"scope": "urn:ngsi-ld:null"}),
        json!({"tickets": {"type": "JsonProperty", "json": {"a": 1}, "unitCode": "MTR"}}),
        json!({"tickets": {"type": "JsonProperty", "json": 5}}),
        json!({"isParked": {"type": "Relationship", "object": "urn:ngsi-ld:P:1", "unitCode": "MTR"}}),
        json!({"speed": [{"type": "Property", "value": 55}, {"type": "Property", "value": 11, "datasetId": "@none"}]}),
        json!({"speed": {"type": "Property", "value": 1, "entityIdSealed": id}}),
        json!({"ngsildproof": {"type": "Property", "value": "not-a-proof-object"}}),
        json!({"ngsildproof": {"type": "Property", "value": {"type": "DataIntegrityProof"}, "entityTypeSealed": 42}}),
        json!({"brandName": {"type": "LanguageProperty", "languageMap": {"@none": "urn:ngsi-ld:null"}}}),
        json!({"probe": {"type": "Property", "value": "urn:ngsi-ld:null"}}),
        json!({"probe": {"type": "Relationship", "object": "urn:ngsi-ld:null"}}),
        json!({"probe": {"type": "Property", "value": 1, "sub": {"type": "Property", "value": "urn:ngsi-ld:null"}}}),
        json!({"address": {"type": "Property", "value": {"geo": {"country": "urn:ngsi-ld:null"}}}}),
        json!({"location": {"type": "GeoProperty", "value": "not a geometry"}}),
        json!({"location": {"type": "Property", "value": 7}}),
        json!({"probe": {"type": "LanguageProperty", "languageMap": {"en": "x"}, "valueType": "xsd:string"}}),
        json!({"probe": {"type": "LanguageProperty", "languageMap": {"": "x"}}}),
    ];
    for attrs in bad {
        let r = hub.post_json("/entities", &vehicle(id, attrs.clone())).await;
        let body = assert_problem(r, 400, "BadRequestData").await;
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{attrs}: {body}");
        assert_eq!(hub.get(&format!("/entities/{id}")).await.status(), 404, "{attrs}");
    }
    let bad_type = json!({"id": id, "type": "9Vehicle"});
    assert_problem(hub.post_json("/entities", &bad_type).await, 400, "BadRequestData").await;
    let null_id = json!({"id": "urn:ngsi-ld:null", "type": "Vehicle"});
    assert_problem(hub.post_json("/entities", &null_id).await, 400, "BadRequestData").await;
    for cp in [0x202E_u32, 0x200B, 0xFEFF, 0xFE0F, 0xE0100, 0xFDD0, 0xFFFE, 0x115F, 0x3164, 0x2800]
    {
        let odd = format!("urn:ngsi-ld:Vehicle:A{}B", char::from_u32(cp).unwrap());
        let r = hub.post_json("/entities", &json!({"id": odd, "type": "Vehicle"})).await;
        assert_problem(r, 400, "BadRequestData").await;
    }
}

#[tokio::test]
async fn accepted_create_forms_round_trip_normalized() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Vehicle:cc2";
    let proof = json!({"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022", "proofValue": "zQeV"});
    let body = vehicle(
        id,
        json!({
            "scope": "/Madrid/Gardens/ParqueNorte",
            "speed": 55,
            "location": {"type": "Point", "coordinates": [8.0, 49.0]},
            "area": {"type": "GeoProperty", "value": "{\"type\": \"Point\", \"coordinates\": [17.1, 48.7]}"},
            "route": {"type": "ListRelationship", "objectList": ["urn:ngsi-ld:Road:1", {"object": "urn:ngsi-ld:Road:2"}]},
            "isParked": {"type": "Relationship", "object": "urn:ngsi-ld:P:1", "objectType": "OffStreetParking"},
            "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Ciudad:Par\u{ed}s"},
            "gps": [{"type": "Property", "value": 55, "datasetId": "@none"},
                    {"type": "Property", "value": 11, "datasetId": "urn:ngsi-ld:Dataset:gps"}],
            "ngsildproof": {"type": "Property", "entityIdSealed": id, "entityTypeSealed": "Vehicle", "value": proof},
            "label": {"type": "LanguageProperty", "languageMap": {"en": "hello"}, "valueType": "langString"}
        }),
    );
    let r = hub.post_json("/entities", &body).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let (status, e) = hub.get_json(&format!("/entities/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(e["location"]["type"], "GeoProperty");
    assert_eq!(e["area"]["value"], json!({"type": "Point", "coordinates": [17.1, 48.7]}));
    assert_eq!(
        e["route"]["objectList"],
        json!([{"object": "urn:ngsi-ld:Road:1"}, {"object": "urn:ngsi-ld:Road:2"}])
    );
    let gps = e["gps"].as_array().unwrap();
    let default: Vec<&Value> = gps.iter().filter(|i| i.get("datasetId").is_none()).collect();
    assert_eq!(default.len(), 1, "{e}");
    assert_eq!(default[0]["value"], 55);
    assert_eq!(e["ngsildproof"]["entityIdSealed"], id);
    assert_eq!(e["ngsildproof"]["entityTypeSealed"], "Vehicle");
    assert_eq!(e["ngsildproof"]["value"]["proofValue"], "zQeV");
}

#[tokio::test]
async fn delete_type_selector_batch_null_item_scoped_context_and_merge_null() {
    let hub = Hub::start().await;
    // 566_01: DELETE ?type= gates the delete.
    let id = "urn:ngsi-ld:Vehicle:cc3";
    assert_eq!(
        hub.post_json("/entities", &json!({"id": id, "type": "Building"})).await.status(),
        201
    );
    let del =
        |q: &str| hub.req(reqwest::Method::DELETE, &format!("/entities/{id}?type={q}")).send();
    assert_eq!(del("Vehicle").await.unwrap().status(), 404);
    assert_eq!(hub.get(&format!("/entities/{id}")).await.status(), 200);
    assert_eq!(del("Building").await.unwrap().status(), 204);
    assert_eq!(hub.get(&format!("/entities/{id}")).await.status(), 404);
    // 567_01 / 5620_01: a null item fails the whole batch; the valid sibling is not created.
    for op in ["create", "merge", "upsert", "update"] {
        let batch = json!([{"id": id, "type": "Vehicle"}, null]);
        let r = hub.post_json(&format!("/entityOperations/{op}"), &batch).await;
        assert_problem(r, 400, "BadRequestData").await;
        assert_eq!(hub.get(&format!("/entities/{id}")).await.status(), 404, "{op}");
    }
    // 557_01: a scoped context in the user @context.
    let scoped = json!({"id": id, "type": "Vehicle", "@context": [{"Vehicle":
        {"@id": "https://example.org/Vehicle", "@context": {"speed": "https://example.org/s"}}}]});
    assert_problem(hub.post_ld("/entities", &scoped).await, 400, "BadRequestData").await;
    assert_eq!(hub.get(&format!("/entities/{id}")).await.status(), 404);
    // 554_01_03/04: a nested null is refused by a partial attribute update, and merges
    // into the compound value (RFC 7396) on PATCH /entities/{id}.
    let addr = json!({"street": "Unter den Linden", "city": "Berlin", "country": "Germany"});
    let e = json!({"id": id, "type": "Vehicle", "address": {"type": "Property", "value": addr}});
    assert_eq!(hub.post_json("/entities", &e).await.status(), 201);
    let patch = json!({"value": {"country": "urn:ngsi-ld:null"}});
    let r = hub
        .send(
            reqwest::Method::PATCH,
            &format!("/entities/{id}/attrs/address"),
            "application/json",
            &patch,
        )
        .await;
    assert_problem(r, 400, "BadRequestData").await;
    let merge = json!({"address": {"type": "Property",
        "value": {"street": "Pariser Platz", "country": "urn:ngsi-ld:null"}}});
    let r = hub
        .send(reqwest::Method::PATCH, &format!("/entities/{id}"), "application/json", &merge)
        .await;
    assert_eq!(r.status(), 204);
    let (_, got) = hub.get_json(&format!("/entities/{id}")).await;
    assert_eq!(got["address"]["value"], json!({"street": "Pariser Platz", "city": "Berlin"}));
}

/// Official CreateEntity/ReplaceEntity/MergeEntity files: an ld+json body with a JSON-LD Link
/// header (001_09_01, 003_09_01), a type that is a JSON-LD keyword (001_02_04) and an empty id
/// in the path (054_02_02, 056_02_02) are BadRequestData.
#[tokio::test]
async fn link_with_ld_body_keyword_types_and_empty_ids_are_bad_request_data() {
    use reqwest::Method;
    let hub = Hub::start().await;
    let core = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld";
    let link = format!(
        "<{core}>; rel=\"http://www.w3.org/ns/json-ld#context\"; type=\"application/ld+json\""
    );
    let entity = json!({"id": "urn:ngsi-ld:Vehicle:lk1", "type": "Vehicle", "@context": core});
    let r = hub
        .req(Method::POST, "/entities")
        .header("Content-Type", "application/ld+json")
        .header("Link", &link)
        .body(entity.to_string())
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, "BadRequestData").await;
    let r = hub
        .req(Method::POST, "/entityOperations/create")
        .header("Content-Type", "application/ld+json")
        .header("Link", &link)
        .body(json!([entity]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "{}", r.text().await.unwrap());
    let (status, _) = hub.get_json("/entities/urn:ngsi-ld:Vehicle:lk1").await;
    assert_eq!(status, 404, "nothing was created");

    let r =
        hub.post_json("/entities", &json!({"id": "urn:ngsi-ld:Vehicle:lk2", "type": "type"})).await;
    assert_problem(r, 400, "BadRequestData").await;

    for method in [Method::PUT, Method::PATCH] {
        let r = hub
            .req(method.clone(), "/entities/")
            .header("Content-Type", "application/json")
            .body(json!({"speed": {"type": "Property", "value": 1}}).to_string())
            .send()
            .await
            .unwrap();
        assert_problem(r, 400, "BadRequestData").await;
    }
    // Without the Link header the same ld+json create still succeeds.
    let r = hub.post_ld("/entities", &entity).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}
