use super::pki::*;
use crate::verify::x509::test_keys::{CrlSpec, authority_key_id_extension, crl, raw_extension};
use crate::verify::x509::{
    CrlError, RevocationList, check_revocation, check_revocation_of, select_revocation_list,
};

const EE_SERIAL: u32 = 0x1001;

fn verified_auth() -> ChainReport {
    let report = auth(&issue(&auth_spec(), K_EE, K_CA));
    assert!(report.verified().is_some());
    report
}

fn list(spec: &CrlSpec, signer: usize) -> RevocationList {
    RevocationList::from_der(&crl(spec, signer)).expect("test CRL parses")
}

fn revocation(spec: &CrlSpec, signer: usize) -> CheckResult {
    check_revocation(&verified_auth(), Some(&list(spec, signer)), at())
}

fn assert_result(result: &CheckResult, state: CheckState, reason: Reason) {
    assert_eq!(result.check, CheckId::Revocation);
    assert_eq!((result.state, result.reason), (state, reason), "{result:?}");
}

#[test]
fn listed_serial_is_revoked() {
    let result = revocation(&CrlSpec::new(CA, vec![7, EE_SERIAL, 9]), K_CA);
    assert_result(&result, CheckState::Failed, Reason::Revoked);
    // Which list said so, and how old it was, is in the verdict too.
    assert!(
        result.detail.starts_with("revoked on 2026-10-01 (list of "),
        "{}",
        result.detail
    );
    assert!(
        result.detail.contains(" h old), next update "),
        "{}",
        result.detail
    );
}

#[test]
fn unlisted_serial_is_not_revoked() {
    for revoked in [vec![], vec![7, 0x1002]] {
        let result = revocation(&CrlSpec::new(CA, revoked), K_CA);
        assert_result(&result, CheckState::Passed, Reason::NotRevoked);
        assert!(result.detail.starts_with("list of "), "{}", result.detail);
    }
}

#[test]
fn a_list_from_an_expired_source_is_refused_and_named() {
    use crate::verify::x509::ListSource;
    let spec = CrlSpec::new(CA, vec![]);
    let fresh = list(&spec, K_CA).delivered_by(ListSource {
        name: "trust bundle 3 issued 2026-12-01".into(),
        expires_at: at().0 + 1,
    });
    let result = check_revocation(&verified_auth(), Some(&fresh), at());
    assert_result(&result, CheckState::Passed, Reason::NotRevoked);
    assert!(
        result
            .detail
            .ends_with(", from trust bundle 3 issued 2026-12-01"),
        "{}",
        result.detail
    );
    let expired = list(&spec, K_CA).delivered_by(ListSource {
        name: "trust bundle 3 issued 2026-12-01".into(),
        expires_at: at().0 - 1,
    });
    let result = check_revocation(&verified_auth(), Some(&expired), at());
    assert_result(&result, CheckState::Failed, Reason::RevocationListInvalid);
    assert!(
        result
            .detail
            .contains("the trust bundle 3 issued 2026-12-01 it came from expired"),
        "{}",
        result.detail
    );
}

#[test]
fn no_list_is_not_checked() {
    let result = check_revocation(&verified_auth(), None, at());
    assert_result(&result, CheckState::NotChecked, Reason::NoRevocationList);
}

#[test]
fn an_unverified_chain_skips_revocation() {
    let expired = Spec {
        not_after: utc(2024, 5, 31),
        not_before: utc(2019, 6, 1),
        ..auth_spec()
    };
    let report = auth(&issue(&expired, K_EE, K_CA));
    let listed = list(&CrlSpec::new(CA, vec![EE_SERIAL]), K_CA);
    let result = check_revocation(&report, Some(&listed), at());
    assert_result(&result, CheckState::NotChecked, Reason::Skipped);
}

#[test]
fn list_signed_by_another_key_is_invalid() {
    // Same issuer name, the forger's key: the list cannot be trusted to say anything.
    for revoked in [vec![], vec![EE_SERIAL]] {
        let result = revocation(&CrlSpec::new(CA, revoked), K_FORGER);
        assert_result(&result, CheckState::Failed, Reason::RevocationListInvalid);
        assert!(result.detail.contains("not signed by the key"));
    }
    // The root's list is not the CA's, even though the root is trusted.
    let result = revocation(&CrlSpec::new(CA, vec![]), K_ROOT);
    assert_result(&result, CheckState::Failed, Reason::RevocationListInvalid);
}

#[test]
fn list_with_another_issuer_name_is_invalid() {
    let result = revocation(&CrlSpec::new(ROOT, vec![]), K_CA);
    assert_result(&result, CheckState::Failed, Reason::RevocationListInvalid);
}

#[test]
fn stale_list_is_invalid() {
    let spec = CrlSpec {
        this_update: utc(2026, 9, 1),
        next_update: Some(utc(2026, 10, 31)),
        ..CrlSpec::new(CA, vec![])
    };
    let result = revocation(&spec, K_CA);
    assert_result(&result, CheckState::Failed, Reason::RevocationListInvalid);
    assert!(result.detail.contains("stale"));
}

#[test]
fn list_from_after_the_check_time_is_invalid() {
    let spec = CrlSpec {
        this_update: utc(2026, 12, 1),
        next_update: Some(utc(2027, 1, 31)),
        ..CrlSpec::new(CA, vec![])
    };
    assert_result(
        &revocation(&spec, K_CA),
        CheckState::Failed,
        Reason::RevocationListInvalid,
    );
}

#[test]
fn list_without_next_update_is_invalid() {
    let spec = CrlSpec {
        next_update: None,
        ..CrlSpec::new(CA, vec![])
    };
    assert_result(
        &revocation(&spec, K_CA),
        CheckState::Failed,
        Reason::RevocationListInvalid,
    );
}

#[test]
fn unknown_critical_extensions_make_the_list_invalid() {
    // A delta CRL indicator: a delta list alone cannot say "not revoked".
    let mut spec = CrlSpec::new(CA, vec![]);
    spec.extensions
        .push(raw_extension("2.5.29.27", true, &[0x02, 0x01, 0x01]));
    assert_result(
        &revocation(&spec, K_CA),
        CheckState::Failed,
        Reason::RevocationListInvalid,
    );

    // An entry extension naming another issuer (indirect CRL).
    let mut spec = CrlSpec::new(CA, vec![EE_SERIAL]);
    spec.entry_extensions
        .push(raw_extension("2.5.29.29", true, &[0x30, 0x00]));
    assert_result(
        &revocation(&spec, K_CA),
        CheckState::Failed,
        Reason::RevocationListInvalid,
    );

    // The same with a reason code, which is understood.
    let mut spec = CrlSpec::new(CA, vec![EE_SERIAL]);
    spec.entry_extensions
        .push(raw_extension("2.5.29.21", false, &[0x0A, 0x01, 0x01]));
    assert_result(
        &revocation(&spec, K_CA),
        CheckState::Failed,
        Reason::Revoked,
    );
}

#[test]
fn list_of_an_anchor_that_issued_the_end_entity_directly() {
    let spec = Spec {
        issuer: ROOT.into(),
        ..auth_spec()
    };
    let ee = issue(&spec, K_EE, K_ROOT);
    let report = validate_chain(&ee, &[], &anchors(), at(), KeyPurpose::Authentication);
    let chain = report.verified().expect("verified");
    let listed = list(&CrlSpec::new(ROOT, vec![EE_SERIAL]), K_ROOT);
    let result = check_revocation_of(chain, Some(&listed), at());
    assert_result(&result, CheckState::Failed, Reason::Revoked);
}

#[test]
fn the_list_of_the_issuing_ca_is_selected_by_name() {
    let report = verified_auth();
    let chain = report.verified().expect("verified");
    let lists = [
        list(&CrlSpec::new(ROOT, vec![]), K_ROOT),
        list(&CrlSpec::new(CA, vec![EE_SERIAL]), K_CA),
    ];
    let selected = select_revocation_list(chain, &lists).expect("the CA's list");
    assert!(selected.names_issuer_of(chain));
    assert_eq!(selected.len(), 1);
    assert!(select_revocation_list(chain, &lists[..1]).is_none());
}

/// Two generations of a root that share one name (as the J-LIS 2015 and 2023 roots do), each
/// with its own list: the list is chosen by authority key identifier (issue 17, defect 6).
#[test]
fn the_list_is_chosen_by_authority_key_id_when_root_generations_share_a_name() {
    let old_root = issue(&root_spec(), K_ROOT, K_ROOT);
    let new_root = issue(&root_spec(), K_OTHER, K_OTHER);
    let anchors = TrustAnchors::from_der(vec![old_root.0, new_root.0]).expect("anchors");
    let direct = Spec {
        issuer: ROOT.into(),
        ..auth_spec()
    };
    let with_aki = |signer: usize, revoked: Vec<u32>| {
        let mut spec = CrlSpec::new(ROOT, revoked);
        spec.extensions.push(authority_key_id_extension(signer));
        list(&spec, signer)
    };
    for (ee_issuer, other) in [(K_ROOT, K_OTHER), (K_OTHER, K_ROOT)] {
        let ee = issue(&direct, K_EE, ee_issuer);
        let report = validate_chain(&ee, &[], &anchors, at(), KeyPurpose::Authentication);
        let chain = report.verified().expect("verified");
        // The other generation's list comes first and names the same issuer.
        let lists = [
            with_aki(other, vec![]),
            with_aki(ee_issuer, vec![EE_SERIAL]),
        ];
        let selected = select_revocation_list(chain, &lists).expect("the issuer's list");
        assert_eq!(selected.identifies_issuer_key_of(chain), Some(true));
        let result = check_revocation_of(chain, Some(selected), at());
        assert_result(&result, CheckState::Failed, Reason::Revoked);
        // Only the other generation's list: none is this issuer's.
        assert!(select_revocation_list(chain, &lists[..1]).is_none());
        // Lists without a key identifier: the one the issuer's key signed.
        let lists = [
            list(&CrlSpec::new(ROOT, vec![]), other),
            list(&CrlSpec::new(ROOT, vec![EE_SERIAL]), ee_issuer),
        ];
        let selected = select_revocation_list(chain, &lists).expect("the issuer's list");
        assert_result(
            &check_revocation_of(chain, Some(selected), at()),
            CheckState::Failed,
            Reason::Revoked,
        );
    }
}

#[test]
fn malformed_lists_are_typed_errors() {
    assert!(matches!(
        RevocationList::from_der(&[]),
        Err(CrlError::Der(_))
    ));
    assert!(matches!(
        RevocationList::from_der(&[0x30, 0x00]),
        Err(CrlError::Der(_))
    ));
    let good = crl(&CrlSpec::new(CA, vec![1]), K_CA);
    for cut in [1, good.len() / 2, good.len() - 1] {
        assert!(RevocationList::from_der(&good[..cut]).is_err());
    }
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(RevocationList::from_der(&trailing).is_err());
    // Debug shows no serial numbers.
    let parsed = RevocationList::from_der(&good).expect("parses");
    assert!(format!("{parsed:?}").contains("entries: 1"));
}

#[test]
fn a_list_verified_before_does_not_vouch_for_an_altered_copy() {
    // Its signature is verified once per process and key (x509::memo); a copy that differs in
    // one bit of the signature is another list, verified in full and refused.
    let der = crl(&CrlSpec::new(CA, vec![]), K_CA);
    let genuine = RevocationList::from_der(&der).expect("test CRL parses");
    for _ in 0..2 {
        let result = check_revocation(&verified_auth(), Some(&genuine), at());
        assert_result(&result, CheckState::Passed, Reason::NotRevoked);
    }
    let mut altered = der;
    let last = altered.len() - 1;
    altered[last] ^= 1;
    let altered = RevocationList::from_der(&altered).expect("still parses");
    let result = check_revocation(&verified_auth(), Some(&altered), at());
    assert_result(&result, CheckState::Failed, Reason::RevocationListInvalid);
}
