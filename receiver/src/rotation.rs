//! Rotating the receiver's receipt key and its secrets key without downtime.
//!
//! **Receipt key.** [`rotate_receipt_key`] makes a new key, has the old one sign a
//! [`SignedKeyRotation`] to it (devices follow it, [`honnin_core::sync::rotation`]), appends
//! that to the rotations kept in the database, and then makes the new key the one kept. Every
//! instance serving the database picks the new key up within [`RELOAD_SECONDS`]
//! ([`ReceiptKeys::reload`], run by `serve`), so none stops; the old public keys stay listed
//! (`GET /v1/receipt-key`: `previous_keys`, `rotations`) and every receipt signed before still
//! verifies with its key. The rotation list is the commit point: the new private key is kept
//! (sealed) under its own name before it, so a rotation interrupted after it is completed by
//! the next load ([`current_receipt_key`]).
//!
//! **Secrets key.** Instances are restarted one at a time with `--secrets-key <new>
//! --previous-secrets-key <old>` (values sealed under either open, new ones are sealed under
//! the new key); then [`reseal_all`] (`honnin-receiver rotate-secrets-key`) seals every kept
//! value under the new key, and the old one can go.

use std::sync::{Arc, RwLock};

use honnin_core::record::{DeviceKey, SoftwareSigner};
use honnin_core::sync::rotation::SignedKeyRotation;
use zeroize::Zeroizing;

use crate::operator::{RECEIPT_KEY, receipt_key};
use crate::secrets::{RECEIPT_KEY_PURPOSE, SecretBox, webhook_purpose};
use crate::storage::{Storage, StorageError};

/// Where the rotations are kept (a JSON array, oldest first; public).
const ROTATIONS: &str = "receipt_key_rotations";

/// How often a serving instance looks for a rotated receipt key.
pub const RELOAD_SECONDS: u64 = 5;

fn bad(context: &'static str, detail: impl Into<String>) -> StorageError {
    StorageError::Database {
        context,
        detail: detail.into(),
    }
}

/// The name a rotation's new private key is kept under until it is the current one.
fn pending_name(key: &DeviceKey) -> String {
    format!("receipt_key.{}", key.id_hex())
}

/// The receipt key an instance signs with, replaced in place when it was rotated.
pub struct ReceiptKeys {
    current: RwLock<(Arc<SoftwareSigner>, Vec<u8>)>,
}

impl std::fmt::Debug for ReceiptKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReceiptKeys({:?})", self.signer().device_key())
    }
}

impl ReceiptKeys {
    /// The key kept in `storage` (made on first use).
    pub fn load(storage: &dyn Storage, secrets: &SecretBox) -> Result<Self, StorageError> {
        let (signer, kept) = current_receipt_key(storage, secrets)?;
        Ok(Self {
            current: RwLock::new((Arc::new(signer), kept)),
        })
    }

    /// The key to sign with now.
    pub fn signer(&self) -> Arc<SoftwareSigner> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone()
    }

    /// Takes the key kept in `storage` if it changed; `Ok(true)` when it did.
    pub fn reload(&self, storage: &dyn Storage, secrets: &SecretBox) -> Result<bool, StorageError> {
        let kept = storage.meta(RECEIPT_KEY)?;
        let unchanged = {
            let current = self.current.read().unwrap_or_else(|e| e.into_inner());
            kept.as_deref() == Some(current.1.as_slice())
        };
        if unchanged && !rotation_pending(storage, &self.signer())? {
            return Ok(false);
        }
        let (signer, kept) = current_receipt_key(storage, secrets)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = (Arc::new(signer), kept);
        Ok(true)
    }
}

/// Every rotation made, oldest first.
pub fn rotations(storage: &dyn Storage) -> Result<Vec<SignedKeyRotation>, StorageError> {
    match storage.meta(ROTATIONS)? {
        None => Ok(Vec::new()),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| bad("reading the receipt-key rotations", e.to_string())),
    }
}

/// Whether the last rotation names another key than `signer`'s (one interrupted before the
/// new key was made current).
fn rotation_pending(storage: &dyn Storage, signer: &SoftwareSigner) -> Result<bool, StorageError> {
    Ok(rotations(storage)?
        .last()
        .is_some_and(|r| r.rotation.new_key != base64_key(signer.device_key())))
}

fn base64_key(key: &DeviceKey) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(key.spki_der())
}

/// The current receipt key and its kept value, completing an interrupted rotation first.
pub fn current_receipt_key(
    storage: &dyn Storage,
    secrets: &SecretBox,
) -> Result<(SoftwareSigner, Vec<u8>), StorageError> {
    let signer = receipt_key(storage, secrets)?;
    if let Some(last) = rotations(storage)?.last()
        && last.rotation.new_key != base64_key(signer.device_key())
    {
        let context = "completing a receipt-key rotation";
        let new_key = last
            .verify(signer.device_key())
            .map_err(|e| bad(context, e.to_string()))?;
        let pending = storage
            .meta(&pending_name(&new_key))?
            .filter(|kept| !kept.is_empty())
            .ok_or_else(|| bad(context, "the new key of the last rotation is missing"))?;
        let kept = storage
            .meta(RECEIPT_KEY)?
            .ok_or_else(|| bad(context, "the receipt key is missing"))?;
        // Another instance completing it first is as good.
        storage.replace_meta(RECEIPT_KEY, &kept, &pending)?;
        return current_receipt_key(storage, secrets);
    }
    let kept = storage
        .meta(RECEIPT_KEY)?
        .ok_or_else(|| bad("reading the receipt key", "the key is missing"))?;
    Ok((signer, kept))
}

/// Replaces the receipt key: the rotation signed by the old key is kept for devices, the old
/// public key for receipts signed before; logged in the audit log by `actor`.
pub fn rotate_receipt_key(
    storage: &dyn Storage,
    secrets: &SecretBox,
    actor: &str,
    now: i64,
) -> Result<SignedKeyRotation, StorageError> {
    let context = "rotating the receipt key";
    let (old, _) = current_receipt_key(storage, secrets)?;
    let new = new_signer().map_err(|e| bad(context, e))?;
    let rotation = SignedKeyRotation::sign(&old, old.device_key(), new.device_key(), now)
        .map_err(|e| bad(context, e.to_string()))?;
    let pem = new
        .to_pkcs8_pem()
        .map_err(|_| bad(context, "the new key cannot be encoded"))?;
    let sealed = secrets.seal(RECEIPT_KEY_PURPOSE, pem.as_bytes())?;
    storage.put_meta(&pending_name(new.device_key()), &sealed)?;
    // The commit point: of two rotations at once, the one that extends the list first wins.
    let before = storage.meta(ROTATIONS)?;
    let mut list = rotations(storage)?;
    list.push(rotation.clone());
    let text = serde_json::to_vec(&list).map_err(|e| bad(context, e.to_string()))?;
    let committed = match &before {
        Some(before) => storage.replace_meta(ROTATIONS, before, &text)?,
        None => {
            storage.put_meta(ROTATIONS, &text)?;
            storage.meta(ROTATIONS)?.as_deref() == Some(text.as_slice())
        }
    };
    if !committed {
        return Err(bad(
            context,
            "another rotation was made at the same time; look at `GET /v1/receipt-key` and rotate again if needed",
        ));
    }
    current_receipt_key(storage, secrets)?;
    // The new key is the current one now: no second copy of it is kept.
    storage.replace_meta(&pending_name(new.device_key()), &sealed, b"")?;
    crate::fleet::audit(
        storage,
        actor,
        "rotate_receipt_key",
        "receipt_key",
        serde_json::json!({
            "previous_key_id": old.device_key().id_hex(),
            "new_key_id": new.device_key().id_hex(),
        }),
        now,
    )?;
    Ok(rotation)
}

fn new_signer() -> Result<SoftwareSigner, String> {
    let mut secret = Zeroizing::new([0u8; 32]);
    loop {
        getrandom::fill(secret.as_mut_slice()).map_err(|e| e.to_string())?;
        if let Ok(signer) = SoftwareSigner::from_secret_bytes(&secret) {
            return Ok(signer);
        }
    }
}

/// The public keys rotations replaced (base64 DER), oldest first: receipts signed before a
/// rotation verify with one of them.
pub fn previous_keys(rotations: &[SignedKeyRotation]) -> Vec<String> {
    rotations
        .iter()
        .map(|r| r.rotation.previous_key.clone())
        .collect()
}

/// Seals every kept secret (the receipt key, webhook secrets) under `secrets`' current key,
/// opening each with the current or previous key; logged. Returns how many were sealed again.
pub fn reseal_all(
    storage: &dyn Storage,
    secrets: &SecretBox,
    actor: &str,
    now: i64,
) -> Result<usize, StorageError> {
    let mut resealed = 0;
    let kept = storage
        .meta(RECEIPT_KEY)?
        .ok_or_else(|| bad("sealing the receipt key again", "the key is missing"))?;
    let opened = secrets.open(RECEIPT_KEY_PURPOSE, &kept)?;
    let sealed = secrets.seal(RECEIPT_KEY_PURPOSE, &opened.plaintext)?;
    resealed += usize::from(storage.replace_meta(RECEIPT_KEY, &kept, &sealed)?);
    for hook in storage.webhooks()? {
        let purpose = webhook_purpose(&hook.sender_id);
        let opened = secrets.open(&purpose, hook.secret.as_bytes())?;
        let sealed = secrets.seal(&purpose, &opened.plaintext)?;
        resealed += usize::from(storage.replace_webhook_secret(
            &hook.sender_id,
            &hook.secret,
            &String::from_utf8_lossy(&sealed),
        )?);
    }
    crate::fleet::audit(
        storage,
        actor,
        "rotate_secrets_key",
        "secrets_key",
        serde_json::json!({
            "resealed": resealed,
            "key_id": secrets.key_ids().0,
            "previous_key_id": secrets.key_ids().1,
        }),
        now,
    )?;
    Ok(resealed)
}

/// What `GET /v1/receipt-key` says: the current key (the last rotation's new key, which every
/// instance signs with within [`RELOAD_SECONDS`]; `own` when there was none), the keys it
/// replaced, and the rotations a device follows to it.
pub fn announcement(own: &DeviceKey, rotations: &[SignedKeyRotation]) -> serde_json::Value {
    let current = announced_key(own, rotations);
    serde_json::json!({
        "receipt_key": base64_key(&current),
        "key_id": current.id_hex(),
        "previous_keys": previous_keys(rotations),
        "rotations": rotations,
    })
}

/// The receipt key announced as current: the last rotation's new key, else `own`.
pub fn announced_key(own: &DeviceKey, rotations: &[SignedKeyRotation]) -> DeviceKey {
    use base64::Engine as _;
    rotations
        .last()
        .and_then(|last| {
            base64::engine::general_purpose::STANDARD
                .decode(last.rotation.new_key.as_bytes())
                .ok()
        })
        .and_then(|der| DeviceKey::from_spki_der(&der).ok())
        .unwrap_or_else(|| own.clone())
}

/// Looks for a rotated receipt key every [`RELOAD_SECONDS`] while the receiver serves.
pub async fn run_reloader(receiver: Arc<crate::Receiver>) {
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(RELOAD_SECONDS));
    loop {
        ticks.tick().await;
        let worker = receiver.clone();
        let reloaded = tokio::task::spawn_blocking(move || {
            worker.key.reload(worker.storage.as_ref(), &worker.secrets)
        })
        .await;
        match reloaded {
            Ok(Ok(true)) => eprintln!(
                "honnin-receiver: the receipt key was rotated; signing with {}",
                receiver.receipt_key().id_hex()
            ),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => eprintln!("honnin-receiver: looking for a rotated receipt key: {e}"),
            Err(_) => eprintln!("honnin-receiver: looking for a rotated receipt key failed"),
        }
    }
}
