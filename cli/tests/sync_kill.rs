//! The device process (`honnin sync`) is SIGKILLed again and again in the middle of syncing
//! many records to a receiver over TLS (pinned), and started again: nothing is lost, records
//! the receiver stored but whose receipts the killed process never saw come back as harmless
//! duplicates, and in the end every record is at the receiver exactly once and marked synced
//! on the device under a verified receipt.

#[path = "../../receiver/tests/sync_support/mod.rs"]
mod sync_support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use honnin_core::store::{StaticKeyProvider, Store};
use honnin_e2e::records::{STORE_KEY, device_signer};
use honnin_e2e::verifier_with_crl;
use honnin_receiver::tls::ServerTls;
use honnin_receiver::{Receiver, SqliteStorage, Storage, now, operator};
use sync_support::{SENDER, assert_delivered_exactly_once, device_store};

const RECORDS: usize = 200;
/// Receiver record counts at which `honnin sync` is killed (each strictly inside the run).
const KILL_AT: [u64; 3] = [20, 85, 150];
const BIN: &str = env!("CARGO_BIN_EXE_honnin");

/// Writes a secret file as `honnin` expects it: readable by its owner only.
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

fn honnin(args: &[&str], store: &Path) -> Command {
    let mut command = Command::new(BIN);
    command.args(args).arg("--store").arg(store);
    command
}

#[cfg(unix)]
#[test]
fn every_record_arrives_exactly_once_when_the_device_is_killed_mid_sync() {
    use std::os::unix::process::ExitStatusExt;

    let dir = tempfile::tempdir().expect("temp dir");
    // The device: a store of the CLI's layout (key file, device key) full of records.
    let store_path: PathBuf = dir.path().join("device").join("records.db");
    std::fs::create_dir_all(store_path.parent().expect("parent")).expect("dir");
    drop(device_store(&store_path, RECORDS));
    let mut key_file = store_path.clone().into_os_string();
    key_file.push(".key");
    write_private(
        Path::new(&key_file),
        format!("{}\n", hex::encode(STORE_KEY)).as_bytes(),
    );
    let pem = device_signer().to_pkcs8_pem().expect("pem");
    write_private(&store_path.with_file_name("device-key.pem"), pem.as_bytes());

    // The receiver, in this process, over TLS with a self-signed key.
    let tls = ServerTls::self_signed(&dir.path().join("tls")).expect("tls");
    let storage: Arc<dyn Storage> =
        Arc::new(SqliteStorage::open(&dir.path().join("receiver.db")).expect("opens"));
    let receiver = Arc::new(Receiver::new(storage, verifier_with_crl()).expect("receiver"));
    operator::add_sender(receiver.storage.as_ref(), SENDER).expect("sender");
    let code =
        operator::issue_enrolment_code(receiver.storage.as_ref(), "handheld-01", &[SENDER], now())
            .expect("code");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binds");
    let url = format!("https://{}", listener.local_addr().expect("address"));
    let (served, shared) = (tls.clone(), receiver.clone());
    runtime.spawn(async move { honnin_receiver::tls::serve(listener, shared, &served).await });

    let pin = tls.pin.to_string();
    let device = ["--receiver", &url, "--device", "handheld-01"];
    let mut enrol = honnin(
        &[&["enrol", "--receiver-pin", &pin, "--stdin"][..], &device].concat(),
        &store_path,
    )
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
    let enrolled = enrol.wait_with_output().expect("enrol ends");
    assert!(enrolled.status.success(), "{enrolled:?}");

    let sync_args = [&["sync", "--batch-size", "5"][..], &device].concat();
    let mut killed_at = Vec::new();
    for mark in KILL_AT {
        let mut child = honnin(&sync_args, &store_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sync starts");
        while receiver.storage.count_records().expect("count") < mark {
            assert!(
                child.try_wait().expect("status").is_none(),
                "honnin sync ended before it was killed"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("reaped");
        assert_eq!(status.signal(), Some(9), "not killed: {status:?}");
        killed_at.push(receiver.storage.count_records().expect("count"));
    }
    for count in &killed_at {
        assert!((1..RECORDS as u64).contains(count), "{killed_at:?}");
    }

    // Started again, the device sends what has no receipt yet, and finishes.
    let output = honnin(&[&sync_args[..], &["--json"]].concat(), &store_path)
        .output()
        .expect("sync runs");
    assert!(output.status.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    eprintln!("killed at {killed_at:?} records; the last sync: {report}");
    let store = Store::open(&store_path, &StaticKeyProvider::new(STORE_KEY)).expect("opens");
    // The last run marked what the killed runs left unmarked: the records the receiver never
    // got, and the ones it stored whose receipts died with a killed run (duplicates).
    let count = |name: &str| report[name].as_u64().expect("a count");
    assert_eq!(
        count("synced"),
        RECORDS as u64 - killed_at[2] + count("duplicates"),
        "{report}"
    );
    assert_delivered_exactly_once(
        &store,
        receiver.storage.as_ref(),
        &receiver.receipt_key(),
        RECORDS as u64,
    );
}
