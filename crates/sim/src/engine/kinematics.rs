//! Car-following and stopping formulas (CityFlow's model), as pure functions of speeds,
//! decelerations and distances. `dt` is the step length in seconds.

use crate::demand::VehicleParams;

/// Small number added to speeds before dividing by them.
const EPS: f64 = 1e-8;

/// Largest speed for the next step that still lets the follower stop behind a leader that
/// brakes at `dl` from speed `vl`, keeping `target_gap`. Negative (−100) when no speed works.
pub(crate) fn no_collision_speed(
    vl: f64,
    dl: f64,
    vf: f64,
    df: f64,
    gap: f64,
    dt: f64,
    target_gap: f64,
) -> f64 {
    let c = vf * dt / 2.0 + target_gap - 0.5 * vl * vl / dl - gap;
    let a = 0.5 / df;
    let b = 0.5 * dt;
    if b * b < 4.0 * a * c {
        return -100.0;
    }
    let v1 = 0.5 / a * ((b * b - 4.0 * a * c).sqrt() - b);
    let v2 = 2.0 * vl - dl * dt + 2.0 * (gap - target_gap) / dt;
    v1.min(v2)
}

/// Speed that keeps a safe distance to a leader `gap` metres ahead moving at `vl` whose
/// decelerations are `leader_max_neg` and `leader_usual_neg`.
pub(crate) fn car_follow_speed(
    p: &VehicleParams,
    speed: f64,
    vl: f64,
    leader_max_neg: f64,
    leader_usual_neg: f64,
    gap: f64,
    dt: f64,
) -> f64 {
    let mut v = no_collision_speed(vl, leader_max_neg, speed, p.max_neg_acc, gap, dt, 0.0);
    let assume_decel = if speed > vl { speed - vl } else { 0.0 };
    v = v.min(no_collision_speed(
        vl,
        leader_usual_neg,
        speed,
        p.usual_neg_acc,
        gap,
        dt,
        p.min_gap_m,
    ));
    v.min((gap + (vl + assume_decel / 2.0) * dt - speed * dt / 2.0) / (p.headway_time_s + dt / 2.0))
}

/// Distance needed to stop from `speed` braking as hard as possible.
pub(crate) fn min_brake_distance(p: &VehicleParams, speed: f64) -> f64 {
    0.5 * speed * speed / p.max_neg_acc
}

/// Speed for the next step so as to stop within `distance` (≥ 0): accelerate comfortably if
/// there is room to do so and still stop, otherwise spread the braking over the whole steps
/// that reach the point.
pub(crate) fn stop_before_speed(p: &VehicleParams, speed: f64, distance: f64, dt: f64) -> f64 {
    let next = speed + p.usual_pos_acc * dt;
    let brake_after_accel = (speed + next) * dt / 2.0 + next * next / p.usual_neg_acc / 2.0;
    if brake_after_accel < distance {
        return next;
    }
    let take = 2.0 * distance / (speed + EPS) / dt;
    if take >= 1.0 { speed - speed / take.trunc() } else { speed - speed / take }
}

/// Whole steps to cover `distance` accelerating at `acc` towards `target` speed.
pub(crate) fn reach_steps(speed: f64, distance: f64, target: f64, acc: f64, dt: f64) -> i64 {
    if distance <= 0.0 {
        return 0;
    }
    if speed > target {
        return (distance / speed).ceil() as i64;
    }
    let until = distance_until_speed(speed, target, acc, dt);
    if until > distance {
        (((speed * speed + 2.0 * acc * distance).sqrt() - speed) / acc / dt).ceil() as i64
    } else {
        ((target - speed) / acc / dt).ceil() as i64
            + ((distance - until) / target / dt).ceil() as i64
    }
}

/// Distance covered while accelerating from `speed` to `target` in whole steps.
fn distance_until_speed(speed: f64, target: f64, acc: f64, dt: f64) -> f64 {
    if target <= speed {
        return 0.0;
    }
    let steps = ((target - speed) / acc / dt).floor();
    // CityFlow divides by the step here; identical for 1 s steps.
    let stage_speed = speed + steps * acc / dt;
    let stage_dis = (speed + stage_speed) * (steps * dt) / 2.0;
    stage_dis + if stage_speed < target { (stage_speed + target) * dt / 2.0 } else { 0.0 }
}

/// Can a vehicle `dist` metres before a conflict point (negative: its front is past it) still
/// yield there? It can if it can stop `yield_distance` before it, or its tail has cleared it.
pub(crate) fn can_yield(p: &VehicleParams, speed: f64, dist: f64) -> bool {
    (dist > 0.0 && min_brake_distance(p, speed) < dist - p.yield_distance_m)
        || (dist < 0.0 && dist + p.length_m < 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> VehicleParams {
        VehicleParams {
            max_pos_acc: 2.0,
            usual_pos_acc: 2.0,
            max_neg_acc: 4.5,
            usual_neg_acc: 4.5,
            min_gap_m: 2.5,
            max_speed_mps: 11.111,
            headway_time_s: 2.0,
            ..VehicleParams::default()
        }
    }

    #[test]
    fn follower_behind_a_stopped_leader_stops_before_the_gap_runs_out() {
        let p = params();
        let mut speed = 11.0;
        let mut gap = 40.0;
        for _ in 0..30 {
            let v = car_follow_speed(&p, speed, 0.0, 4.5, 4.5, gap, 1.0).max(speed - 4.5).max(0.0);
            gap -= (speed + v) / 2.0;
            speed = v;
            assert!(gap >= 0.0, "follower ran into a stopped leader");
        }
        assert!(speed < 0.1 && gap < 5.0, "speed {speed} gap {gap}");
    }

    #[test]
    fn stop_before_accelerates_when_far_and_brakes_when_near() {
        let p = params();
        assert_eq!(stop_before_speed(&p, 5.0, 100.0, 1.0), 7.0);
        let v = stop_before_speed(&p, 10.0, 12.0, 1.0);
        assert!((0.0..10.0).contains(&v), "{v}");
    }

    #[test]
    fn reach_steps_counts_whole_steps() {
        assert_eq!(reach_steps(10.0, 0.0, 11.0, 2.0, 1.0), 0);
        assert_eq!(reach_steps(12.0, 24.0, 11.0, 2.0, 1.0), 2);
        assert_eq!(reach_steps(0.0, 1.0, 11.0, 2.0, 1.0), 1);
    }

    #[test]
    fn yielding_needs_room_to_stop_or_a_cleared_point() {
        let p = params();
        assert!(can_yield(&p, 0.0, 6.0));
        assert!(!can_yield(&p, 11.0, 10.0), "13.7 m needed to stop");
        assert!(can_yield(&p, 5.0, -6.0), "tail past the point");
        assert!(!can_yield(&p, 5.0, -3.0), "still on the point");
    }
}
