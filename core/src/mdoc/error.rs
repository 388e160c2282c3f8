//! What can go wrong while talking to a phone, before any verification rule runs.
//!
//! Link failures, refused commands, malformed CBOR and session failures are different errors,
//! so the check can tell "the phone left the field" from "the phone sent garbage" from "the
//! phone's message was replayed" (each ends as its own reason code, see `check.rs`).

use thiserror::Error;

use crate::transport::TransportError;

/// A failure of the engagement, the session or the data transfer with a phone.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum MdocError {
    /// The link failed (the phone left the field, the reader gave up).
    #[error("{0}")]
    Transport(#[from] TransportError),
    /// The device answered a command with a status word other than success.
    #[error("the phone refused {step} with status {status:04X}")]
    Refused { step: &'static str, status: u16 },
    /// The device has no mdoc application (SELECT of the mdoc AID failed) or no engagement.
    #[error("no mdoc found: {0}")]
    NotAnMdoc(&'static str),
    /// Bytes from the device that are not the CBOR (or NDEF, or TLV) the standard prescribes.
    #[error("malformed {what} from the phone: {reason}")]
    Malformed { what: &'static str, reason: String },
    /// A message is larger than honnin accepts from a phone.
    #[error("{what} of {len} bytes is larger than the {max} accepted")]
    TooLarge {
        what: &'static str,
        len: usize,
        max: usize,
    },
    /// The engagement offers a cipher suite or key honnin does not implement.
    #[error("the phone offers {0}, which ISO/IEC 18013-5 session encryption does not use")]
    Unsupported(String),
    /// The device's message does not decrypt under this session's key and counter: replayed
    /// from another session, or altered on the way.
    #[error("the phone's session message does not decrypt under this session's keys")]
    SessionMessageRejected,
    /// The device's message decrypts, but under a counter this session already used.
    #[error("the phone repeated an earlier session message (counter {0})")]
    SessionReplayed(u32),
    /// The device ended the session (SessionData status) without the data.
    #[error("the phone ended the session (status {0})")]
    SessionEnded(u64),
}

impl MdocError {
    pub(crate) fn malformed(what: &'static str, reason: impl std::fmt::Display) -> Self {
        MdocError::Malformed {
            what,
            reason: reason.to_string(),
        }
    }
}
