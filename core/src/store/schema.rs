//! The store's schema and its migrations, and the connection settings that make it durable.
//!
//! `PRAGMA user_version` holds the schema version. Migrations run in order, each in the same
//! transaction as the version bump, so a crash during an upgrade leaves the old version intact.
//! A store from a newer honnin is refused, never downgraded.
//!
//! Only sealed blobs hold record content. The clear columns are the chain position, the random
//! record id, the record's time, and its sync state: what listing, sync, purge and export need
//! without decrypting every record. docs/record-format.md lists what they reveal.

use rusqlite::Connection;

use super::error::StoreError;

/// Migration `i` brings the schema from version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: records and the store's own values.
    "CREATE TABLE meta (
         name  TEXT PRIMARY KEY NOT NULL,
         value BLOB NOT NULL
     ) STRICT;
     CREATE TABLE records (
         seq         INTEGER PRIMARY KEY,
         record_id   TEXT NOT NULL UNIQUE,
         recorded_at INTEGER NOT NULL,
         sealed      BLOB NOT NULL
     ) STRICT;",
    // 2: retention: sync state per record, and the indexes purge and export use.
    "ALTER TABLE records ADD COLUMN synced_at INTEGER;
     CREATE INDEX records_by_time ON records (recorded_at);
     CREATE INDEX records_pending ON records (seq) WHERE synced_at IS NULL;",
];

pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

/// Durability and secrecy settings of every connection:
/// - WAL with `synchronous=FULL`: a commit returns after the WAL is fsynced, so an acknowledged
///   record survives a crash of the process and of the machine;
/// - `temp_store=MEMORY`: sorts and temporary tables never reach a temp file;
/// - `secure_delete=ON`: purged records' pages are overwritten, not left in free pages;
/// - `cell_size_check=ON`: damaged pages are detected as they are read;
/// - a busy timeout, so a second writer waits for the first instead of failing.
pub(crate) fn configure(conn: &Connection) -> Result<(), StoreError> {
    let err = |e| StoreError::sqlite("configuring the connection", e);
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
        .map_err(err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Sqlite {
            context: "configuring the connection",
            detail: format!("the file system does not allow WAL (journal mode {mode})"),
        });
    }
    conn.execute_batch(
        "PRAGMA synchronous=FULL;
         PRAGMA temp_store=MEMORY;
         PRAGMA secure_delete=ON;
         PRAGMA cell_size_check=ON;
         PRAGMA foreign_keys=ON;",
    )
    .map_err(err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(err)?;
    Ok(())
}

pub(crate) fn version(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| StoreError::sqlite("reading the schema version", e))
}

/// Brings the schema to [`LATEST`], each step atomic.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    migrate_to(conn, LATEST)
}

pub(crate) fn migrate_to(conn: &mut Connection, target: i64) -> Result<(), StoreError> {
    let found = version(conn)?;
    if found > LATEST {
        return Err(StoreError::NewerSchema {
            found,
            supported: LATEST,
        });
    }
    for step in found..target {
        let err = |e| StoreError::sqlite("upgrading the schema", e);
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        // Another process may have upgraded meanwhile.
        if version(&tx)? != step {
            continue;
        }
        let index = usize::try_from(step).unwrap_or(usize::MAX);
        let sql = MIGRATIONS.get(index).ok_or(StoreError::NewerSchema {
            found,
            supported: LATEST,
        })?;
        tx.execute_batch(sql).map_err(err)?;
        tx.pragma_update(None, "user_version", step + 1)
            .map_err(err)?;
        tx.commit().map_err(err)?;
    }
    Ok(())
}
