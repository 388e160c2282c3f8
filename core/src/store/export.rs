//! Export of the records of a period (a day) for audit.
//!
//! The export (`honnin.export.v1`) is one JSON object: the store id, the device id and public
//! key, the period, and the records' envelopes in chain order, each verifiable on its own with
//! the device key. By default it leaves the device sealed (`honnin.export.sealed.v1`): the same
//! JSON encrypted under a key derived from the store key for exports only, so opening it needs
//! the store key; in clear only when the caller asks for it explicitly.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rusqlite::params;
use serde_json::{Value, json};

use super::Store;
use super::crypt::{KeyProvider, Purpose, Sealer};
use super::error::StoreError;
use crate::record::{DeviceKey, SignedRecord, hex_lower, parse_hex};
use crate::verify::UnixTime;

pub const EXPORT_FORMAT: &str = "honnin.export.v1";
pub const SEALED_EXPORT_FORMAT: &str = "honnin.export.sealed.v1";

/// The records of one period, as exported.
#[derive(Debug, Clone)]
pub struct Export {
    pub store_id: String,
    pub device_id: String,
    pub device_key: Option<DeviceKey>,
    pub from: UnixTime,
    pub to: UnixTime,
    pub records: Vec<SignedRecord>,
}

impl Export {
    /// The export in clear, as JSON bytes (records as canonical envelopes).
    pub fn to_clear_json(&self) -> Vec<u8> {
        let records: Vec<Value> = self
            .records
            .iter()
            .map(SignedRecord::to_json_value)
            .collect();
        let value = json!({
            "format": EXPORT_FORMAT,
            "store_id": self.store_id,
            "device_id": self.device_id,
            "device_key_id": self.device_key.as_ref().map(DeviceKey::id_hex),
            "device_public_key": self.device_key.as_ref().map(|k| BASE64.encode(k.spki_der())),
            "from": self.from.0,
            "to": self.to.0,
            "records": records,
        });
        let mut text = serde_json::to_vec_pretty(&value).unwrap_or_default();
        text.push(b'\n');
        text
    }

    fn from_clear_json(bytes: &[u8]) -> Result<Self, StoreError> {
        let bad = |why: &str| StoreError::ExportMalformed {
            why: why.to_owned(),
        };
        let value: Value = serde_json::from_slice(bytes).map_err(|_| bad("not JSON"))?;
        if value["format"] != EXPORT_FORMAT {
            return Err(bad("unknown format"));
        }
        let text = |name: &str| {
            value[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| bad(name))
        };
        let device_key = match value["device_public_key"].as_str() {
            None => None,
            Some(b64) => Some(
                BASE64
                    .decode(b64)
                    .ok()
                    .and_then(|der| DeviceKey::from_spki_der(&der).ok())
                    .ok_or_else(|| bad("device_public_key"))?,
            ),
        };
        let records = value["records"]
            .as_array()
            .ok_or_else(|| bad("records"))?
            .iter()
            .map(|r| SignedRecord::from_value(r.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Export {
            store_id: text("store_id")?,
            device_id: text("device_id")?,
            device_key,
            from: UnixTime(value["from"].as_i64().ok_or_else(|| bad("from"))?),
            to: UnixTime(value["to"].as_i64().ok_or_else(|| bad("to"))?),
            records,
        })
    }
}

impl Store {
    /// The records made in `[from, to)`, in chain order. Every one must read and verify: an
    /// unreadable record stops the export instead of leaving a silent hole.
    pub fn export(&self, from: UnixTime, to: UnixTime) -> Result<Export, StoreError> {
        let err = |e| StoreError::sqlite("exporting records", e);
        let device = self.device()?;
        let mut statement = self
            .conn
            .prepare(
                "SELECT seq, record_id, recorded_at, synced_at, sealed FROM records
                 WHERE recorded_at >= ?1 AND recorded_at < ?2 ORDER BY seq",
            )
            .map_err(err)?;
        let rows = statement
            .query_map(params![from.0, to.0], |row| self.row(row))
            .map_err(err)?;
        let mut records = Vec::new();
        for row in rows {
            let row = row.map_err(err)?;
            let unreadable = |why: String| StoreError::Unreadable {
                position: row.position,
                why,
            };
            let record = row.record.clone().map_err(|e| unreadable(e.to_string()))?;
            if let Some(device) = &device {
                record
                    .verify(&device.key)
                    .map_err(|e| unreadable(e.to_string()))?;
            }
            if record.body().seq() != row.position || record.body().time() != row.recorded_at {
                return Err(unreadable(
                    "it does not match its place in the store".into(),
                ));
            }
            records.push(record);
        }
        Ok(Export {
            store_id: hex_lower(&self.store_id),
            device_id: device
                .as_ref()
                .map(|d| d.device_id.clone())
                .unwrap_or_default(),
            device_key: device.map(|d| d.key),
            from,
            to,
            records,
        })
    }

    /// The export sealed under the store's export key.
    pub fn seal_export(&mut self, export: &Export) -> Vec<u8> {
        let clear = zeroize::Zeroizing::new(export.to_clear_json());
        let sealed = self
            .sealer
            .seal(Purpose::Export, &clear, self.random.as_mut());
        let mut text = serde_json::to_vec_pretty(&json!({
            "format": SEALED_EXPORT_FORMAT,
            "store_id": hex_lower(&self.store_id),
            "sealed": BASE64.encode(sealed),
        }))
        .unwrap_or_default();
        text.push(b'\n');
        text
    }
}

/// Opens a sealed export with the key of the store it came from.
pub fn open_sealed_export(bytes: &[u8], keys: &dyn KeyProvider) -> Result<Export, StoreError> {
    let bad = |why: &str| StoreError::ExportMalformed {
        why: why.to_owned(),
    };
    let value: Value = serde_json::from_slice(bytes).map_err(|_| bad("not JSON"))?;
    if value["format"] != SEALED_EXPORT_FORMAT {
        return Err(bad("not a sealed export"));
    }
    let store_id = value["store_id"]
        .as_str()
        .and_then(parse_hex::<16>)
        .ok_or_else(|| bad("store_id"))?;
    let sealed = value["sealed"]
        .as_str()
        .and_then(|text| BASE64.decode(text).ok())
        .ok_or_else(|| bad("sealed"))?;
    let key = keys.store_key()?;
    let sealer = Sealer::new(&key, store_id);
    let clear = sealer
        .open(Purpose::Export, &sealed)
        .map_err(|_| StoreError::WrongKey)?;
    Export::from_clear_json(&clear)
}
