//! The one place where errors cross the FFI.
//!
//! Domain errors (the core's [`CardError`], anchors, CRLs, typed secrets, the record store's
//! [`StoreError`], records' [`RecordError`], sync's [`SyncError`]) and bridge errors (a
//! callback that threw, a cancelled call, an object used twice: [`BridgeError`]) are different
//! Rust types; both become the one public [`HonninError`] here, which Kotlin sees as the sealed
//! class `HonninException`. Each variant keeps the kind the caller acts on (tag lost, wrong PIN
//! with its tries left, PIN guard, …) and a `detail` in English for logs.
//!
//! No text here holds a secret or a holder's data: the core's messages are written that way,
//! secrets are never formatted, and a callback's failure carries only what the Kotlin exception
//! said about itself.

use honnin_core::card::SecretFormatError;
use honnin_core::manifest::ManifestError;
use honnin_core::reader::CardError;
use honnin_core::record::RecordError;
use honnin_core::store::StoreError;
use honnin_core::sync::SyncError;
use honnin_core::transport::TransportError as CoreTransportError;
use honnin_core::trust_bundle::TrustBundleError;
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

    // --- The record store (from the core's store errors) ---
    /// No record store at the path (and `createIfMissing` was false).
    #[error("{detail}")]
    StoreNotFound { detail: String },
    /// The file is not a honnin record store, or it is damaged (truncated, edited, a record
    /// that does not read). Keep the file for recovery; do not write to it.
    #[error("{detail}")]
    StoreDamaged { detail: String },
    /// Records the store acknowledged are gone from its end (file truncated or rolled back).
    #[error("{detail}")]
    RecordsMissing { from: u64, to: u64, detail: String },
    /// The key provider's key does not open this store.
    #[error("{detail}")]
    StoreWrongKey { detail: String },
    /// The key provider could not give the store key (it threw `KeyProviderException`, or the
    /// key is not 32 bytes).
    #[error("{detail}")]
    StoreKeyUnavailable { detail: String },
    /// The store belongs to another device id or device key.
    #[error("{detail}")]
    ForeignDevice { detail: String },
    /// Another writer held the store for too long; try again.
    #[error("{detail}")]
    StoreBusy { detail: String },
    /// The disk is full: the record was not stored.
    #[error("{detail}")]
    DiskFull { detail: String },
    /// No record with that id or position.
    #[error("{detail}")]
    NoSuchRecord { detail: String },
    /// Any other failure of the store's file (I/O, SQLite, a newer schema).
    #[error("{detail}")]
    StoreFailed { detail: String },

    // --- Records ---
    /// The device key is unavailable, failed to sign, or signed with another key than the
    /// public key it reports (`DeviceSignerException`, or a signature that does not verify).
    #[error("{detail}")]
    DeviceKeyFailed { detail: String },
    /// The report cannot become a record (an id empty or too long, a challenge bound to
    /// another parcel).
    #[error("{detail}")]
    RecordRejected { detail: String },
    /// Bytes that are not a honnin record (not JSON, wrong shape, not canonical).
    #[error("{detail}")]
    RecordMalformed { detail: String },

    // --- Sync (from the core's sync errors); records not synced stay pending ---
    /// The receiver could not be reached on any try (no network, timeouts, 5xx): offline.
    /// Sync again later.
    #[error("{detail}")]
    Offline { attempts: u32, detail: String },
    /// The receiver refused the request (HTTP 4xx): a wrong or used enrolment code, a device
    /// it does not know. Retrying the same request will not help.
    #[error("{detail}")]
    ReceiverRefused { status: u16, detail: String },
    /// The receiver refused one record of a batch.
    #[error("{detail}")]
    RecordRefused { record_id: String, detail: String },
    /// A receipt that does not verify with the receiver's key: the record is not marked synced.
    #[error("{detail}")]
    BadReceipt { record_id: String, detail: String },
    /// The receiver's answer is not what the protocol says.
    #[error("{detail}")]
    ReceiverProtocol { detail: String },
    /// The item manifest does not verify (not signed by the receiver's key, made for another
    /// device, malformed): it is not used. Download it again; if it keeps failing, the
    /// receiver's key changed and the device must enrol again.
    #[error("{detail}")]
    ManifestInvalid { detail: String },
    /// The kept item manifest expired (`expires_at`, Unix seconds): download a new one while
    /// online; meanwhile items are typed in by hand.
    #[error("{detail}")]
    ManifestExpired { expires_at: i64, detail: String },
    /// The receiver's TLS identity is not the trusted one (another key than the pin, an unknown
    /// CA, a wrong name): nothing was sent. Someone may be intercepting, or the receiver's key
    /// changed: enrol again with the operator's new pin.
    #[error("{detail}")]
    UntrustedReceiver { detail: String },
    /// The receiver's operator revoked this device (lost or stolen): nothing more is accepted
    /// from it, and retrying will not help. Its records stay in the store. Tell the courier to
    /// stop using the device and hand it in; a replacement is enrolled anew.
    #[error("{detail}")]
    DeviceRevoked { detail: String },
    /// The receiver announced a receipt key that no rotation signed by the key this device
    /// trusts leads to (a forged rotation, or another receiver at the address): nothing was
    /// sent, and the trusted key stays. Ask the operator; re-enrol if the receiver was replaced.
    #[error("{detail}")]
    ReceiptKeyRotationRefused { detail: String },
    /// A trust bundle does not verify (not signed by the receipt key, edited, malformed, older
    /// than the kept one): it is not used. Build the verifier without it and sync.
    #[error("{detail}")]
    TrustBundleInvalid { detail: String },
    /// The receiver's TLS pin announcement does not verify with the receipt key this device
    /// trusts (forged, another format), or is older than the one kept by more than clock
    /// slack (a replay): nothing was sent, and the pins kept stay. Ask the operator.
    #[error("{detail}")]
    TlsPinsRefused { detail: String },

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

impl From<StoreError> for HonninError {
    fn from(error: StoreError) -> Self {
        let detail = error.to_string();
        match error {
            StoreError::NotFound { .. } => HonninError::StoreNotFound { detail },
            StoreError::NotAStore { .. }
            | StoreError::Corrupt { .. }
            | StoreError::MetaDamaged { .. }
            | StoreError::Unreadable { .. }
            | StoreError::ExportMalformed { .. } => HonninError::StoreDamaged { detail },
            StoreError::RecordsMissing { from, to } => {
                HonninError::RecordsMissing { from, to, detail }
            }
            StoreError::WrongKey => HonninError::StoreWrongKey { detail },
            StoreError::Key(_) => HonninError::StoreKeyUnavailable { detail },
            StoreError::ForeignDevice { .. } => HonninError::ForeignDevice { detail },
            StoreError::Busy => HonninError::StoreBusy { detail },
            StoreError::DiskFull => HonninError::DiskFull { detail },
            StoreError::NoSuchRecord { .. } => HonninError::NoSuchRecord { detail },
            StoreError::Signer(_) => HonninError::DeviceKeyFailed { detail },
            StoreError::Record(record) => record.into(),
            StoreError::Manifest(manifest) => manifest.into(),
            // AlreadyExists, NewerSchema, Sqlite, Io, and kinds the core adds later.
            _ => HonninError::StoreFailed { detail },
        }
    }
}

impl From<RecordError> for HonninError {
    fn from(error: RecordError) -> Self {
        let detail = error.to_string();
        match error {
            RecordError::Signer(_)
            | RecordError::DeviceKeyMalformed
            | RecordError::SignatureMalformed
            | RecordError::SignerMismatch => HonninError::DeviceKeyFailed { detail },
            RecordError::InvalidField { .. } | RecordError::ChallengeMismatch { .. } => {
                HonninError::RecordRejected { detail }
            }
            RecordError::ForeignKey { .. } | RecordError::ForeignDevice { .. } => {
                HonninError::ForeignDevice { detail }
            }
            // Malformed, NotCanonical, Canonical, SignatureInvalid and later kinds: the bytes
            // are not a record honnin can use.
            _ => HonninError::RecordMalformed { detail },
        }
    }
}

impl From<SyncError> for HonninError {
    fn from(error: SyncError) -> Self {
        let detail = error.to_string();
        match error {
            SyncError::Unreachable { attempts, .. } => HonninError::Offline { attempts, detail },
            SyncError::Refused { status, .. } => HonninError::ReceiverRefused { status, detail },
            SyncError::DeviceRevoked { .. } => HonninError::DeviceRevoked { detail },
            SyncError::BadKeyRotation(_) => HonninError::ReceiptKeyRotationRefused { detail },
            SyncError::BadTrustBundle(_) => HonninError::TrustBundleInvalid { detail },
            SyncError::RecordRefused { record_id, .. } => {
                HonninError::RecordRefused { record_id, detail }
            }
            SyncError::BadReceipt { record_id, .. } => {
                HonninError::BadReceipt { record_id, detail }
            }
            SyncError::UntrustedReceiver(_) => HonninError::UntrustedReceiver { detail },
            SyncError::Config(_) => HonninError::InvalidArgument { detail },
            SyncError::Unreadable { .. } => HonninError::StoreDamaged { detail },
            SyncError::Store(store) => store.into(),
            SyncError::Record(record) => record.into(),
            SyncError::BadManifest(manifest) => manifest.into(),
            // Protocol, and kinds the core adds later.
            _ => HonninError::ReceiverProtocol { detail },
        }
    }
}

impl From<TrustBundleError> for HonninError {
    fn from(error: TrustBundleError) -> Self {
        HonninError::TrustBundleInvalid {
            detail: format!("the kept trust bundle cannot be used: {error}; sync while online"),
        }
    }
}

impl From<ManifestError> for HonninError {
    fn from(error: ManifestError) -> Self {
        let detail = error.to_string();
        match error {
            ManifestError::Expired { expired_at } => HonninError::ManifestExpired {
                expires_at: expired_at,
                detail,
            },
            _ => HonninError::ManifestInvalid { detail },
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
    fn store_and_sync_errors_keep_their_kind() {
        assert!(matches!(
            HonninError::from(StoreError::WrongKey),
            HonninError::StoreWrongKey { .. }
        ));
        assert!(matches!(
            HonninError::from(StoreError::RecordsMissing { from: 3, to: 5 }),
            HonninError::RecordsMissing { from: 3, to: 5, .. }
        ));
        assert!(matches!(
            HonninError::from(StoreError::Signer(
                honnin_core::record::SignerError::KeyUnavailable {
                    detail: "locked".into()
                }
            )),
            HonninError::DeviceKeyFailed { .. }
        ));
        let offline = HonninError::from(SyncError::Unreachable {
            attempts: 6,
            last: "connection refused".into(),
        });
        assert!(matches!(offline, HonninError::Offline { attempts: 6, .. }));
        assert!(
            offline.to_string().contains("records stay pending"),
            "{offline}"
        );
        assert!(matches!(
            HonninError::from(SyncError::Refused {
                status: 403,
                message: "unknown code".into()
            }),
            HonninError::ReceiverRefused { status: 403, .. }
        ));
        let revoked = HonninError::from(SyncError::DeviceRevoked {
            message: "lost on round 12".into(),
        });
        assert!(matches!(revoked, HonninError::DeviceRevoked { .. }));
        assert!(
            revoked.to_string().contains("lost on round 12"),
            "{revoked}"
        );
        assert!(matches!(
            HonninError::from(SyncError::BadKeyRotation(
                honnin_core::sync::rotation::RotationError::BadSignature
            )),
            HonninError::ReceiptKeyRotationRefused { .. }
        ));
        assert!(matches!(
            HonninError::from(SyncError::BadTrustBundle(TrustBundleError::BadSignature)),
            HonninError::TrustBundleInvalid { .. }
        ));
        assert!(matches!(
            HonninError::from(TrustBundleError::Rollback { kept: 3, found: 2 }),
            HonninError::TrustBundleInvalid { .. }
        ));
        assert!(matches!(
            HonninError::from(SyncError::Store(StoreError::Busy)),
            HonninError::StoreBusy { .. }
        ));
        assert!(matches!(
            HonninError::from(RecordError::InvalidField {
                field: "courier id",
                why: "it is empty"
            }),
            HonninError::RecordRejected { .. }
        ));
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
