//! Citybrain's traffic digital twin: a CityFlow-compatible microscopic simulator.
//!
//! - [`import`] reads CityFlow's `roadnet.json`, `flow.json` and `config.json` into a
//!   [`RoadNetwork`] and a [`Demand`] with dense ids; every error names the file, the JSON
//!   path and what was expected.
//! - [`Engine`] steps the scenario deterministically: same inputs and seed, bit-identical
//!   results, for any number of threads. It models CityFlow's mechanics (car following with
//!   the vehicle parameters, lanes chosen at route planning, right of way at the conflict
//!   points of lane links, waiting queues at entrances, native fixed-time lights), exposes a
//!   control API for signal controllers, detector-like observations, vehicle positions,
//!   emergency vehicles and lane blockages, and computes CityFlow's metrics.
//! - [`replay`] writes and reads a compact binary record of vehicle positions over time.
//! - [`generate`] builds synthetic grid scenarios in CityFlow's format for scale tests.
//!
//! The crate does no I/O beyond parsing strings and writing to a caller's `Write`, has no
//! clock and no async runtime.
//!
//! # For signal controllers and the cockpit
//! - **Network** ([`Engine::network`], [`RoadNetwork`]): intersections (point, `is_virtual`,
//!   `road_links`, `phases` with `available_road_links` and `green[i]`), roads (polyline,
//!   lanes), lanes (width, limit, centre line, `out_links`), road links (turn type, start and
//!   end road, lane links), lane links (path, start and end lane); dense ids, external ids via
//!   `id` fields and [`RoadNetwork::lane_name`]; [`RoadNetwork::bounding_box`] for a map.
//! - **Control**: [`EngineConfig::control`] ([`ControlMode::Native`] cycles each light's
//!   phases from phase 0; [`ControlMode::External`] holds them), [`Engine::set_phase`] (applies
//!   from the next step), [`Engine::phase`], [`Engine::set_intersection_control`] for one
//!   light, [`Engine::road_link_green`].
//! - **Observations** (what detectors see): [`Engine::observe_lanes`] fills one
//!   [`LaneObservation`] per lane (vehicles, halted < 0.1 m/s, mean speed, vehicles within a
//!   distance of the stop line, queue outside the network, halted vehicles standing apart from
//!   any queue, the back of the queue; a blocked point counts as a halted occupant) — one pass over the running
//!   vehicles, microseconds for a district; [`Engine::lane_vehicle_count`] in constant time.
//! - **Vehicles**: [`Engine::vehicles`] / [`Engine::vehicle`] ([`VehicleView`]: lane or lane
//!   link and distance, speed, emergency flag), [`Engine::vehicle_xy`] for drawing,
//!   [`Engine::vehicle_records`] (creation, lane entry, exit), [`Engine::emergency_vehicles`]
//!   (position, lane, remaining route), [`Engine::set_emergency`],
//!   [`EngineConfig::emergency_every_s`]; flows may carry `"emergency": true`.
//! - **Incidents**: [`Engine::block_lane`] / [`Engine::clear_block`].
//! - **Metrics**: [`Engine::metrics`] (CityFlow's definitions).
//!
//! ```
//! use std::sync::Arc;
//! use citybrain_sim::{generate, Engine, EngineConfig, Scenario};
//!
//! let grid = generate::GridSpec { rows: 2, cols: 2, vehicles_per_hour: 600, ..Default::default() };
//! let (roadnet, flow) = generate::grid(&grid);
//! let scenario = Scenario::from_json(&roadnet.to_string(), "roadnet", &flow.to_string(), "flow").unwrap();
//! let mut engine = Engine::new(scenario.network, scenario.demand, EngineConfig::default()).unwrap();
//! engine.run(300);
//! assert!(engine.metrics().created > 0);
//! ```

pub mod demand;
pub mod engine;
pub mod error;
pub mod generate;
pub mod geom;
pub mod ids;
pub mod import;
pub mod network;
pub mod replay;
mod rng;

use std::sync::Arc;

pub use demand::{Demand, Flow, VehicleParams};
pub use engine::{
    BlockId, ControlMode, EmergencyVehicle, Engine, EngineConfig, LaneBlock, LaneObservation,
    Metrics, STOPPED_APART_GAP_M, VehicleRecord, VehicleView,
};
pub use error::{ControlError, ImportError};
pub use ids::{
    DrivableId, FlowId, IntersectionId, LaneId, LaneLinkId, Location, RoadId, RoadLinkId, VehicleId,
};
pub use network::{RoadNetwork, TurnType};

/// A road network with its demand, ready for an [`Engine`].
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The road network.
    pub network: Arc<RoadNetwork>,
    /// The flows.
    pub demand: Arc<Demand>,
}

impl Scenario {
    /// Parses a roadnet and a flow file; the names label error messages.
    pub fn from_json(
        roadnet: &str,
        roadnet_name: &str,
        flow: &str,
        flow_name: &str,
    ) -> Result<Self, ImportError> {
        // The two documents are parsed side by side; flows are resolved once the network exists.
        let (network, raw_flows) = rayon::join(
            || import::parse_roadnet(roadnet, roadnet_name),
            || import::parse_raw_flows(flow, flow_name),
        );
        let network = network?;
        let demand = import::resolve_flows(&raw_flows?, flow_name, &network)?;
        Ok(Self { network: Arc::new(network), demand: Arc::new(demand) })
    }
}
