//! The batch upload of [`SyncClient::sync`], pipelined: while the receiver verifies and stores
//! one batch, the device checks the receipts of the batch before it, marks those records
//! synced, and reads the next batch from its store.
//!
//! Sent one after another, a batch of 500 left the receiver idle while the device read,
//! decrypted and parsed the next batch and verified 500 receipt signatures, and left the device
//! idle while the receiver worked: `receiver-costs` measured the device's share at about a
//! third of the end-to-end sync. Overlapping the two changes no rule:
//! - a record is marked synced only after its receipt verified (in [`SyncClient::apply`], as
//!   before), so a device killed at any instant resumes by resending what has no verified
//!   receipt, and the receiver answers those as duplicates;
//! - batches still go in chain order. The next batch is sent before the previous one's receipts
//!   are verified only when the receiver answered every record of that batch with a receipt
//!   (`accepted` or `duplicate`); any other answer (a refusal, a missing result) is applied
//!   first, as before, and the read-ahead is dropped, so a record left pending is sent again
//!   before any record after it;
//! - a receipt that does not verify stops the sync with the same error; the batch already in
//!   flight then simply stays pending (the receiver holds it; the next sync gets duplicates).

use super::client::{BatchResponse, SyncClient, SyncError, SyncReport};
use crate::record::{DeviceKey, DeviceSigner, SignedRecord};
use crate::store::{Store, StoredRecord};
use crate::verify::{Clock, RandomSource, UnixTime};

/// A batch as read from the store: its records, or the error that stops the sync when its
/// turn comes, and the position of its last row.
struct Read {
    records: Result<Vec<SignedRecord>, SyncError>,
    last: Option<u64>,
}

impl Read {
    fn of(rows: Vec<StoredRecord>) -> Self {
        let last = rows.last().map(|row| row.position);
        let records = rows
            .into_iter()
            .map(|row| {
                row.record.map_err(|e| SyncError::Unreadable {
                    position: row.position,
                    why: e.to_string(),
                })
            })
            .collect();
        Self { records, last }
    }
}

/// A batch the receiver answered in full, whose receipts are still to be checked.
struct Answered {
    records: Vec<SignedRecord>,
    response: BatchResponse,
}

impl SyncClient {
    /// Sends every pending record, as [`SyncClient::sync`] says, with the device's work on the
    /// previous batch overlapping the receiver's on the current one.
    pub(super) fn upload(
        &self,
        store: &mut Store,
        signer: &dyn DeviceSigner,
        key: &DeviceKey,
        clock: &dyn Clock,
        random: &mut dyn RandomSource,
    ) -> Result<SyncReport, SyncError> {
        let size = self.config.batch_size.max(1);
        let mut report = SyncReport::default();
        // The batch read ahead while the previous one was in flight.
        let mut ahead: Option<Read> = None;
        // The previous batch, answered in full, its receipts not yet checked.
        let mut answered: Option<Answered> = None;
        loop {
            let batch = match ahead.take() {
                Some(read) if read.last.is_some() => read,
                // Nothing read ahead: the oldest pending records (receipts checked first, so
                // that what they acknowledge is not read again).
                _ => {
                    if let Some(previous) = answered.take() {
                        self.settle(store, previous, clock.now(), &mut report)?;
                    }
                    Read::of(store.pending_sync(size)?)
                }
            };
            let records = match batch.records {
                Ok(records) => records,
                Err(unreadable) => {
                    // What was sent before the unreadable row is marked first, as it would be
                    // one batch at a time.
                    if let Some(previous) = answered.take() {
                        self.settle(store, previous, clock.now(), &mut report)?;
                    }
                    return Err(unreadable);
                }
            };
            if records.is_empty() {
                if let Some(previous) = answered.take() {
                    self.settle(store, previous, clock.now(), &mut report)?;
                }
                return Ok(report);
            }
            // The previous batch's receipts checked and its records marked, and the batch
            // after this one read, on a second thread while this one is sent.
            let at = clock.now();
            let previous = answered.take();
            let after = batch.last.unwrap_or(0).saturating_add(1);
            let (sent, worked) = std::thread::scope(|scope| {
                let store = &mut *store;
                let work = scope.spawn(move || -> Result<(SyncReport, Read), SyncError> {
                    let mut counts = SyncReport::default();
                    if let Some(previous) = previous {
                        self.settle(store, previous, at, &mut counts)?;
                    }
                    // Rows after this batch; one synced already (a receipt that came back
                    // out of order) is skipped, and a short read only means a smaller batch.
                    let rows = store.list(after, size)?;
                    let pending = rows.into_iter().filter(|r| r.synced_at.is_none()).collect();
                    Ok((counts, Read::of(pending)))
                });
                let sent = self.send(&records, signer, key, clock, random, &mut report);
                let worked = work.join().map_err(|_| {
                    SyncError::Protocol("checking the receipts of the previous batch failed".into())
                });
                (sent, worked)
            });
            let (counts, next) = worked??;
            report.synced += counts.synced;
            report.duplicates += counts.duplicates;
            report.flagged += counts.flagged;
            let response = sent?;
            if answers_every_record(&records, &response) {
                answered = Some(Answered { records, response });
                ahead = Some(next);
            } else {
                // A refusal or a missing result: applied now, as a sequential sync would, and
                // the next batch read again from the oldest pending record.
                let progress = self.apply(store, &records, response, clock.now(), &mut report)?;
                if progress == 0 {
                    return Err(SyncError::Protocol(
                        "the receiver answered a batch without a receipt for any record".into(),
                    ));
                }
            }
        }
    }

    /// Checks the receipts of a batch answered in full and marks its records synced.
    fn settle(
        &self,
        store: &mut Store,
        answered: Answered,
        at: UnixTime,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        self.apply(store, &answered.records, answered.response, at, report)
            .map(|_| ())
    }
}

/// Whether the receiver answered each record of `records`, and only those, with a receipt.
fn answers_every_record(records: &[SignedRecord], response: &BatchResponse) -> bool {
    let mut sent: std::collections::HashSet<&str> =
        records.iter().map(|r| r.body().record_id()).collect();
    response.results.len() == records.len()
        && response.results.iter().all(|result| {
            matches!(result.status.as_str(), "accepted" | "duplicate")
                && result.receipt.is_some()
                && sent.remove(result.record_id.as_str())
        })
}
