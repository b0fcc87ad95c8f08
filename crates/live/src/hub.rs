//! The twin's link to the city data hub: it publishes detector-like observations as NGSI-LD
//! entities (FIWARE Smart Data Models names) through the broker's in-process service layer, and
//! the brain reads its observations back from there.
//!
//! Entities (default tenant, core `@context`):
//! - `urn:ngsi-ld:TrafficFlowObserved:<road>` per road: `intensity` (vehicles/h, from the
//!   fundamental relation flow = density × speed), `occupancy` (0–1, share of the road's lane
//!   length covered by vehicles of 5 m), `averageVehicleSpeed` (km/h, null when empty),
//!   `queueLength` (halted vehicles), `location` (LineString), `name` (the road id),
//!   `refRoadSegment`, `dateObserved`, `simulationTime` (s) and `laneObservations`: per lane
//!   `{lane, vehicles, halted, meanSpeed (m/s, null when empty), nearStopLine, approaching,
//!   stoppedApart, stoppedApartM, farthestHaltedM}` (halted vehicles with free road ahead, the
//!   nearest one's distance from the stop line, the back of the queue; metres).
//! - `urn:ngsi-ld:TrafficSignal:<intersection>` per signalised intersection: `currentPhase`,
//!   `green` (movement indices), `explanation` (the last decision's reason), `location` (Point).
//! - `urn:ngsi-ld:Alert:citybrain-<n>` per brain alert, n cycling over [`ALERT_SLOTS`] so the hub
//!   keeps the latest ones: `category` "traffic", `subCategory` incident/trafficJam, `severity`,
//!   `description`, `dateIssued`, `location`, `refRoad`.

use std::collections::HashMap;
use std::sync::Arc;

use citybrain_broker::{BatchError, BatchOp, Broker, DEFAULT_TENANT, EntityQuery, UpsertMode};
use citybrain_ngsi::Context;
use citybrain_ngsi::filters::parse_type_expr;
use citybrain_ngsi::parse::parse_fragment;
use citybrain_ngsi::time::format_datetime;
use citybrain_signal::{Alert, AlertKind, LaneObs, Severity};
use citybrain_sim::RoadNetwork;
use serde_json::{Value, json};

use crate::geo::to_lon_lat;

/// Alert entities kept in the hub (older ones are overwritten).
pub const ALERT_SLOTS: u64 = 100;

/// Length a vehicle occupies for `occupancy`, metres.
const VEHICLE_LENGTH_M: f64 = 5.0;

/// Talking to the hub failed.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The broker refused a write or a query.
    #[error("the hub refused the operation: {0}")]
    Broker(#[from] citybrain_ngsi::error::NgsiError),
    /// Some entities of a batch were not written.
    #[error("the hub did not store {count} entities, e.g. {first}")]
    Partial {
        /// How many failed.
        count: usize,
        /// The first failure.
        first: String,
    },
    /// An observation read back is not what the twin published.
    #[error("malformed observation in the hub: {0}")]
    Malformed(String),
}

/// What a signalised intersection shows, for its `TrafficSignal` entity.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalReport {
    /// External id.
    pub id: String,
    /// Roadnet position, metres.
    pub x: f64,
    /// Roadnet position, metres.
    pub y: f64,
    /// The phase shown.
    pub phase: Option<usize>,
    /// Movement (road link) indices green now.
    pub green: Vec<usize>,
    /// The last decision's reason, in words.
    pub explanation: String,
}

/// The twin's publisher and the brain's reader.
pub struct HubLink {
    broker: Broker,
    ctx: Arc<Context>,
    roads: Vec<RoadInfo>,
    by_name: HashMap<String, usize>,
    query: EntityQuery,
    lane_attr: String,
    name_attr: String,
    alerts_published: u64,
}

struct RoadInfo {
    name: String,
    line: Value,
    lane_length_m: f64,
    /// Speed limit of each lane (the mean speed of an empty lane).
    speed_limits: Vec<f64>,
    first_lane: usize,
}

impl HubLink {
    /// A link for `net`'s roads through `broker`.
    pub fn new(broker: Broker, net: &RoadNetwork) -> Self {
        let ctx = Context::core();
        let roads: Vec<RoadInfo> = net
            .roads()
            .iter()
            .map(|r| RoadInfo {
                name: r.id.clone(),
                line: Value::Array(
                    r.points.iter().map(|p| json!(to_lon_lat(p.x, p.y))).collect::<Vec<_>>(),
                ),
                lane_length_m: r.lanes.iter().map(|&l| net.lane(l).length).sum(),
                speed_limits: r.lanes.iter().map(|&l| net.lane(l).max_speed).collect(),
                first_lane: r.lanes.first().map_or(0, |l| l.0 as usize),
            })
            .collect();
        let by_name = roads.iter().enumerate().map(|(i, r)| (r.name.clone(), i)).collect();
        let query = EntityQuery {
            types: parse_type_expr("TrafficFlowObserved", &|t| ctx.expand(t)).ok(),
            limit: roads.len() + 1,
            ..EntityQuery::default()
        };
        HubLink {
            lane_attr: ctx.expand("laneObservations"),
            name_attr: ctx.expand("name"),
            broker,
            ctx,
            roads,
            by_name,
            query,
            alerts_published: 0,
        }
    }

    /// The broker.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// Publishes one observation of every road (from `lanes`, indexed by the twin's lane ids),
    /// every signal and the new alerts, as one batch upsert; returns after it is durable.
    pub async fn publish(
        &mut self,
        time_s: f64,
        now_micros: i64,
        lanes: &[LaneObs],
        signals: &[SignalReport],
        alerts: &[Alert],
    ) -> Result<(), HubError> {
        let stamp = format_datetime(now_micros);
        let mut docs = Vec::with_capacity(self.roads.len() + signals.len() + alerts.len());
        for road in &self.roads {
            docs.push(road_entity(road, lanes, &stamp, time_s));
        }
        docs.extend(signals.iter().map(|s| signal_entity(s, &stamp)));
        for alert in alerts {
            let slot = self.alerts_published % ALERT_SLOTS;
            self.alerts_published += 1;
            let location = self.by_name.get(&alert.road).map(|&r| &self.roads[r].line);
            docs.push(alert_entity(slot, alert, location, &stamp));
        }
        let items = docs
            .iter()
            .map(|d| {
                parse_fragment(d, &self.ctx, now_micros).map_err(|error| BatchError {
                    entity_id: d["id"].as_str().unwrap_or_default().to_string(),
                    error,
                })
            })
            .collect();
        let result =
            self.broker.batch(DEFAULT_TENANT, BatchOp::Upsert(UpsertMode::Replace), items).await?;
        match result.errors.first() {
            None => Ok(()),
            Some(e) => Err(HubError::Partial {
                count: result.errors.len(),
                first: format!("{}: {}", e.entity_id, e.error),
            }),
        }
    }

    /// Reads every road's `TrafficFlowObserved` back from the hub and rebuilds the per-lane
    /// observations the brain decides on (`lane_count` lanes, indexed by the twin's lane ids).
    pub fn read_observations(&self, lane_count: usize) -> Result<Vec<LaneObs>, HubError> {
        let page = self.broker.query_entities(DEFAULT_TENANT, &self.query)?;
        let mut out = vec![LaneObs::default(); lane_count];
        for entity in page.entities {
            let name = entity
                .instance(&self.name_attr, None)
                .and_then(|a| a.value.as_str())
                .ok_or_else(|| HubError::Malformed(format!("{} has no name", entity.id)))?;
            let Some(&r) = self.by_name.get(name) else {
                return Err(HubError::Malformed(format!("{}: unknown road `{name}`", entity.id)));
            };
            let road = &self.roads[r];
            let rows = entity
                .instance(&self.lane_attr, None)
                .and_then(|a| a.value.as_array())
                .ok_or_else(|| {
                    HubError::Malformed(format!("{} has no laneObservations", entity.id))
                })?;
            for row in rows {
                let (lane, obs) = lane_from_json(row, &road.speed_limits)
                    .ok_or_else(|| HubError::Malformed(format!("{}: lane row {row}", entity.id)))?;
                if let Some(slot) = out.get_mut(road.first_lane + lane) {
                    *slot = obs;
                }
            }
        }
        Ok(out)
    }
}

fn road_entity(road: &RoadInfo, lanes: &[LaneObs], stamp: &str, time_s: f64) -> Value {
    let own = lanes.get(road.first_lane..road.first_lane + road.speed_limits.len()).unwrap_or(&[]);
    let vehicles: u32 = own.iter().map(|l| l.vehicles).sum();
    let halted: u32 = own.iter().map(|l| l.halted).sum();
    let speed_sum: f64 = own.iter().map(|l| l.mean_speed_mps * f64::from(l.vehicles)).sum();
    let mean_speed = (vehicles > 0).then(|| speed_sum / f64::from(vehicles));
    let road_length_m = road.lane_length_m / road.speed_limits.len().max(1) as f64;
    let density_per_m = f64::from(vehicles) / road_length_m.max(1.0);
    let intensity = mean_speed.map_or(0.0, |v| density_per_m * v * 3600.0);
    let occupancy = (f64::from(vehicles) * VEHICLE_LENGTH_M / road.lane_length_m.max(1.0)).min(1.0);
    let rows: Vec<Value> = own
        .iter()
        .enumerate()
        .map(|(i, l)| {
            json!({"lane": i, "vehicles": l.vehicles, "halted": l.halted,
                   "meanSpeed": (l.vehicles > 0).then_some(l.mean_speed_mps),
                   "nearStopLine": l.near_stop_line, "approaching": l.approaching,
                   "stoppedApart": l.stopped_apart, "stoppedApartM": l.stopped_apart_m,
                   "farthestHaltedM": l.farthest_halted_m})
        })
        .collect();
    let prop = |v: Value| json!({"type": "Property", "value": v, "observedAt": stamp});
    let mut doc = json!({
        "id": format!("urn:ngsi-ld:TrafficFlowObserved:{}", road.name),
        "type": "TrafficFlowObserved",
        "name": {"type": "Property", "value": road.name},
        "refRoadSegment": {"type": "Relationship",
                           "object": format!("urn:ngsi-ld:RoadSegment:{}", road.name)},
        "location": {"type": "GeoProperty",
                     "value": {"type": "LineString", "coordinates": road.line}},
        "dateObserved": {"type": "Property", "value": stamp},
        "simulationTime": {"type": "Property", "value": time_s, "unitCode": "SEC"},
        "intensity": prop(json!(intensity)),
        "occupancy": prop(json!(occupancy)),
        "queueLength": prop(json!(halted)),
        "laneObservations": prop(Value::Array(rows)),
    });
    if let Some(v) = mean_speed {
        doc["averageVehicleSpeed"] = prop(json!(v * 3.6));
    }
    doc
}

fn lane_from_json(row: &Value, speed_limits: &[f64]) -> Option<(usize, LaneObs)> {
    let count = |k: &str| row.get(k)?.as_u64().and_then(|v| u32::try_from(v).ok());
    let lane = usize::try_from(row.get("lane")?.as_u64()?).ok()?;
    let limit = *speed_limits.get(lane)?;
    let mean_speed_mps = match row.get("meanSpeed")? {
        Value::Null => limit,
        v => v.as_f64()?,
    };
    Some((
        lane,
        LaneObs {
            vehicles: count("vehicles")?,
            halted: count("halted")?,
            mean_speed_mps,
            near_stop_line: count("nearStopLine")?,
            approaching: count("approaching")?,
            stopped_apart: count("stoppedApart")?,
            stopped_apart_m: row.get("stoppedApartM")?.as_f64()?,
            farthest_halted_m: row.get("farthestHaltedM")?.as_f64()?,
        },
    ))
}

fn signal_entity(s: &SignalReport, stamp: &str) -> Value {
    let mut doc = json!({
        "id": format!("urn:ngsi-ld:TrafficSignal:{}", s.id),
        "type": "TrafficSignal",
        "name": {"type": "Property", "value": s.id},
        "location": {"type": "GeoProperty",
                     "value": {"type": "Point", "coordinates": to_lon_lat(s.x, s.y)}},
        "currentPhase": {"type": "Property", "value": s.phase, "observedAt": stamp},
        "green": {"type": "Property", "value": s.green, "observedAt": stamp},
        "explanation": {"type": "Property", "value": s.explanation, "observedAt": stamp},
    });
    if s.phase.is_none() {
        // Before the first decision: the twin's own start phase is not the brain's.
        doc.as_object_mut().map(|o| o.remove("currentPhase"));
    }
    doc
}

fn alert_entity(slot: u64, a: &Alert, line: Option<&Value>, stamp: &str) -> Value {
    let sub = match a.kind {
        AlertKind::Incident => "incident",
        AlertKind::Congestion => "trafficJam",
    };
    let severity = match a.severity {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
    };
    let mut doc = json!({
        "id": format!("urn:ngsi-ld:Alert:citybrain-{slot}"),
        "type": "Alert",
        "category": {"type": "Property", "value": "traffic"},
        "subCategory": {"type": "Property", "value": sub},
        "severity": {"type": "Property", "value": severity},
        "description": {"type": "Property", "value": crate::explain::alert_message(a)},
        "dateIssued": {"type": "Property", "value": stamp},
        "simulationTime": {"type": "Property", "value": a.time, "unitCode": "SEC"},
        "refRoad": {"type": "Relationship",
                    "object": format!("urn:ngsi-ld:RoadSegment:{}", a.road)},
    });
    if let Some(line) = line {
        doc["location"] =
            json!({"type": "GeoProperty", "value": {"type": "LineString", "coordinates": line}});
    }
    doc
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use citybrain_sim::generate::{GridSpec, grid};
    use citybrain_sim::{Engine, EngineConfig, Scenario};

    #[tokio::test]
    async fn what_the_brain_reads_back_is_what_the_twin_published() {
        let (roadnet, flow) = grid(&GridSpec { rows: 2, cols: 2, ..GridSpec::default() });
        let s = Scenario::from_json(&roadnet.to_string(), "r", &flow.to_string(), "f").unwrap();
        let mut engine = Engine::new(s.network.clone(), s.demand, EngineConfig::default()).unwrap();
        engine.run(300);
        let config = citybrain_signal::BrainConfig::new(citybrain_signal::ControlConfig::new(
            citybrain_signal::ControllerKind::Adaptive,
        ));
        let (mut a, mut b, mut lanes) = (Vec::new(), Vec::new(), Vec::new());
        crate::glue::read_detectors(&engine, &config, &mut a, &mut b, &mut lanes);
        assert!(lanes.iter().any(|l| l.vehicles > 0) && lanes.iter().any(|l| l.vehicles == 0));

        let dir = tempfile::tempdir().unwrap();
        let store = citybrain_store::SqliteStore::open(dir.path()).unwrap();
        let broker = Broker::open(Arc::new(store)).unwrap();
        let mut hub = HubLink::new(broker.clone(), &s.network);
        hub.publish(300.0, 0, &lanes, &[], &[]).await.unwrap();
        assert_eq!(hub.read_observations(lanes.len()).unwrap(), lanes);
        let (count, _) = broker.stats(DEFAULT_TENANT).unwrap();
        assert_eq!(count, s.network.roads().len());
    }
}
