//! Compact binary encoding of entities and history records (postcard over mirror structs),
//! with attribute and type IRIs interned to dense `u32` ids. This is what keeps a stored
//! entity well under 2 KB in memory; the same bytes go to the store.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use citybrain_ngsi::model::{AttrKind, Attribute, Entity};
use citybrain_store::WriteOp;
use parking_lot::RwLock;
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, SeqAccess, VariantAccess, Visitor,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

/// Interns IRIs to dense ids; new ids are persisted with the write that first uses them.
#[derive(Default)]
pub(crate) struct Terms {
    inner: RwLock<TermTable>,
}

#[derive(Default)]
struct TermTable {
    ids: HashMap<Arc<str>, u32>,
    iris: Vec<Arc<str>>,
}

impl Terms {
    /// Registers a term loaded from the store.
    pub(crate) fn load(&self, id: u32, iri: String) {
        let mut t = self.inner.write();
        let iri: Arc<str> = iri.into();
        let idx = id as usize;
        if t.iris.len() <= idx {
            t.iris.resize(idx + 1, Arc::from(""));
        }
        t.iris[idx] = iri.clone();
        t.ids.insert(iri, id);
    }

    /// The id of `iri`, interning it (and queuing its persistence in `ops`) if new.
    pub(crate) fn intern(&self, iri: &str, ops: &mut Vec<WriteOp>) -> u32 {
        if let Some(id) = self.inner.read().ids.get(iri) {
            return *id;
        }
        let mut t = self.inner.write();
        if let Some(id) = t.ids.get(iri) {
            return *id;
        }
        let id = t.iris.len() as u32;
        let arc: Arc<str> = iri.into();
        t.iris.push(arc.clone());
        t.ids.insert(arc, id);
        ops.push(WriteOp::Term { id, iri: iri.to_string() });
        id
    }

    /// The id of `iri` if known (queries use this: an unknown IRI matches nothing).
    pub(crate) fn lookup(&self, iri: &str) -> Option<u32> {
        self.inner.read().ids.get(iri).copied()
    }

    /// The IRI of `id`.
    pub(crate) fn iri(&self, id: u32) -> Arc<str> {
        self.inner.read().iris.get(id as usize).cloned().unwrap_or_else(|| Arc::from(""))
    }

    /// Runs `f` with the id → IRI table under one read lock (decoding resolves many names;
    /// `f` must not call back into `self`, or a queued writer could deadlock it).
    fn with_iris<R>(&self, f: impl FnOnce(&[Arc<str>]) -> R) -> R {
        f(&self.inner.read().iris)
    }
}

fn name_of(iris: &[Arc<str>], id: u32) -> String {
    iris.get(id as usize).map(|s| s.to_string()).unwrap_or_default()
}

/// The stored layout of a JSON value (written by `Serialize`, read back by [`JsonVal`]).
#[derive(Serialize)]
enum Val {
    Null,
    Bool(bool),
    I(i64),
    U(u64),
    F(f64),
    S(String),
    A(Vec<Val>),
    O(Vec<(String, Val)>),
}

impl Val {
    fn from_json(v: &Value) -> Val {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Val::I(i),
                (None, Some(u)) => Val::U(u),
                _ => Val::F(n.as_f64().unwrap_or(0.0)),
            },
            Value::String(s) => Val::S(s.clone()),
            Value::Array(a) => Val::A(a.iter().map(Val::from_json).collect()),
            Value::Object(o) => {
                Val::O(o.iter().map(|(k, v)| (k.clone(), Val::from_json(v))).collect())
            }
        }
    }
}

#[derive(Serialize)]
struct EncAttr {
    kind: u8,
    value: Val,
    dataset_id: Option<String>,
    observed_at: Option<i64>,
    unit_code: Option<String>,
    object_type: Option<Val>,
    created_at: i64,
    modified_at: i64,
    extra: Vec<(String, Val)>,
    sub: Vec<(u32, EncAttr)>,
}

#[derive(Serialize)]
struct EncEntity {
    id: String,
    types: Vec<u32>,
    scope: Vec<String>,
    created_at: i64,
    modified_at: i64,
    attrs: Vec<(u32, Vec<EncAttr>)>,
}

/// The `extra` key under which an attribute's `expiresAt` is stored. The parser never
/// keeps a member of that name in `extra`, and keeping it there leaves the attribute layout
/// of older stores unchanged.
const EXPIRES_KEY: &str = "expiresAt";

fn enc_extra(a: &Attribute) -> Vec<(String, Val)> {
    let mut extra: Vec<(String, Val)> =
        a.extra.iter().map(|(k, v)| (k.clone(), Val::from_json(v))).collect();
    if let Some(t) = a.expires_at {
        extra.push((EXPIRES_KEY.to_string(), Val::I(t)));
    }
    extra
}

fn enc_attr(a: &Attribute, terms: &Terms, ops: &mut Vec<WriteOp>) -> EncAttr {
    EncAttr {
        kind: a.kind.code(),
        value: Val::from_json(&a.value),
        dataset_id: a.dataset_id.clone(),
        observed_at: a.observed_at,
        unit_code: a.unit_code.clone(),
        object_type: a.object_type.as_ref().map(Val::from_json),
        created_at: a.created_at,
        modified_at: a.modified_at,
        extra: enc_extra(a),
        sub: a.sub.iter().map(|(k, s)| (terms.intern(k, ops), enc_attr(s, terms, ops))).collect(),
    }
}

/// Encodes an entity, queuing any new terms in `ops`.
pub(crate) fn encode_entity(e: &Entity, terms: &Terms, ops: &mut Vec<WriteOp>) -> Vec<u8> {
    let enc = EncEntity {
        id: e.id.clone(),
        types: e.types.iter().map(|t| terms.intern(t, ops)).collect(),
        scope: e.scope.clone(),
        created_at: e.created_at,
        modified_at: e.modified_at,
        attrs: e
            .attrs
            .iter()
            .map(|(k, v)| {
                (terms.intern(k, ops), v.iter().map(|a| enc_attr(a, terms, ops)).collect())
            })
            .collect(),
    };
    let mut bytes = postcard::to_stdvec(&enc).unwrap_or_default();
    // `expiresAt` follows the original layout as an optional tail, written only when set,
    // so entities stored before transient entities existed decode unchanged.
    if let Some(t) = e.expires_at {
        bytes.extend(postcard::to_stdvec(&t).unwrap_or_default());
    }
    bytes
}

/// Decodes an entity; `None` if the bytes are corrupt.
pub(crate) fn decode_entity(bytes: &[u8], terms: &Terms) -> Option<Entity> {
    decode_entity_with(bytes, terms, None)
}

/// Decodes an entity with only the attributes whose term ids are in `wanted` (all when
/// `None`); the others are stepped over without building anything. Queries use this to test
/// their filters before paying for the whole entity.
pub(crate) fn decode_entity_with(
    bytes: &[u8],
    terms: &Terms,
    wanted: Option<&[u32]>,
) -> Option<Entity> {
    terms.with_iris(|iris| {
        let mut de = postcard::Deserializer::from_bytes(bytes);
        let mut entity = EntitySeed { iris, wanted }.deserialize(&mut de).ok()?;
        let tail = de.finalize().ok()?;
        if !tail.is_empty() {
            let (t, rest) = postcard::take_from_bytes::<i64>(tail).ok()?;
            if !rest.is_empty() {
                return None;
            }
            entity.expires_at = Some(t);
        }
        Some(entity)
    })
}

/// The id and interned type ids stored in an encoded entity, without decoding the rest.
pub(crate) fn peek_header(bytes: &[u8]) -> Option<(String, Vec<u32>)> {
    #[derive(Deserialize)]
    struct Head {
        id: String,
        types: Vec<u32>,
    }
    let (head, _): (Head, _) = postcard::take_from_bytes(bytes).ok()?;
    Some((head.id, head.types))
}

/// One history record: what changed in an entity at one moment.
#[derive(Debug, Clone, Default)]
pub(crate) struct Change {
    /// New or updated attribute instances.
    pub(crate) attrs: Vec<(String, Attribute)>,
    /// Deleted instances: name and datasetId (`None` = default; `all` deletes every instance).
    pub(crate) deleted: Vec<(String, Option<String>, bool)>,
    /// The whole entity was deleted.
    pub(crate) entity_deleted: bool,
}

#[derive(Serialize)]
struct EncChange {
    attrs: Vec<(u32, EncAttr)>,
    deleted: Vec<(u32, Option<String>, bool)>,
    entity_deleted: bool,
}

pub(crate) fn encode_change(c: &Change, terms: &Terms, ops: &mut Vec<WriteOp>) -> Vec<u8> {
    let enc = EncChange {
        attrs: c
            .attrs
            .iter()
            .map(|(k, a)| (terms.intern(k, ops), enc_attr(a, terms, ops)))
            .collect(),
        deleted: c
            .deleted
            .iter()
            .map(|(k, ds, all)| (terms.intern(k, ops), ds.clone(), *all))
            .collect(),
        entity_deleted: c.entity_deleted,
    };
    postcard::to_stdvec(&enc).unwrap_or_default()
}

pub(crate) fn decode_change(bytes: &[u8], terms: &Terms) -> Option<Change> {
    let dec: DecChange = postcard::from_bytes(bytes).ok()?;
    Some(terms.with_iris(|iris| Change {
        attrs: dec.attrs.into_iter().map(|(k, a)| (name_of(iris, k), a.into_attr(iris))).collect(),
        deleted: dec.deleted.into_iter().map(|(k, ds, all)| (name_of(iris, k), ds, all)).collect(),
        entity_deleted: dec.entity_deleted,
    }))
}

// ---- Decoding: straight from the stored layout into the model, without mirror values ----

const VAL_VARIANTS: &[&str] = &["Null", "Bool", "I", "U", "F", "S", "A", "O"];

/// A JSON value read from the [`Val`] layout.
struct JsonVal(Value);

impl<'de> Deserialize<'de> for JsonVal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_enum("Val", VAL_VARIANTS, JsonValVisitor).map(JsonVal)
    }
}

struct JsonValVisitor;

impl<'de> Visitor<'de> for JsonValVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an encoded JSON value")
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (tag, v): (u32, _) = data.variant()?;
        Ok(match tag {
            0 => {
                v.unit_variant()?;
                Value::Null
            }
            1 => Value::Bool(v.newtype_variant()?),
            2 => Value::Number(v.newtype_variant::<i64>()?.into()),
            3 => Value::Number(v.newtype_variant::<u64>()?.into()),
            4 => Number::from_f64(v.newtype_variant()?).map_or(Value::Null, Value::Number),
            5 => Value::String(v.newtype_variant()?),
            6 => Value::Array(v.newtype_variant::<JsonArray>()?.0),
            7 => Value::Object(v.newtype_variant::<JsonObject>()?.0),
            other => return Err(de::Error::custom(format_args!("unknown value tag {other}"))),
        })
    }
}

struct JsonArray(Vec<Value>);

impl<'de> Deserialize<'de> for JsonArray {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonArray;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an encoded JSON array")
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<JsonArray, S::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(JsonVal(v)) = seq.next_element()? {
                    items.push(v);
                }
                Ok(JsonArray(items))
            }
        }
        d.deserialize_seq(V)
    }
}

struct JsonObject(Map<String, Value>);

impl<'de> Deserialize<'de> for JsonObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an encoded JSON object")
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<JsonObject, S::Error> {
                let mut map = Map::new();
                while let Some((k, JsonVal(v))) = seq.next_element::<(String, JsonVal)>()? {
                    map.insert(k, v);
                }
                Ok(JsonObject(map))
            }
        }
        d.deserialize_seq(V)
    }
}

/// An attribute as stored, with its values already JSON; names are still term ids.
#[derive(Deserialize)]
struct DecAttr {
    kind: u8,
    value: JsonVal,
    dataset_id: Option<String>,
    observed_at: Option<i64>,
    unit_code: Option<String>,
    object_type: Option<JsonVal>,
    created_at: i64,
    modified_at: i64,
    extra: Vec<(String, JsonVal)>,
    sub: Vec<(u32, DecAttr)>,
}

impl DecAttr {
    fn into_attr(self, iris: &[Arc<str>]) -> Attribute {
        let mut expires_at = None;
        let mut extra = BTreeMap::new();
        for (k, v) in self.extra {
            match (k.as_str(), v.0.as_i64()) {
                (EXPIRES_KEY, Some(t)) => expires_at = Some(t),
                _ => {
                    extra.insert(k, v.0);
                }
            }
        }
        Attribute {
            kind: AttrKind::from_code(self.kind),
            value: self.value.0,
            dataset_id: self.dataset_id,
            observed_at: self.observed_at,
            unit_code: self.unit_code,
            object_type: self.object_type.map(|v| v.0),
            created_at: self.created_at,
            modified_at: self.modified_at,
            expires_at,
            extra,
            sub: self.sub.into_iter().map(|(k, s)| (name_of(iris, k), s.into_attr(iris))).collect(),
        }
    }
}

#[derive(Deserialize)]
struct DecChange {
    attrs: Vec<(u32, DecAttr)>,
    deleted: Vec<(u32, Option<String>, bool)>,
    entity_deleted: bool,
}

/// Steps over a sequence of `T` without keeping anything.
struct SkipSeq<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for SkipSeq<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = SkipSeq<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an encoded sequence")
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<SkipSeq<T>, S::Error> {
                while seq.next_element::<T>()?.is_some() {}
                Ok(SkipSeq(PhantomData))
            }
        }
        d.deserialize_seq(V(PhantomData))
    }
}

/// Steps over a [`Val`], borrowing its strings instead of copying them.
struct SkipVal;

impl<'de> Deserialize<'de> for SkipVal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SkipVal;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an encoded JSON value")
            }
            fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<SkipVal, A::Error> {
                let (tag, v): (u32, _) = data.variant()?;
                match tag {
                    0 => v.unit_variant()?,
                    1 => v.newtype_variant::<bool>().map(|_| ())?,
                    2 => v.newtype_variant::<i64>().map(|_| ())?,
                    3 => v.newtype_variant::<u64>().map(|_| ())?,
                    4 => v.newtype_variant::<f64>().map(|_| ())?,
                    5 => v.newtype_variant::<&'de str>().map(|_| ())?,
                    6 => v.newtype_variant::<SkipSeq<SkipVal>>().map(|_| ())?,
                    7 => v.newtype_variant::<SkipSeq<(&'de str, SkipVal)>>().map(|_| ())?,
                    other => {
                        return Err(de::Error::custom(format_args!("unknown value tag {other}")));
                    }
                }
                Ok(SkipVal)
            }
        }
        d.deserialize_enum("Val", VAL_VARIANTS, V)
    }
}

/// Steps over an [`EncAttr`]; the fields mirror its layout and are never read.
#[derive(Deserialize)]
#[allow(dead_code)]
struct SkipAttr<'a> {
    kind: u8,
    value: SkipVal,
    #[serde(borrow)]
    dataset_id: Option<&'a str>,
    observed_at: Option<i64>,
    #[serde(borrow)]
    unit_code: Option<&'a str>,
    object_type: Option<SkipVal>,
    created_at: i64,
    modified_at: i64,
    #[serde(borrow)]
    extra: SkipSeq<(&'a str, SkipVal)>,
    #[serde(borrow)]
    sub: SkipSeq<(u32, SkipAttr<'a>)>,
}

/// Reads an [`EncEntity`] into an [`Entity`], keeping the attributes in `wanted`.
#[derive(Clone, Copy)]
struct EntitySeed<'t> {
    iris: &'t [Arc<str>],
    wanted: Option<&'t [u32]>,
}

impl<'de> DeserializeSeed<'de> for EntitySeed<'_> {
    type Value = Entity;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Entity, D::Error> {
        d.deserialize_tuple(6, self)
    }
}

fn next<'de, T: Deserialize<'de>, S: SeqAccess<'de>>(seq: &mut S) -> Result<T, S::Error> {
    seq.next_element()?.ok_or_else(|| de::Error::custom("truncated entity"))
}

impl<'de> Visitor<'de> for EntitySeed<'_> {
    type Value = Entity;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an encoded entity")
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Entity, S::Error> {
        let id: String = next(&mut seq)?;
        let types: Vec<u32> = next(&mut seq)?;
        let scope = next(&mut seq)?;
        let created_at = next(&mut seq)?;
        let modified_at = next(&mut seq)?;
        let attrs = seq
            .next_element_seed(AttrsSeed(self))?
            .ok_or_else(|| de::Error::custom("truncated entity"))?;
        Ok(Entity {
            id,
            types: types.into_iter().map(|t| name_of(self.iris, t)).collect(),
            scope,
            created_at,
            modified_at,
            expires_at: None,
            attrs,
        })
    }
}

/// The attribute list of an entity.
struct AttrsSeed<'t>(EntitySeed<'t>);

impl<'de> DeserializeSeed<'de> for AttrsSeed<'_> {
    type Value = BTreeMap<String, Vec<Attribute>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for AttrsSeed<'_> {
    type Value = BTreeMap<String, Vec<Attribute>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("encoded attributes")
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let mut attrs = BTreeMap::new();
        while let Some(entry) = seq.next_element_seed(AttrEntrySeed(self.0))? {
            if let Some((name, instances)) = entry {
                attrs.insert(name, instances);
            }
        }
        Ok(attrs)
    }
}

/// One `(term id, instances)` pair: decoded when wanted, stepped over otherwise.
struct AttrEntrySeed<'t>(EntitySeed<'t>);

impl<'de> DeserializeSeed<'de> for AttrEntrySeed<'_> {
    type Value = Option<(String, Vec<Attribute>)>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_tuple(2, self)
    }
}

impl<'de> Visitor<'de> for AttrEntrySeed<'_> {
    type Value = Option<(String, Vec<Attribute>)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an encoded attribute")
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let id: u32 = next(&mut seq)?;
        let EntitySeed { iris, wanted } = self.0;
        if wanted.is_some_and(|w| !w.contains(&id)) {
            next::<SkipSeq<SkipAttr<'de>>, S>(&mut seq)?;
            return Ok(None);
        }
        let instances: Vec<DecAttr> = next(&mut seq)?;
        Ok(Some((name_of(iris, id), instances.into_iter().map(|a| a.into_attr(iris)).collect())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use citybrain_ngsi::Context;
    use citybrain_ngsi::parse::parse_entity;
    use serde_json::json;

    #[test]
    fn partial_decodes_keep_only_the_wanted_attributes() {
        let e = parse_entity(
            &json!({"id": "urn:ngsi-ld:Thing:1", "type": ["Thing", "Other"], "scope": "/a/b",
                "first": {"type": "Property", "value": {"deep": [1, {"x": "y"}, [true, null]]},
                    "datasetId": "urn:ds:1", "unitCode": "C62", "note": {"type": "Property", "value": "n"},
                    "valueType": "Measure"},
                "link": {"type": "Relationship", "object": "urn:ngsi-ld:Road:1", "objectType": "Road"},
                "second": {"type": "Property", "value": -2.5, "observedAt": "2024-01-01T00:00:00Z"},
                "third": [{"type": "Property", "value": "a"}, {"type": "Property", "value": "b", "datasetId": "urn:ds:2"}]}),
            &Context::core(),
            1_700_000_000_000_000,
        )
        .unwrap();
        let terms = Terms::default();
        let bytes = encode_entity(&e, &terms, &mut Vec::new());
        let names: Vec<String> = e.attrs.keys().cloned().collect();
        // Every subset of attributes, so each one is stepped over before and after another.
        for mask in 0..(1u32 << names.len()) {
            let keep: Vec<&String> = names
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, n)| n)
                .collect();
            let wanted: Vec<u32> = keep.iter().map(|n| terms.lookup(n).unwrap()).collect();
            let partial = decode_entity_with(&bytes, &terms, Some(&wanted)).unwrap();
            let mut expected = e.clone();
            expected.attrs.retain(|k, _| keep.contains(&k));
            assert_eq!(partial, expected, "wanted {keep:?}");
        }
        assert_eq!(decode_entity_with(&bytes, &terms, None).unwrap(), e);
        assert!(decode_entity(&bytes[..bytes.len() - 1], &terms).is_none(), "truncated bytes");
    }

    #[test]
    fn expiry_round_trips_and_older_layouts_still_decode() {
        let e = parse_entity(
            &json!({"id": "urn:ngsi-ld:Vehicle:t1", "type": "Vehicle",
                "expiresAt": "2100-01-01T00:00:00Z",
                "speed": {"type": "Property", "value": 7, "expiresAt": "2100-01-02T00:00:00Z",
                    "valueType": "Measure",
                    "accuracy": {"type": "Property", "value": 1, "expiresAt": "2100-01-03T00:00:00Z"}},
                "plain": {"type": "Property", "value": 1}}),
            &Context::core(),
            1_700_000_000_000_000,
        )
        .unwrap();
        assert!(e.expires_at.is_some());
        let terms = Terms::default();
        let bytes = encode_entity(&e, &terms, &mut Vec::new());
        let back = decode_entity(&bytes, &terms).unwrap();
        assert_eq!(back, e);
        // A cut-off tail is corruption, not an entity without expiry.
        assert!(decode_entity(&bytes[..bytes.len() - 1], &terms).is_none());
        // Entities stored before expiresAt existed: the same layout with no tail.
        let mut old = e.clone();
        old.expires_at = None;
        for a in old.attrs.values_mut().flatten() {
            a.expires_at = None;
            for s in a.sub.values_mut() {
                s.expires_at = None;
            }
        }
        let enc = EncEntity {
            id: old.id.clone(),
            types: old.types.iter().map(|t| terms.lookup(t).unwrap()).collect(),
            scope: Vec::new(),
            created_at: old.created_at,
            modified_at: old.modified_at,
            attrs: old
                .attrs
                .iter()
                .map(|(k, v)| {
                    let list = v.iter().map(|a| enc_attr(a, &terms, &mut Vec::new())).collect();
                    (terms.lookup(k).unwrap(), list)
                })
                .collect(),
        };
        let stored = postcard::to_stdvec(&enc).unwrap();
        assert_eq!(decode_entity(&stored, &terms).unwrap(), old);
    }

    #[test]
    fn entities_round_trip_compactly() {
        let e = parse_entity(
            &json!({"id": "urn:ngsi-ld:TrafficFlowObserved:1", "type": "TrafficFlowObserved",
                "intensity": {"type": "Property", "value": 120, "observedAt": "2024-01-01T00:00:00Z", "unitCode": "E50"},
                "speed": {"type": "Property", "value": 42.5, "accuracy": {"type": "Property", "value": 0.1}},
                "road": {"type": "Relationship", "object": "urn:ngsi-ld:Road:1"},
                "meta": {"type": "Property", "value": {"a": [1, "x", null, true], "b": -3}},
                "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [120.1, 30.2]}}}),
            &Context::core(),
            1_700_000_000_000_000,
        )
        .unwrap();
        let terms = Terms::default();
        let mut ops = Vec::new();
        let bytes = encode_entity(&e, &terms, &mut ops);
        assert!(!ops.is_empty());
        assert_eq!(decode_entity(&bytes, &terms).unwrap(), e);
        let (id, types) = peek_header(&bytes).unwrap();
        assert_eq!(id, e.id);
        assert_eq!(terms.iri(types[0]).as_ref(), e.types[0]);
        assert!(bytes.len() < 600, "{} bytes", bytes.len());
        let mut more = Vec::new();
        encode_entity(&e, &terms, &mut more);
        assert!(more.is_empty(), "known terms are not persisted twice");
    }
}
