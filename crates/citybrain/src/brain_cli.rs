//! The traffic brain on `citybrain sim`: `--control fixed|max-pressure|sotl|adaptive` and the
//! flags that go with it (timings, emergency preemption, incidents, alerts, decisions).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use citybrain_signal::{BrainConfig, ControlConfig, ControllerKind, Decision, PreemptParams};
use citybrain_sim::Engine;
use clap::Args;
use serde_json::{Value, json};

use crate::UsageError;
use crate::control_run::{
    IncidentSpec, block_lanes, emergency_free_flow_travel_time, split_travel_times,
};
use citybrain_live::{BrainDriver, add_transition_phases};

/// Flags of the signal controllers.
#[derive(Args, Debug)]
pub(crate) struct BrainArgs {
    /// Fixed-time control: green per phase, seconds.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    green: f64,
    /// Transition (the right-turns-only phase) shown on every change of green, seconds
    /// [default: 0; 5 for adaptive, which never uses less].
    #[arg(long, value_name = "SECONDS")]
    yellow: Option<f64>,
    /// Max-pressure: seconds between decisions.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    action_interval: f64,
    /// Give emergency vehicles a green wave (with safe transitions).
    #[arg(long)]
    emergency_preemption: bool,
    /// Block a lane: ROAD:LANE:START:DURATION[:POSITION_M] (lane index within the road, seconds,
    /// metres from the lane's start; the middle by default). Repeatable.
    #[arg(long = "incident", value_name = "ROAD:LANE:START:DURATION")]
    pub(crate) incidents: Vec<IncidentSpec>,
    /// Write incident and congestion alerts as JSON lines.
    #[arg(long, value_name = "PATH")]
    alerts: Option<PathBuf>,
    /// Refresh the brain's lane observations only every N seconds (it decides on the last ones
    /// in between), as in `citybrain demo`, where they arrive through the hub every 10 s.
    #[arg(long, default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    observe_every: u64,
    /// Write every signal decision with its inputs and rule as CSV.
    #[arg(long, value_name = "PATH")]
    decisions_csv: Option<PathBuf>,
}

/// Whether `name` is one of the brain's controllers.
pub(crate) fn is_brain(name: &str) -> bool {
    name.parse::<ControllerKind>().is_ok()
}

/// The roadnet the twin should load: with a transition phase added where a brain controller
/// needs one.
pub(crate) fn prepare_roadnet(
    control: &str,
    roadnet: String,
    label: &str,
) -> anyhow::Result<String> {
    if !is_brain(control) {
        return Ok(roadnet);
    }
    let mut doc: Value = serde_json::from_str(&roadnet)
        .map_err(|e| UsageError(anyhow!("{label}: not JSON: {e}")))?;
    add_transition_phases(&mut doc);
    Ok(doc.to_string())
}

/// Blocks the incident lanes and builds the brain for `control` (None for the twin's own
/// controllers, which accept none of the brain's flags).
pub(crate) fn setup(
    args: &BrainArgs,
    control: &str,
    engine: &mut Engine,
) -> anyhow::Result<Option<BrainDriver>> {
    block_lanes(engine, &args.incidents)?;
    let Ok(kind) = control.parse::<ControllerKind>() else {
        if args.emergency_preemption
            || args.alerts.is_some()
            || args.decisions_csv.is_some()
            || args.observe_every != 1
        {
            return Err(UsageError(anyhow!(
                "--emergency-preemption, --alerts, --decisions-csv and --observe-every need a \
                 brain controller: --control fixed, max-pressure, sotl or adaptive"
            ))
            .into());
        }
        return Ok(None);
    };
    let mut control = ControlConfig::new(kind);
    control.green_s = args.green;
    control.action_interval_s = args.action_interval;
    if let Some(y) = args.yellow {
        control.yellow_s = y;
    }
    let mut config = BrainConfig::new(control);
    config.preemption = args.emergency_preemption.then(PreemptParams::default);
    let mut driver = BrainDriver::new(engine, config, args.decisions_csv.is_some())
        .map_err(|e| UsageError(e.into()))?;
    driver.set_observe_every(args.observe_every);
    Ok(Some(driver))
}

/// Writes the alert and decision files and returns the brain's part of the report.
pub(crate) fn finish(
    args: &BrainArgs,
    driver: Option<BrainDriver>,
    engine: &Engine,
) -> anyhow::Result<Value> {
    let (count, ev_avg, others) = split_travel_times(engine);
    let mut report = json!({
        "emergency_count": count,
        "emergency_avg_travel_time": ev_avg,
        "emergency_free_flow_travel_time": emergency_free_flow_travel_time(engine),
        "others_avg_travel_time": others,
    });
    let Some(driver) = driver else { return Ok(report) };
    if let Some(path) = &args.alerts {
        let mut out = Vec::new();
        for a in &driver.alerts {
            serde_json::to_writer(&mut out, a)?;
            out.push(b'\n');
        }
        std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))?;
    }
    if let (Some(path), Some(decisions)) = (&args.decisions_csv, &driver.decisions) {
        write_decisions(path, decisions)?;
    }
    report["alerts"] = serde_json::to_value(&driver.alerts)?;
    report["decisions"] = json!(driver.decisions.as_ref().map_or(0, Vec::len));
    report["control_seconds"] = json!(driver.busy.as_secs_f64());
    Ok(report)
}

fn write_decisions(path: &std::path::Path, decisions: &[(String, Decision)]) -> anyhow::Result<()> {
    let file = std::fs::File::create(path)
        .map_err(|e| UsageError(anyhow!("cannot create {}: {e}", path.display())))?;
    let mut w = std::io::BufWriter::new(file);
    writeln!(w, "{}", Decision::CSV_HEADER)?;
    for (name, d) in decisions {
        writeln!(w, "{}", d.csv_row(name))?;
    }
    w.flush().with_context(|| format!("writing {}", path.display()))
}

/// Prints the brain's part of the report under the twin's summary.
pub(crate) fn print_summary(report: &Value) {
    if let Some(n) = report["emergency_count"].as_u64().filter(|n| *n > 0) {
        println!(
            "emergency  {n} vehicles, average travel {:.2} s (others {:.2} s)",
            report["emergency_avg_travel_time"].as_f64().unwrap_or(0.0),
            report["others_avg_travel_time"].as_f64().unwrap_or(0.0)
        );
    }
    if let Some(alerts) = report["alerts"].as_array() {
        let incidents = alerts.iter().filter(|a| a["kind"] == "incident").count();
        println!(
            "alerts     {incidents} incident, {} congestion; brain {:.3} s, {} decisions kept",
            alerts.len() - incidents,
            report["control_seconds"].as_f64().unwrap_or(0.0),
            report["decisions"]
        );
    }
}
