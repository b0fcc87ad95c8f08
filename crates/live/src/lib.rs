//! `citybrain-live`: the running city behind `citybrain demo` and its cockpit.
//!
//! Two twins of the same scenario step in lock-step in one thread at a chosen multiple of real
//! time: the *brain twin*, whose signals the adaptive brain drives, and the *baseline*, a
//! fixed-time counterfactual running the roadnet's own programs on the same demand. The demand
//! hour repeats forever ([`citybrain_sim::Engine::repeat_demand`]).
//!
//! Data goes through the city data hub as in a real city ([`hub`]): every publish period the
//! brain twin's detector readings become NGSI-LD `TrafficFlowObserved` entities (plus
//! `TrafficSignal` and `Alert` entities), written through the broker's service layer; the brain
//! then reads the observations back from the hub and decides on them until the next publish.
//! [`LiveState`] keeps what the cockpit shows and implements the server's
//! [`citybrain_server::LiveSource`].
//!
//! [`glue`] is the twin ↔ brain adapter also used by `citybrain sim --control`.

pub mod explain;
pub mod geo;
pub mod glue;
pub mod hub;
mod network_json;
mod runtime;
mod state;

pub use glue::{BrainDriver, DriveError, Mapping, add_transition_phases, brain_network};
pub use hub::{HubError, HubLink, SignalReport};
pub use runtime::{Live, LiveOptions, StartError};
pub use state::{ALERT_ACTIVE_S, ALERTS_LEN, HISTORY_LEN, Kpis, LiveState, RECENT_DECISIONS};
