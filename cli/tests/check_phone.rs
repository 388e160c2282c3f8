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
fn a_card_is_not_a_phone_a_phone_not_a_card_and_a_bad_qr_code_is_refused() {
    // The card is refused before anything is read, with what to do instead.
    let out = honnin(
        &[
            "check",
            "--reader",
            "sim:genuine",
            "--level",
            "M",
            "--item",
            "JP-0001",
            "--sender",
            "bank",
            "--json",
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("level A, B or C"), "{stderr}");
    // And a phone at a card level, before its holder is asked for a PIN.
    let out = honnin(
        &[
            "check",
            "--reader",
            "sim:mdoc-genuine",
            "--level",
            "B",
            "--item",
            "JP-0001",
            "--sender",
            "bank",
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("--level M"), "{stderr}");
    assert!(!stderr.contains("PIN (4 digits)"), "{stderr}");
    // A QR text that is no engagement is the clerk's input to fix: refused before the phone.
    let out = honnin(
        &[
            "check",
            "--reader",
            "sim:mdoc-genuine",
            "--level",
            "M",
            "--item",
            "JP-0001",
            "--sender",
            "bank",
            "--face-confirmed",
            "--qr",
            "mdoc:AAAA",
            "--json",
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("not a phone's mdoc engagement"), "{stderr}");
    assert!(out.stdout.is_empty(), "no verdict for a bad QR text");
}

/// A sender re-verifies a level-M record with `honnin verify-record`: only under the phone
/// issuers' anchors (`--mdoc-anchors`) is it verified; without them every phone check is
/// missing, and the outcome says so instead of trusting the device's word.
#[test]
fn verify_record_needs_the_phone_issuers_anchors_for_level_m() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("records.db");
    let store_arg = store.to_str().expect("utf-8 path");
    let (exit, json) = check("mdoc-genuine", &["--face-confirmed", "--store", store_arg]);
    assert_eq!(exit, 0, "{json:#}");
    let shown = honnin(
        &["records", "show", "#1", "--store", store_arg, "--json"],
        None,
    );
    assert!(shown.status.success(), "{shown:?}");
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("record JSON");
    let pem = std::fs::read_to_string(dir.path().join("device-key.pem")).expect("device key");
    let signer = honnin_core::record::SoftwareSigner::from_pkcs8_pem(&pem).expect("key");
    let entry = serde_json::json!({
        "record": shown["record"],
        "device_key": base64::engine::general_purpose::STANDARD
            .encode(signer.device_key().spki_der()),
    });
    let entry_path = dir.path().join("entry.json");
    std::fs::write(&entry_path, entry.to_string()).expect("writes");
    let entry_arg = entry_path.to_str().expect("utf-8 path");
    let anchors = honnin_simcard::fixtures::anchors_dir();
    let anchors = anchors.to_str().expect("utf-8 path");
    let phone_anchors = honnin_simcard::mdoc::anchors_dir();
    let phone_anchors = phone_anchors.to_str().expect("utf-8 path");
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify-record",
            entry_arg,
            "--trust-anchors",
            anchors,
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = honnin(&args, None);
        let result: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code().expect("exit code"), result)
    };
    let (exit, result) = verify(&[]);
    assert_eq!(result["outcome"], "unverified", "{result:#}");
    assert_ne!(exit, 0);
    assert!(
        result["missing"]
            .to_string()
            .contains("mdoc_issuer_signature"),
        "{result:#}"
    );
    let (exit, result) = verify(&["--mdoc-anchors", phone_anchors]);
    assert_eq!(result["outcome"], "verified", "{result:#}");
    assert_eq!(exit, 0);
}
