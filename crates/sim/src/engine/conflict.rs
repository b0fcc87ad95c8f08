//! The notification phase: every conflict point learns, for each of its two lane links, which
//! vehicle is nearest to it and how far away.
//!
//! For each lane link the conflict points are visited from the far end backwards, and claimed
//! in turn by: the last vehicle that left the link onto its end lane (until its tail clears a
//! point), the vehicles on the link (front first; a point stays claimed until the tail of
//! the vehicle passing it has cleared it), and finally the first vehicle waiting on the start
//! lane if it is heading for this link and the link is green. Intersections are independent,
//! so this runs in parallel over intersections.

use super::decide::Notify;
use super::state::{NONE, Queues, VehState};
use super::tables::Tables;
use crate::network::RoadNetwork;

/// Inputs of the phase.
pub(crate) struct NotifyCtx<'a> {
    pub(crate) t: &'a Tables,
    pub(crate) net: &'a RoadNetwork,
    pub(crate) st: &'a [VehState],
    pub(crate) q: &'a Queues,
    pub(crate) green: &'a [bool],
    pub(crate) stamp: u32,
}

impl NotifyCtx<'_> {
    /// Fills `out` (the crosses of intersection `inter`, starting at cross index `base`).
    pub(crate) fn intersection(&self, inter: usize, base: u32, out: &mut [[Notify; 2]]) {
        let net = self.net;
        for rl in &net.intersections()[inter].road_links {
            for &link in &net.road_link(*rl).lane_links {
                self.lane_link(link.index(), base, out);
            }
        }
    }

    fn len_of(&self, slot: u32) -> f64 {
        self.t.types[self.st[slot as usize].ty as usize].p.length_m
    }

    fn lane_link(&self, link: usize, base: u32, out: &mut [[Notify; 2]]) {
        let ll = &self.net.lane_links()[link];
        let crosses = &ll.crosses;
        if crosses.is_empty() {
            return;
        }
        let d = self.t.n_lanes + link as u32;
        let mut r = crosses.len();
        let mut put = |c: &crate::network::CrossOnLink, vehicle: u32, dist: f64| {
            out[(c.cross - base) as usize][usize::from(c.side)] =
                Notify { vehicle, stamp: self.stamp, dist };
        };
        // The vehicle that just left the link, until its tail clears each point.
        let tail = self.q.tail[ll.end_lane.index()];
        if tail != NONE && self.st[tail as usize].prev == d {
            let v = &self.st[tail as usize];
            let tail_in = v.dis - self.len_of(tail);
            while r > 0 {
                let c = &crosses[r - 1];
                let cross_to_end = ll.length - c.distance;
                if cross_to_end + tail_in < 0.0 {
                    put(c, tail, -(v.dis + cross_to_end));
                    r -= 1;
                } else {
                    break;
                }
            }
        }
        // Vehicles on the link, front first.
        for s in self.q.iter(d) {
            let dis = self.st[s as usize].dis;
            while r > 0 {
                let c = &crosses[r - 1];
                if dis > c.distance {
                    if dis - c.distance - self.len_of(s) <= 0.0 {
                        put(c, s, c.distance - dis);
                        r -= 1;
                    } else {
                        break;
                    }
                } else {
                    put(c, s, c.distance - dis);
                    r -= 1;
                }
            }
        }
        // The first vehicle on the start lane, if it heads here and may go.
        let head = self.q.head[ll.start_lane.index()];
        if head != NONE
            && self.st[head as usize].next == d
            && self.green[self.t.link_road_link[link] as usize]
        {
            let to_end = self.t.dlen[ll.start_lane.index()] - self.st[head as usize].dis;
            while r > 0 {
                let c = &crosses[r - 1];
                put(c, head, to_end + c.distance);
                r -= 1;
            }
        }
    }
}
