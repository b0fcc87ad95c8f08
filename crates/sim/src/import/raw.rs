//! The CityFlow JSON shapes, as serde reads them. Unknown fields are ignored (CityFlow files
//! carry extras such as `direction` and `roadLinkIndices`); semantic checks happen after.

use std::borrow::Cow;

use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct RawPoint {
    pub(super) x: f64,
    pub(super) y: f64,
}

#[derive(Deserialize)]
pub(super) struct Roadnet {
    pub(super) intersections: Vec<RawIntersection>,
    pub(super) roads: Vec<RawRoad>,
}

#[derive(Deserialize)]
pub(super) struct RawIntersection {
    pub(super) id: String,
    pub(super) point: RawPoint,
    pub(super) width: Option<f64>,
    pub(super) roads: Vec<String>,
    #[serde(rename = "roadLinks")]
    pub(super) road_links: Option<Vec<RawRoadLink>>,
    #[serde(rename = "trafficLight")]
    pub(super) traffic_light: Option<RawTrafficLight>,
    #[serde(rename = "virtual")]
    pub(super) is_virtual: bool,
}

#[derive(Deserialize)]
pub(super) struct RawRoad {
    pub(super) id: String,
    pub(super) points: Vec<RawPoint>,
    pub(super) lanes: Vec<RawLane>,
    #[serde(rename = "startIntersection")]
    pub(super) start_intersection: String,
    #[serde(rename = "endIntersection")]
    pub(super) end_intersection: String,
}

#[derive(Deserialize)]
pub(super) struct RawLane {
    pub(super) width: f64,
    #[serde(rename = "maxSpeed")]
    pub(super) max_speed: f64,
}

#[derive(Deserialize)]
pub(super) struct RawRoadLink {
    #[serde(rename = "type")]
    pub(super) kind: String,
    #[serde(rename = "startRoad")]
    pub(super) start_road: String,
    #[serde(rename = "endRoad")]
    pub(super) end_road: String,
    #[serde(rename = "laneLinks")]
    pub(super) lane_links: Vec<RawLaneLinkJson>,
}

#[derive(Deserialize)]
pub(super) struct RawLaneLinkJson {
    #[serde(rename = "startLaneIndex")]
    pub(super) start_lane_index: i64,
    #[serde(rename = "endLaneIndex")]
    pub(super) end_lane_index: i64,
    pub(super) points: Option<Vec<RawPoint>>,
}

#[derive(Deserialize)]
pub(super) struct RawTrafficLight {
    pub(super) lightphases: Vec<RawPhase>,
}

#[derive(Deserialize)]
pub(super) struct RawPhase {
    pub(super) time: f64,
    #[serde(rename = "availableRoadLinks")]
    pub(super) available_road_links: Vec<i64>,
}

#[derive(Deserialize)]
pub(super) struct RawFlow<'a> {
    pub(super) vehicle: RawVehicle,
    #[serde(borrow)]
    pub(super) route: Vec<Name<'a>>,
    pub(super) interval: f64,
    #[serde(rename = "startTime")]
    pub(super) start_time: Option<f64>,
    #[serde(rename = "endTime")]
    pub(super) end_time: Option<f64>,
    #[serde(default)]
    pub(super) emergency: bool,
}

#[derive(Deserialize)]
pub(super) struct RawVehicle {
    pub(super) length: f64,
    pub(super) width: f64,
    #[serde(rename = "maxPosAcc")]
    pub(super) max_pos_acc: f64,
    #[serde(rename = "maxNegAcc")]
    pub(super) max_neg_acc: f64,
    #[serde(rename = "usualPosAcc")]
    pub(super) usual_pos_acc: f64,
    #[serde(rename = "usualNegAcc")]
    pub(super) usual_neg_acc: f64,
    #[serde(rename = "minGap")]
    pub(super) min_gap: f64,
    #[serde(rename = "maxSpeed")]
    pub(super) max_speed: f64,
    #[serde(rename = "headwayTime")]
    pub(super) headway_time: f64,
}

#[derive(Deserialize)]
pub(super) struct RawConfig {
    pub(super) interval: f64,
    #[serde(default)]
    pub(super) seed: u64,
    #[serde(default)]
    pub(super) dir: String,
    #[serde(rename = "roadnetFile")]
    pub(super) roadnet_file: String,
    #[serde(rename = "flowFile")]
    pub(super) flow_file: String,
    #[serde(rename = "rlTrafficLight", default)]
    pub(super) rl_traffic_light: bool,
    #[serde(rename = "laneChange", default)]
    pub(super) lane_change: bool,
}

/// A string that borrows from the input when it has no escapes (road names in routes).
pub(super) struct Name<'a>(pub(super) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Name<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Name<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a road id (string)")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}
