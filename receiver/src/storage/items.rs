//! Senders' items (for device manifests and the policy check on ingest), in both databases;
//! webhooks are in [`super::webhooks`]. The tables are created with the others (`SCHEMA` of
//! each implementation).

use r2d2_postgres::postgres;
use rusqlite::{OptionalExtension, params};

use super::{PostgresStorage, SqliteStorage, StorageError};

/// An item as its sender registered it.
#[derive(Clone, PartialEq, Eq)]
pub struct ItemRow {
    pub item_id: String,
    pub sender_id: String,
    /// The device the item is dispatched with.
    pub device_id: String,
    pub addressee_name: String,
    pub addressee_address: Option<String>,
    /// `A`, `B` or `C`.
    pub min_level: String,
    /// Comma-separated attribute names.
    pub attributes: String,
}

impl std::fmt::Debug for ItemRow {
    // The addressee is personal data: never in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ItemRow({}, {})", self.item_id, self.sender_id)
    }
}

/// The record that proved an item handed over ([`crate::items::proves_delivery`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub record_id: String,
    /// The door check's time, Unix seconds.
    pub delivered_at: i64,
}

/// Items; every [`super::Storage`] has them.
pub trait ItemStorage {
    /// Registers or replaces `sender_id`'s items, all or none. An item id registered by another
    /// sender: [`StorageError::ItemTaken`]; more than `per_device` of the sender's undelivered
    /// items on one device afterwards: [`StorageError::TooManyItems`]; either way nothing is
    /// written. The cap keeps one sender from filling a device's manifest.
    fn put_items(
        &self,
        sender_id: &str,
        items: &[ItemRow],
        now: i64,
        per_device: usize,
    ) -> Result<(), StorageError>;
    fn item(&self, item_id: &str) -> Result<Option<ItemRow>, StorageError>;
    /// The registered items among `item_ids` (those not registered are left out), for a
    /// batch's records at once. One lookup per id unless a backend does better: PostgreSQL
    /// asks once, where a round trip per record of a batch cost more than the lookups.
    fn items(&self, item_ids: &[&str]) -> Result<Vec<ItemRow>, StorageError> {
        let mut found = Vec::new();
        for id in item_ids {
            found.extend(self.item(id)?);
        }
        Ok(found)
    }
    /// The item's delivery, once a record proved it (written with the record, by
    /// [`super::Storage::insert_batch`]).
    fn delivery(&self, item_id: &str) -> Result<Option<Delivery>, StorageError>;
    /// Removes the item and its delivery. `Ok(false)`: the sender has no such item.
    fn remove_item(&self, sender_id: &str, item_id: &str) -> Result<bool, StorageError>;
    /// Up to `limit` items assigned to `device_id` and not delivered yet, by item id, chosen
    /// fairly: every sender's first item, then every sender's second, and so on, so a sender
    /// with many items cannot crowd another out when there are more than `limit`.
    fn device_items(&self, device_id: &str, limit: usize) -> Result<Vec<ItemRow>, StorageError>;
}

const ITEM_COLUMNS: &str =
    "item_id, sender_id, device_id, addressee_name, addressee_address, min_level, attributes";

fn limit_column(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// The devices `items` go to, each once.
fn devices_of(items: &[ItemRow]) -> Vec<&str> {
    let mut devices: Vec<&str> = items.iter().map(|i| i.device_id.as_str()).collect();
    devices.sort_unstable();
    devices.dedup();
    devices
}

/// The sender's undelivered items on one device: what its share of the manifest holds.
const COUNT_PENDING: &str = "SELECT COUNT(*) FROM items i WHERE sender_id = $1 AND device_id = $2
     AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.item_id = i.item_id)";

/// Undelivered items of a device, each ranked within its sender (`turn`), the lowest turns
/// taken first; the page is then listed by item id.
const FAIR_ITEMS: &str = "SELECT item_id, sender_id, device_id, addressee_name, addressee_address,
         min_level, attributes FROM (
     SELECT i.*, ROW_NUMBER() OVER (PARTITION BY sender_id ORDER BY item_id) AS turn
     FROM items i WHERE device_id = $1
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.item_id = i.item_id)
     ORDER BY turn, sender_id, item_id LIMIT $2) AS fair
 ORDER BY item_id";

fn too_many(device_id: &str, pending: i64, per_device: usize) -> Option<StorageError> {
    (usize::try_from(pending).unwrap_or(usize::MAX) > per_device).then(|| {
        StorageError::TooManyItems {
            device_id: device_id.to_owned(),
            cap: per_device,
        }
    })
}

pub(super) fn sqlite(context: &'static str) -> impl Fn(rusqlite::Error) -> StorageError {
    move |e| StorageError::Database {
        context,
        detail: e.to_string(),
    }
}

fn sqlite_item(row: &rusqlite::Row<'_>) -> rusqlite::Result<ItemRow> {
    Ok(ItemRow {
        item_id: row.get(0)?,
        sender_id: row.get(1)?,
        device_id: row.get(2)?,
        addressee_name: row.get(3)?,
        addressee_address: row.get(4)?,
        min_level: row.get(5)?,
        attributes: row.get(6)?,
    })
}

impl ItemStorage for SqliteStorage {
    fn put_items(
        &self,
        sender_id: &str,
        items: &[ItemRow],
        now: i64,
        per_device: usize,
    ) -> Result<(), StorageError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sqlite("registering items"))?;
        for item in items {
            let written = tx
                .execute(
                    "INSERT INTO items (item_id, sender_id, device_id, addressee_name,
                         addressee_address, min_level, attributes, registered_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (item_id) DO UPDATE SET device_id = excluded.device_id,
                         addressee_name = excluded.addressee_name,
                         addressee_address = excluded.addressee_address,
                         min_level = excluded.min_level, attributes = excluded.attributes,
                         registered_at = excluded.registered_at
                     WHERE items.sender_id = excluded.sender_id",
                    params![
                        item.item_id,
                        sender_id,
                        item.device_id,
                        item.addressee_name,
                        item.addressee_address,
                        item.min_level,
                        item.attributes,
                        now
                    ],
                )
                .map_err(sqlite("registering items"))?;
            if written == 0 {
                // Dropping the transaction rolls every earlier item back.
                return Err(StorageError::ItemTaken(item.item_id.clone()));
            }
        }
        // The transaction is the only writer (IMMEDIATE): the counts cannot change under it.
        for device_id in devices_of(items) {
            let pending: i64 = tx
                .query_row(COUNT_PENDING, params![sender_id, device_id], |r| r.get(0))
                .map_err(sqlite("registering items"))?;
            if let Some(error) = too_many(device_id, pending, per_device) {
                return Err(error);
            }
        }
        tx.commit().map_err(sqlite("registering items"))
    }

    fn item(&self, item_id: &str) -> Result<Option<ItemRow>, StorageError> {
        self.conn()
            .query_row(
                &format!("SELECT {ITEM_COLUMNS} FROM items WHERE item_id = ?1"),
                [item_id],
                sqlite_item,
            )
            .optional()
            .map_err(sqlite("reading items"))
    }

    fn delivery(&self, item_id: &str) -> Result<Option<Delivery>, StorageError> {
        self.conn()
            .query_row(
                "SELECT record_id, delivered_at FROM deliveries WHERE item_id = ?1",
                [item_id],
                |r| {
                    Ok(Delivery {
                        record_id: r.get(0)?,
                        delivered_at: r.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(sqlite("reading a delivery"))
    }

    fn remove_item(&self, sender_id: &str, item_id: &str) -> Result<bool, StorageError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sqlite("removing an item"))?;
        let removed = tx
            .execute(
                "DELETE FROM items WHERE item_id = ?1 AND sender_id = ?2",
                [item_id, sender_id],
            )
            .map_err(sqlite("removing an item"))?;
        tx.execute(
            "DELETE FROM deliveries WHERE item_id = ?1 AND sender_id = ?2",
            [item_id, sender_id],
        )
        .map_err(sqlite("removing an item"))?;
        tx.commit().map_err(sqlite("removing an item"))?;
        Ok(removed == 1)
    }

    fn device_items(&self, device_id: &str, limit: usize) -> Result<Vec<ItemRow>, StorageError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(FAIR_ITEMS)
            .map_err(sqlite("reading items"))?;
        let rows = statement
            .query_map(params![device_id, limit_column(limit)], sqlite_item)
            .map_err(sqlite("reading items"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sqlite("reading items"))
    }
}

pub(super) fn pg(context: &'static str) -> impl Fn(postgres::Error) -> StorageError {
    move |e| StorageError::Database {
        context,
        detail: e.to_string(),
    }
}

fn pg_item(row: &postgres::Row) -> ItemRow {
    ItemRow {
        item_id: row.get(0),
        sender_id: row.get(1),
        device_id: row.get(2),
        addressee_name: row.get(3),
        addressee_address: row.get(4),
        min_level: row.get(5),
        attributes: row.get(6),
    }
}

impl ItemStorage for PostgresStorage {
    fn put_items(
        &self,
        sender_id: &str,
        items: &[ItemRow],
        now: i64,
        per_device: usize,
    ) -> Result<(), StorageError> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(pg("registering items"))?;
        // One registration per sender at a time, so two at once cannot both pass the cap.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('honnin-receiver items of ' || $1))",
            &[&sender_id],
        )
        .map_err(pg("registering items"))?;
        for item in items {
            let written = tx
                .execute(
                    "INSERT INTO items (item_id, sender_id, device_id, addressee_name,
                         addressee_address, min_level, attributes, registered_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (item_id) DO UPDATE SET device_id = excluded.device_id,
                         addressee_name = excluded.addressee_name,
                         addressee_address = excluded.addressee_address,
                         min_level = excluded.min_level, attributes = excluded.attributes,
                         registered_at = excluded.registered_at
                     WHERE items.sender_id = excluded.sender_id",
                    &[
                        &item.item_id,
                        &sender_id,
                        &item.device_id,
                        &item.addressee_name,
                        &item.addressee_address,
                        &item.min_level,
                        &item.attributes,
                        &now,
                    ],
                )
                .map_err(pg("registering items"))?;
            if written == 0 {
                return Err(StorageError::ItemTaken(item.item_id.clone()));
            }
        }
        for device_id in devices_of(items) {
            let pending: i64 = tx
                .query_one(COUNT_PENDING, &[&sender_id, &device_id])
                .map_err(pg("registering items"))?
                .get(0);
            if let Some(error) = too_many(device_id, pending, per_device) {
                return Err(error);
            }
        }
        tx.commit().map_err(pg("registering items"))
    }

    fn item(&self, item_id: &str) -> Result<Option<ItemRow>, StorageError> {
        let row = self
            .conn()?
            .query_opt(
                &format!("SELECT {ITEM_COLUMNS} FROM items WHERE item_id = $1"),
                &[&item_id],
            )
            .map_err(pg("reading items"))?;
        Ok(row.as_ref().map(pg_item))
    }

    fn items(&self, item_ids: &[&str]) -> Result<Vec<ItemRow>, StorageError> {
        let rows = self
            .conn()?
            .query(
                &format!("SELECT {ITEM_COLUMNS} FROM items WHERE item_id = ANY($1)"),
                &[&item_ids],
            )
            .map_err(pg("reading items"))?;
        Ok(rows.iter().map(pg_item).collect())
    }

    fn delivery(&self, item_id: &str) -> Result<Option<Delivery>, StorageError> {
        let row = self
            .conn()?
            .query_opt(
                "SELECT record_id, delivered_at FROM deliveries WHERE item_id = $1",
                &[&item_id],
            )
            .map_err(pg("reading a delivery"))?;
        Ok(row.map(|r| Delivery {
            record_id: r.get(0),
            delivered_at: r.get(1),
        }))
    }

    fn remove_item(&self, sender_id: &str, item_id: &str) -> Result<bool, StorageError> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(pg("removing an item"))?;
        let removed = tx
            .execute(
                "DELETE FROM items WHERE item_id = $1 AND sender_id = $2",
                &[&item_id, &sender_id],
            )
            .map_err(pg("removing an item"))?;
        tx.execute(
            "DELETE FROM deliveries WHERE item_id = $1 AND sender_id = $2",
            &[&item_id, &sender_id],
        )
        .map_err(pg("removing an item"))?;
        tx.commit().map_err(pg("removing an item"))?;
        Ok(removed == 1)
    }

    fn device_items(&self, device_id: &str, limit: usize) -> Result<Vec<ItemRow>, StorageError> {
        let rows = self
            .conn()?
            .query(FAIR_ITEMS, &[&device_id, &limit_column(limit)])
            .map_err(pg("reading items"))?;
        Ok(rows.iter().map(pg_item).collect())
    }
}
