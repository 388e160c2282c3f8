//! [`Storage`] in PostgreSQL, for several stateless receivers on one database: a pool of
//! connections per receiver (the synchronous `postgres` client, so calls happen on blocking
//! threads, never on the async runtime's workers, where that client would panic), and every
//! rule that keeps them consistent is in the database.
//!
//! - A record is held once: `record_id` is unique and inserts are `ON CONFLICT DO NOTHING`.
//! - A batch's transaction takes `records` in SHARE ROW EXCLUSIVE mode (writers queue, readers
//!   do not wait), then reads the device's head `FOR UPDATE`: the head it checks is the latest
//!   committed one, and feed cursors (each sender's `sender_seq`, drawn after the lock) follow
//!   commit order, so a feed reader that has seen cursor N never misses a record committed
//!   later with a smaller cursor.
//! - `synchronous_commit` is on for batches whatever the server's default, since a receipt
//!   promises the record is durable.
//! - The tables are created under an advisory lock, and the receipt key is kept with
//!   `ON CONFLICT DO NOTHING`, so receivers starting together create them once and share one key.
//!
//! The tables live in the connection's current schema (the URL may set `options=-c
//! search_path=…`; the tests give each test its own schema this way).

use std::str::FromStr;
use std::time::Duration;

use r2d2_postgres::postgres::{self, IsolationLevel, NoTls};
use r2d2_postgres::{PostgresConnectionManager, r2d2};

use super::{
    BatchCommit, BatchState, BatchWrite, ChainHead, Enrolment, FeedRow, HeldRecord, Storage,
    StorageError, next_head, parse_head, seq_column,
};
use crate::audit::NewAuditEntry;

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;
type Connection = r2d2::PooledConnection<PostgresConnectionManager<NoTls>>;

fn db(context: &'static str) -> impl Fn(postgres::Error) -> StorageError {
    move |e| StorageError::Database {
        context,
        detail: describe(&e),
    }
}

/// The client's error with the server's message and SQLSTATE, or the cause (refused, timed
/// out), which its `Display` leaves out.
fn describe(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!(
            "{}: {} (SQLSTATE {})",
            error,
            db.message(),
            db.code().code()
        ),
        None => match std::error::Error::source(error) {
            Some(cause) if !error.to_string().contains(&cause.to_string()) => {
                format!("{error}: {cause}")
            }
            _ => error.to_string(),
        },
    }
}

/// Connections one receiver keeps at most (the database's `max_connections` is shared by every
/// receiver on it).
pub const DEFAULT_POOL_SIZE: u32 = 8;

const SCHEMA: &str = "
SELECT pg_advisory_xact_lock(hashtext('honnin-receiver tables in ' || current_schema()));
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY, key_spki BYTEA NOT NULL, enrolled_at BIGINT NOT NULL,
    head_seq BIGINT, head_hash TEXT);
CREATE TABLE IF NOT EXISTS enrolment_codes (
    code_hash TEXT PRIMARY KEY, device_id TEXT NOT NULL, expires_at BIGINT NOT NULL,
    used_at BIGINT);
CREATE TABLE IF NOT EXISTS nonces (
    device_id TEXT NOT NULL, nonce TEXT NOT NULL, seen_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, nonce));
CREATE INDEX IF NOT EXISTS nonces_by_age ON nonces (seen_at);
CREATE TABLE IF NOT EXISTS senders (sender_id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS records (
    cursor BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, record_id TEXT NOT NULL UNIQUE,
    record_hash TEXT NOT NULL, device_id TEXT NOT NULL, seq BIGINT NOT NULL,
    sender_id TEXT NOT NULL, item_id TEXT NOT NULL, envelope TEXT NOT NULL,
    verification TEXT NOT NULL, receipt TEXT NOT NULL, received_at BIGINT NOT NULL,
    sender_seq BIGINT);
CREATE INDEX IF NOT EXISTS records_by_sender ON records (sender_id, cursor);
CREATE INDEX IF NOT EXISTS records_by_device_seq ON records (device_id, seq);
-- The stored JSON compressed with lz4 rather than pglz, PostgreSQL's default: a batch's rows are
-- compressed by the server while the batch's transaction holds the table, and pglz took most of
-- the server's time per record (receiver-costs). Where lz4 is missing (a server built without
-- it, or before PostgreSQL 14, which has no attcompression) the default stays.
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'records'::regclass
               AND attname = 'envelope' AND attcompression <> 'l') THEN
        ALTER TABLE records ALTER COLUMN envelope SET COMPRESSION lz4,
            ALTER COLUMN verification SET COMPRESSION lz4,
            ALTER COLUMN receipt SET COMPRESSION lz4;
    END IF;
EXCEPTION WHEN feature_not_supported OR undefined_column THEN NULL;
END $$;
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY, sender_id TEXT NOT NULL, device_id TEXT NOT NULL,
    addressee_name TEXT NOT NULL, addressee_address TEXT, min_level TEXT NOT NULL,
    attributes TEXT NOT NULL, registered_at BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS items_by_device ON items (device_id, item_id);
CREATE TABLE IF NOT EXISTS webhook_pushers (
    sender_id TEXT PRIMARY KEY, owner TEXT NOT NULL, lease_until BIGINT NOT NULL,
    failures INTEGER NOT NULL, next_try BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    item_id TEXT PRIMARY KEY, sender_id TEXT NOT NULL, record_id TEXT NOT NULL,
    delivered_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS webhooks (
    sender_id TEXT PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL, cursor BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS device_senders (
    device_id TEXT NOT NULL, sender_id TEXT NOT NULL, PRIMARY KEY (device_id, sender_id));
";

/// PostgreSQL through a pool of synchronous connections.
pub struct PostgresStorage {
    /// Always `Some` until dropped (see the `Drop` impl).
    pool: Option<Pool>,
}

impl Drop for PostgresStorage {
    fn drop(&mut self) {
        // Closing a synchronous client blocks on a runtime of its own, which panics on a thread
        // that drives async tasks — where a receiver is dropped when its server stops. Close
        // the connections on a plain thread.
        if let Some(pool) = self.pool.take() {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never printed.
        write!(
            f,
            "PostgresStorage({:?})",
            self.pool.as_ref().map(Pool::state)
        )
    }
}

impl PostgresStorage {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`, no
    /// TLS: loopback or a private network) with [`DEFAULT_POOL_SIZE`] connections, and creates
    /// the tables when missing. Must not be called on an async runtime's worker thread.
    pub fn connect(url: &str) -> Result<Self, StorageError> {
        Self::connect_with(url, DEFAULT_POOL_SIZE)
    }

    /// [`PostgresStorage::connect`] with at most `pool_size` connections.
    pub fn connect_with(url: &str, pool_size: u32) -> Result<Self, StorageError> {
        let config = postgres::Config::from_str(url).map_err(|e| StorageError::Database {
            context: "reading the database URL",
            detail: e.to_string(),
        })?;
        // One connection first: a wrong password or database answers at once and in full,
        // where the pool would retry until its timeout and keep only "db error".
        let mut first = config
            .connect(NoTls)
            .map_err(db("connecting to PostgreSQL"))?;
        let mut tx = first.transaction().map_err(db("creating the tables"))?;
        tx.batch_execute(SCHEMA)
            .map_err(db("creating the tables"))?;
        super::cursors::migrate_postgres(&mut tx)?;
        tx.batch_execute(super::devices::SCHEMA)
            .map_err(db("creating the tables"))?;
        tx.commit().map_err(db("creating the tables"))?;
        drop(first);
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            // A broken connection is noticed by `has_broken`; no round trip per checkout.
            .test_on_check_out(false)
            .build(PostgresConnectionManager::new(config, NoTls))
            .map_err(|e| StorageError::Database {
                context: "connecting to PostgreSQL",
                detail: e.to_string(),
            })?;
        Ok(Self { pool: Some(pool) })
    }

    pub(super) fn conn(&self) -> Result<Connection, StorageError> {
        let unavailable = |detail: String| StorageError::Database {
            context: "taking a connection from the pool",
            detail,
        };
        let pool = self
            .pool
            .as_ref()
            .ok_or_else(|| unavailable("closed".into()))?;
        pool.get().map_err(|e| unavailable(e.to_string()))
    }
}

fn read_head(
    client: &mut impl postgres::GenericClient,
    device_id: &str,
    lock: bool,
) -> Result<Option<ChainHead>, StorageError> {
    let sql = if lock {
        "SELECT head_seq, head_hash FROM devices WHERE device_id = $1 FOR UPDATE"
    } else {
        "SELECT head_seq, head_hash FROM devices WHERE device_id = $1"
    };
    let row = client
        .query_opt(sql, &[&device_id])
        .map_err(db("reading devices"))?;
    match row {
        Some(row) => parse_head(row.get(0), row.get(1)),
        None => Ok(None),
    }
}

impl Storage for PostgresStorage {
    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let row = self
            .conn()?
            .query_opt("SELECT value FROM meta WHERE name = $1", &[&name])
            .map_err(db("reading settings"))?;
        Ok(row.map(|r| r.get(0)))
    }

    fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StorageError> {
        self.conn()?
            .execute(
                "INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[&name, &value],
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
            .conn()?
            .execute(
                "UPDATE meta SET value = $3 WHERE name = $1 AND value = $2",
                &[&name, &expected, &value],
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
        let mut conn = self.conn()?;
        let enrolled = conn
            .query_opt("SELECT 1 FROM devices WHERE device_id = $1", &[&device_id])
            .map_err(db("reading devices"))?;
        if enrolled.is_some() {
            return Err(StorageError::AlreadyEnrolled(device_id.to_owned()));
        }
        conn.execute(
            "INSERT INTO enrolment_codes (code_hash, device_id, expires_at) VALUES ($1, $2, $3)",
            &[&code_hash, &device_id, &expires_at],
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
        let row = self
            .conn()?
            .query_opt(
                "SELECT key_spki FROM devices WHERE device_id = $1",
                &[&device_id],
            )
            .map_err(db("reading devices"))?;
        Ok(row.map(|r| r.get(0)))
    }

    fn allow_device_sender(&self, device_id: &str, sender_id: &str) -> Result<(), StorageError> {
        self.conn()?
            .execute(
                "INSERT INTO device_senders (device_id, sender_id) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                &[&device_id, &sender_id],
            )
            .map_err(db("enrolling a device for a sender"))?;
        Ok(())
    }

    fn device_senders(&self, device_id: &str) -> Result<Vec<String>, StorageError> {
        let rows = self
            .conn()?
            .query(
                "SELECT sender_id FROM device_senders WHERE device_id = $1 ORDER BY sender_id",
                &[&device_id],
            )
            .map_err(db("reading a device's senders"))?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    fn use_nonce(
        &self,
        device_id: &str,
        nonce: &str,
        now: i64,
        retention: i64,
    ) -> Result<bool, StorageError> {
        let mut conn = self.conn()?;
        conn.execute(
            "DELETE FROM nonces WHERE seen_at < $1",
            &[&now.saturating_sub(retention)],
        )
        .map_err(db("checking a request nonce"))?;
        let inserted = conn
            .execute(
                "INSERT INTO nonces (device_id, nonce, seen_at) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&device_id, &nonce, &now],
            )
            .map_err(db("checking a request nonce"))?;
        Ok(inserted == 1)
    }

    fn add_sender(&self, sender_id: &str, token_hash: &str) -> Result<(), StorageError> {
        let inserted = self
            .conn()?
            .execute(
                "INSERT INTO senders (sender_id, token_hash) VALUES ($1, $2)
                 ON CONFLICT (sender_id) DO NOTHING",
                &[&sender_id, &token_hash],
            )
            .map_err(db("adding a sender"))?;
        if inserted == 1 {
            Ok(())
        } else {
            Err(StorageError::SenderExists(sender_id.to_owned()))
        }
    }

    fn sender_by_token(&self, token_hash: &str) -> Result<Option<String>, StorageError> {
        let row = self
            .conn()?
            .query_opt(
                "SELECT sender_id FROM senders WHERE token_hash = $1",
                &[&token_hash],
            )
            .map_err(db("reading senders"))?;
        Ok(row.map(|r| r.get(0)))
    }

    fn held(&self, record_id: &str) -> Result<Option<HeldRecord>, StorageError> {
        let row = self
            .conn()?
            .query_opt(
                "SELECT record_hash, receipt FROM records WHERE record_id = $1",
                &[&record_id],
            )
            .map_err(db("reading records"))?;
        Ok(row.map(|r| HeldRecord {
            record_hash: r.get(0),
            receipt: r.get(1),
        }))
    }

    fn device_head(&self, device_id: &str) -> Result<Option<ChainHead>, StorageError> {
        read_head(&mut *self.conn()?, device_id, false)
    }

    fn batch_state(
        &self,
        device_id: &str,
        record_ids: &[&str],
    ) -> Result<BatchState, StorageError> {
        let context = "reading a batch's state";
        let mut conn = self.conn()?;
        let mut tx = conn
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(db(context))?;
        let head = read_head(&mut tx, device_id, false)?;
        let head_time = match head {
            // By position first (records_by_device_seq): without it every batch read the
            // whole table to find one row.
            Some((seq, hash)) => tx
                .query_opt(
                    "SELECT envelope FROM records
                     WHERE device_id = $1 AND seq = $2 AND record_hash = $3",
                    &[&device_id, &seq_column(seq), &hex::encode(hash)],
                )
                .map_err(db(context))?
                .map(|row| super::claimed_time_of(row.get(0)))
                .transpose()?,
            None => None,
        };
        let rows = tx
            .query(
                "SELECT record_id, record_hash, receipt FROM records WHERE record_id = ANY($1)",
                &[&record_ids],
            )
            .map_err(db(context))?;
        tx.commit().map_err(db(context))?;
        Ok(BatchState {
            head,
            head_time,
            held: rows
                .into_iter()
                .map(|r| {
                    (
                        r.get(0),
                        HeldRecord {
                            record_hash: r.get(1),
                            receipt: r.get(2),
                        },
                    )
                })
                .collect(),
        })
    }

    fn insert_batch(&self, batch: &BatchWrite<'_>) -> Result<BatchCommit, StorageError> {
        let context = "storing a batch";
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(db(context))?;
        tx.batch_execute(
            "SET LOCAL synchronous_commit = on;
             LOCK TABLE records IN SHARE ROW EXCLUSIVE MODE;",
        )
        .map_err(db(context))?;
        let mut head = read_head(&mut tx, batch.device_id, true)?;
        if head != batch.expected_head {
            return Ok(BatchCommit::Stale);
        }
        // One statement for the whole batch: a column per array.
        let records = batch.records;
        let ids: Vec<&str> = records.iter().map(|r| r.record_id.as_str()).collect();
        let hashes: Vec<String> = records.iter().map(|r| hex::encode(r.record_hash)).collect();
        let devices: Vec<&str> = records.iter().map(|r| r.device_id.as_str()).collect();
        let seqs: Vec<i64> = records.iter().map(|r| seq_column(r.seq)).collect();
        let senders: Vec<&str> = records.iter().map(|r| r.sender_id.as_str()).collect();
        let items: Vec<&str> = records.iter().map(|r| r.item_id.as_str()).collect();
        let envelopes: Vec<&str> = records.iter().map(|r| r.envelope.as_str()).collect();
        let verifications: Vec<&str> = records.iter().map(|r| r.verification.as_str()).collect();
        let receipts: Vec<&str> = records.iter().map(|r| r.receipt.as_str()).collect();
        let received: Vec<i64> = records.iter().map(|r| r.received_at).collect();
        let sender_seqs = super::cursors::postgres_sender_seqs(&mut tx, records)?;
        let inserted = tx
            .execute(
                "INSERT INTO records (record_id, record_hash, device_id, seq, sender_id, item_id,
                     envelope, verification, receipt, received_at, sender_seq)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[],
                     $6::text[], $7::text[], $8::text[], $9::text[], $10::int8[], $11::int8[])
                 ON CONFLICT (record_id) DO NOTHING",
                &[
                    &ids,
                    &hashes,
                    &devices,
                    &seqs,
                    &senders,
                    &items,
                    &envelopes,
                    &verifications,
                    &receipts,
                    &received,
                    &sender_seqs,
                ],
            )
            .map_err(db(context))?;
        if inserted != records.len() as u64 {
            // Dropping the transaction rolls back what this batch wrote.
            return Ok(BatchCommit::Stale);
        }
        for record in records {
            head = next_head(head, record.seq, record.record_hash);
            if let Some(delivered_at) = record.delivered_at {
                tx.execute(
                    "INSERT INTO deliveries (item_id, sender_id, record_id, delivered_at)
                     SELECT item_id, sender_id, $3, $4 FROM items
                     WHERE item_id = $1 AND sender_id = $2
                     ON CONFLICT (item_id) DO NOTHING",
                    &[
                        &record.item_id,
                        &record.sender_id,
                        &record.record_id,
                        &delivered_at,
                    ],
                )
                .map_err(db(context))?;
            }
        }
        if head != batch.expected_head
            && let Some((seq, hash)) = head
        {
            tx.execute(
                "UPDATE devices SET head_seq = $2, head_hash = $3 WHERE device_id = $1",
                &[&batch.device_id, &seq_column(seq), &hex::encode(hash)],
            )
            .map_err(db(context))?;
        }
        tx.commit().map_err(db(context))?;
        Ok(BatchCommit::Stored)
    }

    fn feed(&self, sender_id: &str, after: i64, limit: u32) -> Result<Vec<FeedRow>, StorageError> {
        let rows = self
            .conn()?
            .query(
                "SELECT r.sender_seq, r.envelope, d.key_spki, r.receipt, r.verification,
                     r.received_at, v.reason, v.cutoff, v.revoked_at, v.replaced_by
                 FROM records r JOIN devices d ON d.device_id = r.device_id
                 LEFT JOIN device_revocations v ON v.device_id = r.device_id
                 WHERE r.sender_id = $1 AND r.sender_seq > $2 ORDER BY r.sender_seq LIMIT $3",
                &[&sender_id, &after, &i64::from(limit)],
            )
            .map_err(db("reading the feed"))?;
        Ok(rows
            .into_iter()
            .map(|r| FeedRow {
                cursor: r.get(0),
                envelope: r.get(1),
                device_key_spki: r.get(2),
                receipt: r.get(3),
                verification: r.get(4),
                received_at: r.get(5),
                revocation: super::devices::revocation_of((r.get(6), r.get(7), r.get(8), r.get(9))),
                // PostgreSQL keeps no checksums: each document is validated as JSON.
                checksums: super::DocumentChecksums::default(),
            })
            .collect())
    }

    fn count_records(&self) -> Result<u64, StorageError> {
        let row = self
            .conn()?
            .query_one("SELECT count(*) FROM records", &[])
            .map_err(db("counting records"))?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }
}
