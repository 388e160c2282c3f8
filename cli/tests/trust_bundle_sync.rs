//! The trust bundle through the `honnin` binary: `honnin sync` against a receiver over TLS
//! (pinned) fetches the bundle the operator loaded and keeps it beside the store; `honnin check
//! --store` then checks revocation on the device from it, and the verdict names the list, its
//! age and the bundle; after the operator retires the old root and the device syncs again, a
//! card of the old generation no longer chains; an edited bundle file is an error, and an
//! expired bundle's lists are reported in the verdict, never used as current. A level-M (phone)
//! check trusts the phone issuer anchors the operator put in the bundle, and no others.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use honnin_core::trust_bundle::{SignedTrustBundle, TRUST_BUNDLE_FORMAT, TrustBundleBody};
use honnin_receiver::trust_bundle::{load, load_with_mdoc, read_mdoc_anchors, read_trust_files};
use honnin_receiver::{Receiver, now, operator};
use support::{BIN, TlsReceiver, enrol_pinned, store_of};

const PKI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/pki");

fn honnin(args: &[&str], store: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--store")
        .arg(store)
        .stdin(Stdio::null())
        .output()
        .expect("honnin runs")
}

/// A door check of the software card `profile` into `store`, at the fixtures' check time
/// (their CRLs are current then): the verdict's JSON and the exit code.
fn check(store: &Path, profile: &str) -> (i32, serde_json::Value, String) {
    let out = honnin(
        &[
            "check",
            "--reader",
            &format!("sim:{profile}"),
            "--level",
            "B",
            "--item",
            "JP-0001",
            "--sender",
            "demo-bank",
            "--addressee",
            "試験 花子",
            "--device",
            "handheld-01",
            "--check-time",
            "2026-11-25",
            "--json",
        ],
        store,
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (
        out.status.code().expect("exit code"),
        serde_json::from_slice(&out.stdout).unwrap_or_default(),
        stderr,
    )
}

fn revocation(verdict: &serde_json::Value) -> (String, String, String) {
    let entry = verdict["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["check"] == "revocation")
        .expect("a revocation check");
    let text = |name: &str| entry[name].as_str().unwrap_or_default().to_owned();
    (text("state"), text("reason"), text("detail"))
}

fn check_state(verdict: &serde_json::Value, check: &str) -> String {
    verdict["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["check"] == check)
        .and_then(|c| c["state"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// An anchor directory of fixture files.
fn anchors(root: &Path, name: &str, files: &[&str]) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("dir");
    for file in files {
        let from = Path::new(PKI).join(file);
        std::fs::copy(&from, dir.join(from.file_name().expect("name"))).expect("copies");
    }
    dir
}

fn operator_load(receiver: &Receiver, dir: &Path) -> u64 {
    let crls = [
        Path::new(PKI).join("jpki-auth-ca.crl.der"),
        Path::new(PKI).join("jpki-sign-ca.crl.der"),
    ];
    let (anchors, lists) = read_trust_files(dir, &crls).expect("reads");
    load(receiver.storage.as_ref(), "t", anchors, lists, now()).expect("loads")
}

#[test]
fn a_device_checks_revocation_from_the_bundle_it_synced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_of(dir.path(), "device");

    // The receiver, in this process, over TLS with a self-signed key.
    let TlsReceiver {
        url,
        tls,
        receiver,
        runtime: _runtime,
    } = TlsReceiver::self_signed(dir.path());
    let code = operator::issue_enrolment_code(receiver.storage.as_ref(), "handheld-01", &[], now())
        .expect("code");

    // A first check makes the store and the device key; then the device enrols.
    let (code_before, _, stderr) = check(&store, "genuine");
    assert_eq!(code_before, 0, "{stderr}");
    let device = ["--receiver", url.as_str(), "--device", "handheld-01"];
    enrol_pinned(&store, &url, "handheld-01", &tls.pin.to_string(), &code);
    let sync = || {
        let out = honnin(&[&["sync", "--json"][..], &device].concat(), &store);
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json")
    };

    // No bundle loaded: the sync says so and succeeds; the check is as before.
    let report = sync();
    assert!(report["trust_bundle_serial"].is_null(), "{report}");
    let bundle_file = store.with_extension("db.trust-bundle");
    assert!(!bundle_file.exists());

    let old = anchors(
        dir.path(),
        "old",
        &[
            "anchors/test-jpki-root.cert.der",
            "jlis-data-issuer.cert.der",
        ],
    );
    assert_eq!(operator_load(&receiver, &old), 1);
    assert_eq!(sync()["trust_bundle_serial"], 1);
    assert!(bundle_file.exists());

    let (code, verdict, stderr) = check(&store, "genuine");
    assert_eq!(
        (code, verdict["verdict"].as_str()),
        (0, Some("genuine")),
        "{stderr}"
    );
    assert!(stderr.contains("trust bundle 1:"), "{stderr}");
    let (state, reason, detail) = revocation(&verdict);
    assert_eq!((state.as_str(), reason.as_str()), ("passed", "not_revoked"));
    assert!(
        detail.contains("issued 2026-11-01 (576 h old)") && detail.contains("from trust bundle 1"),
        "{detail}"
    );
    let (code, verdict, _) = check(&store, "revoked");
    assert_ne!(code, 0);
    let (state, reason, detail) = revocation(&verdict);
    assert_eq!(
        (state.as_str(), reason.as_str()),
        ("failed", "revoked"),
        "{verdict}"
    );
    assert!(detail.contains("from trust bundle 1"), "{detail}");

    // The old root retired: after the next sync, a card of that generation does not chain.
    let new = anchors(
        dir.path(),
        "new",
        &["forger-root.cert.der", "jlis-data-issuer.cert.der"],
    );
    assert_eq!(operator_load(&receiver, &new), 2);
    assert_eq!(sync()["trust_bundle_serial"], 2);
    let (code, verdict, _) = check(&store, "genuine");
    assert_ne!(code, 0, "{verdict}");
    assert_eq!(
        check_state(&verdict, "certificate_chain"),
        "failed",
        "{verdict}"
    );

    // An expired bundle (signed by the receiver, kept on the device): its lists are reported.
    let day = |d: i64| 1_795_564_800 + (d - 25) * 86_400; // 2026-11-<d>
    let kept =
        SignedTrustBundle::from_json(&std::fs::read(&bundle_file).expect("reads")).expect("parses");
    let expired = SignedTrustBundle::sign(
        TrustBundleBody {
            format: TRUST_BUNDLE_FORMAT.into(),
            serial: 3,
            issued_at: day(20),
            expires_at: day(21),
            anchors: vec![honnin_core::trust_bundle::BundleAnchor {
                label: "test-jpki-root.cert.der".into(),
                certificate: base64::engine::general_purpose::STANDARD.encode(
                    std::fs::read(Path::new(PKI).join("jpki-root.cert.der")).expect("reads"),
                ),
            }],
            lists: kept.bundle.lists.clone(),
            mdoc_anchors: Vec::new(),
        },
        receiver.key.signer().as_ref(),
        &receiver.receipt_key(),
    )
    .expect("signs");
    std::fs::write(&bundle_file, expired.to_json()).expect("writes");
    let (code, verdict, stderr) = check(&store, "genuine");
    assert_ne!(code, 0, "{verdict}");
    assert!(stderr.contains("expired"), "{stderr}");
    let (state, reason, detail) = revocation(&verdict);
    assert_eq!(
        (state.as_str(), reason.as_str()),
        ("failed", "revocation_list_invalid"),
        "{verdict}"
    );
    assert!(
        detail.contains("trust bundle 3 issued 2026-11-20 it came from expired on 2026-11-21"),
        "{detail}"
    );

    // An edited bundle file: an error before any card is read, never skipped.
    let mut edited = expired.clone();
    edited.bundle.serial = 9;
    std::fs::write(&bundle_file, edited.to_json()).expect("writes");
    let (code, _, stderr) = check(&store, "genuine");
    assert_ne!(code, 0);
    assert!(stderr.contains("cannot be used"), "{stderr}");
}

/// A level-M check of the software phone `profile` into `store`: exit code, verdict, stderr.
fn phone_check(store: &Path, profile: &str) -> (i32, serde_json::Value, String) {
    let out = honnin(
        &[
            "check",
            "--reader",
            &format!("sim:{profile}"),
            "--level",
            "M",
            "--item",
            "JP-0002",
            "--face-confirmed",
            "--sender",
            "demo-bank",
            "--addressee",
            "試験 花子",
            "--device",
            "handheld-01",
            "--check-time",
            "2026-11-25",
            "--json",
        ],
        store,
    );
    (
        out.status.code().expect("exit code"),
        serde_json::from_slice(&out.stdout).unwrap_or_default(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_phone_check_trusts_the_phone_issuer_anchors_of_the_bundle_and_no_others() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_of(dir.path(), "device");
    let TlsReceiver {
        url,
        tls,
        receiver,
        runtime: _runtime,
    } = TlsReceiver::self_signed(dir.path());
    let code = operator::issue_enrolment_code(receiver.storage.as_ref(), "handheld-01", &[], now())
        .expect("code");
    let device = ["--receiver", url.as_str(), "--device", "handheld-01"];
    enrol_pinned(&store, &url, "handheld-01", &tls.pin.to_string(), &code);
    let sync = || {
        let out = honnin(&[&["sync", "--json"][..], &device].concat(), &store);
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json")
    };

    // The operator loads the J-LIS anchors, a CRL and the phone issuer's IACA.
    let jpki = anchors(dir.path(), "jpki", &["anchors/test-jpki-root.cert.der"]);
    let (jpki_anchors, lists) =
        read_trust_files(&jpki, &[Path::new(PKI).join("jpki-auth-ca.crl.der")]).expect("reads");
    let phones = read_mdoc_anchors(&Path::new(PKI).join("mdoc").join("anchors")).expect("reads");
    assert_eq!(phones.len(), 1);
    load_with_mdoc(
        receiver.storage.as_ref(),
        "t",
        jpki_anchors.clone(),
        lists.clone(),
        phones,
        now(),
    )
    .expect("loads");
    assert_eq!(sync()["trust_bundle_serial"], 1);
    let kept = SignedTrustBundle::from_json(
        &std::fs::read(store.with_extension("db.trust-bundle")).expect("kept"),
    )
    .expect("parses");
    assert_eq!(kept.bundle.format, "honnin.trust-bundle.v2");
    assert_eq!(kept.bundle.mdoc_anchors.len(), 1);

    // No --mdoc-anchors: the bundle's phone anchors are the check's.
    let (code, verdict, stderr) = phone_check(&store, "mdoc-genuine");
    assert_eq!(
        (code, verdict["verdict"].as_str()),
        (0, Some("genuine")),
        "{stderr} {verdict}"
    );
    assert!(
        stderr.contains("trust bundle 1: 1 phone issuer anchors"),
        "{stderr}"
    );
    // A phone of another issuer (same name, other key) is not trusted by it.
    let (code, verdict, _) = phone_check(&store, "mdoc-unknown-issuer");
    assert_ne!(code, 0, "{verdict}");

    // A bundle without phone anchors: the kept bundle decides, so the software phone's own
    // test IACA is not used behind the operator's back; and a check that could only name a
    // genuine phone forged is refused before the phone is read, saying what is missing.
    load(receiver.storage.as_ref(), "t", jpki_anchors, lists, now()).expect("loads");
    assert_eq!(sync()["trust_bundle_serial"], 2);
    let (code, verdict, stderr) = phone_check(&store, "mdoc-genuine");
    assert_eq!(code, 64, "a usage error: {stderr} {verdict}");
    assert!(verdict.is_null(), "no verdict: {verdict}");
    assert!(
        stderr.contains("carries no phone issuer anchors")
            && stderr.contains("trust-load --mdoc-anchors"),
        "{stderr}"
    );
}
