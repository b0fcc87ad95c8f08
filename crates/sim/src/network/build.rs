//! Assembles a [`RoadNetwork`] from already-validated parts and derives the geometry CityFlow
//! derives: lane centre lines cut back at intersections, Bézier paths for lane links that
//! come without points, and the conflict points (crosses) between lane links.

use super::{Intersection, Lane, LaneLink, Phase, Road, RoadLink, RoadNetwork, TurnType, cross};
use crate::geom::{self, Point};
use crate::ids::{IntersectionId, LaneId, LaneLinkId, RoadId, RoadLinkId};

/// A lane link as given in the file, with lane indices already checked against the roads.
#[derive(Clone, Debug)]
pub(crate) struct RawLaneLink {
    pub(crate) start_lane_index: usize,
    pub(crate) end_lane_index: usize,
    /// `None` (or empty in the file): derive a Bézier curve as CityFlow does.
    pub(crate) points: Option<Vec<Point>>,
}

struct PendingRoadLink {
    intersection: IntersectionId,
    turn: TurnType,
    start_road: RoadId,
    end_road: RoadId,
    lane_links: Vec<RawLaneLink>,
}

/// Collects intersections, roads and movements, then derives geometry in [`Self::finish`].
#[derive(Default)]
pub(crate) struct NetworkBuilder {
    net: RoadNetwork,
    pending_links: Vec<PendingRoadLink>,
    /// Lane specs per road until `finish` creates the lanes.
    lane_specs: Vec<Vec<(f64, f64)>>,
}

impl NetworkBuilder {
    pub(crate) fn add_intersection(
        &mut self,
        id: String,
        point: Point,
        width: f64,
        is_virtual: bool,
    ) -> IntersectionId {
        let iid = IntersectionId::from_index(self.net.intersections.len());
        self.net.intersection_ids.insert(id.clone(), iid);
        self.net.intersections.push(Intersection {
            id,
            point,
            width,
            is_virtual,
            roads: Vec::new(),
            road_links: Vec::new(),
            phases: Vec::new(),
            crosses: 0..0,
        });
        iid
    }

    pub(crate) fn add_road(
        &mut self,
        id: String,
        start: IntersectionId,
        end: IntersectionId,
        points: Vec<Point>,
        lanes: Vec<(f64, f64)>,
    ) -> RoadId {
        let rid = RoadId::from_index(self.net.roads.len());
        self.net.road_ids.insert(id.clone(), rid);
        self.net.roads.push(Road { id, start, end, points, lanes: Vec::new() });
        self.lane_specs.push(lanes);
        rid
    }

    pub(crate) fn set_intersection_roads(&mut self, iid: IntersectionId, roads: Vec<RoadId>) {
        self.net.intersections[iid.index()].roads = roads;
    }

    pub(crate) fn add_road_link(
        &mut self,
        intersection: IntersectionId,
        turn: TurnType,
        start_road: RoadId,
        end_road: RoadId,
        lane_links: Vec<RawLaneLink>,
    ) {
        self.pending_links.push(PendingRoadLink {
            intersection,
            turn,
            start_road,
            end_road,
            lane_links,
        });
    }

    pub(crate) fn add_phase(
        &mut self,
        iid: IntersectionId,
        duration_s: f64,
        available: Vec<usize>,
    ) {
        self.net.intersections[iid.index()].phases.push(Phase {
            duration_s,
            available_road_links: available,
            green: Vec::new(),
        });
    }

    /// Number of lanes a road will have (for validating lane indices).
    pub(crate) fn lane_count(&self, road: RoadId) -> usize {
        self.lane_specs[road.index()].len()
    }

    /// Derives lanes, lane links and crosses. Fails with a message if a lane ends up with no
    /// length (its road is shorter than the intersections it joins).
    pub(crate) fn finish(mut self) -> Result<RoadNetwork, (RoadId, String)> {
        self.build_lanes()?;
        let pending = std::mem::take(&mut self.pending_links);
        for link in pending {
            self.build_road_link(link);
        }
        let net = &mut self.net;
        for i in 0..net.intersections.len() {
            let n_links = net.intersections[i].road_links.len();
            for phase in &mut net.intersections[i].phases {
                phase.green = vec![false; n_links];
                for &a in &phase.available_road_links {
                    phase.green[a] = true;
                }
            }
        }
        cross::compute_all(net);
        Ok(self.net)
    }

    fn build_lanes(&mut self) -> Result<(), (RoadId, String)> {
        for r in 0..self.net.roads.len() {
            let rid = RoadId::from_index(r);
            let trimmed = self.trimmed_road_points(rid);
            let mut offset = 0.0;
            let specs = std::mem::take(&mut self.lane_specs[r]);
            for (index, &(width, max_speed)) in specs.iter().enumerate() {
                let points = offset_polyline(&trimmed, offset + width / 2.0);
                let length = geom::polyline_length(&points);
                if length.is_nan() || length <= 0.0 {
                    return Err((
                        rid,
                        format!(
                            "lane {index} has no length after cutting back the intersections' \
                             widths; expected a road longer than the boxes at its ends"
                        ),
                    ));
                }
                offset += width;
                let lid = LaneId::from_index(self.net.lanes.len());
                self.net.roads[r].lanes.push(lid);
                self.net.lanes.push(Lane {
                    road: rid,
                    index,
                    width,
                    max_speed,
                    points,
                    length,
                    out_links: Vec::new(),
                    in_links: Vec::new(),
                });
            }
            self.lane_specs[r] = specs;
        }
        Ok(())
    }

    /// The road's polyline cut back by the width of each non-virtual end intersection.
    fn trimmed_road_points(&self, rid: RoadId) -> Vec<Point> {
        let road = &self.net.roads[rid.index()];
        let mut pts = road.points.clone();
        let start = &self.net.intersections[road.start.index()];
        let end = &self.net.intersections[road.end.index()];
        let n = pts.len();
        if !start.is_virtual {
            pts[0] = pts[0] + (pts[1] - pts[0]).unit() * start.width;
        }
        if !end.is_virtual {
            pts[n - 1] = pts[n - 1] - (pts[n - 1] - pts[n - 2]).unit() * end.width;
        }
        pts
    }

    fn build_road_link(&mut self, p: PendingRoadLink) {
        let rlid = RoadLinkId::from_index(self.net.road_links.len());
        let index = self.net.intersections[p.intersection.index()].road_links.len();
        self.net.intersections[p.intersection.index()].road_links.push(rlid);
        let mut ids = Vec::with_capacity(p.lane_links.len());
        for raw in p.lane_links {
            let start_lane = self.net.roads[p.start_road.index()].lanes[raw.start_lane_index];
            let end_lane = self.net.roads[p.end_road.index()].lanes[raw.end_lane_index];
            let points = match raw.points {
                Some(points) if !points.is_empty() => points,
                _ => self.bezier_path(start_lane, end_lane),
            };
            let llid = LaneLinkId::from_index(self.net.lane_links.len());
            self.net.lanes[start_lane.index()].out_links.push(llid);
            self.net.lanes[end_lane.index()].in_links.push(llid);
            let length = geom::polyline_length(&points);
            self.net.lane_links.push(LaneLink {
                road_link: rlid,
                start_lane,
                end_lane,
                points,
                length,
                crosses: Vec::new(),
            });
            ids.push(llid);
        }
        self.net.road_links.push(RoadLink {
            intersection: p.intersection,
            index,
            turn: p.turn,
            start_road: p.start_road,
            end_road: p.end_road,
            lane_links: ids,
        });
    }

    /// CityFlow's default lane-link path: a cubic Bézier from the start lane's end to the end
    /// lane's start, with control points half the chord ahead of each (at least 5 m in boxes
    /// at least 5 m wide). CityFlow measures these on lanes that are not yet cut back; for
    /// straight roads that is the same as the cut-back lanes' end points.
    fn bezier_path(&self, start_lane: LaneId, end_lane: LaneId) -> Vec<Point> {
        let net = &self.net;
        let sl = &net.lanes[start_lane.index()];
        let el = &net.lanes[end_lane.index()];
        let s_width = net.intersections[net.roads[sl.road.index()].end.index()].width;
        let e_width = net.intersections[net.roads[el.road.index()].start.index()].width;
        let (s_full, e_full) = (self.untrimmed_lane(start_lane), self.untrimmed_lane(end_lane));
        let s_len = geom::polyline_length(&s_full);
        let start = geom::point_at(&s_full, s_len - s_width);
        let end = geom::point_at(&e_full, e_width);
        let len = (end - start).len();
        let s_dir = geom::direction_at(&s_full, s_len - s_width);
        let e_dir = geom::direction_at(&e_full, e_width);
        let mut gap1 = s_dir * (len * 0.5);
        let mut gap2 = -e_dir * (len * 0.5);
        if gap1.x * gap1.x + gap1.y * gap1.y < 25.0 && s_width >= 5.0 {
            gap1 = s_dir * 5.0;
        }
        if gap2.x * gap2.x + gap2.y * gap2.y < 25.0 && e_width >= 5.0 {
            gap2 = e_dir * 5.0;
        }
        let (mid1, mid2) = (start + gap1, end + gap2);
        let lerp =
            |a: Point, b: Point, t: f64| Point::new((b.x - a.x) * t + a.x, (b.y - a.y) * t + a.y);
        (0..=10)
            .map(|i| {
                let t = f64::from(i) / 10.0;
                let (p1, p2, p3) = (lerp(start, mid1, t), lerp(mid1, mid2, t), lerp(mid2, end, t));
                lerp(lerp(p1, p2, t), lerp(p2, p3, t), t)
            })
            .collect()
    }

    fn untrimmed_lane(&self, lane: LaneId) -> Vec<Point> {
        let l = &self.net.lanes[lane.index()];
        let road = &self.net.roads[l.road.index()];
        let specs = &self.lane_specs[l.road.index()];
        let offset: f64 = specs[..l.index].iter().map(|s| s.0).sum::<f64>() + l.width / 2.0;
        offset_polyline(&road.points, offset)
    }
}

/// Shifts a polyline to its right by `d` (CityFlow's lane construction: bisector at inner
/// points, without lengthening at bends).
fn offset_polyline(pts: &[Point], d: f64) -> Vec<Point> {
    let n = pts.len();
    (0..n)
        .map(|j| {
            let u = if j == 0 {
                (pts[1] - pts[0]).unit()
            } else if j + 1 == n {
                (pts[j] - pts[j - 1]).unit()
            } else {
                ((pts[j + 1] - pts[j]).unit() + (pts[j] - pts[j - 1]).unit()).unit()
            };
            pts[j] + (-u.normal()) * d
        })
        .collect()
}
