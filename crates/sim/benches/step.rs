//! Criterion benchmarks of the engine: loading Hangzhou 4×4, stepping its hour, observing all
//! its lanes, writing a replay frame, and stepping a generated grid with one and two threads.

use std::hint::black_box;
use std::sync::Arc;

use citybrain_sim::generate::{self, GridSpec};
use citybrain_sim::{Engine, EngineConfig, Scenario};
use criterion::{Criterion, criterion_group, criterion_main};

fn data(file: &str) -> String {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/hangzhou_4x4").join(file);
    std::fs::read_to_string(path).expect("bundled Hangzhou data")
}

fn hangzhou(c: &mut Criterion) {
    let (roadnet, flow) = (data("roadnet.json"), data("flow.json"));
    c.bench_function("load hangzhou_4x4", |b| {
        b.iter(|| {
            Scenario::from_json(black_box(&roadnet), "roadnet", black_box(&flow), "flow")
                .expect("loads")
        })
    });
    let s = Scenario::from_json(&roadnet, "roadnet", &flow, "flow").expect("loads");
    let mut g = c.benchmark_group("hangzhou_4x4");
    g.sample_size(10);
    g.bench_function("3600 steps native", |b| {
        b.iter(|| {
            let cfg = EngineConfig { record_vehicles: false, ..EngineConfig::default() };
            let mut e =
                Engine::new(Arc::clone(&s.network), Arc::clone(&s.demand), cfg).expect("config");
            e.run(3600);
            black_box(e.metrics())
        })
    });
    g.finish();
    // What a controller pays every step: all lanes' observations at a busy moment.
    let mut e = Engine::new(Arc::clone(&s.network), Arc::clone(&s.demand), EngineConfig::default())
        .expect("config");
    e.run(1800);
    let mut obs = Vec::new();
    c.bench_function("hangzhou_4x4 observe_lanes (all 240 lanes, t=1800)", |b| {
        b.iter(|| {
            e.observe_lanes(black_box(50.0), &mut obs);
            black_box(obs.len())
        })
    });
    let mut buf = Vec::with_capacity(1 << 16);
    c.bench_function("hangzhou_4x4 replay frame (t=1800)", |b| {
        b.iter(|| {
            buf.clear();
            let mut w =
                citybrain_sim::replay::ReplayWriter::new(&mut buf, &e, 1).expect("in memory");
            w.frame(&e).expect("in memory");
            black_box(buf.len())
        })
    });
}

fn grid(c: &mut Criterion) {
    let spec = GridSpec { rows: 10, cols: 10, vehicles_per_hour: 12_000, ..GridSpec::default() };
    let (r, f) = generate::grid(&spec);
    let s =
        Scenario::from_json(&r.to_string(), "roadnet", &f.to_string(), "flow").expect("grid loads");
    let mut g = c.benchmark_group("grid_10x10");
    g.sample_size(10);
    for threads in [1, 2] {
        g.bench_function(format!("900 steps, {threads} thread(s)"), |b| {
            b.iter(|| {
                let cfg =
                    EngineConfig { threads, record_vehicles: false, ..EngineConfig::default() };
                let mut e = Engine::new(Arc::clone(&s.network), Arc::clone(&s.demand), cfg)
                    .expect("config");
                e.run(900);
                black_box(e.metrics())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, hangzhou, grid);
criterion_main!(benches);
