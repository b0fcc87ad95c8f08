//! Temporal headers (the types and scopes of an entity's temporal representation) and the
//! temporal API's service logic.

use citybrain_store::WriteOp;
use serde::{Deserialize, Serialize};

use crate::codec::Terms;

/// What the hub remembers about a temporal representation besides its history.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TemporalHeader {
    pub(crate) types: Vec<String>,
    pub(crate) scope: Vec<String>,
    pub(crate) created_at: i64,
}

#[derive(Serialize, Deserialize)]
struct EncHeader {
    types: Vec<u32>,
    scope: Vec<String>,
    created_at: i64,
}

impl TemporalHeader {
    pub(crate) fn encode(&self, terms: &Terms, ops: &mut Vec<WriteOp>) -> Vec<u8> {
        let enc = EncHeader {
            types: self.types.iter().map(|t| terms.intern(t, ops)).collect(),
            scope: self.scope.clone(),
            created_at: self.created_at,
        };
        postcard::to_stdvec(&enc).unwrap_or_default()
    }

    pub(crate) fn decode(bytes: &[u8], terms: &Terms) -> Option<TemporalHeader> {
        let enc: EncHeader = postcard::from_bytes(bytes).ok()?;
        Some(TemporalHeader {
            types: enc.types.into_iter().map(|t| terms.iri(t).to_string()).collect(),
            scope: enc.scope,
            created_at: enc.created_at,
        })
    }
}

use std::collections::BTreeMap;

use citybrain_ngsi::error::{NgsiError, NgsiResult};
use citybrain_ngsi::model::{Attribute, Entity};
use citybrain_ngsi::temporal::{Instance, SCOPE_IRI, TemporalEntity};

use crate::Broker;
use crate::codec::{Change, decode_change, encode_change};
use crate::query::EntityQuery;

fn not_found(id: &str) -> NgsiError {
    NgsiError::not_found(format!("no temporal representation of '{id}'"))
}

/// The Entity after temporal instances arrive (see [`Broker::temporal_upsert`]), or `None`
/// when it exists and no instance is newer than what it holds.
fn follow_observations(
    id: &str,
    before: Option<&Entity>,
    types: &[String],
    scope: &[String],
    instances: &[(String, Attribute)],
    now: i64,
) -> Option<Entity> {
    let mut entity = before.cloned().unwrap_or_else(|| Entity {
        id: id.to_string(),
        types: types.to_vec(),
        scope: scope.to_vec(),
        created_at: now,
        modified_at: now,
        attrs: BTreeMap::new(),
        expires_at: None,
    });
    let mut changed = before.is_none();
    // Types and scopes add up, as in the temporal representation's header.
    for t in types {
        if !entity.types.contains(t) {
            entity.types.push(t.clone());
            changed = true;
        }
    }
    for sc in scope {
        if !entity.scope.contains(sc) {
            entity.scope.push(sc.clone());
            changed = true;
        }
    }
    // Scope instances tell the scope's history; the scope held now came in `scope`.
    for (name, inst) in instances.iter().filter(|(name, _)| name != SCOPE_IRI) {
        let held = entity.instance(name, inst.dataset_id.as_deref());
        let newer = match held {
            None => true,
            // An instance without observedAt is as old as can be.
            Some(old) => match (old.observed_at, inst.observed_at) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(a), Some(b)) => b >= a,
            },
        };
        if newer && crate::entities::is_ngsi_null(inst) {
            // The latest observation is a deletion (clause 4.5.7): the Entity drops it.
            let mut list = entity.attrs.remove(name).unwrap_or_default();
            list.retain(|a| a.dataset_id != inst.dataset_id);
            if !list.is_empty() {
                entity.attrs.insert(name.clone(), list);
            }
            changed = true;
        } else if newer {
            let mut attr = inst.clone();
            let created = held.map_or(now, |old| old.created_at);
            attr.stamp(created, now);
            entity.put_instance(name, attr);
            changed = true;
        }
    }
    if !changed {
        return None;
    }
    entity.modified_at = now;
    Some(entity)
}

/// The value of a deletion record (clause 4.5.7): NGSI-LD Null, held by a LanguageProperty as
/// the language map `{"@none": null}` since its value is a map.
/// The scope's is the empty list of scopes.
fn deleted_value(name: &str, kind: citybrain_ngsi::AttrKind) -> serde_json::Value {
    let null = serde_json::Value::String(citybrain_ngsi::parse::NGSI_LD_NULL.into());
    match kind {
        _ if name == SCOPE_IRI => serde_json::json!([]),
        citybrain_ngsi::AttrKind::LanguageProperty => {
            let mut map = serde_json::Map::new();
            map.insert("@none".into(), null);
            serde_json::Value::Object(map)
        }
        _ => null,
    }
}

fn instance_id(seq: i64, idx: usize) -> String {
    format!("urn:ngsi-ld:Instance:{seq}-{idx}")
}

impl Broker {
    /// Creates or extends a temporal representation with attribute instances; returns
    /// whether it was created.
    ///
    /// The Entity itself follows its latest observations: an absent Entity is created from
    /// the most recent instance of each attribute (and datasetId), an existing one takes an
    /// instance observed no earlier than the one it holds. Core API operations on the Entity
    /// (deleting an attribute or the scope, …) then extend the same temporal evolution, as
    /// clause 5.7.3 retrievals with `timeproperty=deletedAt` expect.
    pub async fn temporal_upsert(
        &self,
        tenant: &str,
        id: &str,
        types: Vec<String>,
        scope: Vec<String>,
        instances: Vec<(String, Attribute)>,
    ) -> NgsiResult<bool> {
        let superseded = self.superseded_instances(tenant, id, &instances).await?;
        self.write(tenant, true, |s, tx| {
            for (seq, change) in &superseded {
                let data = encode_change(change, tx.terms, &mut tx.ops);
                tx.ops.push(WriteOp::ReplaceHistory { seq: *seq, data });
            }
            let created = !s.temporal.contains_key(id);
            let header = match s.temporal.get(id).and_then(|b| TemporalHeader::decode(b, tx.terms))
            {
                Some(h) => {
                    let mut h = h.clone();
                    for t in &types {
                        if !h.types.contains(t) {
                            h.types.push(t.clone());
                        }
                    }
                    for sc in &scope {
                        if !h.scope.contains(sc) {
                            h.scope.push(sc.clone());
                        }
                    }
                    h
                }
                None => TemporalHeader {
                    types: types.clone(),
                    scope: scope.clone(),
                    created_at: tx.now,
                },
            };
            s.put_temporal(id, header, tx);
            let before = s.get(id, tx.terms);
            let current =
                follow_observations(id, before.as_ref(), &types, &scope, &instances, tx.now);
            let change = Change { attrs: instances, ..Change::default() };
            match current {
                Some(entity) => s.put(entity, change, before, tx),
                None if !change.attrs.is_empty() => {
                    let data = encode_change(&change, tx.terms, &mut tx.ops);
                    tx.ops.push(WriteOp::AppendHistory {
                        tenant: tx.tenant.to_string(),
                        entity_id: id.to_string(),
                        time: tx.now,
                        data,
                    });
                }
                None => {}
            }
            Ok(created)
        })
        .await
    }

    /// The history records of `id` holding an instance that one of `incoming` replaces (same
    /// attribute, datasetId and observedAt: the same observation sent again, clause 5.6.11),
    /// each with those instances blanked so that the instance ids of the others stay put.
    async fn superseded_instances(
        &self,
        tenant: &str,
        id: &str,
        incoming: &[(String, Attribute)],
    ) -> NgsiResult<Vec<(i64, Change)>> {
        let observed: Vec<(&str, Option<&str>, i64)> = incoming
            .iter()
            .filter_map(|(name, a)| Some((name.as_str(), a.dataset_id.as_deref(), a.observed_at?)))
            .collect();
        let exists =
            self.tenant_exists(tenant) && self.read(tenant, |s, _| s.temporal.contains_key(id))?;
        if observed.is_empty() || !exists {
            return Ok(Vec::new());
        }
        let mut edits = Vec::new();
        for row in self.history_rows(tenant, id).await? {
            let Some(mut change) = decode_change(&row.data, &self.inner.terms) else { continue };
            let mut touched = false;
            for (name, attr) in &mut change.attrs {
                let again = observed.iter().any(|(n, ds, t)| {
                    n == name && *ds == attr.dataset_id.as_deref() && Some(*t) == attr.observed_at
                });
                if again {
                    name.clear();
                    touched = true;
                }
            }
            if touched {
                edits.push((row.seq, change));
            }
        }
        Ok(edits)
    }

    /// Appends instances to an existing temporal representation.
    pub async fn temporal_append(
        &self,
        tenant: &str,
        id: &str,
        instances: Vec<(String, Attribute)>,
    ) -> NgsiResult<()> {
        if !self.read(tenant, |s, _| s.temporal.contains_key(id))? {
            return Err(not_found(id));
        }
        self.temporal_upsert(tenant, id, Vec::new(), Vec::new(), instances).await.map(|_| ())
    }

    /// Deletes a temporal representation and its history, and with them the Entity whose
    /// evolution it is (the temporal create made it; leaving it would keep a live Entity
    /// without history).
    pub async fn temporal_delete(&self, tenant: &str, id: &str) -> NgsiResult<()> {
        self.write(tenant, false, |s, tx| {
            s.temporal.remove(id).ok_or_else(|| not_found(id))?;
            s.remove(id, tx);
            tx.ops.push(WriteOp::DeleteTemporal {
                tenant: tx.tenant.to_string(),
                id: id.to_string(),
            });
            Ok(())
        })
        .await
    }

    async fn history_rows(
        &self,
        tenant: &str,
        id: &str,
    ) -> NgsiResult<Vec<citybrain_store::HistoryRow>> {
        let store = self.inner.store.clone();
        let (tenant, id) = (tenant.to_string(), id.to_string());
        tokio::task::spawn_blocking(move || store.history(&tenant, &id))
            .await
            .map_err(|e| NgsiError::internal(e.to_string()))?
            .map_err(|e| {
                NgsiError::new(citybrain_ngsi::ErrorKind::ServiceUnavailable, e.to_string())
            })
    }

    /// The full temporal representation of `id`.
    pub async fn temporal_entity(&self, tenant: &str, id: &str) -> NgsiResult<TemporalEntity> {
        let header = self
            .read(tenant, |s, terms| {
                s.temporal.get(id).and_then(|b| TemporalHeader::decode(b, terms))
            })?
            .ok_or_else(|| not_found(id))?;
        let rows = self.history_rows(tenant, id).await?;
        let mut e = TemporalEntity {
            id: id.to_string(),
            types: header.types,
            scope: header.scope,
            created_at: header.created_at,
            attrs: BTreeMap::new(),
        };
        for row in rows {
            let Some(change) = decode_change(&row.data, &self.inner.terms) else { continue };
            for (idx, (name, attr)) in change.attrs.into_iter().enumerate() {
                if name.is_empty() {
                    continue;
                }
                e.attrs.entry(name).or_default().push(Instance {
                    attr,
                    instance_id: instance_id(row.seq, idx),
                    deleted_at: None,
                });
            }
            for (k, (name, ds, all)) in change.deleted.into_iter().enumerate() {
                let kind = e
                    .attrs
                    .get(&name)
                    .and_then(|v| v.last())
                    .map_or(citybrain_ngsi::AttrKind::Property, |i| i.attr.kind);
                let mut attr = Attribute::new(kind, deleted_value(&name, kind));
                attr.dataset_id = if all { None } else { ds };
                attr.stamp(row.time, row.time);
                e.attrs.entry(name).or_default().push(Instance {
                    attr,
                    instance_id: instance_id(row.seq, 10_000 + k),
                    deleted_at: Some(row.time),
                });
            }
        }
        Ok(e)
    }

    /// Temporal representations of the entities matching `q` (ids, idPattern, types).
    pub async fn temporal_query(
        &self,
        tenant: &str,
        q: &EntityQuery,
    ) -> NgsiResult<Vec<TemporalEntity>> {
        let ids: Vec<String> = self.read(tenant, |s, terms| {
            let decoded: Vec<(String, TemporalHeader)> = s
                .temporal
                .iter()
                .filter_map(|(id, b)| TemporalHeader::decode(b, terms).map(|h| (id.to_string(), h)))
                .collect();
            let mut ids: Vec<(&String, &TemporalHeader)> = decoded
                .iter()
                .map(|(id, h)| (id, h))
                .filter(|(id, h)| {
                    (q.ids.is_empty() || q.ids.contains(*id))
                        && q.id_pattern.as_ref().is_none_or(|re| re.is_match(id))
                        && q.types
                            .as_ref()
                            .is_none_or(|t| citybrain_ngsi::filters::types_match(t, &h.types))
                })
                .collect();
            ids.sort_by_key(|(id, h)| (h.created_at, (*id).clone()));
            ids.into_iter().map(|(id, _)| id.clone()).collect()
        })?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Ok(e) = self.temporal_entity(tenant, &id).await {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Rewrites the history rows of `id`, letting `edit` change each row's change record;
    /// returns how many instances `edit` reported touching.
    async fn edit_history(
        &self,
        tenant: &str,
        id: &str,
        mut edit: impl FnMut(i64, &mut Change) -> usize + Send,
    ) -> NgsiResult<usize> {
        if !self.read(tenant, |s, _| s.temporal.contains_key(id))? {
            return Err(not_found(id));
        }
        let rows = self.history_rows(tenant, id).await?;
        let terms = &self.inner.terms;
        let mut edits = Vec::new();
        let mut touched = 0;
        for row in rows {
            let Some(mut change) = decode_change(&row.data, terms) else { continue };
            let n = edit(row.seq, &mut change);
            if n > 0 {
                touched += n;
                edits.push((row.seq, change));
            }
        }
        if touched == 0 {
            return Ok(0);
        }
        self.write(tenant, false, |_, tx| {
            for (seq, change) in &edits {
                let data = encode_change(change, tx.terms, &mut tx.ops);
                tx.ops.push(WriteOp::ReplaceHistory { seq: *seq, data });
            }
            Ok(touched)
        })
        .await
    }

    /// Deletes the instances of one attribute (one datasetId, or all with `all`).
    pub async fn temporal_delete_attr(
        &self,
        tenant: &str,
        id: &str,
        name: &str,
        dataset_id: Option<&str>,
        all: bool,
    ) -> NgsiResult<()> {
        let n = self
            .edit_history(tenant, id, |_, c| {
                let before = c.attrs.len();
                c.attrs.retain(|(k, a)| {
                    !(k == name && (all || a.dataset_id.as_deref() == dataset_id))
                });
                c.deleted.retain(|(k, ds, _)| !(k == name && (all || ds.as_deref() == dataset_id)));
                before - c.attrs.len()
            })
            .await?;
        if n == 0 {
            return Err(NgsiError::not_found(format!("'{id}' has no instances of '{name}'")));
        }
        Ok(())
    }

    /// Deletes one attribute instance by instanceId.
    pub async fn temporal_delete_instance(
        &self,
        tenant: &str,
        id: &str,
        name: &str,
        instance: &str,
    ) -> NgsiResult<()> {
        self.edit_instance(tenant, id, name, instance, None).await
    }

    /// Replaces one attribute instance by instanceId.
    pub async fn temporal_modify_instance(
        &self,
        tenant: &str,
        id: &str,
        name: &str,
        instance: &str,
        attr: Attribute,
    ) -> NgsiResult<()> {
        self.edit_instance(tenant, id, name, instance, Some(attr)).await
    }

    async fn edit_instance(
        &self,
        tenant: &str,
        id: &str,
        name: &str,
        instance: &str,
        replacement: Option<Attribute>,
    ) -> NgsiResult<()> {
        let n = self
            .edit_history(tenant, id, |seq, c| {
                let Some(idx) = (0..c.attrs.len())
                    .find(|i| instance_id(seq, *i) == instance && c.attrs[*i].0 == name)
                else {
                    return 0;
                };
                match &replacement {
                    Some(new) => {
                        let old = &c.attrs[idx].1;
                        let mut new = new.clone();
                        new.created_at = old.created_at;
                        new.modified_at = citybrain_ngsi::time::now_micros();
                        if new.observed_at.is_none() {
                            new.observed_at = old.observed_at;
                        }
                        c.attrs[idx].1 = new;
                    }
                    None => {
                        // Keep indexes (and so other instance ids) stable: blank the slot.
                        c.attrs[idx].0 = String::new();
                    }
                }
                1
            })
            .await?;
        if n == 0 {
            return Err(NgsiError::not_found(format!(
                "no instance '{instance}' of '{name}' in '{id}'"
            )));
        }
        Ok(())
    }
}
