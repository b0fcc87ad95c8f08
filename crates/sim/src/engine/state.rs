//! Per-vehicle state in slots, and per-drivable vehicle queues.
//!
//! A running vehicle occupies a slot (a row in several parallel arrays). The arrays are split
//! by who writes them in a step, so that each phase can run over all slots in parallel while
//! only reading the others:
//! - [`VehState`]: written when decisions are applied (and at insertion);
//! - [`Lead`]: leader and gap, written by the leader phase;
//! - [`Decision`]: next speed/position, written by the decision phase;
//! - [`Queues`]: the order of vehicles on each drivable (an intrusive doubly linked list),
//!   changed only in the sequential movement phase.

/// "No slot / no drivable".
pub(crate) const NONE: u32 = u32::MAX;

/// The dynamic state of one running vehicle.
#[derive(Clone, Copy, Debug)]
pub(crate) struct VehState {
    /// Distance of the front from the drivable's start, metres.
    pub(crate) dis: f64,
    /// Speed, m/s.
    pub(crate) speed: f64,
    /// Drivable the front is on.
    pub(crate) drivable: u32,
    /// The next drivable on the planned path (`NONE`: the route ends on this lane).
    pub(crate) next: u32,
    /// The drivable the vehicle was on before this one (`NONE` at first).
    pub(crate) prev: u32,
    /// Vehicle this one yielded to in the last step (`NONE` if it did not yield).
    pub(crate) blocker: u32,
    /// Step at which it entered its current lane link (`u32::MAX` when on a lane).
    pub(crate) enter_link_step: u32,
    /// Index into the route of the road of the current lane (of the start lane on a link).
    pub(crate) route_pos: u32,
    /// Flow that created it (its route lives there).
    pub(crate) flow: u32,
    /// Vehicle type (index into the engine's parameter table).
    pub(crate) ty: u32,
    /// Tie-break at conflict points; derived from (seed, vehicle).
    pub(crate) priority: u32,
    /// The vehicle's id.
    pub(crate) id: u32,
    /// Step at which it was created.
    pub(crate) created_step: u32,
    /// Emergency vehicle.
    pub(crate) emergency: bool,
}

impl VehState {
    pub(crate) const EMPTY: VehState = VehState {
        dis: 0.0,
        speed: 0.0,
        drivable: NONE,
        next: NONE,
        prev: NONE,
        blocker: NONE,
        enter_link_step: u32::MAX,
        route_pos: 0,
        flow: 0,
        ty: 0,
        priority: 0,
        id: NONE,
        created_step: 0,
        emergency: false,
    };
}

/// The vehicle ahead and the bumper-to-bumper gap to it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lead {
    pub(crate) leader: u32,
    pub(crate) gap: f64,
}

impl Lead {
    pub(crate) const NONE: Lead = Lead { leader: NONE, gap: 0.0 };
}

/// What a vehicle will do this step.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Decision {
    /// Speed at the end of the step.
    pub(crate) speed: f64,
    /// Distance on `drivable` at the end of the step.
    pub(crate) dis: f64,
    /// Drivable at the end of the step.
    pub(crate) drivable: u32,
    /// Lanes entered during the step (route positions advanced).
    pub(crate) lanes_entered: u32,
    /// The vehicle it yields to (`NONE`).
    pub(crate) blocker: u32,
    /// It leaves the network this step.
    pub(crate) ended: bool,
}

impl Decision {
    pub(crate) const IDLE: Decision = Decision {
        speed: 0.0,
        dis: 0.0,
        drivable: NONE,
        lanes_entered: 0,
        blocker: NONE,
        ended: false,
    };
}

/// Front-to-back order of the vehicles on every drivable.
#[derive(Clone, Debug, Default)]
pub(crate) struct Queues {
    /// Per drivable: first (front-most) slot.
    pub(crate) head: Vec<u32>,
    /// Per drivable: last slot.
    pub(crate) tail: Vec<u32>,
    /// Per drivable: number of vehicles.
    pub(crate) len: Vec<u32>,
    /// Per slot: the slot ahead on the same drivable.
    pub(crate) ahead: Vec<u32>,
    /// Per slot: the slot behind on the same drivable.
    pub(crate) behind: Vec<u32>,
}

impl Queues {
    pub(crate) fn new(drivables: usize) -> Self {
        Self {
            head: vec![NONE; drivables],
            tail: vec![NONE; drivables],
            len: vec![0; drivables],
            ahead: Vec::new(),
            behind: Vec::new(),
        }
    }

    pub(crate) fn ensure_slots(&mut self, slots: usize) {
        if self.ahead.len() < slots {
            self.ahead.resize(slots, NONE);
            self.behind.resize(slots, NONE);
        }
    }

    /// Appends `slot` at the back of drivable `d`.
    pub(crate) fn push_back(&mut self, d: u32, slot: u32) {
        let (di, si) = (d as usize, slot as usize);
        let tail = self.tail[di];
        self.ahead[si] = tail;
        self.behind[si] = NONE;
        if tail == NONE {
            self.head[di] = slot;
        } else {
            self.behind[tail as usize] = slot;
        }
        self.tail[di] = slot;
        self.len[di] += 1;
    }

    /// Inserts `slot` into drivable `d` behind every vehicle for which `stays_ahead` holds
    /// (walking from the front).
    pub(crate) fn insert_behind(&mut self, d: u32, slot: u32, stays_ahead: impl Fn(u32) -> bool) {
        let mut before = NONE; // the vehicle `slot` goes in front of
        let mut cur = self.head[d as usize];
        while cur != NONE && stays_ahead(cur) {
            cur = self.behind[cur as usize];
        }
        if cur != NONE {
            before = cur;
        }
        if before == NONE {
            self.push_back(d, slot);
            return;
        }
        let (si, bi) = (slot as usize, before as usize);
        let a = self.ahead[bi];
        self.ahead[si] = a;
        self.behind[si] = before;
        self.ahead[bi] = slot;
        if a == NONE {
            self.head[d as usize] = slot;
        } else {
            self.behind[a as usize] = slot;
        }
        self.len[d as usize] += 1;
    }

    /// Removes `slot` from drivable `d`, wherever it is.
    pub(crate) fn unlink(&mut self, d: u32, slot: u32) {
        let (di, si) = (d as usize, slot as usize);
        let (a, b) = (self.ahead[si], self.behind[si]);
        if a == NONE {
            self.head[di] = b;
        } else {
            self.behind[a as usize] = b;
        }
        if b == NONE {
            self.tail[di] = a;
        } else {
            self.ahead[b as usize] = a;
        }
        self.ahead[si] = NONE;
        self.behind[si] = NONE;
        self.len[di] -= 1;
    }

    /// Slots on drivable `d`, front first.
    pub(crate) fn iter(&self, d: u32) -> QueueIter<'_> {
        QueueIter { q: self, cur: self.head[d as usize] }
    }
}

/// Iterator over one drivable's vehicles, front first.
pub(crate) struct QueueIter<'a> {
    q: &'a Queues,
    cur: u32,
}

impl Iterator for QueueIter<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.cur == NONE {
            return None;
        }
        let s = self.cur;
        self.cur = self.q.behind[s as usize];
        Some(s)
    }
}
