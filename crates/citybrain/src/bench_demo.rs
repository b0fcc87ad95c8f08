//! `citybrain bench demo`: runs `citybrain demo` as a child process and measures what its users
//! feel: time from start to a live API, page load on loopback (the page, its scripts and the
//! three API calls it makes), CPU and resident memory at the chosen speed with and without
//! viewers, and how far behind the simulation the live stream reaches `--viewers` concurrent
//! viewers.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// Arguments of `bench demo`.
#[derive(clap::Args)]
pub(crate) struct BenchDemoArgs {
    /// Seconds to measure in each phase (idle, then with viewers).
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Simulation speed (times real time), as `demo --speed`.
    #[arg(long, default_value_t = 10.0)]
    speed: f64,
    /// Concurrent live-stream viewers.
    #[arg(long, default_value_t = 50)]
    viewers: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// The demo process; killed when dropped.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn unix_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// CPU seconds (user + system) the process has used so far, from /proc.
fn cpu_seconds(pid: u32, ticks_per_s: f64) -> anyhow::Result<f64> {
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).context("reading /proc/PID/stat")?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).context("unexpected /proc/PID/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11).context("utime")?.parse()?;
    let stime: f64 = fields.get(12).context("stime")?.parse()?;
    Ok((utime + stime) / ticks_per_s)
}

fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .context("VmRSS in /proc/PID/status")?;
    Ok(kb * 1024)
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU (cores) and peak RSS of the demo over `seconds`, sampled every second.
async fn watch(pid: u32, seconds: u64, label: &str) -> anyhow::Result<(f64, u64)> {
    let ticks = clock_ticks();
    let bar = indicatif::ProgressBar::new(seconds);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:>24} [{bar:30}] {pos}/{len} s")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(label.to_string());
    let (start_cpu, start) = (cpu_seconds(pid, ticks)?, Instant::now());
    let mut peak = rss_bytes(pid)?;
    for _ in 0..seconds {
        tokio::time::sleep(Duration::from_secs(1)).await;
        peak = peak.max(rss_bytes(pid)?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let cores = (cpu_seconds(pid, ticks)? - start_cpu) / start.elapsed().as_secs_f64();
    Ok((cores, peak))
}

/// One page load as a browser does it: the page, then its assets, then its API calls.
async fn page_load_ms(http: &reqwest::Client, base: &str) -> anyhow::Result<f64> {
    let start = Instant::now();
    let page = http.get(format!("{base}/")).send().await?.error_for_status()?.text().await?;
    if !page.contains("app.js") {
        bail!("the cockpit page does not load app.js");
    }
    let assets = ["style.css", "app.js", "map.js", "chart.js", "panels.js"];
    let fetches = assets.iter().map(|a| async move {
        http.get(format!("{base}/{a}")).send().await?.error_for_status()?.bytes().await
    });
    for r in futures_util::future::join_all(fetches).await {
        r?;
    }
    let apis = ["/api/network", "/api/state", "/api/history"];
    let fetches = apis.iter().map(|a| async move {
        http.get(format!("{base}{a}")).send().await?.error_for_status()?.bytes().await
    });
    for r in futures_util::future::join_all(fetches).await {
        r?;
    }
    Ok(start.elapsed().as_secs_f64() * 1000.0)
}

/// A live-stream viewer: records how long after publication each state event arrived (ms).
async fn viewer(http: reqwest::Client, url: String, lags: Arc<Mutex<Vec<f64>>>, until: Instant) {
    let Ok(mut response) = http.get(&url).send().await else { return };
    let mut buffer = String::new();
    while Instant::now() < until {
        let chunk = match tokio::time::timeout_at(until.into(), response.chunk()).await {
            Ok(Ok(Some(chunk))) => chunk,
            _ => break,
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if !event.lines().any(|l| l == "event: state") {
                continue;
            }
            let data = event.lines().filter_map(|l| l.strip_prefix("data:")).collect::<String>();
            let published = serde_json::from_str::<Value>(data.trim())
                .ok()
                .and_then(|v| v["published_unix_ms"].as_f64());
            if let Some(published) = published {
                lags.lock().await.push(unix_ms() - published);
            }
        }
    }
}

pub(crate) fn run(args: BenchDemoArgs) -> anyhow::Result<()> {
    if args.seconds == 0 || args.viewers == 0 || args.speed.is_nan() || args.speed <= 0.0 {
        return Err(crate::UsageError(anyhow::anyhow!(
            "--seconds, --viewers and --speed must be greater than 0"
        ))
        .into());
    }
    tokio::runtime::Runtime::new()?.block_on(bench(args))
}

async fn bench(args: BenchDemoArgs) -> anyhow::Result<()> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let data = tempfile::tempdir()?;
    let started = Instant::now();
    let demo = Demo(
        Command::new(std::env::current_exe()?)
            .args([
                "demo",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--speed",
                &args.speed.to_string(),
            ])
            .arg("--data")
            .arg(data.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting `citybrain demo`")?,
    );
    let pid = demo.0.id();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let ready_ms = loop {
        if let Ok(r) = http.get(format!("{base}/api/state")).send().await
            && r.status().is_success()
        {
            break started.elapsed().as_secs_f64() * 1000.0;
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("the demo did not answer /api/state within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    let mut loads = Vec::new();
    for _ in 0..20 {
        loads.push(page_load_ms(&http, &base).await?);
    }
    loads.sort_by(f64::total_cmp);

    let (idle_cores, idle_rss) = watch(pid, args.seconds, "no viewers").await?;

    let lags = Arc::new(Mutex::new(Vec::new()));
    let until = Instant::now() + Duration::from_secs(args.seconds);
    let viewers: Vec<_> = (0..args.viewers)
        .map(|_| {
            tokio::spawn(viewer(http.clone(), format!("{base}/api/stream"), lags.clone(), until))
        })
        .collect();
    let (live_cores, live_rss) =
        watch(pid, args.seconds, &format!("{} viewers", args.viewers)).await?;
    for v in viewers {
        let _ = v.await;
    }
    let mut lags = std::mem::take(&mut *lags.lock().await);
    lags.sort_by(f64::total_cmp);
    let expected_events = args.viewers as f64 * args.seconds as f64 * args.speed / 10.0;

    let report = json!({
        "speed": args.speed,
        "ready_ms": ready_ms,
        "page_load_p50_ms": percentile(&loads, 50.0),
        "page_load_max_ms": loads.last().copied().unwrap_or(f64::NAN),
        "cpu_cores_idle": idle_cores,
        "rss_mb_idle": idle_rss as f64 / 1e6,
        "viewers": args.viewers,
        "cpu_cores_with_viewers": live_cores,
        "rss_mb_with_viewers": live_rss as f64 / 1e6,
        "stream_events_received": lags.len(),
        "stream_events_expected": expected_events.round(),
        "stream_lag_p50_ms": percentile(&lags, 50.0),
        "stream_lag_p99_ms": percentile(&lags, 99.0),
        "stream_lag_max_ms": lags.last().copied().unwrap_or(f64::NAN),
    });
    if args.json {
        println!("{report}");
        return Ok(());
    }
    let f = |k: &str| report[k].as_f64().unwrap_or(f64::NAN);
    println!("| figure | value |\n|---|---:|");
    println!("| start to live API, ms | {:.0} |", f("ready_ms"));
    println!(
        "| page load on loopback (page + scripts + API), p50 / max ms | {:.1} / {:.1} |",
        f("page_load_p50_ms"),
        f("page_load_max_ms")
    );
    println!("| CPU at --speed {}, no viewers, cores | {:.3} |", args.speed, f("cpu_cores_idle"));
    println!("| resident memory, no viewers, MB | {:.1} |", f("rss_mb_idle"));
    println!("| CPU with {} viewers, cores | {:.3} |", args.viewers, f("cpu_cores_with_viewers"));
    println!("| resident memory with viewers, MB | {:.1} |", f("rss_mb_with_viewers"));
    println!("| stream events received / expected | {} / {:.0} |", lags.len(), expected_events);
    println!(
        "| stream lag behind the simulation p50 / p99 / max, ms | {:.1} / {:.1} / {:.1} |",
        f("stream_lag_p50_ms"),
        f("stream_lag_p99_ms"),
        f("stream_lag_max_ms")
    );
    Ok(())
}
