//! The notification phase: every conflict point learns, for each of its two lane links, which
//! vehicle is nearest to it and how far away.
//!
//! For each lane link the conflict points are visited from the far end backwards, and claimed
//! in turn by: the last vehicle that left the link onto its end lane (until its tail clears a
//! point), the vehicles on the link (front first; a point stays claimed until the tail of
//! the vehicle passing it has cleared it), and finally the first vehicle waiting on the start
//! lane if it is heading for this link and the link is green.
//!
//! Each claimant takes a contiguous run of the link's crosses, so a link's notifications are
//! stored as a few *claims* (the lowest cross index taken, the vehicle, how to measure its
//! distance) rather than one entry per cross: the work per step is proportional to the
//! vehicles near intersections, not to the number of conflict points. Only lane links near a
//! vehicle are visited.

use rayon::prelude::*;

use super::state::{NONE, Queues, VehState};
use super::tables::Tables;
use crate::network::RoadNetwork;

/// How a claimant's distance to a cross is measured.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ClaimKind {
    /// Left the link; `value` is its distance on the end lane.
    Left,
    /// On the link; `value` is its distance on the link.
    On,
    /// First on the start lane; `value` is its distance to the lane's end.
    Approaching,
}

/// A run of a link's crosses, from `low` up to the previous claim's `low`, claimed by one
/// vehicle.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Claim {
    pub(crate) low: u32,
    pub(crate) vehicle: u32,
    pub(crate) kind: ClaimKind,
    pub(crate) value: f64,
}

/// This step's claims of every lane link.
#[derive(Clone, Debug, Default)]
pub(crate) struct Claims {
    /// Per lane link: (step + 1 when written, start in `arena`, count).
    pub(crate) span: Vec<(u32, u32, u32)>,
    pub(crate) arena: Vec<Claim>,
    /// Per lane link: marked (step + 1) as having news this step.
    pub(crate) mark: Vec<u32>,
    /// Lane links marked this step.
    pub(crate) active: Vec<u32>,
}

impl Claims {
    pub(crate) fn new(lane_links: usize) -> Self {
        Self {
            span: vec![(0, 0, 0); lane_links],
            arena: Vec::new(),
            mark: vec![0; lane_links],
            active: Vec::new(),
        }
    }

    /// The vehicle nearest to the cross at position `pos` of lane link `link` (which lies
    /// `cross_distance` from the link's start), and its distance before the cross (negative
    /// once past it); `None` if nobody claimed it this step.
    #[inline]
    pub(crate) fn notifier(
        &self,
        t: &Tables,
        link: usize,
        pos: u32,
        cross_distance: f64,
        stamp: u32,
    ) -> Option<(u32, f64)> {
        let (s, start, len) = self.span[link];
        if s != stamp {
            return None;
        }
        let claim =
            self.arena[start as usize..(start + len) as usize].iter().find(|c| c.low <= pos)?;
        let cd = cross_distance;
        let dist = match claim.kind {
            ClaimKind::Left => -(claim.value + (t.dlen[(t.n_lanes as usize) + link] - cd)),
            ClaimKind::On => cd - claim.value,
            ClaimKind::Approaching => claim.value + cd,
        };
        Some((claim.vehicle, dist))
    }
}

/// Claims of a chunk of links: the claims, and (link, start, count) per link.
type ChunkClaims = (Vec<Claim>, Vec<(u32, u32, u32)>);

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
    /// Computes every lane link's claims for this step, on `pool` when given. The result
    /// does not depend on how the work is split: each link's claims are its own.
    pub(crate) fn run(
        &self,
        alive: &[bool],
        claims: &mut Claims,
        pool: Option<&rayon::ThreadPool>,
    ) {
        const CHUNK: usize = 2048;
        // 1. Candidate links, found per chunk of slots; duplicates are dropped in order.
        let found: Vec<Vec<u32>> = match pool {
            Some(pool) => pool.install(|| {
                alive
                    .par_chunks(CHUNK)
                    .enumerate()
                    .map(|(c, a)| self.candidates(c * CHUNK, a))
                    .collect()
            }),
            None => alive
                .chunks(CHUNK)
                .enumerate()
                .map(|(c, a)| self.candidates(c * CHUNK, a))
                .collect(),
        };
        claims.active.clear();
        for &l in found.iter().flatten() {
            if claims.mark[l as usize] != self.stamp {
                claims.mark[l as usize] = self.stamp;
                claims.active.push(l);
            }
        }
        // 2. Claims per chunk of links, then concatenated.
        let work = |links: &[u32]| {
            let mut arena = Vec::new();
            let mut spans = Vec::with_capacity(links.len());
            for &l in links {
                let start = arena.len() as u32;
                self.lane_link(l as usize, &mut arena);
                spans.push((l, start, arena.len() as u32 - start));
            }
            (arena, spans)
        };
        let parts: Vec<ChunkClaims> = match pool {
            Some(pool) => pool.install(|| claims.active.par_chunks(256).map(work).collect()),
            None => vec![work(&claims.active)],
        };
        claims.arena.clear();
        for (arena, spans) in parts {
            let base = claims.arena.len() as u32;
            claims.arena.extend_from_slice(&arena);
            for (l, start, len) in spans {
                claims.span[l as usize] = (self.stamp, base + start, len);
            }
        }
    }

    /// Lane links with possible news among slots `first..first + alive.len()`: links with
    /// vehicles on them, links just left by the last vehicle of their end lane, and links the
    /// first vehicle of a lane heads for.
    fn candidates(&self, first: usize, alive: &[bool]) -> Vec<u32> {
        let mut out = Vec::new();
        let n_lanes = self.t.n_lanes;
        for (i, &a) in alive.iter().enumerate() {
            if !a {
                continue;
            }
            let s = first + i;
            let v = &self.st[s];
            if self.t.is_link(v.drivable) {
                out.push(v.drivable - n_lanes);
                continue;
            }
            if self.q.ahead[s] == NONE && v.next != NONE {
                out.push(v.next - n_lanes);
            }
            if self.q.behind[s] == NONE && v.prev != NONE && self.t.is_link(v.prev) {
                out.push(v.prev - n_lanes);
            }
        }
        out
    }

    fn len_of(&self, slot: u32) -> f64 {
        self.t.types[self.st[slot as usize].ty as usize].p.length_m
    }

    /// Appends the claims of one lane link, highest cross index first.
    fn lane_link(&self, link: usize, out: &mut Vec<Claim>) {
        let ll = &self.net.lane_links()[link];
        let crosses = &ll.crosses;
        if crosses.is_empty() {
            return;
        }
        let d = self.t.n_lanes + link as u32;
        let mut r = crosses.len();
        // The vehicle that just left the link, until its tail clears each point.
        let tail = self.q.tail[ll.end_lane.index()];
        if tail != NONE && self.st[tail as usize].prev == d {
            let v = &self.st[tail as usize];
            let tail_in = v.dis - self.len_of(tail);
            let high = r;
            while r > 0 && (ll.length - crosses[r - 1].distance) + tail_in < 0.0 {
                r -= 1;
            }
            if r < high {
                out.push(Claim {
                    low: r as u32,
                    vehicle: tail,
                    kind: ClaimKind::Left,
                    value: v.dis,
                });
            }
        }
        // Vehicles on the link, front first.
        for s in self.q.iter(d) {
            if r == 0 {
                break;
            }
            let dis = self.st[s as usize].dis;
            let len = self.len_of(s);
            let high = r;
            while r > 0 {
                let cd = crosses[r - 1].distance;
                if dis > cd && dis - cd - len > 0.0 {
                    break;
                }
                r -= 1;
            }
            if r < high {
                out.push(Claim { low: r as u32, vehicle: s, kind: ClaimKind::On, value: dis });
            }
        }
        // The first vehicle on the start lane, if it heads here and may go.
        let head = self.q.head[ll.start_lane.index()];
        if r > 0
            && head != NONE
            && self.st[head as usize].next == d
            && self.green[self.t.link_road_link[link] as usize]
        {
            let to_end = self.t.dlen[ll.start_lane.index()] - self.st[head as usize].dis;
            out.push(Claim { low: 0, vehicle: head, kind: ClaimKind::Approaching, value: to_end });
        }
    }
}
