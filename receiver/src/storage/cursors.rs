//! Feed cursors are positions in each sender's own feed (`records.sender_seq`), so a sender's
//! cursors say nothing about other senders' records. This module draws them for PostgreSQL's
//! batch insert (SQLite draws them in its insert statement) and gives a database made when
//! cursors were global its `sender_seq` column, once, on open: each record numbered in the
//! order of the old cursors, each webhook moved to the position it had reached.

use r2d2_postgres::postgres;

use super::items::{pg, sqlite};
use super::{NewRecord, StorageError};

/// Numbers the records of each sender in the order of the old global cursors and moves each
/// webhook to the position it had reached: the same statements on both backends, so that they
/// cannot number a migrated database differently.
const RENUMBER: &str = "UPDATE records SET sender_seq = n.seq FROM (
        SELECT cursor, ROW_NUMBER() OVER (PARTITION BY sender_id ORDER BY cursor) AS seq
        FROM records) AS n
    WHERE records.cursor = n.cursor;
    UPDATE webhooks SET cursor = (SELECT COUNT(*) FROM records r
        WHERE r.sender_id = webhooks.sender_id AND r.cursor <= webhooks.cursor);";

const SENDER_SEQ_INDEX: &str =
    "CREATE UNIQUE INDEX IF NOT EXISTS records_by_sender_seq ON records (sender_id, sender_seq);";

/// Gives a database made before feed cursors were per sender its `sender_seq` column: each
/// record's position in its sender's feed (in the order of the old global cursors), and each
/// webhook the position it had reached. Runs once, in one transaction, when the column is
/// missing.
pub(super) fn migrate_sqlite(conn: &mut rusqlite::Connection) -> Result<(), StorageError> {
    let context = "migrating feed cursors to one sequence per sender";
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(sqlite(context))?;
    let present: bool = tx
        .query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('records') WHERE name = 'sender_seq'",
            [],
            |r| r.get(0),
        )
        .map_err(sqlite(context))?;
    if !present {
        tx.execute_batch(&format!(
            "ALTER TABLE records ADD COLUMN sender_seq INTEGER; {RENUMBER}"
        ))
        .map_err(sqlite(context))?;
    }
    tx.execute_batch(SENDER_SEQ_INDEX)
        .map_err(sqlite(context))?;
    tx.commit().map_err(sqlite(context))
}

/// Gives a database made before feed cursors were per sender its `sender_seq` column: each
/// record's position in its sender's feed (in the order of the old global cursors), and each
/// webhook the position it had reached. Runs once, under the tables' advisory lock, when the
/// column is missing.
pub(super) fn migrate_postgres(tx: &mut postgres::Transaction<'_>) -> Result<(), StorageError> {
    let context = "migrating feed cursors to one sequence per sender";
    let present = tx
        .query_opt(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
                 AND table_name = 'records' AND column_name = 'sender_seq'",
            &[],
        )
        .map_err(pg(context))?
        .is_some();
    if !present {
        tx.batch_execute(&format!(
            "ALTER TABLE records ADD COLUMN sender_seq BIGINT; {RENUMBER}"
        ))
        .map_err(pg(context))?;
    }
    tx.batch_execute(SENDER_SEQ_INDEX).map_err(pg(context))
}

/// Each record's position in its sender's feed, in batch order after the last one stored.
/// Called with `records` locked against other writers, so no two batches draw the same.
pub(super) fn postgres_sender_seqs(
    tx: &mut postgres::Transaction<'_>,
    records: &[NewRecord],
) -> Result<Vec<i64>, StorageError> {
    let mut last: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    let mut seqs = Vec::with_capacity(records.len());
    for record in records {
        let sender = record.sender_id.as_str();
        let next = match last.get(sender) {
            Some(seq) => seq + 1,
            None => {
                let row = tx
                    .query_one(
                        "SELECT COALESCE(MAX(sender_seq), 0) FROM records WHERE sender_id = $1",
                        &[&sender],
                    )
                    .map_err(pg("storing a batch"))?;
                row.get::<_, i64>(0) + 1
            }
        };
        last.insert(sender, next);
        seqs.push(next);
    }
    Ok(seqs)
}
