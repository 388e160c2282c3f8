//! Verifying one record's evidence, as a sender re-verifies a level B record: the authentication
//! certificate chain (end entity and the card's CA certificate up to the JPKI root anchor) and
//! the card's signature over the challenge.

use honnin_core::card::{CertificateDer, sha256_digest_info};
use honnin_core::reader::CardSession;
use honnin_core::verify::UnixTime;
use honnin_core::verify::x509::{KeyPurpose, TrustAnchors, VerifiedKey, validate_chain};
use sha2::{Digest, Sha256};

use crate::fixtures::{Secrets, check_time, genuine_card};
use crate::links::Link;

/// What a record carries for level B, taken from the genuine software card.
#[derive(Debug, Clone)]
pub struct RecordEvidence {
    /// The trust anchor the chain ends at (configured, not from the card).
    pub root: Vec<u8>,
    /// The card's authentication CA certificate (EF 000B): an untrusted intermediate.
    pub card_ca: CertificateDer,
    /// The authentication certificate (EF 000A).
    pub end_entity: CertificateDer,
    /// The end entity's SubjectPublicKeyInfo (DER), for tools that take the key alone.
    pub end_entity_spki: Vec<u8>,
    /// The bytes whose SHA-256 the card signed (a challenge binding's size and shape).
    pub message: Vec<u8>,
    pub signature: Vec<u8>,
    /// The check time the record is verified at.
    pub at: UnixTime,
    /// The end-entity key after one validation, for timing the signature check alone.
    pub verified_key: VerifiedKey,
}

/// Reads the certificates from the genuine card and has it sign a challenge-like message with
/// its authentication key.
pub fn genuine_record_evidence(anchors: &TrustAnchors) -> RecordEvidence {
    let mut card = genuine_card(&Link::EXTENDED_65536);
    let secrets = Secrets::of(card.card());
    let at = check_time();
    let message = format!(
        "honnin challenge v1|item JP-BENCH-0001|sender bench-bank|device bench-handheld|time {}|nonce {}",
        at.0,
        "5a".repeat(32)
    )
    .into_bytes();
    let digest: [u8; 32] = Sha256::digest(&message).into();

    let mut session = CardSession::new(&mut card);
    let mut jpki = session.jpki().expect("the genuine card selects JPKI");
    let end_entity = jpki
        .authentication_certificate()
        .expect("the genuine card gives its authentication certificate");
    let card_ca = jpki
        .authentication_ca_certificate()
        .expect("the genuine card gives its authentication CA certificate");
    let mut unlocked = jpki
        .unlock_authentication(&secrets.auth_pin)
        .expect("the genuine card accepts its PIN");
    let signature = unlocked
        .sign(&sha256_digest_info(&digest))
        .expect("the genuine card signs");

    let report = validate_chain(
        &end_entity,
        std::slice::from_ref(&card_ca),
        anchors,
        at,
        KeyPurpose::Authentication,
    );
    let chain = report
        .verified()
        .expect("the genuine authentication chain validates to the test root");
    RecordEvidence {
        root: chain.anchor().certificate_der().to_vec(),
        end_entity_spki: chain.key().spki_der().to_vec(),
        verified_key: chain.key().clone(),
        card_ca,
        end_entity,
        message,
        signature,
        at,
    }
}

/// honnin's verification of the record: path validation from the DER certificates (parsing,
/// signatures, validity, KeyUsage, BasicConstraints, policy) and the signature over the message
/// (SHA-256 and RSA-2048 PKCS#1 v1.5). True when both pass.
pub fn verify_record(anchors: &TrustAnchors, evidence: &RecordEvidence) -> bool {
    let report = validate_chain(
        &evidence.end_entity,
        std::slice::from_ref(&evidence.card_ca),
        anchors,
        evidence.at,
        KeyPurpose::Authentication,
    );
    report.verified().is_some_and(|chain| {
        chain
            .key()
            .verify_pkcs1v15_sha256(&evidence.message, &evidence.signature)
    })
}

/// The certificate chain alone.
pub fn validate_record_chain(anchors: &TrustAnchors, evidence: &RecordEvidence) -> bool {
    validate_chain(
        &evidence.end_entity,
        std::slice::from_ref(&evidence.card_ca),
        anchors,
        evidence.at,
        KeyPurpose::Authentication,
    )
    .verified()
    .is_some()
}

/// One RSA-2048 signature verification with an already validated key (the primitive that
/// `openssl speed rsa2048` times as "verify").
pub fn verify_signature_only(evidence: &RecordEvidence) -> bool {
    evidence
        .verified_key
        .verify_pkcs1v15_sha256(&evidence.message, &evidence.signature)
}

/// The same signature checked by the `rsa` crate (RustCrypto), which verified every RSA
/// signature before *ring* and AWS-LC did: the baseline measured in the same run.
pub fn verify_signature_rustcrypto(evidence: &RecordEvidence) -> bool {
    let digest: [u8; 32] = Sha256::digest(&evidence.message).into();
    honnin_core::verify::crypto::verify_pkcs1v15_sha256_prehashed_rustcrypto(
        evidence.verified_key.public_key(),
        &digest,
        &evidence.signature,
    )
}

/// A device key's ECDSA P-256 signature over a 32-byte message (as `openssl speed ecdsap256`
/// signs a digest-sized buffer, so hashing does not count).
pub struct EcdsaEvidence {
    pub key: honnin_core::record::DeviceKey,
    rustcrypto: p256::ecdsa::VerifyingKey,
    pub message: [u8; 32],
    pub signature: [u8; 64],
}

pub fn ecdsa_evidence() -> EcdsaEvidence {
    use p256::ecdsa::signature::Signer as _;
    use p256::pkcs8::EncodePublicKey as _;
    let signing = p256::ecdsa::SigningKey::from_slice(&[0x24; 32]).expect("a valid scalar");
    let rustcrypto = *signing.verifying_key();
    let spki = rustcrypto.to_public_key_der().expect("encodes");
    let message = [0x5A; 32];
    let signature: p256::ecdsa::Signature = signing.sign(&message);
    EcdsaEvidence {
        key: honnin_core::record::DeviceKey::from_spki_der(spki.as_bytes()).expect("parses"),
        rustcrypto,
        message,
        signature: signature.to_bytes().into(),
    }
}

/// honnin's check of a device signature (ring's ECDSA P-256).
pub fn verify_ecdsa(evidence: &EcdsaEvidence) -> bool {
    evidence
        .key
        .verifies(&evidence.message, &evidence.signature)
}

/// The same with RustCrypto's `p256`, which honnin used before: the baseline.
pub fn verify_ecdsa_rustcrypto(evidence: &EcdsaEvidence) -> bool {
    use p256::ecdsa::signature::Verifier as _;
    p256::ecdsa::Signature::from_slice(&evidence.signature)
        .is_ok_and(|s| evidence.rustcrypto.verify(&evidence.message, &s).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::anchors;

    #[test]
    fn both_verifiers_take_the_benchmarked_signatures() {
        let evidence = genuine_record_evidence(&anchors());
        assert!(verify_signature_only(&evidence));
        assert!(verify_signature_rustcrypto(&evidence));
        let ecdsa = ecdsa_evidence();
        assert!(verify_ecdsa(&ecdsa));
        assert!(verify_ecdsa_rustcrypto(&ecdsa));
    }

    #[test]
    fn the_genuine_record_verifies_and_a_changed_message_does_not() {
        let anchors = anchors();
        let mut evidence = genuine_record_evidence(&anchors);
        assert!(verify_record(&anchors, &evidence));
        assert!(validate_record_chain(&anchors, &evidence));
        assert!(verify_signature_only(&evidence));
        evidence.message.push(b'!');
        assert!(!verify_record(&anchors, &evidence));
        assert!(!verify_signature_only(&evidence));
    }
}
