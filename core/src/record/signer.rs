//! The device key that signs records: a platform trait, its public half, and a software key.
//!
//! On the handheld the key lives in the Android Keystore and never leaves it; the app implements
//! [`DeviceSigner`] through a UniFFI callback. On the desktop and in tests [`SoftwareSigner`]
//! holds the key in memory (the CLI keeps it in a PKCS#8 file). Both give ECDSA P-256 with
//! SHA-256 over the message, as `java.security.Signature("SHA256withECDSA")` does.

use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::error::RecordError;
use crate::verify::RandomSource;

/// A failure of the platform's key, named so a person knows what to do. `detail` comes from the
/// platform and must never carry key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignerError {
    /// The key does not exist or cannot be used now (Keystore locked, file missing, …).
    #[error("the device key is not available: {detail}")]
    KeyUnavailable { detail: String },
    /// The platform refused or failed to sign.
    #[error("the device key failed to sign: {detail}")]
    SigningFailed { detail: String },
}

/// Signs records with the device's ECDSA P-256 key.
///
/// Object-safe, `Send + Sync`, typed errors: the Android app implements it over the Keystore.
pub trait DeviceSigner: Send + Sync {
    /// The public key as a DER SubjectPublicKeyInfo (`PublicKey.getEncoded()` on Android).
    fn public_key_der(&self) -> Result<Vec<u8>, SignerError>;

    /// ECDSA P-256 with SHA-256 over `message`: an ASN.1 DER `ECDSA-Sig-Value` (what the
    /// Keystore returns) or the 64-byte `r ‖ s`. The core checks every signature it is given
    /// against the public key before it stores a record.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignerError>;
}

/// A device's public key, and the id that names it in records.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceKey {
    key: VerifyingKey,
    /// The uncompressed SEC1 point, as the native verifier takes it (made once per key: a
    /// receiver verifies many records with one device key).
    point: Vec<u8>,
    spki_der: Vec<u8>,
    id: [u8; 32],
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceKey({})", self.id_hex())
    }
}

impl DeviceKey {
    /// Parses a P-256 SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, RecordError> {
        let key =
            VerifyingKey::from_public_key_der(der).map_err(|_| RecordError::DeviceKeyMalformed)?;
        // Re-encode, so the id does not depend on how the platform wrote the DER.
        let spki_der = key
            .to_public_key_der()
            .map_err(|_| RecordError::DeviceKeyMalformed)?
            .into_vec();
        let id = Sha256::digest(&spki_der).into();
        let point = key.to_sec1_point(false).as_bytes().to_vec();
        Ok(Self {
            key,
            point,
            spki_der,
            id,
        })
    }

    /// The SubjectPublicKeyInfo DER, as a sender registers it.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// SHA-256 of the SubjectPublicKeyInfo DER: `device_key_id` in records.
    pub fn id(&self) -> [u8; 32] {
        self.id
    }

    pub fn id_hex(&self) -> String {
        hex_lower(&self.id)
    }

    /// Whether `signature` (64-byte `r ‖ s`) is this key's over `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        crate::verify::crypto::verify_ecdsa_p256_sha256(&self.point, message, signature)
    }

    /// Normalises what a [`DeviceSigner`] returned to the stored 64-byte form, and checks it.
    pub(crate) fn accept_signature(
        &self,
        message: &[u8],
        returned: &[u8],
    ) -> Result<[u8; 64], RecordError> {
        let parsed = if returned.len() == 64 {
            Signature::from_slice(returned)
        } else {
            Signature::from_der(returned)
        }
        .map_err(|_| RecordError::SignatureMalformed)?;
        let low_s = parsed.normalize_s();
        let bytes: [u8; 64] = low_s.to_bytes().into();
        if self.verifies(message, &bytes) {
            Ok(bytes)
        } else {
            Err(RecordError::SignerMismatch)
        }
    }
}

/// A device key held in memory: desktop counters and tests.
///
/// It signs on *ring* (assembly P-256, already the core's verifier), several times faster than
/// RustCrypto's P-256 (about 140 µs a signature, the largest CPU cost of a store insert after
/// the fsync; issue 13). *ring* draws a hedged nonce (random, mixed with the key and the
/// message) where RustCrypto uses RFC 6979's deterministic one: both are ECDSA P-256 / SHA-256
/// and verify under the same public key, so records, receipts and what verifiers accept are
/// unchanged, but signing the same message twice gives two different signatures.
///
/// The RustCrypto key (kept for PKCS#8 export) is wiped when dropped; *ring*'s copy of the
/// scalar is not: *ring* does not zeroize its key pairs, and wiping it from here would need
/// `unsafe`. The key lives as long as the process (the CLI's key is a file beside it).
pub struct SoftwareSigner {
    key: SigningKey,
    pair: ring::signature::EcdsaKeyPair,
    random: ring::rand::SystemRandom,
    public: DeviceKey,
}

impl std::fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SoftwareSigner({:?})", self.public)
    }
}

impl SoftwareSigner {
    /// A fresh key from `random`.
    pub fn generate(random: &mut dyn RandomSource) -> Self {
        loop {
            let mut secret = Zeroizing::new([0u8; 32]);
            random.fill(&mut secret[..]);
            // A uniformly random 32-byte string is a valid scalar except with probability ~2^-32.
            if let Ok(signer) = Self::from_secret_bytes(&secret) {
                return signer;
            }
        }
    }

    /// The key whose secret scalar is `secret` (big-endian), for tests and fixtures.
    pub fn from_secret_bytes(secret: &[u8; 32]) -> Result<Self, RecordError> {
        let key = SigningKey::from_slice(secret).map_err(|_| RecordError::DeviceKeyMalformed)?;
        Self::from_key(key)
    }

    /// Reads a PKCS#8 `PRIVATE KEY` PEM (what `openssl genpkey -algorithm EC` writes for P-256).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, RecordError> {
        let key = SigningKey::from_pkcs8_pem(pem).map_err(|_| RecordError::DeviceKeyMalformed)?;
        Self::from_key(key)
    }

    /// The key as a PKCS#8 PEM, in memory that is wiped after use.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, RecordError> {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| RecordError::DeviceKeyMalformed)
    }

    pub fn device_key(&self) -> &DeviceKey {
        &self.public
    }

    fn from_key(key: SigningKey) -> Result<Self, RecordError> {
        let der = key
            .verifying_key()
            .to_public_key_der()
            .map_err(|_| RecordError::DeviceKeyMalformed)?;
        let public = DeviceKey::from_spki_der(der.as_bytes())?;
        let secret = Zeroizing::new(key.to_bytes());
        let random = ring::rand::SystemRandom::new();
        let pair = ring::signature::EcdsaKeyPair::from_private_key_and_public_key(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &secret,
            &public.point,
            &random,
        )
        .map_err(|_| RecordError::DeviceKeyMalformed)?;
        Ok(Self {
            key,
            pair,
            random,
            public,
        })
    }
}

impl DeviceSigner for SoftwareSigner {
    fn public_key_der(&self) -> Result<Vec<u8>, SignerError> {
        Ok(self.public.spki_der.clone())
    }

    /// The 64-byte `r ‖ s`.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        self.pair
            .sign(&self.random, message)
            .map(|signature| signature.as_ref().to_vec())
            .map_err(|_| SignerError::SigningFailed {
                detail: "the system's random source failed".into(),
            })
    }
}

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    text
}

pub(crate) fn parse_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() != N * 2 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::signature::Signer as _;

    use super::*;

    fn signer() -> SoftwareSigner {
        SoftwareSigner::from_secret_bytes(&[7u8; 32]).expect("valid scalar")
    }

    #[test]
    fn signatures_verify_and_are_stored_low_s() {
        let signer = signer();
        let der = signer.sign(b"record").expect("signs");
        let stored = signer
            .device_key()
            .accept_signature(b"record", &der)
            .expect("accepted");
        assert!(signer.device_key().verifies(b"record", &stored));
        assert!(!signer.device_key().verifies(b"recorD", &stored));
        let parsed = Signature::from_slice(&stored).expect("parses");
        assert_eq!(parsed.normalize_s(), parsed);
    }

    /// The native verifier takes either S (as the format says verifiers do) and agrees with
    /// RustCrypto's on good, altered and foreign signatures.
    #[test]
    fn the_native_verifier_agrees_with_rustcrypto_and_takes_either_s() {
        use p256::ecdsa::signature::Verifier as _;
        let signer = signer();
        let key = signer.device_key();
        for message in [&b""[..], b"record", &[0xA5; 4096]] {
            let low: Signature = signer.key.sign(message);
            let low = low.normalize_s();
            let (r, s) = low.split_scalars();
            let high = Signature::from_scalars(r, -s).expect("a valid signature");
            for signature in [low, high] {
                let bytes: [u8; 64] = signature.to_bytes().into();
                assert!(key.verifies(message, &bytes));
                assert!(key.key.verify(message, &signature).is_ok());
                let mut flipped = bytes;
                flipped[40] ^= 1;
                assert!(!key.verifies(message, &flipped));
                assert!(!key.verifies(b"another message", &bytes));
            }
        }
        assert!(!key.verifies(b"record", &[0u8; 64]));
        assert!(!key.verifies(b"record", &[0xFF; 64]));
        let other = SoftwareSigner::from_secret_bytes(&[9u8; 32]).expect("valid scalar");
        let foreign: Signature = other.key.sign(b"record");
        assert!(!key.verifies(b"record", &foreign.to_bytes().into()));
    }

    /// What *ring* signs is plain ECDSA P-256 / SHA-256: RustCrypto's verifier (what senders
    /// outside honnin may use) takes it, for the key it was made with and no other.
    #[test]
    fn software_signatures_verify_with_rustcrypto_and_only_for_their_key() {
        use p256::ecdsa::signature::Verifier as _;
        let signer = signer();
        let other = SoftwareSigner::from_secret_bytes(&[9u8; 32]).expect("valid scalar");
        let first = signer.sign(b"record").expect("signs");
        let second = signer.sign(b"record").expect("signs");
        assert_eq!(first.len(), 64);
        // A hedged nonce: two signatures of one message differ, and both are good.
        assert_ne!(first, second);
        for returned in [&first, &second] {
            let signature = Signature::from_slice(returned).expect("r ‖ s");
            assert!(
                signer
                    .device_key()
                    .key
                    .verify(b"record", &signature)
                    .is_ok()
            );
            assert!(
                signer
                    .device_key()
                    .key
                    .verify(b"recorD", &signature)
                    .is_err()
            );
            assert!(
                other
                    .device_key()
                    .key
                    .verify(b"record", &signature)
                    .is_err()
            );
            let stored = signer
                .device_key()
                .accept_signature(b"record", returned)
                .expect("accepted");
            assert!(signer.device_key().verifies(b"record", &stored));
        }
        // The key read back from its PKCS#8 form signs for the same public key.
        let again =
            SoftwareSigner::from_pkcs8_pem(&signer.to_pkcs8_pem().expect("pem")).expect("reads");
        let returned = again.sign(b"record").expect("signs");
        assert!(
            signer
                .device_key()
                .accept_signature(b"record", &returned)
                .is_ok()
        );
    }

    #[test]
    fn a_signature_by_another_key_is_refused() {
        let other = SoftwareSigner::from_secret_bytes(&[9u8; 32]).expect("valid scalar");
        let der = other.sign(b"record").expect("signs");
        assert_eq!(
            signer().device_key().accept_signature(b"record", &der),
            Err(RecordError::SignerMismatch)
        );
        assert_eq!(
            signer().device_key().accept_signature(b"record", b"junk"),
            Err(RecordError::SignatureMalformed)
        );
    }

    #[test]
    fn pkcs8_round_trip_keeps_the_key() {
        let signer = signer();
        let pem = signer.to_pkcs8_pem().expect("encodes");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let again = SoftwareSigner::from_pkcs8_pem(&pem).expect("decodes");
        assert_eq!(again.device_key(), signer.device_key());
        assert!(SoftwareSigner::from_pkcs8_pem("not a key").is_err());
    }

    #[test]
    fn debug_shows_only_the_key_id() {
        let text = format!("{:?}", signer());
        assert!(text.starts_with("SoftwareSigner(DeviceKey("), "{text}");
        assert_eq!(text.len(), "SoftwareSigner(DeviceKey())".len() + 64);
    }

    #[test]
    fn hex_round_trip() {
        let bytes = [0x00, 0x9f, 0xa0, 0xff];
        assert_eq!(parse_hex::<4>(&hex_lower(&bytes)), Some(bytes));
        assert_eq!(parse_hex::<4>("009FA0FF"), None);
        assert_eq!(parse_hex::<4>("009fa0f"), None);
    }
}
