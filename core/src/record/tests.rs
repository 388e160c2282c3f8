//! Records made from reports, signed, parsed back, and chained.

use super::*;
use crate::card::{CalendarDate, Sex};
use crate::check::{CheckRequest, DoorCheckReport, Evidence, Level, VerifiedAttributes};
use crate::verify::challenge::ChallengeInputs;
use crate::verify::{CheckId, CheckResult, RandomSource, Reason, UnixTime};

struct Counter(u8);
impl RandomSource for Counter {
    fn fill(&mut self, out: &mut [u8]) {
        for b in out {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
}

const TIME: UnixTime = UnixTime(1_795_564_800);

fn request() -> CheckRequest {
    CheckRequest {
        item_id: "JP-ITEM-0001".into(),
        sender_id: "test-bank".into(),
        device_id: "handheld-01".into(),
        addressee: None,
    }
}

fn report(level: Level) -> DoorCheckReport {
    let challenge = ChallengeInputs::fresh(
        "JP-ITEM-0001",
        "test-bank",
        "handheld-01",
        TIME,
        &mut Counter(0),
    );
    let evidence = Evidence {
        challenge: Some(challenge),
        card_signature: Some(vec![0xAB; 256]),
        certificates: vec![vec![0x30, 0x82, 0x01], vec![0x30, 0x82, 0x02]],
        card_face_signed_digest: None,
        card_face_signature: None,
        mdoc: None,
        attributes: Some(VerifiedAttributes {
            name: "試験 太郎".into(),
            address: "東京都千代田区".into(),
            birth_date: CalendarDate::new(1990, 4, 1).expect("date"),
            sex: Sex::Male,
            source: "input_support",
        }),
    };
    let checks = vec![
        CheckResult::passed(CheckId::CertificateChain, Reason::Verified),
        CheckResult::not_checked(CheckId::Revocation, Reason::NoRevocationList),
    ];
    DoorCheckReport::build(level, checks, evidence)
}

fn context(policy: AttributePolicy) -> RecordContext {
    RecordContext {
        courier_id: "courier-7".into(),
        time: TIME,
        policy,
    }
}

fn signer() -> SoftwareSigner {
    SoftwareSigner::from_secret_bytes(&[3u8; 32]).expect("valid scalar")
}

fn draft(policy: AttributePolicy) -> RecordDraft {
    RecordDraft::from_check(&report(Level::B), &request(), &context(policy)).expect("draft")
}

fn sign(draft: RecordDraft, link: ChainLink, signer: &SoftwareSigner) -> SignedRecord {
    let id = [link.seq as u8; 16];
    SignedRecord::sign(draft, &id, link, signer, signer.device_key()).expect("signs")
}

fn chain(n: u64) -> Vec<SignedRecord> {
    let signer = signer();
    let mut records: Vec<SignedRecord> = Vec::new();
    let mut link = ChainLink::GENESIS;
    for _ in 0..n {
        let record = sign(draft(AttributePolicy::default()), link, &signer);
        link = ChainLink {
            seq: link.seq + 1,
            prev_hash: record.hash(),
        };
        records.push(record);
    }
    records
}

#[test]
fn a_record_round_trips_through_its_envelope() {
    let signer = signer();
    let record = sign(draft(AttributePolicy::ALL), ChainLink::GENESIS, &signer);
    let bytes = record.to_envelope_bytes();
    let parsed = SignedRecord::parse(&bytes).expect("parses");
    assert_eq!(parsed, record);
    parsed.verify(signer.device_key()).expect("verifies");
    assert_eq!(record.envelope_len(), bytes.len());
    // The envelope is canonical: re-encoding the parsed JSON gives the same bytes.
    let value: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(
        canonical::to_canonical_bytes(&value).expect("canonical"),
        bytes
    );
}

#[test]
fn the_body_has_exactly_the_documented_fields() {
    let record = sign(draft(AttributePolicy::ALL), ChainLink::GENESIS, &signer());
    let value = serde_json::to_value(record.body()).expect("json");
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "attributes",
            "attributes_requested",
            "card_face",
            "card_signature",
            "certificates",
            "challenge",
            "checks",
            "courier_id",
            "device_id",
            "device_key_id",
            "format",
            "item_id",
            "level",
            "prev_hash",
            "record_id",
            "sender_id",
            "seq",
            "time",
            "verdict",
        ]
    );
    assert_eq!(value["format"], "honnin.record.v1");
    assert_eq!(value["level"], "B");
    assert_eq!(value["checks"][1]["state"], "not_checked");
    assert_eq!(value["checks"][1]["reason"], "no_revocation_list");
}

#[test]
fn attributes_only_as_far_as_the_policy_asks() {
    let none = sign(
        draft(AttributePolicy::default()),
        ChainLink::GENESIS,
        &signer(),
    );
    assert!(none.body().attributes().is_none());
    assert!(none.body().attributes_requested().is_empty());
    let text = String::from_utf8(none.to_envelope_bytes()).expect("utf-8");
    assert!(!text.contains("試験") && !text.contains("東京都") && !text.contains("1990"));

    let birth_only = AttributePolicy {
        birth_date: true,
        ..AttributePolicy::default()
    };
    let record = sign(draft(birth_only), ChainLink::GENESIS, &signer());
    let attributes = record.body().attributes().expect("attributes");
    assert_eq!(attributes.birth_date.as_deref(), Some("1990-04-01"));
    assert_eq!(attributes.name, None);
    assert_eq!(attributes.sex, None);
    assert_eq!(record.body().attributes_requested(), ["birth_date"]);

    let all = sign(draft(AttributePolicy::ALL), ChainLink::GENESIS, &signer());
    let attributes = all.body().attributes().expect("attributes");
    assert_eq!(attributes.name.as_deref(), Some("試験 太郎"));
    assert_eq!(attributes.sex.as_deref(), Some("male"));
    // Debug output never shows them.
    assert!(!format!("{all:?} {attributes:?}").contains("試験"));
}

#[test]
fn the_challenge_can_be_recomputed_from_the_record() {
    let record = sign(
        draft(AttributePolicy::default()),
        ChainLink::GENESIS,
        &signer(),
    );
    let body = record.body();
    let entry = body.challenge().expect("challenge");
    let nonce = parse_hex::<32>(&entry.nonce).expect("nonce");
    let inputs = ChallengeInputs {
        item_id: body.item_id().into(),
        sender_id: body.sender_id().into(),
        device_id: body.device_id().into(),
        time: UnixTime(entry.time),
        nonce,
    };
    assert_eq!(hex_lower(&inputs.digest()), entry.digest);
}

#[test]
fn a_challenge_for_another_item_is_refused() {
    let mut other = request();
    other.item_id = "JP-ITEM-0002".into();
    let result = RecordDraft::from_check(
        &report(Level::B),
        &other,
        &context(AttributePolicy::default()),
    );
    assert_eq!(
        result.err(),
        Some(RecordError::ChallengeMismatch { field: "item id" })
    );
}

#[test]
fn unusable_ids_are_refused_by_name() {
    let mut context = context(AttributePolicy::default());
    context.courier_id = String::new();
    let result = RecordDraft::from_check(&report(Level::B), &request(), &context);
    assert!(matches!(
        result,
        Err(RecordError::InvalidField {
            field: "courier id",
            ..
        })
    ));
    context.courier_id = "a\nb".into();
    assert!(RecordDraft::from_check(&report(Level::B), &request(), &context).is_err());
}

type Edit = Box<dyn Fn(&mut serde_json::Value)>;

fn edit(record: &SignedRecord, change: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut value = record.to_json_value();
    change(&mut value);
    serde_json::to_vec(&value).expect("json")
}

#[test]
fn any_edit_breaks_the_signature() {
    let signer = signer();
    let record = sign(
        draft(AttributePolicy::default()),
        ChainLink::GENESIS,
        &signer,
    );
    let edits: Vec<Edit> = vec![
        Box::new(|v| v["body"]["verdict"] = "forged".into()),
        Box::new(|v| v["body"]["item_id"] = "JP-ITEM-9999".into()),
        Box::new(|v| v["body"]["seq"] = 2.into()),
        Box::new(|v| v["body"]["checks"][0]["state"] = "failed".into()),
        Box::new(|v| v["body"]["time"] = 1.into()),
    ];
    for change in edits {
        let parsed = SignedRecord::parse(&edit(&record, change)).expect("still parses");
        assert_eq!(
            parsed.verify(signer.device_key()),
            Err(RecordError::SignatureInvalid)
        );
    }
    let other = SoftwareSigner::from_secret_bytes(&[4u8; 32]).expect("valid scalar");
    assert!(matches!(
        record.verify(other.device_key()),
        Err(RecordError::ForeignKey { .. })
    ));
}

#[test]
fn non_canonical_or_foreign_shapes_are_refused() {
    let record = sign(
        draft(AttributePolicy::default()),
        ChainLink::GENESIS,
        &signer(),
    );
    let cases: Vec<Edit> = vec![
        Box::new(|v| {
            v["body"].as_object_mut().expect("obj").remove("attributes");
        }),
        Box::new(|v| v["body"]["face_image"] = "AAAA".into()),
        Box::new(|v| v["body"]["format"] = "honnin.record.v2".into()),
        Box::new(|v| v["body"]["seq"] = 1.5.into()),
        Box::new(|v| v["body"]["prev_hash"] = "00".into()),
        Box::new(|v| v["device_signature"] = "AAAA".into()),
        Box::new(|v| v["extra"] = 1.into()),
    ];
    for change in cases {
        assert!(SignedRecord::parse(&edit(&record, change)).is_err());
    }
    assert!(SignedRecord::parse(b"").is_err());
    assert!(SignedRecord::parse(b"[1,2]").is_err());
}

/// The store's reader takes the envelope's bytes as they are when they are exactly what
/// `to_envelope_bytes` writes; on every input it must give what `parse` gives, record or error.
#[test]
fn parse_envelope_agrees_with_parse_on_every_input() {
    let signer = signer();
    let record = sign(draft(AttributePolicy::ALL), ChainLink::GENESIS, &signer);
    let exact = record.to_envelope_bytes();
    let text = String::from_utf8(exact.clone()).expect("utf-8");
    let mut padded = exact.clone();
    padded.resize(exact.len().div_ceil(256) * 256 + 256, b' ');
    let parsed = SignedRecord::parse_envelope(&padded).expect("the stored form parses");
    assert_eq!(parsed, record);
    parsed.verify(signer.device_key()).expect("verifies");

    let mut inputs: Vec<Vec<u8>> = vec![
        exact.clone(),
        Vec::new(),
        b"[1,2]".to_vec(),
        exact[..exact.len() - 1].to_vec(),
        exact[..exact.len() / 2].to_vec(),
        [&exact[..], b"\n"].concat(),
        [&exact[..], b" x"].concat(),
        text.replacen("{\"body\":{", "{ \"body\":{", 1).into_bytes(),
        text.replacen(
            "\"item_id\":\"JP-ITEM-0001\"",
            "\"item_id\": \"JP-ITEM-0001\"",
            1,
        )
        .into_bytes(),
        // An escape where the canonical form writes the character itself.
        text.replacen("JP-ITEM-0001", "JP-ITEM-\\u00301", 1)
            .into_bytes(),
        text.replacen("\"level\":\"B\"", "\"level\":\"b\"", 1)
            .into_bytes(),
        text.replacen("\"verdict\":", "\"station\":\"door\",\"verdict\":", 1)
            .into_bytes(),
        text.replacen("\"device_signature\":\"", "\"device_signature\":\"\\/", 1)
            .into_bytes(),
    ];
    // The same envelope with its members swapped: same meaning, not the canonical bytes.
    let (body, signature) = text.split_at(text.find(",\"device_signature\"").expect("member"));
    inputs.push(format!("{{{},{}}}", &signature[1..signature.len() - 1], &body[1..]).into_bytes());
    let edits: Vec<Edit> = vec![
        Box::new(|v| v["body"]["verdict"] = "forged".into()),
        Box::new(|v| v["body"]["seq"] = 2.into()),
        Box::new(|v| {
            v["body"].as_object_mut().expect("obj").remove("attributes");
        }),
        Box::new(|v| v["body"]["face_image"] = "AAAA".into()),
        Box::new(|v| v["body"]["format"] = "honnin.record.v2".into()),
        Box::new(|v| v["body"]["prev_hash"] = "00".into()),
        Box::new(|v| v["body"]["record_id"] = "AB".repeat(16).into()),
        Box::new(|v| v["device_signature"] = "AAAA".into()),
        Box::new(|v| v["extra"] = 1.into()),
    ];
    for change in edits {
        inputs.push(edit(&record, change));
    }
    for input in inputs {
        assert_eq!(
            SignedRecord::parse_envelope(&input),
            SignedRecord::parse(&input),
            "{}",
            String::from_utf8_lossy(&input)
        );
    }
}

/// The store's form of every kind of body (every optional part present, a counter record, a
/// level M entry) is read by the fast path: the body types are declared in canonical member
/// order, and a field added out of order would fail here rather than only slow the store down.
#[test]
fn every_kind_of_body_takes_the_fast_path() {
    let signer = signer();
    let record = sign(draft(AttributePolicy::ALL), ChainLink::GENESIS, &signer);
    assert!(SignedRecord::parse_exact(&record.to_envelope_bytes()).is_some());
    let mut body = record.body().clone();
    body.station = Station::Counter;
    body.card_face = Some(CardFaceEntry {
        signed_digest: "00".repeat(32),
        signature: "AAAA".into(),
    });
    body.mdoc = Some(MdocEntry {
        doc_type: "org.iso.18013.5.1.mDL".into(),
        issuer_auth: "AAAA".into(),
        session_transcript: "AAAA".into(),
        device_namespaces: "AAAA".into(),
        device_signature: Some("AAAA".into()),
        elements: vec![MdocElementEntry {
            namespace: "org.iso.18013.5.1".into(),
            element: "family_name".into(),
            digest_id: 3,
            digest: "00".repeat(32),
            item: Some("AAAA".into()),
        }],
    });
    let value = serde_json::to_value(&body).expect("value");
    let canonical = canonical::to_canonical_bytes(&value).expect("canonical");
    assert!(canonical::encodes_canonically_as(&body, &canonical));
    let envelope = serde_json::to_vec(&serde_json::json!({
        "body": value,
        "device_signature": record.to_json_value()["device_signature"],
    }))
    .expect("json");
    let fast = SignedRecord::parse_exact(&envelope).expect("the fast path reads it");
    assert_eq!(Ok(fast), SignedRecord::parse(&envelope));
}

/// Numbers beyond what every JSON reader holds exactly, written where the canonical form would
/// put them: the fast path must refuse them as `parse` does, not take the bytes as canonical.
#[test]
fn out_of_range_numbers_are_refused_on_both_paths() {
    let signer = signer();
    let record = sign(draft(AttributePolicy::ALL), ChainLink::GENESIS, &signer);
    let beyond = (1u64 << 53) + 1;
    let edits: Vec<Edit> = vec![
        Box::new(move |v| v["body"]["seq"] = beyond.into()),
        Box::new(move |v| v["body"]["time"] = (-(beyond as i64)).into()),
        Box::new(move |v| v["body"]["challenge"]["time"] = beyond.into()),
        Box::new(|v| v["body"]["seq"] = u64::MAX.into()),
    ];
    for change in edits {
        let input = edit(&record, change);
        assert!(SignedRecord::parse_exact(&input).is_none());
        let parsed = SignedRecord::parse_envelope(&input);
        assert!(parsed.is_err(), "{}", String::from_utf8_lossy(&input));
        assert_eq!(parsed, SignedRecord::parse(&input));
    }
}

fn expectation(records: &[SignedRecord]) -> ChainExpectation {
    ChainExpectation {
        device_id: "handheld-01".into(),
        device_key: signer().device_key().clone(),
        start: ChainLink::GENESIS,
        head: records.last().map(|r| (r.body().seq(), r.hash())),
    }
}

fn verify(expect: ChainExpectation, rows: Vec<(u64, SignedRecord)>) -> ChainReport {
    let mut verifier = ChainVerifier::new(expect);
    for (position, record) in rows {
        verifier.push(position, Ok::<_, RecordError>(record));
    }
    verifier.finish()
}

fn positions(report: &ChainReport) -> Vec<u64> {
    report.problems.iter().map(|p| p.position).collect()
}

#[test]
fn an_intact_chain_verifies() {
    let records = chain(5);
    let rows = records
        .iter()
        .cloned()
        .map(|r| (r.body().seq(), r))
        .collect();
    let report = verify(expectation(&records), rows);
    assert!(report.is_intact(), "{report:?}");
    assert_eq!((report.checked, report.verified), (5, 5));
}

#[test]
fn deletions_reorderings_and_copies_are_named_by_position() {
    let records = chain(6);
    let at = |seq: u64| records[(seq - 1) as usize].clone();

    // Deleted in the middle.
    let rows = [1, 2, 4, 5, 6].map(|s| (s, at(s))).to_vec();
    let report = verify(expectation(&records), rows);
    assert_eq!(positions(&report), [3]);
    assert_eq!(
        report.problems[0].problem,
        Problem::Missing { from: 3, to: 3 }
    );

    // Deleted at the end: only the acknowledged head shows it.
    let rows = [1, 2, 3, 4].map(|s| (s, at(s))).to_vec();
    let report = verify(expectation(&records), rows);
    assert_eq!(
        report.problems[0],
        ChainProblem {
            position: 5,
            problem: Problem::Missing { from: 5, to: 6 }
        }
    );

    // Two records swapped.
    let rows = vec![
        (1, at(1)),
        (2, at(3)),
        (3, at(2)),
        (4, at(4)),
        (5, at(5)),
        (6, at(6)),
    ];
    let report = verify(expectation(&records), rows);
    assert_eq!(positions(&report), [2, 3]);
    assert_eq!(report.problems[0].problem, Problem::Moved { holds_seq: 3 });

    // Deleted and re-inserted at the end.
    let rows = vec![
        (1, at(1)),
        (2, at(2)),
        (4, at(4)),
        (5, at(5)),
        (6, at(6)),
        (7, at(3)),
    ];
    let report = verify(expectation(&records), rows);
    assert_eq!(positions(&report), [3, 7, 7]);

    // A copy of a record in place of another.
    let rows = vec![
        (1, at(1)),
        (2, at(2)),
        (3, at(2)),
        (4, at(4)),
        (5, at(5)),
        (6, at(6)),
    ];
    let report = verify(expectation(&records), rows);
    assert_eq!(
        report.problems[0],
        ChainProblem {
            position: 3,
            problem: Problem::Duplicate { first_position: 2 }
        }
    );
}

#[test]
fn a_record_from_another_device_key_is_rejected() {
    let mut records = chain(3);
    let other = SoftwareSigner::from_secret_bytes(&[5u8; 32]).expect("valid scalar");
    let link = records[1].link();
    records[1] = sign(draft(AttributePolicy::default()), link, &other);
    let rows = records
        .iter()
        .cloned()
        .map(|r| (r.body().seq(), r))
        .collect();
    let report = verify(expectation(&records), rows);
    assert_eq!(positions(&report), [2]);
    assert!(matches!(
        report.problems[0].problem,
        Problem::Rejected(RecordError::ForeignKey { .. })
    ));
}

#[test]
fn an_unreadable_record_is_named() {
    let records = chain(3);
    let mut verifier = ChainVerifier::new(expectation(&records));
    verifier.push(1, Ok::<_, RecordError>(records[0].clone()));
    verifier.push(2, Err(RecordError::Malformed { why: "test".into() }));
    verifier.push(3, Ok::<_, RecordError>(records[2].clone()));
    let report = verifier.finish();
    assert_eq!(positions(&report), [2]);
    assert!(
        report.problems[0]
            .to_string()
            .starts_with("position 2: cannot be read")
    );
}
