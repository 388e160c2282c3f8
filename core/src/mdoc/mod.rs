//! The phone at the door: an ISO/IEC 18013-5 mdoc reader over NFC, beside the card reader.
//!
//! A holder with the My Number Card in a phone's wallet presents an mdoc. Its NFC data transfer
//! is ISO 7816-4 APDUs, so it rides the same [`CardTransport`](crate::transport::CardTransport)
//! as the card, and its verification ends in the same verdict model and report (level
//! [`Level::M`](crate::check::Level::M)).
//!
//! One module, one job:
//! - [`ndef`], [`engagement`]: device engagement by NFC static handover or `mdoc:` QR code;
//! - [`session`]: ephemeral reader key, ECDH, HKDF session keys, AES-256-GCM with counters;
//! - [`transfer`]: SELECT of the mdoc AID, ENVELOPE chaining, GET RESPONSE, extended length;
//! - [`profile`], [`request`]: which document and which elements, and the DeviceRequest;
//! - [`response`]: the DeviceResponse taken apart, exact bytes kept;
//! - [`anchors`], [`issuer_chain`], [`issuer_auth`]: issuer data authentication;
//! - [`device_auth`]: mdoc authentication (the clone check);
//! - [`check`]: the flow into a [`DoorCheckReport`](crate::check::DoorCheckReport);
//! - [`evidence`]: what a record keeps for the sender.
//!
//! Why not the `isomdl` crate: see docs/mdoc.md.

pub mod anchors;
#[cfg(test)]
mod annex_d_tests;
pub mod cbor;
mod check;
pub mod device_auth;
pub mod engagement;
mod error;
pub mod evidence;
pub mod issuer_auth;
pub mod issuer_chain;
pub mod ndef;
pub mod profile;
pub mod request;
pub mod response;
pub mod session;
pub mod transfer;

pub use anchors::{IssuerAnchor, IssuerAnchorError, IssuerAnchors};
pub use check::{AwaitingPortraitConfirmation, Engagement, PhoneVerifier};
pub use engagement::{DeviceEngagement, Handover, NfcLimits};
pub use error::MdocError;
pub use evidence::{ElementEvidence, MdocEvidence};
pub use profile::MdocProfile;
pub use request::ElementRequest;
