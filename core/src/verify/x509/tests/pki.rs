//! A small test PKI built in memory: root (key 0) → CA (key 1, pathLen 0) → end entity (key 2).
//! Key 3 is the forger's, key 4 a second CA's, key 5 another anchor's.

pub(super) use der::flagset::FlagSet;
pub(super) use x509_cert::ext::pkix::KeyUsages;

pub(super) use crate::card::types::CertificateDer;
pub(super) use crate::verify::check::{CheckId, CheckResult, CheckState, Reason};
pub(super) use crate::verify::time::UnixTime;
pub(super) use crate::verify::x509::test_keys::{self, Hash, Spec, issue, utc};
pub(super) use crate::verify::x509::{
    ChainPolicy, ChainReport, KeyPurpose, TrustAnchors, validate_chain, validate_chain_with,
};

pub(super) const ROOT: &str = "CN=honnin unit test root,O=JPKI TEST,C=JP";
pub(super) const CA: &str = "CN=honnin unit test auth CA,O=JPKI TEST,C=JP";
pub(super) const SUB_CA: &str = "CN=honnin unit test sub CA,O=JPKI TEST,C=JP";
pub(super) const OTHER_ROOT: &str = "CN=honnin unit test other root,O=JPKI TEST,C=JP";
pub(super) const EE: &str = "CN=HONNIN UNIT TEST 0001,O=JPKI TEST,C=JP";

/// Production policies as real cards carry them (below the profile's arcs).
pub(super) const AUTH_POLICY: &str = "1.2.392.200149.8.5.1.3.30";
pub(super) const SIGN_POLICY: &str = "1.2.392.200149.8.5.1.1.20";

pub(super) const K_ROOT: usize = 0;
pub(super) const K_CA: usize = 1;
pub(super) const K_EE: usize = 2;
pub(super) const K_FORGER: usize = 3;
pub(super) const K_SUB_CA: usize = 4;
pub(super) const K_OTHER: usize = 5;

/// The check time of every test: 2026-11-25.
pub(super) fn at() -> UnixTime {
    UnixTime::from_date(2026, 11, 25)
}

pub(super) fn root_spec() -> Spec {
    Spec::ca(ROOT, ROOT)
}

pub(super) fn ca_spec() -> Spec {
    Spec {
        basic_constraints: Some((true, Some(0))),
        serial: 2,
        ..Spec::ca(CA, ROOT)
    }
}

pub(super) fn auth_spec() -> Spec {
    Spec::end_entity(EE, CA, KeyUsages::DigitalSignature.into(), AUTH_POLICY)
}

pub(super) fn sign_spec() -> Spec {
    Spec {
        policies_critical: true,
        ..Spec::end_entity(
            EE,
            CA,
            KeyUsages::DigitalSignature | KeyUsages::NonRepudiation,
            SIGN_POLICY,
        )
    }
}

pub(super) fn root() -> CertificateDer {
    issue(&root_spec(), K_ROOT, K_ROOT)
}

pub(super) fn ca() -> CertificateDer {
    issue(&ca_spec(), K_CA, K_ROOT)
}

pub(super) fn anchors() -> TrustAnchors {
    TrustAnchors::from_der(vec![root().0]).expect("test root is a valid anchor")
}

/// Validates an authentication end entity issued by the CA, with the CA supplied by the card.
pub(super) fn auth(ee: &CertificateDer) -> ChainReport {
    validate_chain(ee, &[ca()], &anchors(), at(), KeyPurpose::Authentication)
}

pub(super) fn sign(ee: &CertificateDer) -> ChainReport {
    validate_chain(ee, &[ca()], &anchors(), at(), KeyPurpose::Signing)
}

pub(super) fn state(report: &ChainReport, check: CheckId) -> (CheckState, Reason) {
    let result = report.result(check).expect("every check is reported");
    (result.state, result.reason)
}

/// All five passed and a verified key is present.
pub(super) fn assert_valid(report: &ChainReport) {
    for result in report.results() {
        assert_eq!(result.state, CheckState::Passed, "{result:?}");
    }
    assert!(report.verified().is_some());
}

/// Exactly `check` failed with `reason`; every other check passed; no verified key.
pub(super) fn assert_only_failure(report: &ChainReport, check: CheckId, reason: Reason) {
    for result in report.results() {
        if result.check == check {
            assert_eq!(
                (result.state, result.reason),
                (CheckState::Failed, reason),
                "{result:?}"
            );
        } else {
            assert_eq!(result.state, CheckState::Passed, "{result:?}");
        }
    }
    assert!(report.verified().is_none());
}

/// The chain could not be built: CertificateChain failed with `reason`, the rest skipped.
pub(super) fn assert_no_chain(report: &ChainReport, reason: Reason) {
    let results = report.results();
    assert_eq!(
        (results[0].check, results[0].state, results[0].reason),
        (CheckId::CertificateChain, CheckState::Failed, reason),
        "{:?}",
        results[0]
    );
    for result in &results[1..] {
        assert_eq!(
            (result.state, result.reason),
            (CheckState::NotChecked, Reason::Skipped),
            "{result:?}"
        );
    }
    assert!(report.verified().is_none());
}

pub(super) fn detail(report: &ChainReport, check: CheckId) -> String {
    report
        .result(check)
        .map(|r| r.detail.clone())
        .unwrap_or_default()
}
