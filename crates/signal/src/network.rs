//! The signal plan side of the network: what the brain knows about roads, lanes and intersections.
//!
//! The caller (the binary's glue to the twin, or the hub adapter of the live demo) builds a
//! [`Network`] once, with dense ids of its own choosing, and then feeds per-step observations
//! indexed by the same [`LaneId`]s. Nothing here refers to the simulator.

use serde::Serialize;

use crate::SignalError;

macro_rules! dense_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        pub struct $name(pub u32);

        impl $name {
            /// The id as an index into the dense vector it names.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

dense_id!(
    /// A lane, an index into [`Network::lanes`] and [`crate::Observation::lanes`].
    LaneId
);
dense_id!(
    /// A road, an index into [`Network::roads`].
    RoadId
);
dense_id!(
    /// A signalised intersection, an index into [`Network::intersections`].
    IntersectionId
);

/// A phase of one intersection: an index into [`Intersection::phases`] (the roadnet's
/// `lightphases` index, so it can be handed to the twin unchanged).
pub type PhaseIdx = usize;

/// How a movement turns. Right turns are never in conflict with the transition phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Turn {
    /// Straight through.
    Straight,
    /// Left turn.
    Left,
    /// Right turn.
    Right,
    /// U-turn or anything else.
    Other,
}

/// A road between two nodes; either end may be outside the controlled area (`None`).
#[derive(Clone, Debug, PartialEq)]
pub struct Road {
    /// External id, used in alerts and explanations.
    pub name: String,
    /// Lanes of this road, innermost first.
    pub lanes: Vec<LaneId>,
    /// Signalised intersection at the road's start, if any.
    pub from: Option<IntersectionId>,
    /// Signalised intersection at the road's end, if any.
    pub to: Option<IntersectionId>,
}

/// One lane.
#[derive(Clone, Debug, PartialEq)]
pub struct Lane {
    /// The road this lane belongs to.
    pub road: RoadId,
    /// Length in metres.
    pub length_m: f64,
    /// Speed limit in metres per second (free-flow speed).
    pub speed_limit_mps: f64,
}

/// A movement (a roadnet "road link"): traffic from one road into another through an intersection.
#[derive(Clone, Debug, PartialEq)]
pub struct Movement {
    /// Incoming road.
    pub from_road: RoadId,
    /// Outgoing road.
    pub to_road: RoadId,
    /// Turn type.
    pub turn: Turn,
    /// Distinct incoming lanes this movement leaves from.
    pub in_lanes: Vec<LaneId>,
    /// Distinct outgoing lanes this movement feeds.
    pub out_lanes: Vec<LaneId>,
}

/// A phase: the movements that have green together.
#[derive(Clone, Debug, PartialEq)]
pub struct Phase {
    /// Indices into [`Intersection::movements`].
    pub movements: Vec<usize>,
}

/// A signalised intersection's plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Intersection {
    /// External id.
    pub name: String,
    /// Its movements (road links).
    pub movements: Vec<Movement>,
    /// Its phases, in the roadnet's order.
    pub phases: Vec<Phase>,
    /// The phase shown between two different greens (right turns only in the shared roadnets).
    /// `None` means the twin shows "every movement red except right turns" on request.
    pub transition: Option<PhaseIdx>,
}

impl Intersection {
    /// The green phases (every phase but the transition), in order.
    pub fn green_phases(&self) -> impl Iterator<Item = PhaseIdx> + '_ {
        (0..self.phases.len()).filter(move |p| Some(*p) != self.transition)
    }

    /// Whether `movement` has green in `phase`.
    pub fn serves(&self, phase: PhaseIdx, movement: usize) -> bool {
        self.phases.get(phase).is_some_and(|p| p.movements.contains(&movement))
    }

    /// Distinct incoming lanes of the movements of `phase`, in first-seen order.
    pub fn phase_in_lanes(&self, phase: PhaseIdx) -> Vec<LaneId> {
        let mut lanes = Vec::new();
        for &m in &self.phases[phase].movements {
            for &l in &self.movements[m].in_lanes {
                if !lanes.contains(&l) {
                    lanes.push(l);
                }
            }
        }
        lanes
    }

    /// Distinct incoming lanes of all movements.
    pub fn in_lanes(&self) -> Vec<LaneId> {
        let mut lanes = Vec::new();
        for m in &self.movements {
            for &l in &m.in_lanes {
                if !lanes.contains(&l) {
                    lanes.push(l);
                }
            }
        }
        lanes
    }
}

/// Everything the brain knows about the controlled area.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Network {
    /// Roads, indexed by [`RoadId`].
    pub roads: Vec<Road>,
    /// Lanes, indexed by [`LaneId`].
    pub lanes: Vec<Lane>,
    /// Signalised intersections, indexed by [`IntersectionId`].
    pub intersections: Vec<Intersection>,
}

impl Network {
    /// The road a lane belongs to.
    pub fn road_of(&self, lane: LaneId) -> RoadId {
        self.lanes[lane.index()].road
    }

    /// Looks a road up by its external id.
    pub fn road_by_name(&self, name: &str) -> Option<RoadId> {
        self.roads.iter().position(|r| r.name == name).map(|i| RoadId(i as u32))
    }

    /// Free-flow travel time of a road in seconds (its longest lane at its speed limit).
    pub fn free_flow_s(&self, road: RoadId) -> f64 {
        self.roads[road.index()]
            .lanes
            .iter()
            .map(|l| {
                let lane = &self.lanes[l.index()];
                lane.length_m / lane.speed_limit_mps.max(0.1)
            })
            .fold(0.0, f64::max)
    }

    /// Checks that every id is in range and every intersection has at least one green phase.
    pub fn validate(&self) -> Result<(), SignalError> {
        let bad = |what: String| Err(SignalError::Layout(what));
        for (i, lane) in self.lanes.iter().enumerate() {
            if lane.road.index() >= self.roads.len() {
                return bad(format!("lane {i} names road {} out of range", lane.road.0));
            }
            if !(lane.length_m > 0.0 && lane.speed_limit_mps > 0.0) {
                return bad(format!("lane {i} needs a positive length and speed limit"));
            }
        }
        for road in &self.roads {
            let ends = road.from.iter().chain(road.to.iter());
            if road.lanes.iter().any(|l| l.index() >= self.lanes.len())
                || ends.clone().any(|i| i.index() >= self.intersections.len())
            {
                return bad(format!("road {} has a lane or end out of range", road.name));
            }
        }
        for node in &self.intersections {
            self.validate_intersection(node)?;
        }
        Ok(())
    }

    fn validate_intersection(&self, node: &Intersection) -> Result<(), SignalError> {
        let name = &node.name;
        let lane_ok = |l: &LaneId| l.index() < self.lanes.len();
        for m in &node.movements {
            if m.from_road.index() >= self.roads.len()
                || m.to_road.index() >= self.roads.len()
                || !m.in_lanes.iter().all(lane_ok)
                || !m.out_lanes.iter().all(lane_ok)
            {
                return Err(SignalError::Layout(format!(
                    "intersection {name}: a movement names a road or lane out of range"
                )));
            }
        }
        if node.phases.iter().any(|p| p.movements.iter().any(|&m| m >= node.movements.len())) {
            return Err(SignalError::Layout(format!(
                "intersection {name}: a phase names a movement out of range"
            )));
        }
        if node.transition.is_some_and(|t| t >= node.phases.len()) {
            return Err(SignalError::Layout(format!(
                "intersection {name}: transition phase out of range"
            )));
        }
        if node.green_phases().next().is_none() {
            return Err(SignalError::Layout(format!("intersection {name}: no green phase")));
        }
        Ok(())
    }
}
