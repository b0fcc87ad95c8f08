//! The NGSI-LD information model as the hub holds it: entities whose type names and
//! attribute names are expanded IRIs, attributes of every kind the spec names, with
//! sub-attributes, datasetIds and system timestamps.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::time::Micros;

/// The kind of an attribute (its NGSI-LD `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrKind {
    /// `Property`: any JSON value in `value`.
    Property,
    /// `Relationship`: target entity id(s) in `object`.
    Relationship,
    /// `GeoProperty`: a GeoJSON geometry in `value`.
    GeoProperty,
    /// `LanguageProperty`: a language map in `languageMap`.
    LanguageProperty,
    /// `VocabProperty`: vocabulary term(s) in `vocab` (held expanded).
    VocabProperty,
    /// `JsonProperty`: a JSON literal in `json`.
    JsonProperty,
    /// `ListProperty`: an ordered list in `valueList`.
    ListProperty,
    /// `ListRelationship`: an ordered list of entity ids in `objectList`.
    ListRelationship,
}

impl AttrKind {
    /// All kinds, for lookups.
    pub const ALL: [AttrKind; 8] = [
        AttrKind::Property,
        AttrKind::Relationship,
        AttrKind::GeoProperty,
        AttrKind::LanguageProperty,
        AttrKind::VocabProperty,
        AttrKind::JsonProperty,
        AttrKind::ListProperty,
        AttrKind::ListRelationship,
    ];

    /// The `type` member's text.
    pub fn name(self) -> &'static str {
        match self {
            AttrKind::Property => "Property",
            AttrKind::Relationship => "Relationship",
            AttrKind::GeoProperty => "GeoProperty",
            AttrKind::LanguageProperty => "LanguageProperty",
            AttrKind::VocabProperty => "VocabProperty",
            AttrKind::JsonProperty => "JsonProperty",
            AttrKind::ListProperty => "ListProperty",
            AttrKind::ListRelationship => "ListRelationship",
        }
    }

    /// The kind whose `type` member is `name` (also accepts the expanded IRIs).
    pub fn from_name(name: &str) -> Option<AttrKind> {
        let short = name.strip_prefix("https://uri.etsi.org/ngsi-ld/").unwrap_or(name);
        AttrKind::ALL.into_iter().find(|k| k.name() == short)
    }

    /// The member that carries this kind's value (`value`, `object`, `languageMap` …).
    pub fn value_member(self) -> &'static str {
        match self {
            AttrKind::Property | AttrKind::GeoProperty => "value",
            AttrKind::Relationship => "object",
            AttrKind::LanguageProperty => "languageMap",
            AttrKind::VocabProperty => "vocab",
            AttrKind::JsonProperty => "json",
            AttrKind::ListProperty => "valueList",
            AttrKind::ListRelationship => "objectList",
        }
    }

    /// A stable small number for compact storage.
    pub fn code(self) -> u8 {
        AttrKind::ALL.iter().position(|k| *k == self).unwrap_or(0) as u8
    }

    /// The kind stored under [`AttrKind::code`].
    pub fn from_code(code: u8) -> AttrKind {
        AttrKind::ALL.get(usize::from(code)).copied().unwrap_or(AttrKind::Property)
    }
}

/// One attribute instance (one datasetId of a possibly multi-attribute).
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// The attribute's kind.
    pub kind: AttrKind,
    /// The value member's content (see [`AttrKind::value_member`]); vocab terms are expanded.
    pub value: Value,
    /// `datasetId`, when this is not the default instance.
    pub dataset_id: Option<String>,
    /// `observedAt`.
    pub observed_at: Option<Micros>,
    /// `unitCode`.
    pub unit_code: Option<String>,
    /// `objectType` of a Relationship (expanded).
    pub object_type: Option<Value>,
    /// System attribute `createdAt`.
    pub created_at: Micros,
    /// System attribute `modifiedAt`.
    pub modified_at: Micros,
    /// System attribute `expiresAt`: when this instance is deleted (transient attributes).
    pub expires_at: Option<Micros>,
    /// Other members kept verbatim (`valueType`, …).
    pub extra: BTreeMap<String, Value>,
    /// Sub-attributes by expanded name.
    pub sub: BTreeMap<String, Attribute>,
}

impl Attribute {
    /// A new attribute of `kind` with `value` and no metadata.
    pub fn new(kind: AttrKind, value: Value) -> Self {
        Attribute {
            kind,
            value,
            dataset_id: None,
            observed_at: None,
            unit_code: None,
            object_type: None,
            created_at: 0,
            modified_at: 0,
            expires_at: None,
            extra: BTreeMap::new(),
            sub: BTreeMap::new(),
        }
    }

    /// The earliest `expiresAt` of this instance or any of its sub-attributes.
    pub fn earliest_expiry(&self) -> Option<Micros> {
        self.sub.values().filter_map(Attribute::earliest_expiry).chain(self.expires_at).min()
    }

    /// Removes the sub-attributes (at any depth) whose `expiresAt` is at or before `now`;
    /// returns whether any was removed.
    pub fn drop_expired_subs(&mut self, now: Micros) -> bool {
        let before = self.sub.len();
        self.sub.retain(|_, s| s.expires_at.is_none_or(|t| t > now));
        let mut changed = self.sub.len() != before;
        for s in self.sub.values_mut() {
            changed |= s.drop_expired_subs(now);
        }
        changed
    }

    /// Sets `createdAt`/`modifiedAt` here and in every sub-attribute.
    pub fn stamp(&mut self, created: Micros, modified: Micros) {
        self.created_at = created;
        self.modified_at = modified;
        for sub in self.sub.values_mut() {
            sub.stamp(created, modified);
        }
    }
}

/// An entity: id, types, scopes, system timestamps and attributes by expanded name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Entity {
    /// The entity id (a URI).
    pub id: String,
    /// Expanded type IRIs (at least one).
    pub types: Vec<String>,
    /// `scope` values (hierarchical, `/`-separated).
    pub scope: Vec<String>,
    /// System attribute `createdAt`.
    pub created_at: Micros,
    /// System attribute `modifiedAt`.
    pub modified_at: Micros,
    /// System attribute `expiresAt`: when the whole entity is deleted (transient entities).
    pub expires_at: Option<Micros>,
    /// Attribute instances by expanded name; more than one instance means several datasetIds.
    pub attrs: BTreeMap<String, Vec<Attribute>>,
}

impl Entity {
    /// The instance of `name` with `dataset_id` (None = default instance).
    pub fn instance(&self, name: &str, dataset_id: Option<&str>) -> Option<&Attribute> {
        self.attrs.get(name)?.iter().find(|a| a.dataset_id.as_deref() == dataset_id)
    }

    /// Inserts or replaces the instance of `attr`'s datasetId; returns the replaced one.
    pub fn put_instance(&mut self, name: &str, attr: Attribute) -> Option<Attribute> {
        let list = self.attrs.entry(name.to_string()).or_default();
        if let Some(slot) = list.iter_mut().find(|a| a.dataset_id == attr.dataset_id) {
            return Some(std::mem::replace(slot, attr));
        }
        list.push(attr);
        None
    }

    /// The earliest moment something in the entity expires: the entity itself, an attribute
    /// instance or a sub-attribute (`None` when nothing in it is transient).
    pub fn earliest_expiry(&self) -> Option<Micros> {
        self.attrs
            .values()
            .flatten()
            .filter_map(Attribute::earliest_expiry)
            .chain(self.expires_at)
            .min()
    }

    /// Whether the entity itself has expired at `now`.
    pub fn is_expired(&self, now: Micros) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }

    /// Removes what has expired at `now` inside the entity (attribute instances and
    /// sub-attributes); returns (name, datasetId) of each removed instance and whether any
    /// sub-attribute of a kept instance was removed.
    pub fn drop_expired(&mut self, now: Micros) -> (Vec<(String, Option<String>)>, bool) {
        let mut removed = Vec::new();
        let mut subs_changed = false;
        for (name, list) in self.attrs.iter_mut() {
            list.retain(|a| {
                let gone = a.expires_at.is_some_and(|t| t <= now);
                if gone {
                    removed.push((name.clone(), a.dataset_id.clone()));
                }
                !gone
            });
            for a in list.iter_mut() {
                subs_changed |= a.drop_expired_subs(now);
            }
        }
        self.attrs.retain(|_, list| !list.is_empty());
        (removed, subs_changed)
    }

    /// Whether any of the entity's types equals `iri`.
    pub fn has_type(&self, iri: &str) -> bool {
        self.types.iter().any(|t| t == iri)
    }

    /// (attribute name, target entity id) of every Relationship and ListRelationship.
    pub fn relationship_targets(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, list) in &self.attrs {
            for a in list {
                let ids: Vec<&str> = match (a.kind, &a.value) {
                    (AttrKind::Relationship, Value::String(s)) => vec![s.as_str()],
                    (AttrKind::Relationship | AttrKind::ListRelationship, Value::Array(items)) => {
                        items
                            .iter()
                            .filter_map(|v| {
                                v.as_str().or_else(|| v.get("object").and_then(Value::as_str))
                            })
                            .collect()
                    }
                    _ => Vec::new(),
                };
                out.extend(ids.into_iter().map(|id| (name.clone(), id.to_string())));
            }
        }
        out
    }
}
