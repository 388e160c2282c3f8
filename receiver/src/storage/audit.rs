//! The operator's audit log in both databases: entries appended one at a time, each numbered
//! after the last and chained to its hash ([`crate::audit`] says how an entry is hashed and
//! how the chain is checked). The table is made with the fleet's ([`super::devices::SCHEMA`]).
//!
//! Appending reads the last entry and writes the next under a lock on the table (SQLite's
//! `BEGIN IMMEDIATE`, PostgreSQL's `EXCLUSIVE` lock), so two operators acting at once on
//! several receivers still make one chain, never a fork.

use r2d2_postgres::postgres;
use rusqlite::{OptionalExtension, params};

use super::items::{pg, sqlite};
use super::{PostgresStorage, SqliteStorage, StorageError};
use crate::audit::{AuditEntry, GENESIS, NewAuditEntry};

/// The audit log; every [`super::Storage`] has it.
pub trait AuditStorage {
    /// Appends `entry` after the last one and returns it as stored (numbered and hashed).
    fn append_audit(&self, entry: &NewAuditEntry) -> Result<AuditEntry, StorageError>;
    /// Up to `limit` entries after number `after`, in order.
    fn audit_entries(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StorageError>;
}

const LAST: &str = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1";
const INSERT: &str = "INSERT INTO audit_log (seq, at, actor, action, subject, detail, prev_hash,
    hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const PAGE: &str = "SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit_log
    WHERE seq > $1 ORDER BY seq LIMIT $2";

fn sqlite_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        subject: r.get(4)?,
        detail: r.get(5)?,
        prev_hash: r.get(6)?,
        hash: r.get(7)?,
    })
}

fn pg_entry(r: &postgres::Row) -> AuditEntry {
    AuditEntry {
        seq: r.get(0),
        at: r.get(1),
        actor: r.get(2),
        action: r.get(3),
        subject: r.get(4),
        detail: r.get(5),
        prev_hash: r.get(6),
        hash: r.get(7),
    }
}

/// Appends `entry` after the last one, on a connection in a write transaction (`BEGIN
/// IMMEDIATE`, so no other writer runs): the caller's action and its entry commit together.
pub(super) fn append_sqlite(
    conn: &rusqlite::Connection,
    entry: &NewAuditEntry,
) -> Result<AuditEntry, StorageError> {
    let context = "appending to the audit log";
    let last: Option<(i64, String)> = conn
        .query_row(LAST, [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(sqlite(context))?;
    let (seq, prev) = last.map_or((1, GENESIS.to_owned()), |(seq, hash)| (seq + 1, hash));
    let stored = entry.chained(seq, prev);
    conn.execute(
        INSERT,
        params![
            stored.seq,
            stored.at,
            stored.actor,
            stored.action,
            stored.subject,
            stored.detail,
            stored.prev_hash,
            stored.hash
        ],
    )
    .map_err(sqlite(context))?;
    Ok(stored)
}

/// Appends `entry` after the last one within the caller's transaction, the table locked until
/// it ends: the caller's action and its entry commit together.
pub(super) fn append_postgres(
    tx: &mut postgres::Transaction<'_>,
    entry: &NewAuditEntry,
) -> Result<AuditEntry, StorageError> {
    let context = "appending to the audit log";
    tx.batch_execute("LOCK TABLE audit_log IN EXCLUSIVE MODE")
        .map_err(pg(context))?;
    let last = tx.query_opt(LAST, &[]).map_err(pg(context))?;
    let (seq, prev) = last.map_or((1, GENESIS.to_owned()), |r| {
        (r.get::<_, i64>(0) + 1, r.get(1))
    });
    let stored = entry.chained(seq, prev);
    tx.execute(
        INSERT,
        &[
            &stored.seq,
            &stored.at,
            &stored.actor,
            &stored.action,
            &stored.subject,
            &stored.detail,
            &stored.prev_hash,
            &stored.hash,
        ],
    )
    .map_err(pg(context))?;
    Ok(stored)
}

impl AuditStorage for SqliteStorage {
    fn append_audit(&self, entry: &NewAuditEntry) -> Result<AuditEntry, StorageError> {
        let context = "appending to the audit log";
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sqlite(context))?;
        let stored = append_sqlite(&tx, entry)?;
        tx.commit().map_err(sqlite(context))?;
        Ok(stored)
    }

    fn audit_entries(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StorageError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(PAGE)
            .map_err(sqlite("reading the audit log"))?;
        let rows = statement
            .query_map(params![after, limit], sqlite_entry)
            .map_err(sqlite("reading the audit log"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sqlite("reading the audit log"))
    }
}

impl AuditStorage for PostgresStorage {
    fn append_audit(&self, entry: &NewAuditEntry) -> Result<AuditEntry, StorageError> {
        let context = "appending to the audit log";
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(pg(context))?;
        let stored = append_postgres(&mut tx, entry)?;
        tx.commit().map_err(pg(context))?;
        Ok(stored)
    }

    fn audit_entries(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StorageError> {
        let rows = self
            .conn()?
            .query(PAGE, &[&after, &i64::from(limit)])
            .map_err(pg("reading the audit log"))?;
        Ok(rows.iter().map(pg_entry).collect())
    }
}
