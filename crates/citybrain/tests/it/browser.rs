//! The cockpit in a real browser: `citybrain demo` on a free port, driven through headless
//! Chromium with WebDriver. Checks what a resident or an operator would: the map shows every
//! signalised intersection, the figures move, selecting an intersection (mouse or keyboard)
//! explains the brain's choice, and the page fits a phone. Saves screenshots under `target/`
//! (and `docs/cockpit.png` with `CITYBRAIN_DOCS_SCREENSHOT=1`).
//!
//! Chromium and chromedriver come from Debian's `chromium` and `chromium-driver`; when they are
//! missing the test installs them with apt-get (as `.ci/run` does), or fails saying how to.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use crate::repo;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Kills the child when dropped, so a failed assertion leaves no process behind.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn on_path(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Makes sure `chromedriver` and a Chromium are installed, installing Debian's packages if not.
fn ensure_chromium() {
    if on_path("chromedriver") && (on_path("chromium") || on_path("chromium-browser")) {
        return;
    }
    let sudo = if on_path("id")
        && String::from_utf8_lossy(&Command::new("id").arg("-u").output().unwrap().stdout).trim()
            == "0"
    {
        ""
    } else {
        "sudo -n "
    };
    let script = format!(
        "{sudo}apt-get update -q && DEBIAN_FRONTEND=noninteractive {sudo}apt-get install -y -q chromium chromium-driver"
    );
    let ok = Command::new("sh").args(["-c", &script]).status().is_ok_and(|s| s.success());
    assert!(
        ok && on_path("chromedriver"),
        "the browser test needs Chromium and chromedriver; installing them failed: \
         run `apt-get install chromium chromium-driver` (Debian/Ubuntu) and retry"
    );
}

fn chromium_binary() -> &'static str {
    if on_path("chromium") { "chromium" } else { "chromium-browser" }
}

async fn wait_for_json(client: &reqwest::Client, url: &str, deadline: Duration) -> Value {
    let start = Instant::now();
    loop {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return r.json().await.unwrap();
        }
        assert!(start.elapsed() < deadline, "{url} did not answer within {deadline:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Evaluates a JavaScript expression in the page.
async fn js(browser: &Client, expression: &str) -> Value {
    browser.execute(&format!("return {expression};"), vec![]).await.unwrap()
}

/// Polls `expression` until `accept` holds (or fails after `deadline` with `what`).
async fn wait_until(
    browser: &Client,
    expression: &str,
    deadline: Duration,
    what: &str,
    accept: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let v = js(browser, expression).await;
        if accept(&v) {
            return v;
        }
        assert!(start.elapsed() < deadline, "{what}: last value {v}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

async fn save_screenshot(browser: &Client, name: &str) -> PathBuf {
    let png = browser.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
    let path = repo().join("target").join(name);
    std::fs::write(&path, &png).unwrap();
    if name == "cockpit-1280.png" && std::env::var_os("CITYBRAIN_DOCS_SCREENSHOT").is_some() {
        std::fs::write(repo().join("docs/cockpit.png"), &png).unwrap();
    }
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cockpit_in_headless_chromium() {
    ensure_chromium();
    // The demo at 60× real time, so the figures visibly move within seconds.
    let demo = crate::demo::start("60");
    let base = demo.base.clone();
    let http = crate::http_client();
    let network =
        wait_for_json(&http, &format!("{base}/api/network"), Duration::from_secs(30)).await;
    let signals: Vec<String> = network["intersections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["signalised"] == json!(true))
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(signals.len(), 16, "the bundled Hangzhou scenario has 16 signals");

    let driver_port = free_port();
    let _driver = Killed(
        Command::new("chromedriver")
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": Command::new("sh").args(["-c", &format!("command -v {}", chromium_binary())]).output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap(),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800"]
        }),
    );
    let browser = {
        let start = Instant::now();
        loop {
            let attempt = ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{driver_port}"))
                .await;
            match attempt {
                Ok(client) => break client,
                Err(err) if start.elapsed() < Duration::from_secs(30) => {
                    let _ = err;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(err) => panic!("chromedriver did not start a session: {err}"),
            }
        }
    };

    let result = drive(&browser, &base, &signals).await;
    browser.close().await.unwrap();
    result
}

async fn drive(browser: &Client, base: &str, signals: &[String]) {
    browser.goto(&format!("{base}/")).await.unwrap();
    wait_until(
        browser,
        "document.body.dataset.ready",
        Duration::from_secs(20),
        "the cockpit became ready",
        |v| v == &json!("1"),
    )
    .await;

    // The map shows every signalised intersection, each with its id.
    let drawn = js(
        browser,
        "[...document.querySelectorAll('#map .intersection')].map(e => e.dataset.id).sort()",
    )
    .await;
    let mut expected = signals.to_vec();
    expected.sort();
    assert_eq!(drawn, json!(expected), "one map symbol per signalised intersection");
    let roads = js(browser, "document.querySelectorAll('#map .road').length").await;
    assert_eq!(roads, json!(80), "every road is drawn");

    // The figures move: the clock and the average travel time change as the twin runs.
    let first_clock = js(browser, "document.getElementById('clock').textContent").await;
    let first_kpi = js(browser, "document.getElementById('kpi-brain-running').textContent").await;
    wait_until(
        browser,
        "[document.getElementById('clock').textContent, document.getElementById('kpi-brain-running').textContent]",
        Duration::from_secs(20),
        "clock and vehicle count change",
        |v| v[0] != first_clock && v[1] != first_kpi,
    )
    .await;

    // Clicking an intersection explains the brain's choice.
    let clicked = &signals[5];
    browser
        .find(Locator::Css(&format!("#map .intersection[data-id='{clicked}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let detail = wait_until(
        browser,
        "[document.querySelector('#detail h2')?.textContent, document.querySelector('#detail .reason')?.textContent]",
        Duration::from_secs(20),
        "the detail panel names the intersection and explains its signal",
        |v| v[0] == json!(clicked) && v[1].as_str().is_some_and(|s| s.len() > 10),
    )
    .await;
    assert!(!detail[1].as_str().unwrap().contains("undefined"), "explanation is text: {detail}");
    save_screenshot(browser, "cockpit-1280.png").await;

    // Keyboard: the intersections are focusable buttons; Enter selects.
    let by_key = &signals[10];
    let node = browser
        .find(Locator::Css(&format!("#map .intersection[data-id='{by_key}']")))
        .await
        .unwrap();
    assert_eq!(node.attr("tabindex").await.unwrap().as_deref(), Some("0"));
    browser
        .execute("arguments[0].focus()", vec![serde_json::to_value(&node).unwrap()])
        .await
        .unwrap();
    node.send_keys("\u{e007}").await.unwrap();
    wait_until(
        browser,
        "document.querySelector('#detail h2')?.textContent",
        Duration::from_secs(10),
        "Enter selects",
        |v| v == &json!(by_key),
    )
    .await;

    // A phone-sized viewport: everything fits the width (no sideways scrolling).
    browser.set_window_size(390, 844).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let overflow = js(browser, "document.documentElement.scrollWidth - window.innerWidth").await;
    assert!(overflow.as_f64().unwrap() <= 0.0, "page wider than a phone by {overflow} px");
    save_screenshot(browser, "cockpit-phone.png").await;
}
