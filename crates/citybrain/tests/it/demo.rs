//! `citybrain demo` end to end: the real binary on a free port at a high speed, its cockpit
//! API, the hub's NGSI-LD view of the same city, subscriptions, the live stream, bad input.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{citybrain, repo, stderr};

/// A running demo, killed on drop.
pub(crate) struct Demo {
    child: Child,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub(crate) base: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the demo on a free port at `speed` and waits for "ready".
pub(crate) fn start(speed: &str) -> Demo {
    let mut child = Command::new(env!("CARGO_BIN_EXE_citybrain"))
        .args(["demo", "--listen", "127.0.0.1:0", "--speed", speed])
        .current_dir(repo())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the citybrain binary starts");
    let out = child.stdout.take().unwrap();
    let mut base = None;
    for line in BufReader::new(out).lines() {
        let line = line.unwrap();
        if let Some(at) = line.find("http://") {
            let url = line[at..].split_whitespace().next().unwrap();
            base.get_or_insert_with(|| url.trim_end_matches('/').to_string());
        }
        if line.starts_with("ready in ") {
            break;
        }
    }
    Demo { child, base: base.expect("the demo prints its URL") }
}

async fn get(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let r = client.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// Polls `url` until `done` holds for its JSON (30 s at most).
async fn poll(client: &reqwest::Client, url: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, v) = get(client, url).await;
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{url} never satisfied the condition; last: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cockpit_api_and_the_hub_show_the_live_city() {
    let demo = start("200");
    let client = crate::http_client();
    let b = &demo.base;

    let (status, net) = get(&client, &format!("{b}/api/network")).await;
    assert_eq!(status, 200);
    assert_eq!(net["scenario"], "hangzhou_4x4");
    let nodes = net["intersections"].as_array().unwrap();
    let signalised: Vec<&Value> = nodes.iter().filter(|n| n["signalised"] == true).collect();
    assert_eq!(signalised.len(), 16);
    assert!(signalised.iter().all(|n| !n["phases"].as_array().unwrap().is_empty()));
    let roads = net["roads"].as_array().unwrap().len();
    assert!(roads > 0);

    let first =
        poll(&client, &format!("{b}/api/state"), |s| s["time_s"].as_f64() > Some(0.0)).await;
    let t0 = first["time_s"].as_f64().unwrap();
    let later =
        poll(&client, &format!("{b}/api/state"), |s| s["time_s"].as_f64() >= Some(t0 + 100.0))
            .await;
    assert!(later["brain"]["created"].as_u64() > first["brain"]["created"].as_u64());
    assert_ne!(later["brain"], first["brain"], "KPIs change");
    assert_eq!(later["intersections"].as_array().unwrap().len(), 16);
    assert_eq!(later["roads"].as_array().unwrap().len(), roads);

    let id = signalised[5]["id"].as_str().unwrap();
    let node =
        poll(&client, &format!("{b}/api/intersections/{id}"), |n| !n["decision"].is_null()).await;
    assert!(!node["decision"]["reason"].as_str().unwrap().is_empty());
    assert!(!node["approaches"].as_array().unwrap().is_empty());
    let (status, missing) = get(&client, &format!("{b}/api/intersections/nowhere")).await;
    assert_eq!(status, 404);
    assert!(missing["detail"].as_str().unwrap().contains("nowhere"));
    let (status, _) = get(&client, &format!("{b}/api/nothing")).await;
    assert_eq!(status, 404);

    let history = poll(&client, &format!("{b}/api/history"), |h| {
        h["samples"].as_array().is_some_and(|s| s.len() >= 3)
    })
    .await;
    let times: Vec<f64> = history["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["time_s"].as_f64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[1] - w[0] == 10.0), "one sample per 10 s: {times:?}");

    let ngsi = format!("{b}/ngsi-ld/v1/entities");
    let (_, flows) = get(&client, &format!("{ngsi}?type=TrafficFlowObserved&limit=1000")).await;
    assert_eq!(flows.as_array().unwrap().len(), roads);
    assert!(flows[0]["laneObservations"]["value"].is_array());
    let (_, signals) = get(&client, &format!("{ngsi}?type=TrafficSignal&limit=1000")).await;
    assert_eq!(signals.as_array().unwrap().len(), 16);
    // Geo-queries work on the WGS84 positions (Hangzhou).
    let near = format!(
        "{ngsi}?type=TrafficSignal&limit=1000&georel=near;maxDistance==100000&geometry=Point&coordinates=[120.15,30.28]"
    );
    let (status, close) = get(&client, &near).await;
    assert_eq!(status, 200, "{close}");
    assert_eq!(close.as_array().unwrap().len(), 16);

    let (_, hub) = get(&client, &format!("{b}/api/hub")).await;
    assert_eq!(hub["entities_by_type"]["TrafficSignal"], 16);
    assert!(hub["requests_total"].as_u64().unwrap() > 5);
    assert!(hub["publish_ms"].as_f64().unwrap() > 0.0);

    let page = client.get(format!("{b}/")).send().await.unwrap();
    assert!(page.status() == 200 || page.status() == 404, "the assets route answers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_subscriber_is_notified_of_traffic_signals() {
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = receiver.local_addr().unwrap().port();
    let demo = start("200");
    let client = crate::http_client();
    let sub = json!({"type": "Subscription", "entities": [{"type": "TrafficSignal"}],
                     "notification": {"endpoint": {"uri": format!("http://127.0.0.1:{port}/notify"),
                                                   "accept": "application/json"}}});
    let r = client
        .post(format!("{}/ngsi-ld/v1/subscriptions", demo.base))
        .header("Content-Type", "application/json")
        .body(sub.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let got = tokio::time::timeout(Duration::from_secs(30), async {
        let (mut conn, _) = receiver.accept().await.unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "the notification ended early");
            seen.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&seen).contains("urn:ngsi-ld:TrafficSignal:") {
                let _ = conn.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await;
                return String::from_utf8_lossy(&seen).into_owned();
            }
        }
    })
    .await
    .expect("a notification within 30 s");
    assert!(got.starts_with("POST /notify"), "{got}");
    let (_, hub) = get(&client, &format!("{}/api/hub", demo.base)).await;
    assert_eq!(hub["subscriptions"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_stream_delivers_state_events() {
    let demo = start("200");
    let addr = demo.base.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request =
        format!("GET /api/stream HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
    conn.write_all(request.as_bytes()).await.unwrap();
    let text = tokio::time::timeout(Duration::from_secs(30), async {
        let mut seen = Vec::new();
        let mut buf = [0u8; 16384];
        loop {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "the stream ended early");
            seen.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&seen).into_owned();
            if text.matches("event: state").count() >= 4 {
                return text;
            }
        }
    })
    .await
    .expect("four state events within 30 s");
    assert!(text.contains("text/event-stream"), "{}", &text[..text.len().min(300)]);
    let times: Vec<f64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| v["time_s"].as_f64())
        .collect();
    assert!(times.len() >= 3 && times.windows(2).all(|w| w[1] >= w[0]), "{times:?}");
    assert!(times[times.len() - 1] > times[0], "time advances: {times:?}");
    // A viewer that goes away costs nothing: the demo keeps answering.
    drop(conn);
    let (status, _) = get(&crate::http_client(), &format!("{}/api/state", demo.base)).await;
    assert_eq!(status, 200);
}

/// The numbers on screen are the real ones: the demo's brain twin at time T equals
/// `citybrain sim --control adaptive --observe-every 10 --steps T`, its baseline equals
/// `citybrain sim --steps T` (native programs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_computes_what_sim_computes() {
    const T: f64 = 300.0;
    let demo = start("200");
    let client = crate::http_client();
    let history = poll(&client, &format!("{}/api/history", demo.base), |h| {
        h["samples"].as_array().is_some_and(|s| s.iter().any(|s| s["time_s"].as_f64() == Some(T)))
    })
    .await;
    let sample = history["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["time_s"].as_f64() == Some(T))
        .unwrap()
        .clone();
    drop(demo);
    let scenario =
        ["--roadnet", "data/hangzhou_4x4/roadnet.json", "--flow", "data/hangzhou_4x4/flow.json"];
    for (twin, extra) in
        [("brain", &["--control", "adaptive", "--observe-every", "10"][..]), ("baseline", &[][..])]
    {
        let mut args = vec!["sim", "--steps", "300", "--json"];
        args.extend(scenario);
        args.extend(extra);
        let out = citybrain(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let sim: Value = serde_json::from_slice(&out.stdout).unwrap();
        let shown = &sample[twin];
        assert_eq!(shown["finished"], sim["finished"], "{twin}");
        assert_eq!(shown["running"], sim["running"], "{twin}");
        assert_eq!(shown["created"], sim["created"], "{twin}");
        assert_eq!(shown["avg_travel_time_s"], sim["avg_travel_time"], "{twin}");
    }
}

fn demo_fails(args: &[&str]) -> String {
    let mut all = vec!["demo"];
    all.extend(args);
    let out = citybrain(&all);
    assert_eq!(out.status.code(), Some(2), "{all:?}: {}", stderr(&out));
    stderr(&out)
}

#[test]
fn bad_input_exits_with_2_and_says_what_is_wrong() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let err = demo_fails(&["--listen", &listen]);
    assert!(err.contains("cannot listen on") && err.contains(&listen), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let err = demo_fails(&["--listen", "127.0.0.1:0", "--data", file.to_str().unwrap()]);
    assert!(err.contains("cannot open the data directory"), "{err}");

    let empty = tempfile::tempdir().unwrap();
    let err =
        demo_fails(&["--listen", "127.0.0.1:0", "--scenario", empty.path().to_str().unwrap()]);
    assert!(err.contains("roadnet.json"), "{err}");

    let err = demo_fails(&["--listen", "127.0.0.1:0", "--speed", "0"]);
    assert!(err.contains("--speed"), "{err}");
}
