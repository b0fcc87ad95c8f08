//! `citybrain-ngsi`: the NGSI-LD domain of the city data hub, with no I/O and no async.
//!
//! - [`model`]: entities and attributes (Property, Relationship, GeoProperty,
//!   LanguageProperty, VocabProperty, JsonProperty, ListProperty, ListRelationship) with
//!   sub-attributes, datasetIds and system timestamps. Names are held as expanded IRIs.
//! - [`context`]: JSON-LD `@context` resolution with the embedded ETSI core contexts,
//!   term expansion and compaction.
//! - [`parse`] / [`render`]: request bodies in, representations out (normalized, concise,
//!   keyValues, GeoJSON); [`render_stream`] writes the same renderings straight to a
//!   serializer for the hot paths (query pages, retrieves).
//! - [`query`], [`filters`], [`geo`]: the query language `q`, type expressions, `scopeQ`,
//!   `idPattern` and geo-queries.
//! - [`registration`]: context source registrations and their discovery.
//! - [`temporal`]: temporal representations and aggregation.
//! - [`error`]: the error kinds and the one table mapping them to ProblemDetails and HTTP status.

pub mod context;
pub mod error;
pub mod expr;
pub mod filters;
pub mod geo;
pub mod model;
pub mod parse;
pub mod query;
pub mod registration;
pub mod render;
pub mod render_stream;
pub mod subscription;
pub mod temporal;
pub mod time;

pub use context::Context;
pub use error::{ErrorKind, NgsiError, NgsiResult};
pub use model::{AttrKind, Attribute, Entity};
