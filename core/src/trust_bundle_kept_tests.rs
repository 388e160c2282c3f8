//! Tests of the kept bundle with the fixture PKI: the test J-LIS root as anchor, the
//! authentication CA's CRL (which revokes the fixture card `card-auth-revoked`) as the list.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::*;
use crate::card::types::CertificateDer;
use crate::record::SoftwareSigner;
use crate::trust_bundle::{BundleAnchor, BundleList, TRUST_BUNDLE_FORMAT, TrustBundleBody};
use crate::verify::x509::{KeyPurpose, check_revocation, select_revocation_list, validate_chain};
use crate::verify::{CheckResult, CheckState, Reason};

const PKI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/pki");
/// 2026-12-01, inside the fixture CRL's validity (2026-11-01 to 2026-12-31).
const NOW: i64 = 1_796_083_200;

fn file(name: &str) -> Vec<u8> {
    let path = format!("{PKI}/{name}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn key(byte: u8) -> SoftwareSigner {
    SoftwareSigner::from_secret_bytes(&[byte; 32]).expect("key")
}

fn anchor(name: &str) -> BundleAnchor {
    BundleAnchor {
        label: name.rsplit('/').next().unwrap_or(name).into(),
        certificate: BASE64.encode(file(name)),
    }
}

fn signed_by(signer: &SoftwareSigner, serial: u64, lists: bool) -> SignedTrustBundle {
    let der = file("jpki-auth-ca.crl.der");
    let list = RevocationList::from_der(&der).expect("fixture CRL");
    let body = TrustBundleBody {
        format: TRUST_BUNDLE_FORMAT.into(),
        serial,
        issued_at: NOW - 2 * 3_600,
        expires_at: NOW + 34 * 3_600,
        anchors: vec![anchor("anchors/test-jpki-root.cert.der")],
        lists: if lists {
            vec![BundleList {
                label: "jpki-auth-ca.crl.der".into(),
                crl: BASE64.encode(&der),
                this_update: list.this_update().0,
                next_update: list.next_update().map(|t| t.0),
            }]
        } else {
            Vec::new()
        },
        mdoc_anchors: Vec::new(),
    };
    SignedTrustBundle::sign(body, signer, signer.device_key()).expect("signs")
}

/// The revocation check of fixture card certificate `card` under `verifier` at `at`.
fn revocation(verifier: &Verifier, card: &str, at: i64) -> CheckResult {
    let chain = validate_chain(
        &CertificateDer(file(card)),
        &[CertificateDer(file("jpki-auth-ca.cert.der"))],
        verifier.anchors(),
        UnixTime(at),
        KeyPurpose::Authentication,
    );
    let list = chain
        .verified()
        .and_then(|c| select_revocation_list(c, &verifier.revocation_lists));
    check_revocation(&chain, list, UnixTime(at))
}

#[test]
fn a_kept_bundle_is_verified_again_with_the_receipt_key() {
    let receiver = key(1);
    let kept = signed_by(&receiver, 3, true).to_json();
    let bundle = open_kept(&kept, receiver.device_key(), UnixTime(NOW)).expect("verifies");
    assert_eq!(bundle.serial, 3);
    // Edited on the device (a list dropped): refused, not skipped.
    let mut edited = SignedTrustBundle::from_json(&kept).expect("parses");
    edited.bundle.lists.clear();
    assert_eq!(
        open_kept(&edited.to_json(), receiver.device_key(), UnixTime(NOW)).err(),
        Some(TrustBundleError::BadSignature)
    );
    // Another receiver's key, and bytes that are no bundle.
    assert_eq!(
        open_kept(&kept, key(2).device_key(), UnixTime(NOW)).err(),
        Some(TrustBundleError::BadSignature)
    );
    assert!(matches!(
        open_kept(b"{\"bundle\":", receiver.device_key(), UnixTime(NOW)),
        Err(TrustBundleError::Invalid { .. })
    ));
}

#[test]
fn the_kept_serial_survives_a_receipt_key_rotation() {
    let (old, new) = (key(1), key(2));
    let kept = signed_by(&old, 5, true).to_json();
    let now = UnixTime(NOW);
    // The sync learnt the new key; the kept bundle was signed by the old one.
    assert_eq!(
        kept_serial(Some(&kept), &[new.device_key(), old.device_key()], now),
        Some(5)
    );
    assert_eq!(kept_serial(Some(&kept), &[new.device_key()], now), None);
    assert_eq!(
        kept_serial(Some(b"garbage"), &[old.device_key()], now),
        None
    );
    assert_eq!(kept_serial(None, &[old.device_key()], now), None);
}

#[test]
fn a_bundle_is_kept_whole_in_place_of_the_previous_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("records.db.trust-bundle");
    assert_eq!(read_kept(&path).expect("reads"), None);
    let receiver = key(1);
    keep(&path, &signed_by(&receiver, 1, false)).expect("keeps");
    let second = signed_by(&receiver, 2, true);
    keep(&path, &second).expect("replaces");
    let bytes = read_kept(&path).expect("reads").expect("kept");
    assert_eq!(
        SignedTrustBundle::from_json(&bytes).expect("parses"),
        second
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("lists")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    // A file far larger than any bundle is refused before it is read into memory.
    std::fs::File::create(&path)
        .and_then(|f| f.set_len(MAX_KEPT_BYTES + 1))
        .expect("sparse file");
    let error = read_kept(&path).expect_err("too large");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
}

#[test]
fn the_verifier_of_a_kept_bundle_checks_revocation_and_names_the_bundle() {
    let receiver = key(1);
    let bundle = open_kept(
        &signed_by(&receiver, 4, true).to_json(),
        receiver.device_key(),
        UnixTime(NOW),
    )
    .expect("verifies");
    let verifier = bundle.verifier(None, Vec::new()).expect("verifier");
    assert_eq!(verifier.anchors().len(), 1);
    let genuine = revocation(&verifier, "card-auth.cert.der", NOW);
    assert_eq!(
        (genuine.state, genuine.reason),
        (CheckState::Passed, Reason::NotRevoked)
    );
    let revoked = revocation(&verifier, "card-auth-revoked.cert.der", NOW);
    assert_eq!(
        (revoked.state, revoked.reason),
        (CheckState::Failed, Reason::Revoked)
    );
    assert!(
        revoked
            .detail
            .contains("from trust bundle 4 issued 2026-11-30")
            && revoked.detail.contains("issued 2026-11-01 (720 h old)"),
        "{}",
        revoked.detail
    );
    // Past the bundle's expiry the same list is refused, never used as current.
    let late = revocation(
        &verifier,
        "card-auth-revoked.cert.der",
        bundle.expires_at + 1,
    );
    assert_eq!(
        (late.state, late.reason),
        (CheckState::Failed, Reason::RevocationListInvalid)
    );
    // Extra anchors are added to the bundle's, not in place of them.
    let extra = TrustAnchors::from_der(vec![file("forger-root.cert.der")]).expect("anchor");
    let both = bundle.verifier(Some(&extra), Vec::new()).expect("verifier");
    assert_eq!(both.anchors().len(), 2);
    // A bundle without lists: revocation is "not checked", as without a bundle.
    let bare = open_kept(
        &signed_by(&receiver, 5, false).to_json(),
        receiver.device_key(),
        UnixTime(NOW),
    )
    .expect("verifies")
    .verifier(None, Vec::new())
    .expect("verifier");
    assert_eq!(
        revocation(&bare, "card-auth-revoked.cert.der", NOW).state,
        CheckState::NotChecked
    );
}

#[test]
fn the_status_tells_a_current_an_expired_and_a_stale_bundle_apart() {
    let receiver = key(1);
    let bundle = open_kept(
        &signed_by(&receiver, 6, true).to_json(),
        receiver.device_key(),
        UnixTime(NOW),
    )
    .expect("verifies");
    let current = bundle.status(UnixTime(NOW));
    assert!(current.is_current() && !current.expired, "{current:?}");
    assert_eq!(
        (current.serial, current.age_hours, current.anchors),
        (6, 2, 1)
    );
    assert!(current.lists[0].description.contains("from trust bundle 6"));
    assert!(
        current
            .summary()
            .starts_with("trust bundle 6: 1 anchors, 1 revocation lists, issued 2 h ago"),
        "{}",
        current.summary()
    );

    let expired = bundle.status(UnixTime(bundle.expires_at + 1));
    assert!(expired.expired && !expired.is_current());
    assert!(expired.lists.iter().all(|list| list.stale));
    assert!(
        expired.summary().contains("expired on 2026-12-02"),
        "{}",
        expired.summary()
    );

    // A list past its own nextUpdate (2026-12-31) in a bundle that has not expired.
    let next_update = current.lists[0].next_update.expect("fixture CRL has one");
    let mut late_bundle = bundle.clone();
    late_bundle.expires_at = next_update + 86_400;
    let stale = late_bundle.status(UnixTime(next_update + 1));
    assert!(!stale.expired && !stale.is_current(), "{stale:?}");
    assert!(
        stale
            .summary()
            .contains("1 of its lists are past their next update"),
        "{}",
        stale.summary()
    );
}
