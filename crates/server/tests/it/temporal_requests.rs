//! Temporal query request checks and the JSON `temporalQ` / `aggrParams` of
//! POST /temporal/entityOperations/query (conformance suite 5741_01, 5731_01, 021_27, 5244_01).

use serde_json::{Value, json};

use crate::support::{Hub, assert_problem};

#[tokio::test]
async fn temporal_queries_reject_linked_wide_and_malformed_requests() {
    let hub = Hub::start().await;
    let w = "timerel=after&timeAt=2020-01-01T00:00:00Z";
    let bad = [
        format!("/temporal/entities?{w}&attrs=createdAt"),
        format!("/temporal/entities?{w}&type=Building&pick=owner%7Bname%7D"),
        format!("/temporal/entities?{w}&type=Building&q=owner%7Bname%7D%3D%3D%22x%22"),
        format!("/temporal/entities?{w}&type=Building&csf=))bad(("),
        "/temporal/entities/urn:ngsi-ld:Building:1?pick=owner%7Bname%7D".to_string(),
    ];
    for path in bad {
        let body = assert_problem(hub.get(&path).await, 400, "BadRequestData").await;
        assert!(body["detail"].is_string(), "{path}");
    }
    // The same queries without the offending parameter are fine.
    let good = [
        format!("/temporal/entities?{w}&attrs=speed"),
        format!("/temporal/entities?{w}&type=Building&attrs=createdAt,name"),
        format!("/temporal/entities?{w}&type=Building&orderBy=id"),
        // 021_23 (official, clause 4.23) orders temporal queries by attributes too, against
        // 5741_01_06 (Antares extension), which wanted this refused.
        format!("/temporal/entities?{w}&type=Building&orderBy=name"),
    ];
    for path in good {
        let (status, body) = hub.get_json(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
}

#[tokio::test]
async fn post_query_reads_aggregation_from_temporal_q_and_aggr_params() {
    let hub = Hub::start().await;
    let v = json!({"id": "urn:ngsi-ld:Vehicle:agg", "type": "Vehicle",
        "speed": [
            {"type": "Property", "value": 120, "observedAt": "2020-08-01T12:03:00Z"},
            {"type": "Property", "value": 80, "observedAt": "2020-08-01T12:05:00Z"}]});
    assert_eq!(hub.post_json("/temporal/entities", &v).await.status(), 201);
    let window = json!({"timerel": "after", "timeAt": "2020-08-01T12:00:00Z"});
    let with = |extra: Value| {
        let mut q =
            json!({"type": "Query", "entities": [{"type": "Vehicle"}], "temporalQ": window});
        for (k, v) in extra.as_object().unwrap() {
            if k == "temporalQ" {
                for (tk, tv) in v.as_object().unwrap() {
                    q["temporalQ"][tk] = tv.clone();
                }
            } else {
                q[k] = v.clone();
            }
        }
        q
    };
    // (body, status, text the response must contain, text it must not contain)
    let cases = [
        (with(json!({"temporalQ": {"aggrMethods": ["avg"]}})), 200, "avg", "instanceId"),
        (with(json!({"temporalQ": {"aggrMethods": "avg,max"}})), 200, "max", "instanceId"),
        (
            with(json!({"aggrParams": {"aggrMethods": ["avg"], "aggrPeriodDuration": "PT0S"}})),
            200,
            "avg",
            "instanceId",
        ),
        (with(json!({"aggrParams": {"aggrMethods": ["bogus"]}})), 400, "aggrMethods", "instanceId"),
        (
            with(json!({"temporalQ": {"aggrMethods": ["avg"], "aggrPeriodDuration": "soon"}})),
            400,
            "aggrPeriodDuration",
            "instanceId",
        ),
        (with(json!({"temporalQ": {"lastN": 2.5}})), 400, "BadRequestData", "instanceId"),
        (with(json!({"temporalQ": {"lastN": 0}})), 400, "BadRequestData", "instanceId"),
        (
            with(json!({"temporalQ": {"lastN": 1}})),
            200,
            "2020-08-01T12:05:00Z",
            "2020-08-01T12:03:00Z",
        ),
    ];
    for (body, status, has, lacks) in cases {
        let r = hub.post_json("/temporal/entityOperations/query", &body).await;
        assert_eq!(r.status().as_u16(), status, "{body}");
        let text = r.text().await.unwrap();
        assert!(text.contains(has), "{body} → {text}");
        assert!(!text.contains(lacks), "{body} → {text}");
    }
}

/// ngsildclient 0.5.2's `temporal.query` sends `options=count,temporalValues` (the NGSIv2
/// spelling of `count=true`) with every call; it was 400 "unknown option 'count'", so the
/// library's temporal queries could not work against the hub.
#[tokio::test]
async fn temporal_query_reads_a_count_option_as_count_true() {
    let hub = Hub::start().await;
    for n in 1..=2 {
        let v = json!({"id": format!("urn:ngsi-ld:Vehicle:c{n}"), "type": "Vehicle",
            "speed": [{"type": "Property", "value": 50 + n, "observedAt": "2020-08-01T12:03:00Z"}]});
        assert_eq!(hub.post_json("/temporal/entities", &v).await.status(), 201);
    }
    let w = "type=Vehicle&timerel=before&timeAt=2021-01-01T00:00:00Z";
    let r =
        hub.get(&format!("/temporal/entities?{w}&limit=1&options=count%2CtemporalValues")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["NGSILD-Results-Count"], "2");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body.as_array().unwrap().len(), 1, "limit still applies: {body}");
    assert_eq!(body[0]["speed"]["values"][0][1], "2020-08-01T12:03:00Z", "temporalValues: {body}");

    let r = hub.get(&format!("/temporal/entities?{w}&options=count")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["NGSILD-Results-Count"], "2");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body[0]["speed"][0]["type"], "Property", "normalized without other options: {body}");

    // Without the option there is no count, and elsewhere `count` is still no option.
    let r = hub.get(&format!("/temporal/entities?{w}&options=temporalValues")).await;
    assert!(r.headers().get("NGSILD-Results-Count").is_none());
    assert_problem(hub.get("/entities?type=Vehicle&options=count").await, 400, "BadRequestData")
        .await;
}
