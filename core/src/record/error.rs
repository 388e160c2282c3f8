//! Errors of making, signing and reading proof records. No message holds personal data: they
//! name fields, never their values.

use super::canonical::CanonicalError;
use super::signer::SignerError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// A field given for a new record is unusable (empty, too long, control characters).
    #[error("the record's {field} is not usable: {why}")]
    InvalidField {
        field: &'static str,
        why: &'static str,
    },
    /// The check's challenge was made for another item, sender or device than the record.
    #[error("the check's challenge is bound to another {field} than the record")]
    ChallengeMismatch { field: &'static str },
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    #[error(transparent)]
    Signer(#[from] SignerError),
    #[error("the device public key is not a P-256 SubjectPublicKeyInfo")]
    DeviceKeyMalformed,
    /// What the platform signer returned is neither DER nor 64-byte ECDSA.
    #[error("the device signer returned something that is not an ECDSA signature")]
    SignatureMalformed,
    /// The platform signer signed with another key than the one it reports.
    #[error("the device signer's signature does not verify with its own public key")]
    SignerMismatch,
    /// Bytes that are not a honnin record (not JSON, wrong shape, unknown format).
    #[error("not a honnin record: {why}")]
    Malformed { why: String },
    /// The record's body is not in canonical form, or holds a field not in its format.
    #[error("the record is not in its canonical form ({why})")]
    NotCanonical { why: &'static str },
    #[error("the record's device signature does not verify")]
    SignatureInvalid,
    #[error("the record was signed by another device key ({found}), not {expected}")]
    ForeignKey { expected: String, found: String },
    #[error("the record was made by another device ({found:?}), not {expected:?}")]
    ForeignDevice { expected: String, found: String },
}
