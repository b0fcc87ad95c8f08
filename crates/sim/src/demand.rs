//! Demand: flows of vehicles with their parameters and routes, and route completion.
//!
//! A flow's `route` lists anchor roads; consecutive anchors are joined by the shortest path
//! (by average lane length, CityFlow's router), so a route may name only origin and
//! destination. Flows whose route cannot be completed are kept but never create vehicles,
//! with a warning, as CityFlow does.

use std::collections::{BTreeMap, BinaryHeap};

use crate::ids::RoadId;
use crate::network::RoadNetwork;

/// Driving parameters of a vehicle (CityFlow's `vehicle` object), SI units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VehicleParams {
    /// Length, metres.
    pub length_m: f64,
    /// Width, metres (drawing only).
    pub width_m: f64,
    /// Largest acceleration, m/s².
    pub max_pos_acc: f64,
    /// Largest (emergency) deceleration, m/s², positive.
    pub max_neg_acc: f64,
    /// Comfortable acceleration, m/s².
    pub usual_pos_acc: f64,
    /// Comfortable deceleration, m/s², positive.
    pub usual_neg_acc: f64,
    /// Gap kept to the leader when stopped, metres.
    pub min_gap_m: f64,
    /// Desired (and largest) speed, m/s.
    pub max_speed_mps: f64,
    /// Time headway kept to the leader, seconds.
    pub headway_time_s: f64,
    /// How far before a conflict point a yielding vehicle stops, metres (CityFlow: 5).
    pub yield_distance_m: f64,
    /// Speed when approaching a turning movement, m/s (CityFlow: 8.3333).
    pub turn_speed_mps: f64,
}

impl Default for VehicleParams {
    /// CityFlow's defaults.
    fn default() -> Self {
        Self {
            length_m: 5.0,
            width_m: 2.0,
            max_pos_acc: 4.5,
            max_neg_acc: 4.5,
            usual_pos_acc: 2.5,
            usual_neg_acc: 2.5,
            min_gap_m: 2.0,
            max_speed_mps: 16.66667,
            headway_time_s: 1.0,
            yield_distance_m: 5.0,
            turn_speed_mps: 8.3333,
        }
    }
}

/// One flow: identical vehicles created every `interval_s` between start and end time.
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    /// CityFlow's name, `flow_<index in file>`; vehicles are `<name>_<n>`.
    pub name: String,
    /// Vehicle parameters.
    pub params: VehicleParams,
    /// Anchor roads as given.
    pub anchors: Vec<RoadId>,
    /// The completed road sequence, or `None` when the anchors cannot be joined.
    pub route: Option<Vec<RoadId>>,
    /// First creation time, seconds.
    pub start_time_s: f64,
    /// Last creation time, seconds (`None`: no end).
    pub end_time_s: Option<f64>,
    /// Time between vehicles, seconds (> 0).
    pub interval_s: f64,
    /// Vehicles of this flow are emergency vehicles (extension; CityFlow ignores it).
    pub emergency: bool,
}

/// All flows of a scenario, in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Demand {
    /// The flows.
    pub flows: Vec<Flow>,
    /// Things that were accepted but are probably not what the author meant.
    pub warnings: Vec<String>,
}

/// Joins anchors with shortest paths. `None` if two consecutive anchors are not connected or
/// the result has fewer than two roads (CityFlow rejects single-road routes).
pub fn complete_route(net: &RoadNetwork, anchors: &[RoadId]) -> Option<Vec<RoadId>> {
    let mut router = Router::new(net);
    router.complete(anchors)
}

/// Shortest-path router with a cache of solved (from, to) pairs.
pub(crate) struct Router {
    /// Per road: the roads it leads to (CityFlow's candidates, in the intersection's order)
    /// with the cost of driving each (its average lane length).
    next: Vec<Vec<(RoadId, f64)>>,
    cache: BTreeMap<(RoadId, RoadId), Option<Vec<RoadId>>>,
    dist: Vec<f64>,
    from: Vec<u32>,
}

const NONE: u32 = u32::MAX;

#[derive(PartialEq)]
struct Entry(f64, RoadId);
impl Eq for Entry {}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Min-heap on distance, ties by road id.
        other.0.total_cmp(&self.0).then_with(|| other.1.cmp(&self.1))
    }
}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Router {
    pub(crate) fn new(net: &RoadNetwork) -> Self {
        let n = net.roads().len();
        let next = (0..n)
            .map(|r| {
                let road = RoadId::from_index(r);
                let node = net.intersection(net.road(road).end);
                node.roads
                    .iter()
                    .filter(|&&next| net.connects(road, next))
                    .map(|&next| (next, net.road_average_length(next)))
                    .collect()
            })
            .collect();
        Self { next, cache: BTreeMap::new(), dist: vec![f64::INFINITY; n], from: vec![NONE; n] }
    }

    pub(crate) fn complete(&mut self, anchors: &[RoadId]) -> Option<Vec<RoadId>> {
        let first = *anchors.first()?;
        let mut route = vec![first];
        for w in anchors.windows(2) {
            if w[0] == w[1] {
                continue;
            }
            let key = (w[0], w[1]);
            if !self.cache.contains_key(&key) {
                let path = self.shortest(w[0], w[1]);
                self.cache.insert(key, path);
            }
            route.extend_from_slice(self.cache.get(&key)?.as_ref()?);
        }
        (route.len() > 1).then_some(route)
    }

    /// Roads after `start` up to and including `end`.
    fn shortest(&mut self, start: RoadId, end: RoadId) -> Option<Vec<RoadId>> {
        self.dist.fill(f64::INFINITY);
        self.from.fill(NONE);
        let mut heap = BinaryHeap::new();
        self.dist[start.index()] = 0.0;
        heap.push(Entry(0.0, start));
        let mut found = false;
        while let Some(Entry(d, road)) = heap.pop() {
            if road == end {
                found = true;
                break;
            }
            if d > self.dist[road.index()] {
                continue;
            }
            for &(next, cost) in &self.next[road.index()] {
                let nd = d + cost;
                if nd < self.dist[next.index()] {
                    self.dist[next.index()] = nd;
                    self.from[next.index()] = road.0;
                    heap.push(Entry(nd, next));
                }
            }
        }
        if !found {
            return None;
        }
        let mut path = vec![end];
        let mut cur = end;
        while self.from[cur.index()] != NONE && RoadId(self.from[cur.index()]) != start {
            cur = RoadId(self.from[cur.index()]);
            path.push(cur);
        }
        path.reverse();
        Some(path)
    }
}
