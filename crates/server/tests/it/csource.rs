//! Context Source Registrations (`/csourceRegistrations`, clauses 5.9, 5.10, 6.8, 6.9):
//! create, discover, retrieve, update, delete, per tenant and durable; subscriptions to
//! them (`/csourceSubscriptions`, clause 5.11) and their notifications; the requests of
//! conformance cases 045_01_03, 043_01_05, 049_01_03, 049_01_04 and 049_02_03.

use std::sync::Arc;

use citybrain_broker::Broker;
use citybrain_server::{AppState, run};
use citybrain_store::SqliteStore;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{CORE, Hub, assert_problem};

const REG_ID: &str = "urn:ngsi-ld:ContextSourceRegistration:r1";

/// The suite's `context-source-registration-with-expiration.jsonld`, with the core context
/// in place of the suite's remote one.
fn registration(id: &str) -> Value {
    json!({
        "id": id,
        "type": "ContextSourceRegistration",
        "information": [
            {"entities": [{"id": "urn:ngsi-ld:Vehicle:A456", "type": "Vehicle"}],
             "propertyNames": ["brandName", "speed"], "relationshipNames": ["isParked"]},
            {"entities": [{"idPattern": ".*downtown$", "type": "OffStreetParking"},
                          {"idPattern": ".*47$", "type": "OffStreetParking"}],
             "propertyNames": ["availableSpotNumber", "totalSpotNumber"],
             "relationshipNames": ["isNextToBuilding"]}
        ],
        "endpoint": "http://my.csource.org:1026",
        "expiresAt": "2035-11-29T14:53:15Z",
        "@context": [CORE]
    })
}

async fn create(hub: &Hub, doc: &Value) -> reqwest::Response {
    hub.post_ld("/csourceRegistrations", doc).await
}

async fn get_with(hub: &Hub, path: &str, accept: &str) -> reqwest::Response {
    hub.req(Method::GET, path).header("Accept", accept).send().await.unwrap()
}

#[tokio::test]
async fn create_answers_201_with_location_and_retrieve_renders_defaults() {
    let hub = Hub::start().await;
    let r = create(&hub, &registration(REG_ID)).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["location"], format!("/ngsi-ld/v1/csourceRegistrations/{REG_ID}"));
    let (status, body) = hub.get_json(&format!("/csourceRegistrations/{REG_ID}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["type"], "ContextSourceRegistration");
    assert_eq!(body["endpoint"], "http://my.csource.org:1026");
    assert_eq!(body["mode"], "inclusive");
    assert_eq!(body["operations"], json!(["federationOps"]));
    assert_eq!(body["expiresAt"], "2035-11-29T14:53:15Z");
    assert_eq!(body["information"][0]["propertyNames"], json!(["brandName", "speed"]));
    assert_eq!(body["information"][1]["entities"][0]["idPattern"], ".*downtown$");
    assert!(body.get("createdAt").is_none());
    let (_, with_sys) =
        hub.get_json(&format!("/csourceRegistrations/{REG_ID}?options=sysAttrs")).await;
    assert!(with_sys["createdAt"].is_string());

    // Without an id the hub makes one up and says where it is.
    let mut anonymous = registration(REG_ID);
    anonymous.as_object_mut().unwrap().remove("id");
    let r = create(&hub, &anonymous).await;
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let path = location.strip_prefix("/ngsi-ld/v1").unwrap();
    assert_eq!(hub.get(path).await.status(), 200);
}

#[tokio::test]
async fn create_rejects_invalid_documents_naming_the_member_and_duplicates() {
    let hub = Hub::start().await;
    let cases: [(&str, Value); 6] = [
        ("endpoint", Value::Null),
        ("endpoint", json!("no uri here")),
        ("information", json!([])),
        ("mode", json!("sometimes")),
        ("expiresAt", json!("2000-01-01T00:00:00Z")),
        ("type", json!("Registration")),
    ];
    for (member, value) in cases {
        let mut doc = registration(REG_ID);
        if value.is_null() {
            doc.as_object_mut().unwrap().remove(member);
        } else {
            doc[member] = value;
        }
        let body = assert_problem(create(&hub, &doc).await, 400, "BadRequestData").await;
        assert!(body["detail"].as_str().unwrap().contains(member), "{member}: {body}");
    }
    assert_eq!(create(&hub, &registration(REG_ID)).await.status(), 201);
    assert_problem(create(&hub, &registration(REG_ID)).await, 409, "AlreadyExists").await;
    let r = hub.send(Method::POST, "/csourceRegistrations", "text/plain", &json!({})).await;
    assert_eq!(r.status(), 415);
}

/// 043_01_05: a remote @context that cannot be fetched is 503 LdContextNotAvailable.
#[tokio::test]
async fn unretrievable_context_is_503() {
    let hub = Hub::start().await;
    let mut doc = registration(REG_ID);
    doc["@context"] = json!(["http://127.0.0.1:9/ngsi-ld-core-context-non-existing.jsonld"]);
    assert_problem(create(&hub, &doc).await, 503, "LdContextNotAvailable").await;
    assert_eq!(hub.get(&format!("/csourceRegistrations/{REG_ID}")).await.status(), 404);
}

/// 045_01_03: a discovery with `Accept: */*` answers application/json with a Link header.
#[tokio::test]
async fn discovery_with_any_accept_is_json_with_link() {
    let hub = Hub::start().await;
    assert_eq!(create(&hub, &registration(REG_ID)).await.status(), 201);
    let r = hub
        .req(Method::GET, &format!("/csourceRegistrations?id={REG_ID}&type=Vehicle"))
        .header("Accept", "*/*")
        .header("Link", format!("<{CORE}>; rel=\"http://www.w3.org/ns/json-ld#context\""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert!(!r.headers()["link"].is_empty());
    // `id` names entities (clause 5.10.2), not registrations: no registration offers an
    // entity with the registration's own id.
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!([]));
    let (_, body) =
        hub.get_json("/csourceRegistrations?id=urn:ngsi-ld:Vehicle:A456&type=Vehicle").await;
    assert_eq!(body[0]["id"], REG_ID);
}

/// 049_01_03 and 049_02_03: discovery cannot answer XML or GeoJSON.
#[tokio::test]
async fn discovery_refuses_xml_and_geojson() {
    let hub = Hub::start().await;
    for accept in ["application/xml", "application/geo+json"] {
        let r = get_with(&hub, "/csourceRegistrations?type=Building", accept).await;
        assert_eq!(r.status(), 406, "{accept}");
    }
    let r = get_with(&hub, &format!("/csourceRegistrations/{REG_ID}"), "application/xml").await;
    assert_eq!(r.status(), 406);
}

#[tokio::test]
async fn discovery_filters_by_type_attrs_id_and_pages() {
    let hub = Hub::start().await;
    assert_eq!(create(&hub, &registration(REG_ID)).await.status(), 201);
    let building = json!({"id": "urn:ngsi-ld:ContextSourceRegistration:b", "type": "ContextSourceRegistration",
        "information": [{"entities": [{"type": "Building"}], "propertyNames": ["name"]}],
        "endpoint": "http://b.example.org", "@context": CORE});
    assert_eq!(create(&hub, &building).await.status(), 201);
    let ids = |body: &Value| -> Vec<String> {
        body.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
    };
    let (_, b) = hub.get_json("/csourceRegistrations?type=Building").await;
    assert_eq!(ids(&b), vec!["urn:ngsi-ld:ContextSourceRegistration:b"]);
    let (_, b) = hub.get_json("/csourceRegistrations?attrs=name").await;
    assert_eq!(ids(&b), vec!["urn:ngsi-ld:ContextSourceRegistration:b"]);
    let (_, b) = hub.get_json("/csourceRegistrations?attrs=speed,name").await;
    assert_eq!(b.as_array().unwrap().len(), 2);
    let (_, b) = hub.get_json("/csourceRegistrations?type=OffStreetParking&id=urn:x:P47").await;
    assert_eq!(ids(&b), vec![REG_ID]);
    let (_, b) = hub.get_json("/csourceRegistrations?type=OffStreetParking&id=urn:x:P48").await;
    assert!(b.as_array().unwrap().is_empty());
    let (_, b) = hub.get_json("/csourceRegistrations?type=Vehicle,Building&limit=1").await;
    assert_eq!(b.as_array().unwrap().len(), 1);
    let r = hub.get("/csourceRegistrations?type=Vehicle,Building&limit=1&count=true").await;
    assert_eq!(r.headers()["ngsild-results-count"], "2");
    let links: Vec<&str> =
        r.headers().get_all("link").iter().map(|l| l.to_str().unwrap()).collect();
    assert!(
        links.iter().any(|l| l.contains("rel=\"next\"") && l.contains("offset=1")),
        "{links:?}"
    );
    // Spec parameters the hub does not evaluate are refused by name, unknown ones are 400.
    let r = hub.get("/csourceRegistrations?type=Vehicle&csf=endpoint==x").await;
    let body = assert_problem(r, 422, "OperationNotSupported").await;
    assert!(body["detail"].as_str().unwrap().contains("'csf'"));
    let r = hub.get("/csourceRegistrations?type=Vehicle&colour=red").await;
    assert_problem(r, 400, "InvalidRequest").await;
    // 037_02: neither types nor attribute names.
    assert_problem(hub.get("/csourceRegistrations").await, 400, "BadRequestData").await;
    assert_problem(
        hub.get("/csourceRegistrations?type=Vehicle&id=notauri").await,
        400,
        "BadRequestData",
    )
    .await;
}

#[tokio::test]
async fn update_replaces_members_and_delete_removes() {
    let hub = Hub::start().await;
    assert_eq!(create(&hub, &registration(REG_ID)).await.status(), 201);
    let path = format!("/csourceRegistrations/{REG_ID}");
    let patch = json!({"endpoint": "http://other.example.org", "expiresAt": null});
    let r = hub.send(Method::PATCH, &path, "application/json", &patch).await;
    assert_eq!(r.status(), 204);
    let (_, body) = hub.get_json(&path).await;
    assert_eq!(body["endpoint"], "http://other.example.org");
    assert!(body.get("expiresAt").is_none());
    assert_eq!(body["information"].as_array().unwrap().len(), 2);
    let bad = json!({"endpoint": null});
    let r = hub.send(Method::PATCH, &path, "application/json", &bad).await;
    assert_problem(r, 400, "BadRequestData").await;
    let missing = "/csourceRegistrations/urn:ngsi-ld:ContextSourceRegistration:none";
    let r = hub.send(Method::PATCH, missing, "application/json", &patch).await;
    assert_problem(r, 404, "ResourceNotFound").await;

    assert_eq!(hub.req(Method::DELETE, &path).send().await.unwrap().status(), 204);
    assert_problem(hub.get(&path).await, 404, "ResourceNotFound").await;
    let r = hub.req(Method::DELETE, &path).send().await.unwrap();
    assert_problem(r, 404, "ResourceNotFound").await;
    assert_problem(hub.get("/csourceRegistrations/not-a-uri").await, 400, "BadRequestData").await;
}

#[tokio::test]
async fn registrations_belong_to_their_tenant() {
    let hub = Hub::start().await;
    let r = hub
        .req(Method::POST, "/csourceRegistrations")
        .header("Content-Type", "application/ld+json")
        .header("NGSILD-Tenant", "tp414a")
        .body(registration(REG_ID).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["ngsild-tenant"], "tp414a");
    let path = format!("/csourceRegistrations/{REG_ID}");
    let in_tenant = hub.req(Method::GET, &path).header("NGSILD-Tenant", "tp414a");
    assert_eq!(in_tenant.send().await.unwrap().status(), 200);
    assert_problem(hub.get(&path).await, 404, "ResourceNotFound").await;
    let r = hub.req(Method::DELETE, &path).header("NGSILD-Tenant", "tp414a");
    assert_eq!(r.send().await.unwrap().status(), 204);
}

/// Serves a second hub over the data directory `dir`.
async fn serve_over(dir: &std::path::Path) -> (String, tokio::sync::oneshot::Sender<()>) {
    let store = Arc::new(SqliteStore::open(dir).unwrap());
    let broker = Broker::open(store).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/ngsi-ld/v1", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(run(listener, AppState::new(broker).unwrap(), async move {
        let _ = rx.await;
    }));
    (base, tx)
}

#[tokio::test]
async fn registrations_and_csource_subscriptions_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let client = crate::support::http_client();
    let (base, stop) = serve_over(dir.path()).await;
    let r = client
        .post(format!("{base}/csourceRegistrations"))
        .header("Content-Type", "application/ld+json")
        .body(registration(REG_ID).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let patch = json!({"mode": "auxiliary"});
    let r = client
        .patch(format!("{base}/csourceRegistrations/{REG_ID}"))
        .header("Content-Type", "application/json")
        .body(patch.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let sub = csource_subscription("urn:ngsi-ld:Subscription:kept", "http://x/n");
    let r = client
        .post(format!("{base}/csourceSubscriptions"))
        .header("Content-Type", "application/json")
        .body(sub.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let _ = stop.send(());

    let (base, _stop) = serve_over(dir.path()).await;
    let r = client.get(format!("{base}/csourceRegistrations/{REG_ID}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["mode"], "auxiliary");
    assert_eq!(body["information"][0]["relationshipNames"], json!(["isParked"]));
    assert_eq!(body["expiresAt"], "2035-11-29T14:53:15Z");
    let r = client
        .get(format!("{base}/csourceSubscriptions/urn:ngsi-ld:Subscription:kept"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["entities"], json!([{"type": "Vehicle"}]));
    assert_eq!(body["notification"]["endpoint"]["uri"], "http://x/n");
}

fn csource_subscription(id: &str, uri: &str) -> Value {
    json!({"id": id, "type": "Subscription", "entities": [{"type": "Vehicle"}],
        "notification": {"format": "keyValues",
            "endpoint": {"uri": uri, "accept": "application/json"}}})
}

/// 049_01_04: the collection exists and cannot answer XML.
#[tokio::test]
async fn csource_subscriptions_refuse_xml() {
    let hub = Hub::start().await;
    let r = get_with(&hub, "/csourceSubscriptions", "application/xml").await;
    assert_eq!(r.status(), 406);
    let (status, body) = hub.get_json("/csourceSubscriptions").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!([]));
}

#[tokio::test]
async fn csource_subscriptions_create_retrieve_list_update_delete() {
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Subscription:cs1";
    let path = format!("/csourceSubscriptions/{id}");
    let r = hub.post_json("/csourceSubscriptions", &csource_subscription(id, "http://x/n")).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["location"], format!("/ngsi-ld/v1{path}"));
    let r = hub.post_json("/csourceSubscriptions", &csource_subscription(id, "http://x/n")).await;
    assert_problem(r, 409, "AlreadyExists").await;
    let (status, body) = hub.get_json(&path).await;
    assert_eq!(status, 200);
    assert_eq!(body["entities"], json!([{"type": "Vehicle"}]));
    assert_eq!(body["status"], "active");
    assert!(body.get("notificationTrigger").is_none());
    let (_, list) = hub.get_json("/csourceSubscriptions").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    // Entity subscriptions and subscriptions to registrations are separate collections.
    assert_problem(hub.get(&format!("/subscriptions/{id}")).await, 404, "ResourceNotFound").await;

    let patch = json!({"expiresAt": "2040-01-01T00:00:00Z"});
    assert_eq!(hub.send(Method::PATCH, &path, "application/json", &patch).await.status(), 204);
    let (_, body) = hub.get_json(&path).await;
    assert_eq!(body["expiresAt"], "2040-01-01T00:00:00Z");

    // Members that only shape entity notifications are refused, naming the member.
    let mut with_q = csource_subscription("urn:ngsi-ld:Subscription:cs2", "http://x/n");
    with_q["q"] = json!("speed>1");
    let body = assert_problem(
        hub.post_json("/csourceSubscriptions", &with_q).await,
        422,
        "OperationNotSupported",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("'q'"));
    let mut no_notification = csource_subscription("urn:ngsi-ld:Subscription:cs3", "http://x/n");
    no_notification.as_object_mut().unwrap().remove("notification");
    let r = hub.post_json("/csourceSubscriptions", &no_notification).await;
    assert_problem(r, 400, "BadRequestData").await;

    assert_eq!(hub.req(Method::DELETE, &path).send().await.unwrap().status(), 204);
    assert_problem(hub.get(&path).await, 404, "ResourceNotFound").await;
}

#[tokio::test]
async fn registration_changes_are_notified_to_matching_csource_subscriptions() {
    use crate::subscriptions::{next, receiver};
    let hub = Hub::start().await;
    let (uri, mut rx) = receiver(std::time::Duration::ZERO).await;
    let sub_id = "urn:ngsi-ld:Subscription:cs-notify";
    let r = hub.post_json("/csourceSubscriptions", &csource_subscription(sub_id, &uri)).await;
    assert_eq!(r.status(), 201);
    // A Building registration is not selected; the Vehicle one after it is, and the queue
    // keeps order, so the first notification must be the Vehicle registration's.
    let building = json!({"id": "urn:ngsi-ld:ContextSourceRegistration:b", "type": "ContextSourceRegistration",
        "information": [{"entities": [{"type": "Building"}]}],
        "endpoint": "http://b.example.org", "@context": CORE});
    assert_eq!(create(&hub, &building).await.status(), 201);
    assert_eq!(create(&hub, &registration(REG_ID)).await.status(), 201);
    let (headers, n) = next(&mut rx, 10).await.expect("a notification");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(n["type"], "Notification");
    assert_eq!(n["subscriptionId"], sub_id);
    assert_eq!(n["triggerReason"], "newlyMatching");
    assert_eq!(n["data"][0]["id"], REG_ID);
    assert_eq!(n["data"][0]["endpoint"], "http://my.csource.org:1026");

    let path = format!("/csourceRegistrations/{REG_ID}");
    let patch = json!({"endpoint": "http://moved.example.org"});
    assert_eq!(hub.send(Method::PATCH, &path, "application/json", &patch).await.status(), 204);
    let (_, n) = next(&mut rx, 10).await.expect("a notification");
    assert_eq!(n["triggerReason"], "updated");
    assert_eq!(n["data"][0]["endpoint"], "http://moved.example.org");

    assert_eq!(hub.req(Method::DELETE, &path).send().await.unwrap().status(), 204);
    let (_, n) = next(&mut rx, 10).await.expect("a notification");
    assert_eq!(n["triggerReason"], "noLongerMatching");
    assert_eq!(n["data"][0]["id"], REG_ID);
}
