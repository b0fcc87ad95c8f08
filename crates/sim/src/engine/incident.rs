//! Incidents: a lane blocked at a point for a time window (a crash, a stalled truck).
//!
//! While a blockage is active, vehicles treat the point as a stationary obstacle: they follow
//! it as they would a stopped leader, queue behind it, and never pass it; nobody enters the
//! lane from outside the network if the point is within the first vehicle length. Vehicles
//! whose front is already past the point drive on.
//!
//! To detectors a blockage is what it is on a real road: a stopped occupant (a broken-down or
//! crashed vehicle) standing at the point. [`Engine::observe_lanes`] counts it as a halted
//! vehicle on the lane; it is not a simulated vehicle, so metrics do not count it.

use super::Engine;
use crate::error::ControlError;
use crate::ids::LaneId;

/// Handle of a blockage, to clear it early.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockId(pub u32);

/// A blockage of one lane at a point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LaneBlock {
    /// The lane.
    pub lane: LaneId,
    /// Distance of the blocked point from the lane's start, metres.
    pub position_m: f64,
    /// Active from this simulation time, seconds.
    pub from_s: f64,
    /// Active until (not including) this time, seconds.
    pub until_s: f64,
}

/// All blockages and, per lane, the position of the nearest active one.
#[derive(Clone, Debug, Default)]
pub(crate) struct Blocks {
    list: Vec<Option<LaneBlock>>,
    /// Per lane: nearest active blocked point, or +∞.
    pos: Vec<f64>,
    any_active: bool,
}

impl Blocks {
    pub(crate) fn new(lanes: usize) -> Self {
        Self { list: Vec::new(), pos: vec![f64::INFINITY; lanes], any_active: false }
    }

    /// Recomputes which blockages are active at `now_s`.
    pub(crate) fn refresh(&mut self, now_s: f64) {
        if self.list.is_empty() {
            return;
        }
        self.pos.fill(f64::INFINITY);
        self.any_active = false;
        for b in self.list.iter().flatten() {
            if b.from_s <= now_s && now_s < b.until_s {
                let p = &mut self.pos[b.lane.index()];
                *p = p.min(b.position_m);
                self.any_active = true;
            }
        }
    }

    /// Per-lane positions when any blockage is active.
    pub(crate) fn active(&self) -> Option<&[f64]> {
        self.any_active.then_some(self.pos.as_slice())
    }

    /// Position of the active blockage on a lane (+∞ if none).
    pub(crate) fn lane_pos(&self, lane: u32) -> f64 {
        self.pos[lane as usize]
    }

    /// Position of the nearest blockage on `lane` active at `now_s` (+∞ if none). Unlike
    /// [`Blocks::lane_pos`] it does not wait for the next step's refresh.
    pub(crate) fn position_at(&self, lane: u32, now_s: f64) -> f64 {
        self.list
            .iter()
            .flatten()
            .filter(|b| b.lane.0 == lane && b.from_s <= now_s && now_s < b.until_s)
            .map(|b| b.position_m)
            .fold(f64::INFINITY, f64::min)
    }
}

impl Engine {
    /// Blocks `lane` at `position_m` (metres from its start) from `from_s` until `until_s`
    /// (simulation seconds). Takes effect from the next step that starts in the window.
    pub fn block_lane(
        &mut self,
        lane: LaneId,
        position_m: f64,
        from_s: f64,
        until_s: f64,
    ) -> Result<BlockId, ControlError> {
        let l = self.net.lanes().get(lane.index()).ok_or(ControlError::UnknownLane(lane.0))?;
        if !(0.0..=l.length).contains(&position_m) {
            return Err(ControlError::InvalidArgument(format!(
                "position {position_m} m is not on the lane; expected 0..={:.1}",
                l.length
            )));
        }
        if !(from_s.is_finite() && until_s > from_s) {
            return Err(ControlError::InvalidArgument(format!(
                "block window {from_s}..{until_s} s is empty; expected from < until"
            )));
        }
        let id = BlockId(self.blocks.list.len() as u32);
        self.blocks.list.push(Some(LaneBlock { lane, position_m, from_s, until_s }));
        self.blocks.refresh(self.time_s());
        Ok(id)
    }

    /// Removes a blockage (no effect if already removed).
    pub fn clear_block(&mut self, id: BlockId) {
        if let Some(b) = self.blocks.list.get_mut(id.0 as usize) {
            *b = None;
        }
        self.blocks.refresh(self.time_s());
    }

    /// All blockages that have not been cleared.
    pub fn lane_blocks(&self) -> impl Iterator<Item = (BlockId, LaneBlock)> + '_ {
        self.blocks.list.iter().enumerate().filter_map(|(i, b)| b.map(|b| (BlockId(i as u32), b)))
    }
}
