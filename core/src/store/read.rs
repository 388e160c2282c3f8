//! Reading records back: one, a page, or the whole chain for verification.
//!
//! A row that does not open or parse is returned as such ([`RowError`]), never skipped.

use rusqlite::{Connection, OpenFlags, Row, params};

use super::crypt::{Purpose, Sealer};
use super::error::StoreError;
use super::{Store, meta, schema};
use crate::record::{
    ChainExpectation, ChainProblem, ChainReport, ChainVerifier, DeviceKey, Problem, RecordError,
    SignedRecord, hex_lower,
};
use crate::verify::UnixTime;

/// Why a stored row is not a readable record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("does not decrypt under the store key")]
    DoesNotOpen,
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// A row of the store: the clear columns, and the record if it reads.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    pub position: u64,
    pub record_id: String,
    pub recorded_at: UnixTime,
    pub synced_at: Option<UnixTime>,
    pub record: Result<SignedRecord, RowError>,
}

/// What a store holds, for people.
#[derive(Debug, Clone)]
pub struct StoreInfo {
    pub store_id: String,
    pub schema_version: i64,
    pub device: Option<super::DeviceBinding>,
    pub records: u64,
    pub pending_sync: u64,
    pub first: Option<u64>,
    pub last: Option<u64>,
    /// The last acknowledged record.
    pub head: u64,
}

const COLUMNS: &str = "seq, record_id, recorded_at, synced_at, sealed";

/// Rows handed to a core at a time in [`Store::verify_chain`] (about 10 ms of work): small
/// enough that both cores stay busy to the last record, large enough that handing them out is
/// noise.
const VERIFY_BATCH: usize = 64;

/// A row as stored, not yet opened.
struct RawRow {
    position: u64,
    record_id: String,
    recorded_at: UnixTime,
    synced_at: Option<UnixTime>,
    sealed: Vec<u8>,
}

fn raw_row(row: &Row<'_>) -> rusqlite::Result<RawRow> {
    let seq: i64 = row.get(0)?;
    Ok(RawRow {
        position: u64::try_from(seq).unwrap_or(0),
        record_id: row.get(1)?,
        recorded_at: UnixTime(row.get(2)?),
        synced_at: row.get::<_, Option<i64>>(3)?.map(UnixTime),
        sealed: row.get(4)?,
    })
}

fn open_row(sealer: &Sealer, raw: RawRow) -> StoredRecord {
    let record = match sealer.open(Purpose::Record, &raw.sealed) {
        Err(_) => Err(RowError::DoesNotOpen),
        Ok(plain) => SignedRecord::parse_envelope(&plain).map_err(RowError::Record),
    };
    StoredRecord {
        position: raw.position,
        record_id: raw.record_id,
        recorded_at: raw.recorded_at,
        synced_at: raw.synced_at,
        record,
    }
}

type Checked = (StoredRecord, Option<Result<(), RecordError>>);

/// Opens a row and checks its signature with `key`: the work of verify-chain that needs no
/// order, done on every core.
fn open_and_verify(sealer: &Sealer, key: &DeviceKey, raw: RawRow) -> Checked {
    let row = open_row(sealer, raw);
    let signature = row.record.as_ref().ok().map(|r| r.verify(key));
    (row, signature)
}

/// Batches handed out and not yet followed, per worker: enough that no core waits for the
/// reader, few enough that memory stays a few megabytes whatever the store's size.
const IN_FLIGHT_PER_WORKER: usize = 4;

fn thread_stopped() -> StoreError {
    StoreError::Sqlite {
        context: "verifying the chain",
        detail: "a verification thread stopped".into(),
    }
}

/// Verified batches as they come back from the workers, in any order, handed to the chain in
/// order.
struct InOrder {
    next: usize,
    waiting: std::collections::BTreeMap<usize, Vec<Checked>>,
}

impl InOrder {
    /// Takes batch `index` (or the news that its worker stopped) and follows every batch now
    /// due.
    fn arrived(
        &mut self,
        verifier: &mut ChainVerifier,
        (index, checked): (usize, Option<Vec<Checked>>),
    ) -> Result<(), StoreError> {
        // A worker can only fail by panicking: stop rather than leave its rows out.
        self.waiting
            .insert(index, checked.ok_or_else(thread_stopped)?);
        while let Some(checked) = self.waiting.remove(&self.next) {
            follow(verifier, checked);
            self.next += 1;
        }
        Ok(())
    }
}

/// Feeds a verified batch to the chain, in order, with the check of the clear columns.
fn follow(verifier: &mut ChainVerifier, checked: Vec<Checked>) {
    for (row, signature) in checked {
        if let Ok(record) = &row.record {
            if record.body().record_id() != row.record_id {
                verifier.problem(
                    row.position,
                    Problem::IndexMismatch {
                        column: "record_id",
                    },
                );
            }
            if record.body().time() != row.recorded_at {
                verifier.problem(
                    row.position,
                    Problem::IndexMismatch {
                        column: "recorded_at",
                    },
                );
            }
        }
        verifier.push_checked(row.position, row.record, signature);
    }
}

fn verifier_key(verifier: &ChainVerifier) -> DeviceKey {
    verifier.device_key().clone()
}

impl Store {
    pub(crate) fn row(&self, row: &Row<'_>) -> rusqlite::Result<StoredRecord> {
        Ok(open_row(&self.sealer, raw_row(row)?))
    }

    /// Up to `limit` rows from position `from` on, in chain order.
    pub fn list(&self, from: u64, limit: usize) -> Result<Vec<StoredRecord>, StoreError> {
        let err = |e| StoreError::sqlite("listing records", e);
        let mut statement = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM records WHERE seq >= ?1 ORDER BY seq LIMIT ?2"
            ))
            .map_err(err)?;
        let from = i64::try_from(from).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = statement
            .query_map(params![from, limit], |row| self.row(row))
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    /// The record with this id (32 hex digits) or at this position (`#12` or `12`).
    pub fn get(&self, reference: &str) -> Result<StoredRecord, StoreError> {
        let err = |e| StoreError::sqlite("reading a record", e);
        let position = reference
            .strip_prefix('#')
            .unwrap_or(reference)
            .parse::<i64>()
            .ok()
            .filter(|_| reference.len() < 32);
        let found = match position {
            Some(seq) => self.conn.query_row(
                &format!("SELECT {COLUMNS} FROM records WHERE seq = ?1"),
                [seq],
                |row| self.row(row),
            ),
            None => self.conn.query_row(
                &format!("SELECT {COLUMNS} FROM records WHERE record_id = ?1"),
                [reference.to_ascii_lowercase()],
                |row| self.row(row),
            ),
        };
        match found {
            Ok(row) => Ok(row),
            Err(rusqlite::Error::QueryReturnedNoRows) => Err(StoreError::NoSuchRecord {
                reference: reference.chars().take(80).collect(),
            }),
            Err(e) => Err(err(e)),
        }
    }

    /// Checks the file (SQLite's quick check) and then the whole chain: every record opens,
    /// parses, is signed by the store's device key, sits at its own position and names the hash
    /// of the one before; none is missing up to the acknowledged head.
    pub fn verify_chain(&self) -> Result<ChainReport, StoreError> {
        self.verify_chain_in_batches(VERIFY_BATCH)
    }

    /// [`Store::verify_chain`] reading and checking `batch_size` rows at a time (tests use
    /// small batches to put problems at their edges).
    pub(crate) fn verify_chain_in_batches(
        &self,
        batch_size: usize,
    ) -> Result<ChainReport, StoreError> {
        let path = self.path.as_path();
        std::thread::scope(|scope| {
            // SQLite's check of the file's structure reads every page, as the chain reads every
            // record: on a second, read-only connection it runs beside the chain instead of
            // before it. It still decides the outcome: a damaged file is reported as damaged
            // (as when the check ran first), whatever the chain made of it.
            let structure = scope.spawn(move || {
                let err = |e| StoreError::sqlite("checking the file", e);
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                quick_check_on(&Connection::open_with_flags(path, flags).map_err(err)?)
            });
            let chain = self.follow_chain(batch_size.max(1));
            structure.join().map_err(|_| thread_stopped())??;
            chain
        })
    }

    /// [`Store::verify_chain_in_batches`] without the check of the file.
    pub(crate) fn follow_chain(&self, batch_size: usize) -> Result<ChainReport, StoreError> {
        let start = meta::start(&self.conn, &self.sealer)?;
        let head = meta::head(&self.conn, &self.sealer)?;
        let Some(device) = self.device()? else {
            // Never written to: the only intact state is an empty chain. The device is bound in
            // the transaction of the first record, so records without it mean an edited file.
            let first = self.list(0, 1)?.first().map(|row| row.position);
            let problem = match first {
                Some(position) => Some((position, "the store holds records but names no device")),
                None if head.0 > 0 => {
                    Some((1, "the store acknowledged records but names no device"))
                }
                None => None,
            };
            return Ok(ChainReport {
                checked: 0,
                verified: 0,
                first: None,
                last: None,
                problems: problem
                    .map(|(position, why)| ChainProblem {
                        position,
                        problem: Problem::Unreadable { why: why.into() },
                    })
                    .into_iter()
                    .collect(),
                more_problems: 0,
            });
        };
        let mut verifier = ChainVerifier::new(ChainExpectation {
            device_id: device.device_id,
            device_key: device.key,
            start,
            head: Some(head),
        });
        let err = |e| StoreError::sqlite("verifying the chain", e);
        let mut statement = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM records ORDER BY seq"))
            .map_err(err)?;
        let mut rows = statement.query([]).map_err(err)?;
        let key = verifier_key(&verifier);
        let workers = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .clamp(1, 8);
        let (sealer, key) = (&self.sealer, &key);
        // Decrypting, parsing and checking signatures is the work; it needs no order, so every
        // core takes batches from one queue as it is free (a core slowed by other work takes
        // fewer). This thread reads the rows from SQLite and follows the chain through the
        // verified batches in order; both are light, and neither waits for a whole round.
        let (work, queue) = std::sync::mpsc::sync_channel::<(usize, Vec<RawRow>)>(workers);
        let queue = std::sync::Mutex::new(queue);
        let (done, verified) = std::sync::mpsc::channel::<(usize, Option<Vec<Checked>>)>();
        std::thread::scope(|scope| -> Result<(), StoreError> {
            for _ in 0..workers {
                let (queue, done) = (&queue, done.clone());
                scope.spawn(move || {
                    loop {
                        let next = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        let Ok((index, batch)) = next else { return };
                        let checked =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                batch
                                    .into_iter()
                                    .map(|raw| open_and_verify(sealer, key, raw))
                                    .collect::<Vec<_>>()
                            }));
                        if done.send((index, checked.ok())).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(done);
            // Moved in, so that leaving early (an error) closes the queue and the workers end.
            let work = work;
            let mut in_order = InOrder {
                next: 0,
                waiting: std::collections::BTreeMap::new(),
            };
            let mut sent = 0;
            loop {
                let mut batch = Vec::with_capacity(batch_size);
                while batch.len() < batch_size {
                    match rows.next().map_err(err)? {
                        Some(row) => batch.push(raw_row(row).map_err(err)?),
                        None => break,
                    }
                }
                if batch.is_empty() {
                    break;
                }
                while sent - in_order.next >= workers * IN_FLIGHT_PER_WORKER {
                    let arrived = verified.recv().map_err(|_| thread_stopped())?;
                    in_order.arrived(&mut verifier, arrived)?;
                }
                work.send((sent, batch)).map_err(|_| thread_stopped())?;
                sent += 1;
                while let Ok(arrived) = verified.try_recv() {
                    in_order.arrived(&mut verifier, arrived)?;
                }
            }
            drop(work);
            while in_order.next < sent {
                let arrived = verified.recv().map_err(|_| thread_stopped())?;
                in_order.arrived(&mut verifier, arrived)?;
            }
            Ok(())
        })?;
        Ok(verifier.finish())
    }

    /// The connection's durability settings as SQLite reports them: `(journal_mode,
    /// synchronous)`, e.g. `("wal", 2)` for WAL with `synchronous=FULL`. For benchmarks that
    /// must compare like with like.
    pub fn durability(&self) -> Result<(String, i64), StoreError> {
        let err = |e| StoreError::sqlite("reading the durability settings", e);
        let mode = self
            .conn
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .map_err(err)?;
        let synchronous = self
            .conn
            .query_row("PRAGMA synchronous", [], |row| row.get(0))
            .map_err(err)?;
        Ok((mode, synchronous))
    }

    /// SQLite's structural check of the file (pages, b-trees, free list).
    pub fn quick_check(&self) -> Result<(), StoreError> {
        quick_check_on(&self.conn)
    }

    pub fn info(&self) -> Result<StoreInfo, StoreError> {
        let err = |e| StoreError::sqlite("reading the store's summary", e);
        let (records, pending, first, last): (i64, i64, Option<i64>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT COUNT(*), COUNT(*) - COUNT(synced_at), MIN(seq), MAX(seq) FROM records",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .map_err(err)?;
        let to_u64 = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(StoreInfo {
            store_id: hex_lower(&self.store_id),
            schema_version: schema::version(&self.conn)?,
            device: self.device()?,
            records: to_u64(records),
            pending_sync: to_u64(pending),
            first: first.map(to_u64),
            last: last.map(to_u64),
            head: meta::head(&self.conn, &self.sealer)?.0,
        })
    }
}

/// SQLite's quick check on `conn`: `Corrupt` with its first findings unless it says "ok".
fn quick_check_on(conn: &Connection) -> Result<(), StoreError> {
    let err = |e| StoreError::sqlite("checking the file", e);
    let mut statement = conn.prepare("PRAGMA quick_check").map_err(err)?;
    let lines: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .map_err(err)?
        .collect::<Result<_, _>>()
        .map_err(err)?;
    if lines.len() == 1 && lines[0] == "ok" {
        Ok(())
    } else {
        Err(StoreError::Corrupt {
            detail: lines.into_iter().take(5).collect::<Vec<_>>().join("; "),
        })
    }
}
