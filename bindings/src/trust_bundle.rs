//! The trust bundle on the device: the J-LIS anchors and the latest revocation lists the
//! receiver signs and every sync fetches ([`RecordStore::sync`] keeps it), and the door check's
//! verifier built from it, so revocation is checked on the device, offline.
//!
//! Where it is kept: in a file beside the record store, `<store path>.trust-bundle` (the same
//! place `honnin sync` keeps it beside its store), written whole (temporary file, sync, rename)
//! by the sync that verified it. The app neither reads nor writes it; it asks for it verified
//! ([`RecordStore::kept_trust_bundle`]). The file is public data (certificates and lists),
//! protected by the receiver's signature, which is checked again each time it is read: an
//! edited file is `TrustBundleInvalid`, never used and never skipped.
//!
//! What a kept bundle means is the core's (`honnin_core::trust_bundle::kept`, shared with the
//! CLI); this module converts and maps.

use std::path::PathBuf;
use std::sync::Arc;

use honnin_core::record::DeviceKey;
use honnin_core::sync::{FetchedTrustBundle, SyncClient, SyncError};
use honnin_core::trust_bundle::VerifiedTrustBundle;
use honnin_core::trust_bundle::kept::{self, TrustBundleStatus};
use honnin_core::verify::{Clock as _, SystemRandom, UnixTime};

use crate::anchors::TrustAnchors;
use crate::check::Verifier;
use crate::error::HonninError;
use crate::keys::{LiveClock, now};
use crate::platform::Clock;
use crate::store::RecordStore;
use crate::sync::receipt_key;

/// A kept bundle whose receiver signature verified when it was read.
#[derive(uniffi::Object)]
pub struct TrustBundle {
    bundle: VerifiedTrustBundle,
}

/// One revocation list of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RevocationListInfo {
    /// Its issuer (the CA's name, never a person's), when it was issued and how old it is, its
    /// next update and the bundle it came from: what the revocation check names.
    pub description: String,
    /// Unix seconds.
    pub this_update: i64,
    /// Unix seconds; `None` when the list has none (then it is never current).
    pub next_update: Option<i64>,
    /// Past its next update, or its bundle expired: checks fail their revocation check with it.
    pub stale: bool,
}

/// How current a bundle is at one instant.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TrustBundleInfo {
    /// One more per operator load at the receiver.
    pub serial: u64,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds; after this the bundle's lists are not used as current.
    pub expires_at: i64,
    pub age_hours: i64,
    pub expired: bool,
    /// Not expired and no list past its next update: revocation is checked as current.
    pub current: bool,
    pub anchors: u32,
    pub revocation_lists: Vec<RevocationListInfo>,
    /// One line in English for a log or a settings screen.
    pub summary: String,
}

impl From<TrustBundleStatus> for TrustBundleInfo {
    fn from(status: TrustBundleStatus) -> Self {
        Self {
            current: status.is_current(),
            summary: status.summary(),
            serial: status.serial,
            issued_at: status.issued_at,
            expires_at: status.expires_at,
            age_hours: status.age_hours,
            expired: status.expired,
            anchors: u32::try_from(status.anchors).unwrap_or(u32::MAX),
            revocation_lists: status
                .lists
                .into_iter()
                .map(|list| RevocationListInfo {
                    description: list.description,
                    this_update: list.this_update,
                    next_update: list.next_update,
                    stale: list.stale,
                })
                .collect(),
        }
    }
}

/// What a sync did with the trust bundle.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum TrustBundleUpdate {
    /// A bundle was fetched, verified with the receipt key and kept in place of the one before.
    Kept { bundle: TrustBundleInfo },
    /// The receiver's operator has loaded none; what the device keeps (if anything) stays.
    NoneLoaded,
    /// Not updated; the kept one (if any) stays. `retryable`: the receiver could not be reached
    /// (or the sync was stopped), so trying later may help; otherwise the bundle was refused
    /// (not signed by the receipt key, older than the kept one, malformed).
    NotUpdated { detail: String, retryable: bool },
}

#[uniffi::export]
impl TrustBundle {
    /// How current the bundle is at `unix_seconds` (the check's time).
    pub fn info(&self, unix_seconds: i64) -> TrustBundleInfo {
        self.bundle.status(UnixTime(unix_seconds)).into()
    }
}

#[uniffi::export]
impl Verifier {
    /// The door check's verifier from a kept bundle: its anchors (plus `extra_anchors`, if
    /// given; a bundle's anchors replace the app's own, so an anchor the operator retired is
    /// not trusted) and its revocation lists, so revocation is checked on the device. Each
    /// check's revocation result names the list it used, its age and the bundle; once the
    /// bundle expired or a list passed its next update, that check fails as
    /// `revocation_list_invalid` and says why, rather than use old data as current.
    #[uniffi::constructor(default(extra_anchors = None))]
    pub fn from_trust_bundle(
        bundle: Arc<TrustBundle>,
        clock: Arc<dyn Clock>,
        extra_anchors: Option<Arc<TrustAnchors>>,
    ) -> Result<Arc<Self>, HonninError> {
        let extra = extra_anchors.as_ref().map(|a| &a.anchors);
        let inner = bundle.bundle.verifier(extra, Vec::new())?;
        Ok(Verifier::from_core(inner, clock))
    }
}

#[uniffi::export]
impl RecordStore {
    /// The trust bundle the last good sync kept beside this store, verified now with
    /// `receiver_key` (the receipt key the app keeps, as updated by `sync`); `None` when no
    /// sync has kept one. Throws `TrustBundleInvalid` when the kept file does not verify
    /// (edited, or signed by another key): build the verifier without it and sync.
    pub fn kept_trust_bundle(
        &self,
        receiver_key: Vec<u8>,
    ) -> Result<Option<Arc<TrustBundle>>, HonninError> {
        let key = receipt_key(&receiver_key)?;
        let time = now(self.clock.as_ref())?;
        let path = bundle_path(self);
        let Some(bytes) = kept::read_kept(&path).map_err(|e| HonninError::TrustBundleInvalid {
            detail: format!("the kept trust bundle cannot be read: {e}"),
        })?
        else {
            return Ok(None);
        };
        let bundle = kept::open_kept(&bytes, &key, time)?;
        Ok(Some(Arc::new(TrustBundle { bundle })))
    }
}

/// Where the bundle of `store` is kept.
fn bundle_path(store: &RecordStore) -> PathBuf {
    let mut path = store.path.as_os_str().to_owned();
    path.push(".trust-bundle");
    PathBuf::from(path)
}

/// The serial of the bundle kept beside `store`, verified with one of `keys` (the receipt key
/// trusted now and the one a rotation in this sync replaced), for the rollback check.
pub(crate) fn kept_serial(store: &RecordStore, keys: &[&DeviceKey], time: UnixTime) -> Option<u64> {
    let bytes = kept::read_kept(&bundle_path(store)).ok().flatten();
    kept::kept_serial(bytes.as_deref(), keys, time)
}

/// Fetches the bundle after a sync and keeps it beside `store` if it verifies and is not older
/// than `kept_serial`. Only a revoked device is an error (a device with nothing to send learns
/// it here); anything else is told in the update, since the records are synced already.
pub(crate) fn refresh(
    store: &RecordStore,
    client: &SyncClient,
    kept_serial: Option<u64>,
    signer: &dyn honnin_core::record::DeviceSigner,
    clock: &LiveClock,
) -> Result<TrustBundleUpdate, SyncError> {
    let not_updated = |error: SyncError| match error {
        SyncError::DeviceRevoked { .. } => Err(error),
        other => Ok(TrustBundleUpdate::NotUpdated {
            retryable: matches!(other, SyncError::Unreachable { .. }),
            detail: other.to_string(),
        }),
    };
    Ok(
        match client.fetch_trust_bundle(kept_serial, signer, clock, &mut SystemRandom) {
            Ok(FetchedTrustBundle::Verified { signed, verified }) => {
                let path = bundle_path(store);
                match kept::keep(&path, &signed) {
                    Ok(()) => TrustBundleUpdate::Kept {
                        bundle: verified.status(clock.now()).into(),
                    },
                    Err(e) => TrustBundleUpdate::NotUpdated {
                        detail: format!("the trust bundle verified but could not be kept: {e}"),
                        retryable: true,
                    },
                }
            }
            Ok(FetchedTrustBundle::NoneLoaded) => TrustBundleUpdate::NoneLoaded,
            Err(error) => not_updated(error)?,
        },
    )
}
