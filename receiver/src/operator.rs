//! Operator actions, run on the receiver's machine against its database: one-time enrolment
//! codes for devices, senders and their API tokens, the receipt key and the sealing of kept
//! secrets.

use getrandom::fill as random_fill;
use honnin_core::record::SoftwareSigner;
use sha2::{Digest, Sha256};

use zeroize::Zeroizing;

use crate::secrets::{RECEIPT_KEY_PURPOSE, SecretBox, webhook_purpose};
use crate::storage::{Storage, StorageError};

/// The receipt key's name among the database's settings.
pub(crate) const RECEIPT_KEY: &str = "receipt_key";

/// How long an enrolment code is valid.
pub const ENROLMENT_CODE_SECONDS: i64 = 24 * 3600;

/// SHA-256 of a secret, lowercase hex: what is stored for tokens and codes.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// `bytes` random bytes as lowercase hex (secrets, codes, tokens).
pub fn random_hex(bytes: usize) -> Result<String, StorageError> {
    let mut buffer = vec![0u8; bytes];
    random_fill(&mut buffer).map_err(|e| StorageError::Database {
        context: "drawing random bytes",
        detail: e.to_string(),
    })?;
    Ok(hex::encode(buffer))
}

/// A one-time code that lets `device_id` enrol its key within a day. Shown once; only its hash
/// is kept. The device is enrolled for `senders`: its records for them reach their feeds even
/// for items they did not register (see [`crate::items::feed_sender`]).
pub fn issue_enrolment_code(
    storage: &dyn Storage,
    device_id: &str,
    senders: &[&str],
    now: i64,
) -> Result<String, StorageError> {
    for sender in senders {
        honnin_core::manifest::check_id("the sender id", sender).map_err(|e| {
            StorageError::Database {
                context: "enrolling a device for a sender",
                detail: e.to_string(),
            }
        })?;
    }
    let code = random_hex(10)?;
    storage.add_enrolment_code(device_id, &secret_hash(&code), now + ENROLMENT_CODE_SECONDS)?;
    for sender in senders {
        storage.allow_device_sender(device_id, sender)?;
    }
    Ok(code)
}

/// Registers a sender and returns its API token (`hnn_` + 64 hex digits). Shown once; only its
/// hash is kept.
pub fn add_sender(storage: &dyn Storage, sender_id: &str) -> Result<String, StorageError> {
    let token = format!("hnn_{}", random_hex(32)?);
    storage.add_sender(sender_id, &secret_hash(&token))?;
    Ok(token)
}

/// The receipt key, made on first use and kept in the database as PKCS#8, sealed when the
/// receiver has a secrets key (one kept unsealed before is sealed in place).
pub fn receipt_key(
    storage: &dyn Storage,
    secrets: &SecretBox,
) -> Result<SoftwareSigner, StorageError> {
    let bad = |detail: &str| StorageError::Database {
        context: "reading the receipt key",
        detail: detail.to_owned(),
    };
    if storage.meta(RECEIPT_KEY)?.is_none() {
        let mut secret = Zeroizing::new([0u8; 32]);
        let signer = loop {
            random_fill(secret.as_mut_slice()).map_err(|e| bad(&e.to_string()))?;
            if let Ok(signer) = SoftwareSigner::from_secret_bytes(&secret) {
                break signer;
            }
        };
        let pem = signer
            .to_pkcs8_pem()
            .map_err(|_| bad("the new key cannot be encoded"))?;
        // Another instance may have stored one meanwhile: whichever is stored wins.
        storage.put_meta(
            RECEIPT_KEY,
            &secrets.seal(RECEIPT_KEY_PURPOSE, pem.as_bytes())?,
        )?;
    }
    let stored = storage
        .meta(RECEIPT_KEY)?
        .ok_or_else(|| bad("the key is missing"))?;
    let opened = secrets.open(RECEIPT_KEY_PURPOSE, &stored)?;
    if opened.needs_sealing {
        // Another instance sealing it first is as good.
        storage.replace_meta(
            RECEIPT_KEY,
            &stored,
            &secrets.seal(RECEIPT_KEY_PURPOSE, &opened.plaintext)?,
        )?;
    }
    let text = std::str::from_utf8(&opened.plaintext).map_err(|_| bad("the key is not PEM"))?;
    SoftwareSigner::from_pkcs8_pem(text).map_err(|_| bad("the key is not a P-256 PKCS#8 key"))
}

/// Seals every webhook secret kept unsealed (registered before the receiver had a secrets
/// key), and checks that every sealed one opens, so a wrong key is found at start-up rather
/// than at the first push.
pub fn seal_webhook_secrets(
    storage: &dyn Storage,
    secrets: &SecretBox,
) -> Result<(), StorageError> {
    for hook in storage.webhooks()? {
        let purpose = webhook_purpose(&hook.sender_id);
        let opened = secrets.open(&purpose, hook.secret.as_bytes())?;
        if opened.needs_sealing {
            let sealed = secrets.seal(&purpose, &opened.plaintext)?;
            storage.replace_webhook_secret(
                &hook.sender_id,
                &hook.secret,
                &String::from_utf8_lossy(&sealed),
            )?;
        }
    }
    Ok(())
}
