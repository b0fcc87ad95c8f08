//! One tenant's in-memory state: encoded entities in a slab, the id, type and spatial
//! indexes, temporal headers, subscriptions and context source registrations. Every mutation goes through [`Tx`], which
//! records the store operations and the change events of the same write.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use citybrain_ngsi::geo::{LOCATION, parse_geometry};
use citybrain_ngsi::model::{AttrKind, Attribute, Entity};
use citybrain_ngsi::temporal::SCOPE_IRI;
use citybrain_ngsi::time::now_micros;
use citybrain_store::WriteOp;
use geo::BoundingRect;
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};

use crate::codec::{
    Change, Terms, decode_entity, decode_entity_with, encode_change, encode_entity, peek_header,
};
use crate::subscription::SubState;
use crate::temporal::TemporalHeader;

/// Source of version stamps; process-wide so that a stamp never repeats, even across
/// tenants that are dropped and created again.
static NEXT_STAMP: AtomicU64 = AtomicU64::new(1);

/// A spatial index entry: the bounding box of an entity's `location` and its slot.
pub(crate) type GeoEntry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// What happened to one entity in a write, for subscriptions.
#[derive(Debug, Clone)]
pub(crate) struct EntityEvent {
    pub(crate) before: Option<Entity>,
    pub(crate) after: Option<Entity>,
    /// Expanded names of the attributes that changed.
    pub(crate) changed: Vec<String>,
}

/// One tenant.
#[derive(Default)]
pub(crate) struct TenantState {
    slots: Vec<Option<Box<[u8]>>>,
    /// Per slot, the stamp of the version it holds (see [`TenantState::stamp`]).
    stamps: Vec<u64>,
    free: Vec<u32>,
    by_id: HashMap<Box<str>, u32>,
    pub(crate) by_type: HashMap<u32, BTreeSet<u32>>,
    pub(crate) geo: RTree<GeoEntry>,
    geo_of: HashMap<u32, Rectangle<[f64; 2]>>,
    /// Transient entities: per slot, the earliest `expiresAt` in its entity, and the same
    /// pairs ordered by time for the expiry sweep.
    deadline_of: HashMap<u32, i64>,
    deadlines: BTreeSet<(i64, u32)>,
    /// Temporal headers, encoded (types interned) to keep them small.
    pub(crate) temporal: HashMap<Box<str>, Box<[u8]>>,
    pub(crate) subs: BTreeMap<String, SubState>,
    /// Context source registrations, by id.
    pub(crate) registrations: BTreeMap<String, citybrain_ngsi::registration::Registration>,
    /// Subscriptions to context source registrations, by id.
    pub(crate) csource_subs: BTreeMap<String, crate::csource_subscription::CsourceSubState>,
}

/// The writes and events of one operation on one tenant.
pub(crate) struct Tx<'a> {
    pub(crate) tenant: &'a str,
    pub(crate) terms: &'a Terms,
    pub(crate) now: i64,
    pub(crate) ops: Vec<WriteOp>,
    pub(crate) events: Vec<EntityEvent>,
    pub(crate) track_events: bool,
}

impl TenantState {
    /// Number of stored entities.
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// The decoded entity `id`.
    pub(crate) fn get(&self, id: &str, terms: &Terms) -> Option<Entity> {
        let slot = *self.by_id.get(id)?;
        self.decode_slot(slot, terms)
    }

    /// The version stamp of entity `id`: it changes with every write to the entity and is
    /// never reused, so a rendering of the entity stays valid while its stamp is unchanged.
    pub(crate) fn stamp(&self, id: &str) -> Option<u64> {
        let slot = *self.by_id.get(id)?;
        if !self.deadline_of.is_empty() && self.is_past_deadline(slot, now_micros()) {
            // What is read now differs from what was stored and changes again as further
            // members expire: a fresh stamp keeps renderings of it from being reused.
            return Some(NEXT_STAMP.fetch_add(1, Ordering::Relaxed));
        }
        self.stamps.get(slot as usize).copied()
    }

    /// Whether `id` exists.
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    pub(crate) fn decode_slot(&self, slot: u32, terms: &Terms) -> Option<Entity> {
        self.decode_slot_with(slot, terms, None)
    }

    /// The entity in `slot` with only the attributes in `wanted` (term ids; all if `None`).
    pub(crate) fn decode_slot_with(
        &self,
        slot: u32,
        terms: &Terms,
        wanted: Option<&[u32]>,
    ) -> Option<Entity> {
        let bytes = self.slots.get(slot as usize)?.as_ref()?;
        let mut entity = decode_entity_with(bytes, terms, wanted)?;
        // Until the sweep deletes them, expired members are hidden from every reader (the
        // clock is read only when some entity of the tenant is transient).
        if !self.deadline_of.is_empty() {
            let now = now_micros();
            if self.is_past_deadline(slot, now) {
                if entity.is_expired(now) {
                    return None;
                }
                entity.drop_expired(now);
            }
        }
        Some(entity)
    }

    /// The entity `id` as stored, expired members included (for the expiry sweep).
    pub(crate) fn get_stored(&self, id: &str, terms: &Terms) -> Option<Entity> {
        let bytes = self.slots.get(*self.by_id.get(id)? as usize)?.as_ref()?;
        decode_entity_with(bytes, terms, None)
    }

    /// Whether something in entity `id` has expired at `now` and awaits deletion.
    pub(crate) fn is_due(&self, id: &str, now: i64) -> bool {
        !self.deadline_of.is_empty()
            && self.by_id.get(id).is_some_and(|slot| self.is_past_deadline(*slot, now))
    }

    fn is_past_deadline(&self, slot: u32, now: i64) -> bool {
        self.deadline_of.get(&slot).is_some_and(|d| *d <= now)
    }

    /// Ids of the entities in which something has expired at `now`.
    pub(crate) fn due_for_expiry(&self, now: i64) -> Vec<String> {
        self.deadlines
            .range(..=(now, u32::MAX))
            .filter_map(|(_, slot)| self.slot_bytes(*slot).and_then(peek_header))
            .map(|(id, _)| id)
            .collect()
    }

    /// Records when something in the entity of `slot` expires next (`None`: never).
    fn set_deadline(&mut self, slot: u32, deadline: Option<i64>) {
        if let Some(old) = self.deadline_of.remove(&slot) {
            self.deadlines.remove(&(old, slot));
        }
        if let Some(d) = deadline {
            self.deadline_of.insert(slot, d);
            self.deadlines.insert((d, slot));
        }
    }

    /// The encoded bytes of `slot`.
    pub(crate) fn slot_bytes(&self, slot: u32) -> Option<&[u8]> {
        self.slots.get(slot as usize)?.as_deref()
    }

    /// Slots in creation order (stable for pagination).
    pub(crate) fn all_slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots.iter().enumerate().filter(|(_, s)| s.is_some()).map(|(i, _)| i as u32)
    }

    /// Slot of entity `id`.
    pub(crate) fn slot_of(&self, id: &str) -> Option<u32> {
        self.by_id.get(id).copied()
    }

    /// Total encoded bytes (for memory reporting).
    pub(crate) fn encoded_bytes(&self) -> usize {
        self.slots.iter().flatten().map(|b| b.len()).sum()
    }

    /// Loads an encoded entity at start-up.
    pub(crate) fn load(&mut self, bytes: Vec<u8>, terms: &Terms) {
        let Some((id, types)) = peek_header(&bytes) else {
            tracing::warn!("skipping an undecodable stored entity");
            return;
        };
        let entity = decode_entity(&bytes, terms);
        let location = entity.as_ref().and_then(location_rect);
        let deadline = entity.as_ref().and_then(Entity::earliest_expiry);
        let slot = self.insert_slot(id, types, bytes.into_boxed_slice(), location);
        self.set_deadline(slot, deadline);
    }

    fn insert_slot(
        &mut self,
        id: String,
        types: Vec<u32>,
        bytes: Box<[u8]>,
        rect: Option<Rectangle<[f64; 2]>>,
    ) -> u32 {
        let (slot, old_types, old_rect) = match self.by_id.get(id.as_str()) {
            Some(slot) => {
                let slot = *slot;
                let old_types =
                    self.slot_bytes(slot).and_then(peek_header).map(|(_, t)| t).unwrap_or_default();
                (slot, old_types, self.geo_of.get(&slot).copied())
            }
            None => {
                let slot = match self.free.pop() {
                    Some(s) => s,
                    None => {
                        self.slots.push(None);
                        (self.slots.len() - 1) as u32
                    }
                };
                self.by_id.insert(id.into_boxed_str(), slot);
                (slot, Vec::new(), None)
            }
        };
        self.slots[slot as usize] = Some(bytes);
        if self.stamps.len() <= slot as usize {
            self.stamps.resize(slot as usize + 1, 0);
        }
        self.stamps[slot as usize] = NEXT_STAMP.fetch_add(1, Ordering::Relaxed);
        // Most updates keep an entity's types and place (sensors do not move): leave the
        // indexes alone then; removing from the R-tree is the dearest part of a replace.
        if old_types != types {
            self.unindex_types(slot, &old_types);
            for t in types {
                self.by_type.entry(t).or_default().insert(slot);
            }
        }
        if old_rect != rect {
            self.unindex_geo(slot);
            if let Some(r) = rect {
                self.geo.insert(GeomWithData::new(r, slot));
                self.geo_of.insert(slot, r);
            }
        }
        slot
    }

    fn unindex_types(&mut self, slot: u32, types: &[u32]) {
        for t in types {
            if let Some(set) = self.by_type.get_mut(t) {
                set.remove(&slot);
            }
        }
    }

    fn unindex_geo(&mut self, slot: u32) {
        if let Some(r) = self.geo_of.remove(&slot) {
            self.geo.remove(&GeomWithData::new(r, slot));
        }
    }

    fn unindex(&mut self, slot: u32) {
        let types = self.slot_bytes(slot).and_then(peek_header).map(|(_, t)| t).unwrap_or_default();
        self.unindex_types(slot, &types);
        self.unindex_geo(slot);
        self.set_deadline(slot, None);
    }

    /// Stores `entity` (insert or replace) and records the history `change`.
    pub(crate) fn put(
        &mut self,
        entity: Entity,
        mut change: Change,
        before: Option<Entity>,
        tx: &mut Tx<'_>,
    ) {
        record_scope_change(
            before.as_ref().map_or(&[], |b| b.scope.as_slice()),
            &entity,
            &mut change,
        );
        let bytes = encode_entity(&entity, tx.terms, &mut tx.ops);
        let types: Vec<u32> =
            entity.types.iter().map(|t| tx.terms.intern(t, &mut tx.ops)).collect();
        tx.ops.push(WriteOp::PutEntity {
            tenant: tx.tenant.to_string(),
            id: entity.id.clone(),
            data: bytes.clone(),
        });
        self.record_history(&entity.id, &change, tx);
        self.ensure_temporal(&entity, tx);
        let slot = self.insert_slot(
            entity.id.clone(),
            types,
            bytes.into_boxed_slice(),
            location_rect(&entity),
        );
        self.set_deadline(slot, entity.earliest_expiry());
        if tx.track_events {
            let mut changed: Vec<String> = change.attrs.iter().map(|(k, _)| k.clone()).collect();
            changed.extend(change.deleted.iter().map(|(k, _, _)| k.clone()));
            changed.dedup();
            tx.events.push(EntityEvent { before, after: Some(entity), changed });
        }
    }

    /// Removes entity `id`; returns it.
    pub(crate) fn remove(&mut self, id: &str, tx: &mut Tx<'_>) -> Option<Entity> {
        // As stored: an entity removed because it expired is still what subscribers saw.
        let before = self.get_stored(id, tx.terms);
        let slot = *self.by_id.get(id)?;
        self.unindex(slot);
        self.slots[slot as usize] = None;
        self.free.push(slot);
        self.by_id.remove(id);
        tx.ops.push(WriteOp::DeleteEntity { tenant: tx.tenant.to_string(), id: id.to_string() });
        let change = Change { entity_deleted: true, ..Change::default() };
        self.record_history(id, &change, tx);
        if tx.track_events {
            let changed =
                before.as_ref().map(|e| e.attrs.keys().cloned().collect()).unwrap_or_default();
            tx.events.push(EntityEvent { before: before.clone(), after: None, changed });
        }
        before
    }

    fn record_history(&mut self, id: &str, change: &Change, tx: &mut Tx<'_>) {
        let data = encode_change(change, tx.terms, &mut tx.ops);
        tx.ops.push(WriteOp::AppendHistory {
            tenant: tx.tenant.to_string(),
            entity_id: id.to_string(),
            time: tx.now,
            data,
        });
    }

    fn ensure_temporal(&mut self, entity: &Entity, tx: &mut Tx<'_>) {
        let fresh = TemporalHeader {
            types: entity.types.clone(),
            scope: entity.scope.clone(),
            created_at: entity.created_at,
        };
        match self
            .temporal
            .get(entity.id.as_str())
            .and_then(|b| TemporalHeader::decode(b, tx.terms))
        {
            Some(h) if h.types == fresh.types && h.scope == fresh.scope => {}
            Some(h) => {
                let mut merged = fresh.clone();
                merged.created_at = h.created_at;
                self.put_temporal(&entity.id, merged, tx);
            }
            None => self.put_temporal(&entity.id, fresh, tx),
        }
    }

    pub(crate) fn put_temporal(&mut self, id: &str, header: TemporalHeader, tx: &mut Tx<'_>) {
        let data = header.encode(tx.terms, &mut tx.ops);
        self.temporal.insert(id.into(), data.clone().into_boxed_slice());
        tx.ops.push(WriteOp::PutTemporal {
            tenant: tx.tenant.to_string(),
            id: id.to_string(),
            data,
        });
    }
}

/// Clause 4.5.6: the temporal evolution of the scope is that of a Property whose instances
/// carry `observedAt` as a copy of `modifiedAt`; removing the scope leaves a deletion record.
fn record_scope_change(before: &[String], entity: &Entity, change: &mut Change) {
    // A temporal write that brings its own scope instances tells the history itself.
    let given = change.attrs.iter().any(|(name, _)| name == SCOPE_IRI);
    if given || before == entity.scope.as_slice() {
        return;
    }
    if entity.scope.is_empty() {
        change.deleted.push((SCOPE_IRI.to_string(), None, false));
        return;
    }
    let mut attr = Attribute::new(AttrKind::Property, serde_json::json!(entity.scope));
    attr.stamp(entity.modified_at, entity.modified_at);
    attr.observed_at = Some(entity.modified_at);
    change.attrs.push((SCOPE_IRI.to_string(), attr));
}

/// The bounding box of an entity's default `location`, for the spatial index.
pub(crate) fn location_rect(entity: &Entity) -> Option<Rectangle<[f64; 2]>> {
    let attr = entity.attrs.get(LOCATION)?.first()?;
    if attr.kind != AttrKind::GeoProperty {
        return None;
    }
    let rect = parse_geometry(&attr.value).ok()?.bounding_rect()?;
    Some(Rectangle::from_corners([rect.min().x, rect.min().y], [rect.max().x, rect.max().y]))
}
