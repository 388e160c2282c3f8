//! Where the receiver keeps devices, senders, records and receipts, and senders' items and
//! webhooks ([`ItemStorage`], [`WebhookStorage`]): the [`Storage`] trait and
//! its two implementations, [`SqliteStorage`] (embedded, zero setup, the default) and
//! [`PostgresStorage`] (several stateless receivers on one database).
//!
//! The trait is synchronous: handlers call it from blocking tasks (`spawn_blocking`), never
//! from the async runtime's worker threads, so an implementation may block on its database.
//! Secrets only checked are kept as SHA-256 hashes (sender tokens, enrolment codes); those the
//! receiver must use (its receipt key, webhook secrets) are sealed when it has a secrets key
//! ([`crate::secrets`]). Records are stored as their canonical envelopes.
//!
//! A batch is stored in one transaction by [`Storage::insert_batch`], optimistically: ingest
//! reads the device's chain head and the records already held ([`Storage::batch_state`]),
//! verifies the batch outside any lock, then asks to store it *only if* the head is still the
//! one it verified against and none of its records arrived meanwhile. Otherwise nothing is
//! written ([`BatchCommit::Stale`]) and ingest verifies again against the new state. So a
//! concurrent batch can never make a record's chain link be checked against a stale head, and
//! a gap or a fork is always seen. Both implementations also keep feed cursors in commit
//! order, so a sender's feed never skips a record committed late. A feed cursor is the
//! record's position in its own sender's feed (`sender_seq`: 1, 2, 3, …), never a global
//! counter, so a sender's cursors say nothing about how many records other senders get.

mod audit;
mod checkpoint;
mod cursors;
mod devices;
mod enrolment;
mod items;
mod overview;
mod postgres;
mod sqlite;
mod webhooks;

use std::collections::HashMap;

use crate::audit::NewAuditEntry;

pub use audit::AuditStorage;
pub use devices::{DeviceRow, DeviceStorage, ReplaceOutcome, Revocation, RevokeOutcome};
pub use enrolment::Enrolment;
pub use items::{Delivery, ItemRow, ItemStorage};
pub use overview::{Overview, OverviewStorage, SenderFigures};
pub use postgres::PostgresStorage;
pub use sqlite::SqliteStorage;
pub use webhooks::{WebhookRow, WebhookStorage};

/// A failure of the database.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("the receiver's database failed ({context}): {detail}")]
    Database {
        context: &'static str,
        detail: String,
    },
    #[error("the device {0:?} is already enrolled")]
    AlreadyEnrolled(String),
    #[error("the sender {0:?} already exists")]
    SenderExists(String),
    #[error(
        "the device's chain changed under {attempts} concurrent batches in a row; the batch was not stored, send it again"
    )]
    Contended { attempts: u32 },
    #[error("the item {0:?} is registered by another sender")]
    ItemTaken(String),
    #[error("the sender would have more than {cap} undelivered items on device {device_id:?}")]
    TooManyItems { device_id: String, cap: usize },
    #[error("the database address {0:?} is neither a file path nor a postgres:// URL")]
    BadAddress(String),
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretsError),
}

/// The last record of a device's chain held: `(seq, hash)`, as record verification takes it.
pub type ChainHead = (u64, [u8; 32]);

/// The head after `seq, hash` is stored on top of `head`: the record with the highest position
/// wins, and among equal positions the one stored first (a later fork does not move it).
pub fn next_head(head: Option<ChainHead>, seq: u64, hash: [u8; 32]) -> Option<ChainHead> {
    match head {
        Some((held, _)) if seq <= held => head,
        _ => Some((seq, hash)),
    }
}

/// A record as ingested, ready to be stored.
#[derive(Debug, Clone)]
pub struct NewRecord {
    pub record_id: String,
    pub record_hash: [u8; 32],
    pub device_id: String,
    pub seq: u64,
    pub sender_id: String,
    pub item_id: String,
    pub envelope: String,
    pub verification: String,
    pub receipt: String,
    pub received_at: i64,
    /// The door check's time when this record proves its registered item was handed to the
    /// addressee (genuine, fully verified, the item's policy passed): the item then leaves
    /// its device's manifest.
    pub delivered_at: Option<i64>,
}

/// A record already held: its hash (lowercase hex) and the receipt given when it was first
/// stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRecord {
    pub record_hash: String,
    pub receipt: String,
}

/// What a batch is verified against: the device's chain head and which of the batch's record
/// ids are already held, read together.
#[derive(Debug, Clone, Default)]
pub struct BatchState {
    pub head: Option<ChainHead>,
    /// The latest time the head record claims (its own or its challenge's): the device's next
    /// record cannot be older ([`honnin_core::verify::record::TimeWindow`]).
    pub head_time: Option<i64>,
    pub held: HashMap<String, HeldRecord>,
}

/// A verified batch to store in one transaction.
#[derive(Debug, Clone, Copy)]
pub struct BatchWrite<'a> {
    pub device_id: &'a str,
    /// The head the records were verified against; the batch is stored only if it still is.
    pub expected_head: Option<ChainHead>,
    /// New records, distinct ids, in the order the device sent them.
    pub records: &'a [NewRecord],
}

/// The outcome of [`Storage::insert_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum BatchCommit {
    /// Every record is stored and durable, and the device's head moved.
    Stored,
    /// The head moved or one of the records arrived since the batch was verified: nothing was
    /// written.
    Stale,
}

/// One entry of a sender's feed.
#[derive(Debug, Clone)]
pub struct FeedRow {
    /// The record's position in its sender's feed.
    pub cursor: i64,
    pub envelope: String,
    pub device_key_spki: Vec<u8>,
    pub receipt: String,
    pub verification: String,
    /// When the receiver stored the record.
    pub received_at: i64,
    /// The revocation of the device that made the record, if it was revoked: the feed flags
    /// the record when it was made or received at or after the revocation's cut-off.
    pub revocation: Option<Revocation>,
    /// Each stored document's checksum as written with the row (SQLite), checked instead of
    /// parsing the document on every page ([`crate::feed_page`]).
    pub checksums: DocumentChecksums,
}

/// CRC-32 of a row's envelope, receipt and verification, written with the row when each was
/// valid JSON with nothing around it; `None` (rows stored before the checksums, PostgreSQL, or
/// a document that was not JSON) makes the feed validate that document as JSON instead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DocumentChecksums {
    pub envelope: Option<i64>,
    pub receipt: Option<i64>,
    pub verification: Option<i64>,
}

/// The receiver's storage.
pub trait Storage:
    ItemStorage
    + WebhookStorage
    + DeviceStorage
    + AuditStorage
    + OverviewStorage
    + Send
    + Sync
    + 'static
{
    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError>;
    /// Keeps `value` under `name` unless a value is kept already (the first writer wins, so
    /// receivers starting together agree on one receipt key).
    fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StorageError>;
    /// Replaces the value under `name` if it is still `expected`; `Ok(false)` otherwise.
    fn replace_meta(&self, name: &str, expected: &[u8], value: &[u8])
    -> Result<bool, StorageError>;
    /// Keeps the hash of a one-time enrolment code for `device_id`, valid until `expires_at`.
    fn add_enrolment_code(
        &self,
        device_id: &str,
        code_hash: &str,
        expires_at: i64,
    ) -> Result<(), StorageError>;
    /// Consumes the code, enrols the key and appends the audit entry `audit` makes of what the
    /// enrolment established, in one transaction: should the entry not be written, the device
    /// is not enrolled and its code stays unused. `Ok(false)`: no such unused, unexpired code
    /// for this device.
    fn enrol(
        &self,
        device_id: &str,
        code_hash: &str,
        key_spki: &[u8],
        now: i64,
        audit: &dyn Fn(&Enrolment<'_>) -> NewAuditEntry,
    ) -> Result<bool, StorageError>;
    fn device_key(&self, device_id: &str) -> Result<Option<Vec<u8>>, StorageError>;
    /// Lets `device_id`'s records for `sender_id` reach that sender's feed without an item the
    /// sender registered (the operator enrolled the device for the sender). Idempotent; the
    /// device need not be enrolled yet.
    fn allow_device_sender(&self, device_id: &str, sender_id: &str) -> Result<(), StorageError>;
    /// The senders `device_id` was enrolled for, sorted.
    fn device_senders(&self, device_id: &str) -> Result<Vec<String>, StorageError>;
    /// Remembers a request nonce; `Ok(false)` when it was seen before (a replay). Nonces seen
    /// more than `retention` seconds before `now` are forgotten
    /// ([`crate::auth::nonce_retention`] ties that to the accepted clock skew).
    fn use_nonce(
        &self,
        device_id: &str,
        nonce: &str,
        now: i64,
        retention: i64,
    ) -> Result<bool, StorageError>;
    fn add_sender(&self, sender_id: &str, token_hash: &str) -> Result<(), StorageError>;
    fn sender_by_token(&self, token_hash: &str) -> Result<Option<String>, StorageError>;
    fn held(&self, record_id: &str) -> Result<Option<HeldRecord>, StorageError>;
    /// The last record of a device's chain held.
    fn device_head(&self, device_id: &str) -> Result<Option<ChainHead>, StorageError>;
    /// The device's head and the held records among `record_ids`, from one snapshot.
    fn batch_state(&self, device_id: &str, record_ids: &[&str])
    -> Result<BatchState, StorageError>;
    /// In one transaction, with the device's head locked: if the head is still
    /// `batch.expected_head` and no record of the batch is held, stores every record, moves the
    /// head by [`next_head`] over them in order, and commits durably ([`BatchCommit::Stored`]);
    /// otherwise writes nothing ([`BatchCommit::Stale`]).
    fn insert_batch(&self, batch: &BatchWrite<'_>) -> Result<BatchCommit, StorageError>;
    /// Up to `limit` records for `sender_id` with a cursor after `after`, in cursor order.
    fn feed(&self, sender_id: &str, after: i64, limit: u32) -> Result<Vec<FeedRow>, StorageError>;
    /// [`Storage::feed`]'s rows written as entries of `page`. This default writes the rows
    /// `feed` read; SQLite writes each entry from its own row buffers instead (no copy of the
    /// stored documents in between).
    fn write_feed(
        &self,
        sender_id: &str,
        after: i64,
        limit: u32,
        page: &mut crate::feed_page::PageWriter<'_>,
    ) -> Result<(), StorageError> {
        for row in &self.feed(sender_id, after, limit)? {
            page.row(row);
        }
        Ok(())
    }
    fn count_records(&self) -> Result<u64, StorageError>;
}

/// Opens the storage `address` names: a `postgres://` or `postgresql://` URL, or else the path
/// of a SQLite database file (created when missing).
pub fn open(address: &str) -> Result<std::sync::Arc<dyn Storage>, StorageError> {
    if address.starts_with("postgres://") || address.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(PostgresStorage::connect(address)?))
    } else if address.contains("://") || address.is_empty() {
        Err(StorageError::BadAddress(address.to_owned()))
    } else {
        Ok(std::sync::Arc::new(SqliteStorage::open(
            std::path::Path::new(address),
        )?))
    }
}

/// The latest time the stored envelope of a head record claims; a damaged one is an error (a
/// stored record parsed when it arrived).
fn claimed_time_of(envelope: &str) -> Result<i64, StorageError> {
    let record = honnin_core::record::SignedRecord::parse(envelope.as_bytes()).map_err(|e| {
        StorageError::Database {
            context: "reading the time of a device's last record",
            detail: e.to_string(),
        }
    })?;
    Ok(honnin_core::verify::record::evidence::claimed_time(
        record.body(),
    ))
}

/// The head as stored (`head_seq`, hex `head_hash`); a damaged value reads as an error, not as
/// "no head", which would pass a chain gap as a device's first record.
fn parse_head(seq: Option<i64>, hash: Option<String>) -> Result<Option<ChainHead>, StorageError> {
    let damaged = || StorageError::Database {
        context: "reading a device's chain head",
        detail: "the stored head is damaged".into(),
    };
    match (seq, hash) {
        (Some(seq), Some(hash)) => {
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(&hash, &mut bytes).map_err(|_| damaged())?;
            let seq = u64::try_from(seq).map_err(|_| damaged())?;
            Ok(Some((seq, bytes)))
        }
        (None, None) => Ok(None),
        _ => Err(damaged()),
    }
}

/// Positions are stored as signed 64-bit integers (both databases' integer type).
fn seq_column(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// Nonces are kept at least this long; longer when the accepted clock skew needs it
/// ([`crate::auth::nonce_retention`]).
pub const NONCE_RETENTION_SECONDS: i64 = 3600;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_moves_to_the_highest_position_and_a_fork_does_not_move_it() {
        let a = [1u8; 32];
        let b = [2u8; 32];
        assert_eq!(next_head(None, 3, a), Some((3, a)));
        assert_eq!(next_head(Some((3, a)), 4, b), Some((4, b)));
        assert_eq!(next_head(Some((3, a)), 3, b), Some((3, a)));
        assert_eq!(next_head(Some((3, a)), 2, b), Some((3, a)));
    }

    #[test]
    fn a_damaged_head_is_an_error_not_a_missing_one() {
        assert!(parse_head(None, None).expect("empty").is_none());
        assert!(parse_head(Some(1), Some("zz".into())).is_err());
        assert!(parse_head(Some(-1), Some(hex::encode([0u8; 32]))).is_err());
        assert!(parse_head(Some(1), None).is_err());
        assert_eq!(
            parse_head(Some(2), Some(hex::encode([7u8; 32]))).expect("head"),
            Some((2, [7u8; 32]))
        );
    }

    #[test]
    fn an_address_is_a_postgres_url_or_a_file_path() {
        assert!(matches!(
            open("mysql://localhost/x"),
            Err(StorageError::BadAddress(_))
        ));
        assert!(matches!(open(""), Err(StorageError::BadAddress(_))));
    }
}
