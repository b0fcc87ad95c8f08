//! `citybrain bench hub`: measures the hub through real HTTP (filled in below).

/// Arguments of `bench hub`.
#[derive(clap::Args)]
pub(crate) struct BenchHubArgs {
    /// Entities to load.
    #[arg(long, default_value_t = 100_000)]
    entities: usize,
    /// Concurrent HTTP connections.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(_args: BenchHubArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
