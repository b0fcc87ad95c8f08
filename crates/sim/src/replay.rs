//! Replay (placeholder).
