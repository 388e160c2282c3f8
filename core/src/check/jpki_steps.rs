//! Steps shared by levels B and C: a certificate chain validated before any PIN, the challenge
//! signed after it.

use super::known::path_evidence;
use super::report::Evidence;
use super::request::Verifier;
use super::steps::Steps;
use crate::card::{CertificateDer, sha256_digest_info};
use crate::reader::CardError;
use crate::verify::x509::{
    ChainPolicy, KeyPurpose, VerifiedChain, check_revocation_of, select_revocation_list,
    validate_chain_with,
};
use crate::verify::{CheckId, CheckResult, UnixTime};

/// A validated (or refused) JPKI path and what the record keeps of it.
pub(crate) struct JpkiChain {
    pub chain: Option<VerifiedChain>,
    /// End entity first, then its issuer's certificate (see [`path_evidence`]).
    pub certificates: Vec<Vec<u8>>,
}

impl Verifier {
    /// Validates `end_entity` to a configured anchor and checks revocation; pushes the six
    /// results and returns the chain when all passed.
    ///
    /// The card's CA certificate is an untrusted helper for finding the path, so it is read
    /// (`read_card_ca`) only when the anchors and the CA certificates earlier checks verified
    /// cannot complete the path: where a J-LIS root issues the end entity directly, or the issuing
    /// CA is known, the two APDUs are saved and every rule still runs on the whole path.
    pub(crate) fn validate_jpki_chain(
        &self,
        steps: &mut Steps,
        end_entity: &CertificateDer,
        read_card_ca: impl FnOnce() -> Result<CertificateDer, CardError>,
        purpose: KeyPurpose,
        now: UnixTime,
    ) -> Result<JpkiChain, CardError> {
        let mut policy = ChainPolicy::new(purpose);
        if self.allow_sha1 {
            policy = policy.allowing_sha1();
        }
        let known = self.known.issuers();
        let without_card = validate_chain_with(end_entity, &known, &self.anchors, now, policy);
        let (report, certificates) = if let Some(chain) = without_card.verified() {
            let certificates = path_evidence(chain);
            (without_card, certificates)
        } else {
            let card_ca = read_card_ca()?;
            let certificates = vec![end_entity.0.clone(), card_ca.0.clone()];
            let report = validate_chain_with(end_entity, &[card_ca], &self.anchors, now, policy);
            if let Some(chain) = report.verified() {
                self.known.remember_issuers(chain);
            }
            (report, certificates)
        };
        let (results, verified) = report.into_parts();
        steps.extend(results);
        let chain = match verified {
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
        };
        Ok(JpkiChain {
            chain,
            certificates,
        })
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
