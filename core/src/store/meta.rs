//! The store's own values in `meta`: its id (clear), and sealed: a key check, the device it
//! belongs to, the chain's start (where a purge left it) and head (the last acknowledged record).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rusqlite::{Connection, OptionalExtension, params};

use super::DeviceBinding;
use super::crypt::{Purpose, Sealer};
use super::error::StoreError;
use crate::record::{ChainLink, DeviceKey};
use crate::verify::RandomSource;

pub(crate) const KEY_CHECK: &[u8] = b"honnin record store v1";

pub(crate) fn get(conn: &Connection, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
    // Cached statements: an append reads and writes the head every time.
    conn.prepare_cached("SELECT value FROM meta WHERE name = ?1")
        .and_then(|mut select| select.query_row([name], |row| row.get(0)).optional())
        .map_err(|e| StoreError::sqlite("reading the store's settings", e))
}

pub(crate) fn put(conn: &Connection, name: &str, value: &[u8]) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO meta (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .and_then(|mut upsert| upsert.execute(params![name, value]))
    .map(|_| ())
    .map_err(|e| StoreError::sqlite("writing the store's settings", e))
}

pub(crate) fn store_id(conn: &Connection) -> Result<[u8; 16], StoreError> {
    get(conn, "store_id")?
        .and_then(|v| <[u8; 16]>::try_from(v).ok())
        .ok_or(StoreError::MetaDamaged { what: "id" })
}

fn open_sealed(
    conn: &Connection,
    sealer: &Sealer,
    name: &str,
    purpose: Purpose,
    what: &'static str,
) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, StoreError> {
    match get(conn, name)? {
        None => Ok(None),
        Some(sealed) => sealer
            .open(purpose, &sealed)
            .map(Some)
            .map_err(|_| StoreError::MetaDamaged { what }),
    }
}

pub(crate) fn check_key(conn: &Connection, sealer: &Sealer) -> Result<(), StoreError> {
    let sealed = get(conn, "key_check")?.ok_or(StoreError::MetaDamaged { what: "key check" })?;
    match sealer.open(Purpose::KeyCheck, &sealed) {
        Ok(text) if &text[..] == KEY_CHECK => Ok(()),
        _ => Err(StoreError::WrongKey),
    }
}

pub(crate) fn put_key_check(
    conn: &Connection,
    sealer: &Sealer,
    random: &mut dyn RandomSource,
) -> Result<(), StoreError> {
    put(
        conn,
        "key_check",
        &sealer.seal(Purpose::KeyCheck, KEY_CHECK, random),
    )
}

/// A chain position: `(seq, hash)` of a record, sealed as 8 big-endian bytes and 32.
fn encode_link(seq: u64, hash: &[u8; 32]) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..8].copy_from_slice(&seq.to_be_bytes());
    out[8..].copy_from_slice(hash);
    out
}

fn decode_link(bytes: &[u8]) -> Option<(u64, [u8; 32])> {
    let seq = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
    let hash = bytes.get(8..)?.try_into().ok()?;
    Some((seq, hash))
}

/// The last record the store acknowledged: `(seq, hash)`; `(0, zeros)` before the first.
pub(crate) fn head(conn: &Connection, sealer: &Sealer) -> Result<(u64, [u8; 32]), StoreError> {
    head_after(conn, sealer, None)
}

/// A head this connection wrote, as sealed and as plain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WrittenHead {
    sealed: Vec<u8>,
    pub(crate) head: (u64, [u8; 32]),
}

/// [`head`], given the head this connection wrote last: when `meta` still holds exactly those
/// sealed bytes, their plaintext is known and is not unsealed again (every append reads the
/// head). Any other bytes (another writer's head, or edited ones) are unsealed and checked.
pub(crate) fn head_after(
    conn: &Connection,
    sealer: &Sealer,
    written: Option<&WrittenHead>,
) -> Result<(u64, [u8; 32]), StoreError> {
    let damaged = || StoreError::MetaDamaged { what: "chain head" };
    let sealed = get(conn, "head")?.ok_or_else(damaged)?;
    if let Some(written) = written
        && written.sealed == sealed
    {
        return Ok(written.head);
    }
    sealer
        .open(Purpose::Head, &sealed)
        .ok()
        .and_then(|plain| decode_link(&plain))
        .ok_or_else(damaged)
}

pub(crate) fn put_head(
    conn: &Connection,
    sealer: &Sealer,
    head: (u64, [u8; 32]),
    random: &mut dyn RandomSource,
) -> Result<WrittenHead, StoreError> {
    let plain = encode_link(head.0, &head.1);
    let sealed = sealer.seal(Purpose::Head, &plain, random);
    // Every append moves the head, which exists from the store's creation on: a plain UPDATE
    // costs SQLite less than the upsert; the upsert stays for a store created without one.
    let updated = conn
        .prepare_cached("UPDATE meta SET value = ?1 WHERE name = 'head'")
        .and_then(|mut update| update.execute([&sealed]))
        .map_err(|e| StoreError::sqlite("writing the store's settings", e))?;
    if updated == 0 {
        put(conn, "head", &sealed)?;
    }
    Ok(WrittenHead { sealed, head })
}

/// Where the chain starts: genesis, or the link the first record after a purge follows.
pub(crate) fn start(conn: &Connection, sealer: &Sealer) -> Result<ChainLink, StoreError> {
    open_sealed(conn, sealer, "start", Purpose::Start, "chain start")?
        .and_then(|plain| decode_link(&plain))
        .map(|(seq, prev_hash)| ChainLink { seq, prev_hash })
        .ok_or(StoreError::MetaDamaged {
            what: "chain start",
        })
}

pub(crate) fn put_start(
    conn: &Connection,
    sealer: &Sealer,
    start: ChainLink,
    random: &mut dyn RandomSource,
) -> Result<(), StoreError> {
    let plain = encode_link(start.seq, &start.prev_hash);
    put(conn, "start", &sealer.seal(Purpose::Start, &plain, random))
}

pub(crate) fn device(
    conn: &Connection,
    sealer: &Sealer,
) -> Result<Option<DeviceBinding>, StoreError> {
    let damaged = StoreError::MetaDamaged { what: "device" };
    let Some(plain) = open_sealed(conn, sealer, "device", Purpose::Device, "device")? else {
        return Ok(None);
    };
    let value: serde_json::Value = serde_json::from_slice(&plain).map_err(|_| damaged)?;
    let device_id = value["device_id"].as_str();
    let key = value["public_key"]
        .as_str()
        .and_then(|text| BASE64.decode(text).ok())
        .and_then(|der| DeviceKey::from_spki_der(&der).ok());
    match (device_id, key) {
        (Some(device_id), Some(key)) => Ok(Some(DeviceBinding {
            device_id: device_id.to_owned(),
            key,
        })),
        _ => Err(StoreError::MetaDamaged { what: "device" }),
    }
}

pub(crate) fn put_device(
    conn: &Connection,
    sealer: &Sealer,
    binding: &DeviceBinding,
    random: &mut dyn RandomSource,
) -> Result<(), StoreError> {
    let plain = serde_json::json!({
        "device_id": binding.device_id,
        "public_key": BASE64.encode(binding.key.spki_der()),
    })
    .to_string();
    put(
        conn,
        "device",
        &sealer.seal(Purpose::Device, plain.as_bytes(), random),
    )
}
