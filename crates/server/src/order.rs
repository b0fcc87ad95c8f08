//! Entity ordering (clause 4.23): the `orderBy`, `orderFrom` and `collation` parameters of
//! Query Entities and the `ordering` member (OrderingParams, clause 5.2.43) of a Query body.
//!
//! Values compare by the 4.23.2 datatype order — numbers, strings, objects, arrays, booleans —
//! with entities lacking the value last in either direction. `dist-asc`/`dist-desc` rank by
//! the distance of a GeoProperty from the reference geometry. Strings compare by code point,
//! or, when a collation is named, by a root-collation approximation for Latin scripts:
//! letters first compare without accents and case, then accents, then case.

use std::cmp::Ordering as Cmp;

use citybrain_ngsi::Context;
use citybrain_ngsi::geo::{distance_m, geometry_from, parse_geometry};
use citybrain_ngsi::model::{AttrKind, Entity};
use geo::Geometry;
use serde_json::Value;

use crate::http::Params;
use crate::problem::{ApiError, ApiResult};

/// What one ordering key reads from an entity.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    Id,
    Type,
    CreatedAt,
    ModifiedAt,
    /// An attribute (expanded name), a chain of sub-attributes into it (`name.sub`, expanded;
    /// the last may be a metadata member such as `createdAt`), and a path into the compound
    /// value reached.
    Attr {
        name: String,
        subs: Vec<String>,
        path: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Direction {
    Asc,
    Desc,
    DistAsc,
    DistDesc,
}

#[derive(Debug, Clone, PartialEq)]
struct Key {
    target: Target,
    direction: Direction,
}

/// A checked ordering request.
#[derive(Debug)]
pub(crate) struct Ordering {
    keys: Vec<Key>,
    reference: Option<Geometry<f64>>,
    collated: bool,
}

impl Ordering {
    /// From the GET parameters `orderBy` (comma separated `path[;direction]`), `orderFrom`
    /// (a JSON coordinates array of a Point) and `collation` (an IETF language tag).
    pub(crate) fn from_params(p: &Params, ctx: &Context) -> ApiResult<Option<Ordering>> {
        let collated = check_collation(p.get("collation"))?;
        let terms = p.list("orderBy");
        if terms.is_empty() {
            return Ok(None);
        }
        let reference = match p.get("orderFrom") {
            None => None,
            Some(text) => {
                let coords: Value = serde_json::from_str(text).map_err(|_| {
                    ApiError::bad_data(format!(
                        "orderFrom must be a JSON coordinates array such as [8,40], not '{text}'"
                    ))
                })?;
                Some(reference_geometry("Point", &coords, "orderFrom")?)
            }
        };
        Ordering::build(&terms, reference, collated, ctx, "orderFrom").map(Some)
    }

    /// From the `ordering` member of a Query body (Table 5.2.43-1).
    pub(crate) fn from_body(json: &Value, ctx: &Context) -> ApiResult<Option<Ordering>> {
        let Some(o) = json.get("ordering") else { return Ok(None) };
        let Some(o) = o.as_object() else {
            return Err(ApiError::bad_data(format!("ordering must be an object, not {o}")));
        };
        let collated = match o.get("collation") {
            None => false,
            Some(Value::String(tag)) => check_collation(Some(tag))?,
            Some(other) => {
                return Err(ApiError::bad_data(format!(
                    "ordering.collation must be a string, not {other}"
                )));
            }
        };
        let geometry = match o.get("geometry") {
            None => "Point",
            Some(Value::String(g)) => g.as_str(),
            Some(other) => {
                return Err(ApiError::bad_data(format!(
                    "ordering.geometry must be a string, not {other}"
                )));
            }
        };
        let reference = match o.get("coordinates") {
            None => None,
            Some(c @ Value::Array(_)) => {
                Some(reference_geometry(geometry, c, "ordering.coordinates")?)
            }
            Some(other) => {
                return Err(ApiError::bad_data(format!(
                    "ordering.coordinates must be a JSON array, not {other}"
                )));
            }
        };
        let terms: Vec<String> = match o.get("orderBy") {
            None => Vec::new(),
            Some(Value::String(s)) => s.split(',').map(|t| t.trim().to_string()).collect(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str().map(str::to_string).ok_or_else(|| {
                        ApiError::bad_data(format!(
                            "ordering.orderBy items must be strings, not {i}"
                        ))
                    })
                })
                .collect::<ApiResult<_>>()?,
            Some(other) => {
                return Err(ApiError::bad_data(format!(
                    "ordering.orderBy must be an array of strings, not {other}"
                )));
            }
        };
        if terms.is_empty() {
            return Ok(None);
        }
        Ordering::build(&terms, reference, collated, ctx, "ordering.coordinates").map(Some)
    }

    fn build(
        terms: &[String],
        reference: Option<Geometry<f64>>,
        collated: bool,
        ctx: &Context,
        reference_name: &str,
    ) -> ApiResult<Ordering> {
        let keys = terms.iter().map(|t| parse_key(t, ctx)).collect::<ApiResult<Vec<_>>>()?;
        let by_distance =
            keys.iter().any(|k| matches!(k.direction, Direction::DistAsc | Direction::DistDesc));
        if by_distance && reference.is_none() {
            return Err(ApiError::bad_data(format!(
                "ordering by distance (dist-asc/dist-desc) needs the reference {reference_name}"
            )));
        }
        Ok(Ordering { keys, reference, collated })
    }

    /// Sorts `entities` (stable: ties keep their order).
    pub(crate) fn sort(&self, entities: &mut [Entity]) {
        entities.sort_by(|a, b| {
            self.keys
                .iter()
                .map(|k| self.compare(k, a, b))
                .find(|c| *c != Cmp::Equal)
                .unwrap_or(Cmp::Equal)
        });
    }

    fn compare(&self, key: &Key, a: &Entity, b: &Entity) -> Cmp {
        match key.direction {
            Direction::DistAsc | Direction::DistDesc => {
                let (da, db) = (self.distance(key, a), self.distance(key, b));
                match (da, db) {
                    (Some(x), Some(y)) if key.direction == Direction::DistAsc => x.total_cmp(&y),
                    (Some(x), Some(y)) => y.total_cmp(&x),
                    (Some(_), None) => Cmp::Less,
                    (None, Some(_)) => Cmp::Greater,
                    (None, None) => Cmp::Equal,
                }
            }
            Direction::Asc | Direction::Desc => {
                let (va, vb) = (sort_value(&key.target, a), sort_value(&key.target, b));
                match (va, vb) {
                    (Some(x), Some(y)) => {
                        let c = compare_values(&x, &y, self.collated);
                        if key.direction == Direction::Desc { c.reverse() } else { c }
                    }
                    (Some(_), None) => Cmp::Less,
                    (None, Some(_)) => Cmp::Greater,
                    (None, None) => Cmp::Equal,
                }
            }
        }
    }

    fn distance(&self, key: &Key, e: &Entity) -> Option<f64> {
        let reference = self.reference.as_ref()?;
        let Target::Attr { name, .. } = &key.target else { return None };
        let attr = default_instance(e, name)?;
        if attr.kind != AttrKind::GeoProperty {
            return None;
        }
        let geometry = parse_geometry(&attr.value).ok()?;
        Some(distance_m(reference, &geometry))
    }
}

fn reference_geometry(geometry: &str, coords: &Value, name: &str) -> ApiResult<Geometry<f64>> {
    geometry_from(geometry, coords).map_err(|e| {
        ApiError::bad_data(format!("{name} is not a valid {geometry} reference geometry: {e}"))
    })
}

/// Whether a collation is asked for; a tag that is not an IETF language tag (RFC 5646
/// syntax: alphanumeric subtags of 1–8 characters joined by `-`) is rejected.
fn check_collation(tag: Option<&str>) -> ApiResult<bool> {
    let Some(tag) = tag else { return Ok(false) };
    let mut subtags = tag.split('-');
    let primary_ok = subtags
        .next()
        .is_some_and(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphabetic()));
    let rest_ok =
        subtags.all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()));
    if primary_ok && rest_ok {
        Ok(true)
    } else {
        Err(ApiError::bad_data(format!(
            "collation '{tag}' is not an IETF language tag (RFC 6067/5646)"
        )))
    }
}

fn parse_key(term: &str, ctx: &Context) -> ApiResult<Key> {
    let bad = || {
        ApiError::bad_data(format!(
            "orderBy term '{term}' must be an attribute path with an optional ;asc, ;desc, \
             ;dist-asc or ;dist-desc"
        ))
    };
    let (path, direction) = match term.split_once(';') {
        None => (term.trim(), Direction::Asc),
        Some((path, dir)) => (
            path.trim(),
            match dir.trim() {
                "asc" => Direction::Asc,
                "desc" => Direction::Desc,
                "dist-asc" => Direction::DistAsc,
                "dist-desc" => Direction::DistDesc,
                _ => return Err(bad()),
            },
        ),
    };
    let (head, rest) = path.split_once('[').map_or((path, ""), |(n, r)| (n, r));
    if head.is_empty() || head.contains([']', ' ']) {
        return Err(bad());
    }
    // `name.sub.createdAt`: dots lead into sub-attributes, as in the query language (an
    // IRI keeps its dots).
    let chain: Vec<&str> =
        if head.contains("://") { vec![head] } else { head.split('.').collect() };
    if chain.iter().any(|part| part.is_empty()) {
        return Err(bad());
    }
    let (name, subs) = (chain[0], &chain[1..]);
    if subs.iter().enumerate().any(|(i, s)| METADATA.contains(s) && i + 1 != subs.len()) {
        return Err(bad());
    }
    let subs: Vec<String> = subs
        .iter()
        .map(|s| if METADATA.contains(s) { (*s).to_string() } else { ctx.expand(s) })
        .collect();
    let mut sub = Vec::new();
    if !rest.is_empty() {
        let inner = rest.strip_suffix(']').ok_or_else(bad)?;
        for part in inner.split("][") {
            if part.is_empty() || part.contains(['[', ']']) {
                return Err(bad());
            }
            sub.push(part.to_string());
        }
    }
    let plain = sub.is_empty() && subs.is_empty();
    let target = match (name, plain) {
        ("id", true) => Target::Id,
        ("type", true) => Target::Type,
        ("createdAt", true) => Target::CreatedAt,
        ("modifiedAt", true) => Target::ModifiedAt,
        _ => Target::Attr { name: ctx.expand(name), subs, path: sub },
    };
    if matches!(direction, Direction::DistAsc | Direction::DistDesc)
        && !matches!(target, Target::Attr { .. } if plain)
    {
        return Err(ApiError::bad_data(format!(
            "orderBy term '{term}': distance ordering needs a GeoProperty name"
        )));
    }
    Ok(Key { target, direction })
}

fn default_instance<'e>(e: &'e Entity, name: &str) -> Option<&'e citybrain_ngsi::model::Attribute> {
    let list = e.attrs.get(name)?;
    list.iter().find(|a| a.dataset_id.is_none()).or_else(|| list.first())
}

/// The value an entity is ordered by, if it has one.
fn sort_value(target: &Target, e: &Entity) -> Option<Value> {
    match target {
        Target::Id => Some(Value::String(e.id.clone())),
        Target::Type => e.types.first().map(|t| Value::String(t.clone())),
        Target::CreatedAt => Some(Value::from(e.created_at)),
        Target::ModifiedAt => Some(Value::from(e.modified_at)),
        Target::Attr { name, subs, path } => {
            let mut attr = default_instance(e, name)?;
            for step in subs {
                if let Some(meta) = metadata_value(attr, step) {
                    return meta;
                }
                attr = attr.sub.get(step)?;
            }
            let mut v = &attr.value;
            for step in path {
                v = v.get(step.as_str())?;
            }
            (!v.is_null()).then(|| v.clone())
        }
    }
}

/// Members of an attribute that an ordering path may end in, besides sub-attributes.
const METADATA: [&str; 4] = ["createdAt", "modifiedAt", "observedAt", "unitCode"];

/// `Some(value)` when `member` names a metadata member of `attr` (the value is `None` when
/// the attribute lacks it), `None` when it names a sub-attribute.
fn metadata_value(attr: &citybrain_ngsi::model::Attribute, member: &str) -> Option<Option<Value>> {
    Some(match member {
        "createdAt" => Some(Value::from(attr.created_at)),
        "modifiedAt" => Some(Value::from(attr.modified_at)),
        "observedAt" => attr.observed_at.map(Value::from),
        "unitCode" => attr.unit_code.clone().map(Value::String),
        _ => return None,
    })
}

/// Rank of a JSON datatype in the 4.23.2 comparison order.
fn rank(v: &Value) -> u8 {
    match v {
        Value::Number(_) => 0,
        Value::String(_) => 1,
        Value::Object(_) => 2,
        Value::Array(_) => 3,
        Value::Bool(_) => 4,
        Value::Null => 5,
    }
}

fn compare_values(a: &Value, b: &Value, collated: bool) -> Cmp {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().unwrap_or(f64::NAN).total_cmp(&y.as_f64().unwrap_or(f64::NAN))
        }
        (Value::String(x), Value::String(y)) if collated => collate(x, y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ if rank(a) != rank(b) => rank(a).cmp(&rank(b)),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// Compares under the root-collation approximation: base letters without case or accents,
/// then accents (unaccented first), then case (lower first), then code points.
fn collate(a: &str, b: &str) -> Cmp {
    let (ka, kb) = (collation_key(a), collation_key(b));
    ka.cmp(&kb).then_with(|| a.cmp(b))
}

type CollationKey = (Vec<char>, Vec<u32>, Vec<bool>);

fn collation_key(s: &str) -> CollationKey {
    let mut primary = Vec::with_capacity(s.len());
    let mut accents = Vec::with_capacity(s.len());
    let mut upper = Vec::with_capacity(s.len());
    for c in s.chars() {
        // Combining diacritical marks weigh only at the accent level.
        if ('\u{300}'..='\u{36f}').contains(&c) {
            if let Some(last) = accents.last_mut() {
                *last = c as u32;
            }
            continue;
        }
        let (base, accent) = match fold(c) {
            Some(b) => (b, c as u32),
            None => (c, 0),
        };
        for b in base.to_lowercase() {
            primary.push(b);
            accents.push(accent);
            upper.push(c.is_uppercase());
        }
    }
    (primary, accents, upper)
}

/// Base letters of U+00C0–U+00FF (`*` = no letter).
const LATIN1: &str = "AAAAAAACEEEEIIIIDNOOOOO*OUUUUYTsaaaaaaaceeeeiiiidnooooo*ouuuuyty";
/// Base letters of U+0100–U+017F.
const LATIN_EXT_A: &str = "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIiIiJjKkkLlLlLlLlLlNnNnNnnNnOoOoOoOoRrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzs";

/// The base letter of an accented Latin letter.
fn fold(c: char) -> Option<char> {
    let code = c as u32;
    let (table, start) = match code {
        0xC0..=0xFF => (LATIN1, 0xC0),
        0x100..=0x17F => (LATIN_EXT_A, 0x100),
        _ => return None,
    };
    let base = table.as_bytes()[(code - start) as usize] as char;
    (base != '*').then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_collation_ranks_accents_with_their_base_letter() {
        let mut names = vec!["b", "á", "A", "a", "Zebra", "Ähre"];
        names.sort_by(|a, b| collate(a, b));
        assert_eq!(names, ["a", "A", "á", "Ähre", "b", "Zebra"]);
        // Code point order differs: "Z" < "a" < "b" < "Ä" < "á".
        names.sort();
        assert_eq!(names, ["A", "Zebra", "a", "b", "Ähre", "á"]);
    }

    #[test]
    fn fold_tables_cover_their_blocks() {
        assert_eq!(LATIN1.len(), 0x40);
        assert_eq!(LATIN_EXT_A.len(), 0x80);
        assert_eq!(fold('é'), Some('e'));
        assert_eq!(fold('Ž'), Some('Z'));
        assert_eq!(fold('ß'), Some('s'));
        assert_eq!(fold('×'), None);
        assert_eq!(fold('q'), None);
    }

    #[test]
    fn collation_tags_follow_the_language_tag_syntax() {
        assert!(check_collation(Some("und")).unwrap());
        assert!(check_collation(Some("de-u-co-phonebk")).unwrap());
        assert!(check_collation(Some("!!nope")).is_err());
        assert!(check_collation(Some("not a bcp47 tag!!")).is_err());
        assert!(!check_collation(None).unwrap());
    }

    #[test]
    fn dotted_paths_lead_into_sub_attributes() {
        let ctx = Context::core();
        let key = parse_key("name.subProperty;desc", &ctx).unwrap();
        let Target::Attr { subs, .. } = &key.target else { panic!("{key:?}") };
        assert_eq!(subs.len(), 1);
        assert_eq!(key.direction, Direction::Desc);
        let key = parse_key("name.createdAt", &ctx).unwrap();
        assert!(matches!(&key.target, Target::Attr { subs, .. } if subs == &["createdAt"]));
        assert!(parse_key("name..x", &ctx).is_err());
        assert!(parse_key("name.createdAt.x", &ctx).is_err());
        assert!(parse_key("location.sub;dist-asc", &ctx).is_err());
    }

    #[test]
    fn datatypes_rank_numbers_before_strings() {
        assert_eq!(compare_values(&Value::from(5), &Value::from("abc"), false), Cmp::Less);
        assert_eq!(compare_values(&Value::from("z"), &Value::from(true), false), Cmp::Less);
        assert_eq!(compare_values(&Value::from(2.5), &Value::from(10), false), Cmp::Less);
    }
}
