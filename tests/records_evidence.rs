//! Re-verification proves, never trusts: a record made by a compromised handheld (its device
//! signature valid, its contents chosen) is never `verified` unless it carries the whole
//! evidence of its level. One test per hole of issue 17 that lives in the core's verifier; the
//! receiver's side is in receiver/tests/reverify.rs.

use honnin_core::check::{Level, Verifier};
use honnin_core::record::{AttributePolicy, RecordError, SignedRecord};
use honnin_core::verify::CheckState;
use honnin_core::verify::record::{
    RecordExpectation, RecordOutcome, RecordVerification, TimeWindow, verify_record,
};
use honnin_e2e::records::{device_signer, draft_of, edited, genuine_report};
use honnin_e2e::verifier_with_crl;

fn signed(level: Level, policy: AttributePolicy) -> SignedRecord {
    let draft = draft_of(&genuine_report(level), policy);
    let signer = device_signer();
    SignedRecord::sign(
        draft,
        &[7u8; 16],
        honnin_core::record::ChainLink::GENESIS,
        &signer,
        signer.device_key(),
    )
    .expect("signs")
}

fn verify(record: &SignedRecord, window: TimeWindow) -> RecordVerification {
    let key = device_signer().device_key().clone();
    verify_record(
        record,
        &verifier_with_crl(),
        &RecordExpectation {
            device_key: &key,
            item_id: Some("JP-ITEM-0001"),
            sender_id: Some("test-bank"),
            previous: None,
            time_window: window,
        },
    )
}

fn state(result: &RecordVerification, check: &str) -> Option<CheckState> {
    result.check(check).map(|c| c.state)
}

/// Defect 1: a level B or C record that leaves its certificates out has nothing that fails,
/// and was `verified`. It must be `unverified`, naming the chain and the card signature.
#[test]
fn a_jpki_record_without_certificates_is_unverified() {
    for level in [Level::B, Level::C] {
        let stripped = edited(&signed(level, AttributePolicy::default()), |body| {
            body["certificates"] = serde_json::json!([]);
        })
        .expect("parses");
        let result = verify(&stripped, TimeWindow::UNKNOWN);
        assert_eq!(result.outcome, RecordOutcome::Unverified, "{result:#?}");
        assert!(!result.is_verified());
        assert_eq!(state(&result, "device_signature"), Some(CheckState::Passed));
        for needed in ["certificate_chain", "challenge_signature"] {
            assert!(
                result.missing.iter().any(|m| m.starts_with(needed)),
                "{level:?}: {needed} not named in {:?}",
                result.missing
            );
        }
    }
}

/// Defect 1: certificates but no card signature (the PIN step "skipped"): unverified.
#[test]
fn a_jpki_record_without_the_card_signature_is_unverified() {
    for level in [Level::B, Level::C] {
        let unsigned = edited(&signed(level, AttributePolicy::default()), |body| {
            body["card_signature"] = serde_json::Value::Null;
        })
        .expect("parses");
        let result = verify(&unsigned, TimeWindow::UNKNOWN);
        assert_eq!(result.outcome, RecordOutcome::Unverified, "{result:#?}");
        assert_eq!(
            state(&result, "certificate_chain"),
            Some(CheckState::Passed)
        );
        assert_eq!(
            state(&result, "challenge_signature"),
            Some(CheckState::NotPresent)
        );
        assert_eq!(
            result.missing,
            vec!["challenge_signature (must be passed, is not_present)".to_owned()]
        );
    }
}

/// Defect 1: a record without a challenge has no card signature bound to this parcel.
#[test]
fn a_record_without_its_challenge_is_unverified_at_every_level() {
    for level in [Level::A, Level::B, Level::C] {
        let unbound = edited(&signed(level, AttributePolicy::default()), |body| {
            body["challenge"] = serde_json::Value::Null;
        })
        .expect("parses");
        let result = verify(&unbound, TimeWindow::UNKNOWN);
        assert_ne!(result.outcome, RecordOutcome::Verified, "{level:?}");
        assert!(
            result
                .missing
                .iter()
                .any(|m| m.starts_with("challenge_digest")),
            "{level:?}: {:?}",
            result.missing
        );
    }
}

/// Defect 1 at level A: without the issuer signature's digest or the chip's signature the
/// device's word has not even its evidence behind it.
#[test]
fn a_level_a_record_without_its_card_evidence_is_unverified() {
    let genuine = signed(Level::A, AttributePolicy::default());
    assert_eq!(
        verify(&genuine, TimeWindow::UNKNOWN).outcome,
        RecordOutcome::Verified
    );
    for (field, check) in [
        ("card_face", "card_face_signature"),
        ("card_signature", "challenge_signature"),
    ] {
        let stripped =
            edited(&genuine, |body| body[field] = serde_json::Value::Null).expect("parses");
        let result = verify(&stripped, TimeWindow::UNKNOWN);
        assert_eq!(result.outcome, RecordOutcome::Unverified, "{field}");
        assert_eq!(state(&result, check), Some(CheckState::NotPresent));
    }
}

/// Defect 2: a level or verdict outside the format's codes is refused when the record is
/// read, so no verifier can route a lowercase "c" down the level-A path.
#[test]
fn unknown_or_lowercase_levels_and_verdicts_are_refused() {
    let record = signed(Level::C, AttributePolicy::default());
    for (field, value) in [
        ("level", "c"),
        ("level", "b"),
        ("level", "D"),
        ("level", ""),
        ("verdict", "Genuine"),
        ("verdict", "verified"),
    ] {
        let result = edited(&record, |body| body[field] = value.into());
        match result {
            Err(RecordError::Malformed { why }) => {
                assert!(why.contains(field), "{field}={value:?}: {why}")
            }
            other => panic!("{field}={value:?} was not refused: {other:?}"),
        }
    }
    let result = edited(&record, |body| body["level"] = serde_json::json!(3));
    assert!(matches!(result, Err(RecordError::Malformed { .. })));
}

/// Defect 4: the claimed time must lie between the previous record and the receipt.
#[test]
fn a_record_outside_its_time_window_fails_check_time() {
    let record = signed(Level::B, AttributePolicy::default());
    let claimed = record.body().time().0;
    let inside = verify(
        &record,
        TimeWindow {
            not_before: Some(claimed - 10),
            not_after: Some(claimed + 10),
        },
    );
    assert!(inside.is_verified(), "{inside:#?}");
    assert_eq!(state(&inside, "check_time"), Some(CheckState::Passed));

    // Backdated: the device's previous record is later than this one claims to be.
    let backdated = verify(
        &record,
        TimeWindow {
            not_before: Some(claimed + 3600),
            not_after: Some(claimed + 7200),
        },
    );
    assert_eq!(backdated.outcome, RecordOutcome::Failed);
    let check = backdated.check("check_time").expect("listed");
    assert_eq!(check.reason, "before_previous_record");

    // From the future: later than the receipt plus the skew allowed.
    let ahead = verify(&record, TimeWindow::at_receipt(None, claimed - 3600, 300));
    assert_eq!(ahead.outcome, RecordOutcome::Failed);
    assert_eq!(
        ahead.check("check_time").map(|c| c.reason.as_str()),
        Some("after_receipt")
    );
}

/// Defect 4: a challenge time moved back on its own (with the digest recomputed, as a device
/// that holds its key can) is bounded like the record's time, and the card's signature then
/// fails too.
#[test]
fn a_backdated_challenge_fails_check_time() {
    let record = signed(Level::B, AttributePolicy::default());
    let claimed = record.body().time().0;
    let moved = edited(&record, |body| {
        let time = claimed - 5 * 365 * 86_400;
        let nonce = hex::decode(body["challenge"]["nonce"].as_str().expect("nonce")).expect("hex");
        let inputs = honnin_core::verify::challenge::ChallengeInputs {
            item_id: "JP-ITEM-0001".into(),
            sender_id: "test-bank".into(),
            device_id: "handheld-01".into(),
            time: honnin_core::verify::UnixTime(time),
            nonce: nonce.try_into().expect("32 bytes"),
        };
        body["challenge"]["time"] = time.into();
        body["challenge"]["digest"] = hex::encode(inputs.digest()).into();
    })
    .expect("parses");
    let result = verify(
        &moved,
        TimeWindow {
            not_before: Some(claimed - 60),
            not_after: Some(claimed + 60),
        },
    );
    assert_eq!(result.outcome, RecordOutcome::Failed);
    assert_eq!(state(&result, "challenge_digest"), Some(CheckState::Passed));
    assert_eq!(
        result.check("check_time").map(|c| c.reason.as_str()),
        Some("before_previous_record")
    );
}

/// Defect 5: level C attributes are recomputed from the verified signing certificate: a
/// record that keeps another name than the certificate's fails.
#[test]
fn level_c_attributes_must_be_the_signing_certificates() {
    let record = signed(Level::C, AttributePolicy::ALL);
    let genuine = verify(&record, TimeWindow::UNKNOWN);
    assert!(genuine.is_verified(), "{genuine:#?}");
    assert_eq!(state(&genuine, "attributes"), Some(CheckState::Passed));

    for (field, value) in [
        ("name", "別人 太郎"),
        ("address", "東京都千代田区霞が関一丁目"),
        ("birth_date", "1970-01-01"),
        ("sex", "not_applicable"),
    ] {
        let changed =
            edited(&record, |body| body["attributes"][field] = value.into()).expect("parses");
        let result = verify(&changed, TimeWindow::UNKNOWN);
        assert_eq!(result.outcome, RecordOutcome::Failed, "{field}");
        let check = result.check("attributes").expect("listed");
        assert_eq!(check.reason, "attributes_mismatch", "{field}");
        assert!(check.detail.contains(field), "{}", check.detail);
        assert!(
            !check.detail.contains(value),
            "no personal data in the detail"
        );
    }
}

/// Level B attributes come from the input-support application: the device's word, and said so.
#[test]
fn level_b_attributes_are_reported_as_the_devices_word() {
    let result = verify(&signed(Level::B, AttributePolicy::ALL), TimeWindow::UNKNOWN);
    assert!(result.is_verified(), "{result:#?}");
    let check = result.check("attributes").expect("listed");
    assert_eq!(
        (check.state, check.reason.as_str()),
        (CheckState::NotChecked, "device_word")
    );
}

/// Nothing missing, nothing failed: the outcome of a genuine record at every level.
#[test]
fn genuine_records_carry_their_levels_full_evidence() {
    for level in [Level::A, Level::B, Level::C] {
        let result = verify(&signed(level, AttributePolicy::ALL), TimeWindow::UNKNOWN);
        assert!(result.is_verified(), "{level:?}: {result:#?}");
        assert!(result.missing.is_empty());
    }
    // The anchors alone (no CRL) still verify: revocation is not on the required list.
    let key = device_signer().device_key().clone();
    let anchors_only = Verifier::new(honnin_e2e::anchors());
    let result = verify_record(
        &signed(Level::B, AttributePolicy::default()),
        &anchors_only,
        &RecordExpectation {
            device_key: &key,
            item_id: None,
            sender_id: None,
            previous: None,
            time_window: TimeWindow::UNKNOWN,
        },
    );
    assert!(result.is_verified(), "{result:#?}");
    assert_eq!(state(&result, "revocation"), Some(CheckState::NotChecked));
}
