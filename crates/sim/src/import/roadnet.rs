//! `roadnet.json` → [`RoadNetwork`], with every reference and number checked.

use std::collections::BTreeMap;

use super::raw::{self, RawIntersection, RawPoint, RawRoad};
use super::{check_finite, check_positive};
use crate::error::ImportError;
use crate::geom::Point;
use crate::ids::{IntersectionId, RoadId};
use crate::network::{NetworkBuilder, RawLaneLink, RoadNetwork, TurnType};

/// Parses a CityFlow `roadnet.json`. `file` names the source in error messages.
pub fn parse_roadnet(text: &str, file: &str) -> Result<RoadNetwork, ImportError> {
    let raw: raw::Roadnet = ImportError::parse(file, text)?;
    Importer { file, b: NetworkBuilder::default() }.run(raw)
}

struct Importer<'f> {
    file: &'f str,
    b: NetworkBuilder,
}

impl Importer<'_> {
    fn err(&self, path: impl Into<String>, message: impl Into<String>) -> ImportError {
        ImportError::invalid(self.file, path, message)
    }

    fn run(mut self, raw: raw::Roadnet) -> Result<RoadNetwork, ImportError> {
        let inter_ids = self.intersections(&raw.intersections)?;
        let road_ids = self.roads(&raw.roads, &inter_ids)?;
        for (i, inter) in raw.intersections.iter().enumerate() {
            self.intersection_detail(i, inter, IntersectionId::from_index(i), &road_ids)?;
        }
        self.b.finish().map_err(|(road, msg)| {
            ImportError::invalid(self.file, format!("roads[{}]", road.0), msg)
        })
    }

    fn intersections(
        &mut self,
        raw: &[RawIntersection],
    ) -> Result<BTreeMap<String, IntersectionId>, ImportError> {
        let mut ids = BTreeMap::new();
        for (i, inter) in raw.iter().enumerate() {
            let path = || format!("intersections[{i}]");
            let point = self.point(&inter.point, &|| format!("{}.point", path()))?;
            let width = if inter.is_virtual {
                inter.width.unwrap_or(0.0)
            } else {
                let w = inter.width.ok_or_else(|| {
                    self.err(
                        format!("{}.width", path()),
                        "missing; expected the box width in metres",
                    )
                })?;
                check_finite(self.file, || format!("{}.width", path()), w)?;
                if w < 0.0 {
                    return Err(self.err(format!("{}.width", path()), "expected a width ≥ 0"));
                }
                w
            };
            if ids.contains_key(&inter.id) {
                return Err(self.err(
                    format!("{}.id", path()),
                    format!("duplicate intersection id {:?}", inter.id),
                ));
            }
            let iid = self.b.add_intersection(inter.id.clone(), point, width, inter.is_virtual);
            ids.insert(inter.id.clone(), iid);
        }
        Ok(ids)
    }

    fn roads(
        &mut self,
        raw: &[RawRoad],
        inter_ids: &BTreeMap<String, IntersectionId>,
    ) -> Result<BTreeMap<String, RoadId>, ImportError> {
        let mut ids = BTreeMap::new();
        for (i, road) in raw.iter().enumerate() {
            let path = || format!("roads[{i}]");
            let lookup = |field: &str, name: &str| {
                inter_ids.get(name).copied().ok_or_else(|| {
                    self.err(
                        format!("{}.{field}", path()),
                        format!("no intersection with id {name:?}"),
                    )
                })
            };
            let start = lookup("startIntersection", &road.start_intersection)?;
            let end = lookup("endIntersection", &road.end_intersection)?;
            if road.points.len() < 2 {
                return Err(self.err(format!("{}.points", path()), "expected at least 2 points"));
            }
            let mut points = Vec::with_capacity(road.points.len());
            for (j, p) in road.points.iter().enumerate() {
                let p = self.point(p, &|| format!("{}.points[{j}]", path()))?;
                if points.last() == Some(&p) {
                    return Err(self.err(
                        format!("{}.points[{j}]", path()),
                        "repeats the previous point; expected distinct consecutive points",
                    ));
                }
                points.push(p);
            }
            if road.lanes.is_empty() {
                return Err(self.err(format!("{}.lanes", path()), "expected at least one lane"));
            }
            let mut lanes = Vec::with_capacity(road.lanes.len());
            for (j, lane) in road.lanes.iter().enumerate() {
                let lp = |f: &str| format!("{}.lanes[{j}].{f}", path());
                check_positive(self.file, || lp("width"), lane.width)?;
                check_positive(self.file, || lp("maxSpeed"), lane.max_speed)?;
                lanes.push((lane.width, lane.max_speed));
            }
            if ids.contains_key(&road.id) {
                return Err(
                    self.err(format!("{}.id", path()), format!("duplicate road id {:?}", road.id))
                );
            }
            let rid = self.b.add_road(road.id.clone(), start, end, points, lanes);
            ids.insert(road.id.clone(), rid);
        }
        Ok(ids)
    }

    fn intersection_detail(
        &mut self,
        i: usize,
        inter: &RawIntersection,
        iid: IntersectionId,
        road_ids: &BTreeMap<String, RoadId>,
    ) -> Result<(), ImportError> {
        let path = || format!("intersections[{i}]");
        let mut roads = Vec::with_capacity(inter.roads.len());
        for (j, name) in inter.roads.iter().enumerate() {
            let rid = road_ids.get(name).copied().ok_or_else(|| {
                self.err(format!("{}.roads[{j}]", path()), format!("no road with id {name:?}"))
            })?;
            roads.push(rid);
        }
        self.b.set_intersection_roads(iid, roads);
        if inter.is_virtual {
            return Ok(());
        }
        let road_links = inter.road_links.as_deref().ok_or_else(|| {
            self.err(
                format!("{}.roadLinks", path()),
                "missing; expected an array (a non-virtual intersection needs its movements)",
            )
        })?;
        for (k, rl) in road_links.iter().enumerate() {
            self.road_link(&|| format!("{}.roadLinks[{k}]", path()), rl, iid, road_ids)?;
        }
        let light = inter.traffic_light.as_ref().ok_or_else(|| {
            self.err(
                format!("{}.trafficLight", path()),
                "missing; expected an object with lightphases",
            )
        })?;
        for (k, phase) in light.lightphases.iter().enumerate() {
            let pp = || format!("{}.trafficLight.lightphases[{k}]", path());
            check_positive(self.file, || format!("{}.time", pp()), phase.time)?;
            let mut available = Vec::with_capacity(phase.available_road_links.len());
            for (m, &idx) in phase.available_road_links.iter().enumerate() {
                match usize::try_from(idx) {
                    Ok(u) if u < road_links.len() => available.push(u),
                    _ => {
                        return Err(self.err(
                            format!("{}.availableRoadLinks[{m}]", pp()),
                            format!(
                                "road link {idx} does not exist; expected an index in 0..{}",
                                road_links.len()
                            ),
                        ));
                    }
                }
            }
            self.b.add_phase(iid, phase.time, available);
        }
        Ok(())
    }

    fn road_link(
        &mut self,
        path: &dyn Fn() -> String,
        rl: &raw::RawRoadLink,
        iid: IntersectionId,
        road_ids: &BTreeMap<String, RoadId>,
    ) -> Result<(), ImportError> {
        let turn = TurnType::parse(&rl.kind).ok_or_else(|| {
            self.err(
                format!("{}.type", path()),
                format!(
                    "unknown type {:?}; expected go_straight, turn_left or turn_right",
                    rl.kind
                ),
            )
        })?;
        let road = |field: &str, name: &str| {
            road_ids.get(name).copied().ok_or_else(|| {
                self.err(format!("{}.{field}", path()), format!("no road with id {name:?}"))
            })
        };
        let start_road = road("startRoad", &rl.start_road)?;
        let end_road = road("endRoad", &rl.end_road)?;
        let start_lanes = self.b.lane_count(start_road);
        let end_lanes = self.b.lane_count(end_road);
        let mut links = Vec::with_capacity(rl.lane_links.len());
        for (m, ll) in rl.lane_links.iter().enumerate() {
            let lp = || format!("{}.laneLinks[{m}]", path());
            let index = |field: &str, v: i64, n: usize, road: &str| match usize::try_from(v) {
                Ok(u) if u < n => Ok(u),
                _ => Err(self.err(
                    format!("{}.{field}", lp()),
                    format!(
                        "lane {v} does not exist on road {road:?}; expected an index in 0..{n}"
                    ),
                )),
            };
            let start_lane_index =
                index("startLaneIndex", ll.start_lane_index, start_lanes, &rl.start_road)?;
            let end_lane_index = index("endLaneIndex", ll.end_lane_index, end_lanes, &rl.end_road)?;
            let points = match &ll.points {
                None => None,
                Some(pts) if pts.is_empty() => None,
                Some(pts) if pts.len() == 1 => {
                    return Err(self
                        .err(format!("{}.points", lp()), "expected at least 2 points (or none)"));
                }
                Some(pts) => Some(
                    pts.iter()
                        .enumerate()
                        .map(|(j, p)| self.point(p, &|| format!("{}.points[{j}]", lp())))
                        .collect::<Result<Vec<_>, _>>()?,
                ),
            };
            links.push(RawLaneLink { start_lane_index, end_lane_index, points });
        }
        self.b.add_road_link(iid, turn, start_road, end_road, links);
        Ok(())
    }

    fn point(&self, p: &RawPoint, path: &dyn Fn() -> String) -> Result<Point, ImportError> {
        check_finite(self.file, || format!("{}.x", path()), p.x)?;
        check_finite(self.file, || format!("{}.y", path()), p.y)?;
        Ok(Point::new(p.x, p.y))
    }
}
