//! `citybrain bench incidents`: how fast the brain reports random blocked lanes, and whether it
//! raises false incident alerts in an hour without incidents.
//!
//! Each trial blocks one lane (road, lane, start, duration and position drawn from a seeded
//! generator) in its own run under adaptive control, simulated until 60 s after the start; it
//! counts as detected when an incident alert names that road and lane within 60 s of the start.

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use citybrain_signal::{AlertKind, ControllerKind};
use rayon::prelude::*;

use crate::UsageError;
use crate::control_run::{IncidentSpec, RunOptions, load, run};

/// Arguments of `citybrain bench incidents`.
#[derive(clap::Args, Debug)]
pub(crate) struct BenchIncidentsArgs {
    /// The roadnet.
    #[arg(long, value_name = "FILE")]
    roadnet: PathBuf,
    /// The flows.
    #[arg(long, value_name = "FILE")]
    flow: PathBuf,
    /// Random incidents to inject, one per run.
    #[arg(long, default_value_t = 100)]
    count: u32,
    /// Seed of the incidents' draw.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seconds after its start within which an incident must be reported.
    #[arg(long, default_value_t = 60.0)]
    within: f64,
}

/// A small deterministic generator (SplitMix64) for drawing trials.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Outcome of one trial.
#[derive(Debug)]
pub(crate) struct Trial {
    pub(crate) incident: IncidentSpec,
    /// Seconds from the start to the first matching alert, if any within the window.
    pub(crate) delay_s: Option<f64>,
    /// Incident alerts elsewhere during the run.
    pub(crate) elsewhere: usize,
    /// When a vehicle first stood still behind the blockage (ground truth), if it did.
    pub(crate) affected_s: Option<f64>,
}

/// Draws `count` incidents on `net`: any lane, start in 300..3000 s, 5–15 minutes, anywhere
/// between 10 % and 90 % of the lane.
pub(crate) fn draw(net: &citybrain_sim::RoadNetwork, count: u32, seed: u64) -> Vec<IncidentSpec> {
    let mut d = Draw(seed);
    (0..count)
        .map(|_| {
            let road = &net.roads()[d.below(net.roads().len())];
            let lane = d.below(road.lanes.len());
            let length = net.lane(road.lanes[lane]).length;
            IncidentSpec {
                road: road.id.clone(),
                lane,
                start_s: (300.0 + 2700.0 * d.unit()).round(),
                duration_s: (300.0 + 600.0 * d.unit()).round(),
                position_m: Some(length * (0.1 + 0.8 * d.unit())),
            }
        })
        .collect()
}

/// Runs the trials on a loaded scenario.
pub(crate) fn trials(
    scenario: &citybrain_sim::Scenario,
    incidents: &[IncidentSpec],
    within_s: f64,
) -> anyhow::Result<Vec<Trial>> {
    incidents
        .par_iter()
        .map(|inc| {
            let mut opts = RunOptions::controlled(ControllerKind::Adaptive);
            opts.incidents = vec![inc.clone()];
            opts.steps = (inc.start_s + within_s).ceil() as u64 + 1;
            let r = run(scenario, &opts).with_context(|| format!("incident on {}", inc.road))?;
            let hits = |a: &&citybrain_signal::Alert| {
                a.kind == AlertKind::Incident
                    && a.road == inc.road
                    && a.location.lane == Some(inc.lane as u32)
            };
            let delay_s = r
                .alerts
                .iter()
                .filter(hits)
                .map(|a| a.time - inc.start_s)
                .find(|d| (0.0..=within_s).contains(d));
            let elsewhere =
                r.alerts.iter().filter(|a| a.kind == AlertKind::Incident && !hits(a)).count();
            Ok(Trial {
                incident: inc.clone(),
                delay_s,
                elsewhere,
                affected_s: r.incident_affected_s.first().copied().flatten(),
            })
        })
        .collect()
}

/// Runs the bench and prints its figures.
pub(crate) fn bench(args: &BenchIncidentsArgs) -> anyhow::Result<()> {
    if !(args.within.is_finite() && args.within > 0.0) || args.count == 0 {
        return Err(UsageError(anyhow!("--within must be > 0 s and --count > 0")).into());
    }
    let scenario = load(&args.roadnet, &args.flow, true)?;
    let clean = run(&scenario, &RunOptions::controlled(ControllerKind::Adaptive))?;
    let false_alarms = clean.alerts.iter().filter(|a| a.kind == AlertKind::Incident).count();
    let incidents = draw(&scenario.network, args.count, args.seed);
    let results = trials(&scenario, &incidents, args.within)?;
    let detected: Vec<f64> = results.iter().filter_map(|t| t.delay_s).collect();
    let elsewhere: usize = results.iter().map(|t| t.elsewhere).sum();
    println!("| figure | value |\n|---|---:|");
    println!("| incident alerts in the incident-free hour | {false_alarms} |");
    println!("| incidents injected | {} |", results.len());
    println!(
        "| reported within {:.0} s | {} ({:.0} %) |",
        args.within,
        detected.len(),
        100.0 * detected.len() as f64 / results.len() as f64
    );
    if !detected.is_empty() {
        let mean = detected.iter().sum::<f64>() / detected.len() as f64;
        println!("| mean time to report, s | {mean:.1} |");
    }
    println!("| incident alerts elsewhere during the trials | {elsewhere} |");
    // Only a blockage that holds up traffic can be seen by detectors.
    let observable: Vec<&Trial> = results
        .iter()
        .filter(|t| t.affected_s.is_some_and(|a| a <= t.incident.start_s + args.within / 2.0))
        .collect();
    let seen = observable.iter().filter(|t| t.delay_s.is_some()).count();
    println!(
        "| holding up traffic within {:.0} s of their start | {} |",
        args.within / 2.0,
        observable.len()
    );
    println!(
        "| of those, reported within {:.0} s | {seen} ({:.0} %) |",
        args.within,
        100.0 * seen as f64 / observable.len().max(1) as f64
    );
    for t in results.iter().filter(|t| t.delay_s.is_none()) {
        let i = &t.incident;
        eprintln!(
            "missed (affected at {:?}): {}:{}:{}:{}:{:.0}",
            t.affected_s.map(|a| a - i.start_s),
            i.road,
            i.lane,
            i.start_s,
            i.duration_s,
            i.position_m.unwrap_or(0.0)
        );
    }
    Ok(())
}
