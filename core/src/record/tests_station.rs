//! The `station` field: a counter record says so under the device signature; a door record
//! leaves the field out, so its canonical bytes are those of a record made before the field
//! existed; no second encoding of either is accepted.

use super::*;
use crate::check::{CheckRequest, DoorCheckReport, Evidence, Level};
use crate::verify::{CheckId, CheckResult, Reason, UnixTime};

fn draft() -> RecordDraft {
    let request = CheckRequest {
        item_id: "JP-ITEM-0001".into(),
        sender_id: "test-bank".into(),
        device_id: "counter-01".into(),
        addressee: None,
    };
    let report = DoorCheckReport::build(
        Level::B,
        vec![CheckResult::passed(
            CheckId::CertificateChain,
            Reason::Verified,
        )],
        Evidence::default(),
    );
    let context = RecordContext {
        courier_id: "clerk-7".into(),
        time: UnixTime(1_795_564_800),
        policy: AttributePolicy::default(),
    };
    RecordDraft::from_check(&report, &request, &context).expect("draft")
}

fn sign(draft: RecordDraft) -> (SignedRecord, SoftwareSigner) {
    let signer = SoftwareSigner::from_secret_bytes(&[0x42; 32]).expect("key");
    let record = SignedRecord::sign(
        draft,
        &[7u8; 16],
        ChainLink::GENESIS,
        &signer,
        signer.device_key(),
    )
    .expect("signs");
    (record, signer)
}

/// The envelope of `record` with its body edited and the device signature left as it was.
fn edited(record: &SignedRecord, change: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut value = record.to_json_value();
    change(&mut value["body"]);
    serde_json::to_vec(&value).expect("json")
}

#[test]
fn a_door_record_has_no_station_field_and_keeps_its_bytes() {
    let (record, signer) = sign(draft());
    assert_eq!(record.body().station(), Station::Door);
    let text = String::from_utf8(record.canonical_body().to_vec()).expect("utf-8");
    assert!(!text.contains("station"), "{text}");
    // Parsed back, the body re-encodes to exactly the signed bytes and verifies.
    let parsed = SignedRecord::parse(&record.to_envelope_bytes()).expect("parses");
    assert_eq!(parsed.canonical_body(), record.canonical_body());
    assert_eq!(parsed.hash(), record.hash());
    parsed.verify(signer.device_key()).expect("verifies");
}

#[test]
fn a_counter_record_says_so_under_the_signature() {
    let (record, signer) = sign(draft().at_station(Station::Counter));
    let text = String::from_utf8(record.canonical_body().to_vec()).expect("utf-8");
    assert!(text.contains(r#""station":"counter""#), "{text}");
    let parsed = SignedRecord::parse(&record.to_envelope_bytes()).expect("parses");
    assert_eq!(parsed.body().station(), Station::Counter);
    parsed.verify(signer.device_key()).expect("verifies");

    // Dropping the field turns it into a door record: the signature no longer holds.
    let as_door = edited(&record, |body| {
        body.as_object_mut().map(|b| b.remove("station"));
    });
    let forged = SignedRecord::parse(&as_door).expect("a door record's shape");
    assert_eq!(forged.body().station(), Station::Door);
    assert_eq!(
        forged.verify(signer.device_key()),
        Err(RecordError::SignatureInvalid)
    );
}

#[test]
fn a_door_record_that_gains_a_station_no_longer_verifies() {
    let (record, signer) = sign(draft());
    let as_counter = edited(&record, |body| body["station"] = "counter".into());
    let parsed = SignedRecord::parse(&as_counter).expect("a counter record's shape");
    assert_eq!(
        parsed.verify(signer.device_key()),
        Err(RecordError::SignatureInvalid)
    );
}

#[test]
fn other_encodings_of_the_station_are_refused() {
    let (record, _) = sign(draft());
    for (value, expected) in [
        (serde_json::json!("door"), "leaves station out"),
        (serde_json::json!(null), "station"),
        (serde_json::json!("kiosk"), "station"),
        (serde_json::json!("Counter"), "station"),
        (serde_json::json!(1), "station"),
    ] {
        let bytes = edited(&record, |body| body["station"] = value.clone());
        let error = SignedRecord::parse(&bytes).expect_err("refused");
        assert!(error.to_string().contains(expected), "{value}: {error}");
    }
}
