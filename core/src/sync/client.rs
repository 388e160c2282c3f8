//! The store-and-forward client: unsynced records in batches to the receiver, each marked synced
//! only on a verified receipt.

use std::time::Duration;

use serde::Deserialize;

use super::backoff::Backoff;
use super::protocol::{
    HEADER_APP_VERSION, HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP,
    ReceiptError, SignedReceipt, sign_batch,
};
use super::tls::{
    ConfigError, TlsConnector, TlsRefusal, TlsTrust, check_url, client_config, refusal,
};
use crate::manifest::ManifestError;
use crate::record::{DeviceKey, DeviceSigner, RecordError, SignedRecord, hex_lower};
use crate::store::{Store, StoreError};
use crate::verify::{Clock, RandomSource, UnixTime};

/// Where and how to sync.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// The receiver's base URL, e.g. `https://receiver.example` (no trailing slash needed).
    pub base_url: String,
    pub device_id: String,
    /// Records per request.
    pub batch_size: usize,
    /// Tries per batch before [`SyncClient::sync`] gives up for now (records stay pending).
    pub max_attempts: u32,
    pub backoff: Backoff,
    /// Whole-request timeout (connect, send, receive).
    pub timeout: Duration,
    /// How the receiver's TLS certificate is verified (see [`TlsTrust`]).
    pub tls: TlsTrust,
    /// Whether a plain `http://` receiver URL may be used; only ever to a loopback address
    /// (tests, a receiver on the same machine). Any other `http://` URL is refused.
    pub allow_loopback_http: bool,
    /// What the device runs (e.g. `honnin-cli/0.4.0`), told to the receiver with each signed
    /// request (`x-honnin-app-version`) so its operator sees which devices need an update.
    pub app_version: Option<String>,
    /// The pause before downloading a manifest or trust bundle again that the receiver still
    /// signed with the receipt key a rotation of this sync replaced (its instances switch keys
    /// within seconds; see `manifest_fetch`).
    pub rotation_pause: Duration,
}

impl SyncConfig {
    pub fn new(base_url: &str, device_id: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            device_id: device_id.to_owned(),
            batch_size: 100,
            max_attempts: 6,
            backoff: Backoff::default(),
            timeout: Duration::from_secs(30),
            tls: TlsTrust::default(),
            // Plain HTTP is a choice the caller makes explicitly (tests, a receiver on the same
            // machine), never a default.
            allow_loopback_http: false,
            app_version: None,
            rotation_pause: Duration::from_secs(1),
        }
    }

    /// With `trust` for the receiver's certificate.
    pub fn with_trust(mut self, trust: TlsTrust) -> Self {
        self.tls = trust;
        self
    }

    /// Whether the configuration can be used, before anything is sent.
    pub fn check(&self) -> Result<(), ConfigError> {
        check_url(&self.base_url, &self.tls, self.allow_loopback_http)
    }
}

/// What one [`SyncClient::sync`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Requests sent (retries included).
    pub requests: u32,
    /// Records marked synced on a verified receipt.
    pub synced: u64,
    /// Of those, records the receiver already held (a repeat after a lost answer).
    pub duplicates: u64,
    /// Records the receiver's ingest verification flagged (stored, receipt says `failed`).
    pub flagged: u64,
}

/// Why a sync stopped. Records not synced stay pending; calling sync again later resumes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// No connection, timeouts, 5xx or truncated answers on every try: offline, try later.
    #[error(
        "the receiver could not be reached after {attempts} tries ({last}); records stay pending"
    )]
    Unreachable { attempts: u32, last: String },
    /// The receiver refused the request (4xx): retrying the same request will not help.
    #[error("the receiver refused the batch ({status}): {message}")]
    Refused { status: u16, message: String },
    /// The receiver's operator revoked this device (lost or stolen): nothing more is accepted
    /// from it, and retrying will not help. The message says why and since when.
    #[error("this device was revoked at the receiver and can no longer sync: {message}")]
    DeviceRevoked { message: String },
    /// The receiver refused a record in the batch.
    #[error("the receiver refused record {record_id}: {message}")]
    RecordRefused { record_id: String, message: String },
    /// A receipt that does not verify: the record is not marked synced.
    #[error("the receipt for record {record_id} is not valid ({error}); the record stays pending")]
    BadReceipt {
        record_id: String,
        error: ReceiptError,
    },
    /// The receiver's TLS identity is not the trusted one: nothing was sent, and retrying will
    /// not help.
    #[error("refusing the receiver: {0}")]
    UntrustedReceiver(TlsRefusal),
    /// The configuration cannot be used (URL, plain HTTP, CA certificates); nothing was sent.
    #[error("sync configuration: {0}")]
    Config(#[from] ConfigError),
    /// The receiver announced a receipt key this device cannot chain to the key it trusts:
    /// the trusted key stays in use.
    #[error("refusing the receiver's new receipt key: {0}")]
    BadKeyRotation(super::rotation::RotationError),
    #[error("the receiver's answer is not what the protocol says: {0}")]
    Protocol(String),
    /// The manifest the receiver sent does not verify; the one kept before stays in use.
    #[error("the item manifest from the receiver is not valid ({0}); the previous one is kept")]
    BadManifest(ManifestError),
    /// The trust bundle the receiver sent does not verify; the one kept before stays in use.
    #[error("the trust bundle from the receiver is not valid ({0}); the previous one is kept")]
    BadTrustBundle(crate::trust_bundle::TrustBundleError),
    #[error(
        "record at position {position} cannot be read ({why}); run `honnin records verify-chain`"
    )]
    Unreadable { position: u64, why: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Record(#[from] RecordError),
}

#[derive(Deserialize)]
pub(super) struct BatchResponse {
    pub(super) results: Vec<BatchResult>,
}

#[derive(Deserialize)]
pub(super) struct BatchResult {
    pub(super) record_id: String,
    pub(super) status: String,
    pub(super) receipt: Option<SignedReceipt>,
    error: Option<String>,
}

/// Largest answer read from the receiver.
pub(super) const MAX_RESPONSE: u64 = 16 * 1024 * 1024;

/// Sends a store's pending records to one receiver.
pub struct SyncClient {
    /// The agent, or why the configuration cannot make one (reported by every call).
    agent: Result<ureq::Agent, ConfigError>,
    pub(super) config: SyncConfig,
    pub(super) receiver_key: DeviceKey,
    /// Receipt keys replaced by `receiver_key` through verified rotations: receipts signed
    /// before a rotation (or by a receiver instance not yet restarted) still verify.
    pub(super) previous_keys: Vec<DeviceKey>,
    /// The TLS pins the receiver announced with its receipt key (not yet verified: the caller
    /// verifies them with the receipt key it trusts and its kept date).
    tls_pins: Option<super::pin_announcement::SignedPinAnnouncement>,
}

/// A failed request: the message to retry with, or the error that ends the sync.
pub(super) fn classify(error: ureq::Error) -> Result<String, SyncError> {
    match error {
        ureq::Error::Rustls(rustls::Error::InvalidCertificate(e)) => {
            Err(SyncError::UntrustedReceiver(refusal(&e)))
        }
        other => Ok(other.to_string()),
    }
}

impl std::fmt::Debug for SyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SyncClient({})", self.config.base_url)
    }
}

impl SyncClient {
    /// `receiver_key` is the receiver's receipt key, learnt at enrolment. A configuration that
    /// cannot be used (see [`SyncConfig::check`]) makes every call return
    /// [`SyncError::Config`]; [`SyncClient::try_new`] reports it at once.
    pub fn new(config: SyncConfig, receiver_key: DeviceKey) -> Self {
        let agent = Self::build_agent(&config);
        Self {
            agent,
            config,
            receiver_key,
            previous_keys: Vec::new(),
            tls_pins: None,
        }
    }

    /// As [`SyncClient::new`], refusing an unusable configuration now.
    pub fn try_new(config: SyncConfig, receiver_key: DeviceKey) -> Result<Self, SyncError> {
        let client = Self::new(config, receiver_key);
        client.agent()?;
        Ok(client)
    }

    fn build_agent(config: &SyncConfig) -> Result<ureq::Agent, ConfigError> {
        use ureq::unversioned::resolver::DefaultResolver;
        use ureq::unversioned::transport::{Connector as _, TcpConnector};
        config.check()?;
        let connector = ().chain(TcpConnector::default()).chain(TlsConnector {
            config: client_config(&config.tls)?,
        });
        let settings = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            // An https:// receiver must never be followed to http://, nor anywhere else.
            .max_redirects(0)
            .build();
        Ok(ureq::Agent::with_parts(
            settings,
            connector,
            DefaultResolver::default(),
        ))
    }

    pub(super) fn agent(&self) -> Result<&ureq::Agent, SyncError> {
        self.agent
            .as_ref()
            .map_err(|e| SyncError::Config(e.clone()))
    }

    /// Sends every pending record, batch after batch, until none is left or a batch fails.
    pub fn sync(
        &self,
        store: &mut Store,
        signer: &dyn DeviceSigner,
        clock: &dyn Clock,
        random: &mut dyn RandomSource,
    ) -> Result<SyncReport, SyncError> {
        self.agent()?;
        let key = DeviceKey::from_spki_der(&signer.public_key_der().map_err(RecordError::from)?)?;
        // Batch after batch, the device's work overlapping the receiver's (upload.rs).
        self.upload(store, signer, &key, clock, random)
    }

    pub(super) fn send(
        &self,
        records: &[SignedRecord],
        signer: &dyn DeviceSigner,
        key: &DeviceKey,
        clock: &dyn Clock,
        random: &mut dyn RandomSource,
        report: &mut SyncReport,
    ) -> Result<BatchResponse, SyncError> {
        let mut body = Vec::from(&b"{\"records\":["[..]);
        for (i, record) in records.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&record.to_envelope_bytes());
        }
        body.extend_from_slice(b"]}");
        self.signed_exchange(
            "/v1/batches",
            Some(&body),
            &body,
            signer,
            key,
            clock,
            random,
            report,
            // A truncated or garbled answer: the batch may have been stored; resend.
            |text| serde_json::from_slice::<BatchResponse>(text).ok(),
        )
    }

    /// One request signed like a batch (`signed` is what the signature covers), sent until an
    /// answer `parse` accepts: transport errors, 408, 429, 5xx and unparsable answers are tried
    /// again with backoff, each try with a fresh nonce and time (a retry is a new request, not
    /// a replay); any other status ends it as refused. `body` `None` sends a GET.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn signed_exchange<T>(
        &self,
        path: &str,
        body: Option<&[u8]>,
        signed: &[u8],
        signer: &dyn DeviceSigner,
        key: &DeviceKey,
        clock: &dyn Clock,
        random: &mut dyn RandomSource,
        report: &mut SyncReport,
        parse: impl Fn(&[u8]) -> Option<T>,
    ) -> Result<T, SyncError> {
        let url = format!("{}{path}", self.config.base_url);
        let mut last = String::new();
        let attempts = self.config.max_attempts.max(1);
        for attempt in 0..attempts {
            if attempt > 0 {
                std::thread::sleep(self.config.backoff.delay(attempt - 1, random));
            }
            let mut nonce = [0u8; 16];
            random.fill(&mut nonce);
            let nonce = hex_lower(&nonce);
            let timestamp = clock.now().0;
            let signature = sign_batch(
                signer,
                key,
                &self.config.device_id,
                timestamp,
                &nonce,
                signed,
            )?;
            report.requests += 1;
            let agent = self.agent()?;
            let mut headers = vec![
                (HEADER_DEVICE, self.config.device_id.clone()),
                (HEADER_TIMESTAMP, timestamp.to_string()),
                (HEADER_NONCE, nonce),
                (HEADER_SIGNATURE, signature),
            ];
            if let Some(version) = &self.config.app_version {
                headers.push((HEADER_APP_VERSION, version.clone()));
            }
            let result = match body {
                Some(body) => {
                    let mut request = agent.post(&url).content_type("application/json");
                    for (name, value) in &headers {
                        request = request.header(*name, value);
                    }
                    request.send(body)
                }
                None => {
                    let mut request = agent.get(&url);
                    for (name, value) in &headers {
                        request = request.header(*name, value);
                    }
                    request.call()
                }
            };
            let mut response = match result {
                Ok(response) => response,
                Err(e) => {
                    last = classify(e)?;
                    continue;
                }
            };
            let status = response.status().as_u16();
            let text = response
                .body_mut()
                .with_config()
                .limit(MAX_RESPONSE)
                .read_to_vec();
            let text = match text {
                Ok(text) => text,
                Err(e) => {
                    last = format!("answer cut off: {e}");
                    continue;
                }
            };
            match status {
                200 => match parse(&text) {
                    Some(parsed) => return Ok(parsed),
                    None => last = format!("the answer to {path} is incomplete or garbled"),
                },
                408 | 429 | 500..=599 => last = format!("HTTP {status}"),
                403 if error_code(&text).as_deref() == Some("device_revoked") => {
                    return Err(SyncError::DeviceRevoked {
                        message: error_message(&text),
                    });
                }
                _ => {
                    return Err(SyncError::Refused {
                        status,
                        message: error_message(&text),
                    });
                }
            }
        }
        Err(SyncError::Unreachable { attempts, last })
    }

    /// Marks the records whose receipts verify (synced `at`); returns how many.
    pub(super) fn apply(
        &self,
        store: &mut Store,
        records: &[SignedRecord],
        response: BatchResponse,
        at: UnixTime,
        report: &mut SyncReport,
    ) -> Result<u64, SyncError> {
        // Every receipt is verified first; the records they acknowledge are then marked in one
        // transaction, also when a later result of the batch stops the sync.
        let mut acknowledged: Vec<String> = Vec::new();
        let mut stopped = None;
        let mut counts = SyncReport::default();
        for result in response.results {
            let Some(record) = records
                .iter()
                .find(|r| r.body().record_id() == result.record_id)
            else {
                stopped = Some(SyncError::Protocol(
                    "a result names a record that was not sent".into(),
                ));
                break;
            };
            match (result.status.as_str(), result.receipt) {
                ("accepted" | "duplicate", Some(receipt)) => {
                    if let Err(error) = self.verify_receipt(&receipt, &result.record_id, record) {
                        stopped = Some(SyncError::BadReceipt {
                            record_id: result.record_id.clone(),
                            error,
                        });
                        break;
                    }
                    counts.synced += 1;
                    counts.duplicates += u64::from(result.status == "duplicate");
                    counts.flagged += u64::from(receipt.receipt.outcome != "verified");
                    acknowledged.push(result.record_id);
                }
                _ => {
                    stopped = Some(SyncError::RecordRefused {
                        record_id: result.record_id,
                        message: result.error.unwrap_or_else(|| "no reason given".into()),
                    });
                    break;
                }
            }
        }
        if !acknowledged.is_empty() {
            store.mark_synced_all(&acknowledged, at)?;
            report.synced += counts.synced;
            report.duplicates += counts.duplicates;
            report.flagged += counts.flagged;
        }
        match stopped {
            Some(error) => Err(error),
            None => Ok(counts.synced),
        }
    }
}

impl SyncClient {
    /// A receipt by the current receipt key or one it replaced.
    fn verify_receipt(
        &self,
        receipt: &SignedReceipt,
        record_id: &str,
        record: &SignedRecord,
    ) -> Result<(), ReceiptError> {
        let hash = record.hash();
        let current = receipt.verify(&self.receiver_key, record_id, &hash);
        if current != Err(ReceiptError::BadSignature) {
            return current;
        }
        self.previous_keys
            .iter()
            .find_map(|key| receipt.verify(key, record_id, &hash).ok())
            .ok_or(ReceiptError::BadSignature)
    }

    /// The receipt key this client trusts now.
    pub fn receipt_key(&self) -> &DeviceKey {
        &self.receiver_key
    }

    /// Asks the receiver for its receipt key (`GET /v1/receipt-key`) and follows the rotations
    /// it serves from the key this client trusts ([`super::rotation::follow`]): the new key is
    /// trusted from now on (the caller keeps it, e.g. in place of the enrolment's), and the
    /// replaced ones still verify receipts. `Ok(None)`: the key did not change. A key that no
    /// rotation signed by the trusted key leads to is refused ([`SyncError::BadKeyRotation`])
    /// and the trusted key stays.
    pub fn update_receipt_key(&mut self) -> Result<Option<DeviceKey>, SyncError> {
        use base64::Engine as _;
        use base64::engine::general_purpose::STANDARD as BASE64;
        #[derive(Deserialize)]
        struct Announced {
            receipt_key: String,
            #[serde(default)]
            rotations: Vec<super::rotation::SignedKeyRotation>,
            #[serde(default)]
            tls_pins: Option<super::pin_announcement::SignedPinAnnouncement>,
        }
        let url = format!("{}/v1/receipt-key", self.config.base_url);
        let mut response = self
            .agent()?
            .get(&url)
            .call()
            .map_err(|e| match classify(e) {
                Ok(last) => SyncError::Unreachable { attempts: 1, last },
                Err(fatal) => fatal,
            })?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_vec()
            .map_err(|e| SyncError::Protocol(format!("receipt-key answer unreadable: {e}")))?;
        if status != 200 {
            return Err(SyncError::Refused {
                status,
                message: error_message(&text),
            });
        }
        let announced: Announced = serde_json::from_slice(&text)
            .map_err(|e| SyncError::Protocol(format!("receipt-key answer: {e}")))?;
        let served = BASE64
            .decode(announced.receipt_key.as_bytes())
            .ok()
            .and_then(|der| DeviceKey::from_spki_der(&der).ok())
            .ok_or_else(|| SyncError::Protocol("receipt-key answer has no valid key".into()))?;
        let learned = super::rotation::follow(&self.receiver_key, &announced.rotations, &served)
            .map_err(SyncError::BadKeyRotation)?;
        self.tls_pins = announced.tls_pins;
        if learned.is_empty() {
            return Ok(None);
        }
        for key in learned {
            let replaced = std::mem::replace(&mut self.receiver_key, key);
            self.previous_keys.push(replaced);
        }
        Ok(Some(self.receiver_key.clone()))
    }

    /// The TLS pins the receiver announced in the answer [`Self::update_receipt_key`] read, if
    /// any; verify them ([`super::pin_announcement::SignedPinAnnouncement::verify`]) with
    /// [`Self::receipt_key`] before trusting them.
    pub fn tls_pin_announcement(&self) -> Option<&super::pin_announcement::SignedPinAnnouncement> {
        self.tls_pins.as_ref()
    }
}

/// The `error.code` of a receiver's error answer.
fn error_code(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
}

/// The `error.message` of a receiver's error answer, or a short note.
fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "no error message".into())
}
