//! RSA PKCS#1 v1.5 verification on AWS-LC (aws-lc-rs), with each public key parsed once.
//!
//! *ring* parses the key again for every signature (it keeps no parsed RSA public key), which
//! left its RSA-2048 verify at 0.72–0.88× `openssl speed` on this project's machines (issue 13).
//! AWS-LC has OpenSSL's assembly and keeps the parsed key (`ParsedPublicKey`), so the keys that
//! verify again and again — the JPKI CA keys behind every card, a card checked twice — are
//! parsed once per process. A card's own key is parsed on first use, as before.
//!
//! Built on every target except Android (where the NDK build of AWS-LC is not set up, and *ring*
//! verifies as before, see [`super::crypto`]) and fuzzing builds (C code compiled without the
//! fuzzer's instrumentation would only slow the targets down).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use aws_lc_rs::digest::{Digest, SHA256};
use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use rsa::PublicKey;
use rsa::pkcs1::EncodeRsaPublicKey;

/// Most parsed keys kept: the anchors' and CAs' keys of a deployment and the cards of the
/// last few checks. When full, the map starts again empty (parsing is cheap; the bound is
/// what matters for a receiver that sees a new card in every record).
const KEPT_KEYS: usize = 512;

type ParsedKeys = Mutex<HashMap<Box<[u8]>, Arc<ParsedPublicKey>>>;

fn parsed_keys() -> &'static ParsedKeys {
    static KEYS: OnceLock<ParsedKeys> = OnceLock::new();
    KEYS.get_or_init(ParsedKeys::default)
}

/// `key` parsed by AWS-LC (kept for the next signature of the same key); `None` when AWS-LC
/// refuses the key, which then verifies nothing.
fn parsed(key: &PublicKey) -> Option<Arc<ParsedPublicKey>> {
    let der = key.to_pkcs1_der().ok()?;
    let der = der.as_bytes();
    // A poisoned lock only means another thread panicked while holding it; the map itself is
    // always whole (inserts and clears are single calls).
    let mut keys = parsed_keys().lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(parsed) = keys.get(der) {
        return Some(Arc::clone(parsed));
    }
    let parsed = Arc::new(ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der).ok()?);
    if keys.len() >= KEPT_KEYS {
        keys.clear();
    }
    keys.insert(der.into(), Arc::clone(&parsed));
    Some(parsed)
}

/// RSASSA-PKCS1-v1_5 with SHA-256 over `message`.
pub(super) fn verify_sha256(key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    parsed(key).is_some_and(|parsed| parsed.verify_sig(message, signature).is_ok())
}

/// RSASSA-PKCS1-v1_5 with SHA-256 where the caller already holds the digest.
pub(super) fn verify_sha256_prehashed(
    key: &PublicKey,
    digest: &[u8; 32],
    signature: &[u8],
) -> bool {
    let Ok(digest) = Digest::import_less_safe(digest, &SHA256) else {
        return false;
    };
    parsed(key).is_some_and(|parsed| parsed.verify_digest_sig(&digest, signature).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::x509::test_keys;

    /// A key kept from an earlier signature verifies only its own signatures.
    #[test]
    fn a_kept_key_verifies_only_its_own_signatures() {
        let first = test_keys::key(0).as_public_key().clone();
        let second = test_keys::key(1).as_public_key().clone();
        let signature = test_keys::sign_sha256(0, b"challenge");
        for _ in 0..2 {
            assert!(verify_sha256(&first, b"challenge", &signature));
            assert!(!verify_sha256(&second, b"challenge", &signature));
            assert!(!verify_sha256(&first, b"challengf", &signature));
        }
        let mut damaged = signature.clone();
        damaged[100] ^= 1;
        assert!(!verify_sha256(&first, b"challenge", &damaged));
        assert!(!verify_sha256(&first, b"challenge", &signature[1..]));
    }

    #[test]
    fn the_map_stays_bounded() {
        let key = test_keys::key(2).as_public_key().clone();
        let signature = test_keys::sign_sha256(2, b"m");
        for _ in 0..3 {
            assert!(verify_sha256(&key, b"m", &signature));
        }
        let kept = parsed_keys()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        assert!((1..=KEPT_KEYS).contains(&kept), "{kept}");
    }
}
