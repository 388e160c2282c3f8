//! The rules checked on a path found by signatures, one [`CheckResult`] each.
//!
//! Stricter than RFC 5280 §6 where JPKI allows it: the anchor certificate is checked like every
//! other issuer (validity, cA, keyCertSign, pathLenConstraint), every issuing certificate must
//! carry KeyUsage with keyCertSign, and pathLenConstraint counts every CA certificate below the
//! issuer (self-issued ones too). Only the end-entity certificate's policy is checked: the J-LIS
//! roots carry no certificatePolicies. The end-entity certificate must not say it may issue
//! certificates: cA=true fails BasicConstraints and keyCertSign fails KeyUsage.

use super::cert::ParsedCertificate;
use super::path::Intermediate;
use super::report::{ChainPolicy, ChainReport, KeyPurpose, VerifiedChain, VerifiedKey};
use super::{TrustAnchor, date, policy_arc};
use crate::card::types::CertificateDer;
use crate::verify::check::{CheckId, CheckResult, Reason};
use crate::verify::time::UnixTime;

/// A path found by signatures, ready for the remaining checks.
pub(super) struct Path<'p> {
    pub ee: &'p ParsedCertificate,
    /// The end entity's issuer first.
    pub intermediates: Vec<&'p Intermediate>,
    pub anchor: &'p TrustAnchor,
    pub sha1_used: bool,
}

impl Path<'_> {
    /// Every certificate with a name for reports: end entity first, anchor last.
    fn certificates(&self) -> Vec<(String, &ParsedCertificate)> {
        let mut all = vec![("the end-entity certificate".to_string(), self.ee)];
        for (n, intermediate) in self.intermediates.iter().enumerate() {
            all.push((
                format!("card-supplied CA certificate {}", n + 1),
                &intermediate.cert,
            ));
        }
        all.push((
            format!("the trust anchor \"{}\"", self.anchor.subject()),
            &self.anchor.parsed,
        ));
        all
    }
}

pub(super) fn evaluate(path: &Path<'_>, at: UnixTime, policy: ChainPolicy) -> ChainReport {
    let certificates = path.certificates();
    let chain = check_extensions(&certificates, path.sha1_used);
    let validity = check_validity(&certificates, at);
    let key_usage = check_key_usage(&certificates, policy.purpose);
    let basic_constraints = check_basic_constraints(&certificates);
    let policy_result = check_policy(path.ee, policy.purpose);

    let mut report = ChainReport {
        chain,
        validity,
        key_usage,
        basic_constraints,
        policy: policy_result,
        verified: None,
    };
    if report.failures() == 0 {
        report.verified = verified_chain(path, policy);
    }
    report
}

fn verified_chain(path: &Path<'_>, policy: ChainPolicy) -> Option<VerifiedChain> {
    let key = path.ee.public_key().ok()?;
    let issuer = match path.intermediates.first() {
        Some(issuer) => (issuer.key.clone(), &issuer.cert),
        None => (path.anchor.key.clone(), &path.anchor.parsed),
    };
    let (issuer_key, issuer_subject_der, issuer_key_ids) = (
        issuer.0,
        issuer.1.subject_der.clone(),
        issuer.1.key_identifiers(),
    );
    let mut certificates = vec![CertificateDer(path.ee.der.clone())];
    certificates.extend(
        path.intermediates
            .iter()
            .map(|i| CertificateDer(i.cert.der.clone())),
    );
    certificates.push(CertificateDer(path.anchor.parsed.der.clone()));
    Some(VerifiedChain {
        key: VerifiedKey {
            key,
            spki_der: path.ee.spki_der.clone(),
            purpose: policy.purpose,
        },
        end_entity: path.ee.clone(),
        issuer_key,
        issuer_subject_der,
        issuer_key_ids,
        anchor: path.anchor.clone(),
        certificates,
        policy,
        sha1_used: path.sha1_used,
    })
}

fn check_extensions(certificates: &[(String, &ParsedCertificate)], sha1: bool) -> CheckResult {
    let id = CheckId::CertificateChain;
    for (name, cert) in certificates {
        if let Some(oid) = &cert.unknown_critical {
            return CheckResult::failed(
                id,
                Reason::UnknownCriticalExtension,
                format!(
                    "{name} carries the critical extension {oid}, which honnin does not process"
                ),
            );
        }
    }
    if sha1 {
        CheckResult::passed(id, Reason::Sha1Accepted)
    } else {
        CheckResult::passed(id, Reason::Verified)
    }
}

fn check_validity(certificates: &[(String, &ParsedCertificate)], at: UnixTime) -> CheckResult {
    let id = CheckId::CertificateValidity;
    for (name, cert) in certificates {
        if at.0 < cert.not_before {
            return CheckResult::failed(
                id,
                Reason::NotYetValid,
                format!("{name} is valid only from {}", date(cert.not_before)),
            );
        }
        if at.0 > cert.not_after {
            return CheckResult::failed(
                id,
                Reason::Expired,
                format!("{name} expired on {}", date(cert.not_after)),
            );
        }
    }
    CheckResult::passed(id, Reason::Verified)
}

fn check_key_usage(
    certificates: &[(String, &ParsedCertificate)],
    purpose: KeyPurpose,
) -> CheckResult {
    let id = CheckId::KeyUsage;
    for (position, (name, cert)) in certificates.iter().enumerate() {
        let Some(usage) = &cert.key_usage else {
            return CheckResult::failed(
                id,
                Reason::KeyUsageMissing,
                format!("{name} has no KeyUsage"),
            );
        };
        let (allowed, needed) = match (position, purpose) {
            (0, KeyPurpose::Authentication) => (usage.digital_signature(), "digitalSignature"),
            (0, KeyPurpose::Signing) => (
                usage.non_repudiation() || usage.digital_signature(),
                "nonRepudiation or digitalSignature",
            ),
            _ => (usage.key_cert_sign(), "keyCertSign"),
        };
        if !allowed {
            return CheckResult::failed(
                id,
                Reason::KeyUsageMissing,
                format!("{name} lacks {needed} in its KeyUsage"),
            );
        }
        // A card key that may sign certificates could issue a chain of its own under the
        // J-LIS root's authority: refused, even with the usage the purpose needs (issue 17).
        if position == 0 && usage.key_cert_sign() {
            return CheckResult::failed(
                id,
                Reason::EndEntityIsCa,
                format!("{name} carries keyCertSign in its KeyUsage"),
            );
        }
    }
    CheckResult::passed(id, Reason::Verified)
}

fn check_basic_constraints(certificates: &[(String, &ParsedCertificate)]) -> CheckResult {
    let id = CheckId::BasicConstraints;
    if let Some((name, ee)) = certificates.first()
        && ee.basic_constraints.as_ref().is_some_and(|c| c.ca)
    {
        return CheckResult::failed(
            id,
            Reason::EndEntityIsCa,
            format!("{name} is marked cA in BasicConstraints"),
        );
    }
    // Position 1 is the end entity's issuer, which has no CA certificate below it.
    for (position, (name, cert)) in certificates.iter().enumerate().skip(1) {
        let Some(constraints) = cert.basic_constraints.as_ref().filter(|c| c.ca) else {
            return CheckResult::failed(
                id,
                Reason::NotCa,
                format!("{name} issues certificates but is not marked cA in BasicConstraints"),
            );
        };
        let cas_below = position - 1;
        if let Some(limit) = constraints.path_len_constraint
            && cas_below > usize::from(limit)
        {
            return CheckResult::failed(
                id,
                Reason::PathLengthExceeded,
                format!(
                    "{name} allows {limit} CA certificate(s) below it, the path has {cas_below}"
                ),
            );
        }
    }
    CheckResult::passed(id, Reason::Verified)
}

fn check_policy(ee: &ParsedCertificate, purpose: KeyPurpose) -> CheckResult {
    let id = CheckId::CertificatePolicy;
    let arc = policy_arc(purpose);
    let found = ee.policies.as_ref().is_some_and(|policies| {
        policies.0.iter().any(|p| {
            // An OID's encoding is a prefix of its descendants' encodings, on arc boundaries.
            p.policy_identifier.as_bytes().starts_with(arc.as_bytes())
        })
    });
    if found {
        CheckResult::passed(id, Reason::Verified)
    } else {
        CheckResult::failed(
            id,
            Reason::PolicyMissing,
            format!("the end-entity certificate has no certificate policy under {arc}"),
        )
    }
}
