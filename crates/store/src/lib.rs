//! `citybrain-store`: where the city data hub keeps its state, behind a narrow trait.
//!
//! The hub's service layer (`citybrain-broker`) holds entities in memory and encodes them
//! itself; the store sees opaque byte strings keyed by tenant and id, plus an append-only
//! attribute history, subscriptions, context source registrations and the interned vocabulary. Nothing of the SQL driver
//! crosses the [`Store`] trait, so a PostgreSQL backend can follow.
//!
//! Durability: a write batch's completion is called only after its transaction committed;
//! the SQLite backend runs in WAL mode with `synchronous=FULL`, so a completed write survives
//! `kill -9` and power loss. One writer thread groups the batches that arrive while a commit
//! is under way into the next transaction (group commit), so one fsync serves many requests.

mod sqlite;

pub use sqlite::SqliteStore;

use thiserror::Error;

/// A storage failure (I/O, corruption, disk full). Cloneable so one commit failure can be
/// reported to every request in the group.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("storage error: {0}")]
pub struct StoreError(pub String);

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// One write; a batch of them commits atomically.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    /// Record that a tenant exists.
    Tenant(String),
    /// Record an interned vocabulary term.
    Term {
        /// Dense id.
        id: u32,
        /// The IRI.
        iri: String,
    },
    /// Insert or replace an entity.
    PutEntity {
        /// Tenant ("" is the default tenant).
        tenant: String,
        /// Entity id.
        id: String,
        /// Encoded entity.
        data: Vec<u8>,
    },
    /// Delete an entity (its history stays).
    DeleteEntity {
        /// Tenant.
        tenant: String,
        /// Entity id.
        id: String,
    },
    /// Insert or replace the temporal representation's header (types, scopes).
    PutTemporal {
        /// Tenant.
        tenant: String,
        /// Entity id.
        id: String,
        /// Encoded header.
        data: Vec<u8>,
    },
    /// Delete a temporal representation and all its history.
    DeleteTemporal {
        /// Tenant.
        tenant: String,
        /// Entity id.
        id: String,
    },
    /// Append one history record for an entity.
    AppendHistory {
        /// Tenant.
        tenant: String,
        /// Entity id.
        entity_id: String,
        /// Time of the change (microseconds since the epoch).
        time: i64,
        /// Encoded changes.
        data: Vec<u8>,
    },
    /// Replace a history record's content (instance edits).
    ReplaceHistory {
        /// Record sequence number.
        seq: i64,
        /// New encoded content.
        data: Vec<u8>,
    },
    /// Insert or replace a subscription.
    PutSubscription {
        /// Tenant.
        tenant: String,
        /// Subscription id.
        id: String,
        /// Encoded subscription.
        data: Vec<u8>,
    },
    /// Delete a subscription.
    DeleteSubscription {
        /// Tenant.
        tenant: String,
        /// Subscription id.
        id: String,
    },
    /// Insert or replace a context source registration.
    PutRegistration {
        /// Tenant.
        tenant: String,
        /// Registration id.
        id: String,
        /// Encoded registration.
        data: Vec<u8>,
    },
    /// Delete a context source registration.
    DeleteRegistration {
        /// Tenant.
        tenant: String,
        /// Registration id.
        id: String,
    },
    /// Insert or replace a subscription to context source registrations.
    PutCsourceSubscription {
        /// Tenant.
        tenant: String,
        /// Subscription id.
        id: String,
        /// Encoded subscription.
        data: Vec<u8>,
    },
    /// Delete a subscription to context source registrations.
    DeleteCsourceSubscription {
        /// Tenant.
        tenant: String,
        /// Subscription id.
        id: String,
    },
}

/// A stored item handed to [`Store::load`]'s visitor at start-up.
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded {
    /// A tenant.
    Tenant(String),
    /// A vocabulary term.
    Term(u32, String),
    /// An entity.
    Entity {
        /// Tenant.
        tenant: String,
        /// Encoded entity.
        data: Vec<u8>,
    },
    /// A temporal representation header.
    Temporal {
        /// Tenant.
        tenant: String,
        /// Entity id.
        id: String,
        /// Encoded header.
        data: Vec<u8>,
    },
    /// A subscription.
    Subscription {
        /// Tenant.
        tenant: String,
        /// Encoded subscription.
        data: Vec<u8>,
    },
    /// A context source registration.
    Registration {
        /// Tenant.
        tenant: String,
        /// Encoded registration.
        data: Vec<u8>,
    },
    /// A subscription to context source registrations.
    CsourceSubscription {
        /// Tenant.
        tenant: String,
        /// Encoded subscription.
        data: Vec<u8>,
    },
}

/// One history record.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    /// Sequence number (orders records; stable identity for edits).
    pub seq: i64,
    /// Time of the change.
    pub time: i64,
    /// Encoded changes.
    pub data: Vec<u8>,
}

/// Called once a submitted batch has committed (or failed).
pub type Completion = Box<dyn FnOnce(StoreResult<()>) + Send>;

/// The storage trait the hub is written against.
pub trait Store: Send + Sync + 'static {
    /// Queues `batch` for the next group commit; `done` runs after it is durable.
    fn submit(&self, batch: Vec<WriteOp>, done: Completion);

    /// Visits everything stored, terms and tenants first, then entities, temporal headers,
    /// subscriptions, registrations and subscriptions to registrations.
    fn load(&self, visit: &mut dyn FnMut(Loaded)) -> StoreResult<()>;

    /// History records of one entity, oldest first.
    fn history(&self, tenant: &str, entity_id: &str) -> StoreResult<Vec<HistoryRow>>;
}
