//! Synthetic networks shaped like the shared CityFlow roadnets, and observation builders.

use citybrain_signal::{
    Intersection, IntersectionId, Lane, LaneId, LaneObs, Movement, Network, Observation, Phase,
    Road, RoadId, Turn,
};

/// Approaches in roadnet order: from the west, south, east, north.
pub(crate) const W: usize = 0;
pub(crate) const S: usize = 1;
pub(crate) const E: usize = 2;
pub(crate) const N: usize = 3;

/// Movements in the shared roadnets' road-link order: (approach, turn).
const MOVES: [(usize, Turn); 12] = [
    (W, Turn::Straight),
    (W, Turn::Left),
    (W, Turn::Right),
    (S, Turn::Right),
    (S, Turn::Straight),
    (S, Turn::Left),
    (E, Turn::Right),
    (E, Turn::Straight),
    (E, Turn::Left),
    (N, Turn::Left),
    (N, Turn::Right),
    (N, Turn::Straight),
];

/// The shared roadnets' nine phases: 0 = right turns only (the transition), 1–8 greens.
pub(crate) const PHASES: [&[usize]; 9] = [
    &[10, 2, 3, 6],
    &[0, 2, 3, 6, 7, 10],
    &[2, 3, 4, 6, 10, 11],
    &[1, 2, 3, 6, 8, 10],
    &[2, 3, 5, 6, 9, 10],
    &[0, 1, 2, 3, 6, 10],
    &[2, 3, 6, 7, 8, 10],
    &[2, 3, 4, 5, 6, 10],
    &[2, 3, 6, 9, 10, 11],
];

/// Lane index within a road for a turn: left 0, straight 1, right 2.
fn lane_of(turn: Turn) -> u32 {
    match turn {
        Turn::Left => 0,
        Turn::Straight => 1,
        _ => 2,
    }
}

/// The exit (as an approach index of the direction travelled) of a turn from an approach.
fn exit_of(approach: usize, turn: Turn) -> usize {
    // Heading when arriving from W is east (0), from S north (1), from E west (2), from N south (3).
    let heading = approach;
    match turn {
        Turn::Straight => heading,
        Turn::Left => (heading + 1) % 4,
        _ => (heading + 3) % 4,
    }
}

/// A chain of `n` intersections west to east. Roads: per intersection 4 incoming (ids 8i..8i+3,
/// approach order) and 4 outgoing (8i+4..8i+7, by heading east, north, west, south). Between
/// neighbours the east-heading out road of i is the west approach of i+1 (and the west-heading out
/// road of i+1 is the east approach of i); those duplicates are simply shared. Lanes are 3 per road,
/// `length_m` long at 11.111 m/s.
pub(crate) fn corridor(n: usize, length_m: f64) -> Network {
    let mut net = Network::default();
    let mut road_ids = vec![[0u32; 8]; n];
    for i in 0..n {
        for k in 0..8 {
            // Share roads between neighbours.
            let shared = if k == W && i > 0 {
                Some(road_ids[i - 1][4])
            } else if k == 6 && i > 0 {
                Some(road_ids[i - 1][E])
            } else {
                None
            };
            let id = match shared {
                Some(id) => id,
                None => {
                    let id = net.roads.len() as u32;
                    let lanes = (0..3)
                        .map(|_| {
                            net.lanes.push(Lane {
                                road: RoadId(id),
                                length_m,
                                speed_limit_mps: 11.111,
                            });
                            LaneId(net.lanes.len() as u32 - 1)
                        })
                        .collect();
                    net.roads.push(Road { name: format!("r{i}_{k}"), lanes, from: None, to: None });
                    id
                }
            };
            road_ids[i][k] = id;
            let node = Some(IntersectionId(i as u32));
            if k < 4 {
                net.roads[id as usize].to = node;
            } else {
                net.roads[id as usize].from = node;
            }
        }
    }
    for (i, ids) in road_ids.iter().enumerate() {
        let movements = MOVES
            .iter()
            .map(|&(a, turn)| {
                let from = ids[a];
                let to = ids[4 + exit_of(a, turn)];
                Movement {
                    from_road: RoadId(from),
                    to_road: RoadId(to),
                    turn,
                    in_lanes: vec![net.roads[from as usize].lanes[lane_of(turn) as usize]],
                    out_lanes: net.roads[to as usize].lanes.clone(),
                }
            })
            .collect();
        net.intersections.push(Intersection {
            name: format!("i{i}"),
            movements,
            phases: PHASES.iter().map(|p| Phase { movements: p.to_vec() }).collect(),
            transition: Some(0),
        });
    }
    net
}

/// One intersection with 300 m roads.
pub(crate) fn single() -> Network {
    corridor(1, 300.0)
}

/// The incoming lane of `movement` at intersection `node`.
pub(crate) fn in_lane(net: &Network, node: usize, movement: usize) -> LaneId {
    net.intersections[node].movements[movement].in_lanes[0]
}

/// An observation at `time_s` with every lane empty and moving at the limit.
pub(crate) fn empty(net: &Network, time_s: f64) -> Observation {
    Observation {
        time_s,
        lanes: vec![LaneObs { mean_speed_mps: 11.111, ..LaneObs::default() }; net.lanes.len()],
        emergencies: Vec::new(),
    }
}

/// Sets a lane's reading: `vehicles`, of which `halted` stopped, `near` near the stop line.
pub(crate) fn set(obs: &mut Observation, lane: LaneId, vehicles: u32, halted: u32, near: u32) {
    let moving = vehicles - halted;
    obs.lanes[lane.index()] = LaneObs {
        vehicles,
        halted,
        mean_speed_mps: if vehicles == 0 {
            11.111
        } else {
            11.111 * f64::from(moving) / f64::from(vehicles)
        },
        near_stop_line: near,
        approaching: near,
        ..LaneObs::default()
    };
}

/// An observation with `queues` = (movement, vehicles, halted, near) at intersection 0.
pub(crate) fn with_queues(
    net: &Network,
    time_s: f64,
    queues: &[(usize, u32, u32, u32)],
) -> Observation {
    let mut obs = empty(net, time_s);
    for &(m, v, h, n) in queues {
        set(&mut obs, in_lane(net, 0, m), v, h, n);
    }
    obs
}
