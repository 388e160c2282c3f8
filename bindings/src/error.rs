//! The one place where errors cross the FFI.
//!
//! Domain errors (the core's [`CardError`], anchors, CRLs, typed secrets) and bridge errors (a
//! callback that threw, a cancelled call, an object used twice: [`BridgeError`]) are different
//! Rust types; both become the one public [`HonninError`] here, which Kotlin sees as the sealed
//! class `HonninException`. Each variant keeps the kind the caller acts on (tag lost, wrong PIN
//! with its tries left, PIN guard, …) and a `detail` in English for logs.
//!
//! No text here holds a secret or a holder's data: the core's messages are written that way,
//! secrets are never formatted, and a callback's failure carries only what the Kotlin exception
//! said about itself.

use honnin_core::card::SecretFormatError;
use honnin_core::reader::CardError;
use honnin_core::transport::TransportError as CoreTransportError;
use honnin_core::verify::x509::{AnchorError, CrlError};

/// Every failure a call into honnin can report. Door checks report card failures inside their
/// report (a verdict with the failed check), so from them only the configuration, input and
/// bridge variants arise; card reading reports the card variants.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum HonninError {
    // --- The card and its link (from the core's card errors) ---
    /// The card left the field, also after the reader's retries ran out. Ask the holder to hold
    /// the card still and start again.
    #[error("{detail}")]
    TagLost { detail: String },
    /// The card came back after a tag loss, but what a PIN or 照合番号B unlocked is gone.
    #[error("{detail}")]
    SecurityStateLost { detail: String },
    /// The reader has no card.
    #[error("{detail}")]
    NoCard { detail: String },
    /// The reader or link gave up waiting.
    #[error("{detail}")]
    Timeout { detail: String },
    /// The reader failed otherwise (its own message, free of card data).
    #[error("{detail}")]
    ReaderFailed { detail: String },
    /// The PIN (or 照合番号B) was wrong.
    #[error("{detail}")]
    WrongPin { tries_left: u32, detail: String },
    /// The PIN is locked on the card.
    #[error("{detail}")]
    PinLocked { detail: String },
    /// honnin refused to send a PIN because one more wrong try could lock the card.
    #[error("{detail}")]
    PinGuard { tries_left: u32, detail: String },
    /// The card lacks an application or file a My Number Card has.
    #[error("{detail}")]
    NotAMyNumberCard { detail: String },
    /// The card refused a command a My Number Card accepts.
    #[error("{detail}")]
    CardRefused { detail: String },
    /// The card's answer is malformed or truncated.
    #[error("{detail}")]
    CardDataMalformed { detail: String },

    // --- Configuration and input ---
    /// A typed secret has the wrong shape (the message never contains the secret).
    #[error("{detail}")]
    InvalidSecret { detail: String },
    /// An argument is out of range (a date, a profile name, …).
    #[error("{detail}")]
    InvalidArgument { detail: String },
    /// The trust anchors could not be loaded (the message names the file).
    #[error("{detail}")]
    TrustAnchors { detail: String },
    /// A revocation list could not be parsed.
    #[error("{detail}")]
    RevocationList { detail: String },

    // --- The bridge ---
    /// The caller cancelled the operation before it finished; nothing was decided.
    #[error("{detail}")]
    Cancelled { detail: String },
    /// A method implemented on the foreign side threw or returned something unusable.
    #[error("{method} failed: {detail}")]
    CallbackFailed { method: String, detail: String },
    /// A one-shot object was used again (a level A check confirmed twice).
    #[error("{detail}")]
    AlreadyUsed { detail: String },
}

/// Failures of the bridge itself, never of the card or the check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BridgeError {
    #[error("the operation was cancelled")]
    Cancelled,
    /// `method` as the foreign side spells it, e.g. `CardTransport.transmit`.
    #[error("{method} failed: {detail}")]
    Callback {
        method: &'static str,
        detail: String,
    },
    #[error("{0}")]
    AlreadyUsed(&'static str),
}

impl From<BridgeError> for HonninError {
    fn from(error: BridgeError) -> Self {
        let detail = error.to_string();
        match error {
            BridgeError::Cancelled => HonninError::Cancelled { detail },
            BridgeError::Callback { method, detail } => HonninError::CallbackFailed {
                method: method.to_owned(),
                detail,
            },
            BridgeError::AlreadyUsed(_) => HonninError::AlreadyUsed { detail },
        }
    }
}

impl From<CardError> for HonninError {
    fn from(error: CardError) -> Self {
        let detail = error.to_string();
        match error {
            CardError::Transport(transport) => transport.into(),
            CardError::TagLostTooOften { .. } => HonninError::TagLost { detail },
            CardError::SecurityStateLost => HonninError::SecurityStateLost { detail },
            CardError::WrongPin { tries_left } => HonninError::WrongPin {
                tries_left: u32::from(tries_left),
                detail,
            },
            CardError::PinLocked => HonninError::PinLocked { detail },
            CardError::PinGuard { tries_left } => HonninError::PinGuard {
                tries_left: u32::from(tries_left),
                detail,
            },
            CardError::FileNotFound { .. } | CardError::ApplicationNotFound(_) => {
                HonninError::NotAMyNumberCard { detail }
            }
            CardError::MalformedTlv { .. }
            | CardError::Malformed { .. }
            | CardError::Truncated { .. }
            | CardError::ResponseTooShort(_) => HonninError::CardDataMalformed { detail },
            // Refused, an unencodable command, a size the reader cannot carry, and any kind the
            // core adds later: the card did not do what a My Number Card does.
            _ => HonninError::CardRefused { detail },
        }
    }
}

impl From<CoreTransportError> for HonninError {
    fn from(error: CoreTransportError) -> Self {
        let detail = error.to_string();
        match error {
            CoreTransportError::TagLost => HonninError::TagLost { detail },
            CoreTransportError::NoCard => HonninError::NoCard { detail },
            CoreTransportError::Timeout => HonninError::Timeout { detail },
            CoreTransportError::LengthNotSupported | CoreTransportError::Reader(_) => {
                HonninError::ReaderFailed { detail }
            }
        }
    }
}

impl From<SecretFormatError> for HonninError {
    fn from(error: SecretFormatError) -> Self {
        HonninError::InvalidSecret {
            detail: error.to_string(),
        }
    }
}

impl From<AnchorError> for HonninError {
    fn from(error: AnchorError) -> Self {
        HonninError::TrustAnchors {
            detail: error.to_string(),
        }
    }
}

impl From<CrlError> for HonninError {
    fn from(error: CrlError) -> Self {
        HonninError::RevocationList {
            detail: error.to_string(),
        }
    }
}

impl HonninError {
    pub(crate) fn invalid_argument(detail: impl Into<String>) -> Self {
        HonninError::InvalidArgument {
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_errors_keep_their_kind_and_tries_left() {
        assert_eq!(
            HonninError::from(CardError::WrongPin { tries_left: 2 }),
            HonninError::WrongPin {
                tries_left: 2,
                detail: "the PIN was wrong; 2 tries left".into()
            }
        );
        assert!(matches!(
            HonninError::from(CardError::PinGuard { tries_left: 1 }),
            HonninError::PinGuard { tries_left: 1, .. }
        ));
        assert!(matches!(
            HonninError::from(CardError::Transport(CoreTransportError::TagLost)),
            HonninError::TagLost { .. }
        ));
        assert!(matches!(
            HonninError::from(CardError::TagLostTooOften { attempts: 4 }),
            HonninError::TagLost { .. }
        ));
        assert!(matches!(
            HonninError::from(CardError::ApplicationNotFound("JPKI")),
            HonninError::NotAMyNumberCard { .. }
        ));
    }

    #[test]
    fn a_failed_callback_names_its_method() {
        let error = HonninError::from(BridgeError::Callback {
            method: "CardTransport.transmit",
            detail: "java.lang.IllegalStateException: closed".into(),
        });
        assert_eq!(
            error.to_string(),
            "CardTransport.transmit failed: java.lang.IllegalStateException: closed"
        );
    }

    #[test]
    fn a_malformed_secret_is_not_echoed() {
        let error: HonninError = honnin_core::card::AuthPin::parse("12x4")
            .map(|_| ())
            .map_err(HonninError::from)
            .expect_err("not four digits");
        assert!(!error.to_string().contains("12x4"));
        assert!(matches!(error, HonninError::InvalidSecret { .. }));
    }
}
