//! Level M records: a genuine phone check's record re-verifies from the record alone under the
//! sender's IACA anchors, and each kind of tampering with its phone evidence fails its check.

use honnin_core::check::{Level, Verifier};
use honnin_core::record::{AttributePolicy, DeviceKey, SignedRecord};
use honnin_core::verify::CheckState;
use honnin_core::verify::record::{RecordExpectation, RecordOutcome, TimeWindow, verify_record};
use honnin_e2e::records::{device_signer, draft_of, edited, genuine_report};
use honnin_e2e::{anchors, verifier};

fn genuine() -> SignedRecord {
    let draft = draft_of(&genuine_report(Level::M), AttributePolicy::ALL);
    let signer = device_signer();
    let link = honnin_core::record::ChainLink {
        seq: 1,
        prev_hash: [0u8; 32],
    };
    SignedRecord::sign(draft, &[1; 16], link, &signer, signer.device_key()).expect("signs")
}

fn phone_verifier() -> Verifier {
    verifier().with_mdoc_anchors(honnin_simcard::mdoc::test_anchors().expect("IACA"))
}

/// An edit of a record body's JSON.
type Edit = Box<dyn Fn(&mut serde_json::Value)>;

fn expect(key: &DeviceKey) -> RecordExpectation<'_> {
    RecordExpectation {
        device_key: key,
        item_id: Some("JP-ITEM-0001"),
        sender_id: Some("test-bank"),
        previous: None,
        time_window: TimeWindow::UNKNOWN,
    }
}

#[test]
fn a_genuine_phone_record_verifies_and_keeps_no_portrait() {
    let record = genuine();
    let key = device_signer().device_key().clone();
    let result = verify_record(&record, &phone_verifier(), &expect(&key));
    assert_eq!(result.outcome, RecordOutcome::Verified, "{result:#?}");
    for check in [
        "mdoc_issuer_certificate",
        "mdoc_issuer_signature",
        "mdoc_doc_type",
        "mdoc_validity",
        "mdoc_element_digests",
        "mdoc_device_authentication",
    ] {
        assert_eq!(
            result.check(check).map(|c| c.state),
            Some(CheckState::Passed),
            "{check}"
        );
    }
    let json = String::from_utf8(record.to_envelope_bytes()).expect("utf-8");
    let entry = record.body().mdoc().expect("phone evidence");
    let portrait = entry
        .elements
        .iter()
        .find(|e| e.element == "portrait")
        .expect("portrait digest kept");
    assert!(portrait.item.is_none());
    // The JPEG 2000 signature box of the portrait never appears in the record (base64 or not).
    assert!(
        !json.contains("AAAADGpQICANCocK"),
        "portrait bytes in the record"
    );
    // Without the sender's IACA anchors the phone evidence is not verified, never passed.
    let result = verify_record(&record, &verifier(), &expect(&key));
    assert_eq!(result.outcome, RecordOutcome::Unverified);
    let _ = anchors();
}

#[test]
fn tampered_phone_evidence_fails_its_check() {
    let key = device_signer().device_key().clone();
    let record = genuine();
    let cases: Vec<(&str, Edit)> = vec![
        (
            "mdoc_element_digests",
            Box::new(|body| {
                body["mdoc"]["elements"][0]["digest"] = serde_json::json!("00".repeat(32));
            }),
        ),
        (
            "mdoc_device_authentication",
            Box::new(|body| {
                // Another session's transcript: the phone never signed this one.
                body["mdoc"]["session_transcript"] = serde_json::json!("gw==");
            }),
        ),
        (
            "mdoc_doc_type",
            Box::new(|body| {
                body["mdoc"]["doc_type"] = serde_json::json!("org.iso.18013.5.1.mDL");
            }),
        ),
        (
            "mdoc_issuer_signature",
            Box::new(|body| {
                body["mdoc"]["issuer_auth"] = serde_json::json!("hA==");
            }),
        ),
    ];
    for (check, edit) in cases {
        let tampered = edited(&record, |body| edit(body)).expect("re-signed");
        let result = verify_record(&tampered, &phone_verifier(), &expect(&key));
        assert_eq!(
            result.outcome,
            RecordOutcome::Failed,
            "{check}: {result:#?}"
        );
        assert_eq!(
            result.check(check).map(|c| c.state),
            Some(CheckState::Failed),
            "{check}: {result:#?}"
        );
    }
}
