//! The sender's re-verification of proof records made by real door checks on the software card:
//! genuine records verify at every level, and each kind of tampering fails exactly its check.

use honnin_core::check::{Level, Verifier};
use honnin_core::reader::CardSession;
use honnin_core::record::{AttributePolicy, DeviceKey, SignedRecord, SoftwareSigner};
use honnin_core::verify::CheckState;
use honnin_core::verify::record::{RecordExpectation, RecordOutcome, TimeWindow, verify_record};
use honnin_e2e::records::{device_signer, draft_of, genuine_report};
use honnin_e2e::{CountingRandom, addressee, anchors, auth_pin, clock, request, verifier_with_crl};
use honnin_simcard::Profile;

fn signed(report: &honnin_core::check::DoorCheckReport, seq: u64, prev: [u8; 32]) -> SignedRecord {
    let draft = draft_of(report, AttributePolicy::default());
    let signer = device_signer();
    let link = honnin_core::record::ChainLink {
        seq,
        prev_hash: prev,
    };
    SignedRecord::sign(draft, &[seq as u8; 16], link, &signer, signer.device_key()).expect("signs")
}

fn genuine(level: Level) -> SignedRecord {
    signed(&genuine_report(level), 1, [0u8; 32])
}

fn expect(key: &DeviceKey) -> RecordExpectation<'_> {
    RecordExpectation {
        device_key: key,
        item_id: Some("JP-ITEM-0001"),
        sender_id: Some("test-bank"),
        previous: None,
        time_window: TimeWindow::UNKNOWN,
    }
}

fn state(record: &SignedRecord, verifier: &Verifier, check: &str) -> CheckState {
    let key = device_signer().device_key().clone();
    let result = verify_record(record, verifier, &expect(&key));
    result
        .check(check)
        .unwrap_or_else(|| panic!("{check} missing: {result:#?}"))
        .state
}

#[test]
fn genuine_records_verify_at_every_level() {
    let key = device_signer().device_key().clone();
    for level in [Level::B, Level::C] {
        let result = verify_record(&genuine(level), &verifier_with_crl(), &expect(&key));
        assert_eq!(result.outcome, RecordOutcome::Verified, "{result:#?}");
        for check in [
            "device_signature",
            "chain_link",
            "item_binding",
            "challenge_digest",
            "certificate_chain",
            "certificate_validity",
            "key_usage",
            "basic_constraints",
            "certificate_policy",
            "revocation",
            "challenge_signature",
        ] {
            assert_eq!(
                result.check(check).map(|c| c.state),
                Some(CheckState::Passed),
                "{level:?} {check}: {result:#?}"
            );
        }
    }
    let result = verify_record(&genuine(Level::A), &verifier_with_crl(), &expect(&key));
    assert_eq!(result.outcome, RecordOutcome::Verified, "{result:#?}");
    let signature = result.check("challenge_signature").expect("listed");
    assert_eq!(signature.state, CheckState::NotChecked);
    assert_eq!(signature.reason, "key_not_in_record");
}

#[test]
fn without_a_crl_revocation_is_not_checked() {
    let verifier = Verifier::new(anchors());
    assert_eq!(
        state(&genuine(Level::B), &verifier, "revocation"),
        CheckState::NotChecked
    );
}

#[test]
fn a_card_revoked_after_the_door_check_fails_revocation_at_the_sender() {
    // The device had no CRL (as at the door); the sender has one.
    let card = Profile::Revoked.build().expect("builds");
    let mut session = CardSession::new(card);
    let report = Verifier::new(anchors()).check_level_b(
        &mut session,
        &request(Some(addressee())),
        &auth_pin(),
        &clock(),
        &mut CountingRandom(0),
    );
    let record = signed(&report, 1, [0u8; 32]);
    let key = device_signer().device_key().clone();
    let result = verify_record(&record, &verifier_with_crl(), &expect(&key));
    assert_eq!(result.outcome, RecordOutcome::Failed);
    let revocation = result.check("revocation").expect("listed");
    assert_eq!(revocation.state, CheckState::Failed);
    assert_eq!(revocation.reason, "revoked");
}

#[test]
fn another_device_key_fails_the_device_signature() {
    let other = SoftwareSigner::from_secret_bytes(&[0x55; 32]).expect("valid scalar");
    let result = verify_record(
        &genuine(Level::B),
        &verifier_with_crl(),
        &expect(other.device_key()),
    );
    assert_eq!(result.outcome, RecordOutcome::Failed);
    assert_eq!(
        result.check("device_signature").map(|c| c.reason.as_str()),
        Some("foreign_key")
    );
}

#[test]
fn a_record_for_another_item_fails_the_binding() {
    let key = device_signer().device_key().clone();
    let mut expectation = expect(&key);
    expectation.item_id = Some("JP-ITEM-0002");
    let result = verify_record(&genuine(Level::C), &verifier_with_crl(), &expectation);
    assert_eq!(result.outcome, RecordOutcome::Failed);
    assert_eq!(
        result.check("item_binding").map(|c| c.state),
        Some(CheckState::Failed)
    );
}

/// A device (or anyone holding its key) that moves a card's signature to another parcel: the
/// device signature verifies, the recomputed challenge does not.
#[test]
fn a_card_signature_moved_to_another_item_fails_the_challenge() {
    let record = genuine(Level::B);
    let mut value: serde_json::Value =
        serde_json::from_slice(&record.to_envelope_bytes()).expect("json");
    value["body"]["item_id"] = "JP-ITEM-0002".into();
    let forged = resign(value);
    let key = device_signer().device_key().clone();
    let mut expectation = expect(&key);
    expectation.item_id = Some("JP-ITEM-0002");
    let result = verify_record(&forged, &verifier_with_crl(), &expectation);
    assert_eq!(
        result.check("device_signature").map(|c| c.state),
        Some(CheckState::Passed)
    );
    assert_eq!(
        result.check("challenge_digest").map(|c| c.state),
        Some(CheckState::Failed)
    );
    assert_eq!(result.outcome, RecordOutcome::Failed);
}

/// A challenge digest rewritten to match the new item: the card's signature no longer verifies.
#[test]
fn a_rewritten_challenge_fails_the_card_signature() {
    let record = genuine(Level::C);
    let mut value: serde_json::Value =
        serde_json::from_slice(&record.to_envelope_bytes()).expect("json");
    value["body"]["challenge"]["nonce"] = "00".repeat(32).into();
    let nonce = [0u8; 32];
    let time = value["body"]["challenge"]["time"].as_i64().expect("time");
    let inputs = honnin_core::verify::challenge::ChallengeInputs {
        item_id: "JP-ITEM-0001".into(),
        sender_id: "test-bank".into(),
        device_id: "handheld-01".into(),
        time: honnin_core::verify::UnixTime(time),
        nonce,
    };
    value["body"]["challenge"]["digest"] = hex::encode(inputs.digest()).into();
    let forged = resign(value);
    let verifier = verifier_with_crl();
    assert_eq!(
        state(&forged, &verifier, "challenge_digest"),
        CheckState::Passed
    );
    assert_eq!(
        state(&forged, &verifier, "challenge_signature"),
        CheckState::Failed
    );
}

#[test]
fn chain_links_are_checked_when_the_previous_record_is_known() {
    let report = genuine_report(Level::B);
    let first = signed(&report, 1, [0u8; 32]);
    let second = signed(&report, 2, first.hash());
    let key = device_signer().device_key().clone();
    let mut expectation = expect(&key);
    expectation.previous = Some((1, first.hash()));
    let result = verify_record(&second, &verifier_with_crl(), &expectation);
    assert_eq!(
        result.check("chain_link").map(|c| c.state),
        Some(CheckState::Passed)
    );

    let fork = signed(&report, 2, [9u8; 32]);
    let result = verify_record(&fork, &verifier_with_crl(), &expectation);
    assert_eq!(
        result.check("chain_link").map(|c| c.reason.as_str()),
        Some("broken_link")
    );

    let third = signed(&report, 3, second.hash());
    let result = verify_record(&third, &verifier_with_crl(), &expectation);
    assert_eq!(
        result.check("chain_link").map(|c| c.reason.as_str()),
        Some("not_next")
    );

    expectation.previous = None;
    let result = verify_record(&third, &verifier_with_crl(), &expectation);
    assert_eq!(
        result.check("chain_link").map(|c| c.state),
        Some(CheckState::NotChecked)
    );
}

fn resign(value: serde_json::Value) -> SignedRecord {
    honnin_e2e::records::resign(value).expect("parses")
}
