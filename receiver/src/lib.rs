//! honnin's receiver: devices enrol with their public key (an operator issues a one-time code),
//! send signed batches of proof records, and get a signed receipt per record; each record is
//! re-verified on ingest ([`honnin_core::verify::record::verify_record`]) against the
//! operator's trust anchors and CRLs; senders read their own records from a cursor-paginated
//! feed with a hashed API token.
//!
//! The HTTP API is described by `openapi.json` (OpenAPI 3.0), served at `/v1/openapi.json`; a
//! test checks that every route of [`router`] is in the document and the other way round.
//!
//! Storage is SQLite by default ([`SqliteStorage`], one file, zero setup) or PostgreSQL
//! ([`PostgresStorage`]) for several stateless receivers on one database; both keep the same
//! guarantees (see [`storage`]): a record is held once, a batch is stored in one transaction
//! after it was verified against the device's current chain head, and a receipt is sent only
//! for what is durably stored.
//!
//! Modules: [`storage`] (SQLite, PostgreSQL), [`ingest`] (batches, receipts), [`routes`] (HTTP),
//! [`auth`] (request signatures, tokens, rate limit), [`operator`] (enrolment codes, senders),
//! [`receiver_trust`] (what ingest re-verifies with: `serve`'s trust and the loaded bundle),
//! [`tls`] (HTTPS with rustls, self-signed certificates and their pins), [`items`] (senders'
//! items, the signed device manifest, the policy check on ingest), [`webhook`] (signed pushes
//! of the feed with retries), [`webhook_url`] (where a webhook may point), [`fleet`] (devices:
//! list, revoke, re-enrol), [`audit`] (the operator's hash-chained audit log), [`rotation`]
//! (receipt and secrets keys replaced without downtime), [`tls_pins`] (the next TLS key announced
//! to pinning devices), [`http_conn`] and [`parse_refusals`] (each connection's limits, and
//! hyper's own refusals of a header with the typed error body) and [`console`] (the operator's
//! web page and `/metrics` on a port of their own).

pub mod audit;
pub mod auth;
pub mod console;
pub mod error;
pub mod feed_page;
pub mod fleet;
pub mod http_conn;
pub mod ingest;
pub mod items;
pub mod operator;
pub mod operator_cli;
pub mod parse_refusals;
pub mod receipt_signer;
pub mod receiver_trust;
pub mod rejections;
pub mod rotation;
pub mod routes;
pub mod secrets;
pub mod storage;
pub mod tls;
pub mod tls_pins;
pub mod tls_reload;
pub mod trust_bundle;
pub mod webhook;
pub mod webhook_url;

use std::sync::Arc;

use honnin_core::check::Verifier;
use honnin_core::record::DeviceKey;

pub use routes::router;
pub use secrets::SecretBox;
pub use storage::{PostgresStorage, SqliteStorage, Storage, StorageError};

/// The OpenAPI 3 document of the HTTP API.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Limits and windows of the API.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Most records in one batch.
    pub max_batch: usize,
    /// How far a batch's timestamp may be from the receiver's clock, in seconds.
    pub max_clock_skew: i64,
    /// Failed authentications per client address and minute before requests get 429.
    pub max_auth_failures: u32,
    /// Largest feed page.
    pub max_page: u32,
    /// Open TLS connections served at once; further clients wait in the listen backlog, so a
    /// flood of idle connections cannot take every descriptor of the process.
    pub max_connections: usize,
    /// Whether senders' webhooks may point at loopback, private or link-local addresses (and
    /// plain http to loopback): off unless the operator allows it, see [`webhook_url`].
    pub allow_private_webhooks: bool,
    /// Most undelivered items one sender may have on one device: a device's manifest lists at
    /// most [`honnin_core::manifest::MAX_ITEMS`], shared fairly among its senders, so no
    /// sender can take all of it.
    pub max_items_per_device: usize,
    /// How long before a trust-bundle revocation list's nextUpdate the console and `/metrics`
    /// warn of it, in seconds ([`console::crl_status`]).
    pub crl_warning_seconds: i64,
    /// Time a client has for a request's whole header once its first byte arrived
    /// ([`http_conn`]): a slowloris client is cut off then.
    pub header_timeout: std::time::Duration,
    /// Time a client has to finish the TLS handshake after connecting ([`tls`]).
    pub handshake_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body: 8 * 1024 * 1024,
            max_batch: 1000,
            max_clock_skew: 300,
            max_auth_failures: 10,
            max_page: 1000,
            max_connections: 1024,
            allow_private_webhooks: false,
            max_items_per_device: 1000,
            crl_warning_seconds: 72 * 3600,
            header_timeout: http_conn::HEADER_TIMEOUT,
            handshake_timeout: tls::HANDSHAKE_TIMEOUT,
        }
    }
}

/// What every request handler shares.
pub struct Receiver {
    pub storage: Arc<dyn Storage>,
    /// What records are re-verified with: `serve`'s own trust and the newest loaded trust
    /// bundle ([`receiver_trust`]); take it once per batch with
    /// [`receiver_trust::ReceiverTrust::for_batch`].
    pub verifier: receiver_trust::ReceiverTrust,
    /// The receipt key: sign with [`rotation::ReceiptKeys::signer`] (it changes in place when
    /// the key is rotated).
    pub key: rotation::ReceiptKeys,
    pub limits: Limits,
    pub limiter: auth::FailureLimiter,
    /// How the receipt key and webhook secrets are kept in the database.
    pub secrets: SecretBox,
    /// What this instance counted, for the operator console and `/metrics`.
    pub metrics: console::Metrics,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Receiver({:?})", self.key)
    }
}

impl Receiver {
    /// The receiver over `storage`, with its receipt key (made and kept in the storage on first
    /// use) and `verifier`'s anchors and CRLs (the newest loaded trust bundle is added to them
    /// at each batch, [`receiver_trust`]).
    pub fn new(storage: Arc<dyn Storage>, verifier: Verifier) -> Result<Self, StorageError> {
        Self::with_secrets(storage, verifier, SecretBox::Plain)
    }

    /// The receiver over `storage`, keeping its secrets as `secrets` says: values kept unsealed
    /// before are sealed now, and a sealed value that does not open is an error here, before
    /// anything is served.
    pub fn with_secrets(
        storage: Arc<dyn Storage>,
        verifier: Verifier,
        secrets: SecretBox,
    ) -> Result<Self, StorageError> {
        let key = rotation::ReceiptKeys::load(storage.as_ref(), &secrets)?;
        operator::seal_webhook_secrets(storage.as_ref(), &secrets)?;
        Ok(Self {
            storage,
            verifier: verifier.into(),
            key,
            limits: Limits::default(),
            limiter: auth::FailureLimiter::default(),
            secrets,
            metrics: console::Metrics::default(),
        })
    }

    /// The public key receipts are signed with now (devices learn it at enrolment, and a new
    /// one through a rotation the old one signed).
    pub fn receipt_key(&self) -> DeviceKey {
        self.key.signer().device_key().clone()
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
