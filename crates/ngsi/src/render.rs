//! Rendering entities for responses and notifications: normalized, concise and keyValues
//! (simplified) representations, GeoJSON, term compaction, `sysAttrs`, `attrs`/`pick`/`omit`
//! projection and `lang` selection of LanguageProperties.

use std::borrow::Cow;

use serde_json::{Map, Value, json};

use crate::context::Context;
use crate::geo::LOCATION;
use crate::model::{AttrKind, Attribute, Entity};
use crate::time::format_datetime;

/// The representation asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Full attribute objects.
    #[default]
    Normalized,
    /// Attribute objects without redundant `type`, bare values where unambiguous.
    Concise,
    /// `keyValues`/`simplified`: attribute name → value.
    KeyValues,
}

/// How to render.
#[derive(Clone)]
pub struct RenderOptions<'a> {
    /// Context for compaction.
    pub ctx: &'a Context,
    /// Representation.
    pub format: Format,
    /// Include `createdAt`/`modifiedAt` (and `expiresAt` where set).
    pub sys_attrs: bool,
    /// Only these expanded attribute names (`attrs` / `pick` of attributes).
    pub attrs: Option<&'a [String]>,
    /// Drop these members: `id`, `type`, `scope` or expanded attribute names (`omit`).
    pub omit: &'a [String],
    /// With `pick`: whether `id`/`type` are kept (None = no pick given).
    pub pick_core: Option<(bool, bool)>,
    /// `lang` preference for LanguageProperties.
    pub lang: Option<&'a str>,
}

impl<'a> RenderOptions<'a> {
    /// Plain normalized rendering with `ctx`.
    pub fn new(ctx: &'a Context) -> Self {
        RenderOptions {
            ctx,
            format: Format::Normalized,
            sys_attrs: false,
            attrs: None,
            omit: &[],
            pick_core: None,
            lang: None,
        }
    }
}

/// Renders `entity`; the caller adds `@context` when the media type asks for it.
pub fn render_entity(entity: &Entity, o: &RenderOptions<'_>) -> Map<String, Value> {
    let mut out = Map::new();
    let (keep_id, keep_type) = o.pick_core.unwrap_or((true, true));
    if keep_id && !o.omit.iter().any(|x| x == "id") {
        out.insert("id".into(), Value::String(entity.id.clone()));
    }
    if keep_type && !o.omit.iter().any(|x| x == "type") {
        out.insert("type".into(), render_types(&entity.types, o.ctx));
    }
    if !entity.scope.is_empty() && o.pick_core.is_none() && !o.omit.iter().any(|x| x == "scope") {
        let scope = if entity.scope.len() == 1 {
            Value::String(entity.scope[0].clone())
        } else {
            json!(entity.scope)
        };
        out.insert("scope".into(), scope);
    }
    if o.sys_attrs && o.format != Format::KeyValues {
        out.insert("createdAt".into(), Value::String(format_datetime(entity.created_at)));
        out.insert("modifiedAt".into(), Value::String(format_datetime(entity.modified_at)));
        if let Some(t) = entity.expires_at {
            out.insert("expiresAt".into(), Value::String(format_datetime(t)));
        }
    }
    for (name, instances) in &entity.attrs {
        if o.attrs.is_some_and(|a| !a.contains(name)) || o.omit.contains(name) {
            continue;
        }
        out.insert(o.ctx.compact(name), render_instances(instances, o));
    }
    out
}

/// Puts `linked`, the rendering of the entity that relationship `slot` points at (`target`),
/// into the relationship's rendering (Linked Entity Retrieval, clause 4.5.23): as its `entity`
/// member, on every instance whose `object` is `target` when the relationship has several, or
/// in place of the whole slot in keyValues (where the slot was only the target's id).
pub fn attach_linked(slot: &mut Value, target: &str, linked: Value, format: Format) {
    match (format, slot) {
        (Format::KeyValues, slot) => *slot = linked,
        (_, Value::Object(attr)) => {
            attr.insert("entity".into(), linked);
        }
        (_, Value::Array(items)) => {
            for item in items.iter_mut() {
                if item.get("object").and_then(Value::as_str) == Some(target)
                    && let Value::Object(attr) = item
                {
                    attr.insert("entity".into(), linked.clone());
                }
            }
        }
        _ => {}
    }
}

/// Renders entity types: one type as a string, several as an array.
pub fn render_types(types: &[String], ctx: &Context) -> Value {
    if types.len() == 1 {
        Value::String(ctx.compact(&types[0]))
    } else {
        Value::Array(types.iter().map(|t| Value::String(ctx.compact(t))).collect())
    }
}

/// Renders all instances of one attribute: an array when there are several datasetIds, or in
/// keyValues the `{"dataset": {<datasetId>|"@none": value}}` map of clause 4.5.4 (a bare array
/// would read as one array value there).
pub fn render_instances(instances: &[Attribute], o: &RenderOptions<'_>) -> Value {
    if instances.len() == 1 {
        return render_attribute(&instances[0], o);
    }
    if o.format == Format::KeyValues {
        let by_dataset: Map<String, Value> = instances
            .iter()
            .map(|a| (dataset_key(a).to_string(), render_attribute(a, o)))
            .collect();
        return json!({ "dataset": by_dataset });
    }
    Value::Array(instances.iter().map(|a| render_attribute(a, o)).collect())
}

/// The key of an instance in the keyValues `dataset` map: its datasetId, `@none` for the
/// default instance.
pub(crate) fn dataset_key(attr: &Attribute) -> &str {
    attr.dataset_id.as_deref().unwrap_or("@none")
}

/// Renders one attribute instance.
pub fn render_attribute(attr: &Attribute, o: &RenderOptions<'_>) -> Value {
    if o.format == Format::KeyValues {
        return simplified_value(attr, o).into_owned();
    }
    let mut out = Map::new();
    let (kind, member, value, lang) = member_value(attr, o);
    if o.format == Format::Normalized {
        out.insert("type".into(), Value::String(kind.name().into()));
    }
    out.insert(member.into(), value.into_owned());
    if let Some(tag) = lang {
        out.insert("lang".into(), Value::String(tag));
    }
    if let Some(ds) = &attr.dataset_id {
        out.insert("datasetId".into(), Value::String(ds.clone()));
    }
    if let Some(t) = attr.observed_at {
        out.insert("observedAt".into(), Value::String(format_datetime(t)));
    }
    if let Some(u) = &attr.unit_code {
        out.insert("unitCode".into(), Value::String(u.clone()));
    }
    if let Some(t) = &attr.object_type {
        out.insert("objectType".into(), compact_vocab(t, o.ctx));
    }
    for (k, v) in &attr.extra {
        let v = if k == "entityTypeSealed" { compact_vocab(v, o.ctx) } else { v.clone() };
        out.insert(k.clone(), v);
    }
    if o.sys_attrs {
        out.insert("createdAt".into(), Value::String(format_datetime(attr.created_at)));
        out.insert("modifiedAt".into(), Value::String(format_datetime(attr.modified_at)));
        if let Some(t) = attr.expires_at {
            out.insert("expiresAt".into(), Value::String(format_datetime(t)));
        }
    }
    for (name, sub) in &attr.sub {
        out.insert(o.ctx.compact(name), render_attribute(sub, o));
    }
    if o.format == Format::Concise && out.len() == 1 {
        let bare = out.get("value").filter(|v| match kind {
            AttrKind::Property => !v.is_object() && !v.is_array(),
            AttrKind::GeoProperty => true,
            _ => false,
        });
        if let Some(v) = bare {
            return v.clone();
        }
    }
    Value::Object(out)
}

/// The (possibly transformed) kind, value member, value and chosen language of `attr`.
pub(crate) fn member_value<'a>(
    attr: &'a Attribute,
    o: &RenderOptions<'_>,
) -> (AttrKind, &'static str, Cow<'a, Value>, Option<String>) {
    match attr.kind {
        AttrKind::LanguageProperty if o.lang.is_some() => {
            let (text, tag) = pick_language(&attr.value, o.lang.unwrap_or("*"));
            (AttrKind::Property, "value", Cow::Owned(text), Some(tag))
        }
        AttrKind::VocabProperty => {
            (attr.kind, "vocab", Cow::Owned(compact_vocab(&attr.value, o.ctx)), None)
        }
        kind => (kind, kind.value_member(), Cow::Borrowed(&attr.value), None),
    }
}

/// The keyValues (simplified) value of `attr`.
pub(crate) fn simplified_value<'a>(attr: &'a Attribute, o: &RenderOptions<'_>) -> Cow<'a, Value> {
    Cow::Owned(match attr.kind {
        AttrKind::LanguageProperty => match o.lang {
            Some(pref) => pick_language(&attr.value, pref).0,
            None => json!({ "languageMap": attr.value }),
        },
        AttrKind::VocabProperty => json!({ "vocab": compact_vocab(&attr.value, o.ctx) }),
        AttrKind::JsonProperty => json!({ "json": attr.value }),
        // Lists simplify to the bare ordered array (clause 4.5.4), a ListRelationship to its
        // target ids like a Relationship to its object.
        AttrKind::ListRelationship => Value::Array(
            attr.value
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|i| i.get("object").cloned().unwrap_or_else(|| i.clone()))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        _ => return Cow::Borrowed(&attr.value),
    })
}

/// Vocabulary terms of `v` compacted with `ctx`.
pub(crate) fn compact_vocab(v: &Value, ctx: &Context) -> Value {
    match v {
        Value::String(s) => Value::String(ctx.compact(s)),
        Value::Array(items) => Value::Array(items.iter().map(|i| compact_vocab(i, ctx)).collect()),
        other => other.clone(),
    }
}

/// Chooses a language from a language map by an Accept-Language-like preference list.
pub fn pick_language(map: &Value, pref: &str) -> (Value, String) {
    let Some(obj) = map.as_object() else { return (map.clone(), "@none".into()) };
    let mut prefs: Vec<(f32, &str)> = pref
        .split(',')
        .map(|p| {
            let mut parts = p.trim().split(";q=");
            let tag = parts.next().unwrap_or("").trim();
            let q = parts.next().and_then(|q| q.parse().ok()).unwrap_or(1.0);
            (q, tag)
        })
        .collect();
    prefs.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (_, tag) in &prefs {
        if *tag == "*" {
            break;
        }
        if let Some((k, v)) = lookup_language(obj, tag) {
            return (v.clone(), k.clone());
        }
    }
    if let Some(v) = obj.get("@none") {
        return (v.clone(), "@none".into());
    }
    match obj.iter().next() {
        Some((k, v)) => (v.clone(), k.clone()),
        None => (Value::Null, "@none".into()),
    }
}

/// The language map entry for one language range (RFC 4647 lookup, tags compared without
/// regard to case): the exact tag, else a tag the range is a prefix of (`en` → `en-US`),
/// else the range truncated a subtag at a time (`nl-BE` → `nl`).
fn lookup_language<'m>(
    obj: &'m Map<String, Value>,
    range: &str,
) -> Option<(&'m String, &'m Value)> {
    let mut range = range;
    let mut first = true;
    loop {
        if let Some(hit) = obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(range)) {
            return Some(hit);
        }
        if first {
            let longer = obj.iter().find(|(k, _)| {
                k.len() > range.len()
                    && k.as_bytes()[range.len()] == b'-'
                    && k[..range.len()].eq_ignore_ascii_case(range)
            });
            if longer.is_some() {
                return longer;
            }
            first = false;
        }
        range = &range[..range.rfind('-')?];
    }
}

/// Renders an entity as a GeoJSON Feature using `geometry_property` (expanded) as geometry.
pub fn render_feature(entity: &Entity, o: &RenderOptions<'_>, geometry_property: &str) -> Value {
    let geometry = entity
        .instance(geometry_property, None)
        .or_else(|| entity.attrs.get(geometry_property).and_then(|v| v.first()))
        .filter(|a| a.kind == AttrKind::GeoProperty)
        .map(|a| a.value.clone())
        .unwrap_or(Value::Null);
    let mut props = render_entity(entity, o);
    let id = props.remove("id").unwrap_or_else(|| Value::String(entity.id.clone()));
    json!({ "id": id, "type": "Feature", "geometry": geometry, "properties": props })
}

/// The expanded default geometry property.
pub fn default_geometry_property() -> &'static str {
    LOCATION
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_entity;

    fn entity() -> Entity {
        parse_entity(
            &json!({"id": "urn:a:1", "type": "Building",
                "name": {"type": "Property", "value": "Tower", "observedAt": "2020-01-01T00:00:00Z"},
                "height": {"type": "Property", "value": 3},
                "owner": {"type": "Relationship", "object": "urn:p:1"},
                "label": {"type": "LanguageProperty", "languageMap": {"en": "Tower", "fr": "Tour"}},
                "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1, 2]}}}),
            &Context::core(),
            0,
        )
        .unwrap()
    }

    #[test]
    fn normalized_concise_and_key_values() {
        let ctx = Context::core();
        let mut o = RenderOptions::new(&ctx);
        let n = Value::Object(render_entity(&entity(), &o));
        assert_eq!(n["type"], "Building");
        assert_eq!(n["height"], json!({"type": "Property", "value": 3}));
        assert_eq!(n["name"]["observedAt"], "2020-01-01T00:00:00Z");
        o.format = Format::Concise;
        let c = Value::Object(render_entity(&entity(), &o));
        assert_eq!(c["height"], json!(3));
        assert_eq!(c["owner"], json!({"object": "urn:p:1"}));
        assert_eq!(c["name"], json!({"value": "Tower", "observedAt": "2020-01-01T00:00:00Z"}));
        o.format = Format::KeyValues;
        let k = Value::Object(render_entity(&entity(), &o));
        assert_eq!(k["owner"], "urn:p:1");
        assert_eq!(k["location"], json!({"type": "Point", "coordinates": [1, 2]}));
        o.lang = Some("fr");
        let k = Value::Object(render_entity(&entity(), &o));
        assert_eq!(k["label"], "Tour");
    }

    #[test]
    fn projection_and_sys_attrs() {
        let ctx = Context::core();
        let attrs = vec![ctx.expand("height")];
        let mut o = RenderOptions::new(&ctx);
        o.attrs = Some(&attrs);
        o.sys_attrs = true;
        let n = Value::Object(render_entity(&entity(), &o));
        assert!(n.get("name").is_none());
        assert!(n["height"].get("createdAt").is_some());
        assert!(n.get("createdAt").is_some());
    }
}
