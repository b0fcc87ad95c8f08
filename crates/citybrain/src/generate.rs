//! `citybrain gen`: writes synthetic scenarios in CityFlow's format.

use std::path::PathBuf;

use anyhow::Context;
use citybrain_sim::generate::{self, GridSpec};
use clap::{Args, Subcommand};

use crate::UsageError;

/// What to generate.
#[derive(Subcommand)]
pub(crate) enum GenCommand {
    /// A grid of signalised intersections with boundary entries and random origin-destination
    /// flows; writes roadnet.json, flow.json and config.json into --out.
    Grid(GridArgs),
}

/// `gen grid` options.
#[derive(Args)]
pub(crate) struct GridArgs {
    /// Rows of intersections.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=300))]
    rows: u32,
    /// Columns of intersections.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=300))]
    cols: u32,
    /// Lanes per road direction.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=8))]
    lanes: u32,
    /// Distance between neighbouring intersections, metres (≥ 50).
    #[arg(long, default_value_t = 300.0)]
    road_length: f64,
    /// Vehicles created over the hour [default: 120 per intersection].
    #[arg(long)]
    vehicles_per_hour: Option<u64>,
    /// Seed of the origin-destination choice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Folder to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub(crate) fn run(cmd: GenCommand) -> anyhow::Result<()> {
    match cmd {
        GenCommand::Grid(a) => grid(a),
    }
}

fn grid(a: GridArgs) -> anyhow::Result<()> {
    if !(a.road_length.is_finite() && a.road_length >= 50.0) {
        return Err(UsageError(anyhow::anyhow!(
            "--road-length {} is too short; expected at least 50 metres",
            a.road_length
        ))
        .into());
    }
    let spec = GridSpec {
        rows: a.rows as usize,
        cols: a.cols as usize,
        lanes: a.lanes as usize,
        road_length_m: a.road_length,
        vehicles_per_hour: a.vehicles_per_hour.unwrap_or(u64::from(a.rows * a.cols) * 120),
        seed: a.seed,
    };
    let (roadnet, flow) = generate::grid(&spec);
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let dir = format!("{}/", a.out.display());
    let config = serde_json::json!({
        "interval": 1.0, "seed": spec.seed, "dir": dir, "roadnetFile": "roadnet.json",
        "flowFile": "flow.json", "rlTrafficLight": false, "laneChange": false, "saveReplay": false,
    });
    for (name, doc) in [("roadnet.json", &roadnet), ("flow.json", &flow), ("config.json", &config)]
    {
        let path = a.out.join(name);
        let text = serde_json::to_string(doc).context("serialising the scenario")?;
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let flows = flow.as_array().map_or(0, Vec::len);
    println!(
        "wrote a {}×{} grid ({} lanes per direction, {} m roads) with {} flows for {} vehicles/hour to {}",
        spec.rows,
        spec.cols,
        spec.lanes,
        spec.road_length_m,
        flows,
        spec.vehicles_per_hour,
        a.out.display()
    );
    Ok(())
}
