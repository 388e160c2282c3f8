//! Encryption at rest: the store key from the platform, the keys derived from it, and sealing.
//!
//! The platform hands over one 32-byte store key through [`KeyProvider`] (on Android a random
//! key wrapped by a Keystore key and unwrapped when the store opens; on the desktop a key file).
//! HKDF-SHA256 with the store's random id as salt derives one key per purpose, so the same store
//! key never encrypts two stores' data under one key. Every sealed value is XChaCha20-Poly1305
//! with a fresh random 24-byte nonce (random nonces of this size never repeat in practice, even
//! across crashes and restored backups) and associated data naming the store and the purpose,
//! so a sealed value cannot be moved to another store or used as another kind of value.

use chacha20poly1305::aead::{Aead, AeadInOut, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::verify::RandomSource;

pub const NONCE_LEN: usize = 24;
pub const TAG_LEN: usize = 16;

/// The store key: 32 secret bytes, wiped when dropped, never printed.
pub struct StoreKey(Zeroizing<[u8; 32]>);

impl StoreKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// A key from exactly 32 bytes; `None` for any other length.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let array: [u8; 32] = bytes.try_into().ok()?;
        Some(Self::new(array))
    }

    /// A fresh random key.
    pub fn generate(random: &mut dyn RandomSource) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        random.fill(&mut bytes[..]);
        Self(bytes)
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(redacted)")
    }
}

/// Why the platform could not give the store key. `detail` must never hold key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// No key yet where one is expected (a store exists but its key is gone).
    #[error("the store key is missing: {detail}")]
    Missing { detail: String },
    /// The key exists but cannot be used now (Keystore locked, file unreadable, …).
    #[error("the store key is not available: {detail}")]
    Unavailable { detail: String },
    /// What the platform returned is not a 32-byte key.
    #[error("the store key is malformed: {detail}")]
    Malformed { detail: String },
}

/// Gives the store key. Object-safe, `Send + Sync`, typed errors: Android implements it over a
/// Keystore-wrapped key through UniFFI; the desktop over a key file or the OS keyring.
pub trait KeyProvider: Send + Sync {
    /// The 32-byte key. Called when a store is created or opened.
    fn store_key(&self) -> Result<StoreKey, KeyError>;
}

/// A key held in memory: tests, and callers that obtained the key themselves.
pub struct StaticKeyProvider {
    key: Zeroizing<[u8; 32]>,
}

impl StaticKeyProvider {
    pub fn new(key: [u8; 32]) -> Self {
        Self {
            key: Zeroizing::new(key),
        }
    }
}

impl KeyProvider for StaticKeyProvider {
    fn store_key(&self) -> Result<StoreKey, KeyError> {
        Ok(StoreKey::new(*self.key))
    }
}

/// What a sealed value is, bound into its associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    KeyCheck,
    Device,
    Head,
    Start,
    Record,
    Export,
    Manifest,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::KeyCheck => b"key_check",
            Purpose::Device => b"device",
            Purpose::Head => b"head",
            Purpose::Start => b"start",
            Purpose::Record => b"record",
            Purpose::Export => b"export",
            Purpose::Manifest => b"manifest",
        }
    }
}

/// The sealed value does not open: wrong key, other store, other purpose, or edited bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFailed;

/// Seals and opens values of one store.
pub struct Sealer {
    store_aead: XChaCha20Poly1305,
    export_aead: XChaCha20Poly1305,
    store_id: [u8; 16],
}

impl Sealer {
    pub fn new(key: &StoreKey, store_id: [u8; 16]) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(&store_id), key.expose());
        let derive = |info: &[u8]| {
            let mut okm = Zeroizing::new([0u8; 32]);
            // 32 bytes is far below HKDF-SHA256's limit of 8160: expand cannot fail.
            let _ = hkdf.expand(info, &mut okm[..]);
            XChaCha20Poly1305::new(&(*okm).into())
        };
        Self {
            store_aead: derive(b"honnin/store/v1/records"),
            export_aead: derive(b"honnin/store/v1/export"),
            store_id,
        }
    }

    /// `honnin/store/v1/<purpose>\0<store id>`, on the stack (it is made for every value).
    fn aad(&self, purpose: Purpose) -> ([u8; 48], usize) {
        let mut aad = [0u8; 48];
        let mut len = 0;
        for part in [
            &b"honnin/store/v1/"[..],
            purpose.label(),
            &[0],
            &self.store_id,
        ] {
            aad[len..len + part.len()].copy_from_slice(part);
            len += part.len();
        }
        (aad, len)
    }

    fn aead(&self, purpose: Purpose) -> &XChaCha20Poly1305 {
        match purpose {
            Purpose::Export => &self.export_aead,
            _ => &self.store_aead,
        }
    }

    /// `nonce ‖ ciphertext ‖ tag`.
    pub fn seal(
        &self,
        purpose: Purpose,
        plaintext: &[u8],
        random: &mut dyn RandomSource,
    ) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        random.fill(&mut nonce);
        let (aad, aad_len) = self.aad(purpose);
        // Encrypted where it is stored: one buffer, no second copy of the plaintext.
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        match self.aead(purpose).encrypt_inout_detached(
            &XNonce::from(nonce),
            &aad[..aad_len],
            (&mut out[NONCE_LEN..]).into(),
        ) {
            Ok(tag) => out.extend_from_slice(&tag),
            // XChaCha20-Poly1305 encryption fails only for messages beyond 256 GiB; the
            // plaintext is not left behind.
            Err(_) => {
                zeroize::Zeroize::zeroize(&mut out);
                out.clear();
            }
        }
        out
    }

    /// The plaintext of a value sealed for `purpose` in this store, wiped when dropped.
    pub fn open(&self, purpose: Purpose, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenFailed> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(OpenFailed);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| OpenFailed)?;
        let (aad, aad_len) = self.aad(purpose);
        self.aead(purpose)
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad[..aad_len],
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| OpenFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(u8);
    impl RandomSource for Counter {
        fn fill(&mut self, out: &mut [u8]) {
            for b in out {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
        }
    }

    #[test]
    fn sealed_values_open_only_in_their_store_and_purpose() {
        let key = StoreKey::new([1; 32]);
        let sealer = Sealer::new(&key, [2; 16]);
        let sealed = sealer.seal(Purpose::Record, b"record", &mut Counter(0));
        assert_eq!(
            &sealer.open(Purpose::Record, &sealed).expect("opens")[..],
            b"record"
        );
        assert_eq!(sealer.open(Purpose::Head, &sealed), Err(OpenFailed));
        let other_store = Sealer::new(&key, [3; 16]);
        assert_eq!(other_store.open(Purpose::Record, &sealed), Err(OpenFailed));
        let other_key = Sealer::new(&StoreKey::new([9; 32]), [2; 16]);
        assert_eq!(other_key.open(Purpose::Record, &sealed), Err(OpenFailed));
        let mut edited = sealed.clone();
        edited[30] ^= 1;
        assert_eq!(sealer.open(Purpose::Record, &edited), Err(OpenFailed));
        assert_eq!(sealer.open(Purpose::Record, &sealed[..20]), Err(OpenFailed));
    }

    #[test]
    fn nonces_are_fresh_and_ciphertext_hides_the_plaintext() {
        let sealer = Sealer::new(&StoreKey::new([1; 32]), [2; 16]);
        let mut random = Counter(0);
        let a = sealer.seal(Purpose::Record, b"JP-ITEM-0001", &mut random);
        let b = sealer.seal(Purpose::Record, b"JP-ITEM-0001", &mut random);
        assert_ne!(a, b);
        assert!(!a.windows(7).any(|w| w == b"JP-ITEM"));
    }

    #[test]
    fn every_purpose_seals_and_opens_only_as_itself() {
        let sealer = Sealer::new(&StoreKey::new([1; 32]), [2; 16]);
        let purposes = [
            Purpose::KeyCheck,
            Purpose::Device,
            Purpose::Head,
            Purpose::Start,
            Purpose::Record,
            Purpose::Export,
            Purpose::Manifest,
        ];
        for purpose in purposes {
            let sealed = sealer.seal(purpose, b"value", &mut Counter(0));
            assert_eq!(sealed.len(), NONCE_LEN + 5 + TAG_LEN);
            assert_eq!(&sealer.open(purpose, &sealed).expect("opens")[..], b"value");
            for other in purposes.into_iter().filter(|p| *p != purpose) {
                assert_eq!(sealer.open(other, &sealed), Err(OpenFailed), "{other:?}");
            }
        }
    }

    #[test]
    fn keys_never_print() {
        assert_eq!(
            format!("{:?}", StoreKey::new([7; 32])),
            "StoreKey(redacted)"
        );
    }
}
