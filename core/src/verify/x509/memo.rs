//! What is the same for every card of a CA, worked out once per process: the CA certificates a
//! record carries, parsed with their keys, and the signatures over CA certificates and
//! revocation lists that verified.
//!
//! A receiver re-verifies every record it ingests, and every level B or C record carries its
//! CA's certificate (and the J-LIS root's copy), whose signature is checked against the anchor,
//! and its CA's revocation list is checked against the same key: an RSA verification, a
//! certificate parse and an RSA key set up per record, a fifth of the receiver's verification
//! (`receiver-costs`), for the same few objects each time.
//!
//! Every entry is keyed by SHA-256 over all the bytes its outcome depends on (the whole DER of
//! the certificate or list, which holds the signed bytes, the algorithm and the signature; the
//! issuer's modulus and exponent; whether SHA-1 was allowed), so an object that differs in any
//! byte, or a key that differs, finds nothing and is verified in full. Only successes are
//! kept, and only what depends on nothing else: the time, names, usages and revocation rules
//! still run on every record. What differs per card — the end entity's signature, the card's
//! signature over its challenge — is never remembered. Each map is bounded: when full it is
//! emptied (real deployments use a handful of CAs; a flood of distinct certificates only
//! costs the full verification it would have cost anyway).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use rsa::PublicKey;
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};

use super::cert::{LinkCheck, ParsedCertificate};
use super::path::Intermediate;

/// Most parsed CA certificates kept (each a few kilobytes).
const MAX_PARSED: usize = 256;
/// Most verified signatures kept (32 bytes and a flag each).
const MAX_VERIFIED: usize = 4096;

#[derive(Default)]
struct Memo {
    parsed: HashMap<[u8; 32], Arc<Intermediate>>,
    /// Verified signatures, with whether SHA-1 was used.
    verified: HashMap<[u8; 32], bool>,
}

fn memo() -> MutexGuard<'static, Memo> {
    static MEMO: OnceLock<Mutex<Memo>> = OnceLock::new();
    // Only maps of finished values are behind the lock: one poisoned by a panic elsewhere is
    // still consistent.
    MEMO.get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// SHA-256 of `bytes`: what identifies a certificate or a list here.
pub(super) fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A card-supplied CA certificate parsed with its key; `None` when it does not parse or its
/// key is not one honnin accepts (such a certificate is not kept, and is tried again next time).
pub(super) fn intermediate(der: &[u8]) -> Option<Arc<Intermediate>> {
    let id = digest(der);
    if let Some(found) = memo().parsed.get(&id) {
        return Some(found.clone());
    }
    // Parsed outside the lock: the other cores go on meanwhile.
    let cert = ParsedCertificate::parse(der).ok()?;
    let key = cert.public_key().ok()?;
    let found = Arc::new(Intermediate {
        cert,
        key,
        digest: id,
    });
    let mut memo = memo();
    if memo.parsed.len() >= MAX_PARSED {
        memo.parsed.clear();
    }
    memo.parsed.insert(id, found.clone());
    Some(found)
}

/// What a signature check on a CA certificate or a revocation list depends on.
pub(super) struct Signed<'a> {
    /// `b"certificate"` or `b"revocation list"`: the two never share an entry.
    pub kind: &'static [u8],
    /// The issuer's key.
    pub key: &'a PublicKey,
    pub allow_sha1: bool,
    /// [`digest`] of the whole signed object's DER.
    pub object: &'a [u8; 32],
}

impl Signed<'_> {
    fn id(&self) -> [u8; 32] {
        let mut hash = Sha256::new();
        for part in [
            self.kind,
            &self.key.n().to_be_bytes()[..],
            &self.key.e().to_be_bytes()[..],
            &[u8::from(self.allow_sha1)][..],
            &self.object[..],
        ] {
            // Each part with its length, so that no two different inputs run together alike.
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        hash.finalize().into()
    }
}

/// `verify()`'s outcome for `signed`, or [`LinkCheck::Verified`] without verifying when the
/// same object verified with the same key before. Only a verified outcome is kept.
pub(super) fn verified(signed: &Signed<'_>, verify: impl FnOnce() -> LinkCheck) -> LinkCheck {
    let id = signed.id();
    if let Some(&sha1) = memo().verified.get(&id) {
        return LinkCheck::Verified { sha1 };
    }
    let check = verify();
    if let LinkCheck::Verified { sha1 } = check {
        let mut memo = memo();
        if memo.verified.len() >= MAX_VERIFIED {
            memo.verified.clear();
        }
        memo.verified.insert(id, sha1);
    }
    check
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::x509::test_keys;

    fn signed<'a>(key: &'a PublicKey, object: &'a [u8; 32], allow_sha1: bool) -> Signed<'a> {
        Signed {
            kind: b"certificate",
            key,
            allow_sha1,
            object,
        }
    }

    #[test]
    fn a_verified_signature_is_remembered_for_that_key_and_object_only() {
        let object = digest(b"memo test: a CA certificate");
        let other_object = digest(b"memo test: another CA certificate");
        let (key, other_key) = (test_keys::public(0), test_keys::public(3));
        let mut calls = 0;
        let mut check = |s: &Signed<'_>, outcome: LinkCheck| {
            verified(s, || {
                calls += 1;
                outcome
            })
        };
        let first = check(
            &signed(key, &object, false),
            LinkCheck::Verified { sha1: false },
        );
        assert_eq!(first, LinkCheck::Verified { sha1: false });
        // The same: from the memo, the check not run again.
        let again = check(&signed(key, &object, false), LinkCheck::BadSignature);
        assert_eq!(again, LinkCheck::Verified { sha1: false });
        // Another key, another object, another SHA-1 allowance, another kind: verified afresh,
        // and a failure is what they get.
        for other in [
            signed(other_key, &object, false),
            signed(key, &other_object, false),
            signed(key, &object, true),
            Signed {
                kind: b"revocation list",
                ..signed(key, &object, false)
            },
        ] {
            assert_eq!(
                check(&other, LinkCheck::BadSignature),
                LinkCheck::BadSignature
            );
        }
        assert_eq!(calls, 5);
    }

    #[test]
    fn a_failed_signature_is_never_remembered() {
        let object = digest(b"memo test: a forged CA certificate");
        let key = test_keys::public(1);
        let s = signed(key, &object, false);
        assert_eq!(
            verified(&s, || LinkCheck::BadSignature),
            LinkCheck::BadSignature
        );
        let mut ran = false;
        let next = verified(&s, || {
            ran = true;
            LinkCheck::Verified { sha1: false }
        });
        assert!(ran, "a failure is checked again, not taken from the memo");
        assert_eq!(next, LinkCheck::Verified { sha1: false });
    }
}
