//! `honnin check --reader pcsc` against a real pcscd:
//! - when the card leaves the field and comes back (issue 16): the check must resume and reach
//!   the genuine card's verdict, not end `card_removed`. The software card's `tag-loss:N` profile
//!   leaves the field before exchange N, and the vpcd bridge puts it back a second later;
//! - a phone wallet (issue 12): told from a card by AID, checked at level M (genuine, forged,
//!   pulled mid-transfer), and a phone at a card level or a card at level M refused before any
//!   secret is asked for.

mod support;

use honnin_e2e::virtual_reader::{virtual_phone_reader, virtual_reader};
use honnin_simcard::Profile;
use honnin_simcard::mdoc::PhoneProfile;

const ANCHORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/pki/anchors");

/// Runs `honnin check --json --stdin` at `level` on the card of `profile`; returns the JSON.
fn check_over_pcscd(profile: &str, level: &str) -> Option<(serde_json::Value, String)> {
    let card = Profile::from_name(profile)
        .expect("profile")
        .build()
        .expect("builds");
    let secret = match level {
        "A" => card.facts().matching_number_b.clone(),
        "B" => card.facts().auth_pin.to_owned(),
        _ => card.facts().sign_password.to_owned(),
    };
    let reader = virtual_reader(card)?;
    // The first exchange is the mdoc SELECT that tells a card from a phone.
    let reader_name = format!("pcsc:{}", reader.reader);
    let output = support::honnin(
        &[
            "check",
            "--reader",
            &reader_name,
            "--level",
            level,
            "--item",
            "JP-0001",
            "--sender",
            "bank",
            "--addressee",
            "試験 花子",
            "--trust-anchors",
            ANCHORS,
            "--face-confirmed",
            "--stdin",
            "--json",
        ],
        Some(&format!("{secret}\n")),
    );
    reader.stop();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stdout.contains(&secret) && !stderr.contains(&secret));
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    Some((json, stderr))
}

#[test]
fn check_resumes_when_the_card_leaves_after_the_matching_number_and_comes_back() {
    // Exchange 9 is the first after 照合番号B was accepted (SELECTs of the mdoc and JPKI AIDs
    // that tell a card from a phone, SELECT AP, SELECT and READ the CV certificate, SELECT the
    // PIN EF, tries left, VERIFY): what it unlocked is gone with the card.
    let Some((json, stderr)) = check_over_pcscd("tag-loss:9", "A") else {
        return;
    };
    assert_eq!(json["verdict"], "genuine", "{json:#}\n{stderr}");
    assert!(
        json["card"]["tag_losses"].as_u64().unwrap_or(0) >= 1,
        "{json:#}"
    );
}

#[test]
fn check_resumes_when_the_card_leaves_during_a_free_read() {
    let Some((json, stderr)) = check_over_pcscd("tag-loss:5", "B") else {
        return;
    };
    assert_eq!(json["verdict"], "genuine", "{json:#}\n{stderr}");
}

const PHONE_ANCHORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/pki/mdoc/anchors");

/// Runs `honnin check --reader pcsc:<vpcd> --level <level> --json --stdin` with the phone of
/// `profile` on the reader; returns the exit code, stdout and stderr.
fn phone_over_pcscd(
    profile: PhoneProfile,
    level: &str,
    extra: &[&str],
) -> Option<(i32, String, String)> {
    let reader = virtual_phone_reader(profile.build().expect("the phone builds"))?;
    let reader_name = format!("pcsc:{}", reader.reader);
    let mut args = vec![
        "check",
        "--reader",
        &reader_name,
        "--level",
        level,
        "--item",
        "JP-0002",
        "--sender",
        "bank",
        "--addressee",
        "試験 花子",
        "--trust-anchors",
        ANCHORS,
        "--mdoc-anchors",
        PHONE_ANCHORS,
        "--face-confirmed",
        "--stdin",
        "--json",
    ];
    args.extend_from_slice(extra);
    // A PIN on stdin, as a holder would type it at a card level: it must never be read.
    let output = support::honnin(&args, Some("1234\n"));
    reader.stop();
    Some((
        output.status.code().expect("exit code"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

fn failed(json: &serde_json::Value) -> Vec<String> {
    json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["state"] == "failed")
        .map(|c| format!("{}:{}", c["check"], c["reason"]).replace('"', ""))
        .collect()
}

#[test]
fn a_genuine_phone_over_pcsc_ends_in_a_genuine_level_m_record() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("records.db");
    let store = store.to_str().expect("utf-8 path");
    let Some((exit, stdout, stderr)) =
        phone_over_pcscd(PhoneProfile::Genuine, "M", &["--store", store])
    else {
        return;
    };
    let json: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    assert_eq!(exit, 0, "{json:#}\n{stderr}");
    assert_eq!(json["verdict"], "genuine");
    assert_eq!(json["level"], "M");
    assert!(
        json["message_en"].as_str().unwrap_or("").contains("phone"),
        "{json:#}"
    );
    assert_eq!(json["record"]["seq"], 1, "{json:#}");
    // Detection (one SELECT), NDEF engagement and the extended-length transfer.
    assert!(json["card"]["apdus"].as_u64().unwrap_or(0) >= 9, "{json:#}");
}

#[test]
fn a_cloned_phone_over_pcsc_is_refused_with_its_reason() {
    let Some((exit, stdout, stderr)) = phone_over_pcscd(PhoneProfile::Clone, "M", &[]) else {
        return;
    };
    let json: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    assert_eq!(exit, 1, "{json:#}");
    assert_eq!(json["verdict"], "forged");
    assert!(
        failed(&json).contains(&"mdoc_device_authentication:device_signature_invalid".into()),
        "{json:#}"
    );
}

#[test]
fn a_phone_pulled_mid_transfer_over_pcsc_is_card_removed_and_says_phone() {
    let Some((exit, stdout, stderr)) = phone_over_pcscd(PhoneProfile::StopsAnswering, "M", &[])
    else {
        return;
    };
    let json: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    assert_eq!(exit, 2, "{json:#}");
    assert_eq!(json["verdict"], "inconclusive");
    assert!(
        failed(&json).contains(&"card_communication:card_removed".into()),
        "{json:#}"
    );
    let removed = json["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["reason"] == "card_removed"))
        .map(|c| c["message_en"].to_string())
        .unwrap_or_default();
    assert!(removed.contains("the phone left the reader"), "{removed}");
}

#[test]
fn a_phone_at_a_card_level_is_refused_before_any_secret() {
    let Some((exit, stdout, stderr)) = phone_over_pcscd(PhoneProfile::Genuine, "B", &[]) else {
        return;
    };
    assert_eq!(exit, 64, "{stdout}\n{stderr}");
    assert!(stdout.is_empty(), "no verdict: {stdout}");
    assert!(stderr.contains("phone wallet"), "{stderr}");
    assert!(stderr.contains("--level M"), "{stderr}");
    assert!(!stderr.contains("PIN (4 digits)"), "{stderr}");
}

#[test]
fn a_card_at_level_m_is_refused_with_what_to_do() {
    let card = Profile::Genuine.build().expect("builds");
    let Some(reader) = virtual_reader(card) else {
        return;
    };
    let reader_name = format!("pcsc:{}", reader.reader);
    let output = support::honnin(
        &[
            "check",
            "--reader",
            &reader_name,
            "--level",
            "M",
            "--item",
            "JP-0003",
            "--sender",
            "bank",
            "--mdoc-anchors",
            PHONE_ANCHORS,
            "--json",
        ],
        None,
    );
    reader.stop();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("this is a My Number Card"), "{stderr}");
    assert!(stderr.contains("level A, B or C"), "{stderr}");
}
