//! `honnin check` as an operator runs it: verdicts and exit codes per profile, the JSON schema,
//! secrets from stdin, and no secret in anything printed.

mod support;

use support::honnin;

const ADDRESSEE: &str = "試験 花子";

fn check(
    profile: &str,
    level: &str,
    extra: &[&str],
    stdin: Option<&str>,
) -> (i32, serde_json::Value, String) {
    let reader = format!("sim:{profile}");
    let mut args = vec![
        "check",
        "--reader",
        &reader,
        "--level",
        level,
        "--item",
        "JP-0001",
        "--sender",
        "bank",
        "--addressee",
        ADDRESSEE,
        "--check-time",
        "2026-11-25",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = honnin(&args, stdin);
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    (
        out.status.code().expect("exit code"),
        json,
        format!("{stdout}{stderr}"),
    )
}

#[test]
fn exit_codes_follow_the_verdict() {
    let cases = [
        ("genuine", "A", 0, "genuine"),
        ("genuine", "B", 0, "genuine"),
        ("genuine", "C", 0, "genuine"),
        ("forged-ca", "A", 1, "forged"),
        ("clone", "B", 1, "forged"),
        ("tampered-face", "A", 1, "forged"),
        ("expired-card", "A", 2, "inconclusive"),
        ("expired-certificate", "B", 2, "inconclusive"),
        ("pin-one-try-left", "B", 2, "refused"),
        ("wrong-key-usage", "C", 1, "forged"),
    ];
    for (profile, level, code, verdict) in cases {
        let (exit, json, _) = check(profile, level, &["--face-confirmed"], None);
        assert_eq!(json["verdict"], verdict, "{profile} {level}: {json:#}");
        assert_eq!(exit, code, "{profile} {level}");
        assert_eq!(json["schema"], "honnin.check.v1");
    }
}

#[test]
fn level_a_without_confirmation_is_inconclusive_and_says_why() {
    let (exit, json, _) = check("genuine", "A", &[], None);
    assert_eq!(exit, 2);
    assert_eq!(json["verdict"], "inconclusive");
    let confirmation = json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["check"] == "face_confirmation")
        .expect("face confirmation reported");
    assert_eq!(confirmation["state"], "not_checked");
    assert_eq!(confirmation["reason"], "not_confirmed");
}

#[test]
fn every_check_has_state_reason_and_both_languages() {
    let (_, json, _) = check("genuine", "B", &[], None);
    for line in json["checks"].as_array().expect("checks") {
        for field in ["check", "state", "reason", "message_en", "message_ja"] {
            assert!(line[field].is_string(), "{field} missing in {line}");
        }
    }
}

#[test]
fn secrets_come_from_stdin_and_never_appear_in_output() {
    let (exit, json, all_output) = check("genuine", "B", &["--stdin"], Some("2468\n"));
    assert_eq!(
        (exit, json["verdict"].as_str()),
        (0, Some("genuine")),
        "{all_output}"
    );
    let (exit, json, wrong_output) = check("genuine", "B", &["--stdin"], Some("1357\n"));
    assert_eq!((exit, json["verdict"].as_str()), (2, Some("refused")));
    let (_, _, c_output) = check("genuine", "C", &["--stdin"], Some("TESTPASS1\n"));
    let (_, _, a_output) = check(
        "genuine",
        "A",
        &["--stdin", "--face-confirmed"],
        Some("90040120341234\n"),
    );
    for (output, secret) in [
        (&all_output, "2468"),
        (&wrong_output, "1357"),
        (&c_output, "TESTPASS1"),
        (&a_output, "90040120341234"),
    ] {
        assert!(
            !output.contains(secret),
            "secret {secret} printed: {output}"
        );
        assert!(
            !output.contains("TEST00000000"),
            "Individual Number printed"
        );
    }
}

#[test]
fn a_malformed_secret_is_a_usage_error_without_touching_the_card() {
    let out = honnin(
        &[
            "check",
            "--reader",
            "sim:genuine",
            "--level",
            "B",
            "--item",
            "x",
            "--sender",
            "y",
            "--stdin",
        ],
        Some("12\n"),
    );
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("4 digits"), "{stderr}");
    assert!(!stderr.contains("12\n"), "{stderr}");
}

#[test]
fn pcsc_without_trust_anchors_is_refused_and_check_time_is_sim_only() {
    let out = honnin(
        &[
            "check", "--reader", "pcsc", "--level", "A", "--item", "x", "--sender", "y",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--trust-anchors"));
    let out = honnin(
        &[
            "check",
            "--reader",
            "pcsc",
            "--level",
            "A",
            "--item",
            "x",
            "--sender",
            "y",
            "--trust-anchors",
            "/nonexistent",
            "--check-time",
            "2020-01-01",
        ],
        None,
    );
    assert_ne!(out.status.code(), Some(0));
}

#[test]
fn revocation_list_turns_a_revoked_card_away() {
    let crl = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/pki/jpki-auth-ca.crl.der"
    );
    let (exit, json, _) = check("revoked", "B", &["--crl", crl], None);
    assert_eq!((exit, json["verdict"].as_str()), (2, Some("inconclusive")));
    let (exit, json, _) = check("revoked", "B", &[], None);
    assert_eq!(
        (exit, json["verdict"].as_str()),
        (0, Some("genuine")),
        "no CRL: not checked on device"
    );
}
