//! The road network model: intersections, roads, lanes, road links (movements), lane links
//! (paths through an intersection), traffic-light phases and conflict points, all with dense
//! ids. External string ids are kept for output and looked up once.
//!
//! Terms (CityFlow's):
//! - A **road** goes from one intersection to another and has lanes, index 0 the innermost.
//! - A **road link** is a movement at an intersection (start road → end road) with a turn type.
//! - A **lane link** is one lane-to-lane path of a road link, with a polyline through the box.
//! - A **drivable** is a lane or a lane link: anything a vehicle can be on.
//! - A **cross** is a point where two lane links of one intersection cross (or merge/diverge).
//! - A **virtual** intersection is a boundary node where vehicles enter and leave; it has no
//!   movements and no signal.
//! - A **phase** (`lightphase`) lists the road links that may move and for how long (native).

mod build;
mod cross;

use std::collections::BTreeMap;

pub(crate) use build::{NetworkBuilder, RawLaneLink};

use crate::geom::{self, Point};
use crate::ids::{DrivableId, IntersectionId, LaneId, LaneLinkId, RoadId, RoadLinkId};

/// A movement's turn type. The order is CityFlow's right-of-way order: at a conflict point a
/// straight movement goes before a left turn, which goes before a right turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TurnType {
    /// `turn_right`
    TurnRight = 1,
    /// `turn_left`
    TurnLeft = 2,
    /// `go_straight`
    GoStraight = 3,
}

impl TurnType {
    /// CityFlow's name of the turn type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TurnRight => "turn_right",
            Self::TurnLeft => "turn_left",
            Self::GoStraight => "go_straight",
        }
    }

    /// Parses CityFlow's name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "turn_right" => Some(Self::TurnRight),
            "turn_left" => Some(Self::TurnLeft),
            "go_straight" => Some(Self::GoStraight),
            _ => None,
        }
    }

    /// Turning movements are limited to the vehicle's turn speed when approached.
    pub fn is_turn(self) -> bool {
        self != Self::GoStraight
    }
}

/// A signal phase: which of the intersection's road links may move, and its native duration.
#[derive(Clone, Debug, PartialEq)]
pub struct Phase {
    /// How long the native program shows this phase, seconds (> 0).
    pub duration_s: f64,
    /// Indices into the intersection's `road_links` that are green, as listed in the file.
    pub available_road_links: Vec<usize>,
    /// `green[i]`: road link `i` of the intersection is green in this phase.
    pub green: Vec<bool>,
}

/// An intersection (a node of the network).
#[derive(Clone, Debug, PartialEq)]
pub struct Intersection {
    /// External id, e.g. `intersection_1_1`.
    pub id: String,
    /// Centre point, metres.
    pub point: Point,
    /// Half the size of the box: roads are cut back by this much at non-virtual ends.
    pub width: f64,
    /// Boundary node without movements or signal.
    pub is_virtual: bool,
    /// Roads that touch the intersection, as listed in the file.
    pub roads: Vec<RoadId>,
    /// Movements, in file order (phase indices refer to positions in this list).
    pub road_links: Vec<RoadLinkId>,
    /// Signal phases (empty for virtual intersections and unsignalised ones).
    pub phases: Vec<Phase>,
    /// Conflict points between this intersection's lane links.
    pub crosses: std::ops::Range<u32>,
}

impl Intersection {
    /// Has a traffic light that cycles or can be set.
    pub fn is_signalised(&self) -> bool {
        !self.is_virtual && !self.phases.is_empty()
    }
}

/// A directed road.
#[derive(Clone, Debug, PartialEq)]
pub struct Road {
    /// External id, e.g. `road_0_1_0`.
    pub id: String,
    /// Where the road starts.
    pub start: IntersectionId,
    /// Where the road ends.
    pub end: IntersectionId,
    /// Centre-line polyline from the file (from `start` to `end`), metres.
    pub points: Vec<Point>,
    /// Lanes, innermost (index 0) first; consecutive ids.
    pub lanes: Vec<LaneId>,
}

/// A lane of a road.
#[derive(Clone, Debug, PartialEq)]
pub struct Lane {
    /// The road this lane belongs to.
    pub road: RoadId,
    /// Position among the road's lanes, 0 = innermost.
    pub index: usize,
    /// Lane width, metres.
    pub width: f64,
    /// Speed limit, m/s.
    pub max_speed: f64,
    /// Lane centre line, cut back by the intersection widths at non-virtual ends, metres.
    pub points: Vec<Point>,
    /// Length of `points`, metres.
    pub length: f64,
    /// Lane links leaving this lane, in the order the intersection lists them.
    pub out_links: Vec<LaneLinkId>,
    /// Lane links arriving at this lane.
    pub in_links: Vec<LaneLinkId>,
}

/// A movement at an intersection.
#[derive(Clone, Debug, PartialEq)]
pub struct RoadLink {
    /// Where the movement is.
    pub intersection: IntersectionId,
    /// Position in the intersection's `road_links` (what phases refer to).
    pub index: usize,
    /// Turn type.
    pub turn: TurnType,
    /// Incoming road.
    pub start_road: RoadId,
    /// Outgoing road.
    pub end_road: RoadId,
    /// Lane-level paths of this movement, in file order.
    pub lane_links: Vec<LaneLinkId>,
}

/// Where a cross lies on one of its lane links.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CrossOnLink {
    /// The cross (index into [`RoadNetwork::crosses`]).
    pub cross: u32,
    /// Which side of the cross this lane link is (0 or 1).
    pub side: u8,
    /// Distance of the cross from the lane link's start, metres.
    pub distance: f64,
}

/// A lane-to-lane path through an intersection.
#[derive(Clone, Debug, PartialEq)]
pub struct LaneLink {
    /// The movement this path belongs to.
    pub road_link: RoadLinkId,
    /// Lane it starts from.
    pub start_lane: LaneId,
    /// Lane it leads to.
    pub end_lane: LaneId,
    /// Path through the box, metres.
    pub points: Vec<Point>,
    /// Length of `points`, metres.
    pub length: f64,
    /// Crosses on this path, nearest to the start first.
    pub crosses: Vec<CrossOnLink>,
}

/// A conflict point between two lane links of one intersection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cross {
    /// The two lane links.
    pub lane_links: [LaneLinkId; 2],
    /// Distance of the point from the start of each lane link, metres.
    pub distance: [f64; 2],
}

/// What a drivable is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrivableKind {
    /// A lane of a road.
    Lane(LaneId),
    /// A path through an intersection.
    LaneLink(LaneLinkId),
}

/// The road network. Immutable once built; the engine shares it behind an `Arc`.
#[derive(Clone, Debug, Default)]
pub struct RoadNetwork {
    pub(crate) intersections: Vec<Intersection>,
    pub(crate) roads: Vec<Road>,
    pub(crate) lanes: Vec<Lane>,
    pub(crate) road_links: Vec<RoadLink>,
    pub(crate) lane_links: Vec<LaneLink>,
    pub(crate) crosses: Vec<Cross>,
    pub(crate) intersection_ids: BTreeMap<String, IntersectionId>,
    pub(crate) road_ids: BTreeMap<String, RoadId>,
}

impl RoadNetwork {
    /// All intersections, indexed by [`IntersectionId`].
    pub fn intersections(&self) -> &[Intersection] {
        &self.intersections
    }
    /// All roads, indexed by [`RoadId`].
    pub fn roads(&self) -> &[Road] {
        &self.roads
    }
    /// All lanes, indexed by [`LaneId`].
    pub fn lanes(&self) -> &[Lane] {
        &self.lanes
    }
    /// All road links, indexed by [`RoadLinkId`].
    pub fn road_links(&self) -> &[RoadLink] {
        &self.road_links
    }
    /// All lane links, indexed by [`LaneLinkId`].
    pub fn lane_links(&self) -> &[LaneLink] {
        &self.lane_links
    }
    /// All conflict points.
    pub fn crosses(&self) -> &[Cross] {
        &self.crosses
    }
    /// One intersection.
    pub fn intersection(&self, id: IntersectionId) -> &Intersection {
        &self.intersections[id.index()]
    }
    /// One road.
    pub fn road(&self, id: RoadId) -> &Road {
        &self.roads[id.index()]
    }
    /// One lane.
    pub fn lane(&self, id: LaneId) -> &Lane {
        &self.lanes[id.index()]
    }
    /// One road link.
    pub fn road_link(&self, id: RoadLinkId) -> &RoadLink {
        &self.road_links[id.index()]
    }
    /// One lane link.
    pub fn lane_link(&self, id: LaneLinkId) -> &LaneLink {
        &self.lane_links[id.index()]
    }
    /// Looks up an intersection by its external id.
    pub fn intersection_id(&self, external: &str) -> Option<IntersectionId> {
        self.intersection_ids.get(external).copied()
    }
    /// Looks up a road by its external id.
    pub fn road_id(&self, external: &str) -> Option<RoadId> {
        self.road_ids.get(external).copied()
    }
    /// CityFlow's external id of a lane: `<road id>_<lane index>`.
    pub fn lane_name(&self, id: LaneId) -> String {
        let lane = self.lane(id);
        format!("{}_{}", self.road(lane.road).id, lane.index)
    }
    /// Number of drivables (lanes, then lane links).
    pub fn drivable_count(&self) -> usize {
        self.lanes.len() + self.lane_links.len()
    }
    /// The drivable id of a lane.
    pub fn lane_drivable(&self, lane: LaneId) -> DrivableId {
        DrivableId(lane.0)
    }
    /// The drivable id of a lane link.
    pub fn lane_link_drivable(&self, link: LaneLinkId) -> DrivableId {
        DrivableId::from_index(self.lanes.len() + link.index())
    }
    /// Whether a drivable is a lane or a lane link.
    pub fn drivable_kind(&self, d: DrivableId) -> DrivableKind {
        if d.index() < self.lanes.len() {
            DrivableKind::Lane(LaneId(d.0))
        } else {
            DrivableKind::LaneLink(LaneLinkId::from_index(d.index() - self.lanes.len()))
        }
    }
    /// The polyline of a drivable.
    pub fn drivable_points(&self, d: DrivableId) -> &[Point] {
        match self.drivable_kind(d) {
            DrivableKind::Lane(l) => &self.lane(l).points,
            DrivableKind::LaneLink(l) => &self.lane_link(l).points,
        }
    }
    /// The length of a drivable, metres.
    pub fn drivable_length(&self, d: DrivableId) -> f64 {
        match self.drivable_kind(d) {
            DrivableKind::Lane(l) => self.lane(l).length,
            DrivableKind::LaneLink(l) => self.lane_link(l).length,
        }
    }
    /// Position and heading (radians, counter-clockwise from east) at `distance_m` along a
    /// drivable.
    pub fn position_on(&self, d: DrivableId, distance_m: f64) -> (Point, f64) {
        let points = self.drivable_points(d);
        let p = geom::point_at(points, distance_m);
        let dir = geom::direction_at(points, distance_m);
        let heading = if dir.x.is_finite() && dir.y.is_finite() { dir.angle() } else { 0.0 };
        (p, heading)
    }
    /// Does `road`'s lanes have any lane link to `next`?
    pub fn connects(&self, road: RoadId, next: RoadId) -> bool {
        self.road(road).lanes.iter().any(|&l| self.lane_links_to_road(l, next).next().is_some())
    }
    /// Lane links from `lane` that end on a lane of `road`, in order.
    pub fn lane_links_to_road(
        &self,
        lane: LaneId,
        road: RoadId,
    ) -> impl Iterator<Item = LaneLinkId> + '_ {
        self.lane(lane)
            .out_links
            .iter()
            .copied()
            .filter(move |&l| self.lane(self.lane_link(l).end_lane).road == road)
    }
    /// Average lane length of a road (the cost CityFlow's router uses), metres.
    pub fn road_average_length(&self, road: RoadId) -> f64 {
        let lanes = &self.road(road).lanes;
        if lanes.is_empty() {
            return 0.0;
        }
        lanes.iter().map(|&l| self.lane(l).length).sum::<f64>() / lanes.len() as f64
    }
    /// Bounding box of all road polylines, `[min, max]`, for drawing.
    pub fn bounding_box(&self) -> Option<[Point; 2]> {
        geom::bounding_box(self.roads.iter().map(|r| r.points.as_slice()))
    }
}
