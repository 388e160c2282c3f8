//! `honnin check` over PC/SC when the card leaves the field and comes back (issue 16): the check
//! must resume and reach the genuine card's verdict, not end `card_removed`.
//!
//! The software card sits in vsmartcard's virtual reader behind a real pcscd; its `tag-loss:N`
//! profile leaves the field before exchange N, and the vpcd bridge puts it back a second later.

mod support;

use honnin_e2e::virtual_reader::virtual_reader;
use honnin_simcard::Profile;

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
    // Exchange 7 is the first after 照合番号B was accepted (SELECT AP, SELECT and READ the CV
    // certificate, SELECT the PIN EF, tries left, VERIFY): what it unlocked is gone with the card.
    let Some((json, stderr)) = check_over_pcscd("tag-loss:7", "A") else {
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
    let Some((json, stderr)) = check_over_pcscd("tag-loss:3", "B") else {
        return;
    };
    assert_eq!(json["verdict"], "genuine", "{json:#}\n{stderr}");
}
