//! `honnin check --store` with the item manifest `honnin sync` keeps in the store: the sender,
//! the addressee and the sender's policy come from it; a level below the sender's minimum is
//! refused before the card is touched; options that contradict the manifest are refused; a
//! manifest that no longer verifies is an error, never silently ignored.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use honnin_core::manifest::{MANIFEST_FORMAT, ManifestBody, ManifestItem, SignedManifest};
use honnin_core::record::SoftwareSigner;
use honnin_core::store::{StaticKeyProvider, Store};
use honnin_core::verify::{Clock, SystemClock};

fn honnin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_honnin"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("honnin runs")
}

/// `honnin check` of the genuine software card for `item` at `level` into `store`.
fn check(store: &Path, item: &str, level: &str, extra: &[&str]) -> (i32, String, String) {
    let store = store.to_str().expect("utf-8 path");
    let mut args = vec![
        "check",
        "--reader",
        "sim:genuine",
        "--level",
        level,
        "--item",
        item,
        "--device",
        "handheld-01",
        "--store",
        store,
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = honnin(&args);
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("utf-8"),
        String::from_utf8(out.stderr).expect("utf-8"),
    )
}

/// Gives the CLI's store at `store` the manifest a receiver with `receiver` signed, as
/// `honnin sync` would, and the receipt key file enrolment writes.
fn install_manifest(store: &Path, receiver: &SoftwareSigner, expires_in: i64) {
    let key_hex = std::fs::read_to_string(store.with_extension("db.key")).expect("store key");
    let key: [u8; 32] = hex::decode(key_hex.trim())
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    let now = SystemClock.now().0;
    let manifest = SignedManifest::sign(
        ManifestBody {
            format: MANIFEST_FORMAT.into(),
            device_id: "handheld-01".into(),
            issued_at: now - 60,
            expires_at: now + expires_in,
            items: vec![ManifestItem {
                item_id: "JP-0002".into(),
                sender_id: "demo-bank".into(),
                addressee_name: "試験 花子".into(),
                addressee_address: None,
                min_level: "B".into(),
                attributes: vec!["name".into()],
            }],
        },
        receiver,
        receiver.device_key(),
    )
    .expect("signs");
    let mut opened = Store::open(store, &StaticKeyProvider::new(key)).expect("opens");
    opened
        .save_manifest(
            &manifest,
            receiver.device_key(),
            "handheld-01",
            SystemClock.now(),
        )
        .expect("saves");
    std::fs::write(
        store.with_extension("db.receiver-key"),
        receiver.device_key().spki_der(),
    )
    .expect("writes");
}

/// A store in `dir` made by a first check with explicit options, then given a manifest for
/// item JP-0002 (demo-bank, level B at least) signed by the test receiver.
fn store_with_manifest(dir: &Path) -> std::path::PathBuf {
    let store = dir.join("records.db");
    let (code, _, stderr) = check(
        &store,
        "JP-0001",
        "B",
        &["--sender", "demo-bank", "--addressee", "試験 花子"],
    );
    assert_eq!(code, 0, "{stderr}");
    install_manifest(&store, &receiver(), 86_400);
    store
}

fn receiver() -> SoftwareSigner {
    SoftwareSigner::from_secret_bytes(&[0x31; 32]).expect("key")
}

#[test]
fn the_manifest_gives_sender_addressee_and_minimum_level() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_with_manifest(dir.path());

    // Level A is below the sender's minimum: refused before any card or secret.
    let (code, stdout, stderr) = check(&store, "JP-0002", "A", &[]);
    assert_eq!(code, 64, "{stdout}{stderr}");
    assert!(stderr.contains("at least level B"), "{stderr}");

    // Level B: sender and addressee from the manifest, the addressee matched against the card.
    let (code, stdout, stderr) = check(&store, "JP-0002", "B", &[]);
    assert_eq!(code, 0, "{stderr}");
    let output: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(output["sender"], "demo-bank", "{output}");
    let addressee = output["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["check"] == "addressee_match"))
        .and_then(|c| c["state"].as_str())
        .unwrap_or("missing");
    assert_eq!(addressee, "passed", "{output}");

    // Options that contradict the manifest, or an unknown item without a sender, are refused.
    let (code, _, stderr) = check(&store, "JP-0002", "B", &["--sender", "other-bank"]);
    assert_eq!(code, 64);
    assert!(stderr.contains("demo-bank"), "{stderr}");
    let (code, _, stderr) = check(&store, "JP-0009", "B", &[]);
    assert_eq!(code, 64);
    assert!(stderr.contains("not in this device's manifest"), "{stderr}");
}

#[test]
fn a_manifest_that_does_not_verify_is_an_error_not_ignored() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_with_manifest(dir.path());
    // The receipt key file is replaced by another key: the kept manifest no longer verifies.
    let other = SoftwareSigner::from_secret_bytes(&[0x32; 32]).expect("key");
    std::fs::write(
        store.with_extension("db.receiver-key"),
        other.device_key().spki_der(),
    )
    .expect("writes");
    let (code, _, stderr) = check(&store, "JP-0002", "B", &[]);
    assert_eq!(code, 69, "{stderr}");
    assert!(stderr.contains("manifest cannot be used"), "{stderr}");
}
