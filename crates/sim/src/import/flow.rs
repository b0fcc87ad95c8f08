//! `flow.json` → [`Demand`], resolving road names against a network and completing routes.

use super::raw::{RawFlow, RawVehicle};
use super::{check_finite, check_non_negative, check_positive};
use crate::demand::{Demand, Flow, Router, VehicleParams};
use crate::error::ImportError;
use crate::network::RoadNetwork;

/// Shortest time between two vehicles of one flow (more would be a flood, not a flow).
pub const MIN_INTERVAL_S: f64 = 1e-3;

/// Parses a CityFlow `flow.json` against `net`. `file` names the source in error messages.
///
/// Unknown roads are errors; routes that cannot be completed (anchors not connected, or a
/// single road) produce a warning and a flow that creates no vehicles, as in CityFlow.
pub fn parse_flows(text: &str, file: &str, net: &RoadNetwork) -> Result<Demand, ImportError> {
    resolve(&parse_raw(text, file)?, file, net)
}

/// The JSON-level parse (no network needed, so it can run beside the roadnet's import).
pub(crate) fn parse_raw<'a>(text: &'a str, file: &str) -> Result<RawFlows<'a>, ImportError> {
    ImportError::parse(file, text).map(RawFlows)
}

/// Parsed flow entries, not yet resolved against a network.
pub(crate) struct RawFlows<'a>(Vec<RawFlow<'a>>);

/// Resolves parsed flows against `net`.
pub(crate) fn resolve(
    raw: &RawFlows<'_>,
    file: &str,
    net: &RoadNetwork,
) -> Result<Demand, ImportError> {
    let raw = &raw.0;
    let mut router = Router::new(net);
    let mut demand = Demand::default();
    for (i, f) in raw.iter().enumerate() {
        let path = || format!("[{i}]");
        let params = vehicle_params(file, i, &f.vehicle)?;
        if f.route.is_empty() {
            return Err(ImportError::invalid(
                file,
                format!("{}.route", path()),
                "expected at least one road",
            ));
        }
        let mut anchors = Vec::with_capacity(f.route.len());
        for (j, name) in f.route.iter().enumerate() {
            let name = name.0.as_ref();
            let rid = net.road_id(name).ok_or_else(|| {
                ImportError::invalid(
                    file,
                    format!("{}.route[{j}]", path()),
                    format!("no road with id {name:?} in the road network"),
                )
            })?;
            anchors.push(rid);
        }
        check_positive(file, || format!("{}.interval", path()), f.interval)?;
        if f.interval < MIN_INTERVAL_S {
            return Err(ImportError::invalid(
                file,
                format!("{}.interval", path()),
                format!(
                    "{} s is too short; expected at least {MIN_INTERVAL_S} s between vehicles",
                    f.interval
                ),
            ));
        }
        let start_time_s = f.start_time.unwrap_or(0.0);
        check_finite(file, || format!("{}.startTime", path()), start_time_s)?;
        let end_time_s = match f.end_time {
            None => None,
            Some(-1.0) => None,
            Some(t) => {
                check_finite(file, || format!("{}.endTime", path()), t)?;
                Some(t)
            }
        };
        let route = router.complete(&anchors);
        let name = format!("flow_{i}");
        if route.is_none() {
            demand.warnings.push(format!(
                "{file}: at {}.route: {} cannot be driven (roads not connected, or a single road); {name} creates no vehicles",
                path(),
                f.route.iter().map(|r| r.0.as_ref()).collect::<Vec<_>>().join(" → ")
            ));
        }
        demand.flows.push(Flow {
            name,
            params,
            anchors,
            route,
            start_time_s,
            end_time_s,
            interval_s: f.interval,
            emergency: f.emergency,
        });
    }
    Ok(demand)
}

fn vehicle_params(file: &str, i: usize, v: &RawVehicle) -> Result<VehicleParams, ImportError> {
    let path = |field: &str| format!("[{i}].vehicle.{field}");
    let pos = |field: &str, x: f64| check_positive(file, || path(field), x).map(|()| x);
    let non_neg = |field: &str, x: f64| check_non_negative(file, || path(field), x).map(|()| x);
    Ok(VehicleParams {
        length_m: pos("length", v.length)?,
        width_m: pos("width", v.width)?,
        max_pos_acc: pos("maxPosAcc", v.max_pos_acc)?,
        max_neg_acc: pos("maxNegAcc", v.max_neg_acc)?,
        usual_pos_acc: pos("usualPosAcc", v.usual_pos_acc)?,
        usual_neg_acc: pos("usualNegAcc", v.usual_neg_acc)?,
        min_gap_m: non_neg("minGap", v.min_gap)?,
        max_speed_mps: pos("maxSpeed", v.max_speed)?,
        headway_time_s: non_neg("headwayTime", v.headway_time)?,
        ..VehicleParams::default()
    })
}
