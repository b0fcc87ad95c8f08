//! The `citybrain` command: a thin layer that parses arguments and calls the libraries.
//!
//! Each subcommand lives in its own module. Errors the user can fix (bad files, bad
//! parameters) are wrapped in [`UsageError`] and exit with code 2, like clap's own argument
//! errors; anything else is an internal fault and exits with code 1.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench_control;
mod bench_demo;
mod bench_hub;
mod bench_incidents;
mod brain_cli;
mod control;
mod control_run;
mod demo;
mod generate;
mod serve;
mod sim;

/// mimalloc: the hub allocates many small short-lived objects per request; glibc malloc
/// spent a quarter of the CPU time of a create-heavy load in `_int_malloc`/consolidation.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns transparent huge pages off for this process. mimalloc asks the kernel for huge
/// pages on its arenas; the hub keeps ~100,000s of small entities in them, and a 2 MB page
/// that is partly used is resident in full: with huge pages the hub held 1,615 B per stored
/// entity, without 1,319 B (100,000 TrafficFlowObserved). Databases that keep many small
/// objects in memory (Redis, MongoDB) advise the same.
fn keep_memory_in_small_pages() {
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        tracing::debug!("could not turn transparent huge pages off: {e}");
    }
}

/// Citybrain: an open City Brain — traffic twin, city data hub and cockpit in one binary.
#[derive(Parser)]
#[command(version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the live city: the hub, the Hangzhou twin steered by the adaptive brain, a fixed-time
    /// twin for comparison, and the cockpit at http://127.0.0.1:8080/.
    Demo(demo::DemoArgs),
    /// Simulate a CityFlow scenario (roadnet + flow, or a config.json) and report its metrics.
    Sim(sim::SimArgs),
    /// Generate synthetic scenarios in CityFlow's format.
    #[command(subcommand)]
    Gen(generate::GenCommand),
    /// Run the city data hub: the NGSI-LD API over durable embedded storage.
    Serve(serve::ServeArgs),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Every signal controller on every scenario: Markdown tables, a CSV and an SVG chart.
    Control(bench_control::BenchControlArgs),
    /// Random blocked lanes: how many the brain reports within a minute; false alarms.
    Incidents(bench_incidents::BenchIncidentsArgs),
    /// Measure the data hub through real HTTP on a temporary store.
    Hub(bench_hub::BenchHubArgs),
    /// Run the demo and measure start-up, page load, CPU, memory and live-stream lag.
    Demo(bench_demo::BenchDemoArgs),
}

/// An error caused by the user's input; the process exits with code 2.
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) anyhow::Error);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    keep_memory_in_small_pages();
    // Before any HTTP client is built: the hub's and the CLI's clients speak HTTPS through it.
    citybrain_server::install_tls_provider();
    let result: anyhow::Result<()> = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Sim(args) => sim::run(args),
        Command::Gen(cmd) => generate::run(cmd),
        Command::Serve(args) => serve::serve(args),
        Command::Bench(BenchCommand::Control(args)) => bench_control::bench(&args),
        Command::Bench(BenchCommand::Incidents(args)) => bench_incidents::bench(&args),
        Command::Bench(BenchCommand::Hub(args)) => bench_hub::run(args),
        Command::Bench(BenchCommand::Demo(args)) => bench_demo::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
