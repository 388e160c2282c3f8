//! UniFFI bindings of the honnin core: the only way Kotlin (the Android app) and other foreign
//! callers use it.
//!
//! The bridge converts, calls the core, and maps; no verification logic lives here.
//! - [`platform`] — what the platform implements: card transport, clock, progress listener.
//! - [`session`] — a card session over the platform transport, with cancellation.
//! - [`check`] — the door check, levels A (two phases), B and C.
//! - [`report`] — the report: verdict, level, every check with its reason.
//! - [`read`] — what a card shows without a secret (certificates, PIN counters).
//! - [`anchors`] — trust anchors from a directory or DER bytes.
//! - [`error`] — the one place errors are mapped for the FFI.
//! - `testing` (feature `simcard`) — the software card and a callback benchmark, for JVM tests.
//!
//! Still to come, by the issues that build them: the record store and sync (a `store` module
//! wrapping the core's store, with the device signer and key provider added to [`platform`]),
//! and record verification. See README.md, "Extension points".

// Like every honnin crate, this one forbids unsafe code (workspace lints): the FFI's unsafe code
// is UniFFI's (uniffi_core, and its macro expansions, which the lint does not reach) and JNA's.

pub mod anchors;
pub mod check;
pub mod error;
pub mod platform;
pub mod read;
pub mod report;
pub mod session;
#[cfg(feature = "simcard")]
pub mod testing;

uniffi::setup_scaffolding!("honnin");
