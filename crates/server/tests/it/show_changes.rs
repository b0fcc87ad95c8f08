//! Notifications with `showChanges` carry the previous value of each changed attribute in
//! the member its type names (suite 046_31–046_34), and a deleted attribute is notified as
//! its own type with the NGSI-LD null in its value member.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::subscriptions::{next, receiver};
use crate::support::Hub;

const ID: &str = "urn:ngsi-ld:Building:sc1";

async fn setup(
    hub: &Hub,
    show: bool,
) -> tokio::sync::mpsc::UnboundedReceiver<(axum::http::HeaderMap, Value)> {
    let (uri, rx) = receiver(Duration::ZERO).await;
    let sub = json!({"type": "Subscription", "entities": [{"type": "Building"}],
        "notificationTrigger": ["attributeUpdated", "attributeDeleted"],
        "notification": {"endpoint": {"uri": uri}, "showChanges": show}});
    assert_eq!(hub.post_json("/subscriptions", &sub).await.status(), 201);
    let e = json!({"id": ID, "type": "Building",
        "name": {"type": "Property", "value": "Eiffel Tower"},
        "locatedAt": {"type": "Relationship", "object": "urn:ngsi-ld:City:Paris"},
        "street": {"type": "LanguageProperty", "languageMap": {"fr": "Grand Place", "nl": "Grote Markt"}},
        "jsonProperty": {"type": "JsonProperty", "json": {"id": "some-id"}}});
    assert_eq!(hub.post_json("/entities", &e).await.status(), 201);
    rx
}

async fn patch(hub: &Hub, body: Value) {
    let r =
        hub.send(Method::PATCH, &format!("/entities/{ID}/attrs"), "application/json", &body).await;
    assert_eq!(r.status(), 204);
}

#[tokio::test]
async fn updates_carry_the_previous_value_member_of_each_type() {
    let hub = Hub::start().await;
    let mut rx = setup(&hub, true).await;
    // (update, attribute, expected previous member, expected previous value)
    let cases = vec![
        (
            json!({"name": {"type": "Property", "value": "Big Ben"}}),
            "name",
            "previousValue",
            json!("Eiffel Tower"),
        ),
        (
            json!({"locatedAt": {"type": "Relationship", "object": "urn:ngsi-ld:City:Nantes"}}),
            "locatedAt",
            "previousObject",
            json!("urn:ngsi-ld:City:Paris"),
        ),
        (
            json!({"street": {"type": "LanguageProperty", "languageMap": {"fr": "Rue"}}}),
            "street",
            "previousLanguageMap",
            json!({"fr": "Grand Place", "nl": "Grote Markt"}),
        ),
        (
            json!({"jsonProperty": {"type": "JsonProperty", "json": {"city": "Nantes"}}}),
            "jsonProperty",
            "previousJson",
            json!({"id": "some-id"}),
        ),
    ];
    for (update, attr, member, previous) in cases {
        patch(&hub, update).await;
        let (_, n) = next(&mut rx, 10).await.expect("a notification");
        let a = &n["data"][0][attr];
        assert_eq!(a[member], previous, "{attr}: {n}");
        // Attributes that did not change carry no previous value.
        assert!(n["data"][0]["name"].get("previousValue").is_none() || attr == "name", "{n}");
    }
}

#[tokio::test]
async fn deleted_attributes_are_notified_as_their_own_type() {
    let hub = Hub::start().await;
    let mut rx = setup(&hub, true).await;
    let del =
        hub.req(Method::DELETE, &format!("/entities/{ID}/attrs/street")).send().await.unwrap();
    assert_eq!(del.status(), 204);
    let (_, n) = next(&mut rx, 10).await.expect("a notification");
    assert_eq!(
        n["data"][0]["street"],
        json!({"type": "LanguageProperty", "languageMap": {"@none": "urn:ngsi-ld:null"},
            "previousLanguageMap": {"fr": "Grand Place", "nl": "Grote Markt"}}),
        "{n}"
    );
    assert_eq!(n["data"][0]["name"], json!({"type": "Property", "value": "Eiffel Tower"}));
}

#[tokio::test]
async fn without_show_changes_no_previous_members() {
    let hub = Hub::start().await;
    let mut rx = setup(&hub, false).await;
    patch(&hub, json!({"name": {"type": "Property", "value": "Big Ben"}})).await;
    let (_, n) = next(&mut rx, 10).await.expect("a notification");
    assert!(n["data"][0]["name"].get("previousValue").is_none(), "{n}");
    let del =
        hub.req(Method::DELETE, &format!("/entities/{ID}/attrs/locatedAt")).send().await.unwrap();
    assert_eq!(del.status(), 204);
    let (_, n) = next(&mut rx, 10).await.expect("a notification");
    assert_eq!(
        n["data"][0]["locatedAt"],
        json!({"type": "Relationship", "object": "urn:ngsi-ld:null"}),
        "{n}"
    );
}

#[tokio::test]
async fn entity_deletion_nulls_every_attribute_with_the_null_uri() {
    // 046_37: on entityDeleted with showChanges every attribute, a LanguageProperty too,
    // is notified with the plain null URI and its previous value.
    let hub = Hub::start().await;
    let (uri, mut rx) = receiver(Duration::ZERO).await;
    let sub = json!({"type": "Subscription", "entities": [{"type": "Building"}],
        "notificationTrigger": ["entityDeleted"],
        "notification": {"endpoint": {"uri": uri}, "showChanges": true}});
    assert_eq!(hub.post_json("/subscriptions", &sub).await.status(), 201);
    let id = "urn:ngsi-ld:Building:gone";
    let entity = json!({"id": id, "type": "Building",
        "name": {"type": "Property", "value": "Eiffel Tower"},
        "street": {"type": "LanguageProperty", "languageMap": {"fr": "Grand Place"}}});
    assert_eq!(hub.post_json("/entities", &entity).await.status(), 201);
    let del = hub.req(Method::DELETE, &format!("/entities/{id}")).send().await.unwrap();
    assert_eq!(del.status(), 204);
    let (_, n) = next(&mut rx, 10).await.expect("a notification");
    let e = &n["data"][0];
    assert!(e["deletedAt"].is_string(), "{n}");
    assert_eq!(
        e["street"],
        json!({"type": "LanguageProperty", "languageMap": "urn:ngsi-ld:null",
            "previousLanguageMap": {"fr": "Grand Place"}})
    );
    assert_eq!(
        e["name"],
        json!({"type": "Property", "value": "urn:ngsi-ld:null", "previousValue": "Eiffel Tower"})
    );
}
