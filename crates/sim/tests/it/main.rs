//! Integration tests of `citybrain-sim`: fidelity to CityFlow, the importer's errors,
//! engine properties, determinism and the crate's dependency boundary.

#![allow(clippy::unwrap_used, reason = "test helpers too: a failed unwrap is a failed test")]

mod api;
mod control_fidelity;
mod deps;
mod fidelity;
mod import_errors;
mod properties;

use std::path::PathBuf;
use std::sync::Arc;

use citybrain_sim::{Engine, EngineConfig, Scenario};

/// The repository's `data/` folder.
pub(crate) fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data")
}

/// Loads a bundled scenario (`roadnet.json` + the given flow file).
pub(crate) fn bundled(dir: &str, flow: &str) -> Scenario {
    let d = data_dir().join(dir);
    let roadnet = std::fs::read_to_string(d.join("roadnet.json")).expect("bundled roadnet");
    let flows = std::fs::read_to_string(d.join(flow)).expect("bundled flow");
    Scenario::from_json(&roadnet, "roadnet.json", &flows, flow).expect("bundled scenario loads")
}

/// A scenario built from a generated grid.
pub(crate) fn grid(spec: &citybrain_sim::generate::GridSpec) -> Scenario {
    let (r, f) = citybrain_sim::generate::grid(spec);
    Scenario::from_json(&r.to_string(), "grid roadnet", &f.to_string(), "grid flow")
        .expect("grid loads")
}

/// An engine over a scenario.
pub(crate) fn engine(s: &Scenario, cfg: EngineConfig) -> Engine {
    Engine::new(Arc::clone(&s.network), Arc::clone(&s.demand), cfg).expect("valid config")
}
