//! SQLite's WAL checkpoints, run beside ingest instead of inside a batch's commit.
//!
//! In WAL mode a commit appends the batch's pages to the `-wal` file and syncs it; now and then
//! those pages must be copied back into the database file (a checkpoint, which syncs the
//! database file too). SQLite does that by default inside the commit that crosses 1,000 WAL
//! pages, and a batch of 500 records writes about 3 MB, so nearly every batch's commit also
//! checkpointed: a copy of megabytes and a second sync on the one thread that stores batches,
//! while the client waited for its receipts (a fifth of that thread's time in
//! `receiver-costs`).
//!
//! Here a thread of its own, on a connection of its own, checkpoints after each stored batch
//! (`PASSIVE`: it copies what no reader still needs and never waits for or blocks a writer or
//! reader), while the next batch is verified. Durability does not change: a record is durable
//! once its commit synced the WAL, checkpointed or not, and a crash at any point leaves SQLite
//! to replay the WAL on the next open. The batch connection keeps an automatic checkpoint at a
//! much larger size as a backstop, should this thread ever fall behind or fail.

use std::path::Path;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use rusqlite::Connection;

use super::StorageError;

/// WAL pages (4 KiB each) after which the batch connection checkpoints by itself: the backstop,
/// far above what one batch writes, so in normal running only [`Checkpointer`] checkpoints.
pub(super) const BACKSTOP_PAGES: u32 = 16_384;

/// The checkpointing thread; stopped and joined when dropped.
pub(super) struct Checkpointer {
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Checkpointer")
    }
}

impl Checkpointer {
    /// A thread checkpointing the database at `path` (already open in WAL mode) when woken.
    pub(super) fn start(path: &Path) -> Result<Self, StorageError> {
        let failed = |detail: String| StorageError::Database {
            context: "starting the WAL checkpointer",
            detail,
        };
        let conn = Connection::open(path).map_err(|e| failed(e.to_string()))?;
        // FULL as the batch connection: the checkpoint syncs the WAL before copying and the
        // database file after.
        conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;")
            .map_err(|e| failed(e.to_string()))?;
        // One pending wake is enough: batches stored during a checkpoint are covered by the
        // next one.
        let (wake, woken) = sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while woken.recv().is_ok() {
                    // A failure (the disk full, a reader holding the WAL) leaves the pages in
                    // the WAL, still durable; the next wake or the backstop copies them.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })
            .map_err(|e| failed(e.to_string()))?;
        Ok(Self {
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// Asks for a checkpoint soon; never blocks.
    pub(super) fn wake(&self) {
        if let Some(wake) = &self.wake {
            match wake.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Closing the channel ends the loop after the checkpoint in progress, if any; joining
        // means the file has no connection of ours left once the storage is dropped.
        drop(self.wake.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_woken_checkpointer_copies_the_wal_into_the_database_and_stops_when_dropped() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("c.db");
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint={BACKSTOP_PAGES};
             CREATE TABLE t (v BLOB);"
        ))
        .expect("schema");
        for _ in 0..64 {
            conn.execute("INSERT INTO t VALUES (zeroblob(8192))", [])
                .expect("insert");
        }
        let wal = std::fs::metadata(path.with_extension("db-wal")).expect("wal");
        assert!(wal.len() > 64 * 8192, "the inserts are in the WAL");
        let database = || std::fs::metadata(&path).expect("db").len();
        let before = database();
        let checkpointer = Checkpointer::start(&path).expect("starts");
        checkpointer.wake();
        // The copy happens on the checkpointer's thread; dropping it waits for that thread.
        drop(checkpointer);
        assert!(
            database() >= before + 64 * 8192,
            "the database file holds the rows after the checkpoint: {} -> {}",
            before,
            database()
        );
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows, 64);
    }
}
