//! Errors of the record store, each saying what happened and what a person can do about it.
//! Messages name files, positions and record ids, never record contents.

use std::path::PathBuf;

use super::crypt::KeyError;
use crate::manifest::ManifestError;
use crate::record::{RecordError, SignerError};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("no record store at {path}")]
    NotFound { path: PathBuf },
    #[error("{path} already exists: open it, or choose another path for a new store")]
    AlreadyExists { path: PathBuf },
    /// The file is not a SQLite database, or not one honnin made.
    #[error(
        "{path} is not a honnin record store ({why}); keep the file, it may be needed for recovery"
    )]
    NotAStore { path: PathBuf, why: String },
    /// SQLite found the file damaged (truncated, overwritten, bit rot).
    #[error(
        "the record store is damaged ({detail}); records cannot be trusted or read completely. Keep the file and its -wal file for recovery, and do not write to it"
    )]
    Corrupt { detail: String },
    #[error(
        "the record store was made by a newer honnin (schema {found}; this honnin knows up to {supported}): update honnin"
    )]
    NewerSchema { found: i64, supported: i64 },
    #[error(
        "the store key does not open this record store: wrong key file, or the store was replaced"
    )]
    WrongKey,
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Signer(#[from] SignerError),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The store belongs to another device, or the device key changed.
    #[error(
        "this record store belongs to device {store_device:?} with key {store_key}; the record comes from device {given_device:?} with key {given_key}. Use that device's store, or a new store for this device"
    )]
    ForeignDevice {
        store_device: String,
        store_key: String,
        given_device: String,
        given_key: String,
    },
    /// Records the store acknowledged are gone from the end of the file.
    #[error(
        "records #{from}–#{to}, acknowledged earlier, are missing from the store (the file was truncated, rolled back to an old copy, or edited). Run `honnin records verify-chain` and keep the file"
    )]
    RecordsMissing { from: u64, to: u64 },
    /// A value the store keeps for itself does not open or parse.
    #[error("the store's {what} cannot be read: the file was edited or damaged")]
    MetaDamaged { what: &'static str },
    #[error("no record {reference} in this store")]
    NoSuchRecord { reference: String },
    /// A record in the requested range cannot be read; nothing is skipped silently.
    #[error(
        "the record at position {position} cannot be read ({why}); run `honnin records verify-chain`"
    )]
    Unreadable { position: u64, why: String },
    #[error("the record store is busy: another honnin is writing to it; try again")]
    Busy,
    #[error("the disk is full: the record was not stored")]
    DiskFull,
    #[error("the record store failed ({context}): {detail}")]
    Sqlite {
        context: &'static str,
        detail: String,
    },
    #[error("{path}: {detail}")]
    Io { path: PathBuf, detail: String },
    #[error("not an export file of a honnin record store ({why})")]
    ExportMalformed { why: String },
}

impl StoreError {
    /// Maps a SQLite failure to what it means for the store.
    pub(crate) fn sqlite(context: &'static str, error: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        if let rusqlite::Error::SqliteFailure(failure, message) = &error {
            let detail = message.clone().unwrap_or_else(|| failure.to_string());
            match failure.code {
                ErrorCode::DatabaseCorrupt => return StoreError::Corrupt { detail },
                ErrorCode::NotADatabase => {
                    return StoreError::Corrupt {
                        detail: format!("not a database: {detail}"),
                    };
                }
                // SQLITE_IOERR_SHORT_READ: pages the file should hold are not there.
                ErrorCode::SystemIoFailure if failure.extended_code == 522 => {
                    return StoreError::Corrupt {
                        detail: "the file is shorter than its pages: truncated".into(),
                    };
                }
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => return StoreError::Busy,
                ErrorCode::DiskFull => return StoreError::DiskFull,
                _ => {}
            }
        }
        StoreError::Sqlite {
            context,
            detail: error.to_string(),
        }
    }
}
