use thiserror::Error;

use crate::apdu::{CardStatus, CommandParseError, ResponseParseError, StatusWord};
use crate::tlv::TlvError;
use crate::transport::TransportError;

/// Failures of talking to the card. "The link failed" ([`CardError::Transport`]) and "the card
/// said no" ([`CardError::Refused`] and the PIN variants) are different variants by design.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CardError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The card was lost more often than the retry budget allows.
    #[error(
        "the card kept leaving the reader ({attempts} times); hold it still against the reader and start again"
    )]
    TagLostTooOften { attempts: u32 },
    /// The card came back after a tag loss, but what was unlocked (PIN, 照合番号B) is gone.
    #[error(
        "the card was moved away after the PIN was accepted; hold it still and start the check again (no PIN try was spent)"
    )]
    SecurityStateLost,
    /// The card answered a command with a status that means it refused.
    #[error("the card refused {operation}: {status:?}")]
    Refused {
        operation: &'static str,
        status: CardStatus,
    },
    #[error("the file {ef:04X} was not found on the card; this may not be a My Number Card")]
    FileNotFound { ef: u16 },
    #[error("this card does not have the application {0}; this may not be a My Number Card")]
    ApplicationNotFound(&'static str),
    #[error("the PIN was wrong; {tries_left} tries left")]
    WrongPin { tries_left: u8 },
    #[error("the PIN is locked on this card; the holder must reset it at their municipal office")]
    PinLocked,
    /// honnin refused to send a PIN because one more wrong try could lock the card.
    #[error(
        "only {tries_left} PIN try is left: honnin will not risk locking the card; use the check without PIN (level A)"
    )]
    PinGuard { tries_left: u8 },
    #[error("the card's answer to {operation} is malformed: {source}")]
    MalformedTlv {
        operation: &'static str,
        source: TlvError,
    },
    #[error("the card's answer to {operation} is malformed: {detail}")]
    Malformed {
        operation: &'static str,
        detail: String,
    },
    #[error("file {ef:04X} ended after {got} bytes but declares {expected}")]
    Truncated {
        ef: u16,
        expected: usize,
        got: usize,
    },
    #[error("the card sent a response of {0} bytes, shorter than a status word")]
    ResponseTooShort(usize),
    #[error("could not encode the command: {0}")]
    Command(#[from] CommandParseError),
    #[error(
        "the reader could not fit the response into {limit} bytes even after reducing the request size"
    )]
    ResponseSizeUnsupported { limit: usize },
}

impl From<ResponseParseError> for CardError {
    fn from(e: ResponseParseError) -> Self {
        match e {
            ResponseParseError::TooShort(n) => CardError::ResponseTooShort(n),
        }
    }
}

impl CardError {
    pub(crate) fn refused(operation: &'static str, status: StatusWord) -> Self {
        match status.decode() {
            CardStatus::WrongPin { tries_left } => CardError::WrongPin { tries_left },
            CardStatus::PinLocked => CardError::PinLocked,
            other => CardError::Refused {
                operation,
                status: other,
            },
        }
    }

    /// Whether the failure is the tag leaving the field (the UI says "hold the card still").
    pub fn is_tag_lost(&self) -> bool {
        matches!(
            self,
            CardError::Transport(TransportError::TagLost)
                | CardError::TagLostTooOften { .. }
                | CardError::SecurityStateLost
        )
    }
}
