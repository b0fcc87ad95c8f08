//! `citybrain demo`: the live city in one process — the data hub (`/ngsi-ld/v1`), the twin of
//! the bundled Hangzhou 4×4 scenario steered by the adaptive brain through the hub, a fixed-time
//! twin of the same demand, and the cockpit (`/`, `/api/...`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, anyhow};
use citybrain_live::{Live, LiveOptions};
use citybrain_server::AppState;
use tokio::net::TcpListener;

use crate::UsageError;

/// The bundled scenario, relative to the working directory or else to the checkout.
const DEFAULT_SCENARIO: &str = "data/hangzhou_4x4";

/// Arguments of `demo`.
#[derive(clap::Args)]
pub(crate) struct DemoArgs {
    /// Address to listen on (port 0: any free port; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory of the hub's durable store [default: a temporary directory, removed on exit].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 10.0)]
    speed: f64,
    /// Scenario directory with roadnet.json and flow.json [default: data/hangzhou_4x4 of this
    /// checkout].
    #[arg(long, value_name = "DIR")]
    scenario: Option<PathBuf>,
    /// PEM file of an extra CA to trust (with the system's) for HTTPS notification endpoints
    /// and @context URLs.
    #[arg(long, value_name = "PEM")]
    ca_cert: Option<PathBuf>,
}

/// The scenario directory: as given, or the bundled one (found from the working directory,
/// else from where this binary was built).
fn scenario_dir(given: Option<&Path>) -> PathBuf {
    if let Some(dir) = given {
        return dir.to_path_buf();
    }
    let here = PathBuf::from(DEFAULT_SCENARIO);
    if here.exists() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(DEFAULT_SCENARIO)
}

fn read_scenario(dir: &Path) -> anyhow::Result<(String, String)> {
    let usage = |msg: String| anyhow!(UsageError(anyhow!(msg)));
    if !dir.is_dir() {
        return Err(usage(format!("scenario directory {} does not exist", dir.display())));
    }
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|e| {
            usage(format!(
                "scenario directory {} has no readable {name} ({}: {e}); expected CityFlow's \
                 roadnet.json and flow.json",
                dir.display(),
                path.display()
            ))
        })
    };
    Ok((read("roadnet.json")?, read("flow.json")?))
}

pub(crate) fn run(args: DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    if !(args.speed.is_finite() && args.speed > 0.0) {
        return Err(UsageError(anyhow!("--speed must be a number > 0, got {}", args.speed)).into());
    }
    let dir = scenario_dir(args.scenario.as_deref());
    let (roadnet, flow) = read_scenario(&dir)?;
    let tls = crate::serve::outbound_tls(args.ca_cert.as_deref())?;
    let scenario_name = dir
        .canonicalize()
        .unwrap_or_else(|_| dir.clone())
        .file_name()
        .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
    let (_temp, data) = match &args.data {
        Some(d) => (None, d.clone()),
        None => {
            let t = tempfile::Builder::new()
                .prefix("citybrain-demo-")
                .tempdir()
                .context("creating a temporary data directory")?;
            let path = t.path().to_path_buf();
            (Some(t), path)
        }
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let handle = runtime.handle().clone();
    runtime.block_on(async move {
        let broker = crate::serve::open_broker(&data)?;
        let listener = TcpListener::bind(args.listen).await.map_err(|e| {
            UsageError(anyhow!(
                "cannot listen on {}: {e} (is another demo or server running? try --listen \
                 127.0.0.1:0 for any free port)",
                args.listen
            ))
        })?;
        let addr = listener.local_addr().context("reading the listening address")?;
        let roadnet_name = dir.join("roadnet.json").display().to_string();
        let flow_name = dir.join("flow.json").display().to_string();
        let opts = LiveOptions {
            speed: args.speed,
            scenario: scenario_name.clone(),
            ..LiveOptions::default()
        };
        let live = Live::start(
            (&roadnet, &roadnet_name),
            (&flow, &flow_name),
            broker.clone(),
            handle,
            opts,
        )
        .map_err(|e| UsageError(e.into()))?;
        let state = AppState::with_tls(broker, &tls)
            .context("setting up outbound HTTPS")?
            .with_live(live.state());
        println!(
            "citybrain demo: cockpit on http://{addr}/ (NGSI-LD API on http://{addr}/ngsi-ld/v1)"
        );
        println!(
            "  scenario {} at {}× real time, hub data in {}{}",
            dir.display(),
            args.speed,
            data.display(),
            if args.data.is_none() { " (temporary)" } else { "" }
        );
        println!("ready in {} ms", started.elapsed().as_millis());
        let live = Arc::new(std::sync::Mutex::new(Some(live)));
        let stopper = live.clone();
        let shutdown = async move {
            let _ = tokio::signal::ctrl_c().await;
            eprintln!("stopping…");
            // Stopping the city ends the live streams, so the server can drain its connections.
            let taken = stopper.lock().ok().and_then(|mut l| l.take());
            if let Some(l) = taken {
                let _ = tokio::task::spawn_blocking(move || l.stop()).await;
            }
        };
        citybrain_server::run(listener, state, shutdown).await.context("serving HTTP")?;
        let taken = live.lock().ok().and_then(|mut l| l.take());
        if let Some(l) = taken {
            l.stop();
        }
        Ok(())
    })
}
