//! Subscription state kept per tenant (filled in with the subscriptions stage).

/// A subscription's live state.
pub(crate) struct SubState {}
