//! Parsing NGSI-LD request bodies (normalized or concise) into the model, with the
//! validation the spec requires: ids are URIs, names are valid terms, every attribute has the
//! member its type demands and none of the members it prohibits.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::context::{Context, TypeMapping};
use crate::error::{NgsiError, NgsiResult};
use crate::geo::parse_geometry;
use crate::model::{AttrKind, Attribute, Entity};
use crate::time::{Micros, parse_utc_datetime};

/// The NGSI-LD null, used in merge and update requests to delete an attribute.
pub const NGSI_LD_NULL: &str = "urn:ngsi-ld:null";

/// Members that are part of an attribute itself (never sub-attributes).
const ATTR_MEMBERS: &[&str] = &[
    "type",
    "value",
    "object",
    "languageMap",
    "vocab",
    "json",
    "valueList",
    "objectList",
    "datasetId",
    "observedAt",
    "unitCode",
    "objectType",
    "createdAt",
    "modifiedAt",
    "deletedAt",
    "instanceId",
    "valueType",
    "lang",
];

/// Core non-reified terms that shall not be used as attribute names (clause 4.5.1).
const RESERVED_NAMES: &[&str] = &[
    "value",
    "object",
    "languageMap",
    "vocab",
    "json",
    "valueList",
    "objectList",
    "datasetId",
    "observedAt",
    "unitCode",
    "objectType",
    "instanceId",
    "deletedAt",
    "lang",
    "@id",
    "@type",
    "entityIdSealed",
    "entityTypeSealed",
    "previousValue",
    "previousObject",
    "previousLanguageMap",
    "previousVocab",
    "previousJson",
    "previousValueList",
    "previousObjectList",
];

/// Members a normalized attribute may never carry (clause 4.5.2.2 and friends).
const OUTPUT_ONLY: &[&str] = &[
    "entity",
    "entityList",
    "previousValue",
    "previousObject",
    "previousLanguageMap",
    "previousVocab",
    "previousJson",
    "previousValueList",
    "previousObjectList",
    "entityIdSealed",
    "entityTypeSealed",
];

/// Whether `text` is a URI (scheme `:` rest, no spaces or forbidden characters).
pub fn is_uri(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else { return false };
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !text.chars().any(forbidden_in_uri)
}

/// Characters a URI cannot hold as written: spaces, controls, the delimiters RFC 3987 leaves
/// out, and [`is_invisible`] ones. ASCII is decided without the Unicode tables (ids are
/// checked on every write).
fn forbidden_in_uri(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_whitespace()
            || c.is_ascii_control()
            || matches!(c, '<' | '>' | '"' | '{' | '}' | '|' | '\\' | '^' | '`');
    }
    c.is_whitespace() || c.is_control() || is_invisible(c)
}

/// Characters an IRI may formally contain but that render as nothing (or as something
/// else): format and bidi controls, zero-width and filler characters, variation selectors
/// and noncharacters. An id carrying one reads back as a different id, so it is refused.
fn is_invisible(c: char) -> bool {
    let u = u32::from(c);
    matches!(u,
        0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x2800 | 0x3164
        | 0xFDD0..=0xFDEF | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFFB
        | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
        || u & 0xFFFE == 0xFFFE
}

/// Whether `name` is a valid attribute or type name (a term or an IRI).
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.chars().any(|c| c.is_whitespace() || c.is_control() || "<>\"'=;()".contains(c))
        && !is_dot_segment(name)
}

/// Whether `name`, with its percent triplets folded until nothing changes, is a relative-path
/// dot segment (`.` or `..`): interpolated into a request path it would address the parent
/// resource (RFC 3986 clause 5.2.4), so it is never a valid attribute name.
fn is_dot_segment(name: &str) -> bool {
    let mut text = name.to_string();
    for _ in 0..8 {
        let folded = percent_fold(&text);
        if folded == text {
            break;
        }
        text = folded;
    }
    text == "." || text == ".."
}

/// Decodes the `%XX` triplets of `text` once; anything else is kept as it is.
fn percent_fold(text: &str) -> String {
    String::from_utf8_lossy(&percent_bytes(text)).into_owned()
}

/// The bytes of `text` with each valid `%XX` triplet decoded once.
pub(crate) fn percent_bytes(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// A parsed fragment: what an append/update/merge/replace body carries.
#[derive(Debug, Clone, Default)]
pub struct Fragment {
    /// `id`, if present.
    pub id: Option<String>,
    /// Expanded types, if present.
    pub types: Option<Vec<String>>,
    /// Scopes, if present (`Some(vec![])` for the NGSI-LD null).
    pub scope: Option<Vec<String>>,
    /// The entity's `expiresAt`, if present (`Some(None)` for the NGSI-LD null, which makes
    /// a transient entity permanent again).
    pub expires_at: Option<Option<Micros>>,
    /// Attribute instances by expanded name.
    pub attrs: BTreeMap<String, Vec<Attribute>>,
}

/// Parses an entity body for creation: `id` and `type` are required.
pub fn parse_entity(body: &Value, ctx: &Context, now: Micros) -> NgsiResult<Entity> {
    if body.get("scope").and_then(Value::as_str) == Some(NGSI_LD_NULL) {
        return Err(NgsiError::bad_data(
            "scope 'urn:ngsi-ld:null' only deletes a scope; it cannot be created (clause 4.18)",
        ));
    }
    if let Value::Object(map) = body {
        for (key, value) in map {
            if key != "@context" && holds_null(value) {
                return Err(NgsiError::bad_data(format!(
                    "'{key}' holds the NGSI-LD null 'urn:ngsi-ld:null', which only deletes \
                     in a partial update or merge (clause 5.5.4)"
                )));
            }
        }
    }
    let fragment = parse_fragment(body, ctx, now)?;
    let id = fragment.id.ok_or_else(|| NgsiError::bad_data("the entity has no 'id'"))?;
    let types = fragment.types.ok_or_else(|| NgsiError::bad_data("the entity has no 'type'"))?;
    Ok(Entity {
        id,
        types,
        scope: fragment.scope.unwrap_or_default(),
        created_at: now,
        modified_at: now,
        expires_at: fragment.expires_at.flatten(),
        attrs: fragment.attrs,
    })
}

/// Whether `value` is, or nests, the NGSI-LD null; raw `json` members are not looked into.
pub fn holds_null(value: &Value) -> bool {
    match value {
        Value::String(s) => s == NGSI_LD_NULL,
        Value::Array(items) => items.iter().any(holds_null),
        Value::Object(map) => map.iter().any(|(k, v)| k != "json" && holds_null(v)),
        _ => false,
    }
}

/// Whether `name` is a short term of clause 4.6.2 (a letter, then letters, digits or `_`);
/// names holding `:` are IRIs or compact IRIs and are checked as such elsewhere.
fn is_term_or_iri(name: &str) -> bool {
    if name.contains(':') {
        return true;
    }
    let mut chars = name.chars();
    chars.next().is_some_and(char::is_alphabetic) && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// Parses a body whose `id` and `type` are optional (fragments, batch updates).
pub fn parse_fragment(body: &Value, ctx: &Context, now: Micros) -> NgsiResult<Fragment> {
    let Value::Object(map) = body else {
        return Err(NgsiError::bad_data("the payload must be a JSON object"));
    };
    let mut out = Fragment::default();
    for (key, value) in map {
        match key.as_str() {
            "@context" | "createdAt" | "modifiedAt" | "deletedAt" => {}
            "id" | "@id" => out.id = Some(parse_id(value)?),
            "type" | "@type" => out.types = Some(parse_types(value, ctx)?),
            "scope" => out.scope = Some(parse_scope(value)?),
            "expiresAt" if value.as_str() == Some(NGSI_LD_NULL) => out.expires_at = Some(None),
            "expiresAt" => out.expires_at = Some(Some(parse_expires_at(value, "the entity", now)?)),
            name => {
                let iri = attribute_name(name, ctx)?;
                let instances = parse_attribute_value(name, value, ctx, now)?;
                out.attrs.insert(iri, instances);
            }
        }
    }
    Ok(out)
}

/// Parses the system member `expiresAt` of `owner` (an entity or an attribute: NGSI-LD
/// v1.9 transient entities): a UTC DateTime that has not yet passed at `now`, since an
/// element that expired on arrival would be deleted before anyone could read it.
pub fn parse_expires_at(value: &Value, owner: &str, now: Micros) -> NgsiResult<Micros> {
    let t = value.as_str().and_then(parse_utc_datetime).ok_or_else(|| {
        NgsiError::bad_data(format!(
            "expiresAt of {owner} must be a UTC DateTime such as 2100-01-01T00:00:00Z, not {value}"
        ))
    })?;
    if t <= now {
        return Err(NgsiError::bad_data(format!(
            "expiresAt of {owner} ({}) is not in the future",
            value.as_str().unwrap_or_default()
        )));
    }
    Ok(t)
}

/// Validates and expands an attribute name.
pub fn attribute_name(name: &str, ctx: &Context) -> NgsiResult<String> {
    if RESERVED_NAMES.contains(&name) || name.starts_with('@') || !is_valid_name(name) {
        return Err(NgsiError::bad_data(format!("'{name}' is not a valid attribute name")));
    }
    Ok(ctx.expand(name))
}

fn parse_id(value: &Value) -> NgsiResult<String> {
    match value {
        Value::String(id) if is_uri(id) => Ok(id.clone()),
        Value::String(id) => Err(NgsiError::bad_data(format!("entity id '{id}' is not a URI"))),
        other => Err(NgsiError::bad_data(format!("entity id must be a string URI, not {other}"))),
    }
}

/// Parses and expands `type` (a string or an array of strings).
pub fn parse_types(value: &Value, ctx: &Context) -> NgsiResult<Vec<String>> {
    let names: Vec<&str> = match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|v| v.as_str().ok_or_else(|| NgsiError::bad_data("entity types must be strings")))
            .collect::<NgsiResult<_>>()?,
        _ => {
            return Err(NgsiError::bad_data("entity 'type' must be a string or a non-empty array"));
        }
    };
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        if !is_valid_name(name) || !is_term_or_iri(name) {
            return Err(NgsiError::bad_data(format!(
                "'{name}' is not a valid entity type (a letter followed by letters, digits \
                 or '_', or an IRI)"
            )));
        }
        let iri = ctx.expand(name);
        if iri.starts_with('@') {
            return Err(NgsiError::bad_data(format!(
                "'{name}' is not a valid entity type: it expands to the JSON-LD keyword '{iri}'"
            )));
        }
        if !out.contains(&iri) {
            out.push(iri);
        }
    }
    Ok(out)
}

fn parse_scope(value: &Value) -> NgsiResult<Vec<String>> {
    let items: Vec<&Value> = match value {
        Value::String(s) if s == NGSI_LD_NULL => return Ok(Vec::new()),
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    items
        .into_iter()
        .map(|v| match v.as_str() {
            Some(s) if s.starts_with('/') && is_valid_scope(s) => Ok(s.to_string()),
            _ => Err(NgsiError::bad_data(format!(
                "scope {v} must be '/'-separated levels, each a letter followed by letters, \
                 digits or '_' (clause 4.18), starting with '/'"
            ))),
        })
        .collect()
}

/// Whether `scope` follows the clause 4.18 grammar: `[/] ScopeLevel *(/ ScopeLevel)`, where
/// a level is a letter followed by letters, digits or `_`.
pub fn is_valid_scope(scope: &str) -> bool {
    let body = scope.strip_prefix('/').unwrap_or(scope);
    !body.is_empty()
        && body.split('/').all(|level| {
            let mut chars = level.chars();
            chars.next().is_some_and(char::is_alphabetic)
                && chars.all(|c| c.is_alphanumeric() || c == '_')
        })
}

/// Parses the `scope` of a temporal entity payload: a scope, an array of scopes, or
/// temporal instances (`{"type": "Property", "value": …}`); the scopes of all instances are
/// kept, in order, without repeats.
pub fn parse_temporal_scope(value: &Value) -> NgsiResult<Vec<String>> {
    let instances: Vec<&Value> = match value {
        Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
            items.iter().collect()
        }
        Value::Object(_) => vec![value],
        other => return parse_scope(other),
    };
    let mut out: Vec<String> = Vec::new();
    for inst in instances {
        let v = inst
            .get("value")
            .ok_or_else(|| NgsiError::bad_data("a scope instance needs a 'value'"))?;
        for s in parse_scope(v)? {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// Parses an attribute's JSON (one instance, an array of instances, or a concise value).
pub fn parse_attribute_value(
    name: &str,
    value: &Value,
    ctx: &Context,
    now: Micros,
) -> NgsiResult<Vec<Attribute>> {
    let instances: Vec<&Value> = match value {
        Value::Array(items) if !items.is_empty() && items.iter().all(is_instance_object) => {
            items.iter().collect()
        }
        other => vec![other],
    };
    let mut out: Vec<Attribute> = Vec::with_capacity(instances.len());
    for item in instances {
        let attr = parse_instance(name, item, ctx, now)?;
        if out.iter().any(|a| a.dataset_id == attr.dataset_id) {
            return Err(NgsiError::bad_data(format!(
                "attribute '{name}' has two instances with the same datasetId"
            )));
        }
        out.push(attr);
    }
    Ok(out)
}

fn is_instance_object(v: &Value) -> bool {
    v.as_object().is_some_and(|o| {
        o.contains_key("type")
            || ["value", "object", "languageMap", "vocab", "json", "valueList", "objectList"]
                .iter()
                .any(|m| o.contains_key(*m))
    })
}

/// Parses one attribute instance.
pub fn parse_instance(
    name: &str,
    value: &Value,
    ctx: &Context,
    now: Micros,
) -> NgsiResult<Attribute> {
    let map = match value {
        Value::Object(map) => map,
        Value::Null => {
            return Err(NgsiError::bad_data(format!("attribute '{name}' has a null value")));
        }
        scalar => {
            let mut attr = Attribute::new(AttrKind::Property, scalar.clone());
            attr.stamp(now, now);
            return Ok(attr);
        }
    };
    if map.get("datasetId").and_then(Value::as_str) == Some(NGSI_LD_NULL) {
        return Err(NgsiError::bad_data(format!(
            "datasetId of '{name}' is {NGSI_LD_NULL}: a datasetId cannot be deleted that way \
             (clause 5.5.8)"
        )));
    }
    if is_bare_geometry(map) {
        // A concise GeoProperty: the whole object is the geometry (clause 4.5.2.3).
        parse_geometry(value)
            .map_err(|e| NgsiError::bad_data(format!("GeoProperty '{name}': {}", e.detail)))?;
        let mut attr = Attribute::new(AttrKind::GeoProperty, value.clone());
        attr.stamp(now, now);
        return Ok(attr);
    }
    let kind = match map.get("type") {
        Some(Value::String(t)) => AttrKind::from_name(t).ok_or_else(|| {
            NgsiError::bad_data(format!("attribute '{name}' has unknown type '{t}'"))
        })?,
        Some(other) => {
            return Err(NgsiError::bad_data(format!("attribute '{name}' has type {other}")));
        }
        None => match infer_kind(map) {
            Some(kind) => kind,
            None => {
                // A concise Property whose value is a JSON object.
                let mut attr = Attribute::new(AttrKind::Property, value.clone());
                attr.stamp(now, now);
                return Ok(attr);
            }
        },
    };
    if kind != AttrKind::GeoProperty && ctx.expand(name) == LOCATION {
        return Err(NgsiError::bad_data(format!(
            "'{name}' is the core GeoProperty 'location' and cannot be a {}",
            kind.name()
        )));
    }
    if name == PROOF
        && !(kind == AttrKind::Property
            && map.get("value").is_some_and(|v| v.is_object() || v.as_str() == Some(NGSI_LD_NULL)))
    {
        return Err(NgsiError::bad_data(
            "'ngsildproof' shall be a Property whose value is a W3C Data Integrity proof object",
        ));
    }
    parse_typed(name, kind, map, ctx, now)
}

/// The expanded IRI of the core `location` GeoProperty.
const LOCATION: &str = "https://uri.etsi.org/ngsi-ld/location";
/// The one Property that may carry `entityIdSealed`/`entityTypeSealed` (clause 4.5.2.2).
const PROOF: &str = "ngsildproof";

fn is_bare_geometry(map: &Map<String, Value>) -> bool {
    map.get("type").and_then(Value::as_str).is_some_and(crate::geo::is_geometry_type)
        && map.contains_key("coordinates")
        && !map.contains_key("value")
}

fn infer_kind(map: &Map<String, Value>) -> Option<AttrKind> {
    if map.contains_key("value") {
        let geo = map.get("value").and_then(|v| v.get("type")).and_then(Value::as_str);
        let is_geo = geo.is_some_and(crate::geo::is_geometry_type)
            && map.get("value").is_some_and(|v| v.get("coordinates").is_some());
        return Some(if is_geo { AttrKind::GeoProperty } else { AttrKind::Property });
    }
    let kinds = [
        ("object", AttrKind::Relationship),
        ("languageMap", AttrKind::LanguageProperty),
        ("vocab", AttrKind::VocabProperty),
        ("json", AttrKind::JsonProperty),
        ("valueList", AttrKind::ListProperty),
        ("objectList", AttrKind::ListRelationship),
    ];
    kinds.iter().find(|(m, _)| map.contains_key(*m)).map(|(_, k)| *k)
}

fn parse_typed(
    name: &str,
    kind: AttrKind,
    map: &Map<String, Value>,
    ctx: &Context,
    now: Micros,
) -> NgsiResult<Attribute> {
    let member = kind.value_member();
    let raw = map.get(member).ok_or_else(|| {
        NgsiError::bad_data(format!("{} '{name}' has no '{member}'", kind.name()))
    })?;
    let value = validate_value(name, kind, raw, ctx)?;
    let mut attr = Attribute::new(kind, value);
    attr.stamp(now, now);
    for (key, v) in map {
        match key.as_str() {
            "type" | "createdAt" | "modifiedAt" | "instanceId" | "deletedAt" => {}
            "expiresAt" => {
                attr.expires_at = Some(parse_expires_at(v, &format!("attribute '{name}'"), now)?);
            }
            k if k == member => {}
            "@context" => {
                return Err(NgsiError::bad_data(format!(
                    "attribute '{name}' shall not embed an @context"
                )));
            }
            "datasetId" => match v.as_str() {
                Some("@none") => attr.dataset_id = None,
                Some(id) if is_uri(id) => attr.dataset_id = Some(id.to_string()),
                _ => {
                    return Err(NgsiError::bad_data(format!(
                        "datasetId of '{name}' must be a URI"
                    )));
                }
            },
            "observedAt" => {
                let t = v.as_str().and_then(parse_utc_datetime).ok_or_else(|| {
                    NgsiError::bad_data(format!(
                        "observedAt of '{name}' must be a UTC DateTime such as \
                         2020-09-09T16:40:00Z"
                    ))
                })?;
                attr.observed_at = Some(t);
            }
            "unitCode"
                if matches!(
                    kind,
                    AttrKind::JsonProperty | AttrKind::Relationship | AttrKind::ListRelationship
                ) =>
            {
                return Err(NgsiError::bad_data(format!(
                    "{} '{name}' shall not carry 'unitCode' (it is unitless)",
                    kind.name()
                )));
            }
            "unitCode" => match v.as_str() {
                Some(u) => attr.unit_code = Some(u.to_string()),
                None => {
                    return Err(NgsiError::bad_data(format!(
                        "unitCode of '{name}' must be a string"
                    )));
                }
            },
            "objectType"
                if kind == AttrKind::Relationship || kind == AttrKind::ListRelationship =>
            {
                attr.object_type = Some(expand_vocab(v, ctx)?);
            }
            "entityIdSealed" if name == PROOF => match v.as_str() {
                Some(id) if is_uri(id) => {
                    attr.extra.insert(key.clone(), v.clone());
                }
                _ => {
                    return Err(NgsiError::bad_data(
                        "entityIdSealed of 'ngsildproof' must be an entity id (a URI string)",
                    ));
                }
            },
            "entityTypeSealed" if name == PROOF => match v {
                Value::String(t) if is_valid_name(t) => {
                    attr.extra.insert(key.clone(), Value::String(ctx.expand(t)));
                }
                _ => {
                    return Err(NgsiError::bad_data(
                        "entityTypeSealed of 'ngsildproof' must be an entity type name",
                    ));
                }
            },
            "valueType"
                if kind == AttrKind::LanguageProperty && v.as_str() != Some("langString") =>
            {
                return Err(NgsiError::bad_data(format!(
                    "valueType of LanguageProperty '{name}' shall be 'langString'"
                )));
            }
            "valueType" | "lang" => {
                attr.extra.insert(key.clone(), v.clone());
            }
            k if ATTR_MEMBERS.contains(&k) || OUTPUT_ONLY.contains(&k) => {
                return Err(NgsiError::bad_data(format!(
                    "a {} shall not carry '{k}' (attribute '{name}')",
                    kind.name()
                )));
            }
            sub_name => {
                let iri = attribute_name(sub_name, ctx)?;
                let sub = parse_instance(sub_name, v, ctx, now)?;
                attr.sub.insert(iri, sub);
            }
        }
    }
    Ok(attr)
}

fn validate_value(name: &str, kind: AttrKind, raw: &Value, ctx: &Context) -> NgsiResult<Value> {
    let bad = |what: &str| Err(NgsiError::bad_data(format!("{} '{name}': {what}", kind.name())));
    match kind {
        AttrKind::Property => {
            if raw.is_null() {
                return bad("value shall not be null");
            }
            if let Value::Object(o) = raw
                && o.contains_key("@context")
            {
                return bad("value shall not embed an @context");
            }
            Ok(raw.clone())
        }
        AttrKind::GeoProperty => {
            if raw.as_str() == Some(NGSI_LD_NULL) {
                return Ok(raw.clone());
            }
            // Clause 4.7.2: a geometry may arrive encoded as a JSON string; it is stored as
            // the object it parses into.
            let geometry = match raw {
                Value::String(text) => serde_json::from_str::<Value>(text).map_err(|_| {
                    NgsiError::bad_data(format!(
                        "GeoProperty '{name}': the string value is not a JSON-encoded geometry"
                    ))
                })?,
                other => other.clone(),
            };
            parse_geometry(&geometry)
                .map_err(|e| NgsiError::bad_data(format!("GeoProperty '{name}': {}", e.detail)))?;
            Ok(geometry)
        }
        AttrKind::Relationship => match raw {
            Value::String(s) if is_uri(s) => Ok(raw.clone()),
            Value::Array(items)
                if !items.is_empty() && items.iter().all(|i| i.as_str().is_some_and(is_uri)) =>
            {
                Ok(raw.clone())
            }
            _ => bad("object must be a URI"),
        },
        AttrKind::LanguageProperty => match raw {
            Value::Object(o)
                if !o.is_empty()
                    && o.keys().all(|k| !k.is_empty())
                    && o.values().all(|v| {
                        v.is_string()
                            || v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
                    }) =>
            {
                Ok(raw.clone())
            }
            Value::String(s) if s == NGSI_LD_NULL => Ok(raw.clone()),
            _ => bad("languageMap must map language tags to strings"),
        },
        AttrKind::VocabProperty => {
            if raw.as_str() == Some(NGSI_LD_NULL) {
                return Ok(raw.clone());
            }
            expand_vocab(raw, ctx).or_else(|_| bad("vocab must be a string or an array of strings"))
        }
        AttrKind::JsonProperty => match raw {
            Value::Object(_) => Ok(raw.clone()),
            Value::Array(items) if items.iter().all(Value::is_object) => Ok(raw.clone()),
            Value::String(s) if s == NGSI_LD_NULL => Ok(raw.clone()),
            _ => bad("json must be a JSON object or an array of JSON objects"),
        },
        AttrKind::ListProperty => match raw {
            Value::Array(_) => Ok(raw.clone()),
            Value::String(s) if s == NGSI_LD_NULL => Ok(raw.clone()),
            _ => bad("valueList must be an array"),
        },
        AttrKind::ListRelationship => {
            let ok = |v: &Value| {
                v.as_str().is_some_and(is_uri)
                    || v.get("object").and_then(Value::as_str).is_some_and(is_uri)
            };
            match raw {
                // Stored in the normalized form (clause 4.5.22.2): `{"object": URI}` entries.
                Value::Array(items) if items.iter().all(ok) => Ok(Value::Array(
                    items
                        .iter()
                        .map(|v| match v {
                            Value::String(id) => json!({ "object": id }),
                            other => other.clone(),
                        })
                        .collect(),
                )),
                Value::String(s) if s == NGSI_LD_NULL => Ok(raw.clone()),
                _ => bad("objectList must be an array of URIs"),
            }
        }
    }
}

fn expand_vocab(raw: &Value, ctx: &Context) -> NgsiResult<Value> {
    match raw {
        Value::String(s) => Ok(Value::String(ctx.expand(s))),
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(Value::String(ctx.expand(s))),
                _ => Err(NgsiError::bad_data("vocabulary terms must be strings")),
            })
            .collect::<NgsiResult<Vec<_>>>()
            .map(Value::Array),
        _ => Err(NgsiError::bad_data("vocabulary terms must be strings")),
    }
}

/// Whether a term is declared `@type: @vocab` in `ctx` (its values are expanded).
pub fn is_vocab_term(ctx: &Context, term: &str) -> bool {
    ctx.type_mapping(term) == Some(TypeMapping::Vocab)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> NgsiResult<Entity> {
        parse_entity(&v, &Context::core(), 1)
    }

    #[test]
    fn invisible_characters_make_no_uri() {
        for cp in [
            0x202E, 0x200B, 0xFEFF, 0xFE0F, 0xE0100, 0xFDD0, 0xFFFE, 0x115F, 0x3164, 0xFFA0, 0x2800,
        ] {
            let id = format!("urn:ngsi-ld:Vehicle:A{}B", char::from_u32(cp).unwrap());
            assert!(!is_uri(&id), "U+{cp:04X}");
        }
        assert!(is_uri("urn:ngsi-ld:Ciudad:Par\u{ed}s"));
    }

    #[test]
    fn object_list_is_normalized_and_json_property_checked() {
        let e = parse(json!({"id": "urn:a:1", "type": "B",
            "route": {"type": "ListRelationship", "objectList": ["urn:r:1", {"object": "urn:r:2"}]}}))
        .unwrap();
        let route = &e.attrs["https://uri.etsi.org/ngsi-ld/default-context/route"][0];
        assert_eq!(route.value, json!([{"object": "urn:r:1"}, {"object": "urn:r:2"}]));
        let json_attr = |t: Value| parse(json!({"id": "urn:a:1", "type": "B", "tickets": t}));
        assert!(json_attr(json!({"json": {"a": 1}})).is_ok());
        assert!(json_attr(json!({"json": [{"a": 1}]})).is_ok());
        assert!(json_attr(json!({"type": "JsonProperty", "json": 5})).is_err());
        assert!(
            json_attr(json!({"type": "JsonProperty", "json": {"a": 1}, "unitCode": "MTR"}))
                .is_err()
        );
    }

    #[test]
    fn scope_grammar_and_null_on_create() {
        let with_scope = |s: Value| parse(json!({"id": "urn:a:1", "type": "B", "scope": s}));
        assert_eq!(with_scope(json!("/Madrid/Gardens/ParqueNorte")).unwrap().scope.len(), 1);
        assert_eq!(with_scope(json!(["/a_1", "/Zürich/b2"])).unwrap().scope.len(), 2);
        for bad in [
            json!("/a//b"),
            json!("/9bad"),
            json!("/a-b"),
            json!("/"),
            json!("/a/"),
            json!(["/ok", "/9bad"]),
        ] {
            assert!(with_scope(bad.clone()).is_err(), "{bad}");
        }
        let err = with_scope(json!("urn:ngsi-ld:null")).unwrap_err();
        assert!(err.to_string().contains("urn:ngsi-ld:null"), "{err}");
        // On an update the NGSI-LD null still means "delete the scope".
        let frag = parse_fragment(&json!({"scope": "urn:ngsi-ld:null"}), &Context::core(), 1);
        assert_eq!(frag.unwrap().scope, Some(vec![]));
    }

    #[test]
    fn minimal_and_concise_entities() {
        let e = parse(json!({"id": "urn:a:1", "type": "Building", "name": "Tower", "height": {"value": 3, "unitCode": "MTR"}})).unwrap();
        assert_eq!(e.types, vec!["https://uri.etsi.org/ngsi-ld/default-context/Building"]);
        let h = &e.attrs["https://uri.etsi.org/ngsi-ld/default-context/height"][0];
        assert_eq!(h.kind, AttrKind::Property);
        assert_eq!(h.unit_code.as_deref(), Some("MTR"));
        let loc = parse(json!({"id": "urn:a:1", "type": "B", "location": {"value": {"type": "Point", "coordinates": [1, 2]}}})).unwrap();
        assert_eq!(
            loc.attrs["https://uri.etsi.org/ngsi-ld/location"][0].kind,
            AttrKind::GeoProperty
        );
    }

    #[test]
    fn ascii_uri_characters_follow_the_general_rule() {
        for c in (0u8..=127).map(char::from) {
            let general = c.is_whitespace() || c.is_control() || "<>\"{}|\\^`".contains(c);
            assert_eq!(forbidden_in_uri(c), general, "{c:?}");
        }
    }

    #[test]
    fn rejects_what_the_spec_forbids() {
        let cases = [
            json!({"id": "not a uri", "type": "B"}),
            json!({"id": "urn:a:1"}),
            json!({"id": "urn:a:1", "type": "B", "speed": {"type": "Property"}}),
            json!({"id": "urn:a:1", "type": "B", "speed": {"type": "Property", "value": null}}),
            json!({"id": "urn:a:1", "type": "B", "r": {"type": "Relationship"}}),
            json!({"id": "urn:a:1", "type": "B", "n": {"type": "LanguageProperty", "value": "x"}}),
            json!({"id": "urn:a:1", "type": "B", "datasetId": {"type": "Property", "value": 1}}),
            json!({"id": "urn:a:1", "type": "B", "s": {"type": "Property", "value": 1, "@context": {}}}),
            json!({"id": "urn:a:1", "type": "B", "s": {"type": "Property", "value": 1, "object": "urn:x:y"}}),
            json!({"id": "urn:a:1", "type": "B", "s": {"type": "Property", "value": 1, "previousValue": 0}}),
            json!({"id": "urn:a:1", "type": "B", "l": {"type": "GeoProperty", "value": {"type": "Point"}}}),
            json!({"id": "urn:a:1", "type": "B", "s": {"type": "Property", "value": 1, "observedAt": "x"}}),
            json!({"id": "urn:a:1", "type": "B", "bad name": 1}),
        ];
        for case in cases {
            assert!(parse(case.clone()).is_err(), "accepted {case}");
        }
        assert!(parse(json!({"id": "urn:a:1", "type": "B", "s": {"type": "Property", "value": 1, "valueType": "xsd:double"}})).is_ok());
    }

    #[test]
    fn multi_attributes_and_sub_attributes() {
        let e = parse(json!({"id": "urn:a:1", "type": "B", "speed": [
            {"type": "Property", "value": 1},
            {"type": "Property", "value": 2, "datasetId": "urn:ds:2", "accuracy": {"type": "Property", "value": 0.5}}
        ]}))
        .unwrap();
        let speed = &e.attrs["https://uri.etsi.org/ngsi-ld/default-context/speed"];
        assert_eq!(speed.len(), 2);
        assert!(speed[1].sub.contains_key("https://uri.etsi.org/ngsi-ld/default-context/accuracy"));
        assert!(parse(json!({"id": "urn:a:1", "type": "B", "speed": [{"type": "Property", "value": 1}, {"type": "Property", "value": 2}]})).is_err());
    }
}
