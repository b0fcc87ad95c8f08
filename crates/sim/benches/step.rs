//! Criterion benchmarks of the engine: loading Hangzhou 4×4, stepping its hour, and stepping a
//! generated grid with one and two threads.

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
