//! The engine's API for controllers and the cockpit: phases, observations, emergency
//! vehicles, blockages, positions.

use citybrain_sim::generate::GridSpec;
use citybrain_sim::network::DrivableKind;
use citybrain_sim::{
    ControlError, ControlMode, EngineConfig, IntersectionId, LaneObservation, TurnType,
};

use crate::{bundled, engine, grid};

fn first_signal(e: &citybrain_sim::Engine) -> IntersectionId {
    let i = e.network().intersections().iter().position(|i| i.is_signalised()).expect("a signal");
    IntersectionId::from_index(i)
}

#[test]
fn native_lights_cycle_from_phase_zero_with_their_durations() {
    let s = bundled("hangzhou_4x4", "flow.json");
    let mut e = engine(&s, EngineConfig::default());
    let i = first_signal(&e);
    assert_eq!(e.phase(i), Some(0));
    e.run(4);
    assert_eq!(e.phase(i), Some(0), "phase 0 lasts 5 s");
    e.step();
    assert_eq!(e.phase(i), Some(1));
    e.run(30);
    assert_eq!(e.phase(i), Some(2));
}

#[test]
fn external_control_holds_the_phase_it_is_given() {
    let s = bundled("hangzhou_4x4", "flow.json");
    let cfg = EngineConfig { control: ControlMode::External, ..EngineConfig::default() };
    let mut e = engine(&s, cfg);
    let i = first_signal(&e);
    e.set_phase(i, 3).expect("phase 3 exists");
    e.run(100);
    assert_eq!(e.phase(i), Some(3));
    let err = e.set_phase(i, 99).expect_err("no phase 99");
    assert!(matches!(err, ControlError::NoSuchPhase { phases: 9, requested: 99, .. }), "{err}");
    let virtual_node = IntersectionId::from_index(
        e.network().intersections().iter().position(|i| i.is_virtual).expect("boundary"),
    );
    assert!(matches!(e.set_phase(virtual_node, 0), Err(ControlError::NoSignal(_))));
}

#[test]
fn under_external_control_only_the_set_phase_moves() {
    // Nobody changes the phase, so every vehicle inside an intersection must be on a
    // movement that phase 0 (east-west straight and right turns) allows.
    let s = grid(&GridSpec { rows: 2, cols: 2, vehicles_per_hour: 3000, ..GridSpec::default() });
    let cfg = EngineConfig { control: ControlMode::External, ..EngineConfig::default() };
    let mut e = engine(&s, cfg);
    let net = e.network().clone();
    let mut seen = 0;
    for _ in 0..600 {
        e.step();
        for v in e.vehicles() {
            if let DrivableKind::LaneLink(l) = net.drivable_kind(v.location.drivable) {
                let rl = net.lane_link(l).road_link;
                assert!(e.road_link_green(rl), "vehicle {} is on a red movement", v.id);
                assert_ne!(net.road_link(rl).turn, TurnType::TurnLeft);
                seen += 1;
            }
        }
    }
    assert!(seen > 100, "vehicles do cross ({seen})");
}

#[test]
fn lane_observations_agree_with_the_vehicle_list() {
    let s = bundled("hangzhou_4x4", "flow.json");
    let mut e = engine(&s, EngineConfig::default());
    e.run(900);
    let mut obs: Vec<LaneObservation> = Vec::new();
    e.observe_lanes(50.0, &mut obs);
    assert_eq!(obs.len(), e.network().lanes().len());
    let on_lanes: u32 = obs.iter().map(|o| o.vehicles).sum();
    let net = e.network().clone();
    let expected =
        e.vehicles().filter(|v| (v.location.drivable.index()) < net.lanes().len()).count();
    assert_eq!(on_lanes as usize, expected);
    for (lane, o) in obs.iter().enumerate() {
        assert!(o.halted <= o.vehicles && o.near_stop_line <= o.vehicles);
        assert_eq!(o.vehicles, e.lane_vehicle_count(citybrain_sim::LaneId::from_index(lane)));
        let halted = e
            .vehicles()
            .filter(|v| v.location.drivable.index() == lane && v.speed_mps < 0.1)
            .count();
        assert_eq!(o.halted as usize, halted);
    }
    assert!(obs.iter().any(|o| o.halted > 0), "queues form at red lights");
    assert_eq!(e.metrics().waiting, obs.iter().map(|o| u64::from(o.waiting_to_enter)).sum::<u64>());
}

#[test]
fn queues_at_lights_and_exits_never_stand_apart() {
    // A normal hour on the busiest bundled scenarios: every halted vehicle stands at a stop
    // line or right behind another, so detectors never see one standing apart.
    for (dir, flow) in [("hangzhou_4x4", "flow_5816.json"), ("syn_4x4", "flow.json")] {
        let s = bundled(dir, flow);
        let mut e = engine(&s, EngineConfig::default());
        let mut obs: Vec<LaneObservation> = Vec::new();
        let mut deepest: f64 = 0.0;
        for _ in 0..3600 {
            e.step();
            e.observe_lanes(50.0, &mut obs);
            for (lane, o) in obs.iter().enumerate() {
                assert_eq!(o.stopped_apart, 0, "{dir}/{flow} lane {lane} at {} s", e.time_s());
                assert!(o.halted > 0 || o.farthest_halted_m == 0.0);
                deepest = deepest.max(o.farthest_halted_m);
            }
        }
        assert!(deepest > 50.0, "{dir}/{flow}: queues do form ({deepest} m)");
    }
}

#[test]
fn a_blocked_point_is_seen_as_a_stopped_vehicle_standing_apart() {
    let s = bundled("hangzhou_4x4", "flow.json");
    let mut e = engine(&s, EngineConfig::default());
    e.run(300);
    let net = e.network().clone();
    let mut obs: Vec<LaneObservation> = Vec::new();
    e.observe_lanes(50.0, &mut obs);
    let lane = (0..net.lanes().len()).find(|&l| obs[l].vehicles == 0).expect("an empty lane");
    let id = citybrain_sim::LaneId::from_index(lane);
    let length = net.lane(id).length;
    let before = e.metrics();
    e.block_lane(id, length - 150.0, 300.0, 900.0).expect("valid block");
    e.observe_lanes(50.0, &mut obs);
    let o = obs[lane];
    assert_eq!((o.vehicles, o.halted, o.stopped_apart, o.near_stop_line), (1, 1, 1, 0));
    assert!((o.stopped_apart_m - 150.0).abs() < 1e-9 && (o.farthest_halted_m - 150.0).abs() < 1e-9);
    assert_eq!(o.mean_speed_mps, 0.0);
    assert_eq!(e.metrics(), before, "the stopped occupant is not a simulated vehicle");
    assert_eq!(e.lane_vehicle_count(id), 0);
    // Vehicles that come queue behind it; it stays the one standing apart, at the queue's head.
    e.run(590);
    e.observe_lanes(50.0, &mut obs);
    let o = obs[lane];
    assert!(o.stopped_apart >= 1 && (o.stopped_apart_m - 150.0).abs() < 1e-9, "{o:?}");
    assert!(o.farthest_halted_m >= 150.0);
    assert_eq!(o.vehicles, e.lane_vehicle_count(id) + 1);
    e.run(120);
    e.observe_lanes(50.0, &mut obs);
    assert_eq!(obs[lane].stopped_apart, 0, "gone once the blockage ends: {:?}", obs[lane]);
}

#[test]
fn emergency_vehicles_are_marked_every_period_and_can_be_tracked() {
    let s = bundled("hangzhou_4x4", "flow.json");
    let cfg = EngineConfig { emergency_every_s: Some(300.0), ..EngineConfig::default() };
    let mut e = engine(&s, cfg);
    e.run(3600);
    let marked: Vec<_> = e.vehicle_records().filter(|r| r.emergency).collect();
    assert_eq!(marked.len(), 11, "one after each of 300, 600, …, 3300 s");
    for w in marked.windows(2) {
        assert!(w[1].created_s - w[0].created_s > 0.0);
    }
    for r in &marked {
        let first_after = e
            .vehicle_records()
            .find(|x| x.created_s >= (r.created_s / 300.0).floor() * 300.0)
            .expect("a vehicle");
        assert_eq!(first_after.id, r.id, "the first vehicle after the boundary");
    }
    let mut e =
        engine(&s, EngineConfig { emergency_every_s: Some(300.0), ..EngineConfig::default() });
    e.run(400);
    let ev = e.emergency_vehicles();
    assert!(!ev.is_empty());
    for v in &ev {
        let route = &v.remaining_route;
        assert!(!route.is_empty());
        if let Some(loc) = v.location {
            let net = e.network();
            if let DrivableKind::Lane(l) = net.drivable_kind(loc.drivable) {
                assert_eq!(net.lane(l).road, route[0], "the remaining route starts on its road");
            }
        }
    }
}

#[test]
fn a_blocked_lane_stops_everyone_behind_the_point() {
    let s = bundled("hangzhou_4x4", "flow.json");
    let mut e = engine(&s, EngineConfig::default());
    // The busiest entry lane: block it half-way for ten minutes.
    e.run(60);
    let net = e.network().clone();
    let lane = (0..net.lanes().len())
        .map(citybrain_sim::LaneId::from_index)
        .max_by_key(|&l| e.lane_vehicle_count(l))
        .expect("lanes");
    let pos = net.lane(lane).length / 2.0;
    e.block_lane(lane, pos, 60.0, 660.0).expect("valid block");
    let drivable = net.lane_drivable(lane);
    let ahead_at_start: Vec<_> = e
        .vehicles()
        .filter(|v| v.location.drivable == drivable && v.location.distance_m > pos)
        .map(|v| v.id)
        .collect();
    for _ in 0..600 {
        e.step();
        for v in e.vehicles().filter(|v| v.location.drivable == drivable) {
            assert!(
                v.location.distance_m <= pos + 1e-9 || ahead_at_start.contains(&v.id),
                "vehicle {} passed the blockage",
                v.id
            );
        }
    }
    let queue =
        e.vehicles().filter(|v| v.location.drivable == drivable && v.speed_mps < 0.1).count();
    assert!(queue > 3, "a queue forms behind the blockage ({queue})");
    e.run(300);
    let beyond = e
        .vehicles()
        .filter(|v| v.location.drivable == drivable && v.location.distance_m > pos)
        .count();
    assert!(beyond > 0, "traffic flows again once the blockage is gone");
    assert!(e.block_lane(lane, -1.0, 0.0, 10.0).is_err());
    assert!(e.block_lane(lane, 1.0, 10.0, 10.0).is_err());
}

#[test]
fn positions_lie_on_the_drawn_network() {
    let s = bundled("hangzhou_4x4", "flow.json");
    let mut e = engine(&s, EngineConfig::default());
    e.run(600);
    let [lo, hi] = e.network().bounding_box().expect("roads");
    let mut n = 0;
    for v in e.vehicles() {
        let (p, heading) = e.vehicle_xy(&v);
        assert!(
            p.x >= lo.x - 20.0 && p.x <= hi.x + 20.0 && p.y >= lo.y - 20.0 && p.y <= hi.y + 20.0
        );
        assert!(heading.is_finite());
        n += 1;
    }
    assert!(n > 100);
}

#[test]
fn repeated_demand_starts_every_flow_again_and_keeps_the_traffic() {
    let s = bundled("hangzhou_4x4", "flow.json");
    let mut plain = engine(&s, EngineConfig::default());
    let mut repeating = engine(&s, EngineConfig::default());
    repeating.repeat_demand(3600.0).expect("a valid period");
    plain.run(3600);
    repeating.run(3600);
    let first_hour = plain.metrics();
    assert_eq!(repeating.metrics(), first_hour, "nothing changes before the period ends");
    assert!(first_hour.running > 0, "traffic in the network when the demand restarts");
    let before: Vec<_> = repeating.vehicles().map(|v| v.id).collect();
    repeating.step();
    let still: Vec<_> = repeating.vehicles().map(|v| v.id).collect();
    let kept = before.iter().filter(|id| still.contains(id)).count();
    let finished = repeating.metrics().finished - first_hour.finished;
    assert_eq!(kept as u64 + finished, before.len() as u64, "vehicles keep driving");
    repeating.run(3599);
    assert_eq!(repeating.metrics().created, 2 * first_hour.created, "the schedule ran twice");
    plain.run(3600);
    assert_eq!(plain.metrics().created, first_hour.created, "without repeating, demand ends");
}

#[test]
fn a_demand_period_must_be_positive() {
    let s = bundled("hangzhou_4x4", "flow.json");
    let mut e = engine(&s, EngineConfig::default());
    for bad in [0.0, -5.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(e.repeat_demand(bad), Err(ControlError::InvalidArgument(_))), "{bad}");
    }
}
