//! `flow.json` → [`Demand`], resolving road names against a network and completing routes.

use super::raw::{RawFlow, RawVehicle};
use super::{check_finite, check_non_negative, check_positive};
use crate::demand::{Demand, Flow, Router, VehicleParams};
use crate::error::ImportError;
use crate::network::RoadNetwork;

/// Parses a CityFlow `flow.json` against `net`. `file` names the source in error messages.
///
/// Unknown roads are errors; routes that cannot be completed (anchors not connected, or a
/// single road) produce a warning and a flow that creates no vehicles, as in CityFlow.
pub fn parse_flows(text: &str, file: &str, net: &RoadNetwork) -> Result<Demand, ImportError> {
    let raw: Vec<RawFlow> = ImportError::parse(file, text)?;
    let mut router = Router::new(net);
    let mut demand = Demand::default();
    for (i, f) in raw.iter().enumerate() {
        let path = format!("[{i}]");
        let params = vehicle_params(file, &format!("{path}.vehicle"), &f.vehicle)?;
        if f.route.is_empty() {
            return Err(ImportError::invalid(
                file,
                format!("{path}.route"),
                "expected at least one road",
            ));
        }
        let mut anchors = Vec::with_capacity(f.route.len());
        for (j, name) in f.route.iter().enumerate() {
            let rid = net.road_id(name).ok_or_else(|| {
                ImportError::invalid(
                    file,
                    format!("{path}.route[{j}]"),
                    format!("no road with id {name:?} in the road network"),
                )
            })?;
            anchors.push(rid);
        }
        check_positive(file, &format!("{path}.interval"), f.interval)?;
        let start_time_s = f.start_time.unwrap_or(0.0);
        check_finite(file, &format!("{path}.startTime"), start_time_s)?;
        let end_time_s = match f.end_time {
            None => None,
            Some(-1.0) => None,
            Some(t) => {
                check_finite(file, &format!("{path}.endTime"), t)?;
                Some(t)
            }
        };
        let route = router.complete(&anchors);
        let name = format!("flow_{i}");
        if route.is_none() {
            demand.warnings.push(format!(
                "{file}: at {path}.route: {} cannot be driven (roads not connected, or a single road); {name} creates no vehicles",
                f.route.join(" → ")
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

fn vehicle_params(file: &str, path: &str, v: &RawVehicle) -> Result<VehicleParams, ImportError> {
    let pos = |field: &str, x: f64| check_positive(file, &format!("{path}.{field}"), x).map(|()| x);
    let non_neg =
        |field: &str, x: f64| check_non_negative(file, &format!("{path}.{field}"), x).map(|()| x);
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
