//! `citybrain bench control`: every controller on every scenario, as a table, a CSV and a chart.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use citybrain_signal::{ControlConfig, ControllerKind};
use rayon::prelude::*;

use crate::UsageError;
use crate::control_run::{RunOptions, RunSummary, load, parse, run};

/// Arguments of `citybrain bench control`.
#[derive(clap::Args, Debug)]
pub(crate) struct BenchControlArgs {
    /// A scenario directory: its roadnet.json and every flow*.json in it are run (repeatable).
    #[arg(long = "scenario")]
    scenarios: Vec<PathBuf>,
    /// A generated grid `ROWSxCOLS:ROAD_M:VEHICLES_PER_HOUR:SEED[:LANES]`, e.g.
    /// `3x3:400:2500:7` (repeatable): scenarios no controller was tuned on.
    #[arg(long = "grid")]
    grids: Vec<GridArg>,
    /// Simulated seconds per run.
    #[arg(long, default_value_t = 3600)]
    steps: u64,
    /// Mark the first vehicle after every S-second boundary as an emergency vehicle, and add
    /// a run of adaptive control with emergency preemption.
    #[arg(long, value_name = "S")]
    emergency_every: Option<f64>,
    /// Only these configurations (names as in the table, comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Where to write the CSV.
    #[arg(long, default_value = "bench-control.csv")]
    csv: PathBuf,
    /// Where to draw the SVG chart of average travel times.
    #[arg(long, default_value = "bench-control.svg")]
    svg: PathBuf,
}

/// The configurations a bench runs, by name.
pub(crate) fn configurations(emergency: bool) -> Vec<(String, RunOptions)> {
    let with = |kind, f: &dyn Fn(&mut ControlConfig)| {
        let mut o = RunOptions::controlled(kind);
        if let Some(c) = o.control.as_mut() {
            f(c);
        }
        o
    };
    let mut out = vec![
        ("fixed-30".to_string(), with(ControllerKind::Fixed, &|_| {})),
        ("fixed-30-y5".into(), with(ControllerKind::Fixed, &|c| c.yellow_s = 5.0)),
        ("sotl".into(), with(ControllerKind::Sotl, &|_| {})),
    ];
    for yellow in [0.0, 5.0] {
        for d in [10.0, 15.0, 20.0] {
            let name = format!("max-pressure-d{d}{}", if yellow > 0.0 { "-y5" } else { "" });
            out.push((
                name,
                with(ControllerKind::MaxPressure, &|c| {
                    c.action_interval_s = d;
                    c.yellow_s = yellow;
                }),
            ));
        }
    }
    out.push(("adaptive".into(), with(ControllerKind::Adaptive, &|_| {})));
    if emergency {
        let mut o = with(ControllerKind::Adaptive, &|_| {});
        o.preemption = true;
        out.push(("adaptive+preempt".into(), o));
    }
    out
}

/// One scenario file pair.
struct Case {
    label: String,
    roadnet: PathBuf,
    flow: PathBuf,
}

/// A generated grid on the command line.
#[derive(Clone, Debug)]
pub(crate) struct GridArg(pub(crate) citybrain_sim::generate::GridSpec);

impl std::str::FromStr for GridArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "bad grid `{s}`: expected ROWSxCOLS:ROAD_M:VEHICLES_PER_HOUR:SEED[:LANES], \
                 e.g. 3x3:400:2500:7"
            )
        };
        let parts: Vec<&str> = s.split(':').collect();
        let (size, len, vph, seed, lanes) = match parts[..] {
            [a, b, c, d] => (a, b, c, d, "3"),
            [a, b, c, d, e] => (a, b, c, d, e),
            _ => return Err(bad()),
        };
        let (rows, cols) = size.split_once('x').ok_or_else(bad)?;
        let spec = citybrain_sim::generate::GridSpec {
            rows: rows.parse().map_err(|_| bad())?,
            cols: cols.parse().map_err(|_| bad())?,
            road_length_m: len.parse().map_err(|_| bad())?,
            vehicles_per_hour: vph.parse().map_err(|_| bad())?,
            seed: seed.parse().map_err(|_| bad())?,
            lanes: lanes.parse().map_err(|_| bad())?,
        };
        if spec.rows == 0
            || spec.cols == 0
            || spec.lanes == 0
            || spec.road_length_m.is_nan()
            || spec.road_length_m < 50.0
            || spec.vehicles_per_hour == 0
        {
            return Err(format!(
                "bad grid `{s}`: sizes and demand must be positive, roads at least 50 m"
            ));
        }
        Ok(GridArg(spec))
    }
}

fn cases(dirs: &[PathBuf]) -> anyhow::Result<Vec<Case>> {
    let mut out = Vec::new();
    for dir in dirs {
        let roadnet = dir.join("roadnet.json");
        if !roadnet.is_file() {
            return Err(
                UsageError(anyhow!("--scenario {}: no roadnet.json in it", dir.display())).into()
            );
        }
        let mut flows: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("listing {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("flow") && n.ends_with(".json"))
            })
            .collect();
        flows.sort();
        if flows.is_empty() {
            return Err(
                UsageError(anyhow!("--scenario {}: no flow*.json in it", dir.display())).into()
            );
        }
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("scenario");
        for flow in flows {
            let stem = flow.file_stem().and_then(|n| n.to_str()).unwrap_or("flow");
            out.push(Case { label: format!("{name}/{stem}"), roadnet: roadnet.clone(), flow });
        }
    }
    Ok(out)
}

/// Runs the bench and prints the Markdown tables.
pub(crate) fn bench(args: &BenchControlArgs) -> anyhow::Result<()> {
    let cases = cases(&args.scenarios)?;
    let mut configs = configurations(args.emergency_every.is_some());
    if !args.only.is_empty() {
        configs.retain(|(name, _)| args.only.contains(name));
        if configs.is_empty() {
            let known: Vec<String> = configurations(true).into_iter().map(|c| c.0).collect();
            return Err(UsageError(anyhow!(
                "--only names no configuration; known: {}",
                known.join(", ")
            ))
            .into());
        }
    }
    let mut scenarios: Vec<_> =
        cases.iter().map(|c| load(&c.roadnet, &c.flow, true)).collect::<anyhow::Result<_>>()?;
    let mut labels: Vec<String> = cases.iter().map(|c| c.label.clone()).collect();
    for g in &args.grids {
        let (roadnet, flow) = citybrain_sim::generate::grid(&g.0);
        let s = &g.0;
        let lanes = if s.lanes == 3 { String::new() } else { format!("-{}lanes", s.lanes) };
        let label = format!(
            "grid{}x{}-{}m-{}vph-s{}{lanes}",
            s.rows, s.cols, s.road_length_m, s.vehicles_per_hour, s.seed
        );
        scenarios.push(parse(&roadnet.to_string(), &label, &flow.to_string(), &label, true)?);
        labels.push(label);
    }
    if labels.is_empty() {
        return Err(UsageError(anyhow!("give at least one --scenario DIR or --grid SPEC")).into());
    }
    let jobs: Vec<(usize, usize)> =
        (0..labels.len()).flat_map(|c| (0..configs.len()).map(move |k| (c, k))).collect();
    let results: Vec<RunSummary> = jobs
        .par_iter()
        .map(|&(c, k)| {
            let mut opts = configs[k].1.clone();
            opts.steps = args.steps;
            opts.emergency_every_s = args.emergency_every;
            run(&scenarios[c], &opts)
                .with_context(|| format!("{} under {}", labels[c], configs[k].0))
        })
        .collect::<anyhow::Result<_>>()?;
    let get = |c: usize, k: usize| &results[c * configs.len() + k];
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let names: Vec<&str> = configs.iter().map(|c| c.0.as_str()).collect();
    println!(
        "{}",
        table("Average travel time, s (CityFlow's definition)", &labels, &names, |c, k| {
            format!("{:.2}", get(c, k).metrics.avg_travel_time_s)
        })
    );
    println!(
        "{}",
        table("Throughput (vehicles finished)", &labels, &names, |c, k| {
            get(c, k).metrics.finished.to_string()
        })
    );
    if args.emergency_every.is_some() {
        println!(
            "{}",
            table(
                "Emergency vehicles: count / average travel time, s / others' average, s",
                &labels,
                &names,
                |c, k| {
                    let r = get(c, k);
                    format!(
                        "{} / {:.1} / {:.1}",
                        r.emergency_count,
                        r.emergency_avg_travel_time.unwrap_or(0.0),
                        r.others_avg_travel_time
                    )
                }
            )
        );
    }
    write_csv(&args.csv, &labels, &names, &get)?;
    let svg = chart(&labels, &names, |c, k| get(c, k).metrics.avg_travel_time_s);
    std::fs::write(&args.svg, svg).with_context(|| format!("writing {}", args.svg.display()))?;
    println!("CSV: {}  chart: {}", args.csv.display(), args.svg.display());
    Ok(())
}

fn table(
    title: &str,
    cases: &[&str],
    names: &[&str],
    cell: impl Fn(usize, usize) -> String,
) -> String {
    let mut s = format!("**{title}**\n\n| controller |");
    for c in cases {
        let _ = write!(s, " {c} |");
    }
    s.push_str("\n|---|");
    s.push_str(&"---:|".repeat(cases.len()));
    for (k, name) in names.iter().enumerate() {
        let _ = write!(s, "\n| {name} |");
        for c in 0..cases.len() {
            let _ = write!(s, " {} |", cell(c, k));
        }
    }
    s.push('\n');
    s
}

fn write_csv<'a>(
    path: &Path,
    cases: &[&str],
    names: &[&str],
    get: &impl Fn(usize, usize) -> &'a RunSummary,
) -> anyhow::Result<()> {
    let mut s = String::from(
        "scenario,controller,avg_travel_time,created,finished,running,waiting,emergency_count,emergency_avg_travel_time,others_avg_travel_time,stepping_s\n",
    );
    for (c, case) in cases.iter().enumerate() {
        for (k, name) in names.iter().enumerate() {
            let r = get(c, k);
            let m = &r.metrics;
            let _ = writeln!(
                s,
                "{case},{name},{:.3},{},{},{},{},{},{},{:.3},{:.3}",
                m.avg_travel_time_s,
                m.created,
                m.finished,
                m.running,
                m.waiting,
                r.emergency_count,
                r.emergency_avg_travel_time.map(|v| format!("{v:.3}")).unwrap_or_default(),
                r.others_avg_travel_time,
                r.stepping_s
            );
        }
    }
    std::fs::write(path, s).with_context(|| format!("writing {}", path.display()))
}

/// A grouped bar chart: one group per scenario, one bar per configuration.
fn chart(cases: &[&str], names: &[&str], value: impl Fn(usize, usize) -> f64) -> String {
    const COLOURS: [&str; 12] = [
        "#9e9e9e", "#616161", "#8d6e63", "#90caf9", "#42a5f5", "#1565c0", "#ce93d8", "#ab47bc",
        "#6a1b9a", "#e53935", "#fb8c00", "#43a047",
    ];
    let (bar, gap, top, left, height) = (9.0, 18.0, 40.0, 60.0, 300.0);
    let group = bar * names.len() as f64 + gap;
    let width = left + group * cases.len() as f64 + 180.0;
    let max = (0..cases.len())
        .flat_map(|c| (0..names.len()).map(move |k| (c, k)))
        .map(|(c, k)| value(c, k))
        .fold(1.0, f64::max);
    let scale = height / (max * 1.05);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{:.0}\" font-family=\"sans-serif\" font-size=\"11\">\n",
        top + height + 90.0
    );
    let _ = writeln!(
        s,
        "<text x=\"{left}\" y=\"20\" font-size=\"14\">Average travel time (s) by controller</text>"
    );
    let base = top + height;
    for tick in 0..=5 {
        let v = max * 1.05 * f64::from(tick) / 5.0;
        let y = base - v * scale;
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" x2=\"{:.0}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{v:.0}</text>",
            width - 180.0,
            left - 4.0,
            y + 4.0
        );
    }
    for (c, case) in cases.iter().enumerate() {
        let x0 = left + gap / 2.0 + group * c as f64;
        for k in 0..names.len() {
            let v = value(c, k);
            let x = x0 + bar * k as f64;
            let _ = writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{case} {}: {v:.1} s</title></rect>",
                base - v * scale,
                bar - 1.0,
                v * scale,
                COLOURS[k % COLOURS.len()],
                names[k]
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" transform=\"rotate(-30 {:.1} {:.1})\">{case}</text>",
            x0 + group / 2.0,
            base + 14.0,
            x0 + group / 2.0,
            base + 14.0
        );
    }
    for (k, name) in names.iter().enumerate() {
        let y = top + 14.0 * k as f64;
        let x = width - 170.0;
        let _ = writeln!(
            s,
            "<rect x=\"{x:.0}\" y=\"{:.0}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{:.0}\" y=\"{:.0}\">{name}</text>",
            y,
            COLOURS[k % COLOURS.len()],
            x + 14.0,
            y + 9.0
        );
    }
    s.push_str("</svg>\n");
    s
}
