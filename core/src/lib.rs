//! honnin core: reads a My Number Card through a platform-supplied transport and verifies it.
//!
//! The core knows no platform: NFC, PC/SC, keys, clock and randomness reach it through traits.

pub mod apdu;
pub mod card;
pub mod check;
pub mod credential_kind;
pub mod image;
pub mod manifest;
pub mod mdoc;
pub mod reader;
pub mod record;
#[cfg(feature = "store")]
pub mod store;
pub mod sync;
pub mod tlv;
pub mod transport;
pub mod trust_bundle;
pub mod verify;
