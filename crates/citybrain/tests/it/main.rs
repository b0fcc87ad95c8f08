//! End-to-end tests of the `citybrain` binary: durability under `kill -9`, and usage errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod durability;
mod usage;
