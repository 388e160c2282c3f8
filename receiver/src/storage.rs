//! Where the receiver keeps devices, senders, records and receipts: a [`Storage`] trait and its
//! SQLite implementation (embedded, zero setup).
//!
//! The trait is synchronous and called from blocking tasks, so an implementation may block on its
//! database; a PostgreSQL implementation for several stateless receivers on one database plugs in
//! here (see the crate docs for what remains). Every secret kept is a SHA-256 hash (sender
//! tokens, enrolment codes); records are stored as their canonical envelopes.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

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
}

fn db(context: &'static str) -> impl Fn(rusqlite::Error) -> StorageError {
    move |e| StorageError::Database {
        context,
        detail: e.to_string(),
    }
}

/// A record as ingested, ready to be stored.
#[derive(Debug, Clone)]
pub struct NewRecord {
    pub record_id: String,
    pub record_hash: String,
    pub device_id: String,
    pub seq: u64,
    pub sender_id: String,
    pub item_id: String,
    pub envelope: String,
    pub verification: String,
    pub receipt: String,
    pub received_at: i64,
}

/// A record already held: its hash and the receipt given when it was first stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRecord {
    pub record_hash: String,
    pub receipt: String,
}

/// One entry of a sender's feed.
#[derive(Debug, Clone)]
pub struct FeedRow {
    pub cursor: i64,
    pub envelope: String,
    pub device_key_spki: Vec<u8>,
    pub receipt: String,
    pub verification: String,
}

/// The receiver's storage.
pub trait Storage: Send + Sync + 'static {
    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError>;
    fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StorageError>;
    /// Keeps the hash of a one-time enrolment code for `device_id`, valid until `expires_at`.
    fn add_enrolment_code(
        &self,
        device_id: &str,
        code_hash: &str,
        expires_at: i64,
    ) -> Result<(), StorageError>;
    /// Consumes the code and enrols the key, atomically. `Ok(false)`: no such unused, unexpired
    /// code for this device.
    fn enrol(
        &self,
        device_id: &str,
        code_hash: &str,
        key_spki: &[u8],
        now: i64,
    ) -> Result<bool, StorageError>;
    fn device_key(&self, device_id: &str) -> Result<Option<Vec<u8>>, StorageError>;
    /// Remembers a request nonce; `Ok(false)` when it was seen before (a replay).
    fn use_nonce(&self, device_id: &str, nonce: &str, now: i64) -> Result<bool, StorageError>;
    fn add_sender(&self, sender_id: &str, token_hash: &str) -> Result<(), StorageError>;
    fn sender_by_token(&self, token_hash: &str) -> Result<Option<String>, StorageError>;
    fn held(&self, record_id: &str) -> Result<Option<HeldRecord>, StorageError>;
    /// The last record of a device's chain held: `(seq, hash)`.
    fn device_head(&self, device_id: &str) -> Result<Option<(u64, [u8; 32])>, StorageError>;
    /// Stores the record unless one with its id is held; returns what is held after.
    fn insert(&self, record: &NewRecord) -> Result<HeldRecord, StorageError>;
    /// Up to `limit` records for `sender_id` with a cursor after `after`, in cursor order.
    fn feed(&self, sender_id: &str, after: i64, limit: u32) -> Result<Vec<FeedRow>, StorageError>;
    fn count_records(&self) -> Result<u64, StorageError>;
}

/// SQLite in WAL mode, one connection behind a mutex.
pub struct SqliteStorage {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY, key_spki BLOB NOT NULL, enrolled_at INTEGER NOT NULL,
    head_seq INTEGER, head_hash TEXT);
CREATE TABLE IF NOT EXISTS enrolment_codes (
    code_hash TEXT PRIMARY KEY, device_id TEXT NOT NULL, expires_at INTEGER NOT NULL,
    used_at INTEGER);
CREATE TABLE IF NOT EXISTS nonces (
    device_id TEXT NOT NULL, nonce TEXT NOT NULL, seen_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, nonce));
CREATE TABLE IF NOT EXISTS senders (sender_id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS records (
    cursor INTEGER PRIMARY KEY AUTOINCREMENT, record_id TEXT NOT NULL UNIQUE,
    record_hash TEXT NOT NULL, device_id TEXT NOT NULL, seq INTEGER NOT NULL,
    sender_id TEXT NOT NULL, item_id TEXT NOT NULL, envelope TEXT NOT NULL,
    verification TEXT NOT NULL, receipt TEXT NOT NULL, received_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS records_by_sender ON records (sender_id, cursor);
";

/// Nonces are kept this long; older requests are refused by their timestamp anyway.
pub const NONCE_RETENTION_SECONDS: i64 = 3600;

impl SqliteStorage {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let conn = Connection::open(path).map_err(db("opening the database"))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;",
        )
        .map_err(db("configuring the database"))?;
        conn.execute_batch(SCHEMA)
            .map_err(db("creating the tables"))?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Storage for SqliteStorage {
    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.conn()
            .query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db("reading settings"))
    }

    fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StorageError> {
        self.conn()
            .execute(
                "INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
                params![name, value],
            )
            .map(|_| ())
            .map_err(db("writing settings"))
    }

    fn add_enrolment_code(
        &self,
        device_id: &str,
        code_hash: &str,
        expires_at: i64,
    ) -> Result<(), StorageError> {
        let conn = self.conn();
        let enrolled: Option<String> = conn
            .query_row(
                "SELECT device_id FROM devices WHERE device_id = ?1",
                [device_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(db("reading devices"))?;
        if enrolled.is_some() {
            return Err(StorageError::AlreadyEnrolled(device_id.to_owned()));
        }
        conn.execute(
            "INSERT INTO enrolment_codes (code_hash, device_id, expires_at) VALUES (?1, ?2, ?3)",
            params![code_hash, device_id, expires_at],
        )
        .map(|_| ())
        .map_err(db("storing an enrolment code"))
    }

    fn enrol(
        &self,
        device_id: &str,
        code_hash: &str,
        key_spki: &[u8],
        now: i64,
    ) -> Result<bool, StorageError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db("enrolling a device"))?;
        let used = tx
            .execute(
                "UPDATE enrolment_codes SET used_at = ?3
                 WHERE code_hash = ?1 AND device_id = ?2 AND used_at IS NULL AND expires_at >= ?3",
                params![code_hash, device_id, now],
            )
            .map_err(db("enrolling a device"))?;
        if used != 1 {
            return Ok(false);
        }
        let inserted = tx
            .execute(
                "INSERT INTO devices (device_id, key_spki, enrolled_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(device_id) DO NOTHING",
                params![device_id, key_spki, now],
            )
            .map_err(db("enrolling a device"))?;
        if inserted != 1 {
            return Err(StorageError::AlreadyEnrolled(device_id.to_owned()));
        }
        tx.commit().map_err(db("enrolling a device"))?;
        Ok(true)
    }

    fn device_key(&self, device_id: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.conn()
            .query_row(
                "SELECT key_spki FROM devices WHERE device_id = ?1",
                [device_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(db("reading devices"))
    }

    fn use_nonce(&self, device_id: &str, nonce: &str, now: i64) -> Result<bool, StorageError> {
        let conn = self.conn();
        conn.execute(
            "DELETE FROM nonces WHERE seen_at < ?1",
            [now - NONCE_RETENTION_SECONDS],
        )
        .map_err(db("checking a request nonce"))?;
        let inserted = conn
            .execute(
                "INSERT INTO nonces (device_id, nonce, seen_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
                params![device_id, nonce, now],
            )
            .map_err(db("checking a request nonce"))?;
        Ok(inserted == 1)
    }

    fn add_sender(&self, sender_id: &str, token_hash: &str) -> Result<(), StorageError> {
        let inserted = self
            .conn()
            .execute(
                "INSERT INTO senders (sender_id, token_hash) VALUES (?1, ?2)
                 ON CONFLICT(sender_id) DO NOTHING",
                params![sender_id, token_hash],
            )
            .map_err(db("adding a sender"))?;
        if inserted == 1 {
            Ok(())
        } else {
            Err(StorageError::SenderExists(sender_id.to_owned()))
        }
    }

    fn sender_by_token(&self, token_hash: &str) -> Result<Option<String>, StorageError> {
        self.conn()
            .query_row(
                "SELECT sender_id FROM senders WHERE token_hash = ?1",
                [token_hash],
                |r| r.get(0),
            )
            .optional()
            .map_err(db("reading senders"))
    }

    fn held(&self, record_id: &str) -> Result<Option<HeldRecord>, StorageError> {
        self.conn()
            .query_row(
                "SELECT record_hash, receipt FROM records WHERE record_id = ?1",
                [record_id],
                |r| {
                    Ok(HeldRecord {
                        record_hash: r.get(0)?,
                        receipt: r.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(db("reading records"))
    }

    fn device_head(&self, device_id: &str) -> Result<Option<(u64, [u8; 32])>, StorageError> {
        let row: Option<(Option<i64>, Option<String>)> = self
            .conn()
            .query_row(
                "SELECT head_seq, head_hash FROM devices WHERE device_id = ?1",
                [device_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db("reading devices"))?;
        Ok(match row {
            Some((Some(seq), Some(hash))) => {
                let mut bytes = [0u8; 32];
                match hex::decode_to_slice(&hash, &mut bytes) {
                    Ok(()) => u64::try_from(seq).ok().map(|seq| (seq, bytes)),
                    Err(_) => None,
                }
            }
            _ => None,
        })
    }

    fn insert(&self, record: &NewRecord) -> Result<HeldRecord, StorageError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db("storing a record"))?;
        let seq = i64::try_from(record.seq).unwrap_or(i64::MAX);
        let inserted = tx
            .execute(
                "INSERT INTO records (record_id, record_hash, device_id, seq, sender_id, item_id,
                     envelope, verification, receipt, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT(record_id) DO NOTHING",
                params![
                    record.record_id,
                    record.record_hash,
                    record.device_id,
                    seq,
                    record.sender_id,
                    record.item_id,
                    record.envelope,
                    record.verification,
                    record.receipt,
                    record.received_at
                ],
            )
            .map_err(db("storing a record"))?;
        if inserted == 1 {
            tx.execute(
                "UPDATE devices SET head_seq = ?2, head_hash = ?3
                 WHERE device_id = ?1 AND (head_seq IS NULL OR head_seq < ?2)",
                params![record.device_id, seq, record.record_hash],
            )
            .map_err(db("storing a record"))?;
        }
        let held = tx
            .query_row(
                "SELECT record_hash, receipt FROM records WHERE record_id = ?1",
                [&record.record_id],
                |r| {
                    Ok(HeldRecord {
                        record_hash: r.get(0)?,
                        receipt: r.get(1)?,
                    })
                },
            )
            .map_err(db("storing a record"))?;
        tx.commit().map_err(db("storing a record"))?;
        Ok(held)
    }

    fn feed(&self, sender_id: &str, after: i64, limit: u32) -> Result<Vec<FeedRow>, StorageError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare(
                "SELECT r.cursor, r.envelope, d.key_spki, r.receipt, r.verification
                 FROM records r JOIN devices d ON d.device_id = r.device_id
                 WHERE r.sender_id = ?1 AND r.cursor > ?2 ORDER BY r.cursor LIMIT ?3",
            )
            .map_err(db("reading the feed"))?;
        let rows = statement
            .query_map(params![sender_id, after, limit], |r| {
                Ok(FeedRow {
                    cursor: r.get(0)?,
                    envelope: r.get(1)?,
                    device_key_spki: r.get(2)?,
                    receipt: r.get(3)?,
                    verification: r.get(4)?,
                })
            })
            .map_err(db("reading the feed"))?;
        rows.collect::<Result<_, _>>()
            .map_err(db("reading the feed"))
    }

    fn count_records(&self) -> Result<u64, StorageError> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0))
            .map_err(db("counting records"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
