//! Slot compaction: every so often the running vehicles are renumbered in queue order (lane
//! by lane, front to back), so that a vehicle's leader sits next to it in memory and freed
//! slots are dropped. Purely a memory layout change: the renumbering depends only on the
//! state, so runs stay deterministic and identical for any number of threads.

use super::Engine;
use super::state::NONE;

/// Steps between compactions.
pub(super) const EVERY: u32 = 256;

impl Engine {
    pub(super) fn compact_slots(&mut self) {
        let n_drivables = self.q.head.len();
        let slots = self.st.len();
        // New numbers: running vehicles in queue order first, freed slots after them.
        let mut new_of = vec![NONE; slots];
        let mut next = 0u32;
        for d in 0..n_drivables {
            let mut s = self.q.head[d];
            while s != NONE {
                new_of[s as usize] = next;
                next += 1;
                s = self.q.behind[s as usize];
            }
        }
        let n = next as usize;
        for slot in new_of.iter_mut().filter(|s| **s == NONE) {
            *slot = next;
            next += 1;
        }
        let remap = |s: u32| if s == NONE { NONE } else { new_of[s as usize] };
        for (old, v) in self.st.iter_mut().enumerate() {
            if self.alive[old] {
                v.blocker = remap(v.blocker);
                self.slot_of[v.id as usize] = new_of[old];
            }
        }
        for l in &mut self.lead {
            l.leader = remap(l.leader);
        }
        // Permute in place (no second copy of the vehicle table at the busiest moment).
        permute(&mut self.st, &new_of);
        permute(&mut self.lead, &new_of);
        self.st.truncate(n);
        self.lead.truncate(n);
        self.alive.truncate(n);
        self.alive.fill(true);
        self.dec.truncate(n);
        self.free.clear();
        // Queues: each drivable's vehicles are now consecutive slots.
        self.q.ahead.truncate(n);
        self.q.behind.truncate(n);
        let mut s = 0u32;
        for d in 0..n_drivables {
            let len = self.q.len[d];
            if len == 0 {
                continue;
            }
            self.q.head[d] = s;
            self.q.tail[d] = s + len - 1;
            for k in s..s + len {
                self.q.ahead[k as usize] = if k > s { k - 1 } else { NONE };
                self.q.behind[k as usize] = if k + 1 < s + len { k + 1 } else { NONE };
            }
            s += len;
        }
    }
}

/// Moves `v[i]` to `v[new_of[i]]` for every `i` (`new_of` is a permutation), following
/// cycles so that only one element is held aside at a time.
fn permute<T: Copy>(v: &mut [T], new_of: &[u32]) {
    let mut done = vec![false; v.len()];
    for start in 0..v.len() {
        if done[start] {
            continue;
        }
        let mut carried = v[start];
        let mut at = start;
        loop {
            done[at] = true;
            let to = new_of[at] as usize;
            if to == start {
                v[start] = carried;
                break;
            }
            carried = std::mem::replace(&mut v[to], carried);
            at = to;
        }
    }
}
