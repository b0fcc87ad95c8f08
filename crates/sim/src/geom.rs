//! Plane geometry on polylines: lengths, points and headings at a distance, segment crossings.
//!
//! The formulas follow CityFlow's so that lane lengths and conflict points come out the same
//! (tolerance `EPS`, crossing points computed from the first segment's parameter).

use serde::{Deserialize, Serialize};

/// Tolerance used when deciding whether two segments are parallel or a point lies on a segment.
pub const EPS: f64 = 1e-8;

/// A point (or vector) in the network's plane, metres.
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Point {
    /// East-west coordinate, metres.
    pub x: f64,
    /// North-south coordinate, metres.
    pub y: f64,
}

impl Point {
    /// The point `(x, y)`.
    pub const fn new(x: f64, y: f64) -> Self {
        Self { x, y }
    }

    /// Euclidean length of the vector.
    pub fn len(self) -> f64 {
        (self.x * self.x + self.y * self.y).sqrt()
    }

    /// The vector scaled to length 1 (NaN for the zero vector, as in CityFlow).
    pub fn unit(self) -> Self {
        let l = self.len();
        Self::new(self.x / l, self.y / l)
    }

    /// The vector turned 90° counter-clockwise.
    pub fn normal(self) -> Self {
        Self::new(-self.y, self.x)
    }

    /// Angle of the vector, radians, counter-clockwise from the x axis.
    pub fn angle(self) -> f64 {
        self.y.atan2(self.x)
    }

    fn cross(self, other: Self) -> f64 {
        self.x * other.y - self.y * other.x
    }

    fn dot(self, other: Self) -> f64 {
        self.x * other.x + self.y * other.y
    }
}

impl std::ops::Add for Point {
    type Output = Point;
    fn add(self, o: Point) -> Point {
        Point::new(self.x + o.x, self.y + o.y)
    }
}

impl std::ops::Sub for Point {
    type Output = Point;
    fn sub(self, o: Point) -> Point {
        Point::new(self.x - o.x, self.y - o.y)
    }
}

impl std::ops::Mul<f64> for Point {
    type Output = Point;
    fn mul(self, k: f64) -> Point {
        Point::new(self.x * k, self.y * k)
    }
}

impl std::ops::Neg for Point {
    type Output = Point;
    fn neg(self) -> Point {
        Point::new(-self.x, -self.y)
    }
}

/// Sign with tolerance: 0 for |x| < EPS.
fn sign(x: f64) -> i32 {
    i32::from(x + EPS > 0.0) - i32::from(x < EPS)
}

/// Total length of a polyline.
pub fn polyline_length(points: &[Point]) -> f64 {
    points.windows(2).map(|w| (w[1] - w[0]).len()).sum()
}

/// The point at `distance` along a polyline (clamped to its ends).
pub fn point_at(points: &[Point], distance: f64) -> Point {
    let Some(&first) = points.first() else { return Point::default() };
    let dis = distance.max(0.0).min(polyline_length(points));
    if dis <= 0.0 {
        return first;
    }
    let mut dis = dis;
    for w in points.windows(2) {
        let len = (w[0] - w[1]).len();
        if dis > len {
            dis -= len;
        } else {
            return w[0] + (w[1] - w[0]) * (dis / len);
        }
    }
    *points.last().unwrap_or(&first)
}

/// Unit direction of the polyline segment containing `distance`.
pub fn direction_at(points: &[Point], distance: f64) -> Point {
    let mut remain = distance;
    for w in points.windows(2) {
        let len = (w[1] - w[0]).len();
        if remain < len {
            return (w[1] - w[0]).unit();
        }
        remain -= len;
    }
    match points {
        [.., a, b] => (*b - *a).unit(),
        _ => Point::new(1.0, 0.0),
    }
}

/// Where segments `a1-a2` and `b1-b2` cross, if they do (end points included, parallel
/// segments never cross).
pub fn segment_crossing(a1: Point, a2: Point, b1: Point, b2: Point) -> Option<Point> {
    let u = a2 - a1;
    let v = b2 - b1;
    if sign(u.cross(v)) == 0 {
        return None;
    }
    let p = a1 + u * ((b1 - a1).cross(v) / u.cross(v));
    (on_segment(a1, a2, p) && on_segment(b1, b2, p)).then_some(p)
}

fn on_segment(a: Point, b: Point, p: Point) -> bool {
    sign((b - a).cross(p - a)) == 0 && sign((p - a).dot(p - b)) <= 0
}

/// The first crossing of two polylines, scanning `a`'s segments in order and, for each, `b`'s:
/// the distance of the crossing along `a` and along `b`.
pub fn first_crossing(a: &[Point], b: &[Point]) -> Option<(f64, f64)> {
    // Segments whose boxes are apart cannot cross; the margin covers the tolerance.
    const MARGIN: f64 = 1e-6;
    let apart = |p: [Point; 2], q: [Point; 2]| {
        p[0].x.min(p[1].x) > q[0].x.max(q[1].x) + MARGIN
            || q[0].x.min(q[1].x) > p[0].x.max(p[1].x) + MARGIN
            || p[0].y.min(p[1].y) > q[0].y.max(q[1].y) + MARGIN
            || q[0].y.min(q[1].y) > p[0].y.max(p[1].y) + MARGIN
    };
    let whole_b = bounding_box([b])?;
    let mut dis_a = 0.0;
    for wa in a.windows(2) {
        let len_a = (wa[1] - wa[0]).len();
        if !apart([wa[0], wa[1]], whole_b) {
            let mut dis_b = 0.0;
            for wb in b.windows(2) {
                if !apart([wa[0], wa[1]], [wb[0], wb[1]])
                    && let Some(p) = segment_crossing(wa[0], wa[1], wb[0], wb[1])
                {
                    return Some((dis_a + (p - wa[0]).len(), dis_b + (p - wb[0]).len()));
                }
                dis_b += (wb[1] - wb[0]).len();
            }
        }
        dis_a += len_a;
    }
    None
}

/// Axis-aligned bounding box `[min, max]` of a set of polylines.
pub fn bounding_box<'a>(polylines: impl IntoIterator<Item = &'a [Point]>) -> Option<[Point; 2]> {
    let mut bbox: Option<[Point; 2]> = None;
    for p in polylines.into_iter().flatten() {
        let b = bbox.get_or_insert([*p, *p]);
        b[0] = Point::new(b[0].x.min(p.x), b[0].y.min(p.y));
        b[1] = Point::new(b[1].x.max(p.x), b[1].y.max(p.y));
    }
    bbox
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_at_walks_segments_and_clamps() {
        let pl = [Point::new(0.0, 0.0), Point::new(10.0, 0.0), Point::new(10.0, 10.0)];
        assert_eq!(polyline_length(&pl), 20.0);
        assert_eq!(point_at(&pl, 15.0), Point::new(10.0, 5.0));
        assert_eq!(point_at(&pl, -3.0), Point::new(0.0, 0.0));
        assert_eq!(point_at(&pl, 99.0), Point::new(10.0, 10.0));
        assert_eq!(direction_at(&pl, 12.0), Point::new(0.0, 1.0));
    }

    #[test]
    fn crossing_of_perpendicular_paths() {
        let a = [Point::new(0.0, 0.0), Point::new(10.0, 0.0)];
        let b = [Point::new(4.0, -5.0), Point::new(4.0, 5.0)];
        assert_eq!(first_crossing(&a, &b), Some((4.0, 5.0)));
        let c = [Point::new(0.0, 1.0), Point::new(10.0, 1.0)];
        assert_eq!(first_crossing(&a, &c), None, "parallel paths never cross");
    }
}
