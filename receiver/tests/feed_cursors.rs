//! Feed cursors against a sender who counts: over TLS on loopback, against SQLite and
//! PostgreSQL, a sender's cursors are positions in its own feed, whatever other senders get,
//! a webhook is pushed the same cursors, and a database from the days of global cursors is
//! renumbered when it is opened, webhooks included. On SQLite each stored document's checksum
//! catches any changed byte, and a database from before the checksums is still checked.

#[macro_use]
mod common;
mod hostile_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use honnin_e2e::records::device_signer;
use honnin_receiver::operator;
use honnin_receiver::webhook::{PushSettings, run_pusher};

use common::Backend;
use hostile_support::{Server, call, enrol, record, start, store};

backend_tests!(
    a_senders_feed_cursors_say_nothing_of_other_senders_records,
    a_damaged_stored_document_reads_as_null_and_the_page_is_served_as_built_from_rows,
    a_senders_webhook_is_pushed_its_own_cursors,
    a_database_with_global_cursors_is_renumbered_per_sender_on_open,
);

/// `(cursor, record id)` of every entry of the feed of `token` after `after`, and `next_after`.
fn feed(server: &Server, token: &str, after: i64) -> (Vec<(i64, String)>, i64) {
    let headers = [("authorization", format!("Bearer {token}"))];
    let (status, page) = call(
        server,
        "GET",
        &format!("/v1/feed?after={after}&limit=100"),
        &headers,
        None,
    );
    assert_eq!(status, 200, "{page}");
    let entries = page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["cursor"].as_i64().expect("cursor"),
                e["record"]["record_id"].as_str().expect("id").to_owned(),
            )
        })
        .collect();
    (entries, page["next_after"].as_i64().expect("next_after"))
}

fn ids(entries: &[(i64, String)]) -> Vec<i64> {
    entries.iter().map(|(cursor, _)| *cursor).collect()
}

fn a_senders_feed_cursors_say_nothing_of_other_senders_records(backend: &Backend) {
    let server = start(backend, |_| {});
    let storage = server.receiver.storage.as_ref();
    let bank = operator::add_sender(storage, "test-bank").expect("sender");
    let shop = operator::add_sender(storage, "other-shop").expect("sender");
    enrol(&server, "handheld-01", &device_signer());
    // Interleaved, over two batches: the shop gets most of the device's records.
    let head = store(
        storage,
        None,
        &[
            record("test-bank", 1),
            record("other-shop", 2),
            record("other-shop", 3),
        ],
    );
    store(
        storage,
        head,
        &[
            record("other-shop", 4),
            record("test-bank", 5),
            record("other-shop", 6),
            record("test-bank", 7),
        ],
    );
    // The bank's cursors are 1, 2, 3: with global cursors they were 1, 5, 7, and the gaps
    // counted the shop's deliveries.
    let (entries, next) = feed(&server, &bank, 0);
    assert_eq!(ids(&entries), vec![1, 2, 3], "{entries:?}");
    assert_eq!(next, 3);
    let bank_records: Vec<&str> = entries.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(bank_records, vec!["record-1", "record-5", "record-7"]);
    let (entries, next) = feed(&server, &bank, 1);
    assert_eq!(ids(&entries), vec![2, 3]);
    assert_eq!(next, 3);
    // Past its own end the bank gets nothing and its cursor stays: no hint of the shop's.
    let (entries, next) = feed(&server, &bank, 3);
    assert!(entries.is_empty());
    assert_eq!(next, 3);
    let (entries, _) = feed(&server, &shop, 0);
    assert_eq!(ids(&entries), vec![1, 2, 3, 4]);
    // The webhook pusher reads the same per-sender pages.
    let rows = storage.feed("test-bank", 1, 10).expect("feed");
    assert_eq!(
        rows.iter().map(|r| r.cursor).collect::<Vec<_>>(),
        vec![2, 3]
    );
}

/// The served page is written straight from the storage's rows (SQLite) into reused buffers:
/// its bytes are those of the page built from the rows as read (what webhooks are pushed), a
/// stored document that is not JSON reads as null without taking the page down, and a shorter
/// page after a longer one carries nothing of the longer one.
fn a_damaged_stored_document_reads_as_null_and_the_page_is_served_as_built_from_rows(
    backend: &Backend,
) {
    let server = start(backend, |_| {});
    let storage = server.receiver.storage.as_ref();
    let bank = operator::add_sender(storage, "test-bank").expect("sender");
    enrol(&server, "handheld-01", &device_signer());
    let mut records: Vec<_> = (1..=6).map(|seq| record("test-bank", seq)).collect();
    records[1].envelope = "{\"record_id\":\"record-2\"".into();
    records[2].receipt = "not json".into();
    records[3].verification = "{\"checks\":[1,2,]}".into();
    store(storage, None, &records);
    let raw_page = |after: i64, limit: u32| -> Vec<u8> {
        let mut response = server
            .agent
            .get(&format!(
                "{}/v1/feed?after={after}&limit={limit}",
                server.base
            ))
            .header("authorization", format!("Bearer {bank}"))
            .call()
            .expect("answers");
        assert_eq!(response.status(), 200);
        response.body_mut().read_to_vec().expect("body")
    };
    for (after, limit) in [(0, 100), (0, 6), (2, 2), (5, 100), (6, 100), (0, 100)] {
        let served = raw_page(after, limit);
        let rows = storage.feed("test-bank", after, limit).expect("feed");
        let (built, _) = honnin_receiver::routes::feed_page(rows, after);
        assert_eq!(
            String::from_utf8_lossy(&served),
            String::from_utf8_lossy(&built),
            "after {after}, limit {limit}"
        );
    }
    let page: serde_json::Value = serde_json::from_slice(&raw_page(0, 100)).expect("JSON");
    let entries = page["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 6);
    assert!(entries[1]["record"].is_null(), "{}", entries[1]);
    assert!(entries[2]["receipt"].is_null(), "{}", entries[2]);
    assert!(entries[3]["verification"].is_null(), "{}", entries[3]);
    assert_eq!(entries[4]["record"]["record_id"], "record-5");
    assert_eq!(entries[4]["receipt"], serde_json::json!({}));
    assert_eq!(page["next_after"], 6);
    let empty: serde_json::Value = serde_json::from_slice(&raw_page(6, 100)).expect("JSON");
    assert_eq!(empty, serde_json::json!({"entries": [], "next_after": 6}));
}

/// A sender's feed page after `after` as SQLite's route writes it (straight from its rows), and
/// the same page built from the rows `feed` reads (what webhooks are pushed): the two must match.
fn sqlite_pages(storage: &dyn honnin_receiver::storage::Storage, after: i64) -> serde_json::Value {
    let mut served = Vec::new();
    let mut page = honnin_receiver::feed_page::PageWriter::new(&mut served, after);
    storage
        .write_feed("test-bank", after, 100, &mut page)
        .expect("writes the page");
    page.finish();
    let rows = storage.feed("test-bank", after, 100).expect("feed");
    let (built, _) = honnin_receiver::routes::feed_page(rows, after);
    assert_eq!(
        String::from_utf8_lossy(&served),
        String::from_utf8_lossy(&built)
    );
    serde_json::from_slice(&served).expect("the page is JSON")
}

/// A device row for the feed's join, enrolled straight in the storage.
fn enrol_in(storage: &dyn honnin_receiver::storage::Storage) {
    storage
        .add_enrolment_code("handheld-01", "code", i64::MAX)
        .expect("code");
    assert!(
        storage
            .enrol("handheld-01", "code", &[0], 0, &|e| {
                honnin_receiver::fleet::enrolment_entry(
                    e,
                    std::net::IpAddr::from([127, 0, 0, 1]),
                    None,
                )
            })
            .expect("enrols")
    );
}

/// A changed byte inside a string leaves the document JSON, which the old per-page parse let
/// through; the checksum written with the row catches it, in each of the three documents.
#[test]
fn a_byte_changed_inside_a_stored_string_reads_as_null_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("receiver.db");
    let storage = honnin_receiver::storage::SqliteStorage::open(&path).expect("opens");
    enrol_in(&storage);
    let mut records: Vec<_> = (1..=4).map(|seq| record("test-bank", seq)).collect();
    for r in &mut records {
        r.receipt = "{\"signature\":\"abcd\"}".into();
        r.verification = "{\"outcome\":\"genuine\"}".into();
    }
    store(&storage, None, &records);
    assert_eq!(page_size(&path), 16384, "a new database's pages");
    let untouched = sqlite_pages(&storage, 0);
    assert_eq!(untouched["entries"][1]["record"]["record_id"], "record-2");
    // Same length, still JSON: only the checksum can tell.
    rusqlite::Connection::open(&path)
        .and_then(|c| {
            c.execute_batch(
                "UPDATE records SET envelope = replace(envelope, 'record-2', 'record-9')
                     WHERE record_id = 'record-2';
                 UPDATE records SET receipt = replace(receipt, 'abcd', 'abce')
                     WHERE record_id = 'record-3';
                 UPDATE records SET verification = replace(verification, 'genuine', 'genuinf')
                     WHERE record_id = 'record-4';",
            )
        })
        .expect("damages three documents");
    let page = sqlite_pages(&storage, 0);
    let entries = page["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[0], untouched["entries"][0]);
    assert!(entries[1]["record"].is_null(), "{}", entries[1]);
    assert_eq!(entries[1]["receipt"], untouched["entries"][1]["receipt"]);
    assert!(entries[2]["receipt"].is_null(), "{}", entries[2]);
    assert_eq!(entries[2]["record"]["record_id"], "record-3");
    assert!(entries[3]["verification"].is_null(), "{}", entries[3]);
    assert_eq!(entries[3]["receipt"]["signature"], "abcd");
}

/// A database made before the checksums gets their columns when opened (twice: the second
/// open changes nothing); its rows, without checksums, are still validated as JSON, and rows
/// stored afterwards get checksums.
#[test]
fn a_sqlite_database_from_before_the_checksums_gets_their_columns_and_is_still_checked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("receiver.db");
    rusqlite::Connection::open(&path)
        .and_then(|c| {
            c.execute_batch(&format!(
                "{tables}
                 INSERT INTO devices (device_id, key_spki, enrolled_at)
                     VALUES ('handheld-01', x'00', 0);
                 INSERT INTO records (record_id, record_hash, device_id, seq, sender_id,
                     item_id, envelope, verification, receipt, received_at, sender_seq)
                 VALUES ('record-1', 'aa', 'handheld-01', 1, 'test-bank', 'item-1',
                         '{{\"record_id\":\"record-1\"}}', '{{}}', '{{}}', 0, 1),
                        ('record-2', 'bb', 'handheld-01', 2, 'test-bank', 'item-2',
                         '{{\"record_id\":', '{{}}', '{{}}', 0, 2);",
                tables = old_tables(&Backend::Sqlite).replace(
                    "received_at INTEGER NOT NULL);",
                    "received_at INTEGER NOT NULL, sender_seq INTEGER);"
                ),
            ))
        })
        .expect("makes the tables of before the checksums");
    let old_page_size = page_size(&path);
    assert_ne!(old_page_size, 16384, "SQLite's default, not the receiver's");
    for _ in 0..2 {
        let storage = honnin_receiver::storage::SqliteStorage::open(&path).expect("opens");
        let page = sqlite_pages(&storage, 0);
        assert_eq!(page["entries"][0]["record"]["record_id"], "record-1");
        assert!(page["entries"][1]["record"].is_null(), "{page}");
        assert_eq!(page["entries"][1]["receipt"], serde_json::json!({}));
    }
    let storage = honnin_receiver::storage::SqliteStorage::open(&path).expect("opens");
    store(&storage, None, &[record("test-bank", 3)]);
    let check = rusqlite::Connection::open(&path).expect("opens");
    let checksums: Vec<(String, Checksums)> = check
        .prepare(
            "SELECT record_id, envelope_crc, receipt_crc, verification_crc FROM records
             ORDER BY cursor",
        )
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?))))?
                .collect()
        })
        .expect("reads the checksums");
    assert_eq!(checksums[0], ("record-1".into(), (None, None, None)));
    let (id, (envelope, receipt, verification)) = &checksums[2];
    assert_eq!(id, "record-3");
    assert!(envelope.is_some() && receipt.is_some() && verification.is_some());
    check
        .execute(
            "UPDATE records SET envelope = replace(envelope, 'record-3', 'record-8')
             WHERE record_id = 'record-3'",
            [],
        )
        .expect("damages the new row");
    let page = sqlite_pages(&storage, 0);
    assert_eq!(page["entries"][0]["record"]["record_id"], "record-1");
    assert!(page["entries"][2]["record"].is_null(), "{page}");
    // An existing file keeps its page size: changing it would take a VACUUM of the whole file.
    assert_eq!(page_size(&path), old_page_size);
}

/// A row's envelope, receipt and verification checksums as stored.
type Checksums = (Option<i64>, Option<i64>, Option<i64>);

fn page_size(path: &std::path::Path) -> i64 {
    rusqlite::Connection::open(path)
        .and_then(|c| c.query_row("PRAGMA page_size", [], |r| r.get(0)))
        .expect("reads the page size")
}

/// The tables a receiver made before cursors were per sender (the columns that matter).
fn old_tables(backend: &Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "CREATE TABLE devices (device_id TEXT PRIMARY KEY, key_spki BLOB NOT NULL,
                 enrolled_at INTEGER NOT NULL, head_seq INTEGER, head_hash TEXT);
             CREATE TABLE records (cursor INTEGER PRIMARY KEY AUTOINCREMENT,
                 record_id TEXT NOT NULL UNIQUE, record_hash TEXT NOT NULL,
                 device_id TEXT NOT NULL, seq INTEGER NOT NULL, sender_id TEXT NOT NULL,
                 item_id TEXT NOT NULL, envelope TEXT NOT NULL, verification TEXT NOT NULL,
                 receipt TEXT NOT NULL, received_at INTEGER NOT NULL);
             CREATE TABLE webhooks (sender_id TEXT PRIMARY KEY, url TEXT NOT NULL,
                 secret TEXT NOT NULL, cursor INTEGER NOT NULL);"
        }
        Backend::Postgres(_) => {
            "CREATE TABLE devices (device_id TEXT PRIMARY KEY, key_spki BYTEA NOT NULL,
                 enrolled_at BIGINT NOT NULL, head_seq BIGINT, head_hash TEXT);
             CREATE TABLE records (cursor BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                 record_id TEXT NOT NULL UNIQUE, record_hash TEXT NOT NULL,
                 device_id TEXT NOT NULL, seq BIGINT NOT NULL, sender_id TEXT NOT NULL,
                 item_id TEXT NOT NULL, envelope TEXT NOT NULL, verification TEXT NOT NULL,
                 receipt TEXT NOT NULL, received_at BIGINT NOT NULL);
             CREATE TABLE webhooks (sender_id TEXT PRIMARY KEY, url TEXT NOT NULL,
                 secret TEXT NOT NULL, cursor BIGINT NOT NULL);"
        }
    }
}

fn a_database_with_global_cursors_is_renumbered_per_sender_on_open(backend: &Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = backend.database(dir.path());
    // Global cursors 1-5: bank, shop, bank, shop, shop. The shop's webhook had pushed up to
    // global cursor 4 (its 2nd record), the bank's up to 3 (its 2nd).
    let mut rows = String::new();
    for (seq, sender) in [
        (1, "bank"),
        (2, "shop"),
        (3, "bank"),
        (4, "shop"),
        (5, "shop"),
    ] {
        rows.push_str(&format!(
            "INSERT INTO records (record_id, record_hash, device_id, seq, sender_id, item_id,
                 envelope, verification, receipt, received_at)
             VALUES ('record-{seq}', '{hash}', 'handheld-01', {seq}, '{sender}', 'item-{seq}',
                 '{{}}', '{{}}', '{{}}', 0);",
            hash = hex::encode([seq as u8; 32])
        ));
    }
    let setup = format!(
        "{tables}
         INSERT INTO devices (device_id, key_spki, enrolled_at, head_seq, head_hash)
             VALUES ('handheld-01', {key}, 0, 5, '{head}');
         {rows}
         INSERT INTO webhooks (sender_id, url, secret, cursor)
             VALUES ('shop', 'https://shop.example/hook', '00', 4),
                    ('bank', 'https://bank.example/hook', '00', 3);",
        tables = old_tables(backend),
        key = match backend {
            Backend::Sqlite => "x'00'",
            Backend::Postgres(_) => "'\\x00'::bytea",
        },
        head = hex::encode([5u8; 32]),
    );
    match backend {
        Backend::Sqlite => rusqlite::Connection::open(&database.address)
            .and_then(|c| c.execute_batch(&setup))
            .expect("makes the old tables"),
        Backend::Postgres(_) => r2d2_postgres::postgres::Client::connect(
            &database.address,
            r2d2_postgres::postgres::NoTls,
        )
        .and_then(|mut c| c.batch_execute(&setup))
        .expect("makes the old tables"),
    }
    // Opened twice: the second open finds nothing to migrate and changes nothing.
    for _ in 0..2 {
        let storage = database.open();
        let cursors = |sender: &str| -> Vec<(i64, String)> {
            storage
                .feed(sender, 0, 10)
                .expect("feed")
                .into_iter()
                .map(|r| (r.cursor, r.envelope))
                .collect()
        };
        assert_eq!(
            cursors("bank").iter().map(|c| c.0).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(
            cursors("shop").iter().map(|c| c.0).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        let webhook = |sender: &str| storage.webhook(sender).expect("reads").expect("kept");
        assert_eq!(
            webhook("shop").cursor,
            2,
            "the shop's webhook had pushed 2 records"
        );
        assert_eq!(
            webhook("bank").cursor,
            2,
            "the bank's webhook had pushed 2 records"
        );
        // The webhook pushes on from there: only the shop's 3rd record is pending.
        assert_eq!(
            storage
                .feed("shop", webhook("shop").cursor, 10)
                .expect("feed")
                .len(),
            1
        );
        drop(storage);
    }
    // A record stored after the migration takes the sender's next position.
    let storage = database.open();
    let head = storage.device_head("handheld-01").expect("head");
    store(storage.as_ref(), head, &[record("bank", 6)]);
    let bank: Vec<i64> = storage
        .feed("bank", 0, 10)
        .expect("feed")
        .iter()
        .map(|r| r.cursor)
        .collect();
    assert_eq!(bank, vec![1, 2, 3]);
}

/// A sender's endpoint on loopback that keeps every pushed page and answers 204.
fn page_collector(server: &Server) -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let pages: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let seen = pages.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                let page = serde_json::from_slice(&body).unwrap_or_default();
                seen.lock().expect("lock").push(page);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = server
        .runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binds");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    server
        .runtime
        .spawn(async move { axum::serve(listener, app).await });
    (url, pages)
}

fn a_senders_webhook_is_pushed_its_own_cursors(backend: &Backend) {
    // The endpoint is plain http on loopback, which the operator must allow.
    let server = start(backend, |r| r.limits.allow_private_webhooks = true);
    let storage = server.receiver.storage.as_ref();
    let bank = operator::add_sender(storage, "test-bank").expect("sender");
    operator::add_sender(storage, "other-shop").expect("sender");
    enrol(&server, "handheld-01", &device_signer());
    let (url, pages) = page_collector(&server);
    let headers = [("authorization", format!("Bearer {bank}"))];
    let (status, answer) = call(
        &server,
        "PUT",
        "/v1/webhook",
        &headers,
        Some(serde_json::json!({ "url": url })),
    );
    assert_eq!(status, 200, "{answer}");
    store(
        storage,
        None,
        &[
            record("other-shop", 1),
            record("other-shop", 2),
            record("test-bank", 3),
            record("other-shop", 4),
            record("test-bank", 5),
        ],
    );
    server.runtime.spawn(run_pusher(
        server.receiver.clone(),
        PushSettings {
            poll: Duration::from_millis(20),
            page: 1,
            ..PushSettings::default()
        },
    ));
    let deadline = Instant::now() + Duration::from_secs(30);
    while pages.lock().expect("lock").len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let pushed: Vec<(i64, i64)> = pages
        .lock()
        .expect("lock")
        .iter()
        .map(|page| {
            (
                page["entries"][0]["cursor"].as_i64().unwrap_or(-1),
                page["next_after"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    // Global cursors would have been 3 and 5.
    assert_eq!(pushed, vec![(1, 1), (2, 2)]);
    // The pusher keeps the cursor after the endpoint has answered, which may be just after the
    // collector saw the page.
    let kept_cursor = || {
        storage
            .webhook("test-bank")
            .expect("reads")
            .expect("kept")
            .cursor
    };
    while kept_cursor() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(kept_cursor(), 2);
}
