//! `citybrain bench hub`: starts the hub on a temporary directory and measures it through
//! real HTTP on loopback: batch upsert throughput, single creates, retrieve-by-id latency,
//! query (`type` + `q`, limit 100) and geo-query latency at the loaded size, notification
//! latency from update to receiver, and resident memory per stored entity.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use citybrain_server::AppState;
use serde_json::json;
use tokio::sync::mpsc;

use crate::UsageError;
use crate::serve::open_broker;

/// Arguments of `bench hub`.
#[derive(clap::Args)]
pub(crate) struct BenchHubArgs {
    /// Entities to load (TrafficFlowObserved-sized).
    #[arg(long, default_value_t = 100_000)]
    entities: usize,
    /// Concurrent HTTP connections.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// A TrafficFlowObserved entity like the twin publishes (FIWARE Smart Data Models names).
/// The id of the `i`-th bench entity.
fn traffic_flow_id(i: usize) -> String {
    format!("urn:ngsi-ld:TrafficFlowObserved:road{:06}:lane{}", i / 4, i % 4)
}

/// The `i`-th bench entity as JSON text: a TrafficFlowObserved with ten attributes. Written
/// out directly rather than built as a `serde_json::Value`, so the load generator, which
/// shares the two cores with the hub, spends as little as it can.
pub(crate) fn traffic_flow(i: usize) -> String {
    let lon = 120.0 + (i % 1000) as f64 * 0.001;
    let lat = 30.0 + (i / 1000) as f64 * 0.001;
    let (id, road) = (traffic_flow_id(i), i / 4);
    let (intensity, occupancy) = ((i * 7) % 1200, ((i * 13) % 100) as f64 / 100.0);
    let (speed, congested, lane) = (((i * 3) % 90) as f64 + 0.5, i.is_multiple_of(5), i % 4);
    format!(
        concat!(
            r#"{{"id":"{id}","type":"TrafficFlowObserved","#,
            r#""dateObserved":{{"type":"Property","value":"2024-05-01T08:00:00Z"}},"#,
            r#""intensity":{{"type":"Property","value":{intensity},"observedAt":"2024-05-01T08:00:00Z","unitCode":"E50"}},"#,
            r#""occupancy":{{"type":"Property","value":{occupancy:?},"observedAt":"2024-05-01T08:00:00Z"}},"#,
            r#""averageVehicleSpeed":{{"type":"Property","value":{speed:?},"unitCode":"KMH"}},"#,
            r#""congested":{{"type":"Property","value":{congested}}},"#,
            r#""laneId":{{"type":"Property","value":{lane}}},"#,
            r#""laneDirection":{{"type":"Property","value":"forward"}},"#,
            r#""refRoadSegment":{{"type":"Relationship","object":"urn:ngsi-ld:RoadSegment:{road}"}},"#,
            r#""location":{{"type":"GeoProperty","value":{{"type":"Point","coordinates":[{lon:?},{lat:?}]}}}}}}"#
        ),
        id = id,
        intensity = intensity,
        occupancy = occupancy,
        speed = speed,
        congested = congested,
        lane = lane,
        road = road,
        lon = lon,
        lat = lat,
    )
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map_or(0, |pages| pages * 4096)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

struct Latencies {
    ms: Vec<f64>,
    elapsed: Duration,
}

impl Latencies {
    fn sorted(mut self) -> Latencies {
        self.ms.sort_by(f64::total_cmp);
        self
    }
    fn p(&self, q: f64) -> f64 {
        percentile(&self.ms, q)
    }
    fn per_s(&self) -> f64 {
        self.ms.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `total` requests built by `make` over `concurrency` connections; measures each.
async fn drive<F>(
    client: &reqwest::Client,
    concurrency: usize,
    total: usize,
    make: F,
) -> anyhow::Result<Latencies>
where
    F: Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, make, next) = (client.clone(), make.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut ms = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, anyhow::Error>(ms);
                }
                let t = Instant::now();
                let resp = make(&client, i).send().await?;
                let status = resp.status();
                let _ = resp.bytes().await?;
                anyhow::ensure!(status.is_success(), "request {i} failed with {status}");
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }));
    }
    let mut all = Vec::with_capacity(total);
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(Latencies { ms: all, elapsed: start.elapsed() }.sorted())
}

pub(crate) fn run(args: BenchHubArgs) -> anyhow::Result<()> {
    if args.entities < 1000 || args.concurrency == 0 {
        return Err(UsageError(anyhow::anyhow!(
            "--entities must be at least 1000 and --concurrency at least 1"
        ))
        .into());
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(bench(args))
}

async fn bench(args: BenchHubArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating a temporary data directory")?;
    let broker = open_broker(dir.path())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let state = AppState::new(broker.clone()).context("setting up outbound HTTPS")?;
    tokio::spawn(citybrain_server::run(listener, state, async move {
        let _ = stop_rx.await;
    }));
    let base = format!("http://{addr}/ngsi-ld/v1");
    let client = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency * 2).build()?;
    let n = args.entities;
    let c = args.concurrency;
    let say = |msg: &str| {
        if !args.json {
            eprintln!("{msg}");
        }
    };

    // 1. Batch upsert of all entities, 500 per request.
    // mimalloc returns freed memory to the system after a delay (1 s); let each reading
    // settle so that it counts what is kept, not the garbage of the last requests.
    let settle = || tokio::time::sleep(std::time::Duration::from_millis(1500));
    settle().await;
    let rss_before = rss_bytes();
    say(&format!("loading {n} entities by batch upsert…"));
    let batch = 500;
    let batches = n.div_ceil(batch);
    let url = format!("{base}/entityOperations/upsert");
    let t = Instant::now();
    drive(&client, c.min(8), batches, move |cl, b| {
        let items: Vec<String> = (b * batch..((b + 1) * batch).min(n)).map(traffic_flow).collect();
        cl.post(&url)
            .header("Content-Type", "application/json")
            .body(format!("[{}]", items.join(",")))
    })
    .await?;
    let batch_upsert_per_s = n as f64 / t.elapsed().as_secs_f64();
    let (stored, _) = broker.stats("").map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(stored == n, "expected {n} stored entities, found {stored}");
    settle().await;
    let rss_bytes_per_entity = rss_bytes().saturating_sub(rss_before) as f64 / n as f64;

    // 2. Single creates.
    let creates = (n / 5).clamp(2000, 20_000);
    say(&format!("{creates} single creates over {c} connections…"));
    let url = format!("{base}/entities");
    let create = drive(&client, c, creates, move |cl, i| {
        cl.post(&url).header("Content-Type", "application/json").body(traffic_flow(10_000_000 + i))
    })
    .await?;

    // 3. Retrieve by id.
    let retrieves = 30_000;
    say(&format!("{retrieves} retrieves by id…"));
    let b2 = base.clone();
    let retrieve = drive(&client, c, retrieves, move |cl, i| {
        let id = traffic_flow_id((i * 7919) % n);
        cl.get(format!("{b2}/entities/{id}"))
    })
    .await?;

    // 4. Query type + q, limit 100.
    say("query (type + q, limit 100)…");
    let b3 = base.clone();
    let query = drive(&client, c.min(8), 400, move |cl, i| {
        cl.get(format!(
            "{b3}/entities?type=TrafficFlowObserved&q=intensity%3E{}%3Bcongested==false&limit=100",
            100 + (i % 10) * 50
        ))
    })
    .await?;

    // 5. Geo-query near.
    say("geo-query near…");
    let b4 = base.clone();
    let geo = drive(&client, c.min(8), 400, move |cl, i| {
        let lon = 120.0 + (i % 100) as f64 * 0.01;
        cl.get(format!("{b4}/entities?type=TrafficFlowObserved&georel=near;maxDistance==300&geometry=Point&coordinates=[{lon},30.01]&limit=100"))
    })
    .await?;

    // 6. Notification latency.
    say("notification latency…");
    let notify = notification_latency(&client, &base).await?;

    let _ = stop_tx.send(());
    let report = json!({
        "entities": n,
        "concurrency": c,
        "batch_upsert_per_s": batch_upsert_per_s.round(),
        "create_per_s": create.per_s().round(),
        "create_p99_ms": create.p(0.99),
        "retrieve_per_s": retrieve.per_s().round(),
        "retrieve_p50_ms": retrieve.p(0.5),
        "retrieve_p99_ms": retrieve.p(0.99),
        "query_p50_ms": query.p(0.5),
        "query_p99_ms": query.p(0.99),
        "geo_p50_ms": geo.p(0.5),
        "geo_p99_ms": geo.p(0.99),
        "notify_p50_ms": notify.p(0.5),
        "notify_p99_ms": notify.p(0.99),
        "rss_bytes_per_entity": rss_bytes_per_entity.round(),
    });
    if args.json {
        println!("{report}");
    } else {
        println!("citybrain bench hub — {n} entities, {c} connections, loopback HTTP");
        println!("{:<34} {:>12}", "measure", "value");
        for (k, v) in report.as_object().into_iter().flatten() {
            let text = v.as_f64().map_or_else(
                || v.to_string(),
                |f| if f.fract() == 0.0 { format!("{f:.0}") } else { format!("{f:.2}") },
            );
            println!("{k:<34} {text:>12}");
        }
    }
    Ok(())
}

/// Subscribes a local receiver and measures update → notification arrival.
async fn notification_latency(client: &reqwest::Client, base: &str) -> anyhow::Result<Latencies> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Instant>();
    let app = axum::Router::new().route(
        "/notify",
        axum::routing::post(move || {
            let tx = tx.clone();
            async move {
                let _ = tx.send(Instant::now());
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    let sub = json!({"type": "Subscription", "entities": [{"type": "BenchSensor"}], "watchedAttributes": ["level"],
        "notification": {"endpoint": {"uri": format!("http://{addr}/notify"), "accept": "application/json"}}});
    let r = client
        .post(format!("{base}/subscriptions"))
        .header("Content-Type", "application/json")
        .body(sub.to_string())
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "subscription failed: {}", r.status());
    let id = "urn:ngsi-ld:BenchSensor:1";
    let r = client
        .post(format!("{base}/entities"))
        .header("Content-Type", "application/json")
        .body(json!({"id": id, "type": "BenchSensor", "level": 0}).to_string())
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "entity failed: {}", r.status());
    let _ = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await;
    let mut ms = Vec::new();
    let start = Instant::now();
    for i in 0..300 {
        let sent = Instant::now();
        let r = client
            .patch(format!("{base}/entities/{id}/attrs"))
            .header("Content-Type", "application/json")
            .body(json!({"level": i + 1}).to_string())
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "update failed: {}", r.status());
        let arrived = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .context("no notification within 5 s")?
            .context("receiver stopped")?;
        ms.push(arrived.saturating_duration_since(sent).as_secs_f64() * 1000.0);
    }
    Ok(Latencies { ms, elapsed: start.elapsed() }.sorted())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_entities_are_valid_traffic_flow_json() {
        for i in [0, 7, 4_001, 10_000_123] {
            let e: serde_json::Value = serde_json::from_str(&traffic_flow(i)).expect("valid JSON");
            assert_eq!(e["id"], traffic_flow_id(i));
            assert_eq!(e["type"], "TrafficFlowObserved");
            assert_eq!(
                e.as_object().map(|o| o.len()),
                Some(11),
                "id, type and nine attributes: {e}"
            );
            assert_eq!(e["intensity"]["value"], json!((i * 7) % 1200));
            assert!(e["occupancy"]["value"].is_f64() && e["averageVehicleSpeed"]["value"].is_f64());
            let coordinates = &e["location"]["value"]["coordinates"];
            assert!(coordinates[0].as_f64().is_some_and(|lon| (120.0..121.0).contains(&lon)));
        }
    }
}
