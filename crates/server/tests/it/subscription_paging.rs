//! GET /subscriptions pagination: `limit`/`offset` with `rel="prev"`/`rel="next"` Link
//! headers exactly as the conformance suite's 031_02 expects them, and `count`.

use reqwest::Method;
use serde_json::json;

use crate::support::Hub;

#[tokio::test]
async fn list_pages_carry_prev_and_next_links() {
    let hub = Hub::start().await;
    for i in 0..3 {
        let sub = json!({"id": format!("urn:ngsi-ld:Subscription:page-{i}"), "type": "Subscription",
            "entities": [{"type": "Building"}],
            "notification": {"endpoint": {"uri": "http://localhost:1111/notify"}}});
        assert_eq!(hub.post_json("/subscriptions", &sub).await.status(), 201);
    }
    let base = "/ngsi-ld/v1/subscriptions";
    let prev =
        |o: u32| format!("<{base}?limit=1&offset={o}>;rel=\"prev\";type=\"application/ld+json\"");
    let next =
        |o: u32| format!("<{base}?limit=1&offset={o}>;rel=\"next\";type=\"application/ld+json\"");
    // (limit, offset, expected items, expected Link values)
    let cases = vec![
        (1, 0, 1, vec![next(1)]),
        (1, 1, 1, vec![prev(0), next(2)]),
        (1, 2, 1, vec![prev(1)]),
        (15, 0, 3, vec![]),
    ];
    for (limit, offset, n, links) in cases {
        let r = hub
            .req(Method::GET, &format!("/subscriptions?limit={limit}&offset={offset}&count=true"))
            .header("Accept", "application/ld+json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["NGSILD-Results-Count"], "3");
        let got: Vec<String> =
            r.headers().get_all("Link").iter().map(|v| v.to_str().unwrap().to_string()).collect();
        assert_eq!(got, links, "limit={limit} offset={offset}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body.as_array().unwrap().len(), n);
    }
}
