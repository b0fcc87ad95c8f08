//! `citybrain serve`: the city data hub (NGSI-LD API) over the embedded durable store.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use citybrain_broker::Broker;
use citybrain_server::{AppState, OutboundTls, run};
use citybrain_store::SqliteStore;

use crate::UsageError;

/// Arguments of `serve`.
#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory of the durable store (created if missing).
    #[arg(long, default_value = "./citybrain-data")]
    data: PathBuf,
    /// PEM file of an extra CA to trust (with the system's) for HTTPS notification endpoints
    /// and @context URLs, e.g. the city's internal CA.
    #[arg(long, value_name = "PEM")]
    ca_cert: Option<PathBuf>,
}

/// The trust of the hub's outbound HTTPS: the system's CA roots, plus `ca_cert` when given.
/// An unreadable or invalid file is a usage error naming it.
pub(crate) fn outbound_tls(ca_cert: Option<&std::path::Path>) -> anyhow::Result<OutboundTls> {
    match ca_cert {
        None => Ok(OutboundTls::system()),
        Some(path) => OutboundTls::with_ca_file(path).map_err(|e| UsageError(e.into()).into()),
    }
}

/// Opens the store and broker in `dir`.
pub(crate) fn open_broker(dir: &std::path::Path) -> anyhow::Result<Broker> {
    let store = SqliteStore::open(dir).map_err(|e| {
        UsageError(anyhow::anyhow!("cannot open the data directory {}: {e}", dir.display()))
    })?;
    Broker::open(Arc::new(store)).map_err(|e| anyhow::anyhow!("cannot load the hub's state: {e}"))
}

pub(crate) fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let tls = outbound_tls(args.ca_cert.as_deref())?;
        let broker = open_broker(&args.data)?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| UsageError(anyhow::anyhow!("cannot listen on {}: {e}", args.listen)))?;
        let (n, _) = broker.stats("").unwrap_or((0, 0));
        eprintln!(
            "citybrain hub: NGSI-LD API on http://{}/ngsi-ld/v1 (data in {}, {n} entities)",
            args.listen,
            args.data.display()
        );
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let state = AppState::with_tls(broker, &tls).context("setting up outbound HTTPS")?;
        run(listener, state, shutdown).await.context("serving HTTP")
    })
}
