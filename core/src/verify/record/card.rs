//! The card's evidence in a record: the JPKI certificate path and signature (levels B and C), the
//! attributes the signing certificate certifies (C), and what level A leaves to the device's word.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::RecordCheck;
use crate::card::CertificateDer;
use crate::check::{Level, Verifier};
use crate::record::{RecordBody, SignedRecord};
use crate::verify::x509::{
    ChainPolicy, KeyPurpose, SigningCertificateAttributes, VerifiedChain, check_revocation_among,
    check_revocation_of, select_revocation_list, validate_chain_with,
};
use crate::verify::{CheckState, UnixTime};

/// Levels B and C: the card's certificate path, its revocation, the card's signature over the
/// challenge and (C) the attributes from the signing certificate.
pub(super) fn jpki_checks(
    record: &SignedRecord,
    verifier: &Verifier,
    at: UnixTime,
    challenge: Option<&[u8]>,
    checks: &mut Vec<RecordCheck>,
) {
    let body = record.body();
    let purpose = match body.level() {
        Level::C => KeyPurpose::Signing,
        Level::A | Level::M | Level::B => KeyPurpose::Authentication,
    };
    let signature_id = "challenge_signature";
    let decoded: Result<Vec<CertificateDer>, ()> = body
        .certificates()
        .iter()
        .map(|text| {
            BASE64
                .decode(text.as_bytes())
                .map(CertificateDer)
                .map_err(|_| ())
        })
        .collect();
    let certificates = match decoded {
        Ok(list) if !list.is_empty() => list,
        Ok(_) => {
            checks.push(RecordCheck::new(
                "certificate_chain",
                CheckState::NotPresent,
                "no_certificate",
                "the record carries no certificate (the door check stopped before reading it)",
            ));
            checks.push(RecordCheck::new(
                signature_id,
                CheckState::NotChecked,
                "skipped",
                "no certificate to verify it with",
            ));
            return;
        }
        Err(()) => {
            checks.push(RecordCheck::new(
                "certificate_chain",
                CheckState::Failed,
                "certificate_malformed",
                "a certificate in the record is not base64",
            ));
            checks.push(RecordCheck::new(
                signature_id,
                CheckState::NotChecked,
                "skipped",
                "",
            ));
            return;
        }
    };
    let mut policy = ChainPolicy::new(purpose);
    if verifier.allow_sha1 {
        policy = policy.allowing_sha1();
    }
    let report = validate_chain_with(
        &certificates[0],
        &certificates[1..],
        &verifier.anchors,
        at,
        policy,
    );
    checks.extend(report.results().into_iter().map(RecordCheck::from_result));
    let Some(chain) = report.verified() else {
        checks.push(RecordCheck::new(
            "revocation",
            CheckState::NotChecked,
            "skipped",
            "",
        ));
        checks.push(RecordCheck::new(
            signature_id,
            CheckState::NotChecked,
            "skipped",
            "the certificate chain did not verify",
        ));
        return;
    };
    let revocation = if verifier.after_the_fact {
        check_revocation_among(chain, &verifier.revocation_lists, at)
    } else {
        let list = select_revocation_list(chain, &verifier.revocation_lists);
        check_revocation_of(chain, list, at)
    };
    checks.push(RecordCheck::from_result(&revocation));
    let signature = body
        .card_signature()
        .map(|text| BASE64.decode(text.as_bytes()));
    let signature_check = match (signature, challenge) {
        (None, _) => RecordCheck::new(
            signature_id,
            CheckState::NotPresent,
            "no_signature",
            "the card did not sign a challenge in this check",
        ),
        (Some(Err(_)), _) => RecordCheck::new(
            signature_id,
            CheckState::Failed,
            "malformed",
            "card_signature is not base64",
        ),
        (Some(Ok(_)), None) => RecordCheck::new(
            signature_id,
            CheckState::NotChecked,
            "skipped",
            "no verified challenge to check it against",
        ),
        (Some(Ok(signature)), Some(challenge)) => {
            if chain.key().verify_pkcs1v15_sha256(challenge, &signature) {
                RecordCheck::new(signature_id, CheckState::Passed, "verified", "")
            } else {
                RecordCheck::new(
                    signature_id,
                    CheckState::Failed,
                    "signature_invalid",
                    "the card's signature does not verify with the certified key over this record's challenge",
                )
            }
        }
    };
    checks.push(signature_check);
    checks.push(attributes_check(body, chain));
}

/// Level C: what the record says of the holder must be what the verified signing certificate
/// says. Level B: the authentication certificate names nobody, so the attributes (from the
/// input-support application, whose signed bytes stay on the device) are the device's word.
fn attributes_check(body: &RecordBody, chain: &VerifiedChain) -> RecordCheck {
    let id = "attributes";
    let Some(kept) = body.attributes() else {
        return RecordCheck::new(
            id,
            CheckState::NotPresent,
            "none_kept",
            "the record keeps no holder attributes",
        );
    };
    if body.level() != Level::C {
        return RecordCheck::new(
            id,
            CheckState::NotChecked,
            "device_word",
            "at level B the attributes come from the input-support application, whose signed data stays on the device: the device's word",
        );
    }
    let certified = match SigningCertificateAttributes::from_verified(chain) {
        Ok(certified) => certified,
        Err(error) => {
            return RecordCheck::new(
                id,
                CheckState::Failed,
                "certificate_malformed",
                format!("the signing certificate's attributes cannot be read: {error}"),
            );
        }
    };
    let sex = match serde_json::to_value(certified.sex) {
        Ok(serde_json::Value::String(code)) => code,
        _ => String::new(),
    };
    let differs = [
        ("name", kept.name.as_deref(), certified.name.as_str()),
        (
            "address",
            kept.address.as_deref(),
            certified.address.as_str(),
        ),
        (
            "birth_date",
            kept.birth_date.as_deref(),
            &certified.birth_date.to_string(),
        ),
        ("sex", kept.sex.as_deref(), sex.as_str()),
    ]
    .into_iter()
    .filter(|(_, kept, certified)| kept.is_some_and(|kept| kept != *certified))
    .map(|(field, _, _)| field)
    .collect::<Vec<_>>();
    if kept.source != "signing_certificate" {
        RecordCheck::new(
            id,
            CheckState::Failed,
            "wrong_source",
            "a level-C record's attributes must come from the signing certificate",
        )
    } else if differs.is_empty() {
        RecordCheck::new(
            id,
            CheckState::Passed,
            "verified",
            "every attribute kept is the signing certificate's",
        )
    } else {
        RecordCheck::new(
            id,
            CheckState::Failed,
            "attributes_mismatch",
            format!(
                "the record's {} differs from the signing certificate's",
                differs.join(", ")
            ),
        )
    }
}

/// Level A: nothing of the card can be verified here (the card-face bytes and the chip key they
/// hold stay on the device), so the card's checks are the device's word; they are reported as
/// such, and their absence is reported too, because a level-A record of a check that ran has
/// both the issuer signature's digest and the chip's signature.
pub(super) fn level_a_checks(record: &SignedRecord, checks: &mut Vec<RecordCheck>) {
    let body = record.body();
    checks.push(RecordCheck::new(
        "certificate_chain",
        CheckState::NotPresent,
        "level_a",
        "level A uses no JPKI certificate",
    ));
    checks.push(match body.card_face() {
        None => RecordCheck::new(
            "card_face_signature",
            CheckState::NotPresent,
            "no_card_face",
            "the record carries no issuer signature over card-face data",
        ),
        Some(_) => RecordCheck::new(
            "card_face_signature",
            CheckState::NotChecked,
            "device_word",
            "the signed card-face bytes hold the face photo and stay on the device: the record keeps their digest and the issuer signature, checked on the device only",
        ),
    });
    checks.push(match body.card_signature() {
        None => RecordCheck::new(
            "challenge_signature",
            CheckState::NotPresent,
            "no_signature",
            "the card did not sign a challenge in this check",
        ),
        Some(_) => RecordCheck::new(
            "challenge_signature",
            CheckState::NotChecked,
            "key_not_in_record",
            "at level A the card signs with the key inside the card-face data, which stays on the device: the device's word only",
        ),
    });
}
