//! Two receiver instances on one database (two connections to one SQLite file, two pools on
//! one PostgreSQL schema), sent overlapping batches of one device at the same time, as a
//! device retrying through a load balancer would: each record is held once, copies get the
//! first receipt, and every chain link was checked against the head it really follows (the
//! head in commit order), so a fork sent to both instances at once is flagged, not hidden.

#[macro_use]
mod common;

use std::sync::Arc;

use honnin_core::check::Level;
use honnin_core::record::{AttributePolicy, DeviceKey, SignedRecord};
use honnin_core::store::Store;
use honnin_core::verify::CheckState;
use honnin_core::verify::record::{RecordExpectation, TimeWindow, verify_record};
use honnin_e2e::records::{device_signer, draft_of, genuine_report, store_keys};
use honnin_e2e::verifier_with_crl;
use honnin_receiver::routes::serve;
use honnin_receiver::storage::{ChainHead, next_head};
use honnin_receiver::{Receiver, now, operator};

use common::{Backend, get, post, signed_batch};

backend_tests!(two_receivers_on_one_database_hold_each_record_once_and_keep_the_chain);

/// `n` records of one device (levels A, B, C in turn) in a store under `dir`.
fn records(dir: &std::path::Path, n: usize) -> Vec<SignedRecord> {
    std::fs::create_dir_all(dir).expect("dir");
    let mut store = Store::create(&dir.join("device.db"), &store_keys()).expect("store");
    let reports = [Level::A, Level::B, Level::C].map(genuine_report);
    let drafts = (0..n)
        .map(|i| draft_of(&reports[i % 3], AttributePolicy::default()))
        .collect();
    store.append_all(drafts, &device_signer()).expect("appends");
    store
        .list(0, n)
        .expect("lists")
        .into_iter()
        .map(|row| row.record.expect("reads"))
        .collect()
}

/// Posts each `(instance, records)` at the same time; the answers' results, in order.
fn at_once(
    bases: &[String; 2],
    batches: Vec<(usize, Vec<SignedRecord>)>,
) -> Vec<serde_json::Value> {
    let barrier = Arc::new(std::sync::Barrier::new(batches.len()));
    let threads: Vec<_> = batches
        .into_iter()
        .map(|(instance, records)| {
            let url = format!("{}/v1/batches", bases[instance]);
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let (headers, body) = signed_batch(&records);
                barrier.wait();
                let (status, answer) = post(&url, &headers, &body);
                assert_eq!(status, 200, "{answer}");
                answer
            })
        })
        .collect();
    let mut results = Vec::new();
    for thread in threads {
        let answer = thread.join().expect("poster");
        results.extend(
            answer["results"]
                .as_array()
                .expect("results")
                .iter()
                .cloned(),
        );
    }
    results
}

fn chain_link(entry: &serde_json::Value) -> String {
    entry["verification"]["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["check"] == "chain_link"))
        .and_then(|c| c["state"].as_str())
        .unwrap_or("missing")
        .to_owned()
}

fn two_receivers_on_one_database_hold_each_record_once_and_keep_the_chain(backend: &Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = backend.database(dir.path());
    // Both start at once: the receipt key is made once and shared.
    let starting: Vec<_> = (0..2)
        .map(|_| {
            let storage = database.open();
            std::thread::spawn(move || {
                Arc::new(Receiver::new(storage, verifier_with_crl()).expect("receiver"))
            })
        })
        .collect();
    let receivers: Vec<Arc<Receiver>> = starting
        .into_iter()
        .map(|t| t.join().expect("starts"))
        .collect();
    assert_eq!(
        receivers[0].receipt_key().spki_der(),
        receivers[1].receipt_key().spki_der()
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let bases: [String; 2] = std::array::from_fn(|i| {
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("binds");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        runtime.spawn(serve(listener, receivers[i].clone()));
        base
    });
    let storage = receivers[0].storage.clone();
    let code =
        operator::issue_enrolment_code(storage.as_ref(), "handheld-01", &["test-bank"], now())
            .expect("code");
    let signer = device_signer();
    assert!(
        storage
            .enrol(
                "handheld-01",
                &operator::secret_hash(&code),
                signer.device_key().spki_der(),
                now(),
                &|e| honnin_receiver::fleet::enrolment_entry(
                    e,
                    std::net::IpAddr::from([127, 0, 0, 1]),
                    None
                )
            )
            .expect("enrols")
    );

    let main = records(&dir.path().join("device"), 63);
    // The same device's key on a second store: its record 61 forks the chain at 61.
    let fork = records(&dir.path().join("fork"), 61).remove(60);
    let span = |from: usize, to: usize| main[from - 1..to].to_vec();

    // Rounds of overlapping batches: each starts at or before the head the round starts from,
    // so whichever commits first, every record follows its predecessor.
    let mut answers = Vec::new();
    for (a, b) in [
        ((1, 20), (1, 25)),
        ((21, 45), (26, 50)),
        ((41, 60), (46, 60)),
    ] {
        answers.extend(at_once(
            &bases,
            vec![
                (0, span(a.0, a.1)),
                (1, span(b.0, b.1)),
                (1, span(a.0, b.1)),
            ],
        ));
    }
    // A fork sent to both instances at once, then a gap.
    answers.extend(at_once(
        &bases,
        vec![(0, span(61, 61)), (1, vec![fork.clone()])],
    ));
    answers.extend(at_once(&bases, vec![(1, span(63, 63))]));

    // Every answer is a receipt, and each record's copies got the same one.
    let mut receipts = std::collections::HashMap::new();
    for result in &answers {
        let status = result["status"].as_str().expect("status");
        assert!(status == "accepted" || status == "duplicate", "{result}");
        let first = receipts
            .entry(result["record_id"].as_str().expect("id").to_owned())
            .or_insert_with(|| result["receipt"].clone());
        assert_eq!(*first, result["receipt"]);
    }
    assert_eq!(receipts.len(), 63);
    assert_eq!(storage.count_records().expect("count"), 63);

    let token = operator::add_sender(storage.as_ref(), "test-bank").expect("sender");
    let (status, page) = get(&format!("{}/v1/feed?limit=1000", bases[1]), Some(&token));
    assert_eq!(status, 200, "{page}");
    let entries = page["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 63);

    // Each stored chain link is the one its place in commit (cursor) order gives.
    let key = DeviceKey::from_spki_der(signer.device_key().spki_der()).expect("key");
    let mut head: Option<ChainHead> = None;
    let mut links = std::collections::HashMap::new();
    for entry in entries {
        let record = SignedRecord::from_value(entry["record"].clone()).expect("record");
        let expected = verify_record(
            &record,
            &verifier_with_crl(),
            &RecordExpectation {
                device_key: &key,
                item_id: None,
                sender_id: None,
                previous: head,
                time_window: TimeWindow::UNKNOWN,
            },
        );
        let expected = match expected.check("chain_link").map(|c| c.state) {
            Some(CheckState::Passed) => "passed",
            Some(CheckState::Failed) => "failed",
            other => panic!("chain link {other:?}"),
        };
        assert_eq!(
            chain_link(entry),
            expected,
            "record #{} at cursor {}: its link was not checked against the head it follows",
            record.body().seq(),
            entry["cursor"]
        );
        links.insert(record.body().record_id().to_owned(), expected);
        head = next_head(head, record.body().seq(), record.hash());
    }
    for record in &main[..60] {
        assert_eq!(links[record.body().record_id()], "passed");
    }
    // The fork at 61 never follows 60 (its predecessor is another record 60); the device's
    // own 61 follows 60 if it was stored first, and is flagged as out of place otherwise.
    let cursor_of = |id: &str| {
        entries
            .iter()
            .position(|e| e["record"]["body"]["record_id"] == id)
            .expect("in the feed")
    };
    let (own, forked) = (main[60].body().record_id(), fork.body().record_id());
    assert_eq!(links[forked], "failed");
    let own_first = cursor_of(own) < cursor_of(forked);
    assert_eq!(links[own], if own_first { "passed" } else { "failed" });
    assert_eq!(links[main[62].body().record_id()], "failed");
}
