//! Synthetic scenarios in CityFlow's format, for scale tests and benchmarks.
//!
//! [`grid`] lays out `rows × cols` signalised intersections `road_length_m` apart, with a
//! virtual boundary node beyond each edge intersection, two-way roads of `lanes` lanes, and
//! the usual lane use: left turns from lane 0, right turns from the outermost lane, straight
//! on from the lanes between (every lane when there are fewer than three); each movement
//! reaches every lane of its exit road. Lane-link paths are left out (the importer derives
//! CityFlow's curves). Signals run a four-phase plan (east-west straight 30 s, east-west left
//! 15 s, north-south straight 30 s, north-south left 15 s; right turns always).
//!
//! Demand: every entry road gets six flows to random exit roads (origin and destination
//! only; the importer completes the shortest path), spread evenly over the hour so that
//! `vehicles_per_hour` vehicles are created in total. Everything follows from `seed`.

use serde_json::{Value, json};

use crate::rng::{self, Site};

/// Size and demand of a generated grid.
#[derive(Clone, Debug, PartialEq)]
pub struct GridSpec {
    /// Rows of signalised intersections (≥ 1).
    pub rows: usize,
    /// Columns of signalised intersections (≥ 1).
    pub cols: usize,
    /// Lanes per road direction (≥ 1).
    pub lanes: usize,
    /// Distance between neighbouring intersections, metres.
    pub road_length_m: f64,
    /// Vehicles created over one hour.
    pub vehicles_per_hour: u64,
    /// Seed of the origin-destination choice.
    pub seed: u64,
}

impl Default for GridSpec {
    fn default() -> Self {
        Self { rows: 4, cols: 4, lanes: 3, road_length_m: 300.0, vehicles_per_hour: 1920, seed: 0 }
    }
}

/// Headings, counter-clockwise from east.
const DX: [i64; 4] = [1, 0, -1, 0];
const DY: [i64; 4] = [0, 1, 0, -1];
const FLOWS_PER_ENTRY: usize = 6;
const HOUR_S: f64 = 3600.0;

/// Builds the roadnet and flow documents of a grid.
pub fn grid(spec: &GridSpec) -> (Value, Value) {
    let g = Grid { rows: spec.rows.max(1) as i64, cols: spec.cols.max(1) as i64 };
    let lanes = spec.lanes.max(1);
    let len = spec.road_length_m;
    let mut intersections = Vec::new();
    let mut roads = Vec::new();
    for y in 0..=g.rows + 1 {
        for x in 0..=g.cols + 1 {
            if !g.exists(x, y) {
                continue;
            }
            for h in 0..4 {
                let (nx, ny) = (x + DX[h], y + DY[h]);
                if g.exists(nx, ny) && (g.interior(x, y) || g.interior(nx, ny)) {
                    roads.push(json!({
                        "id": road_id(x, y, h),
                        "points": [point(x, y, len), point(nx, ny, len)],
                        "lanes": vec![json!({"width": 4.0, "maxSpeed": 11.111}); lanes],
                        "startIntersection": inter_id(x, y),
                        "endIntersection": inter_id(nx, ny),
                    }));
                }
            }
            intersections.push(g.intersection(x, y, lanes, len));
        }
    }
    let flows = g.flows(spec);
    (json!({ "intersections": intersections, "roads": roads }), Value::Array(flows))
}

/// A road at the edge and the boundary node it touches.
type BoundaryRoad = (String, (i64, i64));

struct Grid {
    rows: i64,
    cols: i64,
}

fn inter_id(x: i64, y: i64) -> String {
    format!("intersection_{x}_{y}")
}

fn road_id(x: i64, y: i64, heading: usize) -> String {
    format!("road_{x}_{y}_{heading}")
}

fn point(x: i64, y: i64, len: f64) -> Value {
    json!({"x": x as f64 * len, "y": y as f64 * len})
}

impl Grid {
    fn interior(&self, x: i64, y: i64) -> bool {
        (1..=self.cols).contains(&x) && (1..=self.rows).contains(&y)
    }

    /// Interior nodes plus boundary nodes beside them (no corners).
    fn exists(&self, x: i64, y: i64) -> bool {
        let edge_x = (x == 0 || x == self.cols + 1) && (1..=self.rows).contains(&y);
        let edge_y = (y == 0 || y == self.rows + 1) && (1..=self.cols).contains(&x);
        self.interior(x, y) || edge_x || edge_y
    }

    fn intersection(&self, x: i64, y: i64, lanes: usize, len: f64) -> Value {
        let mut roads = Vec::new();
        for h in 0..4 {
            let (nx, ny) = (x + DX[h], y + DY[h]);
            if self.exists(nx, ny) && (self.interior(x, y) || self.interior(nx, ny)) {
                roads.push(road_id(x, y, h));
                roads.push(road_id(nx, ny, (h + 2) % 4));
            }
        }
        if !self.interior(x, y) {
            return json!({
                "id": inter_id(x, y), "point": point(x, y, len), "width": 0, "roads": roads,
                "roadLinks": [], "trafficLight": {"lightphases": []}, "virtual": true,
            });
        }
        // Approach a: vehicles arriving heading `a`, on the road from the neighbour behind.
        let mut links = Vec::new();
        for a in 0..4 {
            let from = road_id(x - DX[a], y - DY[a], a);
            for (turn, out, starts) in [
                ("turn_left", (a + 1) % 4, vec![0]),
                ("go_straight", a, straight_lanes(lanes)),
                ("turn_right", (a + 3) % 4, vec![lanes - 1]),
            ] {
                let lane_links: Vec<Value> = starts
                    .iter()
                    .flat_map(|&s| {
                        (0..lanes).map(move |e| json!({"startLaneIndex": s, "endLaneIndex": e}))
                    })
                    .collect();
                links.push(json!({
                    "type": turn, "startRoad": from, "endRoad": road_id(x, y, out),
                    "direction": a, "laneLinks": lane_links,
                }));
            }
        }
        // Link index = 3 * approach + (0 left, 1 straight, 2 right).
        let rights = [2, 5, 8, 11];
        let phase = |time: u32, extra: [usize; 2]| {
            let mut avail: Vec<usize> = rights.to_vec();
            avail.extend(extra);
            json!({"time": time, "availableRoadLinks": avail})
        };
        json!({
            "id": inter_id(x, y), "point": point(x, y, len), "width": 10.0, "roads": roads,
            "roadLinks": links,
            "trafficLight": {"lightphases": [
                phase(30, [1, 7]), phase(15, [0, 6]), phase(30, [4, 10]), phase(15, [3, 9]),
            ]},
            "virtual": false,
        })
    }

    /// Entry roads (boundary → grid) and exit roads (grid → boundary), with their boundary node.
    fn boundary_roads(&self) -> (Vec<BoundaryRoad>, Vec<BoundaryRoad>) {
        let (mut entries, mut exits) = (Vec::new(), Vec::new());
        for y in 0..=self.rows + 1 {
            for x in 0..=self.cols + 1 {
                if !self.exists(x, y) || self.interior(x, y) {
                    continue;
                }
                for h in 0..4 {
                    let (nx, ny) = (x + DX[h], y + DY[h]);
                    if self.interior(nx, ny) {
                        entries.push((road_id(x, y, h), (x, y)));
                        exits.push((road_id(nx, ny, (h + 2) % 4), (x, y)));
                    }
                }
            }
        }
        (entries, exits)
    }

    fn flows(&self, spec: &GridSpec) -> Vec<Value> {
        let (entries, exits) = self.boundary_roads();
        let n_flows = entries.len() * FLOWS_PER_ENTRY;
        let interval = HOUR_S * n_flows as f64 / spec.vehicles_per_hour.max(1) as f64;
        let mut flows = Vec::with_capacity(n_flows);
        for (i, (entry, node)) in entries.iter().enumerate() {
            for k in 0..FLOWS_PER_ENTRY {
                let subject = (i * FLOWS_PER_ENTRY + k) as u64;
                let mut pick = rng::below(spec.seed, subject, Site::Generator, exits.len());
                if exits[pick].1 == *node {
                    pick = (pick + 1) % exits.len();
                }
                // Stagger the flows so that the hour's vehicles do not arrive in bursts.
                let offset = rng::below(spec.seed, subject + (1 << 40), Site::Generator, 1000)
                    as f64
                    / 1000.0
                    * interval.min(HOUR_S);
                flows.push(json!({
                    "vehicle": {
                        "length": 5.0, "width": 2.0, "maxPosAcc": 2.0, "maxNegAcc": 4.5,
                        "usualPosAcc": 2.0, "usualNegAcc": 4.5, "minGap": 2.5,
                        "maxSpeed": 11.111, "headwayTime": 2,
                    },
                    "route": [entry, exits[pick].0],
                    "interval": interval,
                    "startTime": offset.floor(),
                    "endTime": HOUR_S - 1.0,
                }));
            }
        }
        flows
    }
}

fn straight_lanes(lanes: usize) -> Vec<usize> {
    if lanes < 3 { (0..lanes).collect() } else { (1..lanes - 1).collect() }
}
