//! The leader phase: each vehicle finds the vehicle it follows and the gap to it.
//!
//! On the same drivable the leader is simply the vehicle ahead. The front vehicle of a
//! drivable looks along its planned path, up to its look-ahead distance: on a lane it follows
//! the last vehicle there; at a lane link it follows the nearest tail among *all* lane links
//! leaving the same lane, because those paths overlap where they start.

use super::decide::View;
use super::state::{Lead, NONE};

impl View<'_> {
    /// The leader of the vehicle in `slot`.
    pub(crate) fn lead_of(&self, slot: u32) -> Lead {
        let v = &self.st[slot as usize];
        let ahead = self.q.ahead[slot as usize];
        if ahead != NONE {
            let a = &self.st[ahead as usize];
            return Lead { leader: ahead, gap: a.dis - self.ty(ahead).p.length_m - v.dis };
        }
        let look = self.ty(slot).approach_m;
        let mut dist = self.t.dlen[v.drivable as usize] - v.dis;
        for d in self.path_ahead(v) {
            if self.t.is_link(d) {
                let start = self.t.link_start[(d - self.t.n_lanes) as usize];
                let mut best = Lead::NONE;
                for &link in self.t.out(start) {
                    let tail = self.q.tail[(self.t.n_lanes + link) as usize];
                    if tail != NONE {
                        let gap = dist + self.st[tail as usize].dis - self.ty(tail).p.length_m;
                        if best.leader == NONE || gap < best.gap {
                            best = Lead { leader: tail, gap };
                        }
                    }
                }
                if best.leader != NONE {
                    return best;
                }
            } else {
                let tail = self.q.tail[d as usize];
                if tail != NONE {
                    let gap = dist + self.st[tail as usize].dis - self.ty(tail).p.length_m;
                    return Lead { leader: tail, gap };
                }
            }
            dist += self.t.dlen[d as usize];
            if dist > look {
                return Lead::NONE;
            }
        }
        Lead::NONE
    }
}
