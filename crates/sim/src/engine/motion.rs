//! The movement phases: vehicles that change drivable are re-queued (and those that leave the
//! network are finished) in a fixed order, then every vehicle's decision becomes its state.

use rayon::prelude::*;

use super::Engine;
use super::state::{Decision, NONE, VehState};

impl Engine {
    /// Re-queues vehicles that changed drivable and removes those that left, in slot order;
    /// vehicles entering the same drivable join it front-most first.
    pub(super) fn move_phase(&mut self) {
        let now = self.time_s();
        // Who moves, found in parallel; acted upon in slot order.
        let (alive, dec, st) = (&self.alive, &self.dec, &self.st);
        let moving = |(c, a): (usize, &[bool])| -> Vec<u32> {
            let first = c * 4096;
            (first..first + a.len())
                .filter(|&s| alive[s] && (dec[s].ended || dec[s].drivable != st[s].drivable))
                .map(|s| s as u32)
                .collect()
        };
        let found: Vec<Vec<u32>> = match &self.pool {
            Some(pool) => {
                pool.install(|| self.alive.par_chunks(4096).enumerate().map(moving).collect())
            }
            None => self.alive.chunks(4096).enumerate().map(moving).collect(),
        };
        self.movers.clear();
        for s in found.into_iter().flatten() {
            let drivable = self.st[s as usize].drivable;
            self.q.unlink(drivable, s);
            if self.dec[s as usize].ended {
                self.finish(s, now);
            } else {
                self.movers.push((s, self.dec[s as usize].dis));
            }
        }
        let st = &self.st;
        self.movers.sort_by(|a, b| {
            b.1.total_cmp(&a.1).then(st[a.0 as usize].id.cmp(&st[b.0 as usize].id))
        });
        for i in 0..self.movers.len() {
            let s = self.movers[i].0;
            self.enter_drivable(s);
        }
    }

    /// Appends a vehicle to the drivable it decided to move onto. Vehicles arriving at one
    /// lane from different lane links can end up inside each other (CityFlow lets this happen,
    /// rarely, when neither could yield at the merge point); then the later one stops at the
    /// tail of the earlier one: on the lane, or, if that tail is still in the intersection, as
    /// far back as it must be on the lane link it is taking (and, if that link is shorter
    /// than the overlap, at the end of the lane it came from).
    fn enter_drivable(&mut self, s: u32) {
        let si = s as usize;
        let d = self.dec[si].drivable;
        let tail = self.q.tail[d as usize];
        if tail != NONE && !self.cfg.cityflow_exact {
            let t = &self.dec[tail as usize];
            let limit = t.dis - self.t.types[self.st[tail as usize].ty as usize].p.length_m;
            if self.dec[si].dis > limit {
                self.dec[si].speed = self.dec[si].speed.min(t.speed);
                if limit < 0.0 && self.back_off(s, d, -limit) {
                    return;
                }
                self.dec[si].dis = limit.max(0.0);
            }
        }
        self.q.push_back(d, s);
    }

    /// Keeps a vehicle `excess` metres short of the start of lane `d`, on the lane link that
    /// leads it there (or the lane before that link), and queues it there. False if it did
    /// not reach `d` through a lane link this step (it then stops at the lane's start).
    fn back_off(&mut self, s: u32, d: u32, excess: f64) -> bool {
        let si = s as usize;
        let old = self.st[si].drivable;
        let ends_at_d = |link: u32| {
            self.t.is_link(link) && self.t.link_end[(link - self.t.n_lanes) as usize] == d
        };
        let (drivable, dis) = if ends_at_d(old) {
            (old, (self.t.dlen[old as usize] - excess).max(self.st[si].dis))
        } else if ends_at_d(self.st[si].next) {
            let link = self.st[si].next;
            let on_link = self.t.dlen[link as usize] - excess;
            if on_link >= 0.0 {
                (link, on_link)
            } else {
                (old, (self.t.dlen[old as usize] + on_link).max(self.st[si].dis))
            }
        } else {
            return false;
        };
        let dec = &mut self.dec[si];
        dec.drivable = drivable;
        dec.dis = dis;
        dec.lanes_entered = 0;
        let decs = &self.dec;
        self.q.insert_behind(drivable, s, |x| decs[x as usize].dis >= dis);
        true
    }

    fn finish(&mut self, slot: u32, now: f64) {
        let v = self.st[slot as usize];
        let created = f64::from(v.created_step) * self.cfg.interval_s;
        self.counters.finished += 1;
        self.counters.travel_time_finished += now - created;
        self.counters.sum_created_unfinished -= created;
        self.running -= 1;
        self.alive[slot as usize] = false;
        self.slot_of[v.id as usize] = NONE;
        if let Some(r) = self.records.get_mut(v.id as usize) {
            r.exited_step = self.step;
        }
        self.st[slot as usize] = VehState::EMPTY;
        self.free.push(slot);
    }

    pub(super) fn apply_phase(&mut self) {
        let (t, alive, step) = (&self.t, &self.alive, self.step);
        let f = |((s, v), d): ((usize, &mut VehState), &Decision)| {
            if !alive[s] {
                return;
            }
            v.speed = d.speed;
            v.dis = d.dis;
            if d.drivable != v.drivable {
                v.prev = v.drivable;
                v.drivable = d.drivable;
                v.route_pos += d.lanes_entered;
                let (next, _) = t.after(d.drivable, t.route(v.flow), v.route_pos);
                v.next = next;
                v.enter_link_step = if t.is_link(d.drivable) { step } else { u32::MAX };
            }
            v.blocker =
                if d.blocker != NONE && alive[d.blocker as usize] { d.blocker } else { NONE };
        };
        match &self.pool {
            Some(pool) => pool.install(|| {
                self.st
                    .par_iter_mut()
                    .with_min_len(256)
                    .enumerate()
                    .zip(self.dec.par_iter())
                    .for_each(f)
            }),
            None => self.st.iter_mut().enumerate().zip(self.dec.iter()).for_each(f),
        }
    }
}
