//! A device's enrolment in both databases: its one-time code consumed, its key registered and
//! its `enrol_device` audit entry appended in one transaction ([`enrol_in`], written once over
//! the fleet's transaction), so a key the receiver trusts to sign records always has the entry
//! that says when, how and with which code it came in, and an entry never names a device that
//! is not enrolled. Should the entry not be written, nothing is: the code stays unused and the
//! device can try again.

use r2d2_postgres::postgres;
use rusqlite::OptionalExtension;

use super::devices::{Arg, FleetTx, PostgresTx, SqliteTx};
use super::items::{pg, sqlite};
use super::{PostgresStorage, SqliteStorage, StorageError};
use crate::audit::NewAuditEntry;
use Arg::{Bytes, Int, Text};

/// What an enrolment's transaction established, for its audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment<'a> {
    pub device_id: &'a str,
    /// The registered key, DER SubjectPublicKeyInfo.
    pub key_spki: &'a [u8],
    pub enrolled_at: i64,
    /// The consumed code's expiry (its issue time plus its validity): it tells which issue
    /// the code came from without the code itself.
    pub code_expires_at: i64,
    /// The senders the device was enrolled for when its code was issued, sorted.
    pub senders: Vec<String>,
}

// Parameters in order of first use: SQLite numbers `$n` by where it first appears.
/// Marks the device's unused, unexpired code used; the code's expiry when there is one.
const CONSUME: &str = "UPDATE enrolment_codes SET used_at = $1
    WHERE code_hash = $2 AND device_id = $3 AND used_at IS NULL AND expires_at >= $1
    RETURNING expires_at";

const REGISTER: &str = "INSERT INTO devices (device_id, key_spki, enrolled_at) VALUES ($1, $2, $3)
    ON CONFLICT (device_id) DO NOTHING";

const SENDERS: &str =
    "SELECT sender_id FROM device_senders WHERE device_id = $1 ORDER BY sender_id";

/// What an enrolment reads besides what [`FleetTx`] does.
pub(super) trait EnrolTx: FleetTx {
    /// The first column of the first row `sql` returns, as an integer.
    fn integer(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Option<i64>, StorageError>;
    /// The first column of every row `sql` returns, as text.
    fn texts(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<String>, StorageError>;
}

impl EnrolTx for SqliteTx<'_> {
    fn integer(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Option<i64>, StorageError> {
        self.0
            .query_row(sql, rusqlite::params_from_iter(args), |r| r.get(0))
            .optional()
            .map_err(sqlite(self.1))
    }

    fn texts(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<String>, StorageError> {
        let mut statement = self.0.prepare_cached(sql).map_err(sqlite(self.1))?;
        let rows = statement
            .query_map(rusqlite::params_from_iter(args), |r| r.get(0))
            .map_err(sqlite(self.1))?;
        rows.collect::<Result<_, _>>().map_err(sqlite(self.1))
    }
}

impl EnrolTx for PostgresTx<'_> {
    fn integer(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Option<i64>, StorageError> {
        let row = self
            .0
            .query_opt(sql, &Self::params(args))
            .map_err(pg(self.1))?;
        row.map(|r| r.try_get(0)).transpose().map_err(pg(self.1))
    }

    fn texts(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<String>, StorageError> {
        let rows = self.0.query(sql, &Self::params(args)).map_err(pg(self.1))?;
        rows.iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, postgres::Error>>()
            .map_err(pg(self.1))
    }
}

/// [`super::Storage::enrol`] in `tx`. `Ok(false)`: no unused, unexpired code of the device
/// has that hash (nothing is written); an enrolled id is refused after its code was found, and
/// the transaction, code included, rolls back.
pub(super) fn enrol_in(
    tx: &mut impl EnrolTx,
    device_id: &str,
    code_hash: &str,
    key_spki: &[u8],
    now: i64,
    audit: &dyn Fn(&Enrolment<'_>) -> NewAuditEntry,
) -> Result<bool, StorageError> {
    // The UPDATE locks the code's row (PostgreSQL; SQLite's transaction holds the write lock):
    // of two receivers given the same code, one wins.
    let consumed = tx.integer(CONSUME, &[Int(now), Text(code_hash), Text(device_id)])?;
    let Some(code_expires_at) = consumed else {
        return Ok(false);
    };
    if tx.run(REGISTER, &[Text(device_id), Bytes(key_spki), Int(now)])? != 1 {
        return Err(StorageError::AlreadyEnrolled(device_id.to_owned()));
    }
    let senders = tx.texts(SENDERS, &[Text(device_id)])?;
    tx.append_audit(&audit(&Enrolment {
        device_id,
        key_spki,
        enrolled_at: now,
        code_expires_at,
        senders,
    }))?;
    Ok(true)
}

impl SqliteStorage {
    pub(super) fn enrol_logged(
        &self,
        device_id: &str,
        code_hash: &str,
        key_spki: &[u8],
        now: i64,
        audit: &dyn Fn(&Enrolment<'_>) -> NewAuditEntry,
    ) -> Result<bool, StorageError> {
        self.in_fleet_tx("enrolling a device", |tx| {
            enrol_in(tx, device_id, code_hash, key_spki, now, audit)
        })
    }
}

impl PostgresStorage {
    pub(super) fn enrol_logged(
        &self,
        device_id: &str,
        code_hash: &str,
        key_spki: &[u8],
        now: i64,
        audit: &dyn Fn(&Enrolment<'_>) -> NewAuditEntry,
    ) -> Result<bool, StorageError> {
        self.in_fleet_tx("enrolling a device", |tx| {
            enrol_in(tx, device_id, code_hash, key_spki, now, audit)
        })
    }
}
