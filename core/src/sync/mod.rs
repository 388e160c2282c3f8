//! Sync: the device sends its unsynced records to the receiver, and a record counts as synced
//! only once the receiver's signed receipt for it verified.
//!
//! - [`protocol`]: the request signature and the receipt, shared with the receiver.
//! - `client` (feature `sync-client`): the store-and-forward client over HTTPS (ureq + rustls),
//!   batches, exponential backoff with jitter. Its only state is the store's `synced_at`
//!   column, so a client killed at any instant resumes by sending what has no receipt yet;
//!   the receiver is idempotent by record id, so a batch sent twice is harmless.
//! - `manifest_fetch` (feature `sync-client`): `SyncClient::fetch_manifest`, and the
//!   receipt-key rotation window: a manifest or bundle still signed by the key a rotation of
//!   this sync replaced is downloaded again, a bounded number of times.
//! - `upload` (feature `sync-client`): the batches pipelined, the device checking one batch's
//!   receipts and reading the next while the receiver works on the current one.
//! - `trust_fetch` (feature `sync-client`): `SyncClient::fetch_trust_bundle`, the signed trust
//!   bundle ([`crate::trust_bundle`]) fetched on each sync, refused unless it verifies.
//! - [`rotation`]: the receiver's receipt key replaced, announced by a message the old key signs.
//! - [`pin`]: the receiver's TLS key pin ([`SpkiPin`]), shared with the receiver.
//! - [`pin_announcement`]: the receiver's TLS key pins (served now and next), signed by the
//!   receipt key, so a pinned device follows a TLS key rotation.
//! - `tls` (feature `sync-client`): `TlsTrust` (pinned key, public roots, private CA, or the
//!   platform's verifier) and the typed refusals; plain `http://` only to loopback, and only
//!   when `SyncConfig::allow_loopback_http` says so.

pub mod pin;
pub mod pin_announcement;
pub mod protocol;
pub mod rotation;

#[cfg(feature = "sync-client")]
mod backoff;
#[cfg(feature = "sync-client")]
mod client;
#[cfg(feature = "sync-client")]
mod enrol;
#[cfg(feature = "sync-client")]
mod manifest_fetch;
#[cfg(feature = "sync-client")]
mod tls;
#[cfg(feature = "sync-client")]
mod trust_fetch;
#[cfg(feature = "sync-client")]
mod upload;

#[cfg(feature = "sync-client")]
pub use backoff::Backoff;
#[cfg(feature = "sync-client")]
pub use client::{SyncClient, SyncConfig, SyncError, SyncReport};
#[cfg(feature = "sync-client")]
pub use enrol::Enrolment;
#[cfg(feature = "sync-client")]
pub use manifest_fetch::ROTATION_WINDOW_TRIES;
pub use pin::{PinError, SpkiPin};
/// The rustls version the client uses, for a [`TlsTrust::Platform`] verifier.
#[cfg(feature = "sync-client")]
pub use rustls;
#[cfg(feature = "sync-client")]
pub use tls::{ConfigError, TlsRefusal, TlsTrust};
#[cfg(feature = "sync-client")]
pub use trust_fetch::FetchedTrustBundle;
