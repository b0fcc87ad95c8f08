//! Start the real binary on a temporary directory, write concurrently, `kill -9` it in the
//! middle of the load, restart it, and check that every acknowledged write is there.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start(dir: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_citybrain"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data", dir.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the citybrain binary starts")
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if client.get(format!("{base}/types")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not come up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}/ngsi-ld/v1");
    let client = crate::http_client();
    let mut child = start(dir.path(), port);
    wait_ready(&client, &base).await;

    // Writers: creates, then updates of the created entity's counter; every 2xx is recorded.
    let acked: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..16 {
        let (client, base, acked) = (client.clone(), base.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let id = format!("urn:ngsi-ld:Counter:{w}-{i}");
                let body = json!({"id": id, "type": "Counter", "n": 0});
                let Ok(r) = client
                    .post(format!("{base}/entities"))
                    .header("Content-Type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await
                else {
                    return;
                };
                if !r.status().is_success() {
                    return;
                }
                acked.lock().unwrap().push((id.clone(), 0));
                let patch = json!({"n": 1});
                let Ok(r) = client
                    .patch(format!("{base}/entities/{id}/attrs"))
                    .header("Content-Type", "application/json")
                    .body(patch.to_string())
                    .send()
                    .await
                else {
                    return;
                };
                if r.status().is_success() {
                    acked.lock().unwrap().push((id, 1));
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().unwrap(); // SIGKILL on Unix: no shutdown hook runs.
    child.wait().unwrap();
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 100, "the load ran ({} acknowledged writes)", acked.len());

    let mut child = start(dir.path(), port);
    wait_ready(&client, &base).await;
    let mut latest = std::collections::HashMap::new();
    for (id, n) in &acked {
        let e = latest.entry(id.clone()).or_insert(*n);
        *e = (*e).max(*n);
    }
    for (id, n) in &latest {
        let r = client.get(format!("{base}/entities/{id}?options=keyValues")).send().await.unwrap();
        assert_eq!(r.status(), 200, "acknowledged entity {id} is lost");
        let body: Value = r.json().await.unwrap();
        assert!(body["n"].as_i64().unwrap() >= *n, "acknowledged update of {id} is lost: {body}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
