//! Entity operations: create, replace, delete, append/update/merge attributes, delete an
//! attribute (or one datasetId), and the batch operations with their multi-status results.

use std::collections::BTreeMap;

use citybrain_ngsi::error::{NgsiError, NgsiResult};
use citybrain_ngsi::model::{AttrKind, Attribute, Entity};
use citybrain_ngsi::parse::{Fragment, NGSI_LD_NULL};
use serde_json::Value;

use crate::Broker;
use crate::codec::Change;
use crate::expiry::settle;
use crate::tenant::{TenantState, Tx};

/// Outcome of an append or update: which attributes changed and which did not (and why).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateResult {
    /// Expanded names of the attributes updated.
    pub updated: Vec<String>,
    /// Expanded names not updated, with the reason.
    pub not_updated: Vec<(String, String)>,
}

/// Which batch operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOp {
    /// Create; existing ids fail.
    Create,
    /// Create or replace/update.
    Upsert(UpsertMode),
    /// Update attributes of existing entities (`noOverwrite` keeps existing ones).
    Update {
        /// Keep existing attributes.
        no_overwrite: bool,
    },
    /// Merge into existing entities.
    Merge,
}

/// How upsert treats an existing entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertMode {
    /// Replace the whole entity (default).
    Replace,
    /// Append/overwrite attributes, keep the others.
    Update,
}

/// One failed item of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchError {
    /// The entity id (or a placeholder when the item had none).
    pub entity_id: String,
    /// Why it failed.
    pub error: NgsiError,
}

/// The result of a batch operation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchResult {
    /// Ids that succeeded.
    pub success: Vec<String>,
    /// Ids that were newly created (subset of `success`, for upsert).
    pub created: Vec<String>,
    /// Failures.
    pub errors: Vec<BatchError>,
}

fn not_found(id: &str) -> NgsiError {
    NgsiError::not_found(format!("entity '{id}' does not exist"))
}

/// Whether an instance is the NGSI-LD Null of its kind (clause 4.5.7): the null string as
/// value, or a language map `{"@none": null}`, or a one-item list holding the null.
pub(crate) fn is_ngsi_null(attr: &Attribute) -> bool {
    let null = |v: &serde_json::Value| v.as_str() == Some(NGSI_LD_NULL);
    match &attr.value {
        serde_json::Value::Object(m) => m.len() == 1 && m.get("@none").is_some_and(null),
        serde_json::Value::Array(items) => items.len() == 1 && null(&items[0]),
        v => null(v),
    }
}

fn keep_created(new: &mut Attribute, old: Option<&Attribute>, now: i64) {
    new.created_at = old.map_or(now, |o| o.created_at);
    new.modified_at = now;
    for (name, sub) in new.sub.iter_mut() {
        keep_created(sub, old.and_then(|o| o.sub.get(name)), now);
    }
}

/// RFC 7396 merge of `patch` into `target`, the NGSI-LD null standing for JSON null.
fn merge_json(target: &Value, patch: &Value) -> Value {
    let (Value::Object(t), Value::Object(p)) = (target, patch) else { return patch.clone() };
    let mut out = t.clone();
    for (k, v) in p {
        if v.as_str() == Some(NGSI_LD_NULL) {
            out.remove(k);
        } else {
            let merged = match out.get(k) {
                Some(old) if old.is_object() && v.is_object() => merge_json(old, v),
                _ => v.clone(),
            };
            out.insert(k.clone(), merged);
        }
    }
    Value::Object(out)
}

/// Merges `patch` into `old` (merge-patch semantics): members given replace, sub-attributes
/// merge recursively, NGSI-LD null sub-attributes are removed.
fn merge_attr(old: &Attribute, patch: &Attribute, now: i64) -> Attribute {
    let mut out = old.clone();
    out.kind = patch.kind;
    out.value = match (&old.value, &patch.value) {
        // Clause 5.5.12: a merge goes into a compound Property value as RFC 7396 does.
        (Value::Object(_), Value::Object(_))
            if old.kind == AttrKind::Property && patch.kind == AttrKind::Property =>
        {
            merge_json(&old.value, &patch.value)
        }
        _ => patch.value.clone(),
    };
    if patch.observed_at.is_some() {
        out.observed_at = patch.observed_at;
    }
    if patch.unit_code.is_some() {
        out.unit_code.clone_from(&patch.unit_code);
    }
    if patch.object_type.is_some() {
        out.object_type.clone_from(&patch.object_type);
    }
    if patch.expires_at.is_some() {
        out.expires_at = patch.expires_at;
    }
    for (k, v) in &patch.extra {
        out.extra.insert(k.clone(), v.clone());
    }
    for (name, sub) in &patch.sub {
        if is_ngsi_null(sub) {
            out.sub.remove(name);
            continue;
        }
        let merged = match old.sub.get(name) {
            Some(o) => merge_attr(o, sub, now),
            None => {
                let mut s = sub.clone();
                keep_created(&mut s, None, now);
                s
            }
        };
        out.sub.insert(name.clone(), merged);
    }
    out.modified_at = now;
    out
}

/// Applies a fragment's attributes to `entity`. `only_existing`: update, not append;
/// `overwrite`: replace existing instances; `merge`: merge-patch existing ones.
fn apply_attrs(
    entity: &mut Entity,
    attrs: &BTreeMap<String, Vec<Attribute>>,
    mode: AttrMode,
    now: i64,
    change: &mut Change,
) -> UpdateResult {
    let mut result = UpdateResult::default();
    for (name, instances) in attrs {
        for inst in instances {
            let existing = entity.instance(name, inst.dataset_id.as_deref()).cloned();
            if is_ngsi_null(inst) && mode != AttrMode::Append {
                if existing.is_some() {
                    remove_instance(entity, name, inst.dataset_id.as_deref());
                    change.deleted.push((name.clone(), inst.dataset_id.clone(), false));
                    result.updated.push(name.clone());
                } else if mode == AttrMode::Update {
                    result.not_updated.push((name.clone(), "attribute does not exist".into()));
                }
                continue;
            }
            let new = match (&existing, mode) {
                (None, AttrMode::Update) => {
                    result.not_updated.push((name.clone(), "attribute does not exist".into()));
                    continue;
                }
                (Some(_), AttrMode::NoOverwrite) => {
                    result
                        .not_updated
                        .push((name.clone(), "attribute exists and noOverwrite was asked".into()));
                    continue;
                }
                (Some(old), AttrMode::Merge) => merge_attr(old, inst, now),
                (old, _) => {
                    let mut n = inst.clone();
                    keep_created(&mut n, old.as_ref(), now);
                    n
                }
            };
            change.attrs.push((name.clone(), new.clone()));
            entity.put_instance(name, new);
            if !result.updated.contains(name) {
                result.updated.push(name.clone());
            }
        }
    }
    result
}

/// The expanded name of the `scope` member, as reported in an update result.
const SCOPE: &str = "https://uri.etsi.org/ngsi-ld/scope";

/// Applies a fragment's `scope` (clause 4.18): append and merge replace it, noOverwrite adds
/// the scopes not yet present, update replaces it only when the entity already has one
/// (otherwise it is reported as not updated). Returns whether the entity changed.
fn apply_scope(
    entity: &mut Entity,
    scope: &[String],
    mode: AttrMode,
    result: &mut UpdateResult,
) -> bool {
    match mode {
        AttrMode::Append | AttrMode::Merge => {
            entity.scope = scope.to_vec();
        }
        AttrMode::NoOverwrite => {
            let before = entity.scope.len();
            for s in scope {
                if !entity.scope.contains(s) {
                    entity.scope.push(s.clone());
                }
            }
            if entity.scope.len() == before {
                return false;
            }
        }
        AttrMode::Update => {
            if entity.scope.is_empty() {
                result.not_updated.push((SCOPE.into(), "the entity has no scope".into()));
                return false;
            }
            entity.scope = scope.to_vec();
        }
    }
    result.updated.push(SCOPE.into());
    true
}

fn remove_instance(entity: &mut Entity, name: &str, dataset_id: Option<&str>) {
    if let Some(list) = entity.attrs.get_mut(name) {
        list.retain(|a| a.dataset_id.as_deref() != dataset_id);
        if list.is_empty() {
            entity.attrs.remove(name);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AttrMode {
    Append,
    NoOverwrite,
    Update,
    Merge,
}

fn full_change(entity: &Entity) -> Change {
    let attrs = entity
        .attrs
        .iter()
        .flat_map(|(k, v)| v.iter().map(move |a| (k.clone(), a.clone())))
        .collect();
    Change { attrs, ..Change::default() }
}

fn stamp_new(entity: &mut Entity, now: i64) {
    entity.created_at = now;
    entity.modified_at = now;
    for list in entity.attrs.values_mut() {
        for a in list {
            a.stamp(now, now);
        }
    }
}

/// Creates `entity` in the state (fails if it exists).
fn create_in(state: &mut TenantState, mut entity: Entity, tx: &mut Tx<'_>) -> NgsiResult<()> {
    settle(state, &entity.id, tx);
    if state.contains(&entity.id) {
        return Err(NgsiError::exists(format!("entity '{}' already exists", entity.id)));
    }
    stamp_new(&mut entity, tx.now);
    let change = full_change(&entity);
    state.put(entity, change, None, tx);
    Ok(())
}

/// Replaces `entity` wholesale, keeping `createdAt` (fails if it does not exist).
fn replace_in(state: &mut TenantState, mut entity: Entity, tx: &mut Tx<'_>) -> NgsiResult<()> {
    settle(state, &entity.id, tx);
    let old = state.get(&entity.id, tx.terms).ok_or_else(|| not_found(&entity.id))?;
    stamp_new(&mut entity, tx.now);
    entity.created_at = old.created_at;
    let mut change = full_change(&entity);
    for (name, list) in &old.attrs {
        for a in list {
            if entity.instance(name, a.dataset_id.as_deref()).is_none() {
                change.deleted.push((name.clone(), a.dataset_id.clone(), false));
            }
        }
    }
    state.put(entity, change, Some(old), tx);
    Ok(())
}

fn modify_in(
    state: &mut TenantState,
    id: &str,
    fragment: &Fragment,
    mode: AttrMode,
    tx: &mut Tx<'_>,
) -> NgsiResult<UpdateResult> {
    settle(state, id, tx);
    let old = state.get(id, tx.terms).ok_or_else(|| not_found(id))?;
    let mut entity = old.clone();
    let mut change = Change::default();
    let mut result = apply_attrs(&mut entity, &fragment.attrs, mode, tx.now, &mut change);
    let mut changed_core = false;
    if let Some(types) = &fragment.types {
        for t in types {
            if !entity.types.contains(t) {
                entity.types.push(t.clone());
                changed_core = true;
            }
        }
    }
    if let Some(scope) = &fragment.scope {
        changed_core |= apply_scope(&mut entity, scope, mode, &mut result);
    }
    if let Some(expires_at) = fragment.expires_at
        && entity.expires_at != expires_at
    {
        entity.expires_at = expires_at;
        changed_core = true;
    }
    if !change.attrs.is_empty() || !change.deleted.is_empty() || changed_core {
        entity.modified_at = tx.now;
        state.put(entity, change, Some(old), tx);
    }
    Ok(result)
}

impl Broker {
    /// Creates an entity (`AlreadyExists` if the id is taken). Creates the tenant if needed.
    pub async fn create_entity(&self, tenant: &str, entity: Entity) -> NgsiResult<()> {
        self.write(tenant, true, |s, tx| create_in(s, entity, tx)).await
    }

    /// Replaces an existing entity (`ResourceNotFound` if absent).
    pub async fn replace_entity(&self, tenant: &str, entity: Entity) -> NgsiResult<()> {
        self.write(tenant, false, |s, tx| replace_in(s, entity, tx)).await
    }

    /// Creates or replaces an entity; returns whether it was created.
    pub async fn upsert_entity(&self, tenant: &str, entity: Entity) -> NgsiResult<bool> {
        self.write(tenant, true, |s, tx| {
            settle(s, &entity.id, tx);
            if s.contains(&entity.id) {
                replace_in(s, entity, tx).map(|()| false)
            } else {
                create_in(s, entity, tx).map(|()| true)
            }
        })
        .await
    }

    /// Deletes an entity.
    pub async fn delete_entity(&self, tenant: &str, id: &str) -> NgsiResult<()> {
        self.write(tenant, false, |s, tx| {
            settle(s, id, tx);
            s.remove(id, tx).map(|_| ()).ok_or_else(|| not_found(id))
        })
        .await
    }

    /// The entity `id`.
    pub fn retrieve_entity(&self, tenant: &str, id: &str) -> NgsiResult<Entity> {
        self.read(tenant, |s, terms| s.get(id, terms))?.ok_or_else(|| not_found(id))
    }

    /// The version stamp of entity `id`: it changes whenever the entity is written and is
    /// never reused, so whatever was derived from the entity (a rendered response) is still
    /// valid while the stamp is the same. Cheaper than [`Broker::retrieve_entity`].
    pub fn entity_stamp(&self, tenant: &str, id: &str) -> NgsiResult<u64> {
        self.read(tenant, |s, _| s.stamp(id))?.ok_or_else(|| not_found(id))
    }

    /// The entity `id` with its version stamp, read together.
    pub fn retrieve_stamped(&self, tenant: &str, id: &str) -> NgsiResult<(Entity, u64)> {
        self.read(tenant, |s, terms| Some((s.get(id, terms)?, s.stamp(id)?)))?
            .ok_or_else(|| not_found(id))
    }

    /// Appends attributes (POST /entities/{id}/attrs); `no_overwrite` keeps existing ones.
    pub async fn append_attrs(
        &self,
        tenant: &str,
        id: &str,
        fragment: Fragment,
        no_overwrite: bool,
    ) -> NgsiResult<UpdateResult> {
        let mode = if no_overwrite { AttrMode::NoOverwrite } else { AttrMode::Append };
        self.write(tenant, false, |s, tx| modify_in(s, id, &fragment, mode, tx)).await
    }

    /// Updates existing attributes (PATCH /entities/{id}/attrs).
    pub async fn update_attrs(
        &self,
        tenant: &str,
        id: &str,
        fragment: Fragment,
    ) -> NgsiResult<UpdateResult> {
        self.write(tenant, false, |s, tx| modify_in(s, id, &fragment, AttrMode::Update, tx)).await
    }

    /// Merges a fragment into an entity (PATCH /entities/{id}).
    pub async fn merge_entity(&self, tenant: &str, id: &str, fragment: Fragment) -> NgsiResult<()> {
        self.write(tenant, false, |s, tx| {
            modify_in(s, id, &fragment, AttrMode::Merge, tx).map(|_| ())
        })
        .await
    }

    /// Partially updates one attribute (PATCH /entities/{id}/attrs/{attr}). With
    /// `explicit_kind` (the fragment named its `type`), a kind other than the target
    /// instance's is `BadRequestData` (clause 5.6.4.4).
    pub async fn patch_attr(
        &self,
        tenant: &str,
        id: &str,
        name: &str,
        patch: Attribute,
        explicit_kind: bool,
    ) -> NgsiResult<()> {
        self.write(tenant, false, |s, tx| {
            let entity = s.get(id, tx.terms).ok_or_else(|| not_found(id))?;
            let Some(target) = entity.instance(name, patch.dataset_id.as_deref()) else {
                return Err(NgsiError::not_found(format!(
                    "entity '{id}' has no attribute '{name}'"
                )));
            };
            if explicit_kind && target.kind != patch.kind {
                return Err(NgsiError::bad_data(format!(
                    "attribute '{name}' is a {}, the fragment gives type {}",
                    target.kind.name(),
                    patch.kind.name()
                )));
            }
            let fragment = Fragment {
                attrs: BTreeMap::from([(name.to_string(), vec![patch])]),
                ..Fragment::default()
            };
            modify_in(s, id, &fragment, AttrMode::Merge, tx).map(|_| ())
        })
        .await
    }

    /// Replaces one attribute (PUT /entities/{id}/attrs/{attr}).
    pub async fn replace_attr(
        &self,
        tenant: &str,
        id: &str,
        name: &str,
        attr: Attribute,
    ) -> NgsiResult<()> {
        self.write(tenant, false, |s, tx| {
            let entity = s.get(id, tx.terms).ok_or_else(|| not_found(id))?;
            if entity.instance(name, attr.dataset_id.as_deref()).is_none() {
                return Err(NgsiError::not_found(format!(
                    "entity '{id}' has no attribute '{name}'"
                )));
            }
            let fragment = Fragment {
                attrs: BTreeMap::from([(name.to_string(), vec![attr])]),
                ..Fragment::default()
            };
            modify_in(s, id, &fragment, AttrMode::Append, tx).map(|_| ())
        })
        .await
    }

    /// Removes the entity's `scope` (DELETE /entities/{id}/attrs/scope, clause 5.6.5.4);
    /// `ResourceNotFound` when it has none.
    pub async fn delete_scope(&self, tenant: &str, id: &str) -> NgsiResult<()> {
        self.write(tenant, false, |s, tx| {
            settle(s, id, tx);
            let old = s.get(id, tx.terms).ok_or_else(|| not_found(id))?;
            if old.scope.is_empty() {
                return Err(NgsiError::not_found(format!("entity '{id}' has no scope")));
            }
            let mut entity = old.clone();
            entity.scope.clear();
            entity.modified_at = tx.now;
            s.put(entity, Change::default(), Some(old), tx);
            Ok(())
        })
        .await
    }

    /// Deletes an attribute's default instance, one datasetId, or all instances.
    pub async fn delete_attr(
        &self,
        tenant: &str,
        id: &str,
        name: &str,
        dataset_id: Option<&str>,
        all: bool,
    ) -> NgsiResult<()> {
        self.write(tenant, false, |s, tx| {
            settle(s, id, tx);
            let old = s.get(id, tx.terms).ok_or_else(|| not_found(id))?;
            let mut entity = old.clone();
            let missing = || {
                NgsiError::not_found(format!(
                    "entity '{id}' has no attribute '{name}' with that datasetId"
                ))
            };
            if all {
                entity.attrs.remove(name).ok_or_else(missing)?;
            } else {
                entity.instance(name, dataset_id).ok_or_else(missing)?;
                remove_instance(&mut entity, name, dataset_id);
            }
            entity.modified_at = tx.now;
            let change = Change {
                deleted: vec![(name.to_string(), dataset_id.map(str::to_string), all)],
                ..Change::default()
            };
            s.put(entity, change, Some(old), tx);
            Ok(())
        })
        .await
    }

    /// Runs a batch create/upsert/update/merge. Items that failed to parse are passed as
    /// errors and reported in the result. Creates the tenant for create and upsert.
    pub async fn batch(
        &self,
        tenant: &str,
        op: BatchOp,
        items: Vec<Result<Fragment, BatchError>>,
    ) -> NgsiResult<BatchResult> {
        let create = matches!(op, BatchOp::Create | BatchOp::Upsert(_));
        if !create && !self.tenant_exists(tenant) {
            return Err(NgsiError::new(
                citybrain_ngsi::ErrorKind::NonexistentTenant,
                format!("tenant '{tenant}' does not exist"),
            ));
        }
        self.write(tenant, create, |s, tx| {
            let mut result = BatchResult::default();
            for item in items {
                let fragment = match item {
                    Ok(f) => f,
                    Err(e) => {
                        result.errors.push(e);
                        continue;
                    }
                };
                let id = fragment.id.clone().unwrap_or_default();
                match batch_item(s, op, fragment, tx) {
                    Ok(created) => {
                        if created {
                            result.created.push(id.clone());
                        }
                        result.success.push(id);
                    }
                    Err(error) => result.errors.push(BatchError { entity_id: id, error }),
                }
            }
            Ok(result)
        })
        .await
    }

    /// Deletes several entities.
    pub async fn batch_delete(&self, tenant: &str, ids: Vec<String>) -> NgsiResult<BatchResult> {
        self.write(tenant, false, |s, tx| {
            let mut result = BatchResult::default();
            for id in ids {
                settle(s, &id, tx);
                match s.remove(&id, tx) {
                    Some(_) => result.success.push(id),
                    None => {
                        let error = not_found(&id);
                        result.errors.push(BatchError { entity_id: id, error });
                    }
                }
            }
            Ok(result)
        })
        .await
    }

    /// Deletes every entity matching `query` (purge); returns how many.
    pub async fn purge(&self, tenant: &str, query: crate::EntityQuery) -> NgsiResult<usize> {
        let ids: Vec<String> = self.query_ids(tenant, &query)?;
        self.write(tenant, false, |s, tx| {
            Ok(ids.iter().filter(|id| s.remove(id, tx).is_some()).count())
        })
        .await
    }
}

/// The batch error of an entity whose existing attributes a `noOverwrite` update kept: the
/// suite (005_02_01/03) expects such a batch to answer 207, and the error says what was kept
/// and that the rest of the entity's attributes were applied, so a client can tell.
fn kept_attributes(id: &str, r: &UpdateResult) -> NgsiError {
    let kept: Vec<&str> = r.not_updated.iter().map(|(name, _)| name.as_str()).collect();
    let applied = if r.updated.is_empty() {
        "nothing else was changed".to_string()
    } else {
        format!("the other attributes ({}) were applied", r.updated.join(", "))
    };
    NgsiError::exists(format!(
        "entity '{id}': noOverwrite kept the existing attributes {}; {applied}",
        kept.join(", ")
    ))
}

fn batch_item(
    s: &mut TenantState,
    op: BatchOp,
    fragment: Fragment,
    tx: &mut Tx<'_>,
) -> NgsiResult<bool> {
    let id = fragment
        .id
        .clone()
        .ok_or_else(|| NgsiError::bad_data("an entity in the batch has no 'id'"))?;
    settle(s, &id, tx);
    let as_entity = |f: Fragment| -> NgsiResult<Entity> {
        let types =
            f.types.ok_or_else(|| NgsiError::bad_data(format!("entity '{id}' has no 'type'")))?;
        Ok(Entity {
            id: id.clone(),
            types,
            scope: f.scope.unwrap_or_default(),
            created_at: 0,
            modified_at: 0,
            expires_at: f.expires_at.flatten(),
            attrs: f.attrs,
        })
    };
    match op {
        BatchOp::Create => create_in(s, as_entity(fragment)?, tx).map(|()| true),
        BatchOp::Upsert(mode) => {
            if !s.contains(&id) {
                return create_in(s, as_entity(fragment)?, tx).map(|()| true);
            }
            match mode {
                UpsertMode::Replace => replace_in(s, as_entity(fragment)?, tx).map(|()| false),
                UpsertMode::Update => {
                    modify_in(s, &id, &fragment, AttrMode::Append, tx).map(|_| false)
                }
            }
        }
        BatchOp::Update { no_overwrite } => {
            let mode = if no_overwrite { AttrMode::NoOverwrite } else { AttrMode::Append };
            let r = modify_in(s, &id, &fragment, mode, tx)?;
            if no_overwrite && !r.not_updated.is_empty() {
                return Err(kept_attributes(&id, &r));
            }
            if !r.not_updated.is_empty() && r.updated.is_empty() {
                return Err(NgsiError::bad_data(r.not_updated[0].1.clone()));
            }
            Ok(false)
        }
        BatchOp::Merge => modify_in(s, &id, &fragment, AttrMode::Merge, tx).map(|_| false),
    }
}
