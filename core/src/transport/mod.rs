//! The one door through which the core talks to a card.
//!
//! The platform (Android IsoDep, PC/SC, the software card) implements [`CardTransport`]; the core
//! never does NFC or PC/SC I/O itself. A transport moves bytes and reports link failures; what the
//! card *said* (status words) is interpreted above it, so "the tag left the field" and "the card
//! refused" can never be confused.

mod trace;

pub use trace::{ReplayTransport, Trace, TraceEntry, TraceError, TraceOutcome, TracingTransport};

use thiserror::Error;

/// What the link between host and card can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportCapabilities {
    /// Extended-length APDUs (Lc/Le above 255/256) pass the reader and the link.
    pub extended_length: bool,
    /// Largest response, data plus the 2 status bytes, the link delivers in one exchange.
    pub max_response_len: usize,
}

impl TransportCapabilities {
    /// A reader limited to short APDUs: 256 data bytes plus SW1 SW2.
    pub const SHORT_ONLY: Self = Self {
        extended_length: false,
        max_response_len: 258,
    };
    /// A reader that carries the largest extended response (65,536 bytes plus SW1 SW2).
    pub const EXTENDED: Self = Self {
        extended_length: true,
        max_response_len: 65_538,
    };
}

/// A failure of the link, not of the card.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum TransportError {
    /// The card left the field or the contact was broken mid-exchange. The command may or may not
    /// have reached the card; reads can be resumed once the card is back.
    #[error("the card was removed or moved during the exchange; hold it still and try again")]
    TagLost,
    /// No card is present on the reader.
    #[error("no card on the reader")]
    NoCard,
    /// The reader or link gave up waiting.
    #[error("the card did not answer in time")]
    Timeout,
    /// The reader rejected the command's size (for example an extended APDU on a short-only link).
    #[error("the reader cannot carry a command or response of this size")]
    LengthNotSupported,
    /// Anything else the platform reports; the message is the platform's, free of card data.
    #[error("reader error: {0}")]
    Reader(String),
}

/// Sends command APDUs to a card and returns its raw responses (data followed by SW1 SW2).
pub trait CardTransport {
    fn capabilities(&self) -> TransportCapabilities;
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError>;

    /// Called after [`TransportError::TagLost`] before the reader tries again: the platform waits
    /// (bounded) for the card to come back and reconnects to it. The card's security state is gone
    /// after this; the reader re-selects what it needs.
    fn reconnect(&mut self) -> Result<(), TransportError> {
        Ok(())
    }
}

impl<T: CardTransport + ?Sized> CardTransport for &mut T {
    fn capabilities(&self) -> TransportCapabilities {
        (**self).capabilities()
    }
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transmit(command)
    }
    fn reconnect(&mut self) -> Result<(), TransportError> {
        (**self).reconnect()
    }
}

impl<T: CardTransport + ?Sized> CardTransport for Box<T> {
    fn capabilities(&self) -> TransportCapabilities {
        (**self).capabilities()
    }
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transmit(command)
    }
    fn reconnect(&mut self) -> Result<(), TransportError> {
        (**self).reconnect()
    }
}
