//! What path validation returns: one check result per rule, and a verified chain only when every
//! rule passed.
//!
//! [`VerifiedKey`] and [`VerifiedChain`] can only be made inside this module (their fields are
//! private to it), so a challenge signature can only be checked against a key whose chain was
//! validated, and revocation and attributes can only be read from a validated certificate.

use std::fmt;

use rsa::PublicKey;
use serde::Serialize;

use super::TrustAnchor;
use super::cert::ParsedCertificate;
use crate::card::profile::KEY_ID_LEN;
use crate::card::types::CertificateDer;
use crate::verify::check::{CheckId, CheckResult, CheckState, Reason};
use crate::verify::crypto;
use crate::verify::time::UnixTime;

/// What the end-entity key is for; it decides KeyUsage and the certificate policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPurpose {
    /// 利用者証明用: digitalSignature, policy `1.2.392.200149.8.5.1.3` (or below it).
    Authentication,
    /// 署名用: nonRepudiation or digitalSignature, policy `1.2.392.200149.8.5.1.1` (or below it).
    Signing,
}

/// How a path is validated. SHA-1 is refused unless the card profile says the card uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainPolicy {
    pub purpose: KeyPurpose,
    /// Accept sha1WithRSAEncryption (then reported as [`Reason::Sha1Accepted`]).
    pub allow_sha1: bool,
}

impl ChainPolicy {
    pub fn new(purpose: KeyPurpose) -> Self {
        Self {
            purpose,
            allow_sha1: false,
        }
    }

    pub fn allowing_sha1(self) -> Self {
        Self {
            allow_sha1: true,
            ..self
        }
    }
}

/// The result of [`validate_chain`](super::validate_chain): one check result per rule, and — only when every rule
/// passed — the verified chain.
#[derive(Debug, Clone)]
pub struct ChainReport {
    pub(super) chain: CheckResult,
    pub(super) validity: CheckResult,
    pub(super) key_usage: CheckResult,
    pub(super) basic_constraints: CheckResult,
    pub(super) policy: CheckResult,
    pub(super) verified: Option<VerifiedChain>,
}

impl ChainReport {
    /// CertificateChain, CertificateValidity, KeyUsage, BasicConstraints, CertificatePolicy.
    pub fn results(&self) -> [&CheckResult; 5] {
        [
            &self.chain,
            &self.validity,
            &self.key_usage,
            &self.basic_constraints,
            &self.policy,
        ]
    }

    pub fn result(&self, check: CheckId) -> Option<&CheckResult> {
        self.results().into_iter().find(|r| r.check == check)
    }

    /// The verified chain, present only when all five checks passed.
    pub fn verified(&self) -> Option<&VerifiedChain> {
        self.verified.as_ref()
    }

    pub fn into_parts(self) -> (Vec<CheckResult>, Option<VerifiedChain>) {
        (
            vec![
                self.chain,
                self.validity,
                self.key_usage,
                self.basic_constraints,
                self.policy,
            ],
            self.verified,
        )
    }

    /// No path was found: CertificateChain failed, the other checks were not reached.
    pub(super) fn unverified(chain: CheckResult) -> Self {
        let skipped = |check| CheckResult::not_checked(check, Reason::Skipped);
        Self {
            chain,
            validity: skipped(CheckId::CertificateValidity),
            key_usage: skipped(CheckId::KeyUsage),
            basic_constraints: skipped(CheckId::BasicConstraints),
            policy: skipped(CheckId::CertificatePolicy),
            verified: None,
        }
    }

    pub(super) fn failures(&self) -> usize {
        self.results()
            .iter()
            .filter(|r| r.state != CheckState::Passed)
            .count()
    }
}

/// An end-entity public key that passed path validation.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedKey {
    pub(super) key: PublicKey,
    pub(super) spki_der: Vec<u8>,
    pub(super) purpose: KeyPurpose,
}

impl VerifiedKey {
    pub fn purpose(&self) -> KeyPurpose {
        self.purpose
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    pub fn key_id(&self) -> [u8; KEY_ID_LEN] {
        crypto::key_id(&self.spki_der)
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message` (what the card's COMPUTE DIGITAL SIGNATURE
    /// makes from a SHA-256 DigestInfo).
    pub fn verify_pkcs1v15_sha256(&self, message: &[u8], signature: &[u8]) -> bool {
        crypto::verify_pkcs1v15_sha256(&self.key, message, signature)
    }

    pub fn verify_pkcs1v15_sha256_prehashed(&self, digest: &[u8; 32], signature: &[u8]) -> bool {
        crypto::verify_pkcs1v15_sha256_prehashed(&self.key, digest, signature)
    }
}

impl fmt::Debug for VerifiedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedKey")
            .field("purpose", &self.purpose)
            .field("key_id", &super::anchors::hex_id(&self.key_id()))
            .finish()
    }
}

/// A validated path: the end-entity key, the anchor it ends at, and the certificates as evidence.
#[derive(Clone)]
pub struct VerifiedChain {
    pub(super) key: VerifiedKey,
    pub(super) end_entity: ParsedCertificate,
    /// The key and name of the certificate that issued the end entity (for its CRL).
    pub(super) issuer_key: PublicKey,
    pub(super) issuer_subject_der: Vec<u8>,
    /// The issuer's key identifiers, which choose its CRL (names are shared between root
    /// generations).
    pub(super) issuer_key_ids: Vec<Vec<u8>>,
    pub(super) anchor: TrustAnchor,
    /// End entity first, anchor certificate last; never empty.
    pub(super) certificates: Vec<CertificateDer>,
    pub(super) policy: ChainPolicy,
    pub(super) sha1_used: bool,
}

impl VerifiedChain {
    pub fn key(&self) -> &VerifiedKey {
        &self.key
    }

    pub fn purpose(&self) -> KeyPurpose {
        self.key.purpose
    }

    /// The anchor the path ends at (which J-LIS root generation, or a test anchor).
    pub fn anchor(&self) -> &TrustAnchor {
        &self.anchor
    }

    /// The path as DER, end entity first and the anchor certificate last: what a record carries
    /// so that the receiving side can validate it again.
    pub fn certificates(&self) -> &[CertificateDer] {
        &self.certificates
    }

    pub fn end_entity(&self) -> &CertificateDer {
        &self.certificates[0]
    }

    /// Whether a link of the path was accepted under the SHA-1 allowance.
    pub fn sha1_used(&self) -> bool {
        self.sha1_used
    }

    /// End of the end-entity certificate's validity.
    pub fn not_after(&self) -> UnixTime {
        UnixTime(self.end_entity.not_after)
    }
}

impl fmt::Debug for VerifiedChain {
    // The end-entity subject may hold a person's locality: only non-personal facts here.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedChain")
            .field("key", &self.key)
            .field("anchor", &self.anchor)
            .field("length", &self.certificates.len())
            .field("sha1_used", &self.sha1_used)
            .finish()
    }
}
