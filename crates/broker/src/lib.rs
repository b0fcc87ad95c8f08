//! `citybrain-broker`: the city data hub's service layer — NGSI-LD entities, batch
//! operations, queries, subscriptions with notification scheduling, temporal history,
//! context source registrations and tenants — as an async Rust API with no HTTP in it.
//!
//! The HTTP server (`citybrain-server`) is one client of this API; the traffic twin and the
//! cockpit use it in-process. Entities live in memory (compactly encoded, with id, type and
//! spatial indexes) and every write is made durable in the [`Store`] before the call returns.
//!
//! Writes to one tenant are serialised by that tenant's lock and handed to the store in the
//! same order; the call then awaits the group commit. Readers never wait for the disk.

mod codec;
mod csource_subscription;
mod entities;
mod expiry;
mod info;
mod query;
mod registration;
mod subscription;
mod temporal;
mod tenant;

use std::collections::HashMap;
use std::sync::Arc;

use citybrain_ngsi::error::{ErrorKind, NgsiError, NgsiResult};
use citybrain_ngsi::time::now_micros;
use citybrain_store::{Loaded, Store, WriteOp};
use parking_lot::RwLock;

pub use entities::{BatchError, BatchOp, BatchResult, UpdateResult, UpsertMode};
pub use info::{AttributeInfo, TypeInfo};
pub use query::{EntityQuery, QueryPage};
pub use subscription::{
    BoxFuture, ContextResolver, Delivery, Notification, NotificationSink, NotifyStatus,
    SubscriptionView,
};

use codec::Terms;
use tenant::{TenantState, Tx};

/// The default tenant's name (requests without `NGSILD-Tenant`).
pub const DEFAULT_TENANT: &str = "";

pub(crate) struct Tenant {
    pub(crate) state: RwLock<TenantState>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) terms: Terms,
    tenants: RwLock<HashMap<String, Arc<Tenant>>>,
    pub(crate) started_at: i64,
    pub(crate) sink: std::sync::OnceLock<Arc<dyn subscription::NotificationSink>>,
    pub(crate) resolver: std::sync::OnceLock<Arc<dyn subscription::ContextResolver>>,
}

/// The hub's service layer. Cheap to clone; all clones share state.
#[derive(Clone)]
pub struct Broker {
    pub(crate) inner: Arc<Inner>,
}

impl Broker {
    /// Opens the broker over `store`, loading everything it holds.
    pub fn open(store: Arc<dyn Store>) -> NgsiResult<Broker> {
        let inner = Inner {
            store,
            terms: Terms::default(),
            tenants: RwLock::new(HashMap::new()),
            started_at: now_micros(),
            sink: std::sync::OnceLock::new(),
            resolver: std::sync::OnceLock::new(),
        };
        let broker = Broker { inner: Arc::new(inner) };
        broker.tenant_or_create(DEFAULT_TENANT);
        broker.load()?;
        Ok(broker)
    }

    fn load(&self) -> NgsiResult<()> {
        let inner = &self.inner;
        let mut subs = Vec::new();
        inner
            .store
            .load(&mut |item| match item {
                Loaded::Tenant(name) => {
                    self.tenant_or_create(&name);
                }
                Loaded::Term(id, iri) => inner.terms.load(id, iri),
                Loaded::Entity { tenant, data } => {
                    self.tenant_or_create(&tenant).state.write().load(data, &inner.terms);
                }
                Loaded::Temporal { tenant, id, data } => {
                    self.tenant_or_create(&tenant)
                        .state
                        .write()
                        .temporal
                        .insert(id.into(), data.into_boxed_slice());
                }
                Loaded::Subscription { tenant, data } => subs.push((tenant, data)),
                Loaded::Registration { tenant, data } => self.restore_registration(&tenant, &data),
                Loaded::CsourceSubscription { tenant, data } => {
                    self.restore_csource_subscription(&tenant, &data)
                }
            })
            .map_err(|e| NgsiError::new(ErrorKind::ServiceUnavailable, e.to_string()))?;
        for (tenant, data) in subs {
            self.restore_subscription(&tenant, &data);
        }
        Ok(())
    }

    pub(crate) fn tenant_or_create(&self, name: &str) -> Arc<Tenant> {
        if let Some(t) = self.inner.tenants.read().get(name) {
            return t.clone();
        }
        self.inner
            .tenants
            .write()
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(Tenant { state: RwLock::new(TenantState::default()) }))
            .clone()
    }

    /// The tenant `name`, or `NonexistentTenant`.
    pub(crate) fn tenant(&self, name: &str) -> NgsiResult<Arc<Tenant>> {
        self.inner.tenants.read().get(name).cloned().ok_or_else(|| {
            NgsiError::new(ErrorKind::NonexistentTenant, format!("tenant '{name}' does not exist"))
        })
    }

    /// Whether tenant `name` exists.
    pub fn tenant_exists(&self, name: &str) -> bool {
        self.inner.tenants.read().contains_key(name)
    }

    /// Names of all tenants.
    pub fn tenants(&self) -> Vec<String> {
        let mut names: Vec<String> = self.inner.tenants.read().keys().cloned().collect();
        names.sort();
        names
    }

    /// Runs a write on one tenant: `f` mutates the state through a [`Tx`]; the store ops it
    /// produced are submitted under the tenant lock (so disk order equals memory order) and
    /// the call returns after they are durable. `create` makes the tenant exist if needed.
    pub(crate) async fn write<R>(
        &self,
        tenant: &str,
        create: bool,
        f: impl FnOnce(&mut TenantState, &mut Tx<'_>) -> NgsiResult<R>,
    ) -> NgsiResult<R> {
        let mut new_tenant = false;
        let t = if create {
            if !self.tenant_exists(tenant) {
                new_tenant = true;
            }
            self.tenant_or_create(tenant)
        } else {
            self.tenant(tenant)?
        };
        let (result, events, done) = {
            let mut state = t.state.write();
            let track_events = self.has_listeners(&state);
            let mut tx = Tx {
                tenant,
                terms: &self.inner.terms,
                now: now_micros(),
                ops: Vec::new(),
                events: Vec::new(),
                track_events,
            };
            if new_tenant && !tenant.is_empty() {
                tx.ops.push(WriteOp::Tenant(tenant.to_string()));
            }
            let result = f(&mut state, &mut tx)?;
            if tx.ops.is_empty() {
                return Ok(result);
            }
            let (send, done) = tokio::sync::oneshot::channel();
            self.inner.store.submit(
                std::mem::take(&mut tx.ops),
                Box::new(move |r| {
                    let _ = send.send(r);
                }),
            );
            (result, tx.events, done)
        };
        match done.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(NgsiError::new(ErrorKind::ServiceUnavailable, e.to_string())),
            Err(_) => {
                return Err(NgsiError::new(ErrorKind::ServiceUnavailable, "the store stopped"));
            }
        }
        if !events.is_empty() {
            self.dispatch(tenant, events);
        }
        Ok(result)
    }

    /// Runs a read on one tenant.
    pub(crate) fn read<R>(
        &self,
        tenant: &str,
        f: impl FnOnce(&TenantState, &Terms) -> R,
    ) -> NgsiResult<R> {
        let t = self.tenant(tenant)?;
        let state = t.state.read();
        Ok(f(&state, &self.inner.terms))
    }

    /// Number of entities in `tenant` and their total encoded size in bytes.
    pub fn stats(&self, tenant: &str) -> NgsiResult<(usize, usize)> {
        self.read(tenant, |s, _| (s.len(), s.encoded_bytes()))
    }

    fn has_listeners(&self, state: &TenantState) -> bool {
        !state.subs.is_empty()
    }
}

impl Broker {
    /// When this broker started (microseconds since the epoch).
    pub fn started_at(&self) -> i64 {
        self.inner.started_at
    }
}
