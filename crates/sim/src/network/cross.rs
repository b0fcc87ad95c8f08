//! Conflict points ("crosses") between the lane links of each intersection.
//!
//! Every pair of lane links of one intersection is tested once, in the order the intersection
//! lists them; the first point where their paths touch (scanning the first path's segments,
//! then the second's) becomes a cross. Paths that share a start (diverging) or an end
//! (merging) therefore get a cross at that shared point, which is what makes vehicles from
//! different approaches take turns entering the same lane.

use super::{Cross, CrossOnLink, RoadNetwork};
use crate::geom;
use crate::ids::LaneLinkId;

pub(super) fn compute_all(net: &mut RoadNetwork) {
    for i in 0..net.intersections.len() {
        let links: Vec<LaneLinkId> = net.intersections[i]
            .road_links
            .iter()
            .flat_map(|rl| net.road_links[rl.index()].lane_links.iter().copied())
            .collect();
        let first = u32::try_from(net.crosses.len()).expect("cross count fits in u32");
        for (a_pos, &a) in links.iter().enumerate() {
            for &b in &links[a_pos + 1..] {
                let pa = &net.lane_links[a.index()].points;
                let pb = &net.lane_links[b.index()].points;
                if let Some((da, db)) = geom::first_crossing(pa, pb) {
                    net.crosses.push(Cross { lane_links: [a, b], distance: [da, db] });
                }
            }
        }
        let last = u32::try_from(net.crosses.len()).expect("cross count fits in u32");
        net.intersections[i].crosses = first..last;
        for c in first..last {
            let cross = net.crosses[c as usize];
            for side in 0..2u8 {
                let link = cross.lane_links[usize::from(side)];
                net.lane_links[link.index()].crosses.push(CrossOnLink {
                    cross: c,
                    side,
                    distance: cross.distance[usize::from(side)],
                });
            }
        }
    }
    for link in &mut net.lane_links {
        // Stable: crosses at the same distance keep the order they were found in.
        link.crosses.sort_by(|a, b| a.distance.total_cmp(&b.distance));
    }
}
