//! `honnin counter` at a post-office counter, through real pcscd: the software card is put in
//! vsmartcard's virtual reader, the clerk's answers come on stdin, and the verdict comes out;
//! taking the card away ends the check, and a card that leaves mid-check is checked again.
//! With `--store`, the check's record is stored, made at a counter.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use honnin_e2e::virtual_reader::virtual_reader;
use honnin_simcard::{Fault, Profile, When};

const ANCHORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/pki/anchors");

/// Runs the counter for one check of `card`, answering item, addressee and PIN on stdin;
/// returns the verdict JSON and the stderr text.
fn one_check(
    card: honnin_simcard::SoftwareCard,
    extra: &[&str],
) -> Option<(serde_json::Value, String)> {
    let reader = virtual_reader(card)?;
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
            "30",
            "--json",
        ])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("honnin starts");
    let mut input = child.stdin.take().expect("stdin");
    // Item, addressee, PIN; a second PIN in case the check restarts after the card left.
    input
        .write_all("JP-0001\n試験 花子\n2468\n2468\n".as_bytes())
        .expect("writes stdin");
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
    Some((json, stderr))
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
