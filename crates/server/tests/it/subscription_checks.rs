//! Subscription documents: the value spaces and restrictions of clauses 5.2.12, 5.2.14 and
//! 5.2.22, the create/update rules of 5.8.1.4 / 5.8.2.4, the version preference on retrieve
//! and `datasetId` in notifications (conformance files 5811_01/02, 028_06–028_10, 029_11,
//! 436_09/10, 046_19).

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::subscriptions::{next, receiver};
use crate::support::{Hub, assert_problem};

fn building_sub(id: &str, extra: Value, notification_extra: Value) -> Value {
    let mut s = json!({"id": id, "type": "Subscription", "entities": [{"type": "Building"}],
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}}});
    for (k, v) in extra.as_object().unwrap() {
        s[k] = v.clone();
    }
    for (k, v) in notification_extra.as_object().unwrap() {
        s["notification"][k] = v.clone();
    }
    s
}

#[tokio::test]
async fn create_rejects_what_clause_5_2_12_forbids() {
    let hub = Hub::start().await;
    let bad = [
        // 5811_01_01: an expiry in the past.
        (json!({"expiresAt": "2000-01-01T00:00:00Z"}), json!({})),
        // 5811_02_01: a trigger outside the six valid values.
        (json!({"notificationTrigger": ["entityChanged"]}), json!({})),
        // 5811_02_03: csf must be a valid query.
        (json!({"csf": "(("}), json!({})),
        // 028_08: pick and omit naming the same member; pick or omit with attributes.
        (json!({}), json!({"pick": ["id"], "omit": ["id"]})),
        (json!({}), json!({"pick": ["id"], "attributes": ["id"]})),
        (json!({}), json!({"omit": ["id"], "attributes": ["id"]})),
        // 028_09: showChanges with keyValues (or its synonym), empty arrays.
        (json!({}), json!({"format": "keyValues", "showChanges": true})),
        (json!({}), json!({"format": "simplified", "showChanges": true})),
        (json!({}), json!({"attributes": []})),
        (json!({}), json!({"pick": []})),
        (json!({}), json!({"omit": []})),
    ];
    for (i, (extra, notification)) in bad.into_iter().enumerate() {
        let doc = building_sub(&format!("urn:ngsi-ld:Subscription:bad{i}"), extra, notification);
        let r = hub.post_json("/subscriptions", &doc).await;
        assert_problem(r, 400, "BadRequestData").await;
    }
    // 028_10: KeyValuePair items need string key and value, in receiverInfo and notifierInfo.
    for endpoint_extra in [
        json!({"receiverInfo": [{"key": "K", "value": 42}]}),
        json!({"notifierInfo": [{"key": "K", "value": {"a": 1}}]}),
        json!({"receiverInfo": [{"key": "K"}]}),
        json!({"receiverInfo": [{"key": 5, "value": "v"}]}),
    ] {
        let mut doc = building_sub("urn:ngsi-ld:Subscription:kv", json!({}), json!({}));
        for (k, v) in endpoint_extra.as_object().unwrap() {
            doc["notification"]["endpoint"][k] = v.clone();
        }
        assert_problem(hub.post_json("/subscriptions", &doc).await, 400, "BadRequestData").await;
    }
    // The controls: every trigger together, showChanges with normalized, string pairs.
    let mut ok = building_sub(
        "urn:ngsi-ld:Subscription:ok",
        json!({"notificationTrigger": ["entityCreated", "entityUpdated", "entityDeleted",
            "attributeCreated", "attributeUpdated", "attributeDeleted"]}),
        json!({"format": "normalized", "showChanges": true}),
    );
    ok["notification"]["endpoint"]["receiverInfo"] =
        json!([{"key": "Authorization", "value": "Bearer abc"}]);
    ok["notification"]["endpoint"]["notifierInfo"] =
        json!([{"key": "Prefer", "value": "body=json"}]);
    assert_eq!(hub.post_json("/subscriptions", &ok).await.status(), 201);
}

#[tokio::test]
async fn read_only_and_foreign_members_are_ignored_and_dataset_ids_kept() {
    let hub = Hub::start().await;
    // 5811_02_04: status, timesSent and a member outside 5.2.12 are accepted and not served.
    let doc = building_sub(
        "urn:ngsi-ld:Subscription:ro",
        json!({"__context": "http://localhost:1111/hijacked.jsonld", "status": "expired"}),
        json!({"timesSent": 42}),
    );
    assert_eq!(hub.post_json("/subscriptions", &doc).await.status(), 201);
    let r = hub.get("/subscriptions/urn:ngsi-ld:Subscription:ro").await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(!text.contains("__context") && !text.contains("hijacked.jsonld"), "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], "active");
    assert_ne!(body["notification"]["timesSent"], 42);
    // 028_06: datasetId is a Subscription member and comes back as given.
    let doc = building_sub(
        "urn:ngsi-ld:Subscription:ds",
        json!({"datasetId": ["urn:ngsi-ld:Dataset:french-name"]}),
        json!({}),
    );
    assert_eq!(hub.post_json("/subscriptions", &doc).await.status(), 201);
    let (status, body) = hub.get_json("/subscriptions/urn:ngsi-ld:Subscription:ds").await;
    assert_eq!(status, 200);
    assert_eq!(body["datasetId"], json!(["urn:ngsi-ld:Dataset:french-name"]));
    // 5811_01_03: without an id a URI is generated and served.
    let mut doc = building_sub("urn:x", json!({}), json!({}));
    doc.as_object_mut().unwrap().remove("id");
    let r = hub.post_json("/subscriptions", &doc).await;
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let id = location.rsplit('/').next().unwrap();
    assert!(id.starts_with("urn:"), "{location}");
    assert_eq!(hub.get(&format!("/subscriptions/{id}")).await.status(), 200);
}

#[tokio::test]
async fn unavailable_jsonld_context_is_503() {
    let hub = Hub::start().await;
    // 028_07_02: a jsonldContext that cannot be retrieved (nothing listens on port 1).
    let doc = building_sub(
        "urn:ngsi-ld:Subscription:ctx",
        json!({"jsonldContext": "http://127.0.0.1:1/missing-context.jsonld"}),
        json!({}),
    );
    let r = hub.post_json("/subscriptions", &doc).await;
    assert_problem(r, 503, "LdContextNotAvailable").await;
    // 028_07_01: not a URI at all.
    let doc = building_sub(
        "urn:ngsi-ld:Subscription:ctx",
        json!({"jsonldContext": "unknownContext"}),
        json!({}),
    );
    assert_problem(hub.post_json("/subscriptions", &doc).await, 400, "BadRequestData").await;
}

#[tokio::test]
async fn update_rejects_a_past_expiry_but_keeps_a_future_one() {
    let hub = Hub::start().await;
    let doc = building_sub("urn:ngsi-ld:Subscription:exp", json!({}), json!({}));
    assert_eq!(hub.post_json("/subscriptions", &doc).await.status(), 201);
    let path = "/subscriptions/urn:ngsi-ld:Subscription:exp";
    // 029_11: an expiresAt in the past.
    let past = json!({"type": "Subscription", "expiresAt": "2020-08-01T22:07:00Z"});
    let r = hub.send(Method::PATCH, path, "application/json", &past).await;
    assert_problem(r, 400, "BadRequestData").await;
    let (_, body) = hub.get_json(path).await;
    assert_eq!(body["status"], "active");
    assert!(body.get("expiresAt").is_none());
    let future =
        json!({"type": "Subscription", "isActive": true, "expiresAt": "2130-08-01T22:07:00Z"});
    let r = hub.send(Method::PATCH, path, "application/json", &future).await;
    assert_eq!(r.status(), 204);
    let (_, body) = hub.get_json(path).await;
    assert_eq!(body["expiresAt"], "2130-08-01T22:07:00Z");
}

#[tokio::test]
async fn version_preference_is_applied_unaltered() {
    let hub = Hub::start().await;
    let doc = building_sub(
        "urn:ngsi-ld:Subscription:pref",
        json!({}),
        json!({"attributes": ["airQualityLevel"]}),
    );
    assert_eq!(hub.post_json("/subscriptions", &doc).await.status(), 201);
    let path = "/subscriptions/urn:ngsi-ld:Subscription:pref";
    // 436_09 / 436_10: the RFC 7240 spellings all name the version preference.
    for prefer in [
        "ngsi-ld=1.0",
        "NGSI-LD=1.0",
        "Ngsi-Ld=1.0",
        "ngsi-ld=\"1.0\"",
        "ngsi-ld=1.0;q=0.1",
        "respond-async, ngsi-ld=1.0",
    ] {
        let r = hub.req(Method::GET, path).header("Prefer", prefer).send().await.unwrap();
        assert_eq!(r.status(), 200, "{prefer}");
        assert_eq!(r.headers()["preference-applied"], "ngsi-ld=1.0", "{prefer}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["type"], "Subscription");
        assert!(body["entities"].is_array());
        assert_eq!(body["notification"]["attributes"], json!(["airQualityLevel"]));
    }
    // No version preference, no Preference-Applied.
    let r = hub.req(Method::GET, path).header("Prefer", "respond-async").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("preference-applied").is_none());
}

#[tokio::test]
async fn dataset_id_selects_the_notified_instances() {
    let hub = Hub::start().await;
    let (uri, mut rx) = receiver(Duration::ZERO).await;
    let id = "urn:ngsi-ld:Building:ds1";
    // 046_19: a building with default, French, German/Spanish instances.
    let building = json!({"id": id, "type": "Building",
        "name": [
            {"type": "Property", "value": "Eiffel Tower"},
            {"type": "Property", "value": "Tour Eiffel", "datasetId": "urn:ngsi-ld:Dataset:french-name"},
            {"type": "Property", "value": "Eiffelturm", "datasetId": "urn:ngsi-ld:Dataset:german-name"}],
        "locatedAt": [
            {"type": "Relationship", "object": "urn:ngsi-ld:City:Paris"},
            {"type": "Relationship", "object": "urn:ngsi-ld:Ville:Paris", "datasetId": "urn:ngsi-ld:Dataset:french-name"},
            {"type": "Relationship", "object": "urn:ngsi-ld:Ciudad:Paris", "datasetId": "urn:ngsi-ld:Dataset:spanish-name"}]});
    assert_eq!(hub.post_json("/entities", &building).await.status(), 201);
    let mut sub = building_sub(
        "urn:ngsi-ld:Subscription:ds1",
        json!({"datasetId": ["urn:ngsi-ld:Dataset:french-name"]}),
        json!({"format": "normalized"}),
    );
    sub["entities"][0]["id"] = json!(id);
    sub["notification"]["endpoint"]["uri"] = json!(uri);
    assert_eq!(hub.post_json("/subscriptions", &sub).await.status(), 201);
    let fragment = json!({"name": {"type": "Property", "value": "Le Tour Eiffel",
        "datasetId": "urn:ngsi-ld:Dataset:french-name"}});
    let r = hub
        .send(Method::PATCH, &format!("/entities/{id}/attrs"), "application/json", &fragment)
        .await;
    assert_eq!(r.status(), 204);
    let (_, n) = next(&mut rx, 5).await.expect("a notification");
    let entity = &n["data"][0];
    assert_eq!(entity["id"], id);
    assert_eq!(
        entity["name"],
        json!({"type": "Property", "value": "Le Tour Eiffel", "datasetId": "urn:ngsi-ld:Dataset:french-name"})
    );
    assert_eq!(
        entity["locatedAt"],
        json!({"type": "Relationship", "object": "urn:ngsi-ld:Ville:Paris", "datasetId": "urn:ngsi-ld:Dataset:french-name"})
    );
}

/// Creates a subscription on Building with `notification_extra`, a building linked to a
/// city, then updates the building's name; returns the notification's `data`.
async fn notified_after_name_update(notification_extra: Value, building: &str) -> Value {
    let hub = Hub::start().await;
    let (uri, mut rx) = receiver(Duration::ZERO).await;
    let city = json!({"id": "urn:ngsi-ld:City:Paris", "type": "City",
        "name": {"type": "Property", "value": "Paris"},
        "isInCountry": {"type": "Relationship", "object": "urn:ngsi-ld:Country:France"}});
    assert_eq!(hub.post_json("/entities", &city).await.status(), 201);
    let entity = json!({"id": building, "type": "Building",
        "locatedAt": {"type": "Relationship", "object": "urn:ngsi-ld:City:Paris"},
        "street": {"type": "LanguageProperty", "languageMap": {"fr": "Grand Place", "nl": "Grote Markt"}}});
    assert_eq!(hub.post_json("/entities", &entity).await.status(), 201);
    let mut sub = building_sub("urn:ngsi-ld:Subscription:n", json!({}), notification_extra);
    sub["notification"]["endpoint"]["uri"] = json!(uri);
    assert_eq!(hub.post_json("/subscriptions", &sub).await.status(), 201);
    let name = json!({"name": {"type": "Property", "value": "Tour Eiffel"}});
    // Appending the attribute (POST …/attrs), as the files' "Update Entity Attributes" does.
    let r = hub
        .send(Method::POST, &format!("/entities/{building}/attrs"), "application/json", &name)
        .await;
    assert_eq!(r.status(), 204);
    let (_, n) = next(&mut rx, 5).await.expect("a notification");
    assert_eq!(n["subscriptionId"], "urn:ngsi-ld:Subscription:n");
    n["data"].clone()
}

#[tokio::test]
async fn notification_join_flat_appends_linked_entities() {
    // 046_23 / 046_26: the linked city follows the building in `data`, whole even when
    // notification.attributes narrows the building.
    let b = "urn:ngsi-ld:Building:j1";
    let data = notified_after_name_update(
        json!({"join": "flat", "joinLevel": 1, "attributes": ["locatedAt"]}),
        b,
    )
    .await;
    assert_eq!(data.as_array().unwrap().len(), 2, "{data}");
    assert_eq!(
        data[0],
        json!({"id": b, "type": "Building",
            "locatedAt": {"type": "Relationship", "object": "urn:ngsi-ld:City:Paris"}})
    );
    assert_eq!(data[1]["id"], "urn:ngsi-ld:City:Paris");
    assert_eq!(data[1]["name"]["value"], "Paris");
    assert_eq!(data[1]["isInCountry"]["object"], "urn:ngsi-ld:Country:France");
}

#[tokio::test]
async fn notification_join_inline_embeds_linked_entities() {
    // 046_29: keyValues replaces the relationship by the linked entity.
    let b = "urn:ngsi-ld:Building:j2";
    let data =
        notified_after_name_update(json!({"join": "inline", "format": "keyValues"}), b).await;
    assert_eq!(data.as_array().unwrap().len(), 1, "{data}");
    assert_eq!(data[0]["name"], "Tour Eiffel");
    assert_eq!(data[0]["locatedAt"]["id"], "urn:ngsi-ld:City:Paris");
    assert_eq!(data[0]["locatedAt"]["name"], "Paris");
    // 046_27: normalized keeps the relationship and adds `entity`.
    let b = "urn:ngsi-ld:Building:j3";
    let data = notified_after_name_update(json!({"join": "inline"}), b).await;
    assert_eq!(data[0]["locatedAt"]["object"], "urn:ngsi-ld:City:Paris");
    assert_eq!(data[0]["locatedAt"]["entity"]["id"], "urn:ngsi-ld:City:Paris");
    assert_eq!(data[0]["locatedAt"]["entity"]["name"]["value"], "Paris");
}

#[tokio::test]
async fn notification_pick_and_omit_project_the_entity() {
    // 046_42: pick id and name.
    let b = "urn:ngsi-ld:Building:p1";
    let data = notified_after_name_update(json!({"pick": ["id", "name"]}), b).await;
    assert_eq!(data, json!([{"id": b, "name": {"type": "Property", "value": "Tour Eiffel"}}]));
    // 046_43: omit type and name.
    let b = "urn:ngsi-ld:Building:p2";
    let data = notified_after_name_update(json!({"omit": ["type", "name"]}), b).await;
    assert_eq!(
        data,
        json!([{"id": b,
            "locatedAt": {"type": "Relationship", "object": "urn:ngsi-ld:City:Paris"},
            "street": {"type": "LanguageProperty", "languageMap": {"fr": "Grand Place", "nl": "Grote Markt"}}}])
    );
}

#[tokio::test]
async fn percent_encoded_q_and_json_ld_entities() {
    let hub = Hub::start().await;
    let (uri, mut rx) = receiver(Duration::ZERO).await;
    let id = "urn:ngsi-ld:Building:q1";
    let building = json!({"id": id, "type": "Building", "name": {"type": "Property", "value": "Eiffel Tower"},
        "airQualityLevel": {"type": "Property", "value": 4}});
    assert_eq!(hub.post_json("/entities", &building).await.status(), 201);
    // 046_05: the q is written as in a URL; 046_14: JSON-LD notifications.
    let mut sub = building_sub(
        "urn:ngsi-ld:Subscription:q1",
        json!({"watchedAttributes": ["airQualityLevel"], "q": "name==\"Eiffel%20Tower\""}),
        json!({}),
    );
    sub["notification"]["endpoint"] = json!({"uri": uri, "accept": "application/ld+json"});
    assert_eq!(hub.post_json("/subscriptions", &sub).await.status(), 201);
    let fragment = json!({"airQualityLevel": {"type": "Property", "value": 5}});
    let r = hub
        .send(Method::PATCH, &format!("/entities/{id}/attrs"), "application/json", &fragment)
        .await;
    assert_eq!(r.status(), 204);
    let (headers, n) = next(&mut rx, 5).await.expect("a notification");
    assert!(headers.get("link").is_none());
    assert_eq!(n["data"][0]["id"], id);
    assert!(n["data"][0]["@context"].is_string() || n["data"][0]["@context"].is_array());
    let (_, served) = hub.get_json("/subscriptions/urn:ngsi-ld:Subscription:q1").await;
    assert_eq!(served["q"], "name==\"Eiffel%20Tower\"");
}

#[tokio::test]
async fn entity_deleted_notifies_id_type_and_deletion_time() {
    // 046_21_01 / 046_21_02: without showChanges the deleted entity is id, type and
    // deletedAt (and createdAt/modifiedAt with sysAttrs).
    for (sys_attrs, members) in [(false, 3), (true, 5)] {
        let hub = Hub::start().await;
        let (uri, mut rx) = receiver(Duration::ZERO).await;
        let mut sub = building_sub(
            "urn:ngsi-ld:Subscription:del",
            json!({"notificationTrigger": ["entityDeleted"]}),
            json!({"sysAttrs": sys_attrs}),
        );
        sub["notification"]["endpoint"]["uri"] = json!(uri);
        assert_eq!(hub.post_json("/subscriptions", &sub).await.status(), 201);
        let id = "urn:ngsi-ld:Building:del";
        let entity =
            json!({"id": id, "type": "Building", "name": {"type": "Property", "value": "x"}});
        assert_eq!(hub.post_json("/entities", &entity).await.status(), 201);
        let r = hub.req(Method::DELETE, &format!("/entities/{id}")).send().await.unwrap();
        assert_eq!(r.status(), 204);
        let (_, n) = next(&mut rx, 5).await.expect("a notification");
        let e = n["data"][0].as_object().unwrap();
        assert_eq!(e.len(), members, "{n}");
        assert_eq!(e["id"], id);
        assert!(e["deletedAt"].is_string());
        assert_eq!(e.contains_key("createdAt"), sys_attrs);
    }
}
