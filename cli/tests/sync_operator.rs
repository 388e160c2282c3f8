//! `honnin sync` against a receiver whose operator rotates its receipt key and then revokes the
//! device: the CLI learns the new key through the rotation the old key signed (keeps it in
//! place of the old one, and its records sync under receipts by the new key), tells the
//! receiver its app version, and once the device is revoked says so plainly and fails. And a
//! device pinned to the receiver's TLS key follows a TLS key rotation the operator announced
//! (the pins signed by the receipt key), while one that never synced since is refused.

#[path = "../../receiver/tests/sync_support/mod.rs"]
mod sync_support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use honnin_core::store::{StaticKeyProvider, Store};
use honnin_e2e::records::{STORE_KEY, device_signer};
use honnin_e2e::verifier_with_crl;
use honnin_receiver::{Receiver, SqliteStorage, Storage, fleet, now, rotation};
use sync_support::{SENDER, assert_delivered_exactly_once, device_store};

const BIN: &str = env!("CARGO_BIN_EXE_honnin");

fn write_private(path: &Path, contents: &[u8]) {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .and_then(|mut file| file.write_all(contents))
        .expect("writes");
}

#[test]
fn sync_follows_a_rotated_receipt_key_and_reports_a_revoked_device() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store_path = dir.path().join("device").join("records.db");
    std::fs::create_dir_all(store_path.parent().expect("parent")).expect("dir");
    drop(device_store(&store_path, 3));
    write_private(
        &dir.path().join("device").join("records.db.key"),
        format!("{}\n", hex::encode(STORE_KEY)).as_bytes(),
    );
    let pem = device_signer().to_pkcs8_pem().expect("pem");
    write_private(&store_path.with_file_name("device-key.pem"), pem.as_bytes());

    let storage: Arc<dyn Storage> =
        Arc::new(SqliteStorage::open(&dir.path().join("receiver.db")).expect("opens"));
    let receiver = Arc::new(Receiver::new(storage, verifier_with_crl()).expect("receiver"));
    let code = fleet::issue_enrolment_code(
        receiver.storage.as_ref(),
        "t",
        "handheld-01",
        &[SENDER],
        now(),
    )
    .expect("code");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    runtime.spawn(honnin_receiver::routes::serve(listener, receiver.clone()));

    let honnin = |command: &str| {
        let mut process = Command::new(BIN);
        process
            .args([command, "--receiver", &url, "--device", "handheld-01"])
            .args(["--insecure-loopback-http", "--store"])
            .arg(&store_path);
        process
    };
    let mut enrol = honnin("enrol")
        .arg("--stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("enrol starts");
    enrol
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{code}\n").as_bytes())
        .expect("code sent");
    assert!(
        enrol
            .wait_with_output()
            .expect("enrol ends")
            .status
            .success()
    );
    let key_file = dir.path().join("device").join("records.db.receiver-key");
    assert_eq!(
        std::fs::read(&key_file).expect("kept"),
        receiver.receipt_key().spki_der()
    );

    // The operator rotates the receipt key before the device's next sync.
    rotation::rotate_receipt_key(receiver.storage.as_ref(), &receiver.secrets, "t", now())
        .expect("rotates");
    receiver
        .key
        .reload(receiver.storage.as_ref(), &receiver.secrets)
        .expect("reloads");
    let synced = honnin("sync").output().expect("sync runs");
    let stderr = String::from_utf8_lossy(&synced.stderr);
    assert!(synced.status.success(), "{synced:?}");
    assert!(stderr.contains("rotated its receipt key"), "{stderr}");
    assert_eq!(
        std::fs::read(&key_file).expect("kept"),
        receiver.receipt_key().spki_der(),
        "the new key is kept in place of the old one"
    );
    // Every record synced once, under a receipt by the new key.
    let store = Store::open(&store_path, &StaticKeyProvider::new(STORE_KEY)).expect("opens");
    assert_delivered_exactly_once(
        &store,
        receiver.storage.as_ref(),
        &receiver.receipt_key(),
        3,
    );
    drop(store);
    let listed = fleet::devices(receiver.storage.as_ref()).expect("lists");
    let version = listed[0].app_version.clone().unwrap_or_default();
    assert!(version.starts_with("honnin-cli/"), "{version}");

    // Revoked: the next sync fails and says why.
    fleet::revoke(
        receiver.storage.as_ref(),
        "t",
        "handheld-01",
        "stolen from van 4",
        now(),
        now(),
    )
    .expect("revokes");
    let refused = honnin("sync").output().expect("sync runs");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{refused:?}");
    assert!(
        stderr.contains("revoked by the receiver's operator")
            && stderr.contains("stolen from van 4"),
        "{stderr}"
    );
}

/// `honnin <command>` for `device` (its store in `dir/<device>/`) against `url`.
fn device_command(command: &str, url: &str, device: &str, dir: &Path) -> Command {
    let store = dir.join(device).join("records.db");
    std::fs::create_dir_all(store.parent().expect("parent")).expect("dir");
    let mut process = Command::new(BIN);
    process
        .args([command, "--receiver", url, "--device", device, "--store"])
        .arg(&store);
    process
}

fn enrol_pinned(url: &str, device: &str, dir: &Path, pin: &str, code: &str) {
    let mut enrol = device_command("enrol", url, device, dir)
        .args(["--receiver-pin", pin, "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("enrol starts");
    enrol
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{code}\n").as_bytes())
        .expect("code sent");
    let out = enrol.wait_with_output().expect("enrol ends");
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn a_pinned_device_follows_an_announced_tls_key_rotation() {
    use honnin_receiver::tls::{CERT_FILE, KEY_FILE, ServerTls};
    let dir = tempfile::tempdir().expect("temp dir");
    // The receiver serves the TLS identity in `served`, which the operator replaces later.
    let install = |name: &str| {
        let made = dir.path().join(name);
        ServerTls::self_signed(&made).expect("made");
        for file in [CERT_FILE, KEY_FILE] {
            std::fs::copy(made.join(file), dir.path().join("served").join(file)).expect("copies");
        }
        made.join(CERT_FILE)
    };
    std::fs::create_dir(dir.path().join("served")).expect("dir");
    install("first");
    let served = dir.path().join("served");
    let tls =
        ServerTls::from_pem_files(&served.join(CERT_FILE), &served.join(KEY_FILE)).expect("loads");
    let storage: Arc<dyn Storage> =
        Arc::new(SqliteStorage::open(&dir.path().join("receiver.db")).expect("opens"));
    let receiver = Arc::new(Receiver::new(storage, verifier_with_crl()).expect("receiver"));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binds");
    let url = format!("https://{}", listener.local_addr().expect("address"));
    let (serving, shared) = (tls.clone(), receiver.clone());
    runtime.spawn(async move { honnin_receiver::tls::serve(listener, shared, &serving).await });

    // Two devices pin the first key; only handheld-01 syncs after the announcement.
    let first_pin = tls.pin.to_string();
    for device in ["handheld-01", "handheld-02"] {
        let code =
            fleet::issue_enrolment_code(receiver.storage.as_ref(), "t", device, &[SENDER], now())
                .expect("code");
        enrol_pinned(&url, device, dir.path(), &first_pin, &code);
    }
    let sync = |device: &str| {
        device_command("sync", &url, device, dir.path())
            .arg("--json")
            .output()
            .expect("sync runs")
    };
    let before = sync("handheld-01");
    assert!(before.status.success(), "{before:?}");
    let report: serde_json::Value = serde_json::from_slice(&before.stdout).expect("json");
    assert_eq!(
        report["tls_pins"],
        serde_json::json!([first_pin]),
        "{report}"
    );

    // The operator announces the next key (its certificate made ahead), then handheld-01 syncs.
    let next_cert = dir.path().join("second").join(CERT_FILE);
    ServerTls::self_signed(&dir.path().join("second")).expect("made");
    let next_pin = honnin_receiver::tls_pins::pin_of_certificate_file(&next_cert).expect("pin");
    honnin_receiver::tls_pins::announce(receiver.storage.as_ref(), next_pin, "t", now())
        .expect("announces");
    let announced = sync("handheld-01");
    assert!(announced.status.success(), "{announced:?}");
    let report: serde_json::Value = serde_json::from_slice(&announced.stdout).expect("json");
    assert_eq!(
        report["tls_pins"],
        serde_json::json!([first_pin, next_pin.to_string()]),
        "{report}"
    );
    let kept = dir
        .path()
        .join("handheld-01")
        .join("records.db.receiver-pins");
    assert!(kept.exists());

    // The operator installs the next key: served without a restart.
    install("second");
    assert_eq!(
        honnin_receiver::tls_reload::reload_and_log(&tls.live, receiver.storage.as_ref())
            .expect("reloads"),
        Some(next_pin)
    );
    let after = sync("handheld-01");
    assert!(
        after.status.success(),
        "the announced key is trusted: {after:?}"
    );
    // The old key is no longer listed, so the device drops it.
    let report: serde_json::Value = serde_json::from_slice(&after.stdout).expect("json");
    assert_eq!(
        report["tls_pins"],
        serde_json::json!([next_pin.to_string()]),
        "{report}"
    );
    // handheld-02 never saw the announcement: refused with the pin error.
    let refused = sync("handheld-02");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{refused:?}");
    assert!(
        stderr.contains("not the one pinned at enrolment") && stderr.contains(&first_pin),
        "{stderr}"
    );
}
