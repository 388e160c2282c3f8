//! The record store on the device: SQLite, every record encrypted, crash-safe, tamper-evident.
//!
//! - Encryption: each record's canonical envelope is sealed with XChaCha20-Poly1305 under a key
//!   derived from the platform's [`KeyProvider`] key ([`crypt`]). The database file, its WAL and
//!   its shared-memory index hold only sealed blobs and the clear columns listed in
//!   [`schema`]; temporary data stays in memory (`temp_store=MEMORY`).
//! - Crash safety: one record is one transaction in WAL mode with `synchronous=FULL`; a record is
//!   acknowledged ([`Store::append`] returns) only after its commit is on disk. The store's
//!   head (last sequence number and hash) is written in the same transaction, so a record lost
//!   from the end of the file is noticed when the store opens ([`StoreError::RecordsMissing`]).
//!   A new store is built under a temporary name and linked into place only when complete.
//! - Tamper evidence: records are signed by the device key and chained by hash
//!   ([`crate::record`]); [`Store::verify_chain`] names the position of every problem.
//! - Retention: each record's sync state, a purge of synced records after a period that keeps
//!   the chain verifiable (the purged prefix leaves its last hash as the chain's start), and an
//!   export of a day's records, sealed or, when asked explicitly, in clear.
//!
//! - The item manifest: the last one downloaded, sealed like the records ([`Store::save_manifest`]).
//!
//! A store belongs to one device: the first record binds the device id and key, and a record
//! from another device or key is refused ([`StoreError::ForeignDevice`]).

pub mod crypt;
mod error;
mod export;
mod manifest;
mod meta;
mod open;
mod read;
mod retention;
pub mod schema;
mod write;

use std::path::PathBuf;

use rusqlite::Connection;

pub use crypt::{KeyError, KeyProvider, StaticKeyProvider, StoreKey};
pub use error::StoreError;
pub use export::{EXPORT_FORMAT, Export, SEALED_EXPORT_FORMAT, open_sealed_export};
pub use read::{RowError, StoreInfo, StoredRecord};
pub use retention::{PurgeReport, Retention};
pub use write::Appended;

use crate::record::DeviceKey;
use crate::verify::RandomSource;

/// The device a store belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceBinding {
    pub device_id: String,
    pub key: DeviceKey,
}

/// An open record store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    sealer: crypt::Sealer,
    store_id: [u8; 16],
    random: Box<dyn RandomSource + Send>,
    /// The device binding once read or written: it never changes after the first record, so an
    /// append need not read and unseal it again (issue 13: the insert's cost).
    bound: Option<DeviceBinding>,
    /// The head this store's last append wrote: the next append need not unseal it again
    /// while `meta` still holds exactly those bytes.
    written_head: Option<meta::WrittenHead>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.path.display())
    }
}

#[cfg(test)]
mod tests;
