//! Signature primitives shared by every signature check: RSA keys from card data objects and
//! from X.509, key identifiers, RSA PKCS#1 v1.5 and ECDSA P-256 verification.
//!
//! Verification runs on audited libraries with assembly on every target the app ships:
//! - RSA on AWS-LC (aws-lc-rs, [`super::rsa_native`]), which keeps each parsed key and so
//!   reaches `openssl speed`; on Android and in fuzzing builds on *ring* (already in the build
//!   for TLS), which parses the key for every signature;
//! - ECDSA P-256 on *ring* (5× faster than `p256`, as fast as OpenSSL).
//!
//! `card-costs` measures both against OpenSSL. The `rsa` crate is kept for what these do not
//! offer: parsing and checking keys from card data objects, SHA-1 certificates, and (on *ring*)
//! a signature over a digest the caller already holds (the door check's challenge). This module
//! is the one place that chooses the implementation.
//!
//! Every input here may come from a hostile card or file, so nothing panics and the work is
//! bounded before any big-number arithmetic starts: moduli of [`MIN_RSA_BITS`]..=[`MAX_RSA_BITS`]
//! bits only (the My Number Card uses RSA-2048 throughout), public exponents odd and at most
//! 2^33 − 1 (the bound *ring* and RustCrypto use against "RSADoS"), and a signature of any other
//! length than the modulus is simply "does not verify".

use der::Decode;
use der::asn1::ObjectIdentifier;
use rsa::pkcs1v15::Pkcs1v15Sign;
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, PublicKey};
use sha2::{Digest, Sha256};
use spki::{EncodePublicKey, SubjectPublicKeyInfoRef};

use crate::card::profile::KEY_ID_LEN;
use crate::card::types::RsaPublicKeyObject;

/// Smallest RSA modulus honnin accepts, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus honnin accepts, in bits: bounds the work a hostile key can cause.
pub const MAX_RSA_BITS: usize = 4096;
/// Largest public exponent accepted (as in *ring* and the `rsa` crate).
const MAX_EXPONENT: u64 = (1 << 33) - 1;

/// `rsaEncryption`, the only SubjectPublicKeyInfo algorithm honnin accepts.
pub(crate) const RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Why a public key was refused. Never holds key material, only sizes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error(
        "RSA modulus of {bits} bits: honnin accepts {MIN_RSA_BITS} to {MAX_RSA_BITS} bits (My Number Card keys are 2048)"
    )]
    ModulusSize { bits: usize },
    #[error("RSA modulus is even, so it cannot be an RSA modulus")]
    ModulusEven,
    #[error("RSA public exponent is not accepted: it must be odd, at least 3 and below 2^33")]
    Exponent,
    #[error("the exponent is not smaller than the modulus")]
    ExponentNotBelowModulus,
    #[error("the public key is not an RSA key (algorithm {algorithm})")]
    NotRsa { algorithm: String },
    #[error("the public key's encoding is malformed: {0}")]
    Encoding(String),
}

/// Builds an RSA public key from the card's `82` (exponent) and `81` (modulus) data objects.
pub fn rsa_public_key_from_object(object: &RsaPublicKeyObject) -> Result<PublicKey, KeyError> {
    public_key_from_components(&object.modulus, &object.exponent)
}

/// Builds an RSA public key from a DER SubjectPublicKeyInfo (`rsaEncryption`, NULL parameters).
pub fn rsa_public_key_from_spki(spki_der: &[u8]) -> Result<PublicKey, KeyError> {
    let spki = SubjectPublicKeyInfoRef::from_der(spki_der)
        .map_err(|e| KeyError::Encoding(format!("SubjectPublicKeyInfo: {e}")))?;
    rsa_public_key_from_spki_ref(&spki)
}

pub(crate) fn rsa_public_key_from_spki_ref(
    spki: &SubjectPublicKeyInfoRef<'_>,
) -> Result<PublicKey, KeyError> {
    if spki.algorithm.oid != RSA_ENCRYPTION {
        return Err(KeyError::NotRsa {
            algorithm: spki.algorithm.oid.to_string(),
        });
    }
    // RFC 3279 §2.3.1: the parameters are NULL; an absent field is tolerated, anything else is not.
    if let Some(parameters) = &spki.algorithm.parameters
        && !parameters.is_null()
    {
        return Err(KeyError::Encoding(
            "rsaEncryption parameters must be NULL".into(),
        ));
    }
    let bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| KeyError::Encoding("the key bit string has unused bits".into()))?;
    let key = rsa::pkcs1::RsaPublicKey::<der::asn1::UintRef<'_>>::from_der(bits)
        .map_err(|e| KeyError::Encoding(format!("RSAPublicKey: {e}")))?;
    public_key_from_components(key.modulus.as_bytes(), key.public_exponent.as_bytes())
}

/// Modulus and exponent as big-endian bytes (leading zero bytes allowed) → a checked key.
pub fn public_key_from_components(modulus: &[u8], exponent: &[u8]) -> Result<PublicKey, KeyError> {
    let modulus = strip_leading_zeros(modulus);
    let exponent = strip_leading_zeros(exponent);
    // Sizes are checked on the byte length first, so that no big number is ever built from a
    // megabyte of hostile input.
    if modulus.len() > MAX_RSA_BITS / 8 || modulus.len() < MIN_RSA_BITS / 8 {
        return Err(KeyError::ModulusSize {
            bits: bit_length(modulus),
        });
    }
    let bits = bit_length(modulus);
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        return Err(KeyError::ModulusSize { bits });
    }
    if modulus.last().is_some_and(|b| b & 1 == 0) {
        return Err(KeyError::ModulusEven);
    }
    if exponent.is_empty() || exponent.len() > 8 {
        return Err(KeyError::Exponent);
    }
    let e = exponent
        .iter()
        .fold(0u64, |acc, byte| (acc << 8) | u64::from(*byte));
    if !(3..=MAX_EXPONENT).contains(&e) || e & 1 == 0 {
        return Err(KeyError::Exponent);
    }
    let precision = u32::try_from(modulus.len() * 8).map_err(|_| KeyError::ModulusSize { bits })?;
    let n = BoxedUint::from_be_slice(modulus, precision)
        .map_err(|_| KeyError::Encoding("modulus does not fit its own length".into()))?;
    let e = BoxedUint::from(e);
    PublicKey::new_with_size_limits(n, e, MIN_RSA_BITS..=MAX_RSA_BITS).map_err(
        |error| match error {
            rsa::Error::ModulusTooSmall | rsa::Error::ModulusTooLarge => {
                KeyError::ModulusSize { bits }
            }
            rsa::Error::PublicExponentTooSmall | rsa::Error::PublicExponentTooLarge => {
                KeyError::Exponent
            }
            rsa::Error::InvalidModulus => KeyError::ExponentNotBelowModulus,
            other => KeyError::Encoding(other.to_string()),
        },
    )
}

/// The DER SubjectPublicKeyInfo of a key, as an X.509 certificate would carry it.
pub fn spki_der(key: &PublicKey) -> Result<Vec<u8>, KeyError> {
    key.to_public_key_der()
        .map(|document| document.as_bytes().to_vec())
        .map_err(|e| KeyError::Encoding(format!("SubjectPublicKeyInfo: {e}")))
}

/// A key's identifier (model v1): the first 16 bytes of SHA-256 over its SubjectPublicKeyInfo DER.
pub fn key_id(spki_der: &[u8]) -> [u8; KEY_ID_LEN] {
    let digest = Sha256::digest(spki_der);
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&digest[..KEY_ID_LEN]);
    id
}

/// [`key_id`] of a key given as its parts, e.g. a CV certificate's subject key.
pub fn key_id_of(key: &PublicKey) -> Result<[u8; KEY_ID_LEN], KeyError> {
    Ok(key_id(&spki_der(key)?))
}

/// RSASSA-PKCS1-v1_5 with SHA-256 over `message`. Any malformed signature is `false`.
pub fn verify_pkcs1v15_sha256(key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    if signature.len() != key.size() {
        return false;
    }
    #[cfg(not(any(target_os = "android", fuzzing)))]
    {
        super::rsa_native::verify_sha256(key, message, signature)
    }
    #[cfg(any(target_os = "android", fuzzing))]
    {
        verify_pkcs1v15_sha256_ring(key, message, signature)
    }
}

/// [`verify_pkcs1v15_sha256`] on *ring* (Android, fuzzing; tested everywhere against the others).
#[cfg_attr(not(any(target_os = "android", fuzzing, test)), allow(dead_code))]
fn verify_pkcs1v15_sha256_ring(key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    if signature.len() != key.size() {
        return false;
    }
    // The key was checked when it was built (size, odd modulus, exponent bounds), with the
    // same bounds ring applies; ring wants both numbers without leading zero bytes.
    let modulus = key.n().to_be_bytes();
    let exponent = key.e().to_be_bytes();
    ring::signature::RsaPublicKeyComponents {
        n: strip_leading_zeros(&modulus),
        e: strip_leading_zeros(&exponent),
    }
    .verify(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        message,
        signature,
    )
    .is_ok()
}

/// ECDSA P-256 with SHA-256: `signature` is the 64-byte `r ‖ s` (either S), `public_point` the
/// uncompressed SEC1 point of a key already parsed and checked.
pub fn verify_ecdsa_p256_sha256(public_point: &[u8], message: &[u8], signature: &[u8; 64]) -> bool {
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, public_point)
        .verify(message, signature)
        .is_ok()
}

/// RSASSA-PKCS1-v1_5 with SHA-256 where the caller already holds the 32-byte digest.
pub fn verify_pkcs1v15_sha256_prehashed(
    key: &PublicKey,
    digest: &[u8; 32],
    signature: &[u8],
) -> bool {
    if signature.len() != key.size() {
        return false;
    }
    #[cfg(not(any(target_os = "android", fuzzing)))]
    {
        super::rsa_native::verify_sha256_prehashed(key, digest, signature)
    }
    #[cfg(any(target_os = "android", fuzzing))]
    {
        verify_pkcs1v15_sha256_prehashed_rustcrypto(key, digest, signature)
    }
}

/// [`verify_pkcs1v15_sha256_prehashed`] on the `rsa` crate, which verified every RSA signature
/// before: *ring* takes no digest. The benchmarks' baseline.
pub fn verify_pkcs1v15_sha256_prehashed_rustcrypto(
    key: &PublicKey,
    digest: &[u8; 32],
    signature: &[u8],
) -> bool {
    signature.len() == key.size()
        && key
            .verify(Pkcs1v15Sign::new::<Sha256>(), digest, signature)
            .is_ok()
}

/// RSASSA-PKCS1-v1_5 with SHA-1: only for certificates whose card profile allows SHA-1.
pub(crate) fn verify_pkcs1v15_sha1(key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    let digest = sha1::Sha1::digest(message);
    signature.len() == key.size()
        && key
            .verify(Pkcs1v15Sign::new::<sha1::Sha1>(), &digest, signature)
            .is_ok()
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

fn bit_length(stripped: &[u8]) -> usize {
    match stripped.first() {
        None => 0,
        Some(first) => stripped.len() * 8 - first.leading_zeros() as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::x509::test_keys;

    fn object(key: &PublicKey) -> RsaPublicKeyObject {
        RsaPublicKeyObject {
            modulus: key.n().to_be_bytes().to_vec(),
            exponent: key.e().to_be_bytes().to_vec(),
        }
    }

    #[test]
    fn key_from_object_round_trips_and_verifies() {
        let private = test_keys::key(0);
        let public = private.as_public_key();
        let mut card = object(public);
        // Leading zero bytes as a card may store them.
        card.modulus.insert(0, 0);
        card.exponent.insert(0, 0);
        let key = rsa_public_key_from_object(&card).expect("valid key");
        assert_eq!(&key, public);
        let signature = test_keys::sign_sha256(0, b"challenge");
        assert!(verify_pkcs1v15_sha256(&key, b"challenge", &signature));
        assert!(!verify_pkcs1v15_sha256(&key, b"challengf", &signature));
        let digest: [u8; 32] = Sha256::digest(b"challenge").into();
        assert!(verify_pkcs1v15_sha256_prehashed(&key, &digest, &signature));
    }

    /// ring (what verifies) and the `rsa` crate (what verifies over a digest) agree, so the
    /// door check and the sender's re-verification take the same signatures.
    #[test]
    fn the_native_verifier_agrees_with_the_rsa_crate() {
        for index in 0..3 {
            let key = test_keys::key(index).as_public_key().clone();
            for message in [&b""[..], b"challenge", &[0x5A; 5000]] {
                let signature = test_keys::sign_sha256(index, message);
                let digest: [u8; 32] = Sha256::digest(message).into();
                assert!(verify_pkcs1v15_sha256(&key, message, &signature));
                assert!(verify_pkcs1v15_sha256_ring(&key, message, &signature));
                assert!(verify_pkcs1v15_sha256_prehashed(&key, &digest, &signature));
                assert!(verify_pkcs1v15_sha256_prehashed_rustcrypto(
                    &key, &digest, &signature
                ));
                for position in [0, 100, signature.len() - 1] {
                    let mut altered = signature.clone();
                    altered[position] ^= 0x01;
                    assert!(!verify_pkcs1v15_sha256(&key, message, &altered));
                    assert!(!verify_pkcs1v15_sha256_ring(&key, message, &altered));
                    assert!(!verify_pkcs1v15_sha256_prehashed(&key, &digest, &altered));
                    assert!(!verify_pkcs1v15_sha256_prehashed_rustcrypto(
                        &key, &digest, &altered
                    ));
                }
                // Another key's signature, and a signature one byte short, verify with none.
                let other = test_keys::sign_sha256((index + 1) % 3, message);
                assert!(!verify_pkcs1v15_sha256(&key, message, &other));
                assert!(!verify_pkcs1v15_sha256_ring(&key, message, &other));
                assert!(!verify_pkcs1v15_sha256_prehashed(&key, &digest, &other));
                assert!(!verify_pkcs1v15_sha256(&key, message, &signature[1..]));
            }
        }
    }

    #[test]
    fn key_id_matches_the_spki_of_the_same_key() {
        let public = test_keys::key(0).as_public_key().clone();
        let from_object = rsa_public_key_from_object(&object(&public)).expect("valid");
        let spki = spki_der(&public).expect("encodes");
        assert_eq!(key_id_of(&from_object).expect("encodes"), key_id(&spki));
        assert_eq!(
            rsa_public_key_from_spki(&spki).expect("parses"),
            from_object
        );
        assert_eq!(key_id(b"").len(), KEY_ID_LEN);
    }

    #[test]
    fn hostile_keys_are_refused_without_panicking() {
        let good = object(test_keys::key(0).as_public_key());
        let cases: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (vec![], vec![1, 0, 1]),
            (vec![0; 256], vec![1, 0, 1]),
            (vec![0xFF; 128], vec![1, 0, 1]),
            (vec![0xFF; 1024], vec![1, 0, 1]),
            (vec![0xFF; 10_000], vec![1, 0, 1]),
            ([vec![0xFF; 255], vec![0xFE]].concat(), vec![1, 0, 1]),
            (good.modulus.clone(), vec![]),
            (good.modulus.clone(), vec![0]),
            (good.modulus.clone(), vec![1]),
            (good.modulus.clone(), vec![2]),
            (good.modulus.clone(), vec![1, 0, 0]),
            (good.modulus.clone(), vec![0xFF; 9]),
            (good.modulus.clone(), vec![0x03, 0, 0, 0, 1]),
            (good.modulus.clone(), good.modulus.clone()),
        ];
        for (modulus, exponent) in cases {
            let object = RsaPublicKeyObject { modulus, exponent };
            assert!(rsa_public_key_from_object(&object).is_err(), "{object:?}");
        }
        assert!(matches!(
            rsa_public_key_from_spki(&[0x30, 0x03, 0x02, 0x01, 0x00]),
            Err(KeyError::Encoding(_))
        ));
    }

    #[test]
    fn signatures_of_the_wrong_size_or_value_do_not_verify() {
        let key = test_keys::key(0).as_public_key().clone();
        let signature = test_keys::sign_sha256(0, b"m");
        for bad in [
            vec![],
            vec![0u8; 255],
            vec![0u8; 256],
            vec![0xFFu8; 256],
            vec![0u8; 257],
            signature[1..].to_vec(),
            [signature.clone(), vec![0]].concat(),
        ] {
            assert!(!verify_pkcs1v15_sha256(&key, b"m", &bad));
        }
        // A signature by another key.
        assert!(!verify_pkcs1v15_sha256(
            test_keys::key(1).as_public_key(),
            b"m",
            &signature
        ));
        assert!(!verify_pkcs1v15_sha1(&key, b"m", &signature));
    }
}
