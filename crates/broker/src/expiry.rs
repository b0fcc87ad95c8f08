//! Transient entities (NGSI-LD v1.9): an entity, attribute instance or sub-attribute with an
//! `expiresAt` is deleted once that moment passes. Readers stop seeing it at once (the
//! tenant state hides expired members when decoding); this sweep then deletes it for good —
//! from memory and from the store — through the ordinary write path, so the history records
//! the deletion and subscribers are notified as for a client's delete.

use std::time::Duration;

use citybrain_ngsi::error::NgsiResult;
use citybrain_ngsi::time::now_micros;

use crate::Broker;
use crate::codec::Change;
use crate::tenant::{TenantState, Tx};

/// Deletes what has expired in entity `id` if anything has. Writes call this first, so that
/// they act on the entity readers see (an expired entity can be created again, not deleted
/// twice) and the expired members leave the history as deletions, not silently.
pub(crate) fn settle(state: &mut TenantState, id: &str, tx: &mut Tx<'_>) {
    if state.is_due(id, tx.now) {
        expire_in(state, id, tx);
    }
}

/// Deletes what has expired in entity `id`: the whole entity when it has itself expired,
/// otherwise its expired attribute instances and sub-attributes. Returns whether anything
/// was deleted.
fn expire_in(state: &mut TenantState, id: &str, tx: &mut Tx<'_>) -> bool {
    let Some(old) = state.get_stored(id, tx.terms) else { return false };
    if old.is_expired(tx.now) {
        return state.remove(id, tx).is_some();
    }
    let mut entity = old.clone();
    let (removed, subs_changed) = entity.drop_expired(tx.now);
    if removed.is_empty() && !subs_changed {
        return false;
    }
    let mut change = Change::default();
    for (name, dataset_id) in removed {
        change.deleted.push((name, dataset_id, false));
    }
    if subs_changed {
        // Instances that lost a sub-attribute are recorded as they are now.
        for (name, list) in &entity.attrs {
            for a in list {
                if old.instance(name, a.dataset_id.as_deref()) != Some(a) {
                    change.attrs.push((name.clone(), a.clone()));
                }
            }
        }
    }
    entity.modified_at = tx.now;
    state.put(entity, change, Some(old), tx);
    true
}

impl Broker {
    /// Deletes everything that has expired by now in every tenant; returns how many entities
    /// were deleted or changed.
    pub async fn sweep_expired(&self) -> NgsiResult<usize> {
        let mut swept = 0;
        for tenant in self.tenants() {
            let due = self.read(&tenant, |s, _| s.due_for_expiry(now_micros()))?;
            if due.is_empty() {
                continue;
            }
            swept += self
                .write(&tenant, false, |s, tx| {
                    Ok(due.iter().filter(|id| expire_in(s, id, tx)).count())
                })
                .await?;
        }
        Ok(swept)
    }

    /// Runs [`Broker::sweep_expired`] every `period` until the returned task is aborted.
    pub fn spawn_expiry_sweep(&self, period: Duration) -> tokio::task::JoinHandle<()> {
        let broker = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = broker.sweep_expired().await {
                    tracing::warn!("expiry sweep failed: {e}");
                }
            }
        })
    }
}
