//! Proof records: what a door check proved, signed by the device and chained by hash.
//!
//! A record (`honnin.record.v1`, specified in docs/record-format.md) holds the parcel, sender,
//! device and courier ids, the time, the level and verdict, every check with its state and
//! reason, the challenge with its inputs, the card's signature over it and the certificates a
//! sender needs to re-verify it, the hash of the record before it, and the device's ECDSA P-256
//! signature. It never holds the face image, the Individual Number or its hash, or a PIN; the
//! holder's attributes only as far as the sender's [`AttributePolicy`] asks.
//!
//! - [`RecordDraft::from_check`] turns a [`DoorCheckReport`](crate::check::DoorCheckReport) into
//!   a draft; a record cannot be made from anything else.
//! - [`SignedRecord::sign`] places a draft in the chain ([`ChainLink`]) and has the platform's
//!   [`DeviceSigner`] sign its canonical bytes ([`canonical`], RFC 8785 JCS).
//! - [`SignedRecord::parse`] and [`SignedRecord::verify`] read one back; [`ChainVerifier`]
//!   checks a whole chain and names the position of every problem.
//!
//! The store that keeps records encrypted on the device is [`crate::store`].

mod body;
pub mod canonical;
mod canonical_direct;
mod chain;
mod error;
mod mdoc_entry;
mod signed;
mod signer;

pub use body::{
    AttributePolicy, AttributesEntry, CardFaceEntry, ChainLink, ChallengeEntry, CheckEntry,
    FORMAT_V1, MAX_ID_LEN, RecordBody, RecordContext, RecordDraft, Station,
};
pub use chain::{
    ChainExpectation, ChainProblem, ChainReport, ChainVerifier, MAX_LISTED_PROBLEMS, Problem,
    short_hash,
};
pub use error::RecordError;
pub use mdoc_entry::{MdocElementEntry, MdocEntry};
pub use signed::SignedRecord;
pub use signer::{DeviceKey, DeviceSigner, SignerError, SoftwareSigner};

pub(crate) use signer::{hex_lower, parse_hex};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_station;
