//! Revocation judged after the fact (the receiver re-verifying a record at its check time, with
//! every list it holds): a revocation any trusted list shows on or before the check time wins,
//! a list issued after the check time decides by the revocation date it gives, the newest list
//! that passes is named, and a list the issuer's key did not sign decides nothing.

use super::pki::*;
use crate::verify::x509::test_keys::{CrlSpec, crl};
use crate::verify::x509::{RevocationList, check_revocation_among, check_revocation_of};

const EE_SERIAL: u32 = 0x1001;

fn chain() -> ChainReport {
    let report = auth(&issue(&auth_spec(), K_EE, K_CA));
    assert!(report.verified().is_some());
    report
}

/// A list of the CA issued on `this_update`, next update `next_update`, revoking `revoked`
/// (each on 2026-10-01), signed with key `signer`.
fn list(
    this_update: (u16, u8, u8),
    next_update: (u16, u8, u8),
    revoked: Vec<u32>,
    signer: usize,
) -> RevocationList {
    let mut spec = CrlSpec::new(CA, revoked);
    spec.this_update = utc(this_update.0, this_update.1, this_update.2);
    spec.next_update = Some(utc(next_update.0, next_update.1, next_update.2));
    RevocationList::from_der(&crl(&spec, signer)).expect("test CRL parses")
}

fn among(lists: &[RevocationList]) -> CheckResult {
    let report = chain();
    check_revocation_among(report.verified().expect("verified"), lists, at())
}

fn assert_result(result: &CheckResult, state: CheckState, reason: Reason) {
    assert_eq!(result.check, CheckId::Revocation);
    assert_eq!((result.state, result.reason), (state, reason), "{result:?}");
}

#[test]
fn no_list_of_the_issuer_is_not_checked() {
    assert_result(
        &among(&[]),
        CheckState::NotChecked,
        Reason::NoRevocationList,
    );
}

#[test]
fn a_revocation_in_any_trusted_list_wins_over_one_that_does_not_list_it() {
    let revoking = list((2026, 11, 1), (2026, 12, 31), vec![EE_SERIAL], K_CA);
    let silent = list((2026, 11, 20), (2026, 12, 31), vec![], K_CA);
    for lists in [
        vec![revoking.clone(), silent.clone()],
        vec![silent.clone(), revoking.clone()],
    ] {
        let result = among(&lists);
        assert_result(&result, CheckState::Failed, Reason::Revoked);
        assert!(
            result.detail.contains("issued 2026-11-01"),
            "{}",
            result.detail
        );
    }
    // Negative: a list not signed by the issuer's key cannot revoke.
    let forged = list((2026, 11, 20), (2026, 12, 31), vec![EE_SERIAL], K_FORGER);
    let result = among(&[forged.clone(), silent]);
    assert_result(&result, CheckState::Passed, Reason::NotRevoked);
    assert!(
        result.detail.contains("issued 2026-11-20"),
        "{}",
        result.detail
    );
    // Nor pass: alone, it is an invalid list.
    let alone = list((2026, 11, 20), (2026, 12, 31), vec![], K_FORGER);
    assert_result(
        &among(&[alone]),
        CheckState::Failed,
        Reason::RevocationListInvalid,
    );
}

#[test]
fn a_list_issued_after_the_check_decides_by_the_revocation_date() {
    // Revoked on 2026-10-01, before the check time (2026-11-25), listed on 2026-12-01.
    let later = list((2026, 12, 1), (2027, 1, 31), vec![EE_SERIAL], K_CA);
    let result = among(std::slice::from_ref(&later));
    assert_result(&result, CheckState::Failed, Reason::Revoked);
    assert!(
        result.detail.contains("issued after the check"),
        "{}",
        result.detail
    );
    // Not listed in a later list: not revoked at the check time either.
    let clean = list((2026, 12, 1), (2027, 1, 31), vec![], K_CA);
    let result = among(&[clean]);
    assert_result(&result, CheckState::Passed, Reason::NotRevoked);
    assert!(
        result.detail.contains("issued after the check"),
        "{}",
        result.detail
    );
    // The door check (at the current time) keeps refusing a list from its future.
    let report = chain();
    let device = check_revocation_of(report.verified().expect("verified"), Some(&later), at());
    assert_result(&device, CheckState::Failed, Reason::RevocationListInvalid);
}

#[test]
fn the_newest_passing_list_is_named_and_a_stale_one_alone_is_invalid() {
    let stale = list((2026, 10, 1), (2026, 11, 20), vec![], K_CA);
    let current = list((2026, 11, 10), (2026, 12, 31), vec![], K_CA);
    let older = list((2026, 11, 1), (2026, 12, 31), vec![], K_CA);
    let result = among(&[stale.clone(), older, current]);
    assert_result(&result, CheckState::Passed, Reason::NotRevoked);
    assert!(
        result.detail.contains("issued 2026-11-10"),
        "{}",
        result.detail
    );
    let result = among(&[stale]);
    assert_result(&result, CheckState::Failed, Reason::RevocationListInvalid);
    assert!(result.detail.contains("stale"), "{}", result.detail);
    // A stale list still shows a revocation made before the check: revocations are final.
    let stale_revoking = list((2026, 10, 2), (2026, 11, 20), vec![EE_SERIAL], K_CA);
    assert_result(
        &among(&[stale_revoking]),
        CheckState::Failed,
        Reason::Revoked,
    );
}
