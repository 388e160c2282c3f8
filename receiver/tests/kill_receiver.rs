//! The receiver process (the real `honnin-receiver` binary, SQLite, TLS with a self-signed
//! key) is SIGKILLed again and again while a device syncs many records to it, and restarted on
//! the same database, address and key. The device keeps retrying with backoff; afterwards every
//! record is at the receiver exactly once and marked synced on the device under a verified
//! receipt.

mod sync_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use honnin_core::sync::{Backoff, SpkiPin, SyncClient, SyncConfig, SyncError, TlsTrust};
use honnin_core::verify::{SystemClock, SystemRandom};
use honnin_e2e::records::device_signer;
use honnin_receiver::{SqliteStorage, Storage};
use sync_support::{SENDER, assert_delivered_exactly_once, device_store};

const RECORDS: usize = 240;
const BATCH: usize = 10;
/// Receiver record counts at which it is killed (each strictly inside the run), and how long
/// after the count is seen: at once lands between a batch's commit and its answer (the device
/// resends it and gets duplicates), later lands in the next batch's verification. The last mark
/// leaves nine batches after it, so its delay cannot outlast the sync on a fast machine (a kill
/// after the end would not test anything; at 190 it took five batches in 90 ms to get there).
const KILL_AT: [(u64, u64); 3] = [(30, 0), (110, 40), (150, 90)];

const BIN: &str = env!("CARGO_BIN_EXE_honnin-receiver");

struct Paths {
    db: PathBuf,
    tls: PathBuf,
    dir: PathBuf,
}

/// Runs an operator command of the receiver binary; its stdout, trimmed.
fn operator(paths: &Paths, args: &[&str]) -> String {
    let output = Command::new(BIN)
        .arg("--db")
        .arg(&paths.db)
        .args(args)
        .output()
        .expect("runs");
    assert!(output.status.success(), "{args:?}: {output:?}");
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// Starts the receiver on `listen`; returns it and the address it listens on.
fn start(paths: &Paths, listen: &str, generation: usize) -> (Child, String) {
    let log = paths.dir.join(format!("receiver-{generation}.log"));
    let mut child = Command::new(BIN)
        .arg("--db")
        .arg(&paths.db)
        .args(["serve", "--listen", listen, "--tls-self-signed"])
        .arg(&paths.tls)
        .arg("--trust-anchors")
        .arg(honnin_simcard::fixtures::anchors_dir())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("starts");
    let address = wait_for_address(&mut child, &log);
    (child, address)
}

/// The `https://…` address the receiver logs once it listens.
fn wait_for_address(child: &mut Child, log: &Path) -> String {
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(address) = text
            .lines()
            .find_map(|line| line.split("listening on https://").nth(1))
        {
            return address.trim().to_owned();
        }
        if let Some(status) = child.try_wait().expect("status") {
            panic!("the receiver stopped ({status}): {text}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_record_arrives_exactly_once_when_the_receiver_is_killed_mid_sync() {
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = Paths {
        db: dir.path().join("receiver.db"),
        tls: dir.path().join("tls"),
        dir: dir.path().to_owned(),
    };
    operator(&paths, &["add-sender", "--sender", SENDER]);
    let code = operator(
        &paths,
        &["enrol-code", "--device", "handheld-01", "--sender", SENDER],
    );
    let tls = paths.tls.to_str().expect("utf-8 path");
    let pin: SpkiPin = operator(&paths, &["tls-pin", "--tls-self-signed", tls])
        .parse()
        .expect("pin");
    let (mut receiver, address) = start(&paths, "127.0.0.1:0", 0);

    let signer = device_signer();
    let mut config = SyncConfig::new(&format!("https://{address}"), "handheld-01")
        .with_trust(TlsTrust::Pinned(pin));
    config.batch_size = BATCH;
    config.max_attempts = 4;
    config.timeout = Duration::from_secs(20);
    config.backoff = Backoff {
        base: Duration::from_millis(50),
        max: Duration::from_millis(400),
    };
    let enrolment = SyncClient::enrol_device(&config, &code, &signer).expect("enrols");
    assert_eq!(enrolment.tls_pin, Some(pin));
    let receipt_key = enrolment.receipt_key.clone();
    let store_path = dir.path().join("device.db");
    drop(device_store(&store_path, RECORDS));

    // The device: sync until done; offline (the receiver down) only means "call again later".
    let device = {
        let store_path = store_path.clone();
        let receipt_key = receipt_key.clone();
        std::thread::spawn(move || -> Result<(u32, u64), SyncError> {
            let keys = honnin_e2e::records::store_keys();
            let mut store = honnin_core::store::Store::open(&store_path, &keys).expect("opens");
            let client = SyncClient::try_new(config, receipt_key)?;
            let mut offline = 0;
            loop {
                match client.sync(&mut store, &signer, &SystemClock, &mut SystemRandom) {
                    Ok(report) => return Ok((offline, report.duplicates)),
                    Err(SyncError::Unreachable { .. }) => offline += 1,
                    Err(other) => return Err(other),
                }
                assert!(offline < 1000, "the device never got through");
            }
        })
    };

    // The receiver is killed once its count passes each mark, and restarted at once.
    let watcher = SqliteStorage::open(&paths.db).expect("opens");
    let mut killed_at = Vec::new();
    for (generation, (mark, delay)) in KILL_AT.into_iter().enumerate() {
        while watcher.count_records().expect("count") < mark && !device.is_finished() {
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(delay));
        receiver.kill().expect("SIGKILL");
        receiver.wait().expect("reaped");
        killed_at.push(watcher.count_records().expect("count"));
        (receiver, _) = start(&paths, &address, generation + 1);
    }
    let outcome = device.join().expect("device thread");
    receiver.kill().expect("SIGKILL");
    receiver.wait().expect("reaped");
    let (offline, duplicates) = outcome.expect("the device synced everything");

    // Every kill landed mid-sync, and the device did see the receiver go away.
    for count in &killed_at {
        assert!(
            (1..RECORDS as u64).contains(count),
            "a kill after the sync ended: {killed_at:?}"
        );
    }
    eprintln!(
        "killed at {killed_at:?} records; {offline} syncs gave up offline; {duplicates} duplicates"
    );
    let keys = honnin_e2e::records::store_keys();
    let store = honnin_core::store::Store::open(&store_path, &keys).expect("opens");
    let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(&paths.db).expect("opens"));
    assert_delivered_exactly_once(&store, storage.as_ref(), &receipt_key, RECORDS as u64);
}
