//! Receipt-key rotation: the receiver replaces the key that signs receipts and manifests, and a
//! device learns the new key only from a message signed by the key it already trusts.
//!
//! A rotation is `{"rotation": <body>, "signature": <base64 r‖s>}`, the old key's ECDSA P-256
//! signature over the canonical JSON of a [`KeyRotationBody`]. The receiver serves every
//! rotation it made, oldest first, with its current key (`GET /v1/receipt-key`); a device walks
//! them from the key it holds ([`follow`]): each rotation whose `previous_key` is the key
//! held must verify with it, and its new key is held next. A device enrolled after some
//! rotations skips those before its key. The old keys stay valid for receipts the receiver
//! signed before (they are kept, not forgotten), so nothing earlier stops verifying.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::record::canonical::to_canonical_bytes;
use crate::record::{DeviceKey, DeviceSigner, RecordError};

/// The value of `format` in every rotation of this version.
pub const ROTATION_FORMAT: &str = "honnin.receipt-key-rotation.v1";

/// What the old receipt key states: it is replaced by `new_key` from `rotated_at` on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRotationBody {
    pub format: String,
    /// The key replaced, which signs this rotation: base64 DER SubjectPublicKeyInfo (so a
    /// sender can verify receipts signed before with it).
    pub previous_key: String,
    /// The new key, base64 DER SubjectPublicKeyInfo (P-256).
    pub new_key: String,
    /// Unix seconds.
    pub rotated_at: i64,
}

/// A rotation with the old key's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedKeyRotation {
    pub rotation: KeyRotationBody,
    pub signature: String,
}

/// Why a rotation is not followed; the key held before stays in use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RotationError {
    #[error("a receipt-key rotation has an unknown format")]
    UnknownFormat,
    #[error("a receipt-key rotation is not signed by the key it replaces")]
    BadSignature,
    #[error("a receipt-key rotation names a new key that is not a P-256 public key")]
    BadNewKey,
    #[error("a receipt-key rotation cannot be encoded canonically")]
    NotCanonical,
    #[error(
        "the receiver's receipt key is {served}, which no rotation signed by the trusted key {trusted} leads to: keep the trusted key, and ask the operator (re-enrol if the receiver was replaced)"
    )]
    Unchained { trusted: String, served: String },
}

fn body_bytes(body: &KeyRotationBody) -> Result<Vec<u8>, RotationError> {
    let value = serde_json::to_value(body).map_err(|_| RotationError::NotCanonical)?;
    to_canonical_bytes(&value).map_err(|_| RotationError::NotCanonical)
}

impl SignedKeyRotation {
    /// The rotation from the key of `signer` (`previous`) to `new_key`, signed by `signer`.
    pub fn sign(
        signer: &dyn DeviceSigner,
        previous: &DeviceKey,
        new_key: &DeviceKey,
        rotated_at: i64,
    ) -> Result<Self, RecordError> {
        let rotation = KeyRotationBody {
            format: ROTATION_FORMAT.to_owned(),
            previous_key: BASE64.encode(previous.spki_der()),
            new_key: BASE64.encode(new_key.spki_der()),
            rotated_at,
        };
        let bytes = body_bytes(&rotation).map_err(|_| RecordError::Malformed {
            why: "the rotation cannot be encoded".into(),
        })?;
        let returned = signer.sign(&bytes)?;
        let signature = previous.accept_signature(&bytes, &returned)?;
        Ok(Self {
            rotation,
            signature: BASE64.encode(signature),
        })
    }

    /// The new key, if `previous` signed this rotation of itself.
    pub fn verify(&self, previous: &DeviceKey) -> Result<DeviceKey, RotationError> {
        if self.rotation.format != ROTATION_FORMAT {
            return Err(RotationError::UnknownFormat);
        }
        if self.rotation.previous_key != BASE64.encode(previous.spki_der()) {
            return Err(RotationError::BadSignature);
        }
        let bytes = body_bytes(&self.rotation)?;
        let signature = BASE64
            .decode(self.signature.as_bytes())
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .ok_or(RotationError::BadSignature)?;
        if !previous.verifies(&bytes, &signature) {
            return Err(RotationError::BadSignature);
        }
        BASE64
            .decode(self.rotation.new_key.as_bytes())
            .ok()
            .and_then(|der| DeviceKey::from_spki_der(&der).ok())
            .ok_or(RotationError::BadNewKey)
    }
}

/// The keys learned walking `rotations` (oldest first) from `trusted`, oldest first: empty
/// when none replaces it. A rotation of a held key that does not verify refuses the whole
/// walk, and so does a `served` key (the receiver's current one) the walk does not reach.
pub fn follow(
    trusted: &DeviceKey,
    rotations: &[SignedKeyRotation],
    served: &DeviceKey,
) -> Result<Vec<DeviceKey>, RotationError> {
    let mut held = trusted.clone();
    let mut learned = Vec::new();
    for rotation in rotations {
        if rotation.rotation.previous_key != BASE64.encode(held.spki_der()) {
            // Before the held key (a device enrolled after it), or not about it.
            continue;
        }
        held = rotation.verify(&held)?;
        learned.push(held.clone());
    }
    if held.id_hex() != served.id_hex() {
        return Err(RotationError::Unchained {
            trusted: trusted.id_hex(),
            served: served.id_hex(),
        });
    }
    Ok(learned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SoftwareSigner;

    fn key(byte: u8) -> SoftwareSigner {
        SoftwareSigner::from_secret_bytes(&[byte; 32]).expect("key")
    }

    fn rotate(from: &SoftwareSigner, to: &SoftwareSigner) -> SignedKeyRotation {
        SignedKeyRotation::sign(from, from.device_key(), to.device_key(), 1_800_000_000)
            .expect("signs")
    }

    #[test]
    fn a_device_follows_rotations_signed_by_the_key_it_holds() {
        let (k0, k1, k2) = (key(1), key(2), key(3));
        let chain = [rotate(&k0, &k1), rotate(&k1, &k2)];
        let learned = follow(k0.device_key(), &chain, k2.device_key()).expect("follows");
        assert_eq!(learned, [k1.device_key().clone(), k2.device_key().clone()]);
        // Enrolled after the first rotation: starts from k1.
        let learned = follow(k1.device_key(), &chain, k2.device_key()).expect("follows");
        assert_eq!(learned, [k2.device_key().clone()]);
        // Nothing to learn.
        assert!(
            follow(k2.device_key(), &chain, k2.device_key())
                .expect("follows")
                .is_empty()
        );
    }

    #[test]
    fn a_rotation_not_signed_by_the_held_key_is_refused() {
        let (k0, k1, attacker) = (key(1), key(2), key(9));
        // Signed by another key, claiming to replace k0.
        let mut forged = rotate(&attacker, &attacker);
        forged.rotation.previous_key = BASE64.encode(k0.device_key().spki_der());
        assert_eq!(
            follow(k0.device_key(), &[forged], attacker.device_key()),
            Err(RotationError::BadSignature)
        );
        // k0's genuine rotation with its new key swapped.
        let mut swapped = rotate(&k0, &k1);
        swapped.rotation.new_key = BASE64.encode(attacker.device_key().spki_der());
        assert_eq!(
            follow(k0.device_key(), &[swapped], attacker.device_key()),
            Err(RotationError::BadSignature)
        );
        // A served key no rotation leads to.
        assert!(matches!(
            follow(k0.device_key(), &[], attacker.device_key()),
            Err(RotationError::Unchained { .. })
        ));
        let mut unknown = rotate(&k0, &k1);
        unknown.rotation.format = "honnin.receipt-key-rotation.v9".into();
        assert_eq!(
            unknown.verify(k0.device_key()),
            Err(RotationError::UnknownFormat)
        );
    }
}
