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
