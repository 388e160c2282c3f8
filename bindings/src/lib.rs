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
//! - [`store`] — the encrypted record store: a door check's report becomes a device-signed,
//!   chained record; lists, sync state, chain verification, sealed export.
//! - [`sync`] — enrolment with the receiver, and sync of pending records with progress and
//!   cancellation.
//! - [`tls_pins`] — the receiver's TLS key pins: the set the app keeps, and the next ones the
//!   receiver announces under its receipt key, taken by a pinned sync.
//! - [`trust_bundle`] — the signed trust bundle sync keeps beside the store, and the door
//!   check's verifier from it (revocation checked on the device).
//! - [`manifest`] — the item manifest: download (signed by the receiver, kept sealed), look an
//!   item up at the door (sender, addressee, allowed levels, attributes).
//! - [`verify_record`] — a sender's re-verification of a record, check by check.
//! - [`phone`] — the phone check (level M, an ISO/IEC 18013-5 mdoc over the same transport);
//!   [`phone_detect`] — a card or a phone on the tag.
//! - `keys` — the platform's device signer, store key and clock as the core's traits.
//! - [`error`] — the one place errors are mapped for the FFI.
//! - `testing` (feature `simcard`) — the software card and a callback benchmark, for JVM tests.
//!
//! The platform implements, in Kotlin: the card transport, the clock, progress listeners, the
//! device signer (Android Keystore) and the store key provider ([`platform`]).

// Like every honnin crate, this one forbids unsafe code (workspace lints): the FFI's unsafe code
// is UniFFI's (uniffi_core, and its macro expansions, which the lint does not reach) and JNA's.

// The JNI entry point of the platform trust store (Android builds only). The one module where
// unsafe code is allowed: `jni_mangle` exports the function under its Java name with
// `#[unsafe(export_name)]`; see the module's documentation and the crate's `[lints]`.
pub mod anchors;
#[cfg(target_os = "android")]
#[allow(unsafe_code)]
mod android;
pub mod check;
pub mod error;
mod keys;
pub mod manifest;
pub mod phone;
pub mod phone_detect;
pub mod platform;
pub mod read;
pub mod report;
pub mod session;
pub mod store;
pub mod sync;
mod sync_gate;
#[cfg(feature = "simcard")]
pub mod testing;
pub mod tls_pins;
pub mod trust_bundle;
pub mod verify_record;

uniffi::setup_scaffolding!("honnin");
