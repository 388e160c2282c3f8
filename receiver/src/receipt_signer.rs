//! The receipt key on *ring*, for ingest: every record stored gets a receipt signed with it.
//!
//! The receiver keeps its receipt key as a [`SoftwareSigner`] (RustCrypto's P-256, the core's
//! portable key type). Signing with it cost about 140 µs per receipt — about as much as
//! verifying half the record — so `receiver-costs` measured receipts as the largest cost of
//! ingest after verification itself. *ring* (audited, assembly for P-256, already in the build
//! for TLS and verification) signs the same ECDSA P-256 with SHA-256 several times faster.
//!
//! The key is the same one: it is taken from the [`SoftwareSigner`] as PKCS#8 (in memory that
//! is wiped), so rotation, storage and the public key stay where they are. *ring* signs with a
//! hedged nonce (random, mixed with the key and message) instead of RFC 6979's deterministic
//! one; both are standard ECDSA and verify with the same public key. Every signature still goes
//! through [`SignedReceipt::sign`](honnin_core::sync::protocol::SignedReceipt::sign), which
//! checks it against the public key and normalises it to low S before a receipt leaves.

use honnin_core::record::{DeviceSigner, SignerError, SoftwareSigner};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use zeroize::Zeroizing;

/// The receipt key as a *ring* key pair; built once per batch from the current key.
pub struct ReceiptSigner {
    pair: EcdsaKeyPair,
    random: SystemRandom,
    public_der: Vec<u8>,
}

impl std::fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ReceiptSigner({} bytes of public key)",
            self.public_der.len()
        )
    }
}

impl ReceiptSigner {
    /// The key of `signer`, on *ring*.
    pub fn new(signer: &SoftwareSigner) -> Result<Self, SignerError> {
        let unavailable = |detail: &str| SignerError::KeyUnavailable {
            detail: format!("the receipt key cannot be used for signing: {detail}"),
        };
        let pem = signer
            .to_pkcs8_pem()
            .map_err(|_| unavailable("it cannot be encoded as PKCS#8"))?;
        let (label, der) = der::pem::decode_vec(pem.as_bytes())
            .map_err(|_| unavailable("its PKCS#8 encoding does not read back"))?;
        let der = Zeroizing::new(der);
        if label != "PRIVATE KEY" {
            return Err(unavailable("its PKCS#8 encoding has another label"));
        }
        let random = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &random)
            .map_err(|e| unavailable(&e.to_string()))?;
        Ok(Self {
            pair,
            random,
            public_der: signer.device_key().spki_der().to_vec(),
        })
    }
}

impl DeviceSigner for ReceiptSigner {
    fn public_key_der(&self) -> Result<Vec<u8>, SignerError> {
        Ok(self.public_der.clone())
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

#[cfg(test)]
mod tests {
    use honnin_core::record::DeviceSigner as _;
    use honnin_core::sync::protocol::{RECEIPT_FORMAT, ReceiptBody, SignedReceipt};

    use super::*;

    fn receipt() -> ReceiptBody {
        ReceiptBody {
            format: RECEIPT_FORMAT.into(),
            record_id: "ab".repeat(16),
            record_hash: "cd".repeat(32),
            device_id: "handheld-01".into(),
            seq: 7,
            received_at: 1_795_564_800,
            outcome: "verified".into(),
        }
    }

    #[test]
    fn receipts_signed_on_ring_verify_with_the_receipt_key_and_no_other() {
        let key = SoftwareSigner::from_secret_bytes(&[9u8; 32]).expect("key");
        let signer = ReceiptSigner::new(&key).expect("the key reads on ring");
        assert_eq!(
            signer.public_key_der().expect("public key"),
            key.device_key().spki_der()
        );
        let signed = SignedReceipt::sign(receipt(), &signer, key.device_key()).expect("signs");
        let id = "ab".repeat(16);
        assert_eq!(signed.verify(key.device_key(), &id, &[0xcd; 32]), Ok(()));
        // Another key, another record, an altered body: each refused.
        let other = SoftwareSigner::from_secret_bytes(&[8u8; 32]).expect("key");
        assert!(signed.verify(other.device_key(), &id, &[0xcd; 32]).is_err());
        assert!(signed.verify(key.device_key(), &id, &[0xce; 32]).is_err());
        let mut altered = signed.clone();
        altered.receipt.outcome = "failed".into();
        assert!(altered.verify(key.device_key(), &id, &[0xcd; 32]).is_err());
    }

    #[test]
    fn a_ring_signature_checked_against_another_key_is_refused_before_it_leaves() {
        // SignedReceipt::sign checks every signature against the key it is told: a signer for
        // another key never yields a receipt.
        let key = SoftwareSigner::from_secret_bytes(&[9u8; 32]).expect("key");
        let other = SoftwareSigner::from_secret_bytes(&[8u8; 32]).expect("key");
        let signer = ReceiptSigner::new(&other).expect("the key reads on ring");
        assert!(SignedReceipt::sign(receipt(), &signer, key.device_key()).is_err());
    }

    #[test]
    fn signatures_are_the_64_byte_fixed_form() {
        let key = SoftwareSigner::from_secret_bytes(&[9u8; 32]).expect("key");
        let signer = ReceiptSigner::new(&key).expect("the key reads on ring");
        let signature = signer.sign(b"receipt").expect("signs");
        assert_eq!(signature.len(), 64);
        // Hedged nonces: two signatures of one message differ, and both verify.
        assert_ne!(signature, signer.sign(b"receipt").expect("signs"));
    }
}
