//! `GET /api/network`: the static description of the network for the cockpit's map.

use citybrain_sim::{RoadNetwork, TurnType};
use serde_json::{Value, json};

/// The network document (roadnet metres, external ids; see the README's "Cockpit API").
pub(crate) fn network_json(net: &RoadNetwork, scenario: &str) -> Value {
    let mut bounds = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
    let mut grow = |x: f64, y: f64| {
        bounds = [bounds[0].min(x), bounds[1].min(y), bounds[2].max(x), bounds[3].max(y)];
    };
    let roads: Vec<Value> = net
        .roads()
        .iter()
        .map(|r| {
            let points: Vec<[f64; 2]> = r.points.iter().map(|p| [p.x, p.y]).collect();
            for p in &points {
                grow(p[0], p[1]);
            }
            let length_m = citybrain_sim::geom::polyline_length(&r.points);
            json!({"id": r.id, "from": net.intersection(r.start).id, "to": net.intersection(r.end).id,
                   "lanes": r.lanes.len(), "points": points, "length_m": length_m})
        })
        .collect();
    let intersections: Vec<Value> = net
        .intersections()
        .iter()
        .map(|node| {
            grow(node.point.x, node.point.y);
            let signalised = node.is_signalised();
            let phases: Vec<Value> = if signalised {
                node.phases
                    .iter()
                    .enumerate()
                    .map(|(i, p)| json!({"index": i, "movements": p.available_road_links}))
                    .collect()
            } else {
                Vec::new()
            };
            let movements: Vec<Value> = if signalised {
                node.road_links
                    .iter()
                    .enumerate()
                    .map(|(i, &rl)| {
                        let link = net.road_link(rl);
                        let turn = match link.turn {
                            TurnType::GoStraight => "straight",
                            TurnType::TurnLeft => "left",
                            TurnType::TurnRight => "right",
                        };
                        json!({"index": i, "from_road": net.road(link.start_road).id,
                               "to_road": net.road(link.end_road).id, "turn": turn})
                    })
                    .collect()
            } else {
                Vec::new()
            };
            json!({"id": node.id, "x": node.point.x, "y": node.point.y, "signalised": signalised,
                   "phases": phases, "movements": movements})
        })
        .collect();
    let finite = |v: f64| if v.is_finite() { v } else { 0.0 };
    json!({
        "scenario": scenario,
        "bounds": {"min_x": finite(bounds[0]), "min_y": finite(bounds[1]),
                   "max_x": finite(bounds[2]), "max_y": finite(bounds[3])},
        "roads": roads,
        "intersections": intersections,
    })
}
