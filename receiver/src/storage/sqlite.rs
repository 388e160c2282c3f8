//! [`Storage`] in SQLite: WAL mode, `synchronous=FULL` (a receipt is sent only after its
//! record's commit reached the disk), one connection behind a mutex.
//!
//! One writer at a time is what SQLite allows anyway; a batch's transaction is `BEGIN
//! IMMEDIATE`, so the head it checks cannot change before it commits, and feed cursors (each
//! sender's `sender_seq`, drawn inside that transaction) follow commit order.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{
    BatchCommit, BatchState, BatchWrite, ChainHead, DocumentChecksums, Enrolment, FeedRow,
    HeldRecord, Storage, StorageError, next_head, parse_head, seq_column,
};
use crate::audit::NewAuditEntry;
use crate::feed_page::checksum_at_insert;

fn db(context: &'static str) -> impl Fn(rusqlite::Error) -> StorageError {
    move |e| StorageError::Database {
        context,
        detail: e.to_string(),
    }
}

/// A sender's feed: the rows after a cursor, with each device's key and revocation.
const FEED_QUERY: &str = "SELECT r.sender_seq, r.envelope, d.key_spki, r.receipt, r.verification,
         r.received_at, v.reason, v.cutoff, v.revoked_at, v.replaced_by,
         r.envelope_crc, r.receipt_crc, r.verification_crc
     FROM records r JOIN devices d ON d.device_id = r.device_id
     LEFT JOIN device_revocations v ON v.device_id = r.device_id
     WHERE r.sender_id = ?1 AND r.sender_seq > ?2 ORDER BY r.sender_seq LIMIT ?3";

/// SQLite in WAL mode, one connection behind a mutex; WAL checkpoints on a thread of their own
/// ([`super::checkpoint`]).
pub struct SqliteStorage {
    conn: Mutex<Connection>,
    checkpointer: super::checkpoint::Checkpointer,
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
CREATE INDEX IF NOT EXISTS nonces_by_age ON nonces (seen_at);
CREATE TABLE IF NOT EXISTS senders (sender_id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS records (
    cursor INTEGER PRIMARY KEY AUTOINCREMENT, record_id TEXT NOT NULL UNIQUE,
    record_hash TEXT NOT NULL, device_id TEXT NOT NULL, seq INTEGER NOT NULL,
    sender_id TEXT NOT NULL, item_id TEXT NOT NULL, envelope TEXT NOT NULL,
    verification TEXT NOT NULL, receipt TEXT NOT NULL, received_at INTEGER NOT NULL,
    sender_seq INTEGER, envelope_crc INTEGER, receipt_crc INTEGER, verification_crc INTEGER);
CREATE INDEX IF NOT EXISTS records_by_sender ON records (sender_id, cursor);
CREATE INDEX IF NOT EXISTS records_by_device_seq ON records (device_id, seq);
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY, sender_id TEXT NOT NULL, device_id TEXT NOT NULL,
    addressee_name TEXT NOT NULL, addressee_address TEXT, min_level TEXT NOT NULL,
    attributes TEXT NOT NULL, registered_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS items_by_device ON items (device_id, item_id);
CREATE TABLE IF NOT EXISTS webhook_pushers (
    sender_id TEXT PRIMARY KEY, owner TEXT NOT NULL, lease_until INTEGER NOT NULL,
    failures INTEGER NOT NULL, next_try INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    item_id TEXT PRIMARY KEY, sender_id TEXT NOT NULL, record_id TEXT NOT NULL,
    delivered_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS webhooks (
    sender_id TEXT PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL, cursor INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS device_senders (
    device_id TEXT NOT NULL, sender_id TEXT NOT NULL, PRIMARY KEY (device_id, sender_id));
";

impl SqliteStorage {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let mut conn = Connection::open(path).map_err(db("opening the database"))?;
        // A page cache of 64 MiB instead of SQLite's 2 MiB: a batch of 500 records writes
        // about 3 MB, so with the default every batch pushed the record-id and feed indexes out
        // and read them back with a system call per page (most of ingest's serial time in
        // `receiver-costs`).
        // Pages of 16 KiB for a new file (an existing one keeps its own: changing it takes a
        // VACUUM): a stored record is about 6 KB, which at 4 KiB spilled over two overflow
        // pages, each read with its own pread by the feed (a page of 1,000 about 20 % less CPU
        // in `receiver-costs`, ingest no slower; the file about 20 % larger).
        conn.execute_batch(&format!(
            "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
             PRAGMA busy_timeout=5000; PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint={};",
            super::checkpoint::BACKSTOP_PAGES
        ))
        .map_err(db("configuring the database"))?;
        conn.execute_batch(SCHEMA)
            .map_err(db("creating the tables"))?;
        conn.execute_batch(super::devices::SCHEMA)
            .map_err(db("creating the tables"))?;
        super::cursors::migrate_sqlite(&mut conn)?;
        add_checksum_columns(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
            checkpointer: super::checkpoint::Checkpointer::start(path)?,
        })
    }

    pub(super) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Gives a database made before the feed's checksums their columns (checked and added in one
/// write transaction, so two receivers opening it cannot both add them). Its rows keep NULL
/// there and are validated as JSON when read; adding a column rewrites no row.
fn add_checksum_columns(conn: &mut Connection) -> Result<(), StorageError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .and_then(|tx| {
            let present: bool = tx.query_row(
                "SELECT COUNT(*) > 0 FROM pragma_table_info('records') WHERE name = 'envelope_crc'",
                [],
                |r| r.get(0),
            )?;
            if !present {
                tx.execute_batch(
                    "ALTER TABLE records ADD COLUMN envelope_crc INTEGER;
                     ALTER TABLE records ADD COLUMN receipt_crc INTEGER;
                     ALTER TABLE records ADD COLUMN verification_crc INTEGER;",
                )?;
            }
            Ok(tx)
        });
    tx.and_then(|tx| tx.commit())
        .map_err(db("adding the feed's checksums"))
}

/// Columns 10-12 of [`FEED_QUERY`].
fn checksums_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<DocumentChecksums> {
    Ok(DocumentChecksums {
        envelope: r.get(10)?,
        receipt: r.get(11)?,
        verification: r.get(12)?,
    })
}

fn read_head(conn: &Connection, device_id: &str) -> Result<Option<ChainHead>, StorageError> {
    let row: Option<(Option<i64>, Option<String>)> = conn
        .query_row(
            "SELECT head_seq, head_hash FROM devices WHERE device_id = ?1",
            [device_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db("reading devices"))?;
    match row {
        Some((seq, hash)) => parse_head(seq, hash),
        None => Ok(None),
    }
}

fn read_held(conn: &Connection, record_id: &str) -> Result<Option<HeldRecord>, StorageError> {
    conn.prepare_cached("SELECT record_hash, receipt FROM records WHERE record_id = ?1")
        .and_then(|mut statement| {
            statement
                .query_row([record_id], |r| {
                    Ok(HeldRecord {
                        record_hash: r.get(0)?,
                        receipt: r.get(1)?,
                    })
                })
                .optional()
        })
        .map_err(db("reading records"))
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

    fn replace_meta(
        &self,
        name: &str,
        expected: &[u8],
        value: &[u8],
    ) -> Result<bool, StorageError> {
        let replaced = self
            .conn()
            .execute(
                "UPDATE meta SET value = ?3 WHERE name = ?1 AND value = ?2",
                params![name, expected, value],
            )
            .map_err(db("writing settings"))?;
        Ok(replaced == 1)
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
        audit: &dyn Fn(&Enrolment<'_>) -> NewAuditEntry,
    ) -> Result<bool, StorageError> {
        self.enrol_logged(device_id, code_hash, key_spki, now, audit)
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

    fn allow_device_sender(&self, device_id: &str, sender_id: &str) -> Result<(), StorageError> {
        self.conn()
            .execute(
                "INSERT INTO device_senders (device_id, sender_id) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
                params![device_id, sender_id],
            )
            .map_err(db("enrolling a device for a sender"))?;
        Ok(())
    }

    fn device_senders(&self, device_id: &str) -> Result<Vec<String>, StorageError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(
                "SELECT sender_id FROM device_senders WHERE device_id = ?1 ORDER BY sender_id",
            )
            .map_err(db("reading a device's senders"))?;
        let rows = statement
            .query_map([device_id], |r| r.get(0))
            .map_err(db("reading a device's senders"))?;
        rows.collect::<Result<_, _>>()
            .map_err(db("reading a device's senders"))
    }

    fn use_nonce(
        &self,
        device_id: &str,
        nonce: &str,
        now: i64,
        retention: i64,
    ) -> Result<bool, StorageError> {
        let conn = self.conn();
        conn.execute(
            "DELETE FROM nonces WHERE seen_at < ?1",
            [now.saturating_sub(retention)],
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
        read_held(&self.conn(), record_id)
    }

    fn device_head(&self, device_id: &str) -> Result<Option<ChainHead>, StorageError> {
        read_head(&self.conn(), device_id)
    }

    fn batch_state(
        &self,
        device_id: &str,
        record_ids: &[&str],
    ) -> Result<BatchState, StorageError> {
        // The mutex already serialises this connection; the transaction makes the reads one
        // snapshot even if another process writes the file.
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db("reading a batch's state"))?;
        let head = read_head(&tx, device_id)?;
        let head_time = match head {
            Some((seq, hash)) => {
                let envelope: Option<String> = tx
                    .query_row(
                        // By position first (records_by_device_seq): without it every batch
                        // read the whole table to find one row.
                        "SELECT envelope FROM records
                         WHERE device_id = ?1 AND seq = ?2 AND record_hash = ?3",
                        params![device_id, seq_column(seq), hex::encode(hash)],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db("reading a batch's state"))?;
                envelope
                    .as_deref()
                    .map(super::claimed_time_of)
                    .transpose()?
            }
            None => None,
        };
        let mut state = BatchState {
            head,
            head_time,
            ..BatchState::default()
        };
        for id in record_ids {
            if let Some(held) = read_held(&tx, id)? {
                state.held.insert((*id).to_owned(), held);
            }
        }
        tx.finish().map_err(db("reading a batch's state"))?;
        Ok(state)
    }

    fn insert_batch(&self, batch: &BatchWrite<'_>) -> Result<BatchCommit, StorageError> {
        let context = "storing a batch";
        // Each document parsed once here, before the lock other writers and readers wait on.
        let checksums: Vec<_> = (batch.records.iter())
            .map(|r| [&r.envelope, &r.verification, &r.receipt].map(|d| checksum_at_insert(d)))
            .collect();
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db(context))?;
        let mut head = read_head(&tx, batch.device_id)?;
        if head != batch.expected_head {
            return Ok(BatchCommit::Stale);
        }
        {
            let mut insert = tx
                .prepare_cached(
                    // The sender's next feed position: the transaction is the only writer.
                    "INSERT INTO records (record_id, record_hash, device_id, seq, sender_id,
                         item_id, envelope, verification, receipt, received_at, sender_seq,
                         envelope_crc, verification_crc, receipt_crc)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,
                         (SELECT COALESCE(MAX(sender_seq), 0) + 1 FROM records
                          WHERE sender_id = ?5), ?11, ?12, ?13)
                     ON CONFLICT(record_id) DO NOTHING",
                )
                .map_err(db(context))?;
            for (record, checksums) in batch.records.iter().zip(&checksums) {
                let inserted = insert
                    .execute(params![
                        record.record_id,
                        hex::encode(record.record_hash),
                        record.device_id,
                        seq_column(record.seq),
                        record.sender_id,
                        record.item_id,
                        record.envelope,
                        record.verification,
                        record.receipt,
                        record.received_at,
                        // Written with the documents, which no statement updates afterwards.
                        checksums[0],
                        checksums[1],
                        checksums[2],
                    ])
                    .map_err(db(context))?;
                if inserted != 1 {
                    // Dropping the transaction rolls back what this batch wrote.
                    return Ok(BatchCommit::Stale);
                }
                head = next_head(head, record.seq, record.record_hash);
            }
            let mut deliver = tx
                .prepare_cached(
                    "INSERT INTO deliveries (item_id, sender_id, record_id, delivered_at)
                     SELECT item_id, sender_id, ?3, ?4 FROM items
                     WHERE item_id = ?1 AND sender_id = ?2
                     ON CONFLICT(item_id) DO NOTHING",
                )
                .map_err(db(context))?;
            for record in batch.records {
                if let Some(delivered_at) = record.delivered_at {
                    deliver
                        .execute(params![
                            record.item_id,
                            record.sender_id,
                            record.record_id,
                            delivered_at
                        ])
                        .map_err(db(context))?;
                }
            }
        }
        if head != batch.expected_head
            && let Some((seq, hash)) = head
        {
            tx.execute(
                "UPDATE devices SET head_seq = ?2, head_hash = ?3 WHERE device_id = ?1",
                params![batch.device_id, seq_column(seq), hex::encode(hash)],
            )
            .map_err(db(context))?;
        }
        tx.commit().map_err(db(context))?;
        self.checkpointer.wake();
        Ok(BatchCommit::Stored)
    }

    fn feed(&self, sender_id: &str, after: i64, limit: u32) -> Result<Vec<FeedRow>, StorageError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(FEED_QUERY)
            .map_err(db("reading the feed"))?;
        let rows = statement
            .query_map(params![sender_id, after, limit], |r| {
                Ok(FeedRow {
                    cursor: r.get(0)?,
                    envelope: r.get(1)?,
                    device_key_spki: r.get(2)?,
                    receipt: r.get(3)?,
                    verification: r.get(4)?,
                    received_at: r.get(5)?,
                    revocation: super::devices::revocation_of((
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                    )),
                    checksums: checksums_of(r)?,
                })
            })
            .map_err(db("reading the feed"))?;
        rows.collect::<Result<_, _>>()
            .map_err(db("reading the feed"))
    }

    fn write_feed(
        &self,
        sender_id: &str,
        after: i64,
        limit: u32,
        page: &mut crate::feed_page::PageWriter<'_>,
    ) -> Result<(), StorageError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(FEED_QUERY)
            .map_err(db("reading the feed"))?;
        let mut rows = statement
            .query(params![sender_id, after, limit])
            .map_err(db("reading the feed"))?;
        while let Some(r) = rows.next().map_err(db("reading the feed"))? {
            let (cursor, received_at, revocation, checksums) = (|| -> rusqlite::Result<_> {
                let revocation = (r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?);
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(5)?,
                    super::devices::revocation_of(revocation),
                    checksums_of(r)?,
                ))
            })()
            .map_err(db("reading the feed"))?;
            // The columns as SQLite holds them for this row, valid until the next step: each
            // is checked (UTF-8 here, its checksum or JSON by the page) and copied once, into
            // the page.
            let text = |i: usize| -> Result<&str, StorageError> {
                r.get_ref(i)
                    .and_then(|value| {
                        value.as_str().map_err(|e| {
                            rusqlite::Error::FromSqlConversionFailure(
                                i,
                                value.data_type(),
                                Box::new(e),
                            )
                        })
                    })
                    .map_err(db("reading the feed"))
            };
            let (envelope, receipt, verification) = (text(1)?, text(3)?, text(4)?);
            let device_key_spki = r
                .get_ref(2)
                .and_then(|value| {
                    value.as_blob().map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(2, value.data_type(), Box::new(e))
                    })
                })
                .map_err(db("reading the feed"))?;
            // A revoked device's rows (rare) are flagged by the same rule as everywhere.
            let device_revoked = match revocation {
                None => None,
                Some(revocation) => crate::fleet::feed_flag(&FeedRow {
                    cursor,
                    envelope: envelope.to_owned(),
                    device_key_spki: Vec::new(),
                    receipt: String::new(),
                    verification: String::new(),
                    received_at,
                    revocation: Some(revocation),
                    checksums,
                }),
            };
            page.entry(crate::feed_page::EntryParts {
                cursor,
                envelope,
                device_key_spki,
                receipt,
                verification,
                device_revoked,
                checksums,
            });
        }
        Ok(())
    }

    fn count_records(&self) -> Result<u64, StorageError> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0))
            .map_err(db("counting records"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
