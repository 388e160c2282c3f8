//! The figures the operator console and `/metrics` show from the database, in both backends by
//! the same statements: records held, devices by state, and per sender the feed position, how
//! far its webhook is behind it, and the webhook's failures in a row.

use r2d2_postgres::postgres;

use super::items::{pg, sqlite};
use super::{PostgresStorage, SqliteStorage, StorageError};

/// One sender's feed and webhook.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SenderFigures {
    pub sender_id: String,
    /// Records in the sender's feed (its last cursor).
    pub feed_records: i64,
    /// Records after the webhook's cursor: not pushed yet. `None` without a webhook (a sender
    /// reading its feed keeps its own cursor, which the receiver does not see).
    pub webhook_lag: Option<i64>,
    /// The webhook's failed pushes in a row.
    pub webhook_failures: i64,
}

/// What the database says of the whole receiver.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Overview {
    pub records: i64,
    pub devices_active: i64,
    pub devices_revoked: i64,
    pub senders: Vec<SenderFigures>,
}

/// The figures; every [`super::Storage`] has them.
pub trait OverviewStorage {
    fn overview(&self) -> Result<Overview, StorageError>;
}

const COUNTS: &str = "SELECT (SELECT COUNT(*) FROM records),
    (SELECT COUNT(*) FROM devices d WHERE NOT EXISTS
        (SELECT 1 FROM device_revocations v WHERE v.device_id = d.device_id)),
    (SELECT COUNT(*) FROM device_revocations)";

const SENDERS: &str = "SELECT s.sender_id,
    COALESCE((SELECT MAX(r.sender_seq) FROM records r WHERE r.sender_id = s.sender_id), 0),
    w.cursor, COALESCE(p.failures, 0)
    FROM senders s LEFT JOIN webhooks w ON w.sender_id = s.sender_id
        LEFT JOIN webhook_pushers p ON p.sender_id = s.sender_id
    ORDER BY s.sender_id";

fn figures(sender_id: String, feed: i64, cursor: Option<i64>, failures: i64) -> SenderFigures {
    SenderFigures {
        sender_id,
        feed_records: feed,
        webhook_lag: cursor.map(|c| (feed - c).max(0)),
        webhook_failures: failures,
    }
}

impl OverviewStorage for SqliteStorage {
    fn overview(&self) -> Result<Overview, StorageError> {
        let context = "reading the receiver's figures";
        let conn = self.conn();
        let (records, devices_active, devices_revoked) = conn
            .query_row(COUNTS, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(sqlite(context))?;
        let mut statement = conn.prepare_cached(SENDERS).map_err(sqlite(context))?;
        let senders = statement
            .query_map([], |r| {
                Ok(figures(r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(sqlite(context))?
            .collect::<Result<_, _>>()
            .map_err(sqlite(context))?;
        Ok(Overview {
            records,
            devices_active,
            devices_revoked,
            senders,
        })
    }
}

impl OverviewStorage for PostgresStorage {
    fn overview(&self) -> Result<Overview, StorageError> {
        let context = "reading the receiver's figures";
        let mut conn = self.conn()?;
        let counts = conn.query_one(COUNTS, &[]).map_err(pg(context))?;
        let rows = conn.query(SENDERS, &[]).map_err(pg(context))?;
        Ok(Overview {
            records: counts.get(0),
            devices_active: counts.get(1),
            devices_revoked: counts.get(2),
            senders: rows
                .iter()
                .map(|r: &postgres::Row| {
                    figures(r.get(0), r.get(1), r.get(2), i64::from(r.get::<_, i32>(3)))
                })
                .collect(),
        })
    }
}
