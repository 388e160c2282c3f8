//! The receiver's own secrets at rest: the receipt key (it signs receipts and manifests) and
//! senders' webhook secrets (they sign pushes) must be readable by the receiver, so they cannot
//! be hashed like tokens and codes. With a secrets key (`--secrets-key <file>`) they are kept
//! sealed with XChaCha20-Poly1305, each bound to what it is (the purpose is the associated
//! data, so a sealed value moved to another row does not open), and a copy of the database
//! (a backup, a replica, a leaked dump) gives neither away. Without one they are kept as they
//! are: the zero-setup default for a receiver on loopback.
//!
//! Values kept before a secrets key was given are read as they are and sealed in place
//! ([`SecretBox::open`] says which), so turning sealing on needs no migration step.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

/// What starts a sealed value (then base64 of `nonce ‖ ciphertext ‖ tag`).
const SEALED_PREFIX: &str = "sealed-v1:";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("{path}: {detail}")]
    KeyFile { path: String, detail: String },
    #[error(
        "the {purpose} is kept sealed: start the receiver with the --secrets-key file it was sealed with"
    )]
    KeyNeeded { purpose: String },
    #[error(
        "the {purpose} does not open with this secrets key: it was sealed with another one, or changed"
    )]
    WrongKey { purpose: String },
    #[error("drawing random bytes: {0}")]
    Random(String),
}

/// How the receiver keeps its secrets: as they are, or sealed under a key.
pub enum SecretBox {
    Plain,
    Sealed(SealingKey),
    /// While the secrets key is rotated: sealing under the first (new) key, and values sealed
    /// under the second (old) one still open, so instances restarted with both keep working
    /// ([`crate::rotation`]).
    Rotating(SealingKey, SealingKey),
}

/// A secrets key, with the id the audit log names it by.
pub struct SealingKey {
    aead: XChaCha20Poly1305,
    /// The first 8 bytes of SHA-256 over a label and the key: tells keys apart in the audit
    /// log and reveals nothing of a random 256-bit key.
    id: String,
}

impl SealingKey {
    fn new(key: &[u8; 32]) -> Self {
        use sha2::Digest as _;
        let digest = sha2::Sha256::new()
            .chain_update(b"honnin secrets key id\0")
            .chain_update(key)
            .finalize();
        Self {
            aead: XChaCha20Poly1305::new(&(*key).into()),
            id: hex::encode(&digest[..8]),
        }
    }
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Plain => "SecretBox::Plain",
            Self::Sealed(_) => "SecretBox::Sealed",
            Self::Rotating(..) => "SecretBox::Rotating",
        })
    }
}

/// A kept value, opened.
pub struct Opened {
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The value was kept unsealed though a key is given: seal it and keep it again.
    pub needs_sealing: bool,
}

impl SecretBox {
    /// Sealing under the 32-byte key in `path` (64 hex digits), made there on first use with
    /// owner-only permissions. A key file others can read is refused.
    pub fn from_key_file(path: &Path) -> Result<Self, SecretsError> {
        let error = |detail: String| SecretsError::KeyFile {
            path: path.display().to_string(),
            detail,
        };
        if !path.exists() {
            let mut key = Zeroizing::new([0u8; 32]);
            getrandom::fill(key.as_mut_slice()).map_err(|e| SecretsError::Random(e.to_string()))?;
            let text = Zeroizing::new(format!("{}\n", hex::encode(key.as_slice())));
            match write_private(path, text.as_bytes()) {
                // Another instance made it first: use that one.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                other => other.map_err(|e| error(e.to_string()))?,
            }
        }
        check_private(path).map_err(error)?;
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?);
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), key.as_mut_slice())
            .map_err(|_| error("not a secrets key (64 hex digits)".into()))?;
        Ok(Self::Sealed(SealingKey::new(&key)))
    }

    /// This key, with values sealed under `previous` (the key being replaced) still opening.
    /// Both must be keys.
    pub fn with_previous(self, previous: SecretBox) -> Result<Self, SecretsError> {
        match (self, previous) {
            (Self::Sealed(current), Self::Sealed(previous)) => {
                Ok(Self::Rotating(current, previous))
            }
            _ => Err(SecretsError::KeyFile {
                path: "--previous-secrets-key".into(),
                detail: "give it together with --secrets-key, each a secrets key file".into(),
            }),
        }
    }

    /// The id of the key values are sealed under now (`None`: kept as they are) and, while
    /// rotating, of the previous one: what the audit log says of a secrets key.
    pub fn key_ids(&self) -> (Option<&str>, Option<&str>) {
        match self {
            Self::Plain => (None, None),
            Self::Sealed(key) => (Some(&key.id), None),
            Self::Rotating(key, previous) => (Some(&key.id), Some(&previous.id)),
        }
    }

    /// The value to keep for `plaintext`, sealed for `purpose` when there is a key.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<Vec<u8>, SecretsError> {
        let aead = match self {
            Self::Plain => return Ok(plaintext.to_vec()),
            Self::Sealed(key) | Self::Rotating(key, _) => &key.aead,
        };
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| SecretsError::Random(e.to_string()))?;
        let ciphertext = aead
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: purpose.as_bytes(),
                },
            )
            // XChaCha20-Poly1305 encryption fails only for messages beyond 256 GiB.
            .map_err(|_| SecretsError::Random("sealing failed".into()))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(format!("{SEALED_PREFIX}{}", BASE64.encode(sealed)).into_bytes())
    }

    /// The plaintext of a value kept for `purpose`.
    pub fn open(&self, purpose: &str, kept: &[u8]) -> Result<Opened, SecretsError> {
        let sealed = kept
            .strip_prefix(SEALED_PREFIX.as_bytes())
            .map(|encoded| BASE64.decode(encoded));
        match (self, sealed) {
            (Self::Plain, None) => Ok(Opened {
                plaintext: Zeroizing::new(kept.to_vec()),
                needs_sealing: false,
            }),
            (Self::Sealed(_) | Self::Rotating(..), None) => Ok(Opened {
                plaintext: Zeroizing::new(kept.to_vec()),
                needs_sealing: true,
            }),
            (Self::Plain, Some(_)) => Err(SecretsError::KeyNeeded {
                purpose: purpose.to_owned(),
            }),
            (Self::Rotating(current, previous), Some(decoded)) => {
                let decoded = decoded.map_err(|_| wrong_key(purpose))?;
                // Under the old key: opened, and sealed again by `rotate-secrets-key`.
                open_with(&current.aead, purpose, &decoded)
                    .or_else(|_| open_with(&previous.aead, purpose, &decoded))
            }
            (Self::Sealed(key), Some(decoded)) => {
                let decoded = decoded.map_err(|_| wrong_key(purpose))?;
                open_with(&key.aead, purpose, &decoded)
            }
        }
    }
}

fn wrong_key(purpose: &str) -> SecretsError {
    SecretsError::WrongKey {
        purpose: purpose.to_owned(),
    }
}

/// The plaintext of a sealed value (its base64 decoded) under `aead`.
fn open_with(
    aead: &XChaCha20Poly1305,
    purpose: &str,
    decoded: &[u8],
) -> Result<Opened, SecretsError> {
    if decoded.len() < NONCE_LEN + TAG_LEN {
        return Err(wrong_key(purpose));
    }
    let (nonce, ciphertext) = decoded.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| wrong_key(purpose))?;
    let plaintext = aead
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: ciphertext,
                aad: purpose.as_bytes(),
            },
        )
        .map_err(|_| wrong_key(purpose))?;
    Ok(Opened {
        plaintext: Zeroizing::new(plaintext),
        needs_sealing: false,
    })
}

/// The purpose a sender's webhook secret is sealed for.
pub fn webhook_purpose(sender_id: &str) -> String {
    format!("webhook secret of sender {sender_id}")
}

/// The purpose the receipt key is sealed for.
pub const RECEIPT_KEY_PURPOSE: &str = "receipt key";

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents).and_then(|()| file.sync_all())
}

fn check_private(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| e.to_string())?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "others can read this secrets key (mode {:o}); chmod 600 it",
                mode & 0o777
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed_box(dir: &Path) -> SecretBox {
        SecretBox::from_key_file(&dir.join("secrets.key")).expect("key")
    }

    #[test]
    fn a_sealed_value_opens_with_its_key_and_purpose_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let secrets = sealed_box(dir.path());
        let kept = secrets.seal("receipt key", b"the secret").expect("seals");
        assert!(!kept.windows(10).any(|w| w == b"the secret"));
        let opened = secrets.open("receipt key", &kept).expect("opens");
        assert_eq!(opened.plaintext.as_slice(), b"the secret");
        assert!(!opened.needs_sealing);
        // The same file is the same key.
        let again = sealed_box(dir.path());
        assert!(again.open("receipt key", &kept).is_ok());

        assert!(matches!(
            secrets.open("webhook secret of sender x", &kept),
            Err(SecretsError::WrongKey { .. })
        ));
        let other = tempfile::tempdir().expect("temp dir");
        assert!(matches!(
            sealed_box(other.path()).open("receipt key", &kept),
            Err(SecretsError::WrongKey { .. })
        ));
        assert!(matches!(
            SecretBox::Plain.open("receipt key", &kept),
            Err(SecretsError::KeyNeeded { .. })
        ));
        // One bit of the ciphertext changed.
        let mut raw = BASE64.decode(&kept[SEALED_PREFIX.len()..]).expect("base64");
        raw[NONCE_LEN] ^= 1;
        let changed = format!("{SEALED_PREFIX}{}", BASE64.encode(raw)).into_bytes();
        assert!(matches!(
            secrets.open("receipt key", &changed),
            Err(SecretsError::WrongKey { .. })
        ));
    }

    #[test]
    fn values_kept_before_sealing_are_read_and_marked_for_sealing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let opened = sealed_box(dir.path())
            .open("receipt key", b"plain")
            .expect("opens");
        assert_eq!(opened.plaintext.as_slice(), b"plain");
        assert!(opened.needs_sealing);
        let plain = SecretBox::Plain;
        assert_eq!(
            plain.seal("receipt key", b"plain").expect("keeps"),
            b"plain"
        );
        assert!(
            !plain
                .open("receipt key", b"plain")
                .expect("opens")
                .needs_sealing
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_made_private_and_a_readable_or_garbled_one_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("secrets.key");
        sealed_box(dir.path());
        let mode = std::fs::metadata(&path).expect("made").permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let refused = SecretBox::from_key_file(&path).expect_err("readable by others");
        assert!(refused.to_string().contains("chmod 600"), "{refused}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        std::fs::write(&path, "not hex\n").expect("writes");
        let refused = SecretBox::from_key_file(&path).expect_err("garbled");
        assert!(refused.to_string().contains("64 hex digits"), "{refused}");
    }
}
