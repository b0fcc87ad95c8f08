//! `citybrain sim`: runs a CityFlow scenario and reports CityFlow's metrics.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use citybrain_sim::replay::ReplayWriter;
use citybrain_sim::{Engine, EngineConfig, Metrics, Scenario, import};
use clap::Args;

use crate::{UsageError, control};

/// `sim` options.
#[derive(Args)]
pub(crate) struct SimArgs {
    /// CityFlow road network (roadnet.json).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "config",
        conflicts_with = "config",
        requires = "flow"
    )]
    roadnet: Option<PathBuf>,
    /// CityFlow flows (flow.json).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "config",
        conflicts_with = "config",
        requires = "roadnet"
    )]
    flow: Option<PathBuf>,
    /// CityFlow config.json (interval, seed, dir, roadnetFile, flowFile, rlTrafficLight);
    /// `dir` is taken relative to the working directory, else to the config's folder.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Steps to simulate.
    #[arg(long, default_value_t = 3600)]
    steps: u64,
    /// Step length, seconds [default: 1, or the config's interval].
    #[arg(long)]
    interval: Option<f64>,
    /// Random seed [default: 0, or the config's seed].
    #[arg(long)]
    seed: Option<u64>,
    /// Signal controller (see the list with an unknown name) [default: native, or hold when the
    /// config says rlTrafficLight: true].
    #[arg(long, value_name = "NAME")]
    control: Option<String>,
    /// Worker threads.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    threads: u32,
    /// Print exactly one JSON object with the results on stdout.
    #[arg(long)]
    json: bool,
    /// Write one CSV row per vehicle (creation, lane entry, exit, travel time).
    #[arg(long, value_name = "PATH")]
    vehicles_csv: Option<PathBuf>,
    /// Write vehicle positions and signal phases over time (format: docs/replay.md).
    #[arg(long, value_name = "PATH")]
    replay: Option<PathBuf>,
    /// Steps between replay frames.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    replay_every: u32,
    /// Mark the first vehicle created after every multiple of this many seconds as an
    /// emergency vehicle.
    #[arg(long, value_name = "SECONDS")]
    emergency_every: Option<f64>,
    /// Reproduce CityFlow exactly, including its rare overlaps of vehicles merging into one
    /// lane (by default the engine prevents them).
    #[arg(long)]
    cityflow_exact: bool,
    /// The traffic brain's flags (with --control fixed, max-pressure, sotl or adaptive).
    #[command(flatten)]
    brain: crate::brain_cli::BrainArgs,
}

fn usage(e: impl Into<anyhow::Error>) -> anyhow::Error {
    UsageError(e.into()).into()
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| usage(anyhow::anyhow!("cannot read {}: {e}", path.display())))
}

/// What to run, after the config file (if any) is merged with the flags.
struct Plan {
    roadnet: PathBuf,
    flow: PathBuf,
    interval: f64,
    seed: u64,
    control: String,
}

fn plan(a: &SimArgs) -> anyhow::Result<Plan> {
    let mut p = Plan {
        roadnet: a.roadnet.clone().unwrap_or_default(),
        flow: a.flow.clone().unwrap_or_default(),
        interval: 1.0,
        seed: 0,
        control: "native".into(),
    };
    if let Some(cfg_path) = &a.config {
        let label = cfg_path.display().to_string();
        let cfg = import::parse_config(&read(cfg_path)?, &label).map_err(usage)?;
        let base = cfg_path.parent().unwrap_or(Path::new("."));
        let locate = |f: String| {
            let direct = PathBuf::from(&f);
            if direct.exists() { direct } else { base.join(f) }
        };
        p.roadnet = locate(cfg.roadnet_path());
        p.flow = locate(cfg.flow_path());
        p.interval = cfg.interval_s;
        p.seed = cfg.seed;
        if cfg.rl_traffic_light {
            p.control = "hold".into();
        }
        if cfg.lane_change {
            eprintln!(
                "warning: {label}: laneChange is not modelled; lanes are chosen at route planning"
            );
        }
    }
    if let Some(i) = a.interval {
        p.interval = i;
    }
    if !(p.interval.is_finite() && p.interval > 0.0) {
        return Err(usage(anyhow::anyhow!(
            "interval {} is not allowed; expected a step length > 0 seconds",
            p.interval
        )));
    }
    p.seed = a.seed.unwrap_or(p.seed);
    if let Some(c) = &a.control {
        p.control.clone_from(c);
    }
    Ok(p)
}

pub(crate) fn run(a: SimArgs) -> anyhow::Result<()> {
    let p = plan(&a)?;
    let spec = control::find(&p.control).map_err(usage)?;
    if a.emergency_every.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
        return Err(usage(anyhow::anyhow!("--emergency-every must be a number of seconds > 0")));
    }
    let load_start = Instant::now();
    let (roadnet, flow) = (read(&p.roadnet)?, read(&p.flow)?);
    let roadnet =
        crate::brain_cli::prepare_roadnet(&p.control, roadnet, &p.roadnet.display().to_string())?;
    let scenario = Scenario::from_json(
        &roadnet,
        &p.roadnet.display().to_string(),
        &flow,
        &p.flow.display().to_string(),
    )
    .map_err(usage)?;
    for w in &scenario.demand.warnings {
        eprintln!("warning: {w}");
    }
    let cfg = EngineConfig {
        interval_s: p.interval,
        seed: p.seed,
        control: spec.mode,
        threads: a.threads as usize,
        record_vehicles: a.vehicles_csv.is_some() || a.emergency_every.is_some(),
        emergency_every_s: a.emergency_every,
        cityflow_exact: a.cityflow_exact,
    };
    let mut engine = Engine::new(scenario.network, scenario.demand, cfg).map_err(usage)?;
    let load = load_start.elapsed();
    let mut controller = (spec.build)(&engine);
    let mut brain = crate::brain_cli::setup(&a.brain, &p.control, &mut engine)?;
    let mut replay = match &a.replay {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| usage(anyhow::anyhow!("cannot create {}: {e}", path.display())))?;
            Some(ReplayWriter::new(BufWriter::new(file), &engine, a.replay_every)?)
        }
        None => None,
    };
    let bar = std::io::stderr().is_terminal().then(|| progress_bar(a.steps));
    let mut stepping = Duration::ZERO;
    for i in 0..a.steps {
        if let Some(c) = controller.as_mut() {
            c.before_step(&mut engine);
        }
        if let Some(b) = brain.as_mut() {
            b.before_step(&mut engine)?;
        }
        let t = Instant::now();
        engine.step();
        stepping += t.elapsed();
        if let Some(r) = replay.as_mut()
            && engine.steps() % u64::from(a.replay_every) == 0
        {
            r.frame(&engine).context("writing the replay")?;
        }
        if let Some(b) = &bar
            && (i + 1) % 60 == 0
        {
            b.set_position(i + 1);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Some(r) = replay {
        r.finish().context("writing the replay")?;
    }
    if let Some(path) = &a.vehicles_csv {
        write_vehicles_csv(&engine, path)?;
    }
    let m = engine.metrics();
    let brain = crate::brain_cli::finish(&a.brain, brain, &engine)?;
    if a.json {
        let mut report = json_report(&m, &p, a.threads, load, stepping);
        if let (Some(r), Some(b)) = (report.as_object_mut(), brain.as_object()) {
            r.extend(b.clone());
        }
        println!("{report}");
    } else {
        print_summary(&m, &p, a.threads, load, stepping);
        crate::brain_cli::print_summary(&brain);
    }
    Ok(())
}

fn progress_bar(steps: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(steps);
    let style = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} steps {elapsed}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

fn rate(m: &Metrics, stepping: Duration) -> f64 {
    let s = stepping.as_secs_f64();
    if s > 0.0 { m.vehicle_steps as f64 / s } else { 0.0 }
}

fn json_report(
    m: &Metrics,
    p: &Plan,
    threads: u32,
    load: Duration,
    stepping: Duration,
) -> serde_json::Value {
    serde_json::json!({
        "avg_travel_time": m.avg_travel_time_s,
        "created": m.created,
        "finished": m.finished,
        "running": m.running,
        "waiting": m.waiting,
        "vehicle_steps": m.vehicle_steps,
        "steps": m.steps,
        "time": m.time_s,
        "load_seconds": load.as_secs_f64(),
        "step_seconds": stepping.as_secs_f64(),
        "vehicle_steps_per_second": rate(m, stepping),
        "interval": p.interval,
        "seed": p.seed,
        "control": p.control,
        "threads": threads,
        "roadnet": p.roadnet.display().to_string(),
        "flow": p.flow.display().to_string(),
    })
}

fn print_summary(m: &Metrics, p: &Plan, threads: u32, load: Duration, stepping: Duration) {
    println!("scenario   {} + {}", p.roadnet.display(), p.flow.display());
    println!(
        "simulated  {} steps of {} s ({} s), control {}, seed {}, {} thread(s)",
        m.steps, p.interval, m.time_s, p.control, p.seed, threads
    );
    println!(
        "vehicles   created {}, finished {}, running {}, waiting to enter {}",
        m.created, m.finished, m.running, m.waiting
    );
    println!(
        "travel     average {:.2} s (CityFlow's definition: unfinished vehicles count until now)",
        m.avg_travel_time_s
    );
    println!(
        "speed      load {:.1} ms, stepping {:.3} s, {:.2} M vehicle-steps/s ({} vehicle-steps)",
        load.as_secs_f64() * 1e3,
        stepping.as_secs_f64(),
        rate(m, stepping) / 1e6,
        m.vehicle_steps
    );
}

fn write_vehicles_csv(engine: &Engine, path: &Path) -> anyhow::Result<()> {
    let file = std::fs::File::create(path)
        .map_err(|e| usage(anyhow::anyhow!("cannot create {}: {e}", path.display())))?;
    let mut w = BufWriter::new(file);
    let opt = |x: Option<f64>| x.map(|v| format!("{v:?}")).unwrap_or_default();
    writeln!(w, "vehicle_id,id,flow,created_time,enter_lane_time,exit_time,travel_time,emergency")?;
    for r in engine.vehicle_records() {
        let name = engine.vehicle_name(r.id).unwrap_or_default();
        let travel = r.exited_s.map(|x| x - r.created_s);
        writeln!(
            w,
            "{name},{},{},{:?},{},{},{},{}",
            r.id.0,
            r.flow.0,
            r.created_s,
            opt(r.entered_s),
            opt(r.exited_s),
            opt(travel),
            r.emergency
        )?;
    }
    w.flush().with_context(|| format!("writing {}", path.display()))
}
