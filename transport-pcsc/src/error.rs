//! Errors of the PC/SC layer, and the one place where PC/SC codes become [`TransportError`]s.
//!
//! Two types, because they answer two different questions:
//! - [`PcscError`]: setting up — finding a reader, connecting, waiting for a card. The messages
//!   tell a clerk or an operator what to do (start the service, plug in the reader, close the
//!   program that holds the card).
//! - [`TransportError`] (from the core): what happened to one exchange with a card that was
//!   connected. The core decides what to do about it (ask to hold the card still, step down from
//!   extended length, retry).
//!
//! No message contains card data: PC/SC errors carry codes only, and reader names are not
//! personal.

use std::time::Duration;

use honnin_core::transport::TransportError;
use thiserror::Error;

/// Setting up the link to a card failed.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PcscError {
    /// The PC/SC resource manager (pcscd on Linux, the Smart Card service on Windows) is not
    /// running or went away.
    #[error(
        "the smart-card service is not running; start it (Linux: `pcscd`, or \
         `systemctl start pcscd.socket`; Windows: the \"Smart Card\" service) and try again"
    )]
    NoService,
    /// The service runs but no reader is attached.
    #[error("no smart-card reader is connected; plug in the reader and try again")]
    NoReaders,
    /// A reader was asked for by a name the service does not know (unplugged, or mistyped).
    #[error("reader {name:?} is not connected; readers present: {available}")]
    UnknownReader { name: String, available: String },
    /// The reader is present but holds no card.
    #[error("there is no card on reader {0:?}; insert the card or hold it on the reader")]
    NoCard(String),
    /// No reader holds a card (when connecting to "the first reader with a card").
    #[error("no reader has a card on it; insert the card or hold it on the reader")]
    NoCardOnAnyReader,
    /// The card is present but does not answer (inserted the wrong way round, damaged, or not a
    /// smart card).
    #[error(
        "the card on reader {0:?} does not answer; take it out, check which way round it goes, \
         and insert it again"
    )]
    MuteCard(String),
    /// Another program holds the card exclusively (or we asked for exclusive use and it is in use).
    #[error(
        "another program is using the card on reader {0:?}; close it (for example a browser \
         or signing tool using the card) and try again"
    )]
    CardInUse(String),
    /// The card negotiated no usable protocol.
    #[error("the card on reader {0:?} agreed on no transmission protocol (T=0 or T=1)")]
    NoProtocol(String),
    /// A reader name cannot be passed to PC/SC.
    #[error("reader name {0:?} contains a NUL character")]
    InvalidReaderName(String),
    /// [`crate::Pcsc::wait_for_card`] or [`crate::Pcsc::wait_for_removal`] ran out of time.
    #[error("no change on the reader within {0:?}")]
    WaitTimedOut(Duration),
    /// A wait was cancelled through its [`crate::WaitCanceller`].
    #[error("the wait for the card was cancelled")]
    Cancelled,
    /// The card went away while connecting or reading its status.
    #[error("the card was removed from reader {0:?} while connecting; insert it again")]
    CardRemoved(String),
    /// Anything else PC/SC reported; the message is PC/SC's own description of its code.
    #[error("PC/SC {operation} failed: {source}")]
    Pcsc {
        operation: &'static str,
        #[source]
        source: pcsc::Error,
    },
}

impl PcscError {
    /// Maps a PC/SC failure of a set-up operation, naming the reader where one is involved.
    pub(crate) fn from_pcsc(operation: &'static str, reader: &str, err: pcsc::Error) -> Self {
        use pcsc::Error as E;
        match err {
            E::NoService | E::ServiceStopped | E::Shutdown => Self::NoService,
            E::NoReadersAvailable => Self::NoReaders,
            E::NoSmartcard => Self::NoCard(reader.to_owned()),
            E::RemovedCard => Self::CardRemoved(reader.to_owned()),
            E::UnresponsiveCard | E::UnpoweredCard | E::UnsupportedCard => {
                Self::MuteCard(reader.to_owned())
            }
            E::SharingViolation => Self::CardInUse(reader.to_owned()),
            E::Cancelled => Self::Cancelled,
            source => Self::Pcsc { operation, source },
        }
    }
}

/// How a failed `SCardTransmit` is reported to the core.
///
/// `card_gone` answers "is the card still there?" for the codes whose meaning depends on it
/// (readers report a card pulled mid-exchange as a communication error). It is only asked for
/// those codes.
pub(crate) fn transport_error(
    err: pcsc::Error,
    command_is_extended: bool,
    card_gone: impl FnOnce() -> bool,
) -> TransportError {
    use pcsc::Error as E;
    match err {
        // The card left the field, was pulled, or was reset by someone else: whatever the
        // command did, the card's security state is gone. The transport reconnects before the
        // next command.
        E::RemovedCard | E::ResetCard | E::UnpoweredCard => TransportError::TagLost,
        E::NoSmartcard => TransportError::NoCard,
        E::Timeout | E::UnresponsiveCard => TransportError::Timeout,
        // Readers say "not transacted" or "communication error" both for a card pulled during
        // the exchange and for a command the reader cannot carry. Ask the reader which.
        E::NotTransacted | E::CommError | E::InvalidParameter | E::InvalidValue => {
            if card_gone() {
                TransportError::TagLost
            } else if command_is_extended {
                TransportError::LengthNotSupported
            } else {
                TransportError::Reader(format!("SCardTransmit failed: {err}"))
            }
        }
        E::NoService | E::ServiceStopped | E::Shutdown => TransportError::Reader(
            "the smart-card service stopped; start it again (pcscd) and retry".to_owned(),
        ),
        // Cannot happen with our 65,538-byte buffer; if it does, say so rather than re-send:
        // re-sending would run the command (a VERIFY, a signature) a second time.
        E::InsufficientBuffer => TransportError::Reader(
            "the reader's response did not fit a 65,538-byte buffer; the command was not repeated"
                .to_owned(),
        ),
        other => TransportError::Reader(format!("SCardTransmit failed: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never_asked() -> bool {
        panic!("presence must not be queried for unambiguous codes")
    }

    #[test]
    fn removal_and_reset_are_tag_lost() {
        for e in [
            pcsc::Error::RemovedCard,
            pcsc::Error::ResetCard,
            pcsc::Error::UnpoweredCard,
        ] {
            assert_eq!(
                transport_error(e, false, never_asked),
                TransportError::TagLost
            );
        }
    }

    #[test]
    fn no_card_and_timeout() {
        assert_eq!(
            transport_error(pcsc::Error::NoSmartcard, false, never_asked),
            TransportError::NoCard
        );
        assert_eq!(
            transport_error(pcsc::Error::Timeout, true, never_asked),
            TransportError::Timeout
        );
    }

    #[test]
    fn ambiguous_codes_ask_whether_the_card_is_there() {
        assert_eq!(
            transport_error(pcsc::Error::NotTransacted, true, || true),
            TransportError::TagLost
        );
        assert_eq!(
            transport_error(pcsc::Error::NotTransacted, true, || false),
            TransportError::LengthNotSupported
        );
        assert!(matches!(
            transport_error(pcsc::Error::CommError, false, || false),
            TransportError::Reader(_)
        ));
    }

    #[test]
    fn insufficient_buffer_is_never_silent() {
        let TransportError::Reader(msg) =
            transport_error(pcsc::Error::InsufficientBuffer, false, never_asked)
        else {
            panic!("expected a reader error");
        };
        assert!(msg.contains("not repeated"), "{msg}");
    }

    #[test]
    fn setup_errors_name_the_reader() {
        let e = PcscError::from_pcsc("connect", "ACS ACR39U", pcsc::Error::SharingViolation);
        assert_eq!(e, PcscError::CardInUse("ACS ACR39U".into()));
        assert!(e.to_string().contains("ACS ACR39U"));
        assert_eq!(
            PcscError::from_pcsc("establish", "", pcsc::Error::NoService),
            PcscError::NoService
        );
    }
}
