//! GeoJSON geometries and NGSI-LD geo-queries (`georel`, `geometry`, `coordinates`,
//! `geoproperty`). Predicates come from the `geo` crate (DE-9IM relate); distances for `near`
//! are haversine between points and equirectangular metres otherwise.

use geo::{
    Coord, Distance, Euclidean, Geometry, Haversine, LineString, MultiLineString, MultiPoint,
    MultiPolygon, Point, Polygon, Rect, Relate,
};
use serde_json::Value;

use crate::error::{NgsiError, NgsiResult};

const GEOMETRY_TYPES: [&str; 6] =
    ["Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"];

/// Whether `t` names a GeoJSON geometry type NGSI-LD supports.
pub fn is_geometry_type(t: &str) -> bool {
    GEOMETRY_TYPES.contains(&t)
}

/// Parses a GeoJSON geometry object.
pub fn parse_geometry(v: &Value) -> NgsiResult<Geometry<f64>> {
    let t = v.get("type").and_then(Value::as_str).ok_or_else(|| bad("geometry has no 'type'"))?;
    let coords = v.get("coordinates").ok_or_else(|| bad("geometry has no 'coordinates'"))?;
    geometry_from(t, coords)
}

/// Builds a geometry of type `t` from a coordinates array.
pub fn geometry_from(t: &str, coords: &Value) -> NgsiResult<Geometry<f64>> {
    Ok(match t {
        "Point" => Geometry::Point(Point(position(coords)?)),
        "LineString" => Geometry::LineString(line(coords, 2)?),
        "Polygon" => Geometry::Polygon(polygon(coords)?),
        "MultiPoint" => Geometry::MultiPoint(MultiPoint(
            array(coords)?.iter().map(|p| position(p).map(Point)).collect::<NgsiResult<_>>()?,
        )),
        "MultiLineString" => Geometry::MultiLineString(MultiLineString(
            array(coords)?.iter().map(|l| line(l, 2)).collect::<NgsiResult<_>>()?,
        )),
        "MultiPolygon" => Geometry::MultiPolygon(MultiPolygon(
            array(coords)?.iter().map(polygon).collect::<NgsiResult<_>>()?,
        )),
        other => return Err(bad(&format!("'{other}' is not a supported geometry type"))),
    })
}

fn bad(detail: &str) -> NgsiError {
    NgsiError::bad_data(format!("invalid geometry: {detail}"))
}

fn array(v: &Value) -> NgsiResult<&Vec<Value>> {
    v.as_array().ok_or_else(|| bad("coordinates must be arrays"))
}

fn position(v: &Value) -> NgsiResult<Coord<f64>> {
    let items = array(v)?;
    if !(2..=3).contains(&items.len()) {
        return Err(bad("a position has two or three numbers"));
    }
    let x = items[0].as_f64().ok_or_else(|| bad("positions must be numbers"))?;
    let y = items[1].as_f64().ok_or_else(|| bad("positions must be numbers"))?;
    if !(-180.0..=180.0).contains(&x) || !(-90.0..=90.0).contains(&y) {
        return Err(bad("longitude/latitude out of range"));
    }
    Ok(Coord { x, y })
}

fn line(v: &Value, min: usize) -> NgsiResult<LineString<f64>> {
    let pts: Vec<Coord<f64>> = array(v)?.iter().map(position).collect::<NgsiResult<_>>()?;
    if pts.len() < min {
        return Err(bad("a line needs at least two positions"));
    }
    Ok(LineString(pts))
}

fn polygon(v: &Value) -> NgsiResult<Polygon<f64>> {
    let rings = array(v)?;
    let mut lines = Vec::with_capacity(rings.len());
    for ring in rings {
        let l = line(ring, 4)?;
        if l.0.first() != l.0.last() {
            return Err(bad("polygon rings must be closed"));
        }
        lines.push(l);
    }
    let mut it = lines.into_iter();
    let exterior = it.next().ok_or_else(|| bad("a polygon needs a ring"))?;
    Ok(Polygon::new(exterior, it.collect()))
}

/// A geo relation of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum GeoRel {
    /// `near;maxDistance==d` and/or `near;minDistance==d` (metres).
    Near {
        /// Upper bound in metres.
        max: Option<f64>,
        /// Lower bound in metres.
        min: Option<f64>,
    },
    /// The entity's geometry lies within the query geometry.
    Within,
    /// The entity's geometry contains the query geometry.
    Contains,
    /// They intersect.
    Intersects,
    /// They are disjoint.
    Disjoint,
    /// They are topologically equal.
    Equals,
    /// They overlap.
    Overlaps,
}

impl GeoRel {
    /// Parses a `georel` parameter.
    pub fn parse(text: &str) -> NgsiResult<GeoRel> {
        let mut parts = text.split(';');
        let name = parts.next().unwrap_or_default();
        let rel = match name {
            "near" => {
                // Clause 4.10: nearRel = nearOp andOp distance equal PositiveNumber — exactly
                // one distance modifier, and a finite number above zero.
                let modifier = parts.next().ok_or_else(|| invalid_rel(text))?;
                if parts.next().is_some() {
                    return Err(invalid_rel(text));
                }
                let (key, val) = modifier.split_once("==").ok_or_else(|| invalid_rel(text))?;
                let d: f64 = val.parse().map_err(|_| invalid_rel(text))?;
                if !d.is_finite() || d <= 0.0 {
                    return Err(invalid_rel(text));
                }
                return match key {
                    "maxDistance" => Ok(GeoRel::Near { max: Some(d), min: None }),
                    "minDistance" => Ok(GeoRel::Near { max: None, min: Some(d) }),
                    _ => Err(invalid_rel(text)),
                };
            }
            "within" => GeoRel::Within,
            "contains" => GeoRel::Contains,
            "intersects" => GeoRel::Intersects,
            "disjoint" => GeoRel::Disjoint,
            "equals" => GeoRel::Equals,
            "overlaps" => GeoRel::Overlaps,
            _ => return Err(invalid_rel(text)),
        };
        if parts.next().is_some() {
            return Err(invalid_rel(text));
        }
        Ok(rel)
    }

    /// The `georel` text for this relation.
    pub fn to_text(&self) -> String {
        match self {
            GeoRel::Near { max, min } => {
                let mut s = "near".to_string();
                if let Some(m) = max {
                    s.push_str(&format!(";maxDistance=={m}"));
                }
                if let Some(m) = min {
                    s.push_str(&format!(";minDistance=={m}"));
                }
                s
            }
            GeoRel::Within => "within".into(),
            GeoRel::Contains => "contains".into(),
            GeoRel::Intersects => "intersects".into(),
            GeoRel::Disjoint => "disjoint".into(),
            GeoRel::Equals => "equals".into(),
            GeoRel::Overlaps => "overlaps".into(),
        }
    }
}

fn invalid_rel(text: &str) -> NgsiError {
    NgsiError::bad_data(format!("georel '{text}' is not a valid geo relation"))
}

/// A parsed geo-query.
#[derive(Debug, Clone)]
pub struct GeoQuery {
    /// The relation.
    pub rel: GeoRel,
    /// The reference geometry.
    pub geometry: Geometry<f64>,
    /// The expanded name of the GeoProperty to test (default `location`).
    pub property: String,
}

/// The expanded IRI of the default geo-property `location`.
pub const LOCATION: &str = "https://uri.etsi.org/ngsi-ld/location";

impl GeoQuery {
    /// Builds a query from the `georel`, `geometry` and `coordinates` parameters.
    pub fn new(
        georel: &str,
        geometry: &str,
        coordinates: &Value,
        property: String,
    ) -> NgsiResult<GeoQuery> {
        let rel = GeoRel::parse(georel)?;
        let coords = match coordinates {
            Value::String(text) => serde_json::from_str(text).map_err(|_| {
                NgsiError::bad_data(format!("coordinates '{text}' are not a JSON array"))
            })?,
            other => other.clone(),
        };
        // Any reference geometry works for `near`: the distance is measured to its closest
        // point (conformance 019_30_09/10).
        let geometry = geometry_from(geometry, &coords)?;
        Ok(GeoQuery { rel, geometry, property })
    }

    /// Whether an entity whose geo-property is `target` matches.
    pub fn matches(&self, target: &Geometry<f64>) -> bool {
        match &self.rel {
            GeoRel::Near { max, min } => {
                let d = distance_m(&self.geometry, target);
                max.is_none_or(|m| d <= m) && min.is_none_or(|m| d >= m)
            }
            GeoRel::Within => target.relate(&self.geometry).is_within(),
            GeoRel::Contains => target.relate(&self.geometry).is_contains(),
            GeoRel::Intersects => target.relate(&self.geometry).is_intersects(),
            GeoRel::Disjoint => target.relate(&self.geometry).is_disjoint(),
            // Identical coordinates are equal even when the polygon is not simple (a ring
            // touching itself defeats the topological test; conformance 019_11_01).
            GeoRel::Equals => {
                *target == self.geometry || target.relate(&self.geometry).is_equal_topo()
            }
            GeoRel::Overlaps => target.relate(&self.geometry).is_overlaps(),
        }
    }

    /// A lon/lat box that contains every matching target's bounding box, for index pruning;
    /// `None` when the relation cannot be bounded (disjoint, minDistance only).
    pub fn search_box(&self) -> Option<Rect<f64>> {
        use geo::BoundingRect;
        let rect = self.geometry.bounding_rect()?;
        match &self.rel {
            GeoRel::Disjoint => None,
            GeoRel::Near { max: None, .. } => None,
            GeoRel::Near { max: Some(m), .. } => {
                let c = rect.center();
                let dlat = m / 111_000.0;
                let dlon = m / (111_000.0 * c.y.to_radians().cos().max(0.01));
                Some(Rect::new(
                    Coord { x: rect.min().x - dlon, y: rect.min().y - dlat },
                    Coord { x: rect.max().x + dlon, y: rect.max().y + dlat },
                ))
            }
            _ => Some(rect),
        }
    }
}

/// Distance in metres between two geometries.
pub fn distance_m(a: &Geometry<f64>, b: &Geometry<f64>) -> f64 {
    if let (Geometry::Point(p), Geometry::Point(q)) = (a, b) {
        return Haversine.distance(*p, *q);
    }
    use geo::{BoundingRect, MapCoords};
    let origin = a.bounding_rect().map(|r| r.center()).unwrap_or(Coord { x: 0.0, y: 0.0 });
    let k = origin.y.to_radians().cos();
    let project = |c: Coord<f64>| Coord {
        x: (c.x - origin.x) * 111_320.0 * k,
        y: (c.y - origin.y) * 110_540.0,
    };
    let pa = a.map_coords(project);
    let pb = b.map_coords(project);
    Euclidean.distance(&pa, &pb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(rel: &str, geom: &str, coords: Value) -> GeoQuery {
        GeoQuery::new(rel, geom, &coords, LOCATION.into()).unwrap()
    }

    #[test]
    fn relations() {
        let square = json!([[[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 0.0]]]);
        let inside = parse_geometry(&json!({"type": "Point", "coordinates": [0.5, 0.5]})).unwrap();
        let outside = parse_geometry(&json!({"type": "Point", "coordinates": [2.0, 2.0]})).unwrap();
        assert!(q("within", "Polygon", square.clone()).matches(&inside));
        assert!(!q("within", "Polygon", square.clone()).matches(&outside));
        assert!(q("disjoint", "Polygon", square.clone()).matches(&outside));
        assert!(q("intersects", "Polygon", square).matches(&inside));
        let near = q("near;maxDistance==2000", "Point", json!([0.51, 0.5]));
        assert!(near.matches(&inside));
        assert!(!near.matches(&outside));
        assert!(q("near;minDistance==2000", "Point", json!([0.51, 0.5])).matches(&outside));
        let line = q("near;maxDistance==2000", "LineString", json!([[0.0, 60.0], [10.0, 60.0]]));
        let by_the_line =
            parse_geometry(&json!({"type": "Point", "coordinates": [10.0, 60.009]})).unwrap();
        assert!(line.matches(&by_the_line), "about 1 km from the line's east end");
    }

    #[test]
    fn equals_matches_identical_coordinates_of_a_ring_touching_itself() {
        let ring = json!([[
            [13.2865906, 52.5648645],
            [13.2879639, 52.5648645],
            [13.2797241, 52.4988679],
            [13.477478, 52.4712703],
            [13.5049438, 52.5373084],
            [13.2865906, 52.5648645]
        ]]);
        let stored = parse_geometry(&json!({"type": "Polygon", "coordinates": ring})).unwrap();
        assert!(q("equals", "Polygon", ring).matches(&stored));
        let other = json!([[[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]]);
        assert!(!q("equals", "Polygon", other).matches(&stored));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(GeoRel::parse("nearby").is_err());
        assert!(GeoRel::parse("near").is_err());
        assert!(GeoRel::parse("near;maxDistance==abc").is_err());
        for zero_two_or_unbounded in [
            "near;maxDistance==0",
            "near;minDistance==-1",
            "near;maxDistance==5;minDistance==1",
            "near;maxDistance==inf",
            "near;maxDistance==NaN",
            "near;maxDistance==1e400",
        ] {
            assert!(GeoRel::parse(zero_two_or_unbounded).is_err(), "{zero_two_or_unbounded}");
        }
        assert!(
            parse_geometry(&json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 1]]]}))
                .is_err()
        );
        assert!(parse_geometry(&json!({"type": "Point", "coordinates": [200, 0]})).is_err());
        assert!(GeoQuery::new("within", "Point", &json!("[1,"), LOCATION.into()).is_err());
    }
}
