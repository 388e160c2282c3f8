//! The RSA operations of the card and of its issuers (model v1: RSA-2048, PKCS#1 v1.5, SHA-256).

use honnin_core::card::profile::{KEY_ID_LEN, tag};
use rsa::pkcs8::EncodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, PrivateKey, PublicKey};
use sha2::{Digest, Sha256};

use crate::error::SimError;
use crate::tlv::tlv;

/// The DER SubjectPublicKeyInfo of a key, as it appears in an X.509 certificate.
pub fn spki_der(key: &PublicKey) -> Result<Vec<u8>, SimError> {
    Ok(key.to_public_key_der()?.as_bytes().to_vec())
}

/// Model v1 key identifier: the first 16 bytes of SHA-256 over the SubjectPublicKeyInfo DER.
pub fn key_id(key: &PublicKey) -> Result<[u8; KEY_ID_LEN], SimError> {
    let digest = Sha256::digest(spki_der(key)?);
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&digest[..KEY_ID_LEN]);
    Ok(id)
}

/// Model v1 public key data objects: exponent `82` followed by modulus `81` (ISO 7816-8), both
/// unsigned big-endian without leading zeros.
pub fn public_key_objects(key: &PublicKey) -> Vec<u8> {
    let mut out = tlv(u16::from(tag::RSA_EXPONENT), &key.e_bytes());
    out.extend(tlv(u16::from(tag::RSA_MODULUS), &key.n_bytes()));
    out
}

/// What COMPUTE DIGITAL SIGNATURE does: PKCS#1 v1.5 type-1 padding around the given bytes (a
/// DigestInfo, supplied by the host) and the private-key operation.
pub fn sign_padded(key: &PrivateKey, digest_info: &[u8]) -> Result<Vec<u8>, SimError> {
    Ok(key.sign(Pkcs1v15Sign::new_unprefixed(), digest_info)?)
}

/// A PKCS#1 v1.5 signature with SHA-256 over `message` (the issuers' signatures over card data,
/// CV certificates, and INTERNAL AUTHENTICATE).
pub fn sign_sha256(key: &PrivateKey, message: &[u8]) -> Result<Vec<u8>, SimError> {
    Ok(key.pkcs1v15_sign::<Sha256>(message)?)
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_key_objects_are_exponent_then_modulus() {
        let key = crate::fixtures::Fixtures::embedded()
            .key("card-face")
            .expect("fixture key");
        let objects = public_key_objects(key.as_public_key());
        assert_eq!(&objects[..5], &[0x82, 0x03, 0x01, 0x00, 0x01]);
        assert_eq!(&objects[5..9], &[0x81, 0x82, 0x01, 0x00]);
        assert_eq!(objects.len(), 5 + 4 + 256);
    }
}
