//! Level C: the signing password. The JPKI method 犯収法 names: the signing certificate, which
//! carries the holder's name, address, birth date and sex, and a challenge signed with the
//! signing key.
//!
//! The signing certificate can only be read after the password, so the authentication
//! certificate chain (free to read, same card, same issuer) is validated first as a gate: a card
//! with a forged, expired or revoked certificate is rejected before a password try is spent.

use super::jpki_steps::{challenge_digest_info, check_challenge_signature};
use super::report::{DoorCheckReport, Evidence, VerifiedAttributes};
use super::request::{CheckRequest, Verifier};
use super::steps::{Steps, pin_state_result};
use super::verdict::Level;
use crate::card::SigningPassword;
use crate::reader::{CardError, CardSession};
use crate::transport::CardTransport;
use crate::verify::addressee::{HolderAttributes, match_addressee};
use crate::verify::challenge::ChallengeInputs;
use crate::verify::x509::{KeyPurpose, SigningCertificateAttributes};
use crate::verify::{CheckId, CheckResult, CheckState, Clock, RandomSource, Reason};

impl Verifier {
    pub fn check_level_c<T: CardTransport>(
        &self,
        session: &mut CardSession<T>,
        request: &CheckRequest,
        password: &SigningPassword,
        clock: &dyn Clock,
        random: &mut dyn RandomSource,
    ) -> DoorCheckReport {
        let mut steps = Steps::default();
        let mut evidence = Evidence::default();
        let inputs = LevelCInputs {
            request,
            password,
            clock,
        };
        if let Err(error) = self.level_c_steps(session, &inputs, random, &mut steps, &mut evidence)
        {
            steps.card_failed(&error);
        }
        DoorCheckReport::build(Level::C, steps.results, evidence)
    }

    fn level_c_steps<T: CardTransport>(
        &self,
        session: &mut CardSession<T>,
        inputs: &LevelCInputs<'_>,
        random: &mut dyn RandomSource,
        steps: &mut Steps,
        evidence: &mut Evidence,
    ) -> Result<(), CardError> {
        let now = inputs.clock.now();
        let mut jpki = session.jpki()?;

        // Gate: the free authentication chain. Its results are reported only when it fails,
        // since the signing chain below is what this level's checks are about.
        let auth_certificate = jpki.authentication_certificate()?;
        let mut gate = Steps::default();
        let auth_path = self.validate_jpki_chain(
            &mut gate,
            &auth_certificate,
            || jpki.authentication_ca_certificate(),
            KeyPurpose::Authentication,
            now,
        )?;
        if auth_path.chain.is_none() {
            steps.extend(gate.results.into_iter().map(|r| {
                let detail = if r.detail.is_empty() {
                    "authentication certificate, checked before the signing password".to_string()
                } else {
                    format!(
                        "authentication certificate, checked before the signing password: {}",
                        r.detail
                    )
                };
                r.with_detail(detail)
            }));
            return Ok(());
        }

        let state = pin_state_result(jpki.signing_pin_state()?);
        let may_send = state.state == CheckState::Passed;
        steps.push(state);
        if !may_send {
            return Ok(());
        }
        let mut unlocked = jpki.unlock_signing(inputs.password)?;
        let certificate = unlocked.signing_certificate()?;
        // The signing CA certificate needs no password, but nothing can be checked with it before
        // the signing certificate is read, so it is read (if needed at all) only then.
        let path = self.validate_jpki_chain(
            steps,
            &certificate,
            || unlocked.signing_ca_certificate(),
            KeyPurpose::Signing,
            now,
        )?;
        evidence.certificates = path.certificates;
        let Some(chain) = path.chain else {
            return Ok(());
        };

        let challenge = ChallengeInputs::fresh(
            &inputs.request.item_id,
            &inputs.request.sender_id,
            &inputs.request.device_id,
            now,
            random,
        );
        let digest = challenge.digest();
        evidence.challenge = Some(challenge);
        let signature = unlocked.sign(&challenge_digest_info(&digest))?;
        steps.card_completed();
        steps.push(check_challenge_signature(
            &chain, &digest, &signature, evidence,
        ));

        match SigningCertificateAttributes::from_verified(&chain) {
            Ok(attributes) if attributes.has_substitutes() => {
                // A character the certificate cannot spell is shown as a substitute: text cannot
                // match exactly, so a person compares.
                steps.push(
                    CheckResult::not_checked(CheckId::AddresseeMatch, Reason::ComparedByEye)
                        .with_detail(
                            "the certificate uses substitute characters; compare the name by eye",
                        ),
                );
                evidence.attributes = Some(verified(&attributes));
            }
            Ok(attributes) => {
                steps.push(match_addressee(
                    inputs.request.addressee.as_ref(),
                    &HolderAttributes {
                        name: &attributes.name,
                        address: &attributes.address,
                        birth_date: attributes.birth_date,
                    },
                ));
                evidence.attributes = Some(verified(&attributes));
            }
            // The holder's attributes could not be parsed: nothing is known about the person, so
            // this must never read as "not the addressee" (the verdict rule makes it
            // inconclusive).
            Err(error) => steps.push(CheckResult::failed(
                CheckId::AddresseeMatch,
                Reason::CertificateMalformed,
                format!("the holder's attributes could not be parsed: {error}"),
            )),
        }
        Ok(())
    }
}

struct LevelCInputs<'a> {
    request: &'a CheckRequest,
    password: &'a SigningPassword,
    clock: &'a dyn Clock,
}

fn verified(attributes: &SigningCertificateAttributes) -> VerifiedAttributes {
    VerifiedAttributes {
        name: attributes.name.clone(),
        address: attributes.address.clone(),
        birth_date: attributes.birth_date,
        sex: attributes.sex,
        source: "signing_certificate",
    }
}
