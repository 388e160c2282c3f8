//! TLS key rotation for devices that pin the receiver's TLS key: the operator announces the
//! next key's pin before switching to it (`honnin-receiver announce-tls-key`), and
//! `GET /v1/receipt-key` carries the pins of the key served now and the announced next ones,
//! signed by the receipt key ([`honnin_core::sync::pin_announcement`]). A device keeps them at
//! its next sync and accepts any of them, so when the new certificate and key are installed
//! (picked up without a restart, [`crate::tls_reload`]) no device has to be enrolled again.
//!
//! The announced pins are kept in the storage's settings (one value for every instance on one
//! database); each announcement is logged in the audit log. Once every device synced since
//! the announcement, the operator switches keys; the old key is no longer listed from then
//! on (it is not served), so devices drop it at their next sync. `--clear` withdraws an
//! announcement (a next key that will not be used).

use honnin_core::record::DeviceKey;
use honnin_core::sync::SpkiPin;
use honnin_core::sync::pin_announcement::{MAX_ANNOUNCED_PINS, SignedPinAnnouncement};

use crate::storage::{Storage, StorageError};

/// The settings entry the announced next pins are kept under (a JSON array of pin texts).
const META_KEY: &str = "tls_next_pins";

fn bad(context: &'static str, detail: impl Into<String>) -> StorageError {
    StorageError::Database {
        context,
        detail: detail.into(),
    }
}

/// The next TLS key pins the operator announced, oldest first.
pub fn next_pins(storage: &dyn Storage) -> Result<Vec<SpkiPin>, StorageError> {
    match storage.meta(META_KEY)? {
        None => Ok(Vec::new()),
        Some(bytes) if bytes.is_empty() => Ok(Vec::new()),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| bad("reading the announced TLS key pins", e.to_string())),
    }
}

/// How often a change of the announced pins is tried again when another change came first.
const WRITE_ATTEMPTS: usize = 5;

/// Replaces the announced pins with what `change` makes of them, compare-and-set: the
/// settings' plain write keeps the first value written, and a change made at the same time by
/// another operator must not be lost either.
fn change_pins(
    storage: &dyn Storage,
    context: &'static str,
    change: impl Fn(Vec<SpkiPin>) -> Result<Vec<SpkiPin>, StorageError>,
) -> Result<Vec<SpkiPin>, StorageError> {
    for _ in 0..WRITE_ATTEMPTS {
        let before = storage.meta(META_KEY)?;
        let pins = change(next_pins(storage)?)?;
        let text = if pins.is_empty() {
            Vec::new()
        } else {
            serde_json::to_vec(&pins).map_err(|e| bad(context, e.to_string()))?
        };
        let written = match &before {
            Some(old) => storage.replace_meta(META_KEY, old, &text)?,
            None => {
                storage.put_meta(META_KEY, &text)?;
                storage.meta(META_KEY)?.as_deref() == Some(text.as_slice())
            }
        };
        if written {
            return Ok(pins);
        }
    }
    Err(bad(
        context,
        "the announced TLS keys kept changing at the same time; run the command again",
    ))
}

/// Announces `pin` as a next TLS key (kept with those announced before, at most
/// [`MAX_ANNOUNCED_PINS`] − 1 of them, as the served key is listed too); logged by `actor`.
/// The pins announced now.
pub fn announce(
    storage: &dyn Storage,
    pin: SpkiPin,
    actor: &str,
    now: i64,
) -> Result<Vec<SpkiPin>, StorageError> {
    let context = "announcing a TLS key pin";
    let pins = change_pins(storage, context, |mut pins| {
        if !pins.contains(&pin) {
            pins.push(pin);
        }
        if pins.len() >= MAX_ANNOUNCED_PINS {
            return Err(bad(
                context,
                format!(
                    "at most {} next keys can be announced; withdraw the ones that will not be used (announce-tls-key --clear)",
                    MAX_ANNOUNCED_PINS - 1
                ),
            ));
        }
        Ok(pins)
    })?;
    crate::fleet::audit(
        storage,
        actor,
        "announce_tls_key",
        "tls_key",
        serde_json::json!({"pin": pin.to_string()}),
        now,
    )?;
    Ok(pins)
}

/// Withdraws every announced next key (logged by `actor`, with the pins withdrawn).
pub fn clear(storage: &dyn Storage, actor: &str, now: i64) -> Result<(), StorageError> {
    let withdrawn = next_pins(storage)?;
    change_pins(storage, "withdrawing the announced TLS key pins", |_| {
        Ok(Vec::new())
    })?;
    crate::fleet::audit(
        storage,
        actor,
        "clear_tls_key_announcements",
        "tls_key",
        serde_json::json!({"withdrawn": withdrawn.iter().map(ToString::to_string).collect::<Vec<_>>()}),
        now,
    )?;
    Ok(())
}

/// The announcement served with the receipt key: the key served now (`served`, if this
/// instance serves TLS itself) and the announced next ones, signed by the receipt key of
/// `receiver`. `None` when there is nothing to announce, or while this instance has not yet
/// taken a rotated receipt key (`announced_key`): devices that already follow the new key
/// would refuse a signature of the old one, and get the announcement at their next sync.
pub fn signed_announcement(
    receiver: &crate::Receiver,
    served: Option<SpkiPin>,
    announced_key: &DeviceKey,
    now: i64,
) -> Result<Option<SignedPinAnnouncement>, StorageError> {
    let mut pins: Vec<SpkiPin> = served.into_iter().collect();
    pins.extend(next_pins(receiver.storage.as_ref())?);
    let signer = receiver.key.signer();
    if pins.is_empty() || signer.device_key().id_hex() != announced_key.id_hex() {
        return Ok(None);
    }
    pins.truncate(MAX_ANNOUNCED_PINS);
    SignedPinAnnouncement::sign(&pins, now, signer.as_ref(), signer.device_key())
        .map(Some)
        .map_err(|e| bad("signing the TLS key pins", e.to_string()))
}

/// The pin of the key in the certificate file at `path` (PEM, the first certificate, or DER),
/// for `announce-tls-key --cert`.
pub fn pin_of_certificate_file(path: &std::path::Path) -> Result<SpkiPin, String> {
    use tokio_rustls::rustls::pki_types::CertificateDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let der = if bytes.starts_with(b"-----BEGIN") {
        CertificateDer::pem_slice_iter(&bytes)
            .next()
            .ok_or_else(|| format!("{}: no certificate in it", path.display()))?
            .map_err(|e| format!("{}: {e}", path.display()))?
            .as_ref()
            .to_vec()
    } else {
        bytes
    };
    SpkiPin::of_certificate_der(&der).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStorage;

    #[test]
    fn announcements_add_up_and_a_withdrawal_clears_them_all() {
        let dir = tempfile::tempdir().expect("temp dir");
        let storage = SqliteStorage::open(&dir.path().join("receiver.db")).expect("opens");
        let pin = |byte: u8| SpkiPin::from_bytes([byte; 32]);
        assert_eq!(
            announce(&storage, pin(1), "t", 10).expect("announces"),
            [pin(1)]
        );
        // Written over the first value, not dropped beside it.
        assert_eq!(
            announce(&storage, pin(2), "t", 11).expect("announces"),
            [pin(1), pin(2)]
        );
        assert_eq!(next_pins(&storage).expect("reads"), [pin(1), pin(2)]);
        clear(&storage, "t", 12).expect("withdraws");
        assert_eq!(next_pins(&storage).expect("reads"), []);
        assert_eq!(
            announce(&storage, pin(3), "t", 13).expect("announces"),
            [pin(3)]
        );
        assert_eq!(next_pins(&storage).expect("reads"), [pin(3)]);
        let logged = crate::audit::all_entries(&storage).expect("log");
        assert_eq!(logged.len(), 4);
        assert!(
            logged[2].detail.contains(&pin(2).to_string()),
            "{}",
            logged[2].detail
        );
        // Full: refused, and what was announced stays.
        for byte in 4..=(MAX_ANNOUNCED_PINS as u8 + 1) {
            let _ = announce(&storage, pin(byte), "t", 14);
        }
        assert_eq!(
            next_pins(&storage).expect("reads").len(),
            MAX_ANNOUNCED_PINS - 1
        );
        assert!(announce(&storage, pin(99), "t", 15).is_err());
    }
}
