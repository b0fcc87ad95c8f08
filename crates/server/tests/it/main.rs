//! HTTP integration tests of the hub: a real server on port 0 over a temporary store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod batch;
mod common;
mod consumption;
mod create_checks;
mod csource;
mod entities;
mod entity_maps;
mod expand_values;
mod misc_conformance;
mod projection;
mod provision_attrs;
mod query;
mod query_checks;
mod request_checks;
mod show_changes;
mod subscription_checks;
mod subscription_paging;
mod subscriptions;
mod temporal;
mod temporal_conformance;
mod temporal_filters;
mod temporal_paging;
mod temporal_requests;
mod tls;
mod transient;
