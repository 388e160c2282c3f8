//! The record store on the device: the core's encrypted, crash-safe, hash-chained SQLite store,
//! with the platform's key provider and device signer.
//!
//! A record is made only from a [`DoorCheckReport`] (an object only a check makes) by the core's
//! `RecordDraft::from_check`, with the request and time the check was made for; Kotlin adds the
//! courier id and what the sender's policy wants kept, nothing else.
//!
//! One `RecordStore` object per file. Its calls are serialised on one connection; a sync (in
//! `sync.rs`) opens its own connection, so a record can be stored while a sync waits on the
//! network (SQLite's WAL and the store's busy timeout order the two writers).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use honnin_core::check::{Level, Verdict};
use honnin_core::record::{AttributePolicy, RecordContext, RecordDraft};
use honnin_core::store::{Store, StoredRecord};
use honnin_core::verify::UnixTime;

use crate::error::HonninError;
use crate::keys::{Keys, Signer, bridged, now};
use crate::platform::{Clock, DeviceSigner, KeyProvider};
use crate::report::DoorCheckReport;
use crate::session::StopSignal;

/// Which of the holder's verified attributes the sender's policy wants in its records; none by
/// default. A level C record carries the signing certificate (which holds all four) whatever
/// this says, because the sender needs it to verify the card's signature.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, uniffi::Record)]
pub struct RecordAttributes {
    #[uniffi(default = false)]
    pub name: bool,
    #[uniffi(default = false)]
    pub address: bool,
    #[uniffi(default = false)]
    pub birth_date: bool,
    #[uniffi(default = false)]
    pub sex: bool,
}

impl From<RecordAttributes> for AttributePolicy {
    fn from(a: RecordAttributes) -> Self {
        AttributePolicy {
            name: a.name,
            address: a.address,
            birth_date: a.birth_date,
            sex: a.sex,
        }
    }
}

/// What the store acknowledges: the record is on disk when Kotlin sees this.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AppendedRecord {
    /// The record's position in the device's chain, from 1.
    pub position: u64,
    /// 32 hex digits.
    pub record_id: String,
    /// SHA-256 of the record's canonical body: the next record's `prev_hash`.
    pub hash: Vec<u8>,
}

/// One stored record, for a list screen. Holds no personal data (the attributes a record keeps
/// stay in its envelope).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RecordSummary {
    pub position: u64,
    pub record_id: String,
    /// When the record was made (the check's time), Unix seconds.
    pub recorded_at: i64,
    /// When the receiver's receipt for it verified; `None` while it waits to be synced.
    pub synced_at: Option<i64>,
    /// Empty when the record does not read (see `problem`).
    pub item_id: String,
    pub sender_id: String,
    pub courier_id: String,
    /// `None` when the record does not read, or was made by a newer honnin with a new code.
    pub level: Option<Level>,
    pub verdict: Option<Verdict>,
    /// Why the stored record does not read (it does not decrypt or parse): the store is damaged,
    /// run `verifyChain`. `None` for a readable record.
    pub problem: Option<String>,
}

impl From<&StoredRecord> for RecordSummary {
    fn from(row: &StoredRecord) -> Self {
        let mut summary = RecordSummary {
            position: row.position,
            record_id: row.record_id.clone(),
            recorded_at: row.recorded_at.0,
            synced_at: row.synced_at.map(|t| t.0),
            item_id: String::new(),
            sender_id: String::new(),
            courier_id: String::new(),
            level: None,
            verdict: None,
            problem: None,
        };
        match &row.record {
            Ok(record) => {
                let body = record.body();
                summary.item_id = body.item_id().to_owned();
                summary.sender_id = body.sender_id().to_owned();
                summary.courier_id = body.courier_id().to_owned();
                summary.level = Some(body.level());
                summary.verdict = Some(body.verdict());
            }
            Err(error) => summary.problem = Some(error.to_string()),
        }
        summary
    }
}

/// What a store holds.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreSummary {
    pub store_id: String,
    /// The device the store belongs to; `None` before its first record.
    pub device_id: Option<String>,
    /// SHA-256 of the device key's SubjectPublicKeyInfo, hex (`device_key_id` in records).
    pub device_key_id: Option<String>,
    pub records: u64,
    pub pending_sync: u64,
    /// Position of the last record the store acknowledged.
    pub head: u64,
}

/// A problem [`RecordStore::verify_chain`] found, at a chain position.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChainProblem {
    pub position: u64,
    /// What is wrong there, in English (edited, deleted, reordered, …).
    pub description: String,
}

/// The result of [`RecordStore::verify_chain`].
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChainCheck {
    /// No problem anywhere: every record reads, is signed by the store's device key, sits at
    /// its place and names the one before; none is missing.
    pub intact: bool,
    pub checked: u64,
    pub verified: u64,
    pub problems: Vec<ChainProblem>,
    /// Problems found beyond those listed.
    pub more_problems: u64,
}

/// An open record store: proof records signed by the device key, encrypted at rest under the
/// key provider's key, chained by hash. Thread-safe; calls block on the file, so run them off
/// the main thread.
#[derive(uniffi::Object)]
pub struct RecordStore {
    store: Mutex<Store>,
    pub(crate) path: PathBuf,
    pub(crate) keys: Arc<dyn KeyProvider>,
    pub(crate) signer: Arc<dyn DeviceSigner>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Held for the whole of a sync, so two syncs of one store never run at once.
    pub(crate) sync_lock: Mutex<()>,
}

impl RecordStore {
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        // A poisoned lock only means a panic elsewhere; every write is its own transaction.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Newest first, from a chain-ordered page.
    fn newest_first(rows: Vec<StoredRecord>, below: u64) -> Vec<RecordSummary> {
        rows.iter()
            .rev()
            .filter(|row| row.position < below)
            .map(RecordSummary::from)
            .collect()
    }
}

/// Records read per page when looking back for a period.
const PAGE: u32 = 200;

#[uniffi::export]
impl RecordStore {
    /// Opens the store at `path`, or creates it there when no file exists and
    /// `create_if_missing` (on Android a path under `Context.getNoBackupFilesDir()`). Opening
    /// checks the key and that no record the store acknowledged is missing. The store binds to
    /// the device id and key of its first record.
    #[uniffi::constructor(default(create_if_missing = true))]
    pub fn open(
        path: String,
        keys: Arc<dyn KeyProvider>,
        signer: Arc<dyn DeviceSigner>,
        clock: Arc<dyn Clock>,
        create_if_missing: bool,
    ) -> Result<Arc<Self>, HonninError> {
        let path = PathBuf::from(path);
        let stop = Arc::new(StopSignal::new(None));
        let provider = Keys::new(Arc::clone(&keys), Arc::clone(&stop));
        let opened = if create_if_missing {
            Store::open_or_create(&path, &provider)
        } else {
            Store::open(&path, &provider)
        };
        let store = bridged(&stop, opened)?;
        Ok(Arc::new(Self {
            store: Mutex::new(store),
            path,
            keys,
            signer,
            clock,
            sync_lock: Mutex::new(()),
        }))
    }

    /// Signs the record of a finished door check with the device key and stores it; returns
    /// once it is durable. The record holds the check's parcel, sender, device, time, level,
    /// verdict, every check and the card's evidence; of the holder's attributes only those
    /// `attributes` asks for; never the face image, a PIN or the Individual Number.
    #[uniffi::method(default(attributes = None))]
    pub fn append(
        &self,
        report: Arc<DoorCheckReport>,
        courier_id: String,
        attributes: Option<RecordAttributes>,
    ) -> Result<AppendedRecord, HonninError> {
        let (report, request, time) = report.core();
        let context = RecordContext {
            courier_id,
            time,
            policy: attributes.unwrap_or_default().into(),
        };
        let draft = RecordDraft::from_check(report, request, &context)?;
        let stop = Arc::new(StopSignal::new(None));
        let signer = Signer::new(Arc::clone(&self.signer), Arc::clone(&stop));
        let appended = bridged(&stop, self.store().append(draft, &signer))?;
        Ok(AppendedRecord {
            position: appended.seq,
            record_id: appended.record_id,
            hash: appended.hash.to_vec(),
        })
    }

    /// Up to `limit` records, newest first, before position `before_position` (all when
    /// `None`): pass the last position of a page to get the next.
    #[uniffi::method(default(before_position = None, limit = 50))]
    pub fn records(
        &self,
        before_position: Option<u64>,
        limit: u32,
    ) -> Result<Vec<RecordSummary>, HonninError> {
        let store = self.store();
        let below = match before_position {
            Some(position) => position,
            None => store.info()?.last.map_or(0, |last| last + 1),
        };
        let from = below.saturating_sub(u64::from(limit));
        let rows = store.list(from, limit as usize)?;
        Ok(Self::newest_first(rows, below))
    }

    /// The records made in `[from_unix_seconds, to_unix_seconds)`, newest first. Looks back
    /// from the newest record and stops at the first one made before the period (records are
    /// appended in time order on one device).
    pub fn records_between(
        &self,
        from_unix_seconds: i64,
        to_unix_seconds: i64,
    ) -> Result<Vec<RecordSummary>, HonninError> {
        let mut found = Vec::new();
        let mut before = None;
        loop {
            let page = self.records(before, PAGE)?;
            let Some(last) = page.last() else {
                return Ok(found);
            };
            before = Some(last.position);
            for record in page {
                if record.recorded_at < from_unix_seconds {
                    return Ok(found);
                }
                if record.recorded_at < to_unix_seconds {
                    found.push(record);
                }
            }
        }
    }

    /// The records of today, newest first: from the last local midnight by the platform clock,
    /// with the zone's offset from UTC (`TimeZone.getDefault().getOffset(now) / 1000`; +32400
    /// for Japan).
    pub fn todays_records(
        &self,
        utc_offset_seconds: i32,
    ) -> Result<Vec<RecordSummary>, HonninError> {
        let now = now(self.clock.as_ref())?.0;
        let offset = i64::from(utc_offset_seconds);
        let midnight = (now + offset).div_euclid(86_400) * 86_400 - offset;
        self.records_between(midnight, midnight + 86_400)
    }

    /// Records waiting to be synced.
    pub fn pending_sync_count(&self) -> Result<u64, HonninError> {
        Ok(self.store().info()?.pending_sync)
    }

    pub fn summary(&self) -> Result<StoreSummary, HonninError> {
        let info = self.store().info()?;
        Ok(StoreSummary {
            store_id: info.store_id,
            device_id: info.device.as_ref().map(|d| d.device_id.clone()),
            device_key_id: info.device.as_ref().map(|d| d.key.id_hex()),
            records: info.records,
            pending_sync: info.pending_sync,
            head: info.head,
        })
    }

    /// Checks the file and the whole chain, naming the position of every edited, deleted,
    /// reordered or re-inserted record.
    pub fn verify_chain(&self) -> Result<ChainCheck, HonninError> {
        let report = self.store().verify_chain()?;
        Ok(ChainCheck {
            intact: report.problems.is_empty() && report.more_problems == 0,
            checked: report.checked,
            verified: report.verified,
            problems: report
                .problems
                .iter()
                .map(|p| ChainProblem {
                    position: p.position,
                    description: p.problem.to_string(),
                })
                .collect(),
            more_problems: report.more_problems,
        })
    }

    /// The signed envelope of one record (its id, or its position as `#12` or `12`), exactly as
    /// a sender receives it: canonical JSON, verifiable with `verifyRecord`. It holds the
    /// attributes the policy kept: personal data, never log it.
    pub fn record_envelope(&self, reference: String) -> Result<Vec<u8>, HonninError> {
        let row = self.store().get(&reference)?;
        let record = row.record.map_err(|error| HonninError::StoreDamaged {
            detail: format!(
                "the record at position {} cannot be read ({error}); run verifyChain",
                row.position
            ),
        })?;
        Ok(record.to_envelope_bytes())
    }

    /// The records made in `[from_unix_seconds, to_unix_seconds)` for audit, sealed under a key
    /// derived from the store key (`honnin.export.sealed.v1`): only the store key opens it.
    /// Every record must read and verify, or the export fails naming the position.
    pub fn export_sealed(
        &self,
        from_unix_seconds: i64,
        to_unix_seconds: i64,
    ) -> Result<Vec<u8>, HonninError> {
        let mut store = self.store();
        let export = store.export(UnixTime(from_unix_seconds), UnixTime(to_unix_seconds))?;
        Ok(store.seal_export(&export))
    }
}
