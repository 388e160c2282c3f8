//! `honnin check --level M` with the software phone: verdicts, reasons and exit codes, and the
//! QR engagement path.

mod support;

use support::honnin;

fn check(profile: &str, extra: &[&str]) -> (i32, serde_json::Value) {
    let reader = format!("sim:{profile}");
    let mut args = vec![
        "check",
        "--reader",
        &reader,
        "--level",
        "M",
        "--item",
        "JP-0001",
        "--sender",
        "bank",
        "--addressee",
        "試験 花子",
        "--check-time",
        "2026-11-25",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = honnin(&args, None);
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().expect("exit code"), json)
}

fn failed_reasons(json: &serde_json::Value) -> Vec<String> {
    json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["state"] == "failed")
        .map(|c| {
            format!(
                "{}:{}",
                c["check"].as_str().unwrap_or(""),
                c["reason"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn phone_verdicts_and_exit_codes() {
    let cases = [
        ("mdoc-genuine", 0, "genuine", None),
        (
            "mdoc-clone",
            1,
            "forged",
            Some("mdoc_device_authentication:device_signature_invalid"),
        ),
        (
            "mdoc-element-tampered",
            1,
            "forged",
            Some("mdoc_element_digests:hash_mismatch"),
        ),
        (
            "mdoc-unknown-issuer",
            1,
            "forged",
            Some("mdoc_issuer_certificate:unknown_issuer"),
        ),
        (
            "mdoc-expired",
            2,
            "inconclusive",
            Some("mdoc_validity:mso_expired"),
        ),
        (
            "mdoc-stops-answering",
            2,
            "inconclusive",
            Some("card_communication:card_removed"),
        ),
        (
            "mdoc-partial",
            2,
            "inconclusive",
            Some("mdoc_elements_complete:elements_missing"),
        ),
    ];
    for (profile, code, verdict, reason) in cases {
        let (exit, json) = check(profile, &["--face-confirmed"]);
        assert_eq!(exit, code, "{profile}: {json}");
        assert_eq!(json["verdict"], verdict, "{profile}");
        assert_eq!(json["level"], "M", "{profile}");
        if let Some(reason) = reason {
            assert!(
                failed_reasons(&json).contains(&reason.to_owned()),
                "{profile}: {json}"
            );
        }
    }
}

#[test]
fn without_the_couriers_look_a_genuine_phone_is_not_confirmed() {
    let (exit, json) = check("mdoc-genuine", &[]);
    assert_eq!(exit, 2);
    assert_eq!(json["verdict"], "inconclusive");
}

#[test]
fn a_card_profile_is_not_a_phone_and_a_bad_qr_code_is_refused() {
    let (exit, json) = check("genuine", &["--face-confirmed"]);
    assert_eq!(exit, 2, "{json}");
    assert!(
        failed_reasons(&json).contains(&"card_communication:not_an_mdoc".to_owned()),
        "{json}"
    );
    let (exit, json) = check("mdoc-genuine", &["--face-confirmed", "--qr", "mdoc:AAAA"]);
    assert_eq!(exit, 2, "{json}");
    assert!(
        failed_reasons(&json).contains(&"card_communication:card_data_malformed".to_owned()),
        "{json}"
    );
}
