//! `expandValues` (clause 4.9 EXAMPLE 12): a query value is expanded against the context only
//! for the attributes the parameter names, on `/entities` and `/temporal/entities` alike
//! (conformance suite 019_29_12/13 and 5743_01).

use serde_json::json;

use crate::support::Hub;

#[tokio::test]
async fn vocab_values_expand_only_when_asked() {
    let hub = Hub::start().await;
    let shop = json!({"id": "urn:ngsi-ld:Shop:ev1", "type": "Shop",
        "category": {"type": "VocabProperty", "vocab": "commercial"}});
    assert_eq!(hub.post_json("/entities", &shop).await.status(), 201);
    let window = "timerel=after&timeAt=2000-01-01T00:00:00Z&timeproperty=createdAt";
    // (path, whether the shop is returned)
    let cases = [
        ("/entities?type=Shop&q=category%3D%3Dcommercial&expandValues=category".to_string(), true),
        ("/entities?type=Shop&q=category%3D%3Dcommercial".to_string(), false),
        ("/entities?type=Shop&q=category%3D%3Dcommercial&expandValues=other".to_string(), false),
        (
            "/entities?type=Shop&q=category%3D%3D%22https://uri.etsi.org/ngsi-ld/default-context/commercial%22"
                .to_string(),
            true,
        ),
        (format!("/temporal/entities?type=Shop&q=category%3D%3Dcommercial&expandValues=category&{window}"), true),
        (format!("/temporal/entities?type=Shop&q=category%3D%3Dcommercial&{window}"), false),
    ];
    for (path, found) in cases {
        let (status, body) = hub.get_json(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
        let n = body.as_array().unwrap().len();
        assert_eq!(n, usize::from(found), "{path}: {body}");
    }
}
