//! Creating and opening a store, and what opening checks.
//!
//! A new store is written under `<name>.creating`, closed, synced, and then linked to its name,
//! so a crash during creation leaves either no store or a complete one; never an empty file that
//! a later open could mistake for a store with no records. Conversely an existing empty or
//! non-SQLite file is refused, not recreated: records are never dropped by starting afresh.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::crypt::{KeyProvider, Sealer};
use super::error::StoreError;
use super::{Store, meta, schema};
use crate::record::ChainLink;
use crate::verify::{RandomSource, SystemRandom};

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// How much [`Store::open_with`] checks before it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenCheck {
    /// Also that no acknowledged record is missing from the end (normal use).
    Full,
    /// Lets a store with missing records open, so `verify-chain` can say which.
    Audit,
}

impl Store {
    /// Creates a new store at `path` (which must not exist), encrypted under `keys`' key.
    pub fn create(path: &Path, keys: &dyn KeyProvider) -> Result<Store, StoreError> {
        Self::create_with(path, keys, Box::new(SystemRandom))
    }

    /// Opens the store at `path`, checking the key, the schema and that no acknowledged record
    /// is missing.
    pub fn open(path: &Path, keys: &dyn KeyProvider) -> Result<Store, StoreError> {
        Self::open_with(path, keys, Box::new(SystemRandom))
    }

    /// Opens the store at `path`, or creates it when no file is there.
    pub fn open_or_create(path: &Path, keys: &dyn KeyProvider) -> Result<Store, StoreError> {
        if path.exists() {
            Self::open(path, keys)
        } else {
            match Self::create(path, keys) {
                // Another process created it meanwhile.
                Err(StoreError::AlreadyExists { .. }) => Self::open(path, keys),
                other => other,
            }
        }
    }

    /// Opens a store even when records are missing from its end, for [`Store::verify_chain`].
    pub fn open_for_audit(path: &Path, keys: &dyn KeyProvider) -> Result<Store, StoreError> {
        Self::open_checked(path, keys, Box::new(SystemRandom), OpenCheck::Audit)
    }

    /// [`Store::create`] with a given source of randomness (record ids and nonces).
    pub fn create_with(
        path: &Path,
        keys: &dyn KeyProvider,
        mut random: Box<dyn RandomSource + Send>,
    ) -> Result<Store, StoreError> {
        if path.exists() {
            return Err(StoreError::AlreadyExists {
                path: path.to_owned(),
            });
        }
        let key = keys.store_key()?;
        let temporary = creating_path(path);
        remove_if_present(&temporary)?;
        let mut store_id = [0u8; 16];
        random.fill(&mut store_id);
        let sealer = Sealer::new(&key, store_id);
        {
            let err = |e| StoreError::sqlite("creating the store", e);
            let mut conn = Connection::open(&temporary).map_err(err)?;
            // Rollback journal while the file is private; the store switches to WAL on open.
            conn.execute_batch("PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;")
                .map_err(err)?;
            schema::migrate(&mut conn)?;
            let tx = conn.transaction().map_err(err)?;
            meta::put(&tx, "store_id", &store_id)?;
            meta::put_key_check(&tx, &sealer, random.as_mut())?;
            meta::put_head(&tx, &sealer, (0, [0u8; 32]), random.as_mut())?;
            meta::put_start(&tx, &sealer, ChainLink::GENESIS, random.as_mut())?;
            tx.commit().map_err(err)?;
            conn.close().map_err(|(_, e)| err(e))?;
        }
        sync_file(&temporary)?;
        match std::fs::hard_link(&temporary, path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                remove_if_present(&temporary)?;
                return Err(StoreError::AlreadyExists {
                    path: path.to_owned(),
                });
            }
            // File systems without hard links: rename (which replaces; `path` was checked above).
            Err(_) => std::fs::rename(&temporary, path).map_err(|e| io(&temporary, e))?,
        }
        remove_if_present(&temporary)?;
        sync_parent(path)?;
        Self::open_with(path, keys, random)
    }

    /// [`Store::open`] with a given source of randomness.
    pub fn open_with(
        path: &Path,
        keys: &dyn KeyProvider,
        random: Box<dyn RandomSource + Send>,
    ) -> Result<Store, StoreError> {
        Self::open_checked(path, keys, random, OpenCheck::Full)
    }

    pub(crate) fn open_checked(
        path: &Path,
        keys: &dyn KeyProvider,
        random: Box<dyn RandomSource + Send>,
        check: OpenCheck,
    ) -> Result<Store, StoreError> {
        check_file(path)?;
        let err = |e| StoreError::sqlite("opening the store", e);
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(err)?;
        schema::configure(&conn)?;
        let version = schema::version(&conn)?;
        if version == 0 {
            return Err(StoreError::NotAStore {
                path: path.to_owned(),
                why: "a SQLite database without honnin's tables".into(),
            });
        }
        schema::migrate(&mut conn)?;
        let store_id = meta::store_id(&conn)?;
        let key = keys.store_key()?;
        let sealer = Sealer::new(&key, store_id);
        meta::check_key(&conn, &sealer)?;
        let store = Store {
            conn,
            path: path.to_owned(),
            sealer,
            store_id,
            random,
            bound: None,
            written_head: None,
        };
        if check == OpenCheck::Full {
            store.check_tail()?;
        }
        Ok(store)
    }

    /// Fails when records up to the acknowledged head are gone from the end of the file.
    fn check_tail(&self) -> Result<(), StoreError> {
        let (head_seq, _) = meta::head(&self.conn, &self.sealer)?;
        let start = meta::start(&self.conn, &self.sealer)?;
        let last: Option<i64> = self
            .conn
            .query_row("SELECT MAX(seq) FROM records", [], |row| row.get(0))
            .map_err(|e| StoreError::sqlite("checking the last record", e))?;
        let last = last.and_then(|n| u64::try_from(n).ok());
        let present_up_to = last.unwrap_or(start.seq.saturating_sub(1));
        if present_up_to < head_seq {
            return Err(StoreError::RecordsMissing {
                from: present_up_to.max(start.seq.saturating_sub(1)) + 1,
                to: head_seq,
            });
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn creating_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".creating");
    path.with_file_name(name)
}

fn io(path: &Path, error: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_owned(),
        detail: error.to_string(),
    }
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    for candidate in [path.to_owned(), with_suffix(path, "-journal")] {
        match std::fs::remove_file(&candidate) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&candidate, e)),
        }
    }
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut text = path.as_os_str().to_os_string();
    text.push(suffix);
    PathBuf::from(text)
}

/// Refuses what is not a store before SQLite sees it: a missing file is not created, and an
/// empty or foreign one is not overwritten.
fn check_file(path: &Path) -> Result<(), StoreError> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StoreError::NotFound {
                path: path.to_owned(),
            });
        }
        Err(e) => return Err(io(path, e)),
    };
    let mut header = [0u8; 16];
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) => return Err(io(path, e)),
        }
    }
    let why = match read {
        0 => "the file is empty: it was truncated, or never finished",
        n if n < 16 => "the file is shorter than a SQLite header: truncated",
        _ if &header != SQLITE_MAGIC => "not a SQLite database",
        _ => return Ok(()),
    };
    Err(StoreError::NotAStore {
        path: path.to_owned(),
        why: why.into(),
    })
}

fn sync_file(path: &Path) -> Result<(), StoreError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(path, e))
}

/// Makes the new directory entry durable (a no-op where directories cannot be opened).
fn sync_parent(path: &Path) -> Result<(), StoreError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    match std::fs::File::open(&parent) {
        Ok(dir) => {
            let _ = dir.sync_all();
            Ok(())
        }
        Err(_) => Ok(()),
    }
}
