//! `honnin sync` against a receiver whose operator rotates its receipt key and then revokes the
//! device: the CLI learns the new key through the rotation the old key signed (keeps it in
//! place of the old one, and its records sync under receipts by the new key), tells the
//! receiver its app version, and once the device is revoked says so plainly and fails.

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
