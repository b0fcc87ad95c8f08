//! Roadnet metres → WGS84 longitude/latitude, so that the hub's geo-queries work.
//!
//! The roadnet has plain metres (x east, y north) around an arbitrary origin. We place that
//! origin at Hangzhou (120.15° E, 30.28° N) and use an equirectangular offset: one metre north
//! is 1/110 574 degree of latitude, one metre east is 1/(111 320 · cos 30.28°) degree of
//! longitude. Over a few kilometres the error is far below a lane width.

/// Longitude of the roadnet's origin, degrees east.
pub const ORIGIN_LON: f64 = 120.15;
/// Latitude of the roadnet's origin, degrees north.
pub const ORIGIN_LAT: f64 = 30.28;

const METRES_PER_DEG_LAT: f64 = 110_574.0;
const METRES_PER_DEG_LON_EQUATOR: f64 = 111_320.0;

/// `[longitude, latitude]` of the roadnet point (`x_m`, `y_m`), GeoJSON order.
pub fn to_lon_lat(x_m: f64, y_m: f64) -> [f64; 2] {
    let per_deg_lon = METRES_PER_DEG_LON_EQUATOR * ORIGIN_LAT.to_radians().cos();
    [ORIGIN_LON + x_m / per_deg_lon, ORIGIN_LAT + y_m / METRES_PER_DEG_LAT]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_is_hangzhou_and_a_kilometre_is_about_a_hundredth_of_a_degree() {
        assert_eq!(to_lon_lat(0.0, 0.0), [ORIGIN_LON, ORIGIN_LAT]);
        let [lon, lat] = to_lon_lat(1000.0, 1000.0);
        assert!((lat - ORIGIN_LAT - 0.009_044).abs() < 1e-6, "{lat}");
        assert!((lon - ORIGIN_LON - 0.010_400).abs() < 1e-5, "{lon}");
        let [west, south] = to_lon_lat(-500.0, -500.0);
        assert!(west < ORIGIN_LON && south < ORIGIN_LAT);
    }
}
