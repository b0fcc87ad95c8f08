//! Import of CityFlow's three files: `roadnet.json`, `flow.json` and `config.json`.
//!
//! Parsing works on `&str` (the caller reads files); every error names the file label the
//! caller passes, the JSON path of the offending value and what was expected. No input
//! panics the importer (fuzzed and property-tested).

mod flow;
mod raw;
mod roadnet;

pub use flow::{MIN_INTERVAL_S, parse_flows};
pub(crate) use flow::{parse_raw as parse_raw_flows, resolve as resolve_flows};
pub use roadnet::parse_roadnet;

use crate::error::ImportError;

/// CityFlow's `config.json`, the fields the engine uses.
#[derive(Clone, Debug, PartialEq)]
pub struct CityFlowConfig {
    /// Step length, seconds (> 0).
    pub interval_s: f64,
    /// Random seed.
    pub seed: u64,
    /// Prefix of the two file names (CityFlow concatenates `dir + file`).
    pub dir: String,
    /// Road network file name.
    pub roadnet_file: String,
    /// Flow file name.
    pub flow_file: String,
    /// `true`: signals are set by an external controller; `false`: native programs.
    pub rl_traffic_light: bool,
    /// CityFlow's lane-changing model was requested (not modelled here: lanes are chosen at
    /// route planning, as with `laneChange: false`).
    pub lane_change: bool,
}

impl CityFlowConfig {
    /// `dir + roadnetFile`, as CityFlow forms it.
    pub fn roadnet_path(&self) -> String {
        format!("{}{}", self.dir, self.roadnet_file)
    }
    /// `dir + flowFile`, as CityFlow forms it.
    pub fn flow_path(&self) -> String {
        format!("{}{}", self.dir, self.flow_file)
    }
}

/// Parses a CityFlow `config.json`.
pub fn parse_config(text: &str, file: &str) -> Result<CityFlowConfig, ImportError> {
    let raw: raw::RawConfig = ImportError::parse(file, text)?;
    check_positive(file, || "interval".into(), raw.interval)?;
    Ok(CityFlowConfig {
        interval_s: raw.interval,
        seed: raw.seed,
        dir: raw.dir,
        roadnet_file: raw.roadnet_file,
        flow_file: raw.flow_file,
        rl_traffic_light: raw.rl_traffic_light,
        lane_change: raw.lane_change,
    })
}

pub(crate) fn check_finite(
    file: &str,
    path: impl FnOnce() -> String,
    x: f64,
) -> Result<(), ImportError> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(ImportError::invalid(file, path(), format!("{x} is not a finite number")))
    }
}

pub(crate) fn check_positive(
    file: &str,
    path: impl FnOnce() -> String,
    x: f64,
) -> Result<(), ImportError> {
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        Err(ImportError::invalid(
            file,
            path(),
            format!("{x} is not allowed; expected a number > 0"),
        ))
    }
}

pub(crate) fn check_non_negative(
    file: &str,
    path: impl FnOnce() -> String,
    x: f64,
) -> Result<(), ImportError> {
    if x.is_finite() && x >= 0.0 {
        Ok(())
    } else {
        Err(ImportError::invalid(
            file,
            path(),
            format!("{x} is not allowed; expected a number ≥ 0"),
        ))
    }
}
