//! The device process (`honnin sync`) is SIGKILLed again and again in the middle of syncing
//! many records to a receiver over TLS (pinned), and started again: nothing is lost, records
//! the receiver stored but whose receipts the killed process never saw come back as harmless
//! duplicates, and in the end every record is at the receiver exactly once and marked synced
//! on the device under a verified receipt.

mod support;
#[path = "../../receiver/tests/sync_support/mod.rs"]
mod sync_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use honnin_core::store::{StaticKeyProvider, Store};
use honnin_e2e::records::STORE_KEY;
use honnin_receiver::{now, operator};
use support::{BIN, TlsReceiver, enrol_pinned, store_of, write_device_keys};
use sync_support::{SENDER, assert_delivered_exactly_once, device_store};

const RECORDS: usize = 200;
/// Receiver record counts at which `honnin sync` is killed (each strictly inside the run).
const KILL_AT: [u64; 3] = [20, 85, 150];

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
    let store_path: PathBuf = store_of(dir.path(), "device");
    drop(device_store(&store_path, RECORDS));
    write_device_keys(&store_path);

    // The receiver, in this process, over TLS with a self-signed key.
    let TlsReceiver {
        url,
        tls,
        receiver,
        runtime: _runtime,
    } = TlsReceiver::self_signed(dir.path());
    operator::add_sender(receiver.storage.as_ref(), SENDER).expect("sender");
    let code =
        operator::issue_enrolment_code(receiver.storage.as_ref(), "handheld-01", &[SENDER], now())
            .expect("code");

    let device = ["--receiver", &url, "--device", "handheld-01"];
    enrol_pinned(
        &store_path,
        &url,
        "handheld-01",
        &tls.pin.to_string(),
        &code,
    );

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
