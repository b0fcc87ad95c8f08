//! End-to-end tests of the `citybrain` binary: real processes, real files, exit codes.

#![allow(clippy::unwrap_used, reason = "test helpers too: a failed unwrap is a failed test")]

mod bad_input;
mod browser;
mod control_cli;
mod control_quality;
mod demo;
mod durability;
mod gen_cli;
mod ngsildclient;
mod sim_cli;
mod usage;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the binary with `args`.
pub(crate) fn citybrain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_citybrain"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("the citybrain binary runs")
}

/// A test's own HTTP client (reqwest needs the process's TLS provider before it is built).
pub(crate) fn http_client() -> reqwest::Client {
    citybrain_server::install_tls_provider();
    reqwest::Client::new()
}

/// The repository root (the bundled data lives in `data/`).
pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes a small generated scenario into `dir` and returns (roadnet, flow) paths.
pub(crate) fn small_scenario(dir: &Path) -> (PathBuf, PathBuf) {
    let spec = citybrain_sim::generate::GridSpec {
        rows: 1,
        cols: 2,
        vehicles_per_hour: 600,
        ..Default::default()
    };
    let (r, f) = citybrain_sim::generate::grid(&spec);
    let (rp, fp) = (dir.join("roadnet.json"), dir.join("flow.json"));
    std::fs::write(&rp, r.to_string()).expect("write roadnet");
    std::fs::write(&fp, f.to_string()).expect("write flow");
    (rp, fp)
}
