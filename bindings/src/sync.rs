//! Enrolment with the receiver and sync of the store's pending records, over the core's
//! `SyncClient` (HTTPS by ureq + rustls): batches, retries with backoff, and a record marked
//! synced only once the receiver's signed receipt for it verified.
//!
//! Progress and cancellation without a hook in the core: every sync request is signed by the
//! device key (`x-honnin-signature` over the protocol's batch message), so the signer the core
//! is given here is a gate. Before each request it tells the [`SyncListener`] which batch and
//! try is next and then asks the [`StopSignal`] whether to go on; when not, it refuses to sign,
//! the core stops before sending, and the call throws `Cancelled` (or `CallbackFailed`). A
//! request already on the wire completes (bounded by the timeout) and its receipts are applied,
//! so nothing is ever half-synced. A retry of a batch has the same body, which tells a retry
//! from the next batch.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use honnin_core::record::DeviceKey;
use honnin_core::store::Store;
use honnin_core::sync::{SyncClient, SyncConfig, SyncError, TlsTrust, rustls};
use honnin_core::verify::SystemRandom;
use zeroize::Zeroizing;

use crate::error::{BridgeError, HonninError};
use crate::keys::{Keys, LiveClock, Signer, bridged, now};
use crate::manifest::ManifestUpdate;
use crate::platform::SyncListener;
use crate::session::{CancellationToken, StopSignal};
use crate::store::RecordStore;
use crate::sync_gate::{GateState, SyncGate};
use crate::tls_pins::{self, AnnouncedTlsPins};
use crate::trust_bundle::{self, TrustBundleUpdate};

/// Where the receiver is, how the device recognises it, and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReceiverConfig {
    /// The receiver's base URL, `https://host[:port]`.
    pub base_url: String,
    /// This device's id, as the operator issued the enrolment code for it; the same id the
    /// device's checks are made with.
    pub device_id: String,
    /// Trust only the receiver TLS key with this pin, `sha256/<base64>` as the operator hands it
    /// out with the enrolment code (`honnin-receiver tls-pin`): the pin of the enrolment, until
    /// a sync returns announced pins (`SyncSummary.tls_pins`); then give those as
    /// `receiver_pins` instead (not both). Without a pin, `ca_certificates_der`, else the
    /// platform's trust store (`use_platform_trust`), else the public web roots compiled into
    /// the core decide.
    #[uniffi(default = None)]
    pub receiver_pin: Option<String>,
    /// Trust any receiver TLS key with one of these pins: the set the last sync returned in
    /// `SyncSummary.tls_pins` (the key served then and the next ones the operator announced,
    /// signed by the receipt key), kept in place of `receiver_pin`. A pinned sync takes a newer
    /// announcement and returns it, so the operator can replace the TLS key without a new
    /// enrolment.
    #[uniffi(default = [])]
    pub receiver_pins: Vec<String>,
    /// When the receiver signed `receiver_pins` (`AnnouncedTlsPins.issued_at`): an older
    /// announcement is not taken. `None` with the enrolment's pin.
    #[uniffi(default = None)]
    pub receiver_pins_issued_at: Option<i64>,
    /// DER certificates of a private CA that issued the receiver's certificate.
    #[uniffi(default = [])]
    pub ca_certificates_der: Vec<Vec<u8>>,
    /// Without a pin or a CA, trust the receiver certificates the platform trusts (its trust
    /// store, user-added CAs as its policy allows, revocation), by rustls-platform-verifier,
    /// instead of the web roots compiled into the core. On Android, `PlatformTrust.init(context)`
    /// must have run first (the app does it at start-up); elsewhere the OS store is read
    /// directly. A pin or a CA always wins over this.
    #[uniffi(default = false)]
    pub use_platform_trust: bool,
    /// Allows a plain `http://` URL, and only to a loopback address (tests, a receiver on the
    /// same machine); never in an app build.
    #[uniffi(default = false)]
    pub allow_loopback_http: bool,
    /// Records per request.
    #[uniffi(default = 100)]
    pub batch_size: u32,
    /// Tries per request before the sync gives up as offline (pauses between them grow from
    /// 0.5 s up to 60 s, with jitter).
    #[uniffi(default = 6)]
    pub max_attempts: u32,
    /// Limit on one request: connect, send and receive.
    #[uniffi(default = 30)]
    pub timeout_seconds: u32,
    /// What the device runs, e.g. `honnin-android/1.4.0` (the app sends its `versionName`),
    /// told to the receiver with every signed request so its operator sees which devices need
    /// an update. Printable ASCII, at most 64 characters.
    #[uniffi(default = None)]
    pub app_version: Option<String>,
}

impl ReceiverConfig {
    pub(crate) fn to_core(&self) -> Result<SyncConfig, HonninError> {
        if self.batch_size == 0 || self.max_attempts == 0 || self.timeout_seconds == 0 {
            return Err(HonninError::invalid_argument(
                "batch_size, max_attempts and timeout_seconds must be at least 1",
            ));
        }
        let pinned = tls_pins::pinned_trust(self.receiver_pin.as_deref(), &self.receiver_pins)?;
        let trust = match (pinned, self.ca_certificates_der.is_empty()) {
            (Some(pinned), _) => pinned,
            (None, false) => TlsTrust::PrivateCa(self.ca_certificates_der.clone()),
            (None, true) if self.use_platform_trust => platform_trust()?,
            (None, true) => TlsTrust::WebPki,
        };
        let mut config = SyncConfig::new(&self.base_url, &self.device_id).with_trust(trust);
        config.allow_loopback_http = self.allow_loopback_http;
        config.batch_size = self.batch_size as usize;
        config.max_attempts = self.max_attempts;
        config.timeout = Duration::from_secs(u64::from(self.timeout_seconds));
        config.app_version = self.app_version.as_deref().map(app_version).transpose()?;
        // Refused before anything is sent (and before the store is opened).
        config
            .check()
            .map_err(|e| HonninError::invalid_argument(e.to_string()))?;
        Ok(config)
    }
}

/// Longest app version the receiver accepts.
const MAX_APP_VERSION: usize = 64;

/// An app version the receiver accepts (printable ASCII, at most 64 characters): refused here,
/// before anything is sent, rather than by the receiver on every request.
fn app_version(text: &str) -> Result<String, HonninError> {
    // Spaces around it are a slip; a control character (a newline read from a file) is not.
    let text = text.trim_matches(' ');
    if text.is_empty()
        || text.len() > MAX_APP_VERSION
        || !text.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
    {
        return Err(HonninError::invalid_argument(format!(
            "app_version must be 1 to {MAX_APP_VERSION} printable ASCII characters, e.g. honnin-android/1.4.0"
        )));
    }
    Ok(text.to_owned())
}

/// The platform's verifier (rustls-platform-verifier) with the core's crypto provider, ring.
fn platform_trust() -> Result<TlsTrust, HonninError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider).map_err(|e| {
        HonninError::invalid_argument(format!("the platform trust store is unavailable: {e}"))
    })?;
    Ok(TlsTrust::Platform(Arc::new(verifier)))
}

/// The receiver's receipt key as Kotlin passes it back (the `receiver_key` enrolment returned).
pub(crate) fn receipt_key(der: &[u8]) -> Result<DeviceKey, HonninError> {
    DeviceKey::from_spki_der(der).map_err(|_| {
        HonninError::invalid_argument(
            "receiver_key is not a P-256 SubjectPublicKeyInfo: pass the receiver_key enrolment returned",
        )
    })
}

/// What enrolment gives: keep `receiver_key` (it is public) and pass it to every sync.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Enrolment {
    /// The receiver's receipt key, DER SubjectPublicKeyInfo: receipts must verify with it.
    pub receiver_key: Vec<u8>,
    /// SHA-256 of `receiver_key`, hex, to show or compare with the operator's.
    pub receiver_key_id: String,
    /// SHA-256 of the device key the receiver now knows, hex.
    pub device_key_id: String,
    /// The TLS key pin the receiver announces (`sha256/<base64>`); `None` behind a
    /// TLS-terminating proxy or on loopback HTTP. The pin to trust is the one the operator gave
    /// with the code (`ReceiverConfig.receiver_pin`): enrolment over a pinned connection
    /// already checked the receiver against it.
    pub receiver_tls_pin: Option<String>,
}

/// What one sync did. Records still pending are sent by the next sync.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncSummary {
    /// Records marked synced on a verified receipt.
    pub synced: u64,
    /// Of those, records the receiver already held (a repeat after a lost answer).
    pub duplicates: u64,
    /// Records the receiver's own verification flagged (stored, its receipt says `failed`).
    pub flagged_by_receiver: u64,
    /// Requests sent, retries included.
    pub requests: u32,
    /// Records still waiting after this sync.
    pub pending: u64,
    /// The receiver rotated its receipt key, and this sync followed the rotation (signed by the
    /// key the device trusted): keep this key (DER SubjectPublicKeyInfo) in place of the one
    /// passed to `sync`, durably and in one write, and pass it to every later call (`sync`,
    /// `fetchManifest`, `manifestItem`, `keptTrustBundle`). `None`: the key did not change.
    pub new_receiver_key: Option<Vec<u8>>,
    /// The receiver's TLS key pins it announced, signed by the receipt key this device trusts
    /// (after `new_receiver_key`, if any): keep them and their `issued_at` in place of the pins
    /// kept so far, in the same durable write as `new_receiver_key`, and pass them as
    /// `ReceiverConfig.receiver_pins` from then on. `None`: nothing new (no announcement, not a
    /// pinned device, or not newer than the pins kept).
    pub tls_pins: Option<AnnouncedTlsPins>,
    /// What happened to the item manifest (fetched after the records by this same sync, so a
    /// manifest the receiver still signs with a receipt key this sync's rotation replaced is
    /// fetched again until the new key signs it; kept in the store).
    pub manifest: ManifestUpdate,
    /// What happened to the trust bundle (fetched after the records, kept beside the store).
    pub trust_bundle: TrustBundleUpdate,
}

#[uniffi::export]
impl RecordStore {
    /// Enrols this device's key with the receiver, once, with the one-time code its operator
    /// issued for `receiver.device_id`. Keep the returned `receiver_key` for [`Self::sync`].
    pub fn enrol(&self, receiver: ReceiverConfig, code: String) -> Result<Enrolment, HonninError> {
        let code = Zeroizing::new(code);
        let config = receiver.to_core()?;
        let stop = Arc::new(StopSignal::new(None));
        let signer = Signer::new(Arc::clone(&self.signer), Arc::clone(&stop));
        let enrolment = bridged(&stop, SyncClient::enrol_device(&config, &code, &signer))?;
        let device_key = bridged(
            &stop,
            honnin_core::record::DeviceSigner::public_key_der(&signer)
                .map_err(honnin_core::record::RecordError::from)
                .and_then(|der| DeviceKey::from_spki_der(&der)),
        )?;
        Ok(Enrolment {
            receiver_key: enrolment.receipt_key.spki_der().to_vec(),
            receiver_key_id: enrolment.receipt_key.id_hex(),
            device_key_id: device_key.id_hex(),
            receiver_tls_pin: enrolment.tls_pin.map(|pin| pin.to_string()),
        })
    }

    /// Sends every record not yet synced to the receiver, in batches, and marks each synced once
    /// the receiver's receipt for it verifies with `receiver_key` (from [`Self::enrol`]).
    ///
    /// First it follows the receiver's receipt-key rotations from `receiver_key`, each signed
    /// by the key it replaces; a new key comes back in `new_receiver_key` for the app to keep.
    /// A pinned device then takes the TLS pins the receiver announced, signed by the receipt
    /// key trusted now (`tls_pins`, to keep with it). After the records it fetches the item
    /// manifest (`manifest`; see `manifest`) and the trust bundle (`trust_bundle`; see
    /// `keptTrustBundle`) and keeps both.
    ///
    /// Throws `UntrustedReceiver` when the receiver's TLS key or certificate is not the trusted
    /// one (nothing is sent), `ReceiptKeyRotationRefused` when the receiver's receipt key is
    /// not reached by rotations the trusted key signed (nothing is sent; the trusted key
    /// stays), `TlsPinsRefused` when its TLS pin announcement does not verify with the receipt
    /// key or is a replay (nothing is sent; the pins kept stay), `DeviceRevoked` when the
    /// operator revoked this device (retrying will not help), `Offline` when the receiver
    /// cannot be reached (records stay pending: sync again later), `Cancelled` when
    /// `cancellation` was cancelled (before the next request; records already acknowledged
    /// stay synced). A rotation or pins learnt by a sync that then throws are learnt again by
    /// the next one. Calls block on the network: run them off the main thread. Two syncs of
    /// one store run one after the other.
    #[uniffi::method(default(listener = None, cancellation = None))]
    pub fn sync(
        &self,
        receiver: ReceiverConfig,
        receiver_key: Vec<u8>,
        listener: Option<Arc<dyn SyncListener>>,
        cancellation: Option<Arc<CancellationToken>>,
    ) -> Result<SyncSummary, HonninError> {
        let pins_issued_at = receiver.receiver_pins_issued_at;
        let ReceiverCall {
            _one_at_a_time,
            receiver_key,
            config,
            stop,
            mut store,
            clock,
        } = self.receiver_call(receiver, &receiver_key, cancellation)?;
        let pending = store.info()?.pending_sync;
        let gate = |listener| SyncGate {
            signer: Signer::new(Arc::clone(&self.signer), Arc::clone(&stop)),
            stop: Arc::clone(&stop),
            listener,
            pending,
            batch_size: config.batch_size as u64,
            state: Mutex::new(GateState::default()),
        };
        let batches = gate(listener);
        let trusted_before = receiver_key.clone();
        let pinned = matches!(config.tls, TlsTrust::Pinned(_) | TlsTrust::PinnedSet(_));
        let mut client = SyncClient::new(config.clone(), receiver_key);
        // The receipt key first: the receipts of this sync may be signed by a new one. A
        // receiver that cannot be reached now is reported by the sync below.
        let new_receiver_key = match client.update_receipt_key() {
            Ok(key) => key.map(|key| key.spki_der().to_vec()),
            Err(SyncError::Unreachable { .. }) => None,
            Err(error) => return bridged(&stop, Err::<SyncSummary, _>(error)),
        };
        let time = honnin_core::verify::Clock::now(&clock);
        // Then the TLS pins, verified with the receipt key trusted now (only a pinned device
        // keeps pins). One that does not verify stops the sync before anything is sent, like
        // a rotation that does not.
        let tls_pins = if pinned {
            tls_pins::announced(&client, pins_issued_at, time.0)?
        } else {
            None
        };
        let kept_serial =
            trust_bundle::kept_serial(self, &[client.receipt_key(), &trusted_before], time);
        let result = client.sync(&mut store, &batches, &clock, &mut SystemRandom);
        let report = bridged(&stop, result)?;
        // The manifest and the bundle are announced to no listener: they are not records.
        let manifest = crate::manifest::refresh(&client, &mut store, &gate(None), &clock);
        let mut manifest = match manifest {
            Ok(update) => update,
            Err(revoked) => return bridged(&stop, Err::<SyncSummary, _>(revoked)),
        };
        let bundle = trust_bundle::refresh(self, &client, kept_serial, &gate(None), &clock);
        let mut bundle = match bundle {
            Ok(update) => update,
            Err(revoked) => return bridged(&stop, Err::<SyncSummary, _>(revoked)),
        };
        if let Some(reason) = stop.take() {
            let detail = HonninError::from(reason).to_string();
            if !matches!(manifest, ManifestUpdate::Kept { .. }) {
                manifest = ManifestUpdate::NotUpdated {
                    detail: detail.clone(),
                    retryable: true,
                };
            }
            bundle = TrustBundleUpdate::NotUpdated {
                detail,
                retryable: true,
            };
        }
        Ok(SyncSummary {
            synced: report.synced,
            duplicates: report.duplicates,
            flagged_by_receiver: report.flagged,
            requests: report.requests,
            pending: store.info()?.pending_sync,
            new_receiver_key,
            tls_pins,
            manifest,
            trust_bundle: bundle,
        })
    }
}

/// What a call that talks to the receiver (sync, the manifest download) holds: the store's
/// network lock (one such call at a time), the parsed settings, the call's stop signal and
/// clock, and a store connection of its own, bound to the configured device, so records can
/// still be stored while the call waits on the network.
pub(crate) struct ReceiverCall<'a> {
    pub(crate) _one_at_a_time: MutexGuard<'a, ()>,
    pub(crate) receiver_key: DeviceKey,
    pub(crate) config: SyncConfig,
    pub(crate) stop: Arc<StopSignal>,
    pub(crate) store: Store,
    pub(crate) clock: LiveClock,
}

impl RecordStore {
    pub(crate) fn receiver_call(
        &self,
        receiver: ReceiverConfig,
        receiver_key: &[u8],
        cancellation: Option<Arc<CancellationToken>>,
    ) -> Result<ReceiverCall<'_>, HonninError> {
        let one_at_a_time = self
            .sync_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let receiver_key = receipt_key(receiver_key)?;
        let config = receiver.to_core()?;
        let stop = Arc::new(StopSignal::new(cancellation));
        if !stop.may_continue() {
            return Err(BridgeError::Cancelled.into());
        }
        let keys = Keys::new(Arc::clone(&self.keys), Arc::clone(&stop));
        let store = bridged(&stop, Store::open(&self.path, &keys))?;
        if let Some(bound) = store.device()?
            && bound.device_id != config.device_id
        {
            return Err(HonninError::invalid_argument(format!(
                "this store belongs to device {:?}, not {:?}: talk to the receiver with the device id its records were made with",
                bound.device_id, config.device_id
            )));
        }
        let clock = LiveClock::new(
            Arc::clone(&self.clock),
            Arc::clone(&stop),
            now(self.clock.as_ref())?,
        );
        Ok(ReceiverCall {
            _one_at_a_time: one_at_a_time,
            receiver_key,
            config,
            stop,
            store,
            clock,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receiver(pin: Option<&str>, ca: Vec<Vec<u8>>, use_platform_trust: bool) -> ReceiverConfig {
        ReceiverConfig {
            base_url: "https://receiver.example".into(),
            device_id: "device-1".into(),
            receiver_pin: pin.map(str::to_owned),
            receiver_pins: Vec::new(),
            receiver_pins_issued_at: None,
            ca_certificates_der: ca,
            allow_loopback_http: false,
            use_platform_trust,
            batch_size: 100,
            max_attempts: 6,
            timeout_seconds: 30,
            app_version: None,
        }
    }

    #[test]
    fn the_app_version_is_sent_only_when_the_receiver_would_accept_it() {
        let with = |version: &str| {
            let mut config = receiver(None, Vec::new(), false);
            config.app_version = Some(version.into());
            config.to_core()
        };
        assert_eq!(
            with(" honnin-android/1.4.0 ").expect("valid").app_version,
            Some("honnin-android/1.4.0".into())
        );
        assert_eq!(
            receiver(None, Vec::new(), false)
                .to_core()
                .expect("valid")
                .app_version,
            None
        );
        for refused in ["", "honnin-android/1.4.0\n", "本人/1.0", &"v".repeat(65)] {
            assert!(
                matches!(with(refused), Err(HonninError::InvalidArgument { .. })),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn platform_trust_only_without_a_pin_or_a_ca() {
        let trust = |config: ReceiverConfig| config.to_core().expect("valid config").tls;
        // Asked for, and nothing more specific given: the platform's verifier (on this host the
        // OS store, read directly; on Android after PlatformTrust.init).
        assert!(matches!(
            trust(receiver(None, Vec::new(), true)),
            TlsTrust::Platform(_)
        ));
        // Not asked for: the web roots compiled into the core, as before.
        assert!(matches!(
            trust(receiver(None, Vec::new(), false)),
            TlsTrust::WebPki
        ));
        // A pin wins over it, and so does a private CA.
        let pin = format!("sha256/{}", "A".repeat(43) + "=");
        assert!(matches!(
            trust(receiver(Some(&pin), Vec::new(), true)),
            TlsTrust::Pinned(_)
        ));
        assert!(matches!(
            trust(receiver(None, vec![vec![0x30]], true)),
            TlsTrust::PrivateCa(_)
        ));
        // A malformed pin is still refused, not replaced by the platform's trust.
        assert!(
            receiver(Some("sha256/nope"), Vec::new(), true)
                .to_core()
                .is_err()
        );
    }
}
