//! `honnin verify-record` as a sender runs it on an entry of the receiver's feed: exit codes,
//! the JSON result, and a tampered record refused.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use honnin_core::card::AuthPin;
use honnin_core::check::{CheckRequest, Verifier};
use honnin_core::reader::CardSession;
use honnin_core::record::{
    AttributePolicy, ChainLink, RecordContext, RecordDraft, SignedRecord, SoftwareSigner,
};
use honnin_core::verify::x509::TrustAnchors;
use honnin_core::verify::{FixedClock, RandomSource, UnixTime};
use honnin_simcard::Profile;

struct Counting(u8);
impl RandomSource for Counting {
    fn fill(&mut self, out: &mut [u8]) {
        for b in out {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
}

/// A feed entry holding a level B record of the genuine software card for item JP-0001.
fn feed_entry() -> serde_json::Value {
    let anchors = TrustAnchors::load_dir(honnin_simcard::fixtures::anchors_dir()).expect("anchors");
    let request = CheckRequest {
        item_id: "JP-0001".into(),
        sender_id: "bank".into(),
        device_id: "handheld-01".into(),
        addressee: None,
    };
    let clock = FixedClock(UnixTime::from_date(2026, 11, 25));
    let card = Profile::Genuine.build().expect("card");
    let mut session = CardSession::new(card);
    let pin = AuthPin::parse(honnin_simcard::holder::AUTH_PIN).expect("pin");
    let report = Verifier::new(anchors).check_level_b(
        &mut session,
        &request,
        &pin,
        &clock,
        &mut Counting(0),
    );
    let context = RecordContext {
        courier_id: "courier-7".into(),
        time: clock.0,
        policy: AttributePolicy::default(),
    };
    let draft = RecordDraft::from_check(&report, &request, &context).expect("draft");
    let signer = SoftwareSigner::from_secret_bytes(&[0x24; 32]).expect("key");
    let record = SignedRecord::sign(
        draft,
        &[1; 16],
        ChainLink::GENESIS,
        &signer,
        signer.device_key(),
    )
    .expect("signs");
    serde_json::json!({
        "cursor": "1",
        "record": record.to_json_value(),
        "device_key": BASE64.encode(signer.device_key().spki_der()),
    })
}

fn verify(entry: &serde_json::Value, extra: &[&str]) -> Output {
    let anchors = honnin_simcard::fixtures::anchors_dir();
    let mut child = Command::new(env!("CARGO_BIN_EXE_honnin"))
        .args(["verify-record", "-", "--trust-anchors"])
        .arg(anchors)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("honnin starts");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(entry.to_string().as_bytes())
        .expect("writes");
    drop(input);
    child.wait_with_output().expect("honnin ends")
}

#[test]
fn a_genuine_feed_entry_verifies() {
    let output = verify(
        &feed_entry(),
        &["--item", "JP-0001", "--sender", "bank", "--json"],
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(result["format"], "honnin.record-verification.v1");
    assert_eq!(result["outcome"], "verified");
    let signature = result["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["check"] == "challenge_signature")
        .expect("listed");
    assert_eq!(signature["state"], "passed");
}

/// `dir/name`: a list of the test authentication CA issued 2026-12-01 (after the record's
/// check on 2026-11-25), revoking the genuine card's certificate on `revoked_on`.
fn later_list(dir: &std::path::Path, name: &str, revoked_on: u8) -> std::path::PathBuf {
    use honnin_simcard::generate::x509::{fixture_ca_list, utc};
    let der = fixture_ca_list(
        "jpki-auth-ca",
        9,
        (utc(2026, 12, 1, 0, 0, 0), utc(2026, 12, 31, 0, 0, 0)),
        &[(
            honnin_simcard::generate::pki::serial::CARD_AUTH,
            utc(2026, 11, revoked_on, 0, 0, 0),
        )],
    )
    .expect("list");
    let path = dir.join(name);
    std::fs::write(&path, der).expect("writes");
    path
}

fn revocation_check(output: &Output) -> serde_json::Value {
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    result["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["check"] == "revocation")
        .cloned()
        .expect("listed")
}

#[test]
fn a_list_issued_after_the_check_decides_by_its_revocation_date() {
    // A sender verifies after the fact: a list from after the check tells whether the card was
    // revoked at the check time (2026-11-25), rather than being refused as "from the future".
    let dir = tempfile::tempdir().expect("temp dir");
    let before = later_list(dir.path(), "revoked-before.crl", 20);
    let output = verify(
        &feed_entry(),
        &["--json", "--crl", before.to_str().expect("utf-8")],
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let check = revocation_check(&output);
    assert_eq!(
        (&check["state"], &check["reason"]),
        (&"failed".into(), &"revoked".into())
    );

    let after = later_list(dir.path(), "revoked-after.crl", 28);
    let output = verify(
        &feed_entry(),
        &["--json", "--crl", after.to_str().expect("utf-8")],
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let check = revocation_check(&output);
    assert_eq!(check["state"], "passed", "{check}");
    assert!(
        check["detail"]
            .as_str()
            .is_some_and(|d| d.contains("issued after the check")),
        "{check}"
    );
}

#[test]
fn the_wrong_item_or_an_edited_record_fails() {
    let output = verify(&feed_entry(), &["--item", "JP-0002"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("FAIL item_binding"));

    let mut entry = feed_entry();
    entry["record"]["body"]["courier_id"] = "courier-8".into();
    let output = verify(&entry, &[]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("FAIL device_signature"));
}

#[test]
fn input_that_is_not_a_record_is_a_clear_error() {
    let output = verify(&serde_json::json!({"record": {"body": 1}}), &[]);
    assert_eq!(output.status.code(), Some(65), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("the record is not in its canonical form")
    );
}
