//! Retention: which records reached the sender, and the purge of those kept long enough.
//!
//! A purge removes only a prefix of the chain (from its start up to the first record that is not
//! synced, or synced too recently), and stores the last purged record's position and hash as the
//! chain's new start in the same transaction. The records left therefore still verify as a
//! chain, and a record deleted by anyone else still shows as missing.

use rusqlite::{TransactionBehavior, params};

use super::crypt::Purpose;
use super::error::StoreError;
use super::{Store, meta};
use crate::record::{ChainLink, SignedRecord};
use crate::verify::UnixTime;

/// How long a synced record stays on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub keep_synced_days: u32,
}

impl Default for Retention {
    /// A week: long enough to answer a courier's or a sender's question about a delivery, short
    /// enough that a lost handheld holds little. The sender keeps its copy as the law requires.
    fn default() -> Self {
        Self {
            keep_synced_days: 7,
        }
    }
}

impl Retention {
    /// Records synced at or before this instant may be purged at `now`.
    pub fn cutoff(self, now: UnixTime) -> UnixTime {
        UnixTime(now.0 - i64::from(self.keep_synced_days) * 86_400)
    }
}

/// What a purge removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeReport {
    pub purged: u64,
    /// The position the chain now starts at.
    pub start: u64,
}

impl Store {
    /// Marks a record as received by the sender. Marking it again keeps the first time.
    pub fn mark_synced(&mut self, record_id: &str, at: UnixTime) -> Result<(), StoreError> {
        let changed = self
            .conn
            .execute(
                "UPDATE records SET synced_at = COALESCE(synced_at, ?2) WHERE record_id = ?1",
                params![record_id.to_ascii_lowercase(), at.0],
            )
            .map_err(|e| StoreError::sqlite("marking a record synced", e))?;
        if changed == 0 {
            return Err(StoreError::NoSuchRecord {
                reference: record_id.chars().take(80).collect(),
            });
        }
        Ok(())
    }

    /// Marks every record of `record_ids` as received, in one transaction (one fsync for a
    /// whole batch of receipts): all or none. Marking again keeps the first time.
    pub fn mark_synced_all(
        &mut self,
        record_ids: &[String],
        at: UnixTime,
    ) -> Result<(), StoreError> {
        let err = |e| StoreError::sqlite("marking records synced", e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        {
            let mut statement = tx
                .prepare(
                    "UPDATE records SET synced_at = COALESCE(synced_at, ?2) WHERE record_id = ?1",
                )
                .map_err(err)?;
            for record_id in record_ids {
                let changed = statement
                    .execute(params![record_id.to_ascii_lowercase(), at.0])
                    .map_err(err)?;
                if changed == 0 {
                    // Dropping the transaction unmarks the others: all or none.
                    return Err(StoreError::NoSuchRecord {
                        reference: record_id.chars().take(80).collect(),
                    });
                }
            }
        }
        tx.commit().map_err(err)
    }

    /// Records not yet synced, oldest first.
    pub fn pending_sync(&self, limit: usize) -> Result<Vec<super::StoredRecord>, StoreError> {
        let err = |e| StoreError::sqlite("listing records to sync", e);
        let mut statement = self
            .conn
            .prepare(
                "SELECT seq, record_id, recorded_at, synced_at, sealed FROM records
                 WHERE synced_at IS NULL ORDER BY seq LIMIT ?1",
            )
            .map_err(err)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = statement
            .query_map([limit], |row| self.row(row))
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    /// Purges records synced at or before `retention.cutoff(now)`, from the chain's start on.
    pub fn purge_synced(
        &mut self,
        retention: Retention,
        now: UnixTime,
    ) -> Result<PurgeReport, StoreError> {
        let cutoff = retention.cutoff(now);
        let err = |e| StoreError::sqlite("purging synced records", e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let start = meta::start(&tx, &self.sealer)?;
        // The purgeable prefix: consecutive positions from the start, all synced by the cutoff.
        let mut last: Option<(u64, Vec<u8>)> = None;
        {
            let mut statement = tx
                .prepare("SELECT seq, synced_at, sealed FROM records ORDER BY seq")
                .map_err(err)?;
            let mut rows = statement.query([]).map_err(err)?;
            let mut expected = start.seq;
            while let Some(row) = rows.next().map_err(err)? {
                let seq: i64 = row.get(0).map_err(err)?;
                let synced_at: Option<i64> = row.get(1).map_err(err)?;
                let seq = u64::try_from(seq).unwrap_or(0);
                let old_enough = synced_at.is_some_and(|t| t <= cutoff.0);
                if seq != expected || !old_enough {
                    break;
                }
                last = Some((seq, row.get(2).map_err(err)?));
                expected += 1;
            }
        }
        let Some((last_seq, sealed)) = last else {
            return Ok(PurgeReport {
                purged: 0,
                start: start.seq,
            });
        };
        // The new start must be the true hash of the last purged record: it has to read and
        // verify, or the purge stops (verify-chain says why).
        let unreadable = |why: String| StoreError::Unreadable {
            position: last_seq,
            why,
        };
        let plain = self
            .sealer
            .open(Purpose::Record, &sealed)
            .map_err(|_| unreadable("does not decrypt".into()))?;
        let record = SignedRecord::parse_envelope(&plain).map_err(|e| unreadable(e.to_string()))?;
        let device =
            meta::device(&tx, &self.sealer)?.ok_or(StoreError::MetaDamaged { what: "device" })?;
        record
            .verify(&device.key)
            .map_err(|e| unreadable(e.to_string()))?;
        if record.body().seq() != last_seq {
            return Err(unreadable("it holds another position's record".into()));
        }
        let first_i64 = i64::try_from(start.seq).unwrap_or(i64::MAX);
        let last_i64 = i64::try_from(last_seq).unwrap_or(i64::MAX);
        let purged = tx
            .execute(
                "DELETE FROM records WHERE seq BETWEEN ?1 AND ?2",
                [first_i64, last_i64],
            )
            .map_err(err)?;
        let new_start = ChainLink {
            seq: last_seq + 1,
            prev_hash: record.hash(),
        };
        meta::put_start(&tx, &self.sealer, new_start, self.random.as_mut())?;
        tx.commit().map_err(err)?;
        Ok(PurgeReport {
            purged: purged as u64,
            start: new_start.seq,
        })
    }
}
