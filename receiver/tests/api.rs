//! The receiver over real HTTP on loopback, against SQLite and PostgreSQL (see `common`):
//! enrolment, sync from a device store with the core's client, idempotency, the sender feed and
//! its isolation, bad requests refused without change, rate limiting, and the OpenAPI document
//! against the routes.

#[macro_use]
mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use honnin_core::check::Level;
use honnin_core::record::{AttributePolicy, DeviceKey, SignedRecord, SoftwareSigner};
use honnin_core::store::Store;
use honnin_core::sync::protocol::sign_batch;
use honnin_core::sync::{Backoff, SyncClient, SyncConfig};
use honnin_core::verify::record::{RecordExpectation, TimeWindow, verify_record};
use honnin_core::verify::{SystemClock, SystemRandom};
use honnin_e2e::records::{device_signer, draft_of, genuine_report, store_keys};
use honnin_e2e::verifier_with_crl;
use honnin_receiver::routes::ROUTES;
use honnin_receiver::{now, operator};

use common::{
    Backend, Server, get, post, post_announcing, post_enrol, receipt_key_of, signed_batch, start,
};

backend_tests!(
    records_sync_once_and_the_sender_re_verifies_them_from_its_feed,
    a_repeated_record_gets_the_same_receipt,
    one_batch_flags_gaps_refuses_forgeries_and_answers_copies_once,
    a_sender_sees_only_its_own_records,
    bad_requests_get_clear_errors_and_change_nothing,
    repeated_failed_authentication_is_rate_limited,
    the_openapi_document_and_the_routes_agree,
);

fn enrol(server: &Server, signer: &SoftwareSigner) -> DeviceKey {
    let code = operator::issue_enrolment_code(
        server.receiver.storage.as_ref(),
        "handheld-01",
        &["test-bank"],
        now(),
    )
    .expect("code");
    let (status, answer) = post_enrol(server, "handheld-01", signer, &code);
    assert_eq!(status, 201, "{answer}");
    // The code is single-use.
    let (status, _) = post_enrol(server, "handheld-01", signer, &code);
    assert_eq!(status, 401);
    receipt_key_of(&answer)
}

/// The records of `store`, in order.
fn records_of(store: &Store, n: usize) -> Vec<SignedRecord> {
    store
        .list(0, n)
        .expect("lists")
        .into_iter()
        .map(|row| row.record.expect("reads"))
        .collect()
}

/// The state of `check` in a feed entry's verification.
fn check_state(entry: &serde_json::Value, check: &str) -> String {
    entry["verification"]["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["check"] == check))
        .and_then(|c| c["state"].as_str())
        .unwrap_or("missing")
        .to_owned()
}

/// A device store holding `n` records of genuine door checks (levels A, B, C in turn).
fn device_store(dir: &std::path::Path, n: usize) -> Store {
    let mut store = Store::create(&dir.join("device.db"), &store_keys()).expect("store");
    let reports = [Level::A, Level::B, Level::C].map(genuine_report);
    for i in 0..n {
        store
            .append(
                draft_of(&reports[i % 3], AttributePolicy::ALL),
                &device_signer(),
            )
            .expect("appends");
    }
    store
}

fn client(server: &Server, receipt_key: DeviceKey) -> SyncClient {
    let mut config = SyncConfig::new(&server.base, "handheld-01");
    // These tests serve plain HTTP on loopback; TLS has its own tests (tls.rs).
    config.allow_loopback_http = true;
    config.batch_size = 4;
    config.backoff = Backoff {
        base: std::time::Duration::from_millis(10),
        max: std::time::Duration::from_millis(50),
    };
    SyncClient::new(config, receipt_key)
}

fn records_sync_once_and_the_sender_re_verifies_them_from_its_feed(backend: &Backend) {
    let server = start(backend);
    let receipt_key = enrol(&server, &device_signer());
    let mut store = device_store(server.dir.path(), 10);
    let report = client(&server, receipt_key.clone())
        .sync(
            &mut store,
            &device_signer(),
            &SystemClock,
            &mut SystemRandom,
        )
        .expect("syncs");
    assert_eq!(report.synced, 10);
    assert_eq!(report.flagged, 0);
    assert_eq!(store.info().expect("info").pending_sync, 0);
    assert_eq!(server.receiver.storage.count_records().expect("count"), 10);

    // Nothing left: a second sync sends nothing.
    let again = client(&server, receipt_key)
        .sync(
            &mut store,
            &device_signer(),
            &SystemClock,
            &mut SystemRandom,
        )
        .expect("syncs");
    assert_eq!(again.requests, 0);

    let token =
        operator::add_sender(server.receiver.storage.as_ref(), "test-bank").expect("sender");
    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let (status, page) = get(
            &format!("{}/v1/feed?after={after}&limit=3", server.base),
            Some(&token),
        );
        assert_eq!(status, 200, "{page}");
        let entries = page["entries"].as_array().expect("entries").clone();
        if entries.is_empty() {
            break;
        }
        after = page["next_after"].as_i64().expect("cursor");
        seen.extend(entries);
    }
    assert_eq!(seen.len(), 10);
    let mut previous = None;
    for entry in &seen {
        assert_eq!(entry["verification"]["outcome"], "verified", "{entry}");
        let record = SignedRecord::from_value(entry["record"].clone()).expect("record");
        let key = DeviceKey::from_spki_der(
            &BASE64
                .decode(entry["device_key"].as_str().expect("key"))
                .expect("base64"),
        )
        .expect("key");
        let result = verify_record(
            &record,
            &verifier_with_crl(),
            &RecordExpectation {
                device_key: &key,
                item_id: Some("JP-ITEM-0001"),
                sender_id: Some("test-bank"),
                previous,
                time_window: TimeWindow::UNKNOWN,
            },
        );
        assert!(result.is_verified(), "{result:#?}");
        assert_eq!(
            result.check("chain_link").map(|c| c.state),
            Some(honnin_core::verify::CheckState::Passed)
        );
        previous = Some((record.body().seq(), record.hash()));
    }
}

fn a_repeated_record_gets_the_same_receipt(backend: &Backend) {
    let server = start(backend);
    enrol(&server, &device_signer());
    let store = device_store(server.dir.path(), 2);
    let records: Vec<SignedRecord> = store
        .list(0, 10)
        .expect("lists")
        .into_iter()
        .map(|row| row.record.expect("reads"))
        .collect();
    let url = format!("{}/v1/batches", server.base);
    let (headers, body) = signed_batch(&records);
    let (status, first) = post(&url, &headers, &body);
    assert_eq!(status, 200, "{first}");
    let (headers, body) = signed_batch(&records);
    let (status, second) = post(&url, &headers, &body);
    assert_eq!(status, 200, "{second}");
    for i in 0..2 {
        assert_eq!(first["results"][i]["status"], "accepted");
        assert_eq!(second["results"][i]["status"], "duplicate");
        assert_eq!(
            first["results"][i]["receipt"],
            second["results"][i]["receipt"]
        );
    }
    assert_eq!(server.receiver.storage.count_records().expect("count"), 2);
}

fn one_batch_flags_gaps_refuses_forgeries_and_answers_copies_once(backend: &Backend) {
    let server = start(backend);
    enrol(&server, &device_signer());
    let genuine = records_of(&device_store(server.dir.path(), 5), 5);
    // Records in the device's name, signed with another key; the third has position 3 too.
    let forger = SoftwareSigner::from_secret_bytes(&[0x66; 32]).expect("key");
    let forged_dir = server.dir.path().join("forged");
    std::fs::create_dir(&forged_dir).expect("dir");
    let mut forged_store =
        Store::create(&forged_dir.join("device.db"), &store_keys()).expect("store");
    let report = genuine_report(Level::B);
    for _ in 0..3 {
        forged_store
            .append(draft_of(&report, AttributePolicy::ALL), &forger)
            .expect("appends");
    }
    let forged = records_of(&forged_store, 3);
    assert_eq!(forged[2].body().seq(), 3);
    let [a1, a2, a3, a4, a5] = <[SignedRecord; 5]>::try_from(genuine).expect("five");

    let batch = [a1, a2, forged[2].clone(), a3.clone(), a3, a5, a4];
    let (headers, body) = signed_batch(&batch);
    let (status, answer) = post(&format!("{}/v1/batches", server.base), &headers, &body);
    assert_eq!(status, 200, "{answer}");
    let statuses: Vec<&str> = (0..7)
        .map(|i| answer["results"][i]["status"].as_str().expect("status"))
        .collect();
    assert_eq!(
        statuses,
        [
            "accepted",
            "accepted",
            "rejected",
            "accepted",
            "duplicate",
            "accepted",
            "accepted"
        ]
    );
    assert_eq!(
        answer["results"][3]["receipt"],
        answer["results"][4]["receipt"]
    );
    assert!(
        answer["results"][2]["error"]
            .as_str()
            .is_some_and(|e| e.contains("device signature"))
    );
    // A gap is stored and flagged, in the record's verification and its receipt.
    assert_eq!(
        answer["results"][5]["receipt"]["receipt"]["outcome"],
        "failed"
    );
    assert_eq!(server.receiver.storage.count_records().expect("count"), 5);

    let token =
        operator::add_sender(server.receiver.storage.as_ref(), "test-bank").expect("sender");
    let (status, page) = get(&format!("{}/v1/feed", server.base), Some(&token));
    assert_eq!(status, 200, "{page}");
    let entries = page["entries"].as_array().expect("entries");
    let links: Vec<(u64, String)> = entries
        .iter()
        .map(|e| {
            (
                e["record"]["body"]["seq"].as_u64().expect("seq"),
                check_state(e, "chain_link"),
            )
        })
        .collect();
    // The forged third record moved nothing: the genuine third links to the second. The
    // fifth skips the fourth (a gap), and the fourth then comes after the fifth.
    assert_eq!(
        links,
        [
            (1, "passed".to_owned()),
            (2, "passed".to_owned()),
            (3, "passed".to_owned()),
            (5, "failed".to_owned()),
            (4, "failed".to_owned()),
        ]
    );
}

fn a_sender_sees_only_its_own_records(backend: &Backend) {
    let server = start(backend);
    let receipt_key = enrol(&server, &device_signer());
    let mut store = device_store(server.dir.path(), 3);
    client(&server, receipt_key)
        .sync(
            &mut store,
            &device_signer(),
            &SystemClock,
            &mut SystemRandom,
        )
        .expect("syncs");
    let storage = server.receiver.storage.as_ref();
    let own = operator::add_sender(storage, "test-bank").expect("sender");
    let other = operator::add_sender(storage, "other-bank").expect("sender");
    let feed = |token: &str| get(&format!("{}/v1/feed", server.base), Some(token));
    let (status, page) = feed(&own);
    assert_eq!(status, 200);
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(3));
    let (status, page) = feed(&other);
    assert_eq!(status, 200);
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(0));
    assert_eq!(page["next_after"], 0);
    let (status, page) = feed("hnn_not-a-token");
    assert_eq!(status, 401, "{page}");
    let (status, _) = get(&format!("{}/v1/feed", server.base), None);
    assert_eq!(status, 401);
}

fn bad_requests_get_clear_errors_and_change_nothing(backend: &Backend) {
    let server = start(backend);
    enrol(&server, &device_signer());
    let store = device_store(server.dir.path(), 1);
    let record = store
        .list(0, 1)
        .expect("lists")
        .remove(0)
        .record
        .expect("reads");
    let url = format!("{}/v1/batches", server.base);
    let count = || server.receiver.storage.count_records().expect("count");

    // Malformed JSON under a valid signature.
    let (mut headers, _) = signed_batch(std::slice::from_ref(&record));
    let garbage = b"{\"records\": [".to_vec();
    let signer = device_signer();
    let timestamp: i64 = headers[1].1.parse().expect("time");
    headers[3].1 = sign_batch(
        &signer,
        signer.device_key(),
        "handheld-01",
        timestamp,
        &headers[2].1,
        &garbage,
    )
    .expect("signs");
    let (status, answer) = post(&url, &headers, &garbage);
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "malformed_json");

    // A forged signature: another key signs.
    let forger = SoftwareSigner::from_secret_bytes(&[0x66; 32]).expect("key");
    let (mut headers, body) = signed_batch(std::slice::from_ref(&record));
    headers[3].1 = sign_batch(
        &forger,
        forger.device_key(),
        "handheld-01",
        timestamp,
        &headers[2].1,
        &body,
    )
    .expect("signs");
    let (status, answer) = post(&url, &headers, &body);
    assert_eq!(status, 401, "{answer}");

    // A replay of an accepted request.
    let (headers, body) = signed_batch(std::slice::from_ref(&record));
    assert_eq!(post(&url, &headers, &body).0, 200);
    assert_eq!(count(), 1);
    let (status, answer) = post(&url, &headers, &body);
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "replayed_request");

    // An oversize body is refused from its declared length, before it is sent: the client
    // here announces 9 MiB and sends nothing, and still gets its answer.
    let (headers, _) = signed_batch(std::slice::from_ref(&record));
    let (status, answer) = post_announcing(&url, &headers, 9 * 1024 * 1024);
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error"]["code"], "body_too_large");
    assert_eq!(count(), 1);

    // An unknown device.
    let (mut headers, body) = signed_batch(std::slice::from_ref(&record));
    headers[0].1 = "handheld-99".into();
    assert_eq!(post(&url, &headers, &body).0, 401);
    assert_eq!(count(), 1);
}

fn repeated_failed_authentication_is_rate_limited(backend: &Backend) {
    let server = start(backend);
    let url = format!("{}/v1/feed", server.base);
    let statuses: Vec<u16> = (0..12).map(|_| get(&url, Some("hnn_wrong")).0).collect();
    assert_eq!(&statuses[..10], &[401; 10]);
    assert_eq!(statuses[10], 429);
    // A valid token from the same address is refused too until the window passes.
    let token =
        operator::add_sender(server.receiver.storage.as_ref(), "test-bank").expect("sender");
    assert_eq!(get(&url, Some(&token)).0, 429);
}

fn the_openapi_document_and_the_routes_agree(backend: &Backend) {
    let server = start(backend);
    let (status, document) = get(&format!("{}/v1/openapi.json", server.base), None);
    assert_eq!(status, 200);
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    let mut served: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    documented.sort();
    served.sort();
    assert_eq!(documented, served);
    // Every route answers something other than 404/405 (so ROUTES is the router's list).
    for (method, path) in &served {
        let url = format!("{}{path}", server.base);
        let status = match method.as_str() {
            "get" => get(&url, None).0,
            "post" => post(&url, &[], b"{}").0,
            "put" => common::agent()
                .put(&url)
                .send(&b"{}"[..])
                .map(|r| r.status().as_u16())
                .expect("answer"),
            "delete" => common::agent()
                .delete(&url)
                .call()
                .map(|r| r.status().as_u16())
                .expect("answer"),
            other => panic!("a route with method {other}: add it here"),
        };
        assert!(status != 404 && status != 405, "{method} {path}: {status}");
    }
    // Every $ref resolves.
    let text = document.to_string();
    for reference in text.split("\"$ref\":\"#/").skip(1) {
        let pointer = reference.split('"').next().expect("pointer");
        assert!(
            document.pointer(&format!("/{pointer}")).is_some(),
            "unresolved $ref {pointer}"
        );
    }
}
