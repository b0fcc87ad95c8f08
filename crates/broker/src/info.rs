//! Discovery: the entity types and attributes present in a tenant (`/types`, `/attributes`).

use std::collections::{BTreeMap, BTreeSet};

use citybrain_ngsi::error::NgsiResult;

use crate::Broker;

/// What is known about one entity type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TypeInfo {
    /// Expanded type name.
    pub type_iri: String,
    /// Number of entities of this type.
    pub count: usize,
    /// Attribute names (expanded) with the attribute kinds seen.
    pub attrs: BTreeMap<String, BTreeSet<&'static str>>,
}

/// What is known about one attribute name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttributeInfo {
    /// Expanded attribute name.
    pub name: String,
    /// Number of entities with this attribute.
    pub count: usize,
    /// Kinds seen (`Property`, `Relationship` …).
    pub kinds: BTreeSet<&'static str>,
    /// Entity types (expanded) that have it.
    pub types: BTreeSet<String>,
}

impl Broker {
    /// Every entity type in the tenant with its attributes.
    pub fn type_infos(&self, tenant: &str) -> NgsiResult<Vec<TypeInfo>> {
        self.read(tenant, |s, terms| {
            let mut out: BTreeMap<String, TypeInfo> = BTreeMap::new();
            for slot in s.all_slots() {
                let Some(e) = s.decode_slot(slot, terms) else { continue };
                for t in &e.types {
                    let info = out
                        .entry(t.clone())
                        .or_insert_with(|| TypeInfo { type_iri: t.clone(), ..TypeInfo::default() });
                    info.count += 1;
                    for (name, list) in &e.attrs {
                        let kinds = info.attrs.entry(name.clone()).or_default();
                        kinds.extend(list.iter().map(|a| a.kind.name()));
                    }
                }
            }
            out.into_values().collect()
        })
    }

    /// Every attribute name in the tenant with its kinds and types.
    pub fn attribute_infos(&self, tenant: &str) -> NgsiResult<Vec<AttributeInfo>> {
        self.read(tenant, |s, terms| {
            let mut out: BTreeMap<String, AttributeInfo> = BTreeMap::new();
            for slot in s.all_slots() {
                let Some(e) = s.decode_slot(slot, terms) else { continue };
                for (name, list) in &e.attrs {
                    let info = out.entry(name.clone()).or_insert_with(|| AttributeInfo {
                        name: name.clone(),
                        ..AttributeInfo::default()
                    });
                    info.count += 1;
                    info.kinds.extend(list.iter().map(|a| a.kind.name()));
                    info.types.extend(e.types.iter().cloned());
                }
            }
            out.into_values().collect()
        })
    }
}
