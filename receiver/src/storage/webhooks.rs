//! Senders' webhook registrations, the cursor each has been pushed to, and the pushers' leases,
//! in both databases ([`crate::webhook`] pushes them). The tables are created with the others
//! (`SCHEMA` of each implementation).

use r2d2_postgres::postgres;
use rusqlite::{OptionalExtension, params};

use super::items::{pg, sqlite};
use super::{PostgresStorage, SqliteStorage, StorageError};

/// A sender's webhook: where to push, the HMAC secret, and the feed cursor pushed so far.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookRow {
    pub sender_id: String,
    pub url: String,
    /// 64 hex digits.
    pub secret: String,
    pub cursor: i64,
}

impl std::fmt::Debug for WebhookRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WebhookRow({}, {}, {})",
            self.sender_id, self.url, self.cursor
        )
    }
}

/// Webhooks; every [`super::Storage`] has them.
pub trait WebhookStorage {
    /// Registers, replaces (`Some`) or removes (`None`) the sender's webhook.
    fn set_webhook(&self, sender_id: &str, hook: Option<&WebhookRow>) -> Result<(), StorageError>;
    fn webhooks(&self) -> Result<Vec<WebhookRow>, StorageError>;
    /// The sender's webhook as it is now.
    fn webhook(&self, sender_id: &str) -> Result<Option<WebhookRow>, StorageError>;
    /// Replaces the sender's webhook secret if it is still `expected` (sealing one kept before
    /// the receiver had a secrets key); `Ok(false)` otherwise.
    fn replace_webhook_secret(
        &self,
        sender_id: &str,
        expected: &str,
        secret: &str,
    ) -> Result<bool, StorageError>;
    /// Takes or renews the right to push `sender_id`'s webhook, for `owner` (one pusher) until
    /// `until_ms`: only when no other pusher holds an unexpired lease and the wait after the
    /// last failure is over (times in Unix milliseconds). `Ok(Some(failures in a row))` when
    /// taken, `Ok(None)` when not now. So with several receivers on one database each page is
    /// pushed by one of them, and the backoff holds across all.
    fn lease_webhook(
        &self,
        sender_id: &str,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Option<u32>, StorageError>;
    /// Ends `owner`'s lease, keeping the failures in a row and when the next try may start.
    fn release_webhook(
        &self,
        sender_id: &str,
        owner: &str,
        failures: u32,
        next_try_ms: i64,
    ) -> Result<(), StorageError>;
    /// Moves the webhook's cursor from `from` to `to`; `Ok(false)` when it is no longer at
    /// `from` (re-registered meanwhile, or another receiver pushed first).
    fn advance_webhook(&self, sender_id: &str, from: i64, to: i64) -> Result<bool, StorageError>;
}

fn sqlite_webhook(r: &rusqlite::Row<'_>) -> rusqlite::Result<WebhookRow> {
    Ok(WebhookRow {
        sender_id: r.get(0)?,
        url: r.get(1)?,
        secret: r.get(2)?,
        cursor: r.get(3)?,
    })
}

impl WebhookStorage for SqliteStorage {
    fn set_webhook(&self, sender_id: &str, hook: Option<&WebhookRow>) -> Result<(), StorageError> {
        let conn = self.conn();
        match hook {
            Some(hook) => conn.execute(
                "INSERT INTO webhooks (sender_id, url, secret, cursor) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (sender_id) DO UPDATE SET url = excluded.url,
                     secret = excluded.secret, cursor = excluded.cursor",
                params![sender_id, hook.url, hook.secret, hook.cursor],
            ),
            None => conn.execute("DELETE FROM webhooks WHERE sender_id = ?1", [sender_id]),
        }
        .map_err(sqlite("registering a webhook"))?;
        // A new or removed webhook starts with no failures and no lease.
        conn.execute(
            "DELETE FROM webhook_pushers WHERE sender_id = ?1",
            [sender_id],
        )
        .map(|_| ())
        .map_err(sqlite("registering a webhook"))
    }

    fn webhooks(&self) -> Result<Vec<WebhookRow>, StorageError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached("SELECT sender_id, url, secret, cursor FROM webhooks")
            .map_err(sqlite("reading webhooks"))?;
        let rows = statement
            .query_map([], sqlite_webhook)
            .map_err(sqlite("reading webhooks"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sqlite("reading webhooks"))
    }

    fn webhook(&self, sender_id: &str) -> Result<Option<WebhookRow>, StorageError> {
        self.conn()
            .query_row(
                "SELECT sender_id, url, secret, cursor FROM webhooks WHERE sender_id = ?1",
                [sender_id],
                sqlite_webhook,
            )
            .optional()
            .map_err(sqlite("reading webhooks"))
    }

    fn replace_webhook_secret(
        &self,
        sender_id: &str,
        expected: &str,
        secret: &str,
    ) -> Result<bool, StorageError> {
        let replaced = self
            .conn()
            .execute(
                "UPDATE webhooks SET secret = ?3 WHERE sender_id = ?1 AND secret = ?2",
                params![sender_id, expected, secret],
            )
            .map_err(sqlite("sealing a webhook secret"))?;
        Ok(replaced == 1)
    }

    fn lease_webhook(
        &self,
        sender_id: &str,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Option<u32>, StorageError> {
        let failures: Option<i64> = self
            .conn()
            .query_row(
                "INSERT INTO webhook_pushers (sender_id, owner, lease_until, failures, next_try)
                 VALUES (?1, ?2, ?4, 0, 0)
                 ON CONFLICT (sender_id) DO UPDATE SET owner = excluded.owner,
                     lease_until = excluded.lease_until
                 WHERE (webhook_pushers.lease_until <= ?3 OR webhook_pushers.owner = ?2)
                     AND webhook_pushers.next_try <= ?3
                 RETURNING failures",
                params![sender_id, owner, now_ms, until_ms],
                |r| r.get(0),
            )
            .optional()
            .map_err(sqlite("leasing a webhook"))?;
        Ok(failures.map(|f| u32::try_from(f).unwrap_or(u32::MAX)))
    }

    fn release_webhook(
        &self,
        sender_id: &str,
        owner: &str,
        failures: u32,
        next_try_ms: i64,
    ) -> Result<(), StorageError> {
        self.conn()
            .execute(
                "UPDATE webhook_pushers SET lease_until = 0, failures = ?3, next_try = ?4
                 WHERE sender_id = ?1 AND owner = ?2",
                params![sender_id, owner, failures, next_try_ms],
            )
            .map(|_| ())
            .map_err(sqlite("releasing a webhook"))
    }

    fn advance_webhook(&self, sender_id: &str, from: i64, to: i64) -> Result<bool, StorageError> {
        let moved = self
            .conn()
            .execute(
                "UPDATE webhooks SET cursor = ?3 WHERE sender_id = ?1 AND cursor = ?2",
                params![sender_id, from, to],
            )
            .map_err(sqlite("moving a webhook's cursor"))?;
        Ok(moved == 1)
    }
}

fn pg_webhook(r: &postgres::Row) -> WebhookRow {
    WebhookRow {
        sender_id: r.get(0),
        url: r.get(1),
        secret: r.get(2),
        cursor: r.get(3),
    }
}

impl WebhookStorage for PostgresStorage {
    fn set_webhook(&self, sender_id: &str, hook: Option<&WebhookRow>) -> Result<(), StorageError> {
        let mut conn = self.conn()?;
        match hook {
            Some(hook) => conn.execute(
                "INSERT INTO webhooks (sender_id, url, secret, cursor) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (sender_id) DO UPDATE SET url = excluded.url,
                     secret = excluded.secret, cursor = excluded.cursor",
                &[&sender_id, &hook.url, &hook.secret, &hook.cursor],
            ),
            None => conn.execute("DELETE FROM webhooks WHERE sender_id = $1", &[&sender_id]),
        }
        .map_err(pg("registering a webhook"))?;
        // A new or removed webhook starts with no failures and no lease.
        conn.execute(
            "DELETE FROM webhook_pushers WHERE sender_id = $1",
            &[&sender_id],
        )
        .map(|_| ())
        .map_err(pg("registering a webhook"))
    }

    fn webhooks(&self) -> Result<Vec<WebhookRow>, StorageError> {
        let rows = self
            .conn()?
            .query("SELECT sender_id, url, secret, cursor FROM webhooks", &[])
            .map_err(pg("reading webhooks"))?;
        Ok(rows.iter().map(pg_webhook).collect())
    }

    fn webhook(&self, sender_id: &str) -> Result<Option<WebhookRow>, StorageError> {
        let row = self
            .conn()?
            .query_opt(
                "SELECT sender_id, url, secret, cursor FROM webhooks WHERE sender_id = $1",
                &[&sender_id],
            )
            .map_err(pg("reading webhooks"))?;
        Ok(row.as_ref().map(pg_webhook))
    }

    fn replace_webhook_secret(
        &self,
        sender_id: &str,
        expected: &str,
        secret: &str,
    ) -> Result<bool, StorageError> {
        let replaced = self
            .conn()?
            .execute(
                "UPDATE webhooks SET secret = $3 WHERE sender_id = $1 AND secret = $2",
                &[&sender_id, &expected, &secret],
            )
            .map_err(pg("sealing a webhook secret"))?;
        Ok(replaced == 1)
    }

    fn lease_webhook(
        &self,
        sender_id: &str,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Option<u32>, StorageError> {
        let row = self
            .conn()?
            .query_opt(
                "INSERT INTO webhook_pushers (sender_id, owner, lease_until, failures, next_try)
                 VALUES ($1, $2, $4, 0, 0)
                 ON CONFLICT (sender_id) DO UPDATE SET owner = excluded.owner,
                     lease_until = excluded.lease_until
                 WHERE (webhook_pushers.lease_until <= $3 OR webhook_pushers.owner = $2)
                     AND webhook_pushers.next_try <= $3
                 RETURNING failures",
                &[&sender_id, &owner, &now_ms, &until_ms],
            )
            .map_err(pg("leasing a webhook"))?;
        Ok(row.map(|r| u32::try_from(r.get::<_, i32>(0)).unwrap_or(u32::MAX)))
    }

    fn release_webhook(
        &self,
        sender_id: &str,
        owner: &str,
        failures: u32,
        next_try_ms: i64,
    ) -> Result<(), StorageError> {
        let failures = i32::try_from(failures).unwrap_or(i32::MAX);
        self.conn()?
            .execute(
                "UPDATE webhook_pushers SET lease_until = 0, failures = $3, next_try = $4
                 WHERE sender_id = $1 AND owner = $2",
                &[&sender_id, &owner, &failures, &next_try_ms],
            )
            .map(|_| ())
            .map_err(pg("releasing a webhook"))
    }

    fn advance_webhook(&self, sender_id: &str, from: i64, to: i64) -> Result<bool, StorageError> {
        let moved = self
            .conn()?
            .execute(
                "UPDATE webhooks SET cursor = $3 WHERE sender_id = $1 AND cursor = $2",
                &[&sender_id, &from, &to],
            )
            .map_err(pg("moving a webhook's cursor"))?;
        Ok(moved == 1)
    }
}
