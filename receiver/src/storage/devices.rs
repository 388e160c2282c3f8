//! The fleet's devices as the operator sees them, in both databases: when each last synced and
//! with which app version, and its revocation (a lost or stolen handheld) and replacement.
//!
//! The tables are made here, beside the others, by the same statements on both backends
//! (SQLite takes `BIGINT` as an integer and `$n` as the n-th parameter), so the two cannot
//! disagree on what a revocation means. Revocations are only ever added: a revoked device id
//! stays revoked, and a replacement is a new device id with a key of its own (the old id's
//! records keep verifying with the old key in the feed).

use r2d2_postgres::postgres;
use rusqlite::{OptionalExtension, params};

use super::items::{pg, sqlite};
use super::{ChainHead, PostgresStorage, SqliteStorage, StorageError, parse_head};
use crate::audit::NewAuditEntry;

/// The fleet tables, made with the others when the storage opens.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS device_status (
    device_id TEXT PRIMARY KEY, last_sync_at BIGINT NOT NULL, app_version TEXT);
CREATE TABLE IF NOT EXISTS device_revocations (
    device_id TEXT PRIMARY KEY, reason TEXT NOT NULL, cutoff BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL, replaced_by TEXT);
CREATE TABLE IF NOT EXISTS audit_log (
    seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    subject TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
";

/// A device's revocation: why, from when its records are not trusted, when it was revoked, and
/// the device id that replaced it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Revocation {
    pub reason: String,
    /// Records the device made (or the receiver got) at or after this time are flagged.
    pub cutoff: i64,
    pub revoked_at: i64,
    pub replaced_by: Option<String>,
}

/// One enrolled device, as `devices list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    pub device_id: String,
    pub enrolled_at: i64,
    pub head: Option<ChainHead>,
    /// The last authenticated batch or manifest request.
    pub last_sync_at: Option<i64>,
    /// What the device said it runs at its last sync.
    pub app_version: Option<String>,
    /// Items assigned to the device and not delivered yet: the door checks it may have made
    /// and not synced, or has still to make.
    pub pending_items: u64,
    pub revocation: Option<Revocation>,
}

/// What [`DeviceStorage::revoke_device`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeOutcome {
    Revoked,
    NotEnrolled,
    /// Revoked before; the first revocation stands.
    AlreadyRevoked(Revocation),
}

/// Why a replacement cannot take a device's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplaceOutcome {
    /// Undelivered items and sender enrolments moved to the replacement: how many items.
    Replaced { items_moved: u64 },
    /// The old device is not revoked: revoke it first, with a reason and a cut-off.
    NotRevoked,
    /// The old device already has a replacement.
    AlreadyReplaced(String),
    /// The replacement id is enrolled or revoked itself: choose a new id.
    ReplacementTaken,
}

/// The fleet; every [`super::Storage`] has it.
pub trait DeviceStorage {
    /// Every enrolled device, by id.
    fn devices(&self) -> Result<Vec<DeviceRow>, StorageError>;
    /// The device's revocation, if it was revoked.
    fn revocation(&self, device_id: &str) -> Result<Option<Revocation>, StorageError>;
    /// Notes an authenticated request of the device at `at`, with its app version when it
    /// said one (a request without one keeps the version known).
    fn note_sync(
        &self,
        device_id: &str,
        at: i64,
        app_version: Option<&str>,
    ) -> Result<(), StorageError>;
    /// Revokes the device and, in the same transaction, appends `audit` to the audit log.
    fn revoke_device(
        &self,
        device_id: &str,
        reason: &str,
        cutoff: i64,
        now: i64,
        audit: &NewAuditEntry,
    ) -> Result<RevokeOutcome, StorageError>;
    /// In one transaction: records `replacement` as the revoked `device_id`'s replacement,
    /// moves its undelivered items and its sender enrolments there, and appends the audit
    /// entry `audit` makes of the number of items moved. The replacement enrols with a code of
    /// its own.
    fn replace_device(
        &self,
        device_id: &str,
        replacement: &str,
        audit: &dyn Fn(u64) -> NewAuditEntry,
    ) -> Result<ReplaceOutcome, StorageError>;
}

const LIST: &str = "SELECT d.device_id, d.enrolled_at, d.head_seq, d.head_hash, s.last_sync_at,
        s.app_version,
        (SELECT COUNT(*) FROM items i WHERE i.device_id = d.device_id
            AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.item_id = i.item_id)),
        v.reason, v.cutoff, v.revoked_at, v.replaced_by
    FROM devices d LEFT JOIN device_status s ON s.device_id = d.device_id
        LEFT JOIN device_revocations v ON v.device_id = d.device_id
    ORDER BY d.device_id";

const REVOCATION: &str = "SELECT reason, cutoff, revoked_at, replaced_by FROM device_revocations
    WHERE device_id = $1";

const NOTE_SYNC: &str = "INSERT INTO device_status (device_id, last_sync_at, app_version)
    VALUES ($1, $2, $3) ON CONFLICT (device_id) DO UPDATE SET
        last_sync_at = excluded.last_sync_at,
        app_version = COALESCE(excluded.app_version, device_status.app_version)";

const REVOKE: &str = "INSERT INTO device_revocations (device_id, reason, cutoff, revoked_at)
    SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS BIGINT), CAST($4 AS BIGINT)
    WHERE EXISTS (SELECT 1 FROM devices WHERE device_id = $1)
    ON CONFLICT (device_id) DO NOTHING";

const ENROLLED: &str = "SELECT 1 FROM devices WHERE device_id = $1
    UNION SELECT 1 FROM device_revocations WHERE device_id = $1";

// Parameters in order of first use: SQLite numbers `$n` by where it first appears.
const MARK_REPLACED: &str = "UPDATE device_revocations SET replaced_by = $1 WHERE device_id = $2";

const MOVE_ITEMS: &str = "UPDATE items SET device_id = $1 WHERE device_id = $2
    AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.item_id = items.item_id)";

const COPY_SENDERS: &str = "INSERT INTO device_senders (device_id, sender_id)
    SELECT $1, sender_id FROM device_senders WHERE device_id = $2 ON CONFLICT DO NOTHING";

/// The row of [`LIST`], from either backend's getters.
#[allow(clippy::too_many_arguments)]
fn device_row(
    device_id: String,
    enrolled_at: i64,
    head: (Option<i64>, Option<String>),
    last_sync_at: Option<i64>,
    app_version: Option<String>,
    pending: i64,
    revocation: (Option<String>, Option<i64>, Option<i64>, Option<String>),
) -> Result<DeviceRow, StorageError> {
    Ok(DeviceRow {
        device_id,
        enrolled_at,
        head: parse_head(head.0, head.1)?,
        last_sync_at,
        app_version,
        pending_items: u64::try_from(pending).unwrap_or(0),
        revocation: revocation_of(revocation),
    })
}

pub(super) fn revocation_of(
    (reason, cutoff, revoked_at, replaced_by): (
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<String>,
    ),
) -> Option<Revocation> {
    Some(Revocation {
        reason: reason?,
        cutoff: cutoff?,
        revoked_at: revoked_at?,
        replaced_by,
    })
}

/// What a replacement may do, given the old device's revocation and whether the new id is
/// taken.
fn replace_check(revocation: Option<Revocation>, taken: bool) -> Option<ReplaceOutcome> {
    match revocation {
        None => Some(ReplaceOutcome::NotRevoked),
        Some(Revocation {
            replaced_by: Some(by),
            ..
        }) => Some(ReplaceOutcome::AlreadyReplaced(by)),
        Some(_) if taken => Some(ReplaceOutcome::ReplacementTaken),
        Some(_) => None,
    }
}

/// A text, integer or byte parameter of the fleet's statements, bound by either backend.
#[derive(Clone, Copy)]
pub(super) enum Arg<'a> {
    Text(&'a str),
    Int(i64),
    Bytes(&'a [u8]),
}
use Arg::{Int, Text};

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Text(text) => text.to_sql(),
            Int(number) => number.to_sql(),
            Arg::Bytes(bytes) => bytes.to_sql(),
        }
    }
}

/// A revocation, a replacement or an enrolment's transaction, on either backend: [`revoke_in`],
/// [`replace_in`] and [`super::enrolment::enrol_in`] are written once over it, so the backends
/// cannot disagree on what either does. Errors name `context`.
pub(super) trait FleetTx {
    /// Runs `sql` with `args`; how many rows it changed.
    fn run(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StorageError>;
    /// Whether `sql` with `args` finds a row.
    fn exists(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<bool, StorageError>;
    fn revocation(&mut self, device_id: &str) -> Result<Option<Revocation>, StorageError>;
    /// Holds the device's revocation row until the transaction ends, so that of two
    /// replacements at once one wins.
    fn lock_revocation(&mut self, device_id: &str) -> Result<(), StorageError>;
    fn append_audit(&mut self, entry: &NewAuditEntry) -> Result<(), StorageError>;
}

pub(super) struct SqliteTx<'c>(
    pub(super) rusqlite::Transaction<'c>,
    pub(super) &'static str,
);
pub(super) struct PostgresTx<'c>(
    pub(super) postgres::Transaction<'c>,
    pub(super) &'static str,
);

impl FleetTx for SqliteTx<'_> {
    fn run(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StorageError> {
        let changed = self
            .0
            .execute(sql, rusqlite::params_from_iter(args))
            .map_err(sqlite(self.1))?;
        Ok(changed as u64)
    }

    fn exists(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<bool, StorageError> {
        self.0
            .query_row(sql, rusqlite::params_from_iter(args), |_| Ok(()))
            .optional()
            .map(|row| row.is_some())
            .map_err(sqlite(self.1))
    }

    fn revocation(&mut self, device_id: &str) -> Result<Option<Revocation>, StorageError> {
        sqlite_revocation(&self.0, device_id)
    }

    fn lock_revocation(&mut self, _device_id: &str) -> Result<(), StorageError> {
        // The transaction is IMMEDIATE: it holds the database's write lock already.
        Ok(())
    }

    fn append_audit(&mut self, entry: &NewAuditEntry) -> Result<(), StorageError> {
        super::audit::append_sqlite(&self.0, entry).map(|_| ())
    }
}

impl PostgresTx<'_> {
    pub(super) fn params<'a>(args: &'a [Arg<'a>]) -> Vec<&'a (dyn postgres::types::ToSql + Sync)> {
        args.iter()
            .map(|arg| -> &(dyn postgres::types::ToSql + Sync) {
                match arg {
                    Text(text) => text,
                    Int(number) => number,
                    Arg::Bytes(bytes) => bytes,
                }
            })
            .collect()
    }
}

impl FleetTx for PostgresTx<'_> {
    fn run(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StorageError> {
        self.0.execute(sql, &Self::params(args)).map_err(pg(self.1))
    }

    fn exists(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<bool, StorageError> {
        self.0
            .query_opt(sql, &Self::params(args))
            .map(|row| row.is_some())
            .map_err(pg(self.1))
    }

    fn revocation(&mut self, device_id: &str) -> Result<Option<Revocation>, StorageError> {
        pg_revocation(&mut self.0, device_id)
    }

    fn lock_revocation(&mut self, device_id: &str) -> Result<(), StorageError> {
        let sql = "SELECT 1 FROM device_revocations WHERE device_id = $1 FOR UPDATE";
        self.run(sql, &[Text(device_id)]).map(|_| ())
    }

    fn append_audit(&mut self, entry: &NewAuditEntry) -> Result<(), StorageError> {
        super::audit::append_postgres(&mut self.0, entry).map(|_| ())
    }
}

/// [`DeviceStorage::revoke_device`] in `tx`: logged only when this call revoked the device.
fn revoke_in(
    tx: &mut impl FleetTx,
    device_id: &str,
    reason: &str,
    cutoff: i64,
    now: i64,
    audit: &NewAuditEntry,
) -> Result<RevokeOutcome, StorageError> {
    let args = [Text(device_id), Text(reason), Int(cutoff), Int(now)];
    if tx.run(REVOKE, &args)? == 1 {
        tx.append_audit(audit)?;
        return Ok(RevokeOutcome::Revoked);
    }
    Ok(match tx.revocation(device_id)? {
        Some(held) => RevokeOutcome::AlreadyRevoked(held),
        None => RevokeOutcome::NotEnrolled,
    })
}

/// [`DeviceStorage::replace_device`] in `tx` (a refusal changes nothing).
fn replace_in(
    tx: &mut impl FleetTx,
    device_id: &str,
    replacement: &str,
    audit: &dyn Fn(u64) -> NewAuditEntry,
) -> Result<ReplaceOutcome, StorageError> {
    tx.lock_revocation(device_id)?;
    let taken = tx.exists(ENROLLED, &[Text(replacement)])?;
    if let Some(refused) = replace_check(tx.revocation(device_id)?, taken) {
        return Ok(refused);
    }
    let (new, old) = (Text(replacement), Text(device_id));
    tx.run(MARK_REPLACED, &[new, old])?;
    let items_moved = tx.run(MOVE_ITEMS, &[new, old])?;
    tx.run(COPY_SENDERS, &[new, old])?;
    tx.append_audit(&audit(items_moved))?;
    Ok(ReplaceOutcome::Replaced { items_moved })
}

impl SqliteStorage {
    /// Runs `work` in an IMMEDIATE transaction (the write lock taken at once) and commits.
    pub(super) fn in_fleet_tx<T>(
        &self,
        context: &'static str,
        work: impl FnOnce(&mut SqliteTx<'_>) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sqlite(context))?;
        let mut tx = SqliteTx(tx, context);
        let done = work(&mut tx)?;
        tx.0.commit().map_err(sqlite(context))?;
        Ok(done)
    }
}

impl PostgresStorage {
    /// Runs `work` in a transaction and commits.
    pub(super) fn in_fleet_tx<T>(
        &self,
        context: &'static str,
        work: impl FnOnce(&mut PostgresTx<'_>) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(pg(context))?;
        let mut tx = PostgresTx(tx, context);
        let done = work(&mut tx)?;
        tx.0.commit().map_err(pg(context))?;
        Ok(done)
    }
}

impl DeviceStorage for SqliteStorage {
    fn devices(&self) -> Result<Vec<DeviceRow>, StorageError> {
        let context = "listing devices";
        let conn = self.conn();
        let mut statement = conn.prepare_cached(LIST).map_err(sqlite(context))?;
        let rows = statement
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    (r.get(2)?, r.get(3)?),
                    r.get(4)?,
                    r.get(5)?,
                    r.get::<_, i64>(6)?,
                    (r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?),
                ))
            })
            .map_err(sqlite(context))?;
        let mut devices = Vec::new();
        for row in rows {
            let (id, enrolled, head, last, version, pending, revocation) =
                row.map_err(sqlite(context))?;
            devices.push(device_row(
                id, enrolled, head, last, version, pending, revocation,
            )?);
        }
        Ok(devices)
    }

    fn revocation(&self, device_id: &str) -> Result<Option<Revocation>, StorageError> {
        sqlite_revocation(&self.conn(), device_id)
    }

    fn note_sync(
        &self,
        device_id: &str,
        at: i64,
        app_version: Option<&str>,
    ) -> Result<(), StorageError> {
        self.conn()
            .execute(NOTE_SYNC, params![device_id, at, app_version])
            .map(|_| ())
            .map_err(sqlite("noting a device's sync"))
    }

    fn revoke_device(
        &self,
        device_id: &str,
        reason: &str,
        cutoff: i64,
        now: i64,
        audit: &NewAuditEntry,
    ) -> Result<RevokeOutcome, StorageError> {
        self.in_fleet_tx("revoking a device", |tx| {
            revoke_in(tx, device_id, reason, cutoff, now, audit)
        })
    }

    fn replace_device(
        &self,
        device_id: &str,
        replacement: &str,
        audit: &dyn Fn(u64) -> NewAuditEntry,
    ) -> Result<ReplaceOutcome, StorageError> {
        self.in_fleet_tx("replacing a device", |tx| {
            replace_in(tx, device_id, replacement, audit)
        })
    }
}

fn sqlite_revocation(
    conn: &rusqlite::Connection,
    device_id: &str,
) -> Result<Option<Revocation>, StorageError> {
    let row = conn
        .query_row(REVOCATION, [device_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()
        .map_err(sqlite("reading a device's revocation"))?;
    Ok(row.and_then(revocation_of))
}

fn pg_revocation(
    client: &mut impl postgres::GenericClient,
    device_id: &str,
) -> Result<Option<Revocation>, StorageError> {
    let row = client
        .query_opt(REVOCATION, &[&device_id])
        .map_err(pg("reading a device's revocation"))?;
    Ok(row.and_then(|r| revocation_of((r.get(0), r.get(1), r.get(2), r.get(3)))))
}

impl DeviceStorage for PostgresStorage {
    fn devices(&self) -> Result<Vec<DeviceRow>, StorageError> {
        let rows = self
            .conn()?
            .query(LIST, &[])
            .map_err(pg("listing devices"))?;
        rows.iter()
            .map(|r| {
                device_row(
                    r.get(0),
                    r.get(1),
                    (r.get(2), r.get(3)),
                    r.get(4),
                    r.get(5),
                    r.get(6),
                    (r.get(7), r.get(8), r.get(9), r.get(10)),
                )
            })
            .collect()
    }

    fn revocation(&self, device_id: &str) -> Result<Option<Revocation>, StorageError> {
        pg_revocation(&mut *self.conn()?, device_id)
    }

    fn note_sync(
        &self,
        device_id: &str,
        at: i64,
        app_version: Option<&str>,
    ) -> Result<(), StorageError> {
        self.conn()?
            .execute(NOTE_SYNC, &[&device_id, &at, &app_version])
            .map(|_| ())
            .map_err(pg("noting a device's sync"))
    }

    fn revoke_device(
        &self,
        device_id: &str,
        reason: &str,
        cutoff: i64,
        now: i64,
        audit: &NewAuditEntry,
    ) -> Result<RevokeOutcome, StorageError> {
        self.in_fleet_tx("revoking a device", |tx| {
            revoke_in(tx, device_id, reason, cutoff, now, audit)
        })
    }

    fn replace_device(
        &self,
        device_id: &str,
        replacement: &str,
        audit: &dyn Fn(u64) -> NewAuditEntry,
    ) -> Result<ReplaceOutcome, StorageError> {
        self.in_fleet_tx("replacing a device", |tx| {
            replace_in(tx, device_id, replacement, audit)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replacement_needs_a_revoked_device_without_one_and_a_free_id() {
        let revoked = Revocation {
            reason: "lost".into(),
            cutoff: 10,
            revoked_at: 20,
            replaced_by: None,
        };
        assert_eq!(replace_check(None, false), Some(ReplaceOutcome::NotRevoked));
        assert_eq!(replace_check(Some(revoked.clone()), false), None);
        assert_eq!(
            replace_check(Some(revoked.clone()), true),
            Some(ReplaceOutcome::ReplacementTaken)
        );
        let replaced = Revocation {
            replaced_by: Some("new".into()),
            ..revoked
        };
        assert_eq!(
            replace_check(Some(replaced), false),
            Some(ReplaceOutcome::AlreadyReplaced("new".into()))
        );
    }
}
