//! The decision phase: each running vehicle's speed for the next step and where that takes it.
//!
//! The speed is the smallest of: the vehicle's own limit and acceleration, the drivable's
//! limit, safe following of the leader, and — near or inside an intersection — stopping at a
//! red light or a full exit lane, the turn speed, and yielding at conflict points; it never
//! drops by more than the largest deceleration allows. Decisions only read the state, so all
//! vehicles decide in parallel.

use super::conflict::Claims;
use super::kinematics::{self as k, can_yield, reach_steps};
use super::state::{Decision, Lead, NONE, Queues, VehState};
use super::tables::{PathAhead, Tables, VehType};
use crate::network::{CrossOnLink, RoadNetwork};

/// Read-only view of the world during a step.
pub(crate) struct View<'a> {
    pub(crate) t: &'a Tables,
    pub(crate) net: &'a RoadNetwork,
    pub(crate) st: &'a [VehState],
    pub(crate) lead: &'a [Lead],
    pub(crate) q: &'a Queues,
    pub(crate) claims: &'a Claims,
    /// Per road link: may move now.
    pub(crate) green: &'a [bool],
    /// Per lane: position of an active blockage (metres from the start), or +∞.
    pub(crate) blocks: Option<&'a [f64]>,
    pub(crate) step: u32,
    pub(crate) dt: f64,
}

impl View<'_> {
    #[inline]
    pub(crate) fn ty(&self, slot: u32) -> &VehType {
        &self.t.types[self.st[slot as usize].ty as usize]
    }

    #[inline]
    pub(crate) fn path_ahead(&self, v: &VehState) -> PathAhead<'_> {
        PathAhead {
            t: self.t,
            route: self.t.route(v.flow),
            next: v.next,
            last: if v.next == NONE { NONE } else { v.drivable },
            pos: v.route_pos,
        }
    }

    #[inline]
    fn link_green(&self, link_drivable: u32) -> bool {
        self.green[self.t.link_road_link[(link_drivable - self.t.n_lanes) as usize] as usize]
    }

    /// The decision of the vehicle in `slot` for this step.
    pub(crate) fn decide(&self, slot: u32) -> Decision {
        let v = &self.st[slot as usize];
        let ty = self.ty(slot);
        let p = &ty.p;
        let dt = self.dt;
        let d = v.drivable;
        let mut speed =
            p.max_speed_mps.min(v.speed + p.max_pos_acc * dt).min(self.t.dmax[d as usize]);
        let remaining = self.t.dlen[d as usize] - v.dis;
        if self.t.limit_ahead && remaining < speed * dt && v.next != NONE {
            speed = self.limit_ahead(v, speed, remaining);
        }
        speed = speed.min(self.follow_speed(slot, v));
        let mut blocker = NONE;
        if self.intersection_related(v, ty) {
            let (s, b) = self.intersection_speed(slot, v, ty);
            speed = speed.min(s);
            blocker = b;
        }
        let mut stop_at = f64::INFINITY;
        if let Some(gap) = self.blocks.and_then(|b| self.obstacle_gap(v, ty, b)) {
            let (un, mn) = (p.usual_neg_acc, p.max_neg_acc);
            speed = speed.min(k::car_follow_speed(p, v.speed, 0.0, mn, un, gap, dt));
            stop_at = gap;
        }
        speed = speed.max(v.speed - p.max_neg_acc * dt);
        let (speed, mut delta) = if speed < 0.0 {
            (0.0, 0.5 * v.speed * v.speed / p.max_neg_acc)
        } else {
            (speed, (v.speed + speed) * dt / 2.0)
        };
        // Nobody drives through a blockage, even when it appeared too close to brake for.
        delta = delta.min(stop_at);
        self.advance(v, speed, delta, blocker)
    }

    /// Moves `delta` metres along the planned path.
    fn advance(&self, v: &VehState, speed: f64, delta: f64, blocker: u32) -> Decision {
        let mut dis = v.dis + delta;
        let mut cur = v.drivable;
        let mut lanes_entered = 0;
        let mut ended = false;
        let mut ahead = self.path_ahead(v);
        while dis > self.t.dlen[cur as usize] {
            dis -= self.t.dlen[cur as usize];
            match ahead.next() {
                Some(n) => {
                    cur = n;
                    lanes_entered += u32::from(!self.t.is_link(n));
                }
                None => {
                    ended = true;
                    break;
                }
            }
        }
        Decision { speed, dis, drivable: cur, lanes_entered, blocker, ended }
    }

    /// Lowers `speed` to the limit of every drivable the vehicle could reach in this step, so
    /// that it never arrives somewhere faster than allowed (only matters where limits differ).
    fn limit_ahead(&self, v: &VehState, mut speed: f64, mut reach: f64) -> f64 {
        for d in self.path_ahead(v) {
            speed = speed.min(self.t.dmax[d as usize]);
            reach += self.t.dlen[d as usize];
            if reach >= speed * self.dt {
                break;
            }
        }
        speed
    }

    fn follow_speed(&self, slot: u32, v: &VehState) -> f64 {
        let lead = self.lead[slot as usize];
        let p = &self.ty(slot).p;
        if lead.leader == NONE {
            return p.max_speed_mps;
        }
        let l = &self.st[lead.leader as usize];
        let lp = &self.t.types[l.ty as usize].p;
        k::car_follow_speed(
            p,
            v.speed,
            l.speed,
            lp.max_neg_acc,
            lp.usual_neg_acc,
            lead.gap,
            self.dt,
        )
    }

    fn intersection_related(&self, v: &VehState, ty: &VehType) -> bool {
        if self.t.is_link(v.drivable) {
            return true;
        }
        v.next != NONE
            && self.t.is_link(v.next)
            && self.t.dlen[v.drivable as usize] - v.dis <= ty.approach_m
    }

    /// Speed limit from the intersection ahead (or the one the vehicle is in) and the vehicle
    /// it yields to, if any.
    fn intersection_speed(&self, slot: u32, v: &VehState, ty: &VehType) -> (f64, u32) {
        let p = &ty.p;
        let mut speed = p.max_speed_mps;
        let on_lane = !self.t.is_link(v.drivable);
        let link = if on_lane { v.next } else { v.drivable };
        if on_lane {
            let end_lane = self.t.link_end[(link - self.t.n_lanes) as usize];
            if !self.link_green(link) || !self.can_enter(end_lane, p.length_m) {
                let remaining = self.t.dlen[v.drivable as usize] - v.dis;
                // A vehicle that can no longer stop goes on (as on amber).
                if k::min_brake_distance(p, v.speed) <= remaining {
                    return (speed.min(k::stop_before_speed(p, v.speed, remaining, self.dt)), NONE);
                }
            }
            if self.t.link_turn[(link - self.t.n_lanes) as usize].is_turn() {
                speed = speed.min(p.turn_speed_mps);
            }
        }
        let to_start = if on_lane { -(self.t.dlen[v.drivable as usize] - v.dis) } else { v.dis };
        let link_id = (link - self.t.n_lanes) as usize;
        for c in &self.net.lane_links()[link_id].crosses {
            if c.distance < to_start {
                continue;
            }
            if let Some(foe) = self.must_yield(c, slot, v, link_id, to_start) {
                let gap = c.distance - to_start - p.yield_distance_m;
                speed = speed.min(k::stop_before_speed(p, v.speed, gap, self.dt));
                return (speed, foe);
            }
        }
        (speed, NONE)
    }

    /// Is there room to enter `lane`? The last vehicle must be clear of a vehicle of
    /// `length`, or be moving (≥ 2 m/s).
    fn can_enter(&self, lane: u32, length: f64) -> bool {
        let tail = self.q.tail[lane as usize];
        if tail == NONE {
            return true;
        }
        let t = &self.st[tail as usize];
        t.dis > self.ty(tail).p.length_m + length || t.speed >= 2.0
    }

    /// Right of way at a conflict point: the foe to yield to, or `None` to go on.
    fn must_yield(
        &self,
        c: &CrossOnLink,
        slot: u32,
        v: &VehState,
        link: usize,
        to_start: f64,
    ) -> Option<u32> {
        let other = 1 - usize::from(c.side);
        let cross = &self.net.crosses()[c.cross as usize];
        let foe_link = cross.lane_links[other].index();
        let pos = self.t.cross_pos[c.cross as usize][other];
        let (foe, d2) =
            self.claims.notifier(self.t, foe_link, pos, cross.distance[other], self.step + 1)?;
        let me = &self.ty(slot).p;
        let d1 = c.distance - to_start;
        if !can_yield(me, v.speed, d1) {
            return None;
        }
        let f = &self.st[foe as usize];
        let fp = &self.ty(foe).p;
        let (t1, t2) = (self.t.link_turn[link], self.t.link_turn[foe_link]);
        let steps = |st: &VehState, p: &crate::demand::VehicleParams, d: f64, l: usize| {
            let target =
                if self.t.link_turn[l].is_turn() { p.turn_speed_mps } else { p.max_speed_mps };
            reach_steps(st.speed, d, target, p.usual_pos_acc, self.dt)
        };
        let i_go = if !can_yield(fp, f.speed, d2) {
            false
        } else if t1 > t2 {
            true
        } else if t1 < t2 {
            if d2 > 0.0 {
                steps(f, fp, d2, foe_link) > steps(v, me, d1, link)
            } else {
                d2 + fp.length_m < 0.0
            }
        } else if d2 > 0.0 {
            let (fs, ms) = (steps(f, fp, d2, foe_link), steps(v, me, d1, link));
            if fs != ms {
                fs > ms
            } else if v.enter_link_step != f.enter_link_step {
                v.enter_link_step < f.enter_link_step
            } else if d1 == d2 {
                v.priority > f.priority
            } else {
                d1 < d2
            }
        } else {
            d2 + fp.length_m < 0.0
        };
        if i_go || self.deadlocked(foe) { None } else { Some(foe) }
    }

    /// Does the chain of "yields to" starting at `foe` loop? Then nobody would move, so the
    /// asking vehicle goes.
    fn deadlocked(&self, foe: u32) -> bool {
        let blocker = |s: u32| self.st[s as usize].blocker;
        let (mut slow, mut fast) = (foe, foe);
        while fast != NONE && blocker(fast) != NONE {
            slow = blocker(slow);
            fast = blocker(blocker(fast));
            if slow == fast {
                return true;
            }
        }
        false
    }

    /// Distance from the vehicle's front to the nearest active blockage ahead on its path,
    /// within its look-ahead distance.
    fn obstacle_gap(&self, v: &VehState, ty: &VehType, blocks: &[f64]) -> Option<f64> {
        let on_lane = !self.t.is_link(v.drivable);
        if on_lane {
            let b = blocks[v.drivable as usize];
            if b >= v.dis {
                return Some(b - v.dis);
            }
        }
        let mut dist = self.t.dlen[v.drivable as usize] - v.dis;
        for d in self.path_ahead(v) {
            if dist > ty.approach_m {
                break;
            }
            if !self.t.is_link(d) && blocks[d as usize].is_finite() {
                return Some(dist + blocks[d as usize]);
            }
            dist += self.t.dlen[d as usize];
        }
        None
    }
}
