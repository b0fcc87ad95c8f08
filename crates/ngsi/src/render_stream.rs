//! The renderings of [`crate::render`], written straight to a serializer instead of being
//! built as `serde_json::Value` trees first. Query responses render up to a thousand
//! entities; building each one as a map of owned keys and cloned values, only to serialise
//! and drop it, was most of a query's cost. The output is byte for byte what serialising
//! [`render_entity`](crate::render::render_entity) gives: members in the same (sorted)
//! order, the same concise and keyValues rules. The tests hold the two side by side.

use std::borrow::Cow;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

use crate::model::{AttrKind, Attribute, Entity};
use crate::render::{Format, RenderOptions, dataset_key, member_value, simplified_value};
use crate::time::format_datetime;

/// An entity as [`render_entity`](crate::render::render_entity) renders it, with an optional
/// `@context` member (for `application/ld+json` bodies).
pub struct EntityJson<'a> {
    entity: &'a Entity,
    o: &'a RenderOptions<'a>,
    context: Option<&'a Value>,
}

impl<'a> EntityJson<'a> {
    /// The rendering of `entity` with `o`, carrying `context` as `@context` if given.
    pub fn new(entity: &'a Entity, o: &'a RenderOptions<'a>, context: Option<&'a Value>) -> Self {
        EntityJson { entity, o, context }
    }
}

/// One member of a rendered object, before it is written.
enum Member<'a> {
    Str(Cow<'a, str>),
    Json(Cow<'a, Value>),
    Types(&'a [String]),
    Scope(&'a [String]),
    Instances(&'a [Attribute]),
    Attr(&'a Attribute),
}

/// Writes `members` sorted by key, the last of equal keys winning: the order and overwrite
/// rule of the `serde_json::Map` the tree renderer inserts into.
fn write_sorted<S: Serializer>(
    mut members: Vec<(Cow<'_, str>, Member<'_>)>,
    o: &RenderOptions<'_>,
    s: S,
) -> Result<S::Ok, S::Error> {
    members.reverse();
    members.sort_by(|a, b| a.0.cmp(&b.0));
    members.dedup_by(|later, earlier| later.0 == earlier.0);
    let mut map = s.serialize_map(Some(members.len()))?;
    for (key, member) in &members {
        map.serialize_key(key.as_ref())?;
        match member {
            Member::Str(text) => map.serialize_value(text.as_ref())?,
            Member::Json(v) => map.serialize_value(v.as_ref())?,
            Member::Types(types) => map.serialize_value(&TypesJson { types, o })?,
            Member::Scope(scope) if scope.len() == 1 => map.serialize_value(&scope[0])?,
            Member::Scope(scope) => map.serialize_value(scope)?,
            Member::Instances(list) => map.serialize_value(&InstancesJson { list, o })?,
            Member::Attr(attr) => map.serialize_value(&AttrJson { attr, o })?,
        }
    }
    map.end()
}

impl Serialize for EntityJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (e, o) = (self.entity, self.o);
        let mut members: Vec<(Cow<'_, str>, Member<'_>)> = Vec::with_capacity(e.attrs.len() + 4);
        if let Some(ctx) = self.context {
            members.push(("@context".into(), Member::Json(Cow::Borrowed(ctx))));
        }
        let (keep_id, keep_type) = o.pick_core.unwrap_or((true, true));
        if keep_id && !o.omit.iter().any(|x| x == "id") {
            members.push(("id".into(), Member::Str(Cow::Borrowed(&e.id))));
        }
        if keep_type && !o.omit.iter().any(|x| x == "type") {
            members.push(("type".into(), Member::Types(&e.types)));
        }
        if !e.scope.is_empty() && o.pick_core.is_none() && !o.omit.iter().any(|x| x == "scope") {
            members.push(("scope".into(), Member::Scope(&e.scope)));
        }
        if o.sys_attrs && o.format != Format::KeyValues {
            members.push(("createdAt".into(), Member::Str(format_datetime(e.created_at).into())));
            members.push(("modifiedAt".into(), Member::Str(format_datetime(e.modified_at).into())));
            if let Some(t) = e.expires_at {
                members.push(("expiresAt".into(), Member::Str(format_datetime(t).into())));
            }
        }
        for (name, instances) in &e.attrs {
            if o.attrs.is_some_and(|a| !a.contains(name)) || o.omit.contains(name) {
                continue;
            }
            members.push((o.ctx.compact_ref(name), Member::Instances(instances)));
        }
        write_sorted(members, o, s)
    }
}

struct TypesJson<'a> {
    types: &'a [String],
    o: &'a RenderOptions<'a>,
}

impl Serialize for TypesJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.types.len() == 1 {
            return s.serialize_str(&self.o.ctx.compact_ref(&self.types[0]));
        }
        let mut seq = s.serialize_seq(Some(self.types.len()))?;
        for t in self.types {
            seq.serialize_element(&self.o.ctx.compact_ref(t))?;
        }
        seq.end()
    }
}

/// All instances of one attribute: one object, or an array of them.
struct InstancesJson<'a> {
    list: &'a [Attribute],
    o: &'a RenderOptions<'a>,
}

impl Serialize for InstancesJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.list.len() == 1 {
            return AttrJson { attr: &self.list[0], o: self.o }.serialize(s);
        }
        if self.o.format == Format::KeyValues {
            let mut map = s.serialize_map(Some(1))?;
            map.serialize_entry("dataset", &DatasetJson { list: self.list, o: self.o })?;
            return map.end();
        }
        let mut seq = s.serialize_seq(Some(self.list.len()))?;
        for attr in self.list {
            seq.serialize_element(&AttrJson { attr, o: self.o })?;
        }
        seq.end()
    }
}

/// The keyValues `dataset` map of a multi-instance attribute, keyed (sorted, the last of
/// equal keys winning, as in the tree renderer's map) by datasetId or `@none`.
struct DatasetJson<'a> {
    list: &'a [Attribute],
    o: &'a RenderOptions<'a>,
}

impl Serialize for DatasetJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut keyed: Vec<(&str, &Attribute)> =
            self.list.iter().rev().map(|a| (dataset_key(a), a)).collect();
        keyed.sort_by(|a, b| a.0.cmp(b.0));
        keyed.dedup_by(|later, earlier| later.0 == earlier.0);
        let mut map = s.serialize_map(Some(keyed.len()))?;
        for (key, attr) in keyed {
            map.serialize_entry(key, &AttrJson { attr, o: self.o })?;
        }
        map.end()
    }
}

/// One attribute instance, as `render_attribute` renders it.
struct AttrJson<'a> {
    attr: &'a Attribute,
    o: &'a RenderOptions<'a>,
}

impl Serialize for AttrJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (attr, o) = (self.attr, self.o);
        if o.format == Format::KeyValues {
            return simplified_value(attr, o).serialize(s);
        }
        let mut members: Vec<(Cow<'_, str>, Member<'_>)> = Vec::with_capacity(6 + attr.sub.len());
        let (kind, member, value, lang) = member_value(attr, o);
        if o.format == Format::Normalized {
            members.push(("type".into(), Member::Str(kind.name().into())));
        }
        members.push((member.into(), Member::Json(value)));
        if let Some(tag) = lang {
            members.push(("lang".into(), Member::Str(tag.into())));
        }
        if let Some(ds) = &attr.dataset_id {
            members.push(("datasetId".into(), Member::Str(Cow::Borrowed(ds))));
        }
        if let Some(t) = attr.observed_at {
            members.push(("observedAt".into(), Member::Str(format_datetime(t).into())));
        }
        if let Some(u) = &attr.unit_code {
            members.push(("unitCode".into(), Member::Str(Cow::Borrowed(u))));
        }
        if let Some(t) = &attr.object_type {
            members.push(("objectType".into(), Member::Json(compact_vocab(t, o))));
        }
        for (k, v) in &attr.extra {
            let v = if k == "entityTypeSealed" { compact_vocab(v, o) } else { Cow::Borrowed(v) };
            members.push((Cow::Borrowed(k), Member::Json(v)));
        }
        if o.sys_attrs {
            members
                .push(("createdAt".into(), Member::Str(format_datetime(attr.created_at).into())));
            members
                .push(("modifiedAt".into(), Member::Str(format_datetime(attr.modified_at).into())));
            if let Some(t) = attr.expires_at {
                members.push(("expiresAt".into(), Member::Str(format_datetime(t).into())));
            }
        }
        for (name, sub) in &attr.sub {
            members.push((o.ctx.compact_ref(name), Member::Attr(sub)));
        }
        if o.format == Format::Concise
            && members.len() == 1
            && let (key, Member::Json(v)) = &members[0]
            && key == "value"
            && match kind {
                AttrKind::Property => !v.is_object() && !v.is_array(),
                AttrKind::GeoProperty => true,
                _ => false,
            }
        {
            return v.serialize(s);
        }
        write_sorted(members, o, s)
    }
}

fn compact_vocab<'a>(v: &'a Value, o: &RenderOptions<'_>) -> Cow<'a, Value> {
    match v {
        Value::String(_) | Value::Array(_) => Cow::Owned(crate::render::compact_vocab(v, o.ctx)),
        other => Cow::Borrowed(other),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::context::Context;
    use crate::parse::parse_entity;
    use crate::render::render_entity;

    fn entities(ctx: &Context) -> Vec<Entity> {
        let docs = [
            json!({"id": "urn:a:1", "type": "Building", "scope": "/city/west",
                "name": {"type": "Property", "value": "Tower", "observedAt": "2020-01-01T00:00:00Z"},
                "height": {"type": "Property", "value": 3, "unitCode": "MTR",
                    "accuracy": {"type": "Property", "value": 0.5}},
                "owner": {"type": "Relationship", "object": "urn:p:1", "objectType": "Person"},
                "label": {"type": "LanguageProperty", "languageMap": {"en": "Tower", "fr": "Tour"}},
                "category": {"type": "VocabProperty", "vocab": ["Property", "commercial"]},
                "doc": {"type": "JsonProperty", "json": {"k": [1, 2]}},
                "steps": {"type": "ListProperty", "valueList": [1, "two", {"x": 3}]},
                "route": {"type": "ListRelationship", "objectList": [{"object": "urn:r:1"}]},
                "meta": {"type": "Property", "value": {"nested": true}, "valueType": "Thing"},
                "ngsildproof": {"type": "Property", "value": {"proofValue": "z1"},
                    "entityIdSealed": "urn:a:1", "entityTypeSealed": "Building"},
                "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1, 2]}}}),
            json!({"id": "urn:a:2", "type": ["Building", "https://example.org/Other"],
                "scope": ["/a", "/b/c"], "expiresAt": "2100-01-01T00:00:00Z",
                "reading": [{"type": "Property", "value": 1},
                            {"type": "Property", "value": 2, "datasetId": "urn:ds:2"}],
                "flag": {"type": "Property", "value": false, "expiresAt": "2100-01-02T00:00:00Z",
                    "note": {"type": "Property", "value": "n", "expiresAt": "2100-01-03T00:00:00Z"}}}),
        ];
        docs.iter().map(|d| parse_entity(d, ctx, 1_700_000_000_000_000).unwrap()).collect()
    }

    #[test]
    fn streaming_matches_the_tree_rendering_byte_for_byte() {
        let ctx = Context::core();
        let picked = vec![ctx.expand("height"), ctx.expand("reading")];
        let omitted = vec!["type".to_string(), ctx.expand("name"), "scope".to_string()];
        let context = json!("https://example.org/ctx.jsonld");
        for e in entities(&ctx) {
            for format in [Format::Normalized, Format::Concise, Format::KeyValues] {
                for variant in 0..6 {
                    let mut o = RenderOptions::new(&ctx);
                    o.format = format;
                    match variant {
                        1 => o.sys_attrs = true,
                        2 => o.attrs = Some(&picked),
                        3 => o.omit = &omitted,
                        4 => {
                            o.pick_core = Some((true, false));
                            o.attrs = Some(&picked);
                        }
                        5 => o.lang = Some("fr,en;q=0.5"),
                        _ => {}
                    }
                    let tree = Value::Object(render_entity(&e, &o));
                    let streamed = serde_json::to_string(&EntityJson::new(&e, &o, None)).unwrap();
                    assert_eq!(streamed, tree.to_string(), "{format:?} variant {variant}");
                    let mut with_ctx = render_entity(&e, &o);
                    with_ctx.insert("@context".into(), context.clone());
                    let streamed =
                        serde_json::to_string(&EntityJson::new(&e, &o, Some(&context))).unwrap();
                    assert_eq!(streamed, Value::Object(with_ctx).to_string());
                }
            }
        }
    }
}
