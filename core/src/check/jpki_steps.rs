//! Steps shared by levels B and C: a certificate chain validated before any PIN, the challenge
//! signed after it.

use super::report::Evidence;
use super::request::Verifier;
use super::steps::Steps;
use crate::card::{CertificateDer, sha256_digest_info};
use crate::verify::x509::{
    ChainPolicy, KeyPurpose, VerifiedChain, check_revocation_of, select_revocation_list,
    validate_chain_with,
};
use crate::verify::{CheckId, CheckResult, UnixTime};

impl Verifier {
    /// Validates `end_entity` with the card's CA certificate as an untrusted intermediate, and
    /// checks revocation. Pushes the six results; returns the chain when all passed.
    pub(crate) fn validate_jpki_chain(
        &self,
        steps: &mut Steps,
        end_entity: &CertificateDer,
        card_ca: CertificateDer,
        purpose: KeyPurpose,
        now: UnixTime,
    ) -> Option<VerifiedChain> {
        let mut policy = ChainPolicy::new(purpose);
        if self.allow_sha1 {
            policy = policy.allowing_sha1();
        }
        let report = validate_chain_with(end_entity, &[card_ca], &self.anchors, now, policy);
        let (results, verified) = report.into_parts();
        steps.extend(results);
        match verified {
            Some(chain) => {
                let list = select_revocation_list(&chain, &self.revocation_lists);
                let revocation = check_revocation_of(&chain, list, now);
                let revoked = revocation.state == crate::verify::CheckState::Failed;
                steps.push(revocation);
                // A revoked certificate ends the check before a PIN is asked for.
                (!revoked).then_some(chain)
            }
            None => {
                steps.push(CheckResult::not_checked(
                    CheckId::Revocation,
                    crate::verify::Reason::Skipped,
                ));
                None
            }
        }
    }
}

/// The DigestInfo the card signs for a challenge digest.
pub(crate) fn challenge_digest_info(digest: &[u8; 32]) -> [u8; 51] {
    sha256_digest_info(digest)
}

/// Verifies the card's challenge signature with the validated end-entity key.
pub(crate) fn check_challenge_signature(
    chain: &VerifiedChain,
    digest: &[u8; 32],
    signature: &[u8],
    evidence: &mut Evidence,
) -> CheckResult {
    evidence.card_signature = Some(signature.to_vec());
    if chain
        .key()
        .verify_pkcs1v15_sha256_prehashed(digest, signature)
    {
        CheckResult::passed(CheckId::ChallengeSignature, crate::verify::Reason::Verified)
    } else {
        CheckResult::failed(
            CheckId::ChallengeSignature,
            crate::verify::Reason::SignatureInvalid,
            "the card's signature does not verify with its certificate: the chip does not hold the certified key",
        )
    }
}
