//! Benchmarks of honnin against the in-process software card: what each card operation and each
//! door-check level costs on the air (APDUs, bytes, on-card RSA operations) for each reader link,
//! the time `../shared/card-model.md` models for it, and host time; and how long verifying one
//! record's evidence takes compared with the OpenSSL command line.
//!
//! The counts are exact and deterministic (they come from the core's own per-operation counters
//! and the software card's statistics); host times are medians of repeated runs on this machine
//! and include the software card's own work (its RSA private-key operations), not a real chip's.
//!
//! `card-costs` (src/bin) prints every table; `benches/door_check.rs` holds the criterion
//! benchmarks of the same scenarios.

pub mod fixtures;
pub mod floors;
pub mod levels;
pub mod links;
pub mod metered;
pub mod model;
pub mod openssl;
pub mod operations;
pub mod pem;
pub mod report;
pub mod stats;
pub mod table;
pub mod verification;

pub use links::Link;
pub use model::{Cost, TimeModel};
