//! Compact binary encoding of entities and history records (postcard over mirror structs),
//! with attribute and type IRIs interned to dense `u32` ids. This is what keeps a stored
//! entity well under 2 KB in memory; the same bytes go to the store.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use citybrain_ngsi::model::{AttrKind, Attribute, Entity};
use citybrain_store::WriteOp;
use parking_lot::RwLock;
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
}

#[derive(Serialize, Deserialize)]
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

    fn into_json(self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(b),
            Val::I(i) => Value::Number(i.into()),
            Val::U(u) => Value::Number(u.into()),
            Val::F(f) => Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null),
            Val::S(s) => Value::String(s),
            Val::A(a) => Value::Array(a.into_iter().map(Val::into_json).collect()),
            Val::O(o) => {
                Value::Object(o.into_iter().map(|(k, v)| (k, v.into_json())).collect::<Map<_, _>>())
            }
        }
    }
}

#[derive(Serialize, Deserialize)]
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

#[derive(Serialize, Deserialize)]
struct EncEntity {
    id: String,
    types: Vec<u32>,
    scope: Vec<String>,
    created_at: i64,
    modified_at: i64,
    attrs: Vec<(u32, Vec<EncAttr>)>,
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
        extra: a.extra.iter().map(|(k, v)| (k.clone(), Val::from_json(v))).collect(),
        sub: a.sub.iter().map(|(k, s)| (terms.intern(k, ops), enc_attr(s, terms, ops))).collect(),
    }
}

fn dec_attr(e: EncAttr, terms: &Terms) -> Attribute {
    Attribute {
        kind: AttrKind::from_code(e.kind),
        value: e.value.into_json(),
        dataset_id: e.dataset_id,
        observed_at: e.observed_at,
        unit_code: e.unit_code,
        object_type: e.object_type.map(Val::into_json),
        created_at: e.created_at,
        modified_at: e.modified_at,
        extra: e.extra.into_iter().map(|(k, v)| (k, v.into_json())).collect(),
        sub: e
            .sub
            .into_iter()
            .map(|(k, s)| (terms.iri(k).to_string(), dec_attr(s, terms)))
            .collect(),
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
    postcard::to_stdvec(&enc).unwrap_or_default()
}

/// Decodes an entity; `None` if the bytes are corrupt.
pub(crate) fn decode_entity(bytes: &[u8], terms: &Terms) -> Option<Entity> {
    let enc: EncEntity = postcard::from_bytes(bytes).ok()?;
    Some(Entity {
        id: enc.id,
        types: enc.types.into_iter().map(|t| terms.iri(t).to_string()).collect(),
        scope: enc.scope,
        created_at: enc.created_at,
        modified_at: enc.modified_at,
        attrs: enc
            .attrs
            .into_iter()
            .map(|(k, v)| {
                (terms.iri(k).to_string(), v.into_iter().map(|a| dec_attr(a, terms)).collect())
            })
            .collect::<BTreeMap<_, _>>(),
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

#[derive(Serialize, Deserialize)]
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
    let enc: EncChange = postcard::from_bytes(bytes).ok()?;
    Some(Change {
        attrs: enc
            .attrs
            .into_iter()
            .map(|(k, a)| (terms.iri(k).to_string(), dec_attr(a, terms)))
            .collect(),
        deleted: enc
            .deleted
            .into_iter()
            .map(|(k, ds, all)| (terms.iri(k).to_string(), ds, all))
            .collect(),
        entity_deleted: enc.entity_deleted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use citybrain_ngsi::Context;
    use citybrain_ngsi::parse::parse_entity;
    use serde_json::json;

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
