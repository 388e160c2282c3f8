//! The software card's test PKI (`fixtures/pki/`, see fixtures/README.md): what a deployment's
//! anchor directory and a card's certificates look like, end to end.

use super::pki::*;
use crate::card::types::{CalendarDate, Sex};
use crate::verify::x509::{
    Era, RevocationList, SigningCertificateAttributes, TrustAnchor, check_revocation,
    select_revocation_list,
};

const PKI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/pki");
const JLIS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/jpki-trust-anchors"
);

fn cert(name: &str) -> CertificateDer {
    let path = format!("{PKI}/{name}.cert.der");
    CertificateDer(std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

fn crl(name: &str) -> RevocationList {
    let path = format!("{PKI}/{name}.crl.der");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    RevocationList::from_der(&bytes).expect("fixture CRL parses")
}

fn fixture_anchors() -> TrustAnchors {
    TrustAnchors::load_dir(format!("{PKI}/anchors")).expect("fixture anchors load")
}

fn check(ee: &str, ca: &str, purpose: KeyPurpose) -> ChainReport {
    validate_chain(&cert(ee), &[cert(ca)], &fixture_anchors(), at(), purpose)
}

#[test]
fn the_anchor_directory_holds_the_root_and_the_data_issuer() {
    let anchors = fixture_anchors();
    assert_eq!(anchors.len(), 2);
    assert!(anchors.skipped().is_empty());
    let sources = |pool: &[TrustAnchor]| pool.iter().map(|a| a.source().to_owned()).collect();
    let roots: Vec<String> = sources(anchors.jpki_roots());
    let issuers: Vec<String> = sources(anchors.cv_issuers());
    assert_eq!(roots, ["test-jpki-root.cert.der"]);
    assert_eq!(issuers, ["test-jlis-data-issuer.cert.pem"]);
    // The data issuer is found by the key id a CV certificate names; the root is not.
    let data_issuer = &anchors.cv_issuers()[0];
    assert!(anchors.cv_issuer(&data_issuer.key_id()).is_some());
    assert!(
        anchors
            .cv_issuer(&anchors.jpki_roots()[0].key_id())
            .is_none()
    );
}

#[test]
fn genuine_card_certificates_validate() {
    let report = check("card-auth", "jpki-auth-ca", KeyPurpose::Authentication);
    assert_valid(&report);
    assert_eq!(
        report.verified().expect("verified").anchor().source(),
        "test-jpki-root.cert.der"
    );
    assert_valid(&check("card-sign", "jpki-sign-ca", KeyPurpose::Signing));
}

#[test]
fn the_signing_certificate_carries_the_test_holder() {
    let report = check("card-sign", "jpki-sign-ca", KeyPurpose::Signing);
    let attributes = SigningCertificateAttributes::from_verified(report.verified().expect("ok"))
        .expect("attributes");
    assert_eq!(attributes.name, "試験\u{3000}花子");
    assert_eq!(attributes.address, "東京都千代田区試験町1-2-3");
    assert_eq!(
        attributes.birth_date,
        CalendarDate::new(1990, 4, 1).expect("date")
    );
    assert_eq!(attributes.birth_era, Era::Heisei);
    assert_eq!(attributes.sex, Sex::Female);
    assert!(!attributes.has_substitutes());
}

#[test]
fn each_rule_breaking_certificate_fails_its_rule_only() {
    for (ee, ca, purpose) in [
        ("card-auth", "jpki-auth-ca", KeyPurpose::Authentication),
        ("card-sign", "jpki-sign-ca", KeyPurpose::Signing),
    ] {
        let broken = |suffix: &str| check(&format!("{ee}-{suffix}"), ca, purpose);
        assert_only_failure(
            &broken("expired"),
            CheckId::CertificateValidity,
            Reason::Expired,
        );
        assert_only_failure(
            &broken("not-yet-valid"),
            CheckId::CertificateValidity,
            Reason::NotYetValid,
        );
        assert_only_failure(
            &broken("wrong-ku"),
            CheckId::KeyUsage,
            Reason::KeyUsageMissing,
        );
        // Revocation is a separate check: the chain itself is fine.
        assert_valid(&broken("revoked"));
    }
}

#[test]
fn a_certificate_used_for_the_other_purpose_fails_the_policy() {
    assert_only_failure(
        &check("card-auth", "jpki-auth-ca", KeyPurpose::Signing),
        CheckId::CertificatePolicy,
        Reason::PolicyMissing,
    );
    assert_only_failure(
        &check("card-sign", "jpki-sign-ca", KeyPurpose::Authentication),
        CheckId::CertificatePolicy,
        Reason::PolicyMissing,
    );
}

#[test]
fn the_forgers_certificates_fail_by_key() {
    for (ee, ca, root, purpose) in [
        (
            "forged-auth",
            "forger-auth-ca",
            "forger-root",
            KeyPurpose::Authentication,
        ),
        (
            "forged-sign",
            "forger-sign-ca",
            "forger-root",
            KeyPurpose::Signing,
        ),
    ] {
        for intermediates in [vec![cert(ca)], vec![cert(ca), cert(root)]] {
            let report =
                validate_chain(&cert(ee), &intermediates, &fixture_anchors(), at(), purpose);
            assert_no_chain(&report, Reason::SignatureInvalid);
        }
    }
    // The genuine CA next to a forged end entity does not help either.
    let report = validate_chain(
        &cert("forged-auth"),
        &[cert("jpki-auth-ca")],
        &fixture_anchors(),
        at(),
        KeyPurpose::Authentication,
    );
    assert_no_chain(&report, Reason::SignatureInvalid);
}

#[test]
fn revocation_with_the_fixture_lists() {
    let lists = [crl("jpki-sign-ca"), crl("jpki-auth-ca")];
    for (ee, ca, purpose) in [
        ("card-auth", "jpki-auth-ca", KeyPurpose::Authentication),
        ("card-sign", "jpki-sign-ca", KeyPurpose::Signing),
    ] {
        let genuine = check(ee, ca, purpose);
        let list = select_revocation_list(genuine.verified().expect("ok"), &lists);
        assert!(list.is_some());
        let result = check_revocation(&genuine, list, at());
        assert_eq!(
            (result.state, result.reason),
            (CheckState::Passed, Reason::NotRevoked)
        );

        let revoked = check(&format!("{ee}-revoked"), ca, purpose);
        let list = select_revocation_list(revoked.verified().expect("ok"), &lists);
        let result = check_revocation(&revoked, list, at());
        assert_eq!(
            (result.state, result.reason),
            (CheckState::Failed, Reason::Revoked)
        );
        assert!(
            result.detail.starts_with("revoked on 2026-10-01 (list of "),
            "{}",
            result.detail
        );
    }
    // The other CA's list is not trusted for this certificate.
    let genuine = check("card-auth", "jpki-auth-ca", KeyPurpose::Authentication);
    let result = check_revocation(&genuine, Some(&lists[0]), at());
    assert_eq!(
        (result.state, result.reason),
        (CheckState::Failed, Reason::RevocationListInvalid)
    );
}

#[test]
fn the_test_pki_is_not_trusted_under_the_jlis_roots() {
    let jlis = TrustAnchors::load_dir(JLIS).expect("J-LIS roots");
    let report = validate_chain(
        &cert("card-auth"),
        &[cert("jpki-auth-ca")],
        &jlis,
        at(),
        KeyPurpose::Authentication,
    );
    assert_no_chain(&report, Reason::ChainIncomplete);
    // Configured side by side, the J-LIS roots and the test root each keep their own chains.
    let mut ders: Vec<Vec<u8>> = jlis.iter().map(|a| a.certificate_der().to_vec()).collect();
    ders.extend(
        fixture_anchors()
            .iter()
            .map(|a| a.certificate_der().to_vec()),
    );
    let both = TrustAnchors::from_der(ders).expect("anchors");
    let report = validate_chain(
        &cert("card-auth"),
        &[cert("jpki-auth-ca")],
        &both,
        at(),
        KeyPurpose::Authentication,
    );
    assert_valid(&report);
}
