//! `honnin counter` at a post-office counter, through real pcscd: the software card is put in
//! vsmartcard's virtual reader, the clerk's answers come on stdin, and the verdict comes out;
//! taking the card away ends the check, and a card that leaves mid-check is checked again.
//! With `--store`, the check's record is stored, made at a counter. At level M the software
//! phone is on the reader: no secret is asked, the clerk confirms the portrait.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use honnin_e2e::virtual_reader::{VirtualReader, virtual_phone_reader, virtual_reader};
use honnin_simcard::mdoc::PhoneProfile;
use honnin_simcard::{Fault, Profile, When};

const ANCHORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/pki/anchors");
const MDOC_ANCHORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/pki/mdoc/anchors");

/// Runs the counter for one check of `card` at level B, answering item, addressee and PIN on
/// stdin; returns the verdict JSON and the stderr text.
fn one_check(
    card: honnin_simcard::SoftwareCard,
    extra: &[&str],
) -> Option<(serde_json::Value, String)> {
    let reader = virtual_reader(card)?;
    let mut args = vec!["--level", "B", "--trust-anchors", ANCHORS];
    args.extend_from_slice(extra);
    // Item, addressee, PIN; a second PIN in case the check restarts after the card left.
    Some(counter_once(
        reader,
        &args,
        "JP-0001\n試験 花子\n2468\n2468\n",
    ))
}

/// Runs the counter on `reader` for one check with `args`, `answers` on stdin; returns the
/// verdict JSON and the stderr text.
fn counter_once<C>(
    reader: VirtualReader<C>,
    args: &[&str],
    answers: &str,
) -> (serde_json::Value, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_honnin"))
        .args([
            "counter",
            "--reader",
            &format!("pcsc:{}", reader.reader),
            "--sender",
            "bank",
            "--stdin",
            "--max-checks",
            "1",
            "--wait-seconds",
            "30",
            "--json",
        ])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("honnin starts");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(answers.as_bytes()).expect("writes stdin");
    drop(input);

    // The verdict is printed while the card is still on the reader; then the counter waits for
    // it to be taken away.
    let stdout = child.stdout.take().expect("stdout");
    let mut json_text = String::new();
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    for line in lines.by_ref() {
        let line = line.expect("reads stdout");
        json_text.push_str(&line);
        json_text.push('\n');
        if line == "}" || Instant::now() > deadline {
            break;
        }
    }
    reader.stop();
    let output = child.wait_with_output().expect("honnin ends");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "counter failed: {stderr}");
    let json =
        serde_json::from_str(&json_text).unwrap_or_else(|e| panic!("{e}: {json_text}\n{stderr}"));
    (json, stderr)
}

#[test]
fn counter_checks_a_card_and_waits_for_its_removal() {
    let card = Profile::Genuine.build().expect("builds");
    let Some((json, stderr)) = one_check(card, &[]) else {
        return;
    };
    assert_eq!(json["verdict"], "genuine", "{json:#}\n{stderr}");
    assert_eq!(json["item"], "JP-0001");
    assert!(stderr.contains("take the card away"), "{stderr}");
    assert!(!stderr.contains("2468") && !json.to_string().contains("2468"));
}

#[test]
fn counter_recovers_when_the_card_leaves_during_the_check() {
    // The card leaves the field at its 3rd exchange (a free read) and comes back.
    let card = Profile::Genuine
        .build()
        .expect("builds")
        .with_fault(Fault::TagLostBefore(When::Exchange(3)));
    let Some((json, stderr)) = one_check(card, &[]) else {
        return;
    };
    assert_eq!(json["verdict"], "genuine", "{json:#}\n{stderr}");
    assert!(
        json["card"]["tag_losses"].as_u64().unwrap_or(0) >= 1,
        "{json:#}"
    );
}

#[test]
fn counter_stores_each_checks_record_made_at_the_counter() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("counter.db");
    let store_arg = store.to_str().expect("utf-8 path");
    let card = Profile::Genuine.build().expect("builds");
    let Some((json, stderr)) = one_check(card, &["--store", store_arg, "--courier", "clerk-7"])
    else {
        return;
    };
    assert_eq!(json["verdict"], "genuine", "{json:#}\n{stderr}");
    assert_eq!(json["record"]["seq"], 1, "{json:#}");

    let shown = Command::new(env!("CARGO_BIN_EXE_honnin"))
        .args(["records", "show", "#1", "--store", store_arg, "--json"])
        .output()
        .expect("honnin runs");
    assert!(shown.status.success(), "{shown:?}");
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("json");
    let body = &shown["record"]["body"];
    assert_eq!(body["station"], "counter", "{shown:#}");
    assert_eq!(body["item_id"], "JP-0001");
    assert_eq!(body["sender_id"], "bank");
    assert_eq!(body["courier_id"], "clerk-7");
    assert_eq!(body["level"], "B");
    assert!(
        shown["signature"]
            .as_str()
            .is_some_and(|s| s.starts_with("verified")),
        "{shown:#}"
    );
}

/// The phone on the reader at level M: item, addressee, then the clerk's answer about the
/// portrait on stdin (no secret line).
fn phone_check(
    profile: PhoneProfile,
    confirm: &str,
    extra: &[&str],
) -> Option<(serde_json::Value, String)> {
    let reader = virtual_phone_reader(profile.build().expect("the phone builds"))?;
    let mut args = vec!["--level", "M", "--mdoc-anchors", MDOC_ANCHORS];
    args.extend_from_slice(extra);
    let answers = format!("JP-0001\n試験 花子\n{confirm}\n");
    Some(counter_once(reader, &args, &answers))
}

#[test]
fn counter_checks_a_phone_at_level_m_and_records_it_at_the_counter() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("counter.db");
    let store_arg = store.to_str().expect("utf-8 path");
    let Some((json, stderr)) = phone_check(PhoneProfile::Genuine, "y", &["--store", store_arg])
    else {
        return;
    };
    assert_eq!(json["verdict"], "genuine", "{json:#}\n{stderr}");
    assert_eq!(json["level"], "M", "{json:#}");
    assert!(stderr.contains("put the phone on the reader"), "{stderr}");
    assert!(stderr.contains("Does the portrait show"), "{stderr}");
    assert!(stderr.contains("take the phone away"), "{stderr}");
    // No secret was asked of the phone.
    assert!(!stderr.contains("PIN"), "{stderr}");

    let shown = Command::new(env!("CARGO_BIN_EXE_honnin"))
        .args(["records", "show", "#1", "--store", store_arg, "--json"])
        .output()
        .expect("honnin runs");
    assert!(shown.status.success(), "{shown:?}");
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("json");
    let body = &shown["record"]["body"];
    assert_eq!(body["station"], "counter", "{shown:#}");
    assert_eq!(body["level"], "M", "{shown:#}");
    assert_eq!(body["verdict"], "genuine", "{shown:#}");
}

#[test]
fn counter_at_level_m_names_a_cloned_phone_forged_and_a_refused_portrait_is_not_genuine() {
    // A clone: the issuer's data copied, without the phone's device key. Never shown.
    let Some((json, stderr)) = phone_check(PhoneProfile::Clone, "y", &[]) else {
        return;
    };
    assert_eq!(json["verdict"], "forged", "{json:#}\n{stderr}");
    assert!(!stderr.contains("Does the portrait show"), "{stderr}");

    // A genuine phone whose portrait the clerk says is someone else.
    let Some((json, stderr)) = phone_check(PhoneProfile::Genuine, "n", &[]) else {
        return;
    };
    assert_ne!(json["verdict"], "genuine", "{json:#}\n{stderr}");
    let face = json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["check"] == "face_confirmation")
        .expect("face confirmation");
    assert_eq!(face["state"], "failed", "{json:#}");
}

#[test]
fn counter_at_level_m_without_phone_issuer_anchors_refuses_to_start() {
    let out = Command::new(env!("CARGO_BIN_EXE_honnin"))
        .args([
            "counter",
            "--level",
            "M",
            "--sender",
            "bank",
            "--stdin",
            "--max-checks",
            "1",
        ])
        .output()
        .expect("honnin runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--mdoc-anchors"), "{stderr}");
}

#[test]
fn counter_at_a_card_level_asks_a_phone_for_no_pin_and_records_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("counter.db");
    let store_arg = store.to_str().expect("utf-8 path");
    let phone = PhoneProfile::Genuine.build().expect("the phone builds");
    let Some(reader) = virtual_phone_reader(phone) else {
        return;
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_honnin"))
        .args([
            "counter",
            "--reader",
            &format!("pcsc:{}", reader.reader),
            "--level",
            "B",
            "--sender",
            "bank",
            "--trust-anchors",
            ANCHORS,
            "--stdin",
            "--max-checks",
            "1",
            "--wait-seconds",
            "3",
            "--store",
            store_arg,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("honnin starts");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all("JP-0001\n試験 花子\n2468\n".as_bytes())
        .expect("writes stdin");
    drop(input);
    // The counter names what it found and waits for it to be taken away.
    let mut stderr = String::new();
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    for line in lines.by_ref() {
        let line = line.expect("reads stderr");
        stderr.push_str(&line);
        stderr.push('\n');
        if line.contains("take it away") {
            break;
        }
    }
    reader.stop();
    // Then it waits for the next holder, and gives up after --wait-seconds.
    for line in lines {
        stderr.push_str(&line.expect("reads stderr"));
        stderr.push('\n');
    }
    let _ = child.wait();
    // Told apart before the PIN line was read: "no secret was asked for".
    assert!(stderr.contains("this is a phone wallet"), "{stderr}");
    assert!(stderr.contains("no secret was asked for"), "{stderr}");
    let listed = Command::new(env!("CARGO_BIN_EXE_honnin"))
        .args(["records", "list", "--store", store_arg, "--json"])
        .output()
        .expect("honnin runs");
    let rows: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap_or_default();
    assert!(
        rows.as_array().is_none_or(|rows| rows.is_empty()),
        "a record was made: {rows}"
    );
}
