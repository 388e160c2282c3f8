//! What the platform implements: the card transport (Android `IsoDep`, a PC/SC reader, a test
//! double), the clock, listeners for progress, the device signer (an Android Keystore key signs
//! records and sync requests) and the key provider (the key that encrypts records at rest). The
//! core never does NFC, reads the time or touches the Keystore itself.
//!
//! Every method returns a `Result`, so an exception thrown by the Kotlin implementation arrives
//! here as a value (never a panic) and the bridge turns it into
//! `HonninException.CallbackFailed` naming the method, unless it is one of the method's own
//! typed exceptions, which keep their kind.

use honnin_core::reader::ReadEvent;
use honnin_core::transport::{
    TransportCapabilities as CoreCapabilities, TransportError as CoreTransportError,
};

/// A link to one card. Implemented in Kotlin over `IsoDep` (or in tests over the software card).
///
/// Calls come from the thread that started the check, one at a time.
#[uniffi::export(with_foreign)]
pub trait CardTransport: Send + Sync {
    /// What the link carries; read once when a check starts.
    fn capabilities(&self) -> Result<TransportCapabilities, TransportError>;

    /// Sends one command APDU and returns the card's raw response (data, then SW1 SW2). Throw
    /// `TransportException.TagLost` when the tag left the field (`android.nfc.TagLostException`).
    fn transmit(&self, command: Vec<u8>) -> Result<Vec<u8>, TransportError>;

    /// After a tag loss: wait (bounded) for the card to come back and reconnect to it.
    fn reconnect(&self) -> Result<(), TransportError>;
}

/// What a link can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct TransportCapabilities {
    /// Extended-length APDUs pass the reader and the link (`IsoDep.isExtendedLengthApduSupported`).
    pub extended_length: bool,
    /// Largest response, data plus SW1 SW2, in one exchange (`IsoDep.maxTransceiveLength`).
    pub max_response_len: u32,
}

impl From<TransportCapabilities> for CoreCapabilities {
    fn from(c: TransportCapabilities) -> Self {
        CoreCapabilities {
            extended_length: c.extended_length,
            max_response_len: c.max_response_len as usize,
        }
    }
}

impl From<CoreCapabilities> for TransportCapabilities {
    fn from(c: CoreCapabilities) -> Self {
        TransportCapabilities {
            extended_length: c.extended_length,
            max_response_len: u32::try_from(c.max_response_len).unwrap_or(u32::MAX),
        }
    }
}

/// A failure of the link, thrown by a [`CardTransport`]; the card's own refusals are status
/// words in the response, never exceptions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum TransportError {
    /// The card left the field mid-exchange; the core reconnects and resumes where it can.
    #[error("the card left the field")]
    TagLost,
    /// No card on the reader.
    #[error("no card on the reader")]
    NoCard,
    /// The link gave up waiting.
    #[error("the card did not answer in time")]
    Timeout,
    /// The reader cannot carry a command or response of this size.
    #[error("the reader cannot carry this size")]
    LengthNotSupported,
    /// Any other reader failure; `detail` must not contain card data.
    #[error("reader error: {detail}")]
    Reader { detail: String },
    /// Made by the bridge when an implementation threw anything other than a
    /// `TransportException`: a bug on the platform side, reported as `CallbackFailed`.
    #[error("{detail}")]
    Unexpected { detail: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for TransportError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        TransportError::Unexpected {
            detail: error.reason,
        }
    }
}

impl TransportError {
    /// The core's view of a link failure; `None` for [`TransportError::Unexpected`], which is a
    /// bridge failure and not a property of the link.
    pub(crate) fn into_core(self) -> Result<CoreTransportError, String> {
        match self {
            TransportError::TagLost => Ok(CoreTransportError::TagLost),
            TransportError::NoCard => Ok(CoreTransportError::NoCard),
            TransportError::Timeout => Ok(CoreTransportError::Timeout),
            TransportError::LengthNotSupported => Ok(CoreTransportError::LengthNotSupported),
            TransportError::Reader { detail } => Ok(CoreTransportError::Reader(detail)),
            TransportError::Unexpected { detail } => Err(detail),
        }
    }
}

/// The check time, from the platform's clock.
#[uniffi::export(with_foreign)]
pub trait Clock: Send + Sync {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now_unix_seconds(&self) -> Result<i64, CallbackError>;
}

/// Told what happens while a card is read, for example to show "hold the card still".
#[uniffi::export(with_foreign)]
pub trait ProgressListener: Send + Sync {
    fn on_event(&self, event: ProgressEvent) -> Result<(), CallbackError>;
}

/// Any exception thrown by a [`Clock`] or [`ProgressListener`]; the bridge reports it as
/// `HonninException.CallbackFailed` naming the method.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum CallbackError {
    #[error("{detail}")]
    Failed { detail: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for CallbackError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        CallbackError::Failed {
            detail: error.reason,
        }
    }
}

/// What the person holding the card should hear about, as the reading engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ProgressEvent {
    /// Bytes of an elementary file read so far; `total` once its header told the size.
    Reading {
        ef: u16,
        read: u64,
        total: Option<u64>,
    },
    /// The card left the field; the reader waits for it (attempt of max).
    TagLost { attempt: u32, max_attempts: u32 },
    /// The card is back and reading continues at `offset` of `ef`.
    Resumed { ef: u16, offset: u64 },
    /// The link refused a response size; less is asked from now on.
    ResponseSizeReduced { from: u64, to: u64 },
    /// Extended-length APDUs failed on this link; short ones are used from now on.
    ExtendedLengthDisabled,
}

impl From<&ReadEvent> for ProgressEvent {
    fn from(event: &ReadEvent) -> Self {
        match *event {
            ReadEvent::Progress { ef, read, total } => ProgressEvent::Reading {
                ef,
                read: read as u64,
                total: total.map(|t| t as u64),
            },
            ReadEvent::TagLost {
                attempt,
                max_attempts,
            } => ProgressEvent::TagLost {
                attempt,
                max_attempts,
            },
            ReadEvent::Resumed { ef, offset } => ProgressEvent::Resumed {
                ef,
                offset: offset as u64,
            },
            ReadEvent::ResponseSizeReduced { from, to } => ProgressEvent::ResponseSizeReduced {
                from: from as u64,
                to: to as u64,
            },
            ReadEvent::ExtendedLengthDisabled => ProgressEvent::ExtendedLengthDisabled,
        }
    }
}

/// The device key that signs proof records and sync requests: on Android an EC P-256 key in the
/// Keystore, made once and never exported. Implement it with
/// `Signature.getInstance("SHA256withECDSA")`.
///
/// Every signature is checked against [`DeviceSigner::public_key_der`] before honnin uses it, so
/// a signer that signs with another key fails loudly (`HonninException.DeviceKeyFailed`).
#[uniffi::export(with_foreign)]
pub trait DeviceSigner: Send + Sync {
    /// The public key as DER SubjectPublicKeyInfo (`PublicKey.getEncoded()` on Android).
    fn public_key_der(&self) -> Result<Vec<u8>, DeviceSignerError>;

    /// ECDSA P-256 with SHA-256 over `message` (the Keystore hashes it): the DER
    /// `ECDSA-Sig-Value` that `Signature.sign()` returns, or the 64-byte `r ‖ s`.
    fn sign(&self, message: Vec<u8>) -> Result<Vec<u8>, DeviceSignerError>;
}

/// A failure of the device key, thrown by a [`DeviceSigner`]. `detail` must not hold key
/// material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum DeviceSignerError {
    /// The key does not exist or cannot be used now (Keystore locked, key invalidated, …).
    #[error("{detail}")]
    KeyUnavailable { detail: String },
    /// The Keystore refused or failed to sign.
    #[error("{detail}")]
    SigningFailed { detail: String },
    /// Made by the bridge when an implementation threw anything other than a
    /// `DeviceSignerException`: reported as `CallbackFailed`.
    #[error("{detail}")]
    Unexpected { detail: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for DeviceSignerError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        DeviceSignerError::Unexpected {
            detail: error.reason,
        }
    }
}

/// Gives the record store's 32-byte encryption key: on Android a random key kept wrapped (for
/// example AES-GCM) by a Keystore key and unwrapped for this call. Called when a store is opened
/// or created; the Rust copy is wiped as soon as it is used. Return the same key every time for
/// the same store: another key cannot open it (`HonninException.StoreWrongKey`).
#[uniffi::export(with_foreign)]
pub trait KeyProvider: Send + Sync {
    /// Exactly 32 bytes. Overwrite your own copy (`ByteArray.fill(0)`) after returning it.
    fn store_key(&self) -> Result<Vec<u8>, KeyProviderError>;
}

/// Why the platform cannot give the store key, thrown by a [`KeyProvider`]. `detail` must not
/// hold key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum KeyProviderError {
    /// A store exists but its key is gone (app data cleared, Keystore key deleted).
    #[error("{detail}")]
    Missing { detail: String },
    /// The key exists but cannot be used now (device locked, Keystore busy, …).
    #[error("{detail}")]
    Unavailable { detail: String },
    /// Made by the bridge when an implementation threw anything other than a
    /// `KeyProviderException`: reported as `CallbackFailed`.
    #[error("{detail}")]
    Unexpected { detail: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for KeyProviderError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        KeyProviderError::Unexpected {
            detail: error.reason,
        }
    }
}

/// Told how a sync goes, for example to show "sending 100 of 250 records".
#[uniffi::export(with_foreign)]
pub trait SyncListener: Send + Sync {
    fn on_progress(&self, progress: SyncProgress) -> Result<(), CallbackError>;
}

/// A sync request about to be sent. Records of earlier batches are synced (their receipts
/// verified) by the time the next batch is announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct SyncProgress {
    /// The batch, from 1.
    pub batch: u32,
    /// The try of this batch, from 1; above 1 the receiver was unreachable and honnin retries
    /// after a pause.
    pub attempt: u32,
    /// Records in this batch.
    pub records_in_batch: u64,
    /// Records synced so far in this sync.
    pub synced: u64,
    /// Records that were waiting when the sync started.
    pub pending: u64,
}
