//! Sync through a hostile network on loopback: a proxy that drops connections, answers 503,
//! stalls past the client's timeout and cuts answers short (after the receiver stored the
//! batch). After recovery every record is at the receiver exactly once, every record on the
//! device is marked synced, and none is lost. Against SQLite and PostgreSQL (see `common`).

#[macro_use]
mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use honnin_core::check::Level;
use honnin_core::record::{AttributePolicy, DeviceKey};
use honnin_core::store::Store;
use honnin_core::sync::{Backoff, SyncClient, SyncConfig, SyncError};
use honnin_core::verify::{SystemClock, SystemRandom};
use honnin_e2e::records::{device_signer, draft_of, genuine_report, store_keys};
use honnin_e2e::verifier_with_crl;
use honnin_receiver::routes::serve;
use honnin_receiver::{Receiver, now, operator};

use common::Backend;

backend_tests!(every_record_arrives_exactly_once_through_a_faulty_network);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Drop,
    ServerError,
    Stall,
    Truncate,
    Pass,
}

/// Reads one HTTP/1.1 message framed by Content-Length; `None` when the peer closed first.
fn read_message(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut buffer = [0u8; 65536];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while data.len() < end + 4 + length {
                let n = stream.read(&mut buffer).ok()?;
                if n == 0 {
                    return None;
                }
                data.extend_from_slice(&buffer[..n]);
            }
            return Some(data);
        }
        let n = stream.read(&mut buffer).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buffer[..n]);
    }
}

/// A proxy in front of `upstream` that applies `schedule` to its connections in turn, then
/// passes everything. One request per connection.
fn proxy(upstream: String, schedule: Vec<Fault>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut client) = stream else { continue };
            let index = counter.fetch_add(1, Ordering::SeqCst);
            let fault = schedule.get(index).copied().unwrap_or(Fault::Pass);
            let upstream = upstream.clone();
            std::thread::spawn(move || {
                let Some(request) = read_message(&mut client) else {
                    return;
                };
                match fault {
                    Fault::Drop => {}
                    Fault::ServerError => {
                        let _ = client.write_all(
                            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        );
                    }
                    // Holds the request unanswered until the client gives up and closes
                    // (bounded, should it never): a stall outlasts any client timeout, however
                    // slow the machine, without the test picking one tight enough to beat it.
                    Fault::Stall => {
                        let _ = client.set_read_timeout(Some(Duration::from_secs(120)));
                        let _ = client.read(&mut [0u8; 1]);
                    }
                    Fault::Truncate | Fault::Pass => {
                        let Ok(mut server) = TcpStream::connect(&upstream) else {
                            return;
                        };
                        if server.write_all(&request).is_err() {
                            return;
                        }
                        let Some(response) = read_message(&mut server) else {
                            return;
                        };
                        let cut = if fault == Fault::Truncate {
                            response.len() * 2 / 3
                        } else {
                            response.len()
                        };
                        let _ = client.write_all(&response[..cut]);
                    }
                }
            });
        }
    });
    (address, connections)
}

fn every_record_arrives_exactly_once_through_a_faulty_network(backend: &Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = backend.database(dir.path());
    let storage = database.open();
    let receiver = Arc::new(Receiver::new(storage, verifier_with_crl()).expect("receiver"));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binds");
    let upstream = listener.local_addr().expect("address").to_string();
    runtime.spawn(serve(listener, receiver.clone()));

    // Enrol directly (the enrolment endpoint is tested elsewhere).
    let code = operator::issue_enrolment_code(
        receiver.storage.as_ref(),
        "handheld-01",
        &["test-bank"],
        now(),
    )
    .expect("code");
    let signer = device_signer();
    let key = signer.device_key().spki_der().to_vec();
    assert!(
        receiver
            .storage
            .enrol(
                "handheld-01",
                &operator::secret_hash(&code),
                &key,
                now(),
                &|e| honnin_receiver::fleet::enrolment_entry(
                    e,
                    std::net::IpAddr::from([127, 0, 0, 1]),
                    None
                ),
            )
            .expect("enrols")
    );

    let mut store = Store::create(&dir.path().join("device.db"), &store_keys()).expect("store");
    let reports = [Level::A, Level::B, Level::C].map(genuine_report);
    for i in 0..25 {
        store
            .append(
                draft_of(&reports[i % 3], AttributePolicy::default()),
                &signer,
            )
            .expect("appends");
    }

    use Fault::*;
    let schedule = vec![
        Drop,
        ServerError,
        Stall,
        Truncate,
        Pass,
        Truncate,
        Drop,
        Pass,
        ServerError,
        Truncate,
        Truncate,
        Pass,
        Stall,
        Pass,
    ];
    let (address, connections) = proxy(upstream, schedule);
    let mut config = SyncConfig::new(&address, "handheld-01");
    // The fault proxy speaks plain HTTP on loopback.
    config.allow_loopback_http = true;
    config.batch_size = 5;
    config.max_attempts = 4;
    // Generous for a loaded machine (a batch is verified within it); the stall outlasts it.
    config.timeout = Duration::from_secs(5);
    config.backoff = Backoff {
        base: Duration::from_millis(20),
        max: Duration::from_millis(100),
    };
    let receipt_key = DeviceKey::from_spki_der(
        &BASE64
            .decode(BASE64.encode(receiver.receipt_key().spki_der()))
            .expect("base64"),
    )
    .expect("key");
    let client = SyncClient::new(config, receipt_key);
    // Offline is normal: a sync that gives up is simply called again later.
    let mut rounds = 0;
    let mut duplicates = 0;
    loop {
        rounds += 1;
        assert!(rounds < 20, "no progress after 20 rounds");
        match client.sync(&mut store, &signer, &SystemClock, &mut SystemRandom) {
            Ok(report) => {
                duplicates += report.duplicates;
                break;
            }
            Err(SyncError::Unreachable { .. }) => continue,
            Err(other) => panic!("unexpected: {other}"),
        }
    }
    assert!(connections.load(Ordering::SeqCst) >= 14);
    assert_eq!(store.info().expect("info").pending_sync, 0);
    assert_eq!(receiver.storage.count_records().expect("count"), 25);
    // Truncated answers came after the receiver stored the batch: their records came back
    // as duplicates with the same receipt, and were marked synced then.
    assert!(duplicates > 0);
    let token = operator::add_sender(receiver.storage.as_ref(), "test-bank").expect("sender");
    let hash = operator::secret_hash(&token);
    assert_eq!(
        receiver
            .storage
            .sender_by_token(&hash)
            .expect("reads")
            .as_deref(),
        Some("test-bank")
    );
    let feed = receiver.storage.feed("test-bank", 0, 1000).expect("feed");
    assert_eq!(feed.len(), 25);
    let mut seqs: Vec<u64> = feed
        .iter()
        .map(|row| {
            let value: serde_json::Value = serde_json::from_str(&row.envelope).expect("json");
            value["body"]["seq"].as_u64().expect("seq")
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=25).collect::<Vec<_>>());
}

/// What the scripted receiver answers to a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// A valid receipt for every record.
    Receipts,
    /// Every record answered, the first receipt signed by another key.
    ForgedFirst,
    /// The first record refused, receipts for the others.
    RefuseFirst,
}

/// A receiver on loopback that answers the batches in turn as `script` says (then
/// [`Answer::Receipts`]), with receipts signed by `key`, and keeps the record ids of each
/// batch it was sent. One request per connection.
fn scripted_receiver(
    key: honnin_core::record::SoftwareSigner,
    script: Vec<Answer>,
) -> (String, Arc<std::sync::Mutex<Vec<Vec<String>>>>) {
    use honnin_core::record::{SignedRecord, SoftwareSigner};
    use honnin_core::sync::protocol::{RECEIPT_FORMAT, ReceiptBody, SignedReceipt};
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let seen: Arc<std::sync::Mutex<Vec<Vec<String>>>> = Arc::default();
    let batches = seen.clone();
    let forger = SoftwareSigner::from_secret_bytes(&[0x42; 32]).expect("key");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut client) = stream else { continue };
            let Some(request) = read_message(&mut client) else {
                continue;
            };
            let Some(start) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let body: serde_json::Value =
                serde_json::from_slice(&request[start + 4..]).expect("a batch");
            let records: Vec<SignedRecord> = body["records"]
                .as_array()
                .expect("records")
                .iter()
                .map(|envelope| SignedRecord::from_value(envelope.clone()).expect("a record"))
                .collect();
            let answer = {
                let mut batches = batches.lock().expect("lock");
                let answer = script
                    .get(batches.len())
                    .copied()
                    .unwrap_or(Answer::Receipts);
                batches.push(
                    records
                        .iter()
                        .map(|r| r.body().record_id().to_owned())
                        .collect(),
                );
                answer
            };
            let results: Vec<serde_json::Value> = records
                .iter()
                .enumerate()
                .map(|(i, record)| {
                    let id = record.body().record_id().to_owned();
                    if i == 0 && answer == Answer::RefuseFirst {
                        return serde_json::json!({"record_id": id, "status": "rejected",
                            "receipt": null, "error": "refused by the script"});
                    }
                    let signer = if i == 0 && answer == Answer::ForgedFirst {
                        &forger
                    } else {
                        &key
                    };
                    let receipt = SignedReceipt::sign(
                        ReceiptBody {
                            format: RECEIPT_FORMAT.into(),
                            record_id: id.clone(),
                            record_hash: record.hash_hex(),
                            device_id: "handheld-01".into(),
                            seq: record.body().seq(),
                            received_at: now(),
                            outcome: "verified".into(),
                        },
                        signer,
                        signer.device_key(),
                    )
                    .expect("signs");
                    serde_json::json!({"record_id": id, "status": "accepted",
                        "receipt": receipt, "error": null})
                })
                .collect();
            let answer = serde_json::json!({ "results": results }).to_string();
            let _ = client.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                )
                .as_bytes(),
            );
        }
    });
    (address, seen)
}

/// What a scripted sync left behind.
struct Scripted {
    result: Result<honnin_core::sync::SyncReport, SyncError>,
    /// The record ids of each batch the receiver was sent, in order.
    batches: Vec<Vec<String>>,
    /// The store's record ids in chain order.
    ids: Vec<String>,
    /// Whether each of them is marked synced.
    synced: Vec<bool>,
}

/// Syncs a new store of `n` records in batches of 2 against a receiver following `script`.
fn sync_scripted(n: usize, script: Vec<Answer>) -> Scripted {
    use honnin_core::record::SoftwareSigner;
    let dir = tempfile::tempdir().expect("temp dir");
    let receipt_key = SoftwareSigner::from_secret_bytes(&[0x24; 32]).expect("key");
    let trusted = receipt_key.device_key().clone();
    let (address, seen) = scripted_receiver(receipt_key, script);
    let signer = device_signer();
    let mut store = Store::create(&dir.path().join("device.db"), &store_keys()).expect("store");
    let report = genuine_report(Level::A);
    for _ in 0..n {
        store
            .append(draft_of(&report, AttributePolicy::default()), &signer)
            .expect("appends");
    }
    let mut config = SyncConfig::new(&address, "handheld-01");
    config.allow_loopback_http = true;
    config.batch_size = 2;
    config.max_attempts = 1;
    let result =
        SyncClient::new(config, trusted).sync(&mut store, &signer, &SystemClock, &mut SystemRandom);
    let rows = store.list(0, usize::MAX).expect("lists");
    let ids = rows.iter().map(|r| r.record_id.clone()).collect();
    let synced = rows.iter().map(|r| r.synced_at.is_some()).collect();
    let batches = seen.lock().expect("lock").clone();
    Scripted {
        result,
        batches,
        ids,
        synced,
    }
}

/// The batches, one after another, are the store's records in chain order.
fn assert_sent_in_order(batches: &[Vec<String>], ids: &[String]) {
    let sent: Vec<&String> = batches.iter().flatten().collect();
    assert_eq!(sent, ids.iter().take(sent.len()).collect::<Vec<_>>());
}

#[test]
fn pipelined_batches_go_in_chain_order_and_every_receipt_is_checked_before_a_record_is_marked() {
    let Scripted {
        result,
        batches,
        ids,
        synced,
    } = sync_scripted(5, vec![]);
    let report = result.expect("syncs");
    assert_eq!((report.synced, report.requests), (5, 3));
    assert_eq!(batches.len(), 3);
    assert_sent_in_order(&batches, &ids);
    assert!(synced.iter().all(|s| *s));
}

#[test]
fn a_forged_receipt_stops_the_sync_and_leaves_its_record_and_every_later_one_pending() {
    // Batch 2's first receipt is forged. Batch 3 may already be on its way (it is sent while
    // batch 2's receipts are checked), but nothing from record 3 on is marked synced.
    let Scripted {
        result,
        batches,
        ids,
        synced,
    } = sync_scripted(6, vec![Answer::Receipts, Answer::ForgedFirst]);
    match result {
        Err(SyncError::BadReceipt { record_id, .. }) => assert_eq!(record_id, ids[2]),
        other => panic!("expected a bad receipt, got {other:?}"),
    }
    assert!(batches.len() <= 3, "{batches:?}");
    assert_sent_in_order(&batches, &ids);
    assert_eq!(synced, [true, true, false, false, false, false]);
}

#[test]
fn a_refused_record_stops_the_sync_before_any_later_batch_is_sent() {
    let Scripted {
        result,
        batches,
        ids,
        synced,
    } = sync_scripted(6, vec![Answer::Receipts, Answer::RefuseFirst]);
    match result {
        Err(SyncError::RecordRefused { record_id, .. }) => assert_eq!(record_id, ids[2]),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Sent one at a time: nothing after the refused record left the device.
    assert_eq!(batches.len(), 2, "{batches:?}");
    assert_sent_in_order(&batches, &ids);
    assert_eq!(synced, [true, true, false, false, false, false]);
}
