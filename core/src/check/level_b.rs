//! Level B: the 4-digit PIN. The authentication certificate chain is validated before the PIN is
//! sent; the card signs the challenge with its authentication key; the basic four attributes are
//! read from the input-support application and verified under its issuer signature.

use sha2::{Digest, Sha256};

use super::jpki_steps::{challenge_digest_info, check_challenge_signature};
use super::level_a::{check_cv_certificate, check_signed_by_cv};
use super::report::{DoorCheckReport, Evidence, VerifiedAttributes};
use super::request::{CheckRequest, Verifier};
use super::steps::{Steps, pin_state_result};
use super::verdict::Level;
use crate::card::{AuthPin, InputSupportPin};
use crate::reader::{CardError, CardSession};
use crate::transport::CardTransport;
use crate::verify::addressee::{HolderAttributes, match_addressee};
use crate::verify::challenge::ChallengeInputs;
use crate::verify::x509::KeyPurpose;
use crate::verify::{CheckId, CheckResult, CheckState, Clock, RandomSource, Reason};

impl Verifier {
    pub fn check_level_b<T: CardTransport>(
        &self,
        session: &mut CardSession<T>,
        request: &CheckRequest,
        pin: &AuthPin,
        clock: &dyn Clock,
        random: &mut dyn RandomSource,
    ) -> DoorCheckReport {
        let mut steps = Steps::default();
        let mut evidence = Evidence::default();
        if let Err(error) = self.level_b_steps(
            session,
            request,
            pin,
            clock,
            random,
            &mut steps,
            &mut evidence,
        ) {
            steps.card_failed(&error);
        }
        DoorCheckReport::build(Level::B, steps.results, evidence)
    }

    #[allow(clippy::too_many_arguments)]
    fn level_b_steps<T: CardTransport>(
        &self,
        session: &mut CardSession<T>,
        request: &CheckRequest,
        pin: &AuthPin,
        clock: &dyn Clock,
        random: &mut dyn RandomSource,
        steps: &mut Steps,
        evidence: &mut Evidence,
    ) -> Result<(), CardError> {
        let now = clock.now();
        let mut jpki = session.jpki()?;
        let certificate = jpki.authentication_certificate()?;
        let path = self.validate_jpki_chain(
            steps,
            &certificate,
            || jpki.authentication_ca_certificate(),
            KeyPurpose::Authentication,
            now,
        )?;
        evidence.certificates = path.certificates;
        let Some(chain) = path.chain else {
            return Ok(());
        };

        let state = pin_state_result(jpki.authentication_pin_state()?);
        let may_send = state.state == CheckState::Passed;
        steps.push(state);
        if !may_send {
            return Ok(());
        }
        let challenge = ChallengeInputs::fresh(
            &request.item_id,
            &request.sender_id,
            &request.device_id,
            now,
            random,
        );
        let digest = challenge.digest();
        evidence.challenge = Some(challenge);
        let mut unlocked = jpki.unlock_authentication(pin)?;
        let signature = unlocked.sign(&challenge_digest_info(&digest))?;
        steps.push(check_challenge_signature(
            &chain, &digest, &signature, evidence,
        ));

        // The input-support PIN is the same four digits on cards as issued; the guard reads its
        // own counter before sending them.
        let mut input_support = session.input_support()?;
        let cv = input_support.cv_certificate()?;
        let cv_result = check_cv_certificate(self, CheckId::InputSupportCvCertificate, &cv);
        let cv_passed = cv_result.state == CheckState::Passed;
        steps.push(cv_result.clone());
        if !cv_passed {
            return Ok(());
        }
        let is_pin = InputSupportPin::from_auth_pin(pin);
        let mut unlocked = input_support.unlock(&is_pin)?;
        let attributes = unlocked.basic_attributes()?;
        let signature = unlocked.signature()?;
        steps.card_completed();

        let hash_ok =
            Sha256::digest(&attributes.ef_content).as_slice() == signature.attributes_hash;
        steps.push(if hash_ok {
            CheckResult::passed(CheckId::AttributesHash, Reason::Verified)
        } else {
            CheckResult::failed(
                CheckId::AttributesHash,
                Reason::HashMismatch,
                "basic four attributes",
            )
        });
        let signed = check_signed_by_cv(
            CheckId::InputSupportSignature,
            &cv_result,
            &cv,
            &signature.signed_bytes,
            &signature.signature,
        );
        let verified = hash_ok && signed.state == CheckState::Passed;
        steps.push(signed);
        if verified {
            steps.push(match_addressee(
                request.addressee.as_ref(),
                &HolderAttributes {
                    name: &attributes.name,
                    address: &attributes.address,
                    birth_date: attributes.birth_date,
                },
            ));
            evidence.attributes = Some(VerifiedAttributes {
                name: attributes.name.clone(),
                address: attributes.address.clone(),
                birth_date: attributes.birth_date,
                sex: attributes.sex,
                source: "input_support",
            });
        }
        Ok(())
    }
}
