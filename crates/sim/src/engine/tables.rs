//! Compact, read-only tables compiled from the network and demand for the hot loop, and the
//! planned path of a vehicle (which lane link it takes next, and after that).

use crate::demand::{Demand, VehicleParams};
use crate::network::{RoadNetwork, TurnType};

use super::state::NONE;

/// CityFlow's speed limit on lane links (none, in effect).
const CITYFLOW_LINK_LIMIT: f64 = 10_000.0;

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
    /// Look ahead for lower limits (off in CityFlow-exact mode).
    pub(crate) limit_ahead: bool,
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
    /// Per lane: the lane links leaving it (lane-link indices, the lane's order), as a range
    /// into `out_links`.
    pub(crate) out_at: Vec<(u32, u32)>,
    pub(crate) out_links: Vec<u32>,
    /// Per cross: its position in each side's list of crosses.
    pub(crate) cross_pos: Vec<[u32; 2]>,
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
    /// `cityflow_exact`: lane links have no limit and nothing is looked at ahead, as in CityFlow.
    pub(crate) fn new(net: &RoadNetwork, demand: &Demand, dt: f64, cityflow_exact: bool) -> Self {
        let n_lanes = u32::try_from(net.lanes().len()).expect("lane count fits in u32");
        let mut dlen: Vec<f64> = net.lanes().iter().map(|l| l.length).collect();
        let mut dmax: Vec<f64> = net.lanes().iter().map(|l| l.max_speed).collect();
        dlen.extend(net.lane_links().iter().map(|l| l.length));
        if cityflow_exact {
            dmax.extend(net.lane_links().iter().map(|_| CITYFLOW_LINK_LIMIT));
        } else {
            dmax.extend(net.lane_links().iter().map(|l| net.lane(l.end_lane).max_speed));
        }
        let mut t = Tables {
            limit_ahead: !cityflow_exact,
            n_lanes,
            dlen,
            dmax,
            lane_road: net.lanes().iter().map(|l| l.road.0).collect(),
            lane_index: net.lanes().iter().map(|l| l.index as u32).collect(),
            link_start: net.lane_links().iter().map(|l| l.start_lane.0).collect(),
            link_end: net.lane_links().iter().map(|l| l.end_lane.0).collect(),
            link_road_link: net.lane_links().iter().map(|l| l.road_link.0).collect(),
            link_turn: net.lane_links().iter().map(|l| net.road_link(l.road_link).turn).collect(),
            cross_pos: cross_positions(net),
            out_at: Vec::with_capacity(net.lanes().len()),
            out_links: Vec::new(),
            route_at: Vec::new(),
            routes: Vec::new(),
            first_lanes_at: Vec::new(),
            first_lanes: Vec::new(),
            flow_type: Vec::new(),
            types: Vec::new(),
        };
        for lane in net.lanes() {
            let at = t.out_links.len() as u32;
            t.out_links.extend(lane.out_links.iter().map(|l| l.0));
            t.out_at.push((at, lane.out_links.len() as u32));
        }
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

    /// Lane links leaving `lane` (lane-link indices).
    #[inline]
    pub(crate) fn out(&self, lane: u32) -> &[u32] {
        let (at, len) = self.out_at[lane as usize];
        &self.out_links[at as usize..(at + len) as usize]
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
    pub(crate) fn next_after_lane(&self, lane: u32, route: &[u32], pos: u32) -> u32 {
        let pos = pos as usize;
        let Some(&next_road) = route.get(pos + 1) else { return NONE };
        let after = route.get(pos + 2).copied();
        let cur = i64::from(self.lane_index[lane as usize]);
        let mut best = NONE;
        let mut best_diff = i64::MAX;
        for &link in self.out(lane) {
            let end = self.link_end[link as usize];
            if self.lane_road[end as usize] != next_road {
                continue;
            }
            if let Some(after) = after {
                let continues = self
                    .out(end)
                    .iter()
                    .any(|&l2| self.lane_road[self.link_end[l2 as usize] as usize] == after);
                if !continues {
                    continue;
                }
            }
            let diff = (i64::from(self.lane_index[end as usize]) - cur).abs();
            if diff < best_diff {
                best_diff = diff;
                best = link;
            }
        }
        if best == NONE { NONE } else { self.n_lanes + best }
    }

    /// What follows drivable `d` on the planned path, `pos` being the route position of `d`
    /// (of its start lane for a link). Returns the drivable and the route position there.
    #[inline]
    pub(crate) fn after(&self, d: u32, route: &[u32], pos: u32) -> (u32, u32) {
        if self.is_link(d) {
            (self.link_end[(d - self.n_lanes) as usize], pos + 1)
        } else {
            (self.next_after_lane(d, route, pos), pos)
        }
    }
}

fn cross_positions(net: &RoadNetwork) -> Vec<[u32; 2]> {
    let mut pos = vec![[0u32; 2]; net.crosses().len()];
    for link in net.lane_links() {
        for (i, c) in link.crosses.iter().enumerate() {
            pos[c.cross as usize][usize::from(c.side)] = i as u32;
        }
    }
    pos
}

/// Walks the planned path beyond a vehicle's current drivable. Each step works out only the
/// drivable it returns, so a search that stops early pays for nothing beyond.
pub(crate) struct PathAhead<'a> {
    pub(crate) t: &'a Tables,
    pub(crate) route: &'a [u32],
    /// The drivable to return next, if already known (`NONE`: work it out from `last`).
    pub(crate) next: u32,
    /// The last drivable returned (or the vehicle's own) and its route position.
    pub(crate) last: u32,
    pub(crate) pos: u32,
}

impl Iterator for PathAhead<'_> {
    type Item = u32;
    #[inline]
    fn next(&mut self) -> Option<u32> {
        let d = if self.next != NONE {
            std::mem::replace(&mut self.next, NONE)
        } else if self.last == NONE {
            return None;
        } else {
            self.t.after(self.last, self.route, self.pos).0
        };
        if d == NONE {
            self.last = NONE;
            return None;
        }
        if !self.t.is_link(d) {
            self.pos += 1;
        }
        self.last = d;
        Some(d)
    }
}
