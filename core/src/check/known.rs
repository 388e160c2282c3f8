//! Certificates this device has already verified, so that a door check need not read them from
//! the card again (issue 13: every APDU at the door costs a courier's time and a chance of the
//! tag being lost).
//!
//! What is kept: the issuing CA certificates of validated JPKI paths (EF 000B / EF 0002 on the
//! card), only after the whole path passed. A later check first tries to build the end-entity
//! certificate's path from these and the configured anchors; only when that fails does it read
//! the card's CA certificate. The card's copy was never trusted anyway (paths end at configured
//! anchors and are built by key: card-model.md, "do not trust the CA certificates on the card"),
//! and a known certificate goes through every path rule again at the time of each check, so the
//! checks are the same; what is saved is the read. Where the anchor issues the end-entity
//! certificate directly (the real J-LIS roots do), no CA certificate is needed at all.
//!
//! CV certificates (EF 0004) are not kept: a CV certificate is the card's own statement of which
//! key signed its data, and its check is one of the level's checks. Matching a card's signature
//! against CV certificates of earlier cards instead would skip that check for this card (a card
//! whose CV certificate was issued by the wrong authority, profile `cv-by-jpki-root`, would pass
//! on a device that had seen a genuine card), so levels A and B always read and check their own.
//!
//! Keyed by the SHA-256 of the certificate's bytes (a certificate is kept once), bounded, in
//! memory for the life of the [`super::Verifier`]; the anchors it was verified under are the
//! verifier's own, so a cache cannot outlive the configuration that verified it.

use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::card::CertificateDer;
use crate::verify::x509::{MAX_INTERMEDIATES, VerifiedChain};

/// Most CA certificates kept: as many as a path search considers (more would never be tried).
/// J-LIS has a handful of CA keys across card generations; the bound keeps unusual input from
/// growing the cache without end.
const MAX_KNOWN: usize = MAX_INTERMEDIATES;

/// Verified certificates, shared by the checks of one verifier (possibly on several threads).
#[derive(Default)]
pub(crate) struct KnownCertificates {
    inner: Mutex<Known>,
}

#[derive(Default)]
struct Known {
    issuers: Vec<([u8; 32], CertificateDer)>,
}

fn remember<T>(pool: &mut Vec<([u8; 32], T)>, hash: [u8; 32], value: T) {
    if pool.iter().any(|(known, _)| *known == hash) {
        return;
    }
    if pool.len() >= MAX_KNOWN {
        // The oldest goes: a new card generation's certificate is the one that will be used.
        pool.remove(0);
    }
    pool.push((hash, value));
}

impl KnownCertificates {
    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        // A panic while holding the lock cannot leave a half-written entry (pushes are atomic),
        // so a poisoned cache is still a valid one.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The issuing CA certificates of earlier validated paths, newest last.
    pub fn issuers(&self) -> Vec<CertificateDer> {
        self.lock()
            .issuers
            .iter()
            .map(|(_, der)| der.clone())
            .collect()
    }

    /// Keeps the certificates between the end entity and the anchor of a validated path.
    pub fn remember_issuers(&self, chain: &VerifiedChain) {
        let certificates = chain.certificates();
        if certificates.len() <= 2 {
            return;
        }
        let mut known = self.lock();
        for der in &certificates[1..certificates.len() - 1] {
            let hash = Sha256::digest(&der.0).into();
            remember(&mut known.issuers, hash, der.clone());
        }
    }

    pub fn clear(&self) {
        *self.lock() = Known::default();
    }
}

/// What a record keeps of a validated path: the end entity and the certificate that issued it
/// (an intermediate, or the anchor itself where it issued the end entity directly, which is
/// what a real card's CA EF holds), as the card would have supplied them.
pub(crate) fn path_evidence(chain: &VerifiedChain) -> Vec<Vec<u8>> {
    let certificates = chain.certificates();
    let keep = if certificates.len() > 2 {
        certificates.len() - 1
    } else {
        certificates.len()
    };
    certificates[..keep].iter().map(|c| c.0.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_is_kept_once_and_the_pool_is_bounded() {
        let mut pool = Vec::new();
        remember(&mut pool, [1; 32], 1);
        remember(&mut pool, [1; 32], 1);
        assert_eq!(pool.len(), 1);
        for i in 0..(MAX_KNOWN as u8 + 3) {
            remember(&mut pool, [i + 2; 32], i);
        }
        assert_eq!(pool.len(), MAX_KNOWN);
        // The oldest went first.
        assert!(!pool.iter().any(|(hash, _)| *hash == [1; 32]));
        assert_eq!(pool.last().map(|(_, v)| *v), Some(MAX_KNOWN as u8 + 2));
    }
}
