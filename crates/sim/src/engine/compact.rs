//! Slot compaction: every so often the running vehicles are renumbered in queue order (lane
//! by lane, front to back), so that a vehicle's leader sits next to it in memory and freed
//! slots are dropped. Purely a memory layout change: the renumbering depends only on the
//! state, so runs stay deterministic and identical for any number of threads.

use super::Engine;
use super::state::{Lead, NONE};

/// Steps between compactions.
pub(super) const EVERY: u32 = 256;

impl Engine {
    pub(super) fn compact_slots(&mut self) {
        let n_drivables = self.q.head.len();
        let mut order: Vec<u32> = Vec::with_capacity(self.running as usize);
        for d in 0..n_drivables {
            order.extend(self.q.iter(d as u32));
        }
        let mut new_of = vec![NONE; self.st.len()];
        for (new, &old) in order.iter().enumerate() {
            new_of[old as usize] = new as u32;
        }
        let remap = |s: u32| if s == NONE { NONE } else { new_of[s as usize] };
        let n = order.len();
        let mut st = Vec::with_capacity(n);
        let mut lead = Vec::with_capacity(n);
        for &old in &order {
            let mut v = self.st[old as usize];
            v.blocker = remap(v.blocker);
            st.push(v);
            let l = self.lead[old as usize];
            lead.push(Lead { leader: remap(l.leader), gap: l.gap });
        }
        for v in &st {
            self.slot_of[v.id as usize] = new_of[self.slot_of[v.id as usize] as usize];
        }
        self.st = st;
        self.lead = lead;
        self.alive = vec![true; n];
        self.dec.truncate(n);
        self.free.clear();
        // Queues: each drivable's vehicles are now consecutive slots.
        self.q.ahead = vec![NONE; n];
        self.q.behind = vec![NONE; n];
        let mut s = 0u32;
        for d in 0..n_drivables {
            let len = self.q.len[d];
            if len == 0 {
                continue;
            }
            self.q.head[d] = s;
            self.q.tail[d] = s + len - 1;
            for k in s..s + len {
                if k > s {
                    self.q.ahead[k as usize] = k - 1;
                }
                if k + 1 < s + len {
                    self.q.behind[k as usize] = k + 1;
                }
            }
            s += len;
        }
    }
}
