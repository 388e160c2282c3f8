//! Tests of the trust bundle with the fixture PKI (fixtures/pki): the test J-LIS root and
//! card-data issuer as anchors, the authentication CA's CRL as the list.

use super::*;
use crate::record::SoftwareSigner;
use crate::verify::{CheckState, Reason};

const PKI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/pki");
/// 2026-12-01, inside the fixture CRL's validity.
const NOW: i64 = 1_796_083_200;

fn file(name: &str) -> Vec<u8> {
    let path = format!("{PKI}/{name}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn receiver() -> SoftwareSigner {
    SoftwareSigner::from_secret_bytes(&[9; 32]).expect("key")
}

fn list_entry(name: &str) -> BundleList {
    let der = file(name);
    let list = RevocationList::from_der(&der).expect("fixture CRL");
    BundleList {
        label: name.into(),
        crl: BASE64.encode(&der),
        this_update: list.this_update().0,
        next_update: list.next_update().map(|t| t.0),
    }
}

fn body(serial: u64) -> TrustBundleBody {
    TrustBundleBody {
        format: TRUST_BUNDLE_FORMAT.into(),
        serial,
        issued_at: NOW - 3_600,
        expires_at: NOW + 86_400,
        anchors: vec![BundleAnchor {
            label: "test-jpki-root.cert.der".into(),
            certificate: BASE64.encode(file("anchors/test-jpki-root.cert.der")),
        }],
        lists: vec![list_entry("jpki-auth-ca.crl.der")],
        mdoc_anchors: Vec::new(),
    }
}

fn signed(body: TrustBundleBody) -> SignedTrustBundle {
    let key = receiver();
    SignedTrustBundle::sign(body, &key, key.device_key()).expect("signs")
}

fn verify(
    bundle: &SignedTrustBundle,
    kept: Option<u64>,
) -> Result<VerifiedTrustBundle, TrustBundleError> {
    bundle.verify(receiver().device_key(), kept, UnixTime(NOW))
}

#[test]
fn a_signed_bundle_gives_its_anchors_and_lists() {
    let bundle = signed(body(4));
    let parsed = SignedTrustBundle::from_json(&bundle.to_json()).expect("parses");
    let verified = verify(&parsed, Some(3)).expect("verifies");
    assert_eq!(verified.serial, 4);
    assert_eq!(verified.anchors().jpki_roots().len(), 1);
    assert_eq!(verified.revocation_lists().len(), 1);
    assert!(!verified.is_expired(UnixTime(NOW)));
    assert_eq!(verified.age_hours(UnixTime(NOW)), 1);
    // The same serial again (a sync with nothing new) is fine.
    verify(&parsed, Some(4)).expect("the kept serial again verifies");
}

#[test]
fn an_edited_bundle_or_another_key_is_refused() {
    let mut bundle = signed(body(1));
    bundle.bundle.lists.clear();
    assert_eq!(
        verify(&bundle, None).err(),
        Some(TrustBundleError::BadSignature)
    );
    let bundle = signed(body(1));
    let other = SoftwareSigner::from_secret_bytes(&[8; 32]).expect("key");
    assert_eq!(
        bundle.verify(other.device_key(), None, UnixTime(NOW)).err(),
        Some(TrustBundleError::BadSignature)
    );
    let mut bundle = signed(body(1));
    bundle.signature = "not base64".into();
    assert_eq!(
        verify(&bundle, None).err(),
        Some(TrustBundleError::BadSignature)
    );
}

#[test]
fn an_older_bundle_than_the_kept_one_is_refused() {
    let bundle = signed(body(2));
    assert_eq!(
        verify(&bundle, Some(3)).err(),
        Some(TrustBundleError::Rollback { kept: 3, found: 2 })
    );
}

#[test]
fn a_bundle_from_the_future_or_of_another_format_is_refused() {
    let mut future = body(1);
    future.issued_at = NOW + 3_600;
    future.expires_at = NOW + 7_200;
    assert!(matches!(
        verify(&signed(future), None),
        Err(TrustBundleError::NotYetValid { .. })
    ));
    let mut other = body(1);
    other.format = "honnin.trust-bundle.v9".into();
    let key = receiver();
    // Signing checks contents, not the format: a receiver of another version could sign it.
    let bundle = SignedTrustBundle::sign(other, &key, key.device_key()).expect("signs");
    assert!(matches!(
        verify(&bundle, None),
        Err(TrustBundleError::UnknownFormat { .. })
    ));
}

#[test]
fn malformed_contents_are_refused_when_signing() {
    let key = receiver();
    type Edit = Box<dyn Fn(&mut TrustBundleBody)>;
    let cases: Vec<(Edit, &str)> = vec![
        (Box::new(|b| b.anchors.clear()), "no trust anchor"),
        (
            Box::new(|b| b.anchors[0].certificate = BASE64.encode(b"not a certificate")),
            "der[0]",
        ),
        (
            Box::new(|b| b.anchors[0].certificate = "%%".into()),
            "not base64",
        ),
        (
            Box::new(|b| b.lists[0].crl = BASE64.encode(b"junk")),
            "not valid DER",
        ),
        (
            Box::new(|b| b.lists[0].next_update = Some(0)),
            "stated dates",
        ),
        (Box::new(|b| b.lists[0].label = "\u{7}".into()), "label"),
        (Box::new(|b| b.expires_at = b.issued_at), "expires before"),
    ];
    for (edit, why) in cases {
        let mut bad = body(1);
        edit(&mut bad);
        let error = SignedTrustBundle::sign(bad, &key, key.device_key())
            .expect_err("refused")
            .to_string();
        assert!(error.contains(why), "{error} should say {why}");
    }
}

#[test]
fn garbage_is_a_typed_error() {
    for bytes in [
        &b"{}"[..],
        b"[1,2]",
        b"",
        b"{\"bundle\": 1, \"signature\": \"\"}",
    ] {
        assert!(matches!(
            SignedTrustBundle::from_json(bytes),
            Err(TrustBundleError::Invalid { .. })
        ));
    }
}

#[test]
fn the_lists_of_an_expired_bundle_fail_the_revocation_check_naming_the_bundle() {
    use crate::card::types::CertificateDer;
    use crate::verify::x509::{
        KeyPurpose, check_revocation, select_revocation_list, validate_chain,
    };
    let verified = verify(&signed(body(7)), None).expect("verifies");
    let chain = validate_chain(
        &CertificateDer(file("card-auth.cert.der")),
        &[CertificateDer(file("jpki-auth-ca.cert.der"))],
        verified.anchors(),
        UnixTime(NOW),
        KeyPurpose::Authentication,
    );
    let lists = verified.revocation_lists();
    let list = select_revocation_list(chain.verified().expect("chain"), &lists);
    let fresh = check_revocation(&chain, list, UnixTime(NOW));
    assert_eq!(
        (fresh.state, fresh.reason),
        (CheckState::Passed, Reason::NotRevoked)
    );
    assert!(
        fresh.detail.contains("from trust bundle 7 issued"),
        "{}",
        fresh.detail
    );
    let later = UnixTime(verified.expires_at + 1);
    assert!(verified.is_expired(later));
    let stale = check_revocation(&chain, list, later);
    assert_eq!(
        (stale.state, stale.reason),
        (CheckState::Failed, Reason::RevocationListInvalid)
    );
    assert!(stale.detail.contains("expired on"), "{}", stale.detail);
}

fn mdoc_iaca() -> BundleAnchor {
    BundleAnchor {
        label: "mdoc-iaca.cert.der".into(),
        certificate: BASE64.encode(file("mdoc/mdoc-iaca.cert.der")),
    }
}

#[test]
fn a_v2_bundle_carries_the_phone_issuer_anchors() {
    let mut v2 = body(5);
    v2.format = TRUST_BUNDLE_FORMAT_V2.into();
    v2.mdoc_anchors = vec![mdoc_iaca()];
    let bundle = signed(v2);
    let json = bundle.to_json();
    let parsed = SignedTrustBundle::from_json(&json).expect("parses");
    assert_eq!(parsed, bundle);
    let verified = verify(&parsed, None).expect("verifies");
    assert_eq!(verified.mdoc_anchors().len(), 1);
    assert_eq!(
        verified
            .mdoc_anchors()
            .iter()
            .next()
            .expect("one")
            .certificate_der(),
        file("mdoc/mdoc-iaca.cert.der")
    );
    // A v1 bundle has none, and its JSON (and so what is signed) has no trace of the field:
    // the bytes an older device reads and verifies are those of before v2.
    let v1 = signed(body(5));
    assert!(
        verify(&v1, None)
            .expect("verifies")
            .mdoc_anchors()
            .is_empty()
    );
    let text = String::from_utf8(v1.to_json()).expect("utf-8");
    assert!(!text.contains("mdoc_anchors"), "{text}");
    // Nor does a v2 bundle without phone anchors.
    let mut empty_v2 = body(5);
    empty_v2.format = TRUST_BUNDLE_FORMAT_V2.into();
    let text = String::from_utf8(signed(empty_v2).to_json()).expect("utf-8");
    assert!(!text.contains("mdoc_anchors"), "{text}");
}

#[test]
fn phone_issuer_anchors_in_a_v1_bundle_or_of_the_wrong_kind_are_refused() {
    let key = receiver();
    let mut v1 = body(1);
    v1.mdoc_anchors = vec![mdoc_iaca()];
    assert!(matches!(
        SignedTrustBundle::sign(v1.clone(), &key, key.device_key()),
        Err(RecordError::Malformed { .. })
    ));
    // Signed as a v2 bundle, then relabelled v1: the signature no longer matches either way,
    // and a v1 body with phone anchors is refused even when signed over (a receiver bug).
    let mut relabelled = {
        let mut v2 = v1.clone();
        v2.format = TRUST_BUNDLE_FORMAT_V2.into();
        signed(v2)
    };
    relabelled.bundle.format = TRUST_BUNDLE_FORMAT.into();
    assert_eq!(
        verify(&relabelled, None).err(),
        Some(TrustBundleError::BadSignature)
    );
    // A J-LIS root (RSA) is no phone issuer anchor.
    let mut wrong = body(1);
    wrong.format = TRUST_BUNDLE_FORMAT_V2.into();
    wrong.mdoc_anchors = vec![BundleAnchor {
        label: "test-jpki-root.cert.der".into(),
        certificate: BASE64.encode(file("anchors/test-jpki-root.cert.der")),
    }];
    let refused = SignedTrustBundle::sign(wrong, &key, key.device_key())
        .expect_err("an RSA root is not an IACA");
    assert!(
        refused.to_string().contains("phone issuer anchors"),
        "{refused}"
    );
    let mut not_base64 = body(1);
    not_base64.format = TRUST_BUNDLE_FORMAT_V2.into();
    not_base64.mdoc_anchors = vec![BundleAnchor {
        label: "x".into(),
        certificate: "!!".into(),
    }];
    assert!(SignedTrustBundle::sign(not_base64, &key, key.device_key()).is_err());
}
