//! Temporal instance paging (clause 6.3.10; conformance suite 020_13, 021_15, 021_16): a
//! window holding more instances of an attribute than the hub sends at once is answered 206
//! Partial Content with `Content-Range: date-time <start>-<end>/<size>`, forwards from the
//! oldest instance, or backwards from the most recent one with `lastN`.

use serde_json::{Value, json};

use crate::support::Hub;

const TWENTY: &str = "urn:ngsi-ld:Vehicle:twenty";
const THREE: &str = "urn:ngsi-ld:Vehicle:three";
const BEFORE: &str = "2019-01-01T01:01:00Z";
const AFTER: &str = "2021-01-01T01:01:00Z";

/// The suite's paging fixture: twenty instances of `speed` (01:01–01:20) and of `fuelLevel`
/// (01:03–01:22), a minute apart.
fn twenty() -> Value {
    let at = |minute: usize| format!("2020-01-01T01:{minute:02}:00Z");
    let speed: Vec<Value> =
        (1..=20).map(|k| json!({"type": "Property", "value": k, "observedAt": at(k)})).collect();
    let fuel: Vec<Value> = (1..=20)
        .map(|k| json!({"type": "Property", "value": k, "observedAt": at(k + 2)}))
        .collect();
    json!({"id": TWENTY, "type": "Vehicle", "speed": speed, "fuelLevel": fuel})
}

/// The suite's second vehicle: three instances of each attribute in September 2020.
fn three() -> Value {
    json!({"id": THREE, "type": "Vehicle",
        "speed": [
            {"type": "Property", "value": 120, "observedAt": "2020-09-01T12:03:00Z"},
            {"type": "Property", "value": 80, "observedAt": "2020-09-01T12:05:00Z"},
            {"type": "Property", "value": 100, "observedAt": "2020-09-01T12:07:00Z"}],
        "fuelLevel": [
            {"type": "Property", "value": 67, "observedAt": "2020-09-01T12:03:00Z"},
            {"type": "Property", "value": 53, "observedAt": "2020-09-01T13:05:00Z"},
            {"type": "Property", "value": 40, "observedAt": "2020-09-01T14:07:00Z"}]})
}

/// How many instances of `attr` an entity of the response carries (normalized or
/// temporalValues).
fn instances(e: &Value, attr: &str) -> usize {
    match &e[attr] {
        Value::Array(items) => items.len(),
        Value::Object(m) => m.get("values").and_then(Value::as_array).map_or(1, Vec::len),
        _ => 0,
    }
}

/// Sends `path` and checks status, Content-Range and, per entity id, the instances of
/// `speed` and `fuelLevel` sent.
async fn check(
    hub: &Hub,
    path: &str,
    status: u16,
    range: Option<&str>,
    counts: &[(&str, usize, usize)],
) {
    let r = hub.get(path).await;
    check_response(r, path, status, range, counts).await;
}

async fn check_response(
    r: reqwest::Response,
    what: &str,
    status: u16,
    range: Option<&str>,
    counts: &[(&str, usize, usize)],
) {
    assert_eq!(r.status().as_u16(), status, "{what}");
    let got = r.headers().get("content-range").map(|v| v.to_str().unwrap().to_string());
    assert_eq!(got.as_deref(), range, "{what}");
    let body: Value = r.json().await.unwrap();
    let entities = match &body {
        Value::Array(items) => items.clone(),
        one => vec![one.clone()],
    };
    for (id, speed, fuel) in counts {
        let e = entities.iter().find(|e| e["id"] == *id).unwrap_or_else(|| panic!("{what}: {id}"));
        assert_eq!(instances(e, "speed"), *speed, "{what}: speed of {id}: {e}");
        assert_eq!(instances(e, "fuelLevel"), *fuel, "{what}: fuelLevel of {id}: {e}");
    }
}

#[tokio::test]
async fn retrieve_pages_instances_forwards_and_backwards() {
    let hub = Hub::start().await;
    assert_eq!(hub.post_json("/temporal/entities", &twenty()).await.status(), 201);
    // Fifteen instances per attribute at most: forwards the page ends at speed's fifteenth
    // (01:15), so fuelLevel keeps 01:03–01:15; backwards it starts at fuelLevel's fifteenth
    // most recent (01:08), so speed keeps 01:08–01:20.
    let fwd = "2020-01-01T01:01:00Z-2020-01-01T01:15:00Z/*";
    let fwd_from = format!("{BEFORE}-2020-01-01T01:15:00Z/*");
    let back = "2020-01-01T01:22:00Z-2020-01-01T01:08:00Z/20";
    let back_from = format!("{AFTER}-2020-01-01T01:08:00Z/20");
    let cases: Vec<(String, &str, usize, usize)> = vec![
        // 020_13_01 … 10: (query, range, speed, fuelLevel)
        (String::new(), fwd, 15, 13),
        ("lastN=20".into(), back, 13, 15),
        (format!("lastN=20&timerel=before&timeAt={AFTER}"), back_from.as_str(), 13, 15),
        (
            format!("lastN=20&timerel=between&timeAt={BEFORE}&endTimeAt={AFTER}"),
            back_from.as_str(),
            13,
            15,
        ),
        (format!("lastN=20&timerel=after&timeAt={BEFORE}"), back, 13, 15),
        (format!("timerel=before&timeAt={AFTER}"), fwd, 15, 13),
        (format!("timerel=between&timeAt={BEFORE}&endTimeAt={AFTER}"), fwd_from.as_str(), 15, 13),
        (format!("timerel=after&timeAt={BEFORE}"), fwd_from.as_str(), 15, 13),
        (
            format!("options=temporalValues&timerel=after&timeAt={BEFORE}"),
            fwd_from.as_str(),
            15,
            13,
        ),
        (
            format!(
                "options=temporalValues&lastN=20&timerel=between&timeAt={BEFORE}&endTimeAt={AFTER}"
            ),
            back_from.as_str(),
            13,
            15,
        ),
    ];
    for (query, range, speed, fuel) in cases {
        let path = format!("/temporal/entities/{TWENTY}?{query}");
        let range = format!("date-time {range}");
        check(&hub, &path, 206, Some(range.as_str()), &[(TWENTY, speed, fuel)]).await;
    }
    // The next forward page starts at the range end; it holds the rest and is complete.
    let next = format!("/temporal/entities/{TWENTY}?timerel=after&timeAt=2020-01-01T01:15:00Z");
    check(&hub, &next, 200, None, &[(TWENTY, 6, 8)]).await;
    // Only the attributes shown count: without speed, fuelLevel pages at its own fifteenth.
    let omit = format!("/temporal/entities/{TWENTY}?omit=speed");
    let range = "date-time 2020-01-01T01:03:00Z-2020-01-01T01:17:00Z/*";
    check(&hub, &omit, 206, Some(range), &[(TWENTY, 0, 15)]).await;
    // A lastN within the limit, and aggregation, are not paged.
    check(&hub, &format!("/temporal/entities/{TWENTY}?lastN=2"), 200, None, &[(TWENTY, 2, 2)])
        .await;
    let r = hub
        .get(&format!(
            "/temporal/entities/{TWENTY}?options=aggregatedValues&aggrMethods=totalCount"
        ))
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("content-range").is_none());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["speed"]["totalCount"][0][0], 20, "{body}");
}

#[tokio::test]
async fn queries_page_each_entity_and_range_over_the_response() {
    let hub = Hub::start().await;
    assert_eq!(hub.post_json("/temporal/entities", &twenty()).await.status(), 201);
    assert_eq!(hub.post_json("/temporal/entities", &three()).await.status(), 201);
    // The twenty-instance vehicle is paged as on retrieve; the other is sent whole, and the
    // range spans every instance of the response.
    let back = format!("date-time {AFTER}-2020-01-01T01:08:00Z/20");
    let back_newest = "date-time 2020-09-01T14:07:00Z-2020-01-01T01:08:00Z/20".to_string();
    let fwd = "date-time 2020-01-01T01:01:00Z-2020-09-01T14:07:00Z/*".to_string();
    let fwd_from = format!("date-time {BEFORE}-2020-09-01T14:07:00Z/*");
    let (paged_back, paged_fwd) = ((TWENTY, 13, 15), (TWENTY, 15, 13));
    let cases: Vec<(String, &String, (&str, usize, usize))> = vec![
        // 021_15_01 … 08: (query, range, counts of the paged vehicle)
        (format!("lastN=20&timerel=before&timeAt={AFTER}"), &back, paged_back),
        (format!("lastN=20&timerel=between&timeAt={BEFORE}&endTimeAt={AFTER}"), &back, paged_back),
        (format!("lastN=20&timerel=after&timeAt={BEFORE}"), &back_newest, paged_back),
        (format!("timerel=before&timeAt={AFTER}"), &fwd, paged_fwd),
        (format!("timerel=between&timeAt={BEFORE}&endTimeAt={AFTER}"), &fwd_from, paged_fwd),
        (format!("timerel=after&timeAt={BEFORE}"), &fwd_from, paged_fwd),
        (format!("options=temporalValues&timerel=after&timeAt={BEFORE}"), &fwd_from, paged_fwd),
        (
            format!(
                "options=temporalValues&lastN=20&timerel=between&timeAt={BEFORE}&endTimeAt={AFTER}"
            ),
            &back,
            paged_back,
        ),
    ];
    for (query, range, paged) in cases {
        let path = format!("/temporal/entities?type=Vehicle&{query}");
        check(&hub, &path, 206, Some(range.as_str()), &[paged, (THREE, 3, 3)]).await;
    }
    // A window only the small vehicle has instances in is complete.
    let small = "/temporal/entities?type=Vehicle&timerel=after&timeAt=2020-06-01T00:00:00Z";
    check(&hub, small, 200, None, &[(THREE, 3, 3)]).await;
    // 021_16_01: the POST query pages the same way.
    let query = json!({"type": "Query", "entities": [{"type": "Vehicle"}],
        "temporalQ": {"timerel": "before", "timeAt": "2020-08-02T12:05:00Z"}});
    let r = hub.post_json("/temporal/entityOperations/query", &query).await;
    let range = "date-time 2020-01-01T01:01:00Z-2020-01-01T01:15:00Z/*";
    check_response(r, "POST query", 206, Some(range), &[(TWENTY, 15, 13)]).await;
}

#[tokio::test]
async fn an_attribute_wholly_past_the_page_is_sent_empty() {
    // 020_14: fifty-nine instances of speed on one day and of fuelLevel on the next. A page
    // cut before the second day leaves fuelLevel empty, and backwards speed, rather than
    // sending instances past the range end that the next page would repeat or skip.
    let hub = Hub::start().await;
    let id = "urn:ngsi-ld:Vehicle:sixty";
    let series = |day: u32| -> Vec<Value> {
        (1..=59)
            .map(|m| {
                let at = format!("2020-01-{day:02}T01:{m:02}:00Z");
                json!({"type": "Property", "value": m, "observedAt": at})
            })
            .collect()
    };
    let e = json!({"id": id, "type": "Vehicle", "speed": series(1), "fuelLevel": series(2)});
    assert_eq!(hub.post_json("/temporal/entities", &e).await.status(), 201);
    let cases = [
        (format!("timerel=after&timeAt={BEFORE}"), "fuelLevel", "speed"),
        (format!("lastN=100&timerel=before&timeAt={AFTER}"), "speed", "fuelLevel"),
    ];
    for (query, empty, full) in cases {
        let (status, body) = hub.get_json(&format!("/temporal/entities/{id}?{query}")).await;
        assert_eq!(status, 206, "{query}");
        assert_eq!(body[empty], json!([]), "{query}: {body}");
        assert_eq!(instances(&body, full), 15, "{query}: {body}");
    }
}
