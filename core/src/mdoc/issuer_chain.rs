//! The document signer certificate of an MSO (the COSE `x5chain`), chained **by key** to a
//! configured IACA anchor (ISO/IEC 18013-5 Annex B), with the X.509 rules the JPKI paths follow:
//! signatures by key never by name, validity at the check time, key usage by role, CA flags,
//! unknown critical extensions refused.
//!
//! 18013-5 signs with ECDSA: this module accepts ecdsa-with-SHA256 over P-256 keys (the curve
//! the test PKI and most issuers use); P-384/P-521 IACAs are refused as unsupported, so a phone
//! of such an issuer is `inconclusive`, never accepted unchecked.

use der::asn1::ObjectIdentifier;
use p256::PublicKey;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::pkcs8::DecodePublicKey;
use x509_cert::ext::pkix::ExtendedKeyUsage;

use super::anchors::{IssuerAnchor, IssuerAnchors};
use crate::verify::crypto::verify_ecdsa_p256_sha256;
use crate::verify::x509::ParsedCertificate;
use crate::verify::{CheckId, CheckResult, Reason, UnixTime};

const ECDSA_WITH_SHA256: &str = "1.2.840.10045.4.3.2";
/// id-mdl-kp-mdlDS (18013-5 Annex B): the document signer's extended key usage.
const EKU_MDOC_DS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.0.18013.5.1.2");
/// Most certificates honnin reads from an `x5chain` (18013-5 puts exactly one).
pub const MAX_X5CHAIN: usize = 4;

/// Extensions understood here; any other critical one refuses the certificate.
const UNDERSTOOD: [&str; 10] = [
    "2.5.29.14",
    "2.5.29.15",
    "2.5.29.17",
    "2.5.29.18",
    "2.5.29.19",
    "2.5.29.31",
    "2.5.29.32",
    "2.5.29.35",
    "2.5.29.37",
    "1.3.6.1.5.5.7.1.1",
];

/// A document signer key whose certificate chained to an anchor and passed every rule.
#[derive(Debug, Clone)]
pub struct VerifiedSigner {
    key: PublicKey,
    anchor_subject: String,
}

impl VerifiedSigner {
    /// Verifies a COSE ES256 signature (`r ‖ s`) with the signer key.
    pub fn verify_es256(&self, message: &[u8], signature: &[u8]) -> bool {
        verify_es256(&self.key, message, signature)
    }

    pub fn anchor_subject(&self) -> &str {
        &self.anchor_subject
    }
}

/// ECDSA P-256 SHA-256 over `message`, signature `r ‖ s` (COSE form).
pub fn verify_es256(key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    let Ok(fixed) = <[u8; 64]>::try_from(signature) else {
        return false;
    };
    verify_ecdsa_p256_sha256(key.to_sec1_point(false).as_bytes(), message, &fixed)
}

fn fail(reason: Reason, detail: impl Into<String>) -> (CheckResult, Option<VerifiedSigner>) {
    (
        CheckResult::failed(CheckId::MdocIssuerCertificate, reason, detail),
        None,
    )
}

/// Whether `issuer_key` signed `cert` (ecdsa-with-SHA256, DER signature).
fn signed_by(cert: &ParsedCertificate, issuer_key: &PublicKey) -> bool {
    let Ok(signature) = p256::ecdsa::Signature::from_der(&cert.signature) else {
        return false;
    };
    verify_ecdsa_p256_sha256(
        issuer_key.to_sec1_point(false).as_bytes(),
        &cert.tbs,
        &signature.to_bytes().into(),
    )
}

fn unknown_critical(cert: &ParsedCertificate) -> Option<String> {
    cert.cert
        .tbs_certificate()
        .extensions()
        .map(|e| e.as_slice())
        .unwrap_or(&[])
        .iter()
        .filter(|e| e.critical)
        .map(|e| e.extn_id.to_string())
        .find(|oid| !UNDERSTOOD.contains(&oid.as_str()))
}

fn is_ca(cert: &ParsedCertificate) -> bool {
    cert.basic_constraints.as_ref().is_some_and(|c| c.ca)
        || cert.key_usage.as_ref().is_some_and(|u| u.key_cert_sign())
}

/// Validates the document signer certificate `x5chain[0]` at `at`.
pub fn validate_signer(
    x5chain: &[Vec<u8>],
    anchors: &IssuerAnchors,
    at: UnixTime,
) -> (CheckResult, Option<VerifiedSigner>) {
    let Some(first) = x5chain.first() else {
        return fail(Reason::CertificateMalformed, "the MSO carries no x5chain");
    };
    let ds = match ParsedCertificate::parse(first) {
        Ok(ds) => ds,
        Err(e) => {
            return fail(
                Reason::CertificateMalformed,
                format!("document signer: {e}"),
            );
        }
    };
    let Ok(key) = PublicKey::from_public_key_der(&ds.spki_der) else {
        return fail(
            Reason::UnsupportedAlgorithm,
            "the document signer key is not EC P-256",
        );
    };
    if anchors.is_empty() {
        return fail(Reason::UnknownIssuer, "no mdoc issuer anchor is configured");
    }
    let algorithm = ds.cert.signature_algorithm().oid.to_string();
    if algorithm != ECDSA_WITH_SHA256 {
        return fail(
            Reason::UnsupportedAlgorithm,
            format!("document signer certificate signed with {algorithm}"),
        );
    }
    // By key: every anchor is tried, names play no part.
    let Some(anchor) = anchors.iter().find(|a| signed_by(&ds, &a.key)) else {
        return fail(
            Reason::UnknownIssuer,
            "no configured mdoc issuer anchor's key signed the document signer certificate",
        );
    };
    if let Some(problem) = rules(&ds, anchor, at) {
        return (problem, None);
    }
    (
        CheckResult::passed(CheckId::MdocIssuerCertificate, Reason::Verified)
            .with_detail(format!("issuer: {}", anchor.subject())),
        Some(VerifiedSigner {
            key,
            anchor_subject: anchor.subject(),
        }),
    )
}

fn rules(ds: &ParsedCertificate, anchor: &IssuerAnchor, at: UnixTime) -> Option<CheckResult> {
    let failed = |reason, detail: String| {
        Some(CheckResult::failed(
            CheckId::MdocIssuerCertificate,
            reason,
            detail,
        ))
    };
    for (role, cert) in [("document signer", ds), ("issuer anchor", &anchor.parsed)] {
        if let Some(oid) = unknown_critical(cert) {
            return failed(
                Reason::UnknownCriticalExtension,
                format!("{role}: critical extension {oid}"),
            );
        }
        if at.0 < cert.not_before {
            return failed(
                Reason::NotYetValid,
                format!("{role} certificate not yet valid"),
            );
        }
        if at.0 > cert.not_after {
            return failed(Reason::Expired, format!("{role} certificate expired"));
        }
    }
    if !is_ca(&anchor.parsed) {
        return failed(
            Reason::NotCa,
            "the anchor may not issue certificates".into(),
        );
    }
    if ds.basic_constraints.as_ref().is_some_and(|c| c.ca)
        || ds.key_usage.as_ref().is_some_and(|u| u.key_cert_sign())
    {
        return failed(
            Reason::EndEntityIsCa,
            "the document signer certificate is marked as a CA".into(),
        );
    }
    if !ds.key_usage.as_ref().is_some_and(|u| u.digital_signature()) {
        return failed(
            Reason::KeyUsageMissing,
            "document signer without digitalSignature".into(),
        );
    }
    let eku = ds
        .cert
        .tbs_certificate()
        .get_extension::<ExtendedKeyUsage>()
        .ok()
        .flatten()
        .map(|(_, eku)| eku.0);
    if !eku.is_some_and(|usages| usages.contains(&EKU_MDOC_DS)) {
        return failed(
            Reason::KeyUsageMissing,
            "document signer certificate lacks the mdoc DS extended key usage".into(),
        );
    }
    None
}
