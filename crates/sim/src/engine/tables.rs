//! Compact, read-only tables compiled from the network and demand for the hot loop, and the
//! planned path of a vehicle (which lane link it takes next, and after that).

use crate::demand::{Demand, VehicleParams};
use crate::ids::LaneId;
use crate::network::{RoadNetwork, TurnType};

use super::state::NONE;

/// Per vehicle type: parameters plus distances derived from them and the step length.
#[derive(Clone, Copy, Debug)]
pub(crate) struct VehType {
    pub(crate) p: VehicleParams,
    /// Within this distance of a lane's end a vehicle attends to the intersection ahead; it
    /// also bounds how far ahead a vehicle looks for a leader.
    pub(crate) approach_m: f64,
}

/// Everything the step reads that never changes during a run.
pub(crate) struct Tables {
    pub(crate) n_lanes: u32,
    /// Per drivable: length, metres.
    pub(crate) dlen: Vec<f64>,
    /// Per drivable: speed limit, m/s (a lane link takes its end lane's limit).
    pub(crate) dmax: Vec<f64>,
    /// Per lane: road and index within the road.
    pub(crate) lane_road: Vec<u32>,
    pub(crate) lane_index: Vec<u32>,
    /// Per lane link: start lane, end lane, road link, turn type.
    pub(crate) link_start: Vec<u32>,
    pub(crate) link_end: Vec<u32>,
    pub(crate) link_road_link: Vec<u32>,
    pub(crate) link_turn: Vec<TurnType>,
    /// Per flow: route (roads) and the lanes a vehicle may start on, as ranges into arenas.
    pub(crate) route_at: Vec<(u32, u32)>,
    pub(crate) routes: Vec<u32>,
    pub(crate) first_lanes_at: Vec<(u32, u32)>,
    pub(crate) first_lanes: Vec<u32>,
    /// Per flow: its vehicle type.
    pub(crate) flow_type: Vec<u32>,
    pub(crate) types: Vec<VehType>,
}

impl Tables {
    pub(crate) fn new(net: &RoadNetwork, demand: &Demand, dt: f64) -> Self {
        let n_lanes = u32::try_from(net.lanes().len()).expect("lane count fits in u32");
        let mut dlen: Vec<f64> = net.lanes().iter().map(|l| l.length).collect();
        let mut dmax: Vec<f64> = net.lanes().iter().map(|l| l.max_speed).collect();
        dlen.extend(net.lane_links().iter().map(|l| l.length));
        dmax.extend(net.lane_links().iter().map(|l| net.lane(l.end_lane).max_speed));
        let mut t = Tables {
            n_lanes,
            dlen,
            dmax,
            lane_road: net.lanes().iter().map(|l| l.road.0).collect(),
            lane_index: net.lanes().iter().map(|l| l.index as u32).collect(),
            link_start: net.lane_links().iter().map(|l| l.start_lane.0).collect(),
            link_end: net.lane_links().iter().map(|l| l.end_lane.0).collect(),
            link_road_link: net.lane_links().iter().map(|l| l.road_link.0).collect(),
            link_turn: net.lane_links().iter().map(|l| net.road_link(l.road_link).turn).collect(),
            route_at: Vec::new(),
            routes: Vec::new(),
            first_lanes_at: Vec::new(),
            first_lanes: Vec::new(),
            flow_type: Vec::new(),
            types: Vec::new(),
        };
        for flow in &demand.flows {
            let route: Vec<u32> = flow.route.iter().flatten().map(|r| r.0).collect();
            let at = t.routes.len() as u32;
            t.routes.extend_from_slice(&route);
            t.route_at.push((at, route.len() as u32));
            let first_at = t.first_lanes.len() as u32;
            if route.len() >= 2 {
                let (r0, r1) = (route[0], route[1]);
                for &lane in &net.road(crate::ids::RoadId(r0)).lanes {
                    if net.lane_links_to_road(lane, crate::ids::RoadId(r1)).next().is_some() {
                        t.first_lanes.push(lane.0);
                    }
                }
            }
            t.first_lanes_at.push((first_at, t.first_lanes.len() as u32 - first_at));
            let ty = match t.types.iter().position(|x| x.p == flow.params) {
                Some(i) => i,
                None => {
                    let p = flow.params;
                    let approach_m = p.max_speed_mps * p.max_speed_mps / p.usual_neg_acc / 2.0
                        + p.max_speed_mps * dt * 2.0;
                    t.types.push(VehType { p, approach_m });
                    t.types.len() - 1
                }
            };
            t.flow_type.push(ty as u32);
        }
        t
    }

    #[inline]
    pub(crate) fn is_link(&self, d: u32) -> bool {
        d >= self.n_lanes
    }

    #[inline]
    pub(crate) fn route(&self, flow: u32) -> &[u32] {
        let (at, len) = self.route_at[flow as usize];
        &self.routes[at as usize..(at + len) as usize]
    }

    pub(crate) fn first_lanes(&self, flow: u32) -> &[u32] {
        let (at, len) = self.first_lanes_at[flow as usize];
        &self.first_lanes[at as usize..(at + len) as usize]
    }

    /// The lane link (as a drivable id) a vehicle on `lane`, at route position `pos`, takes
    /// next: among the links to the next road whose end lane leads on to the road after it,
    /// the one whose end lane index is closest to the current lane's (first on ties).
    /// `NONE` at the route's last road, or when no link fits (the vehicle then leaves at the
    /// lane's end, as in CityFlow).
    pub(crate) fn next_after_lane(
        &self,
        net: &RoadNetwork,
        lane: u32,
        route: &[u32],
        pos: u32,
    ) -> u32 {
        let pos = pos as usize;
        let Some(&next_road) = route.get(pos + 1) else { return NONE };
        let after = route.get(pos + 2).copied();
        let cur = i64::from(self.lane_index[lane as usize]);
        let mut best = NONE;
        let mut best_diff = i64::MAX;
        for &link in &net.lane(LaneId(lane)).out_links {
            let end = self.link_end[link.index()];
            if self.lane_road[end as usize] != next_road {
                continue;
            }
            if let Some(after) = after {
                let continues = net
                    .lane(LaneId(end))
                    .out_links
                    .iter()
                    .any(|l2| self.lane_road[self.link_end[l2.index()] as usize] == after);
                if !continues {
                    continue;
                }
            }
            let diff = (i64::from(self.lane_index[end as usize]) - cur).abs();
            if diff < best_diff {
                best_diff = diff;
                best = link.0;
            }
        }
        if best == NONE { NONE } else { self.n_lanes + best }
    }

    /// What follows drivable `d` on the planned path, `pos` being the route position of `d`
    /// (of its start lane for a link). Returns the drivable and the route position there.
    #[inline]
    pub(crate) fn after(&self, net: &RoadNetwork, d: u32, route: &[u32], pos: u32) -> (u32, u32) {
        if self.is_link(d) {
            (self.link_end[(d - self.n_lanes) as usize], pos + 1)
        } else {
            (self.next_after_lane(net, d, route, pos), pos)
        }
    }
}

/// Walks the planned path beyond a vehicle's current drivable.
pub(crate) struct PathAhead<'a> {
    pub(crate) t: &'a Tables,
    pub(crate) net: &'a RoadNetwork,
    pub(crate) route: &'a [u32],
    /// Next drivable to yield (already known) and the route position of the last yielded.
    pub(crate) next: u32,
    pub(crate) pos: u32,
}

impl Iterator for PathAhead<'_> {
    type Item = u32;
    #[inline]
    fn next(&mut self) -> Option<u32> {
        let d = self.next;
        if d == NONE {
            return None;
        }
        if !self.t.is_link(d) {
            self.pos += 1;
        }
        self.next = if self.t.is_link(d) {
            self.t.link_end[(d - self.t.n_lanes) as usize]
        } else {
            self.t.next_after_lane(self.net, d, self.route, self.pos)
        };
        Some(d)
    }
}
