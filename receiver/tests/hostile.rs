//! A hostile device or sender against the real receiver over TLS on loopback, against SQLite
//! and PostgreSQL (see `common`): each test builds a request to exploit exactly one hole and
//! checks it is refused with a typed error, or that it learns nothing.
//!
//! - A signed request with a timestamp at the edge of `i64` gets 401, not a panic.
//! - With a clock skew above half an hour a request's nonce is still held when a replay of it
//!   would pass the timestamp check.
//! - A sender's webhook to loopback, private or link-local addresses (literal, or a name that
//!   resolves there) is refused unless the operator allows it, and one kept from before gets no
//!   connection.
//! - A sender cannot register more than the cap of undelivered items on one device, and a
//!   device's manifest is shared fairly when its senders' items are more than it holds.
//! - A sender's feed cursors count its own records only, whatever other senders get; a
//!   database from before is renumbered on open, webhooks included.

#[macro_use]
mod common;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use honnin_core::record::SoftwareSigner;
use honnin_core::sync::protocol::{MANIFEST_REQUEST, sign_batch};
use honnin_core::verify::{RandomSource, SystemRandom};
use honnin_e2e::records::device_signer;
use honnin_e2e::verifier_with_crl;
use honnin_receiver::storage::{
    BatchCommit, BatchWrite, ChainHead, ItemRow, NewRecord, WebhookRow, next_head,
};
use honnin_receiver::tls::ServerTls;
use honnin_receiver::webhook::{PushSettings, run_pusher};
use honnin_receiver::{Receiver, Storage, auth, now, operator};

use common::{Backend, TestDatabase};

backend_tests!(
    a_signed_timestamp_at_the_edge_of_i64_is_refused_not_a_panic,
    a_nonce_is_held_as_long_as_a_replay_would_pass_the_clock_check,
    a_webhook_to_the_receivers_own_network_is_refused_unless_the_operator_allows_it,
    a_webhook_kept_for_a_private_address_gets_no_connection,
    a_sender_cannot_register_beyond_its_cap_on_one_device,
    a_full_manifest_is_shared_fairly_among_senders,
    a_senders_feed_cursors_say_nothing_of_other_senders_records,
    a_database_with_global_cursors_is_renumbered_per_sender_on_open,
);

// Dropped in this order: the server stops before its database goes.
struct Server {
    base: String,
    receiver: Arc<Receiver>,
    agent: ureq::Agent,
    runtime: tokio::runtime::Runtime,
    _database: TestDatabase,
    _dir: tempfile::TempDir,
}

/// A receiver serving TLS (a self-signed identity) on loopback, set up by `configure`.
fn start(backend: &Backend, configure: impl FnOnce(&mut Receiver)) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = backend.database(dir.path());
    let tls = ServerTls::self_signed(&dir.path().join("tls")).expect("tls");
    let mut receiver = Receiver::new(database.open(), verifier_with_crl()).expect("receiver");
    configure(&mut receiver);
    let receiver = Arc::new(receiver);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binds");
    let base = format!("https://{}", listener.local_addr().expect("address"));
    let shared = receiver.clone();
    let served = tls.clone();
    runtime.spawn(async move { honnin_receiver::tls::serve(listener, shared, &served).await });
    let root = ureq::tls::Certificate::from_der(&tls.certificate_der).to_owned();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![root])))
                .build(),
        )
        .build()
        .new_agent();
    Server {
        base,
        receiver,
        agent,
        runtime,
        _database: database,
        _dir: dir,
    }
}

/// Enrols `device_id` with `signer`'s key over the API.
fn enrol(server: &Server, device_id: &str, signer: &SoftwareSigner) {
    let code = operator::issue_enrolment_code(server.receiver.storage.as_ref(), device_id, now())
        .expect("code");
    let body = serde_json::json!({
        "device_id": device_id,
        "public_key": BASE64.encode(signer.device_key().spki_der()),
        "code": code,
    });
    let (status, answer) = call(server, "POST", "/v1/enrol", &[], Some(body));
    assert_eq!(status, 201, "{answer}");
}

/// `(status, JSON body)` of a request to the receiver.
fn call(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let url = format!("{}{path}", server.base);
    let result = match method {
        "GET" => {
            let mut request = server.agent.get(&url);
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            request.call()
        }
        "POST" | "PUT" => {
            let mut request = if method == "POST" {
                server.agent.post(&url)
            } else {
                server.agent.put(&url)
            };
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            let body = body.unwrap_or(serde_json::Value::Null).to_string();
            request
                .content_type("application/json")
                .send(body.as_bytes())
        }
        _ => panic!("unsupported {method}"),
    };
    let mut response = result.expect("answer");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

fn random_nonce() -> String {
    let mut nonce = [0u8; 16];
    SystemRandom.fill(&mut nonce);
    hex::encode(nonce)
}

/// The headers of a manifest request by `device_id` signed at `timestamp` with `nonce`.
fn signed_manifest_request(
    device_id: &str,
    signer: &SoftwareSigner,
    timestamp: i64,
    nonce: &str,
) -> Vec<(&'static str, String)> {
    let signature = sign_batch(
        signer,
        signer.device_key(),
        device_id,
        timestamp,
        nonce,
        MANIFEST_REQUEST,
    )
    .expect("signs");
    vec![
        ("x-honnin-device", device_id.to_owned()),
        ("x-honnin-timestamp", timestamp.to_string()),
        ("x-honnin-nonce", nonce.to_owned()),
        ("x-honnin-signature", signature),
    ]
}

fn a_signed_timestamp_at_the_edge_of_i64_is_refused_not_a_panic(backend: &Backend) {
    let server = start(backend, |_| {});
    let signer = device_signer();
    enrol(&server, "handheld-01", &signer);
    // A compromised handheld signs whatever time it likes: `now - i64::MIN` overflows.
    for timestamp in [i64::MIN, i64::MIN + 1, i64::MAX, -1] {
        let headers = signed_manifest_request("handheld-01", &signer, timestamp, &random_nonce());
        let (status, answer) = call(&server, "GET", "/v1/manifest", &headers, None);
        assert_eq!(status, 401, "timestamp {timestamp}: {answer}");
        assert_eq!(answer["error"]["code"], "unauthorized", "{answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("set the device's clock")),
            "{answer}"
        );
    }
    // The receiver still serves: the same device at the right time gets its manifest.
    let headers = signed_manifest_request("handheld-01", &signer, now(), &random_nonce());
    let (status, answer) = call(&server, "GET", "/v1/manifest", &headers, None);
    assert_eq!(status, 200, "{answer}");
}

fn a_nonce_is_held_as_long_as_a_replay_would_pass_the_clock_check(backend: &Backend) {
    let skew = 2000;
    let server = start(backend, |receiver| receiver.limits.max_clock_skew = skew);
    let signer = device_signer();
    enrol(&server, "handheld-01", &signer);
    // A request signed 1,900 s in the future was accepted 3,700 s ago (within the skew then)
    // and its nonce remembered; its timestamp is now 1,800 s in the past, within the skew
    // again. Replayed now, it must be recognised: the nonce must still be held.
    let nonce = random_nonce();
    let first_seen = now() - 3700;
    let timestamp = first_seen + 1900;
    assert!(
        server
            .receiver
            .storage
            .use_nonce(
                "handheld-01",
                &nonce,
                first_seen,
                auth::nonce_retention(skew)
            )
            .expect("remembers the nonce")
    );
    let headers = signed_manifest_request("handheld-01", &signer, timestamp, &nonce);
    let (status, answer) = call(&server, "GET", "/v1/manifest", &headers, None);
    assert_eq!(status, 409, "the replay was served: {answer}");
    assert_eq!(answer["error"]["code"], "replayed_request", "{answer}");
    // A fresh nonce at the same time is served: the refusal was the replay, not the time.
    let headers = signed_manifest_request("handheld-01", &signer, timestamp, &random_nonce());
    let (status, answer) = call(&server, "GET", "/v1/manifest", &headers, None);
    assert_eq!(status, 200, "{answer}");
    let _ = &server.runtime;
}

/// A stored record of `sender_id` at chain position `seq` (content the feed passes through).
fn record(sender_id: &str, seq: u64) -> NewRecord {
    NewRecord {
        record_id: format!("record-{seq}"),
        record_hash: [u8::try_from(seq).expect("small"); 32],
        device_id: "handheld-01".into(),
        seq,
        sender_id: sender_id.into(),
        item_id: format!("item-{seq}"),
        envelope: format!("{{\"record_id\":\"record-{seq}\"}}"),
        verification: "{}".into(),
        receipt: "{}".into(),
        received_at: now(),
        delivered_at: None,
    }
}

/// Stores `records` on top of `head` as one batch; the new head.
fn store(
    storage: &dyn Storage,
    head: Option<ChainHead>,
    records: &[NewRecord],
) -> Option<ChainHead> {
    let batch = BatchWrite {
        device_id: "handheld-01",
        expected_head: head,
        records,
    };
    assert_eq!(
        storage.insert_batch(&batch).expect("stores"),
        BatchCommit::Stored
    );
    records
        .iter()
        .fold(head, |head, r| next_head(head, r.seq, r.record_hash))
}

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

/// `PUT /v1/webhook` with `url` for the sender of `token`.
fn put_webhook(server: &Server, token: &str, url: &str) -> (u16, serde_json::Value) {
    let headers = [("authorization", format!("Bearer {token}"))];
    call(
        server,
        "PUT",
        "/v1/webhook",
        &headers,
        Some(serde_json::json!({ "url": url })),
    )
}

/// A TCP listener on loopback that counts the connections made to it (and closes them).
fn connection_counter(server: &Server) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = server
        .runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binds");
    let port = listener.local_addr().expect("address").port();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    server.runtime.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(stream);
        }
    });
    (port, count)
}

fn a_webhook_to_the_receivers_own_network_is_refused_unless_the_operator_allows_it(
    backend: &Backend,
) {
    let server = start(backend, |_| {});
    let token =
        operator::add_sender(server.receiver.storage.as_ref(), "test-bank").expect("sender");
    let (port, connections) = connection_counter(&server);
    for url in [
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://localhost:{port}/hook"),
        format!("https://127.0.0.1:{port}/hook"),
        // A name that resolves to loopback.
        format!("https://localhost:{port}/hook"),
        "https://10.1.2.3/hook".to_owned(),
        "https://192.168.0.10/hook".to_owned(),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
        "https://[::1]/hook".to_owned(),
        "https://[fe80::1]/hook".to_owned(),
        "https://[::ffff:10.0.0.1]/hook".to_owned(),
    ] {
        let (status, answer) = put_webhook(&server, &token, &url);
        assert_eq!(status, 400, "{url}: {answer}");
        assert_eq!(
            answer["error"]["code"], "invalid_webhook_url",
            "{url}: {answer}"
        );
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("--allow-private-webhooks")),
            "{url}: {answer}"
        );
    }
    assert!(
        server
            .receiver
            .storage
            .webhook("test-bank")
            .expect("reads")
            .is_none()
    );
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 0);
    // Allowed by the operator: the same loopback endpoint is accepted.
    let allowed = start(backend, |r| r.limits.allow_private_webhooks = true);
    let token =
        operator::add_sender(allowed.receiver.storage.as_ref(), "test-bank").expect("sender");
    let (status, answer) = put_webhook(&allowed, &token, &format!("http://127.0.0.1:{port}/hook"));
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = put_webhook(&allowed, &token, "https://10.1.2.3/hook");
    assert_eq!(status, 200, "{answer}");
}

fn a_webhook_kept_for_a_private_address_gets_no_connection(backend: &Backend) {
    let settings = PushSettings {
        poll: std::time::Duration::from_millis(20),
        initial_backoff: std::time::Duration::from_millis(20),
        max_backoff: std::time::Duration::from_millis(50),
        timeout: std::time::Duration::from_secs(2),
        page: 10,
    };
    for allow in [false, true] {
        let server = start(backend, |r| r.limits.allow_private_webhooks = allow);
        let storage = server.receiver.storage.as_ref();
        enrol(&server, "handheld-01", &device_signer());
        let (port, connections) = connection_counter(&server);
        // Kept before the receiver refused them (registered under an older release): a
        // literal loopback http URL, and an https URL whose name resolves to loopback.
        for (sender, url) in [
            ("test-bank", format!("http://127.0.0.1:{port}/hook")),
            ("other-shop", format!("https://localhost:{port}/hook")),
        ] {
            let hook = WebhookRow {
                sender_id: sender.into(),
                url,
                secret: "00".repeat(32),
                cursor: 0,
            };
            storage.set_webhook(sender, Some(&hook)).expect("keeps");
        }
        store(
            storage,
            None,
            &[record("test-bank", 1), record("other-shop", 2)],
        );
        server
            .runtime
            .spawn(run_pusher(server.receiver.clone(), settings.clone()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(1500);
        while std::time::Instant::now() < deadline
            && connections.load(std::sync::atomic::Ordering::SeqCst) < 2
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let made = connections.load(std::sync::atomic::Ordering::SeqCst);
        if allow {
            // The control: allowed, the pusher does connect, to both.
            assert!(made >= 2, "the allowed pusher made {made} connections");
        } else {
            assert_eq!(made, 0, "the pusher connected to a loopback address");
        }
    }
}

fn item(item_id: &str, device_id: &str) -> serde_json::Value {
    serde_json::json!({
        "item_id": item_id,
        "device_id": device_id,
        "addressee_name": "試験 花子",
        "min_level": "B",
        "attributes": ["name"],
    })
}

/// `PUT /v1/items` of `items` for the sender of `token`.
fn put_items(
    server: &Server,
    token: &str,
    items: &[serde_json::Value],
) -> (u16, serde_json::Value) {
    let headers = [("authorization", format!("Bearer {token}"))];
    call(
        server,
        "PUT",
        "/v1/items",
        &headers,
        Some(serde_json::json!({ "items": items })),
    )
}

fn a_sender_cannot_register_beyond_its_cap_on_one_device(backend: &Backend) {
    let server = start(backend, |r| r.limits.max_items_per_device = 3);
    let storage = server.receiver.storage.as_ref();
    let bank = operator::add_sender(storage, "test-bank").expect("sender");
    let shop = operator::add_sender(storage, "other-shop").expect("sender");
    let (status, answer) = put_items(
        &server,
        &bank,
        &[item("B-1", "handheld-01"), item("B-2", "handheld-01")],
    );
    assert_eq!(status, 200, "{answer}");
    // The 3rd and 4th in one request, with one for another device: refused whole.
    let (status, answer) = put_items(
        &server,
        &bank,
        &[
            item("B-3", "handheld-01"),
            item("B-9", "handheld-02"),
            item("B-4", "handheld-01"),
        ],
    );
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "too_many_items_for_device");
    let message = answer["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("more than 3") && message.contains("handheld-01"),
        "{message}"
    );
    for id in ["B-3", "B-4", "B-9"] {
        assert!(
            storage.item(id).expect("reads").is_none(),
            "{id} was written"
        );
    }
    // Up to the cap is fine, and re-registering an item does not count it twice.
    let (status, answer) = put_items(&server, &bank, &[item("B-3", "handheld-01")]);
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = put_items(
        &server,
        &bank,
        &[item("B-1", "handheld-01"), item("B-9", "handheld-02")],
    );
    assert_eq!(status, 200, "{answer}");
    let (status, _) = put_items(&server, &bank, &[item("B-5", "handheld-01")]);
    assert_eq!(status, 409);
    // The cap is the bank's: another sender still gets its items onto the same device.
    let (status, answer) = put_items(&server, &shop, &[item("S-1", "handheld-01")]);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        storage
            .device_items("handheld-01", 100)
            .expect("items")
            .len(),
        4
    );
}

fn a_full_manifest_is_shared_fairly_among_senders(backend: &Backend) {
    let server = start(backend, |_| {});
    let storage = server.receiver.storage.as_ref();
    let row = |sender: &str, id: &str| ItemRow {
        item_id: id.into(),
        sender_id: sender.into(),
        device_id: "handheld-01".into(),
        addressee_name: "試験 花子".into(),
        addressee_address: None,
        min_level: "B".into(),
        attributes: "name".into(),
    };
    // The bank's ids sort first: listed by item id alone, a page of 4 would be all the bank's.
    let bank: Vec<ItemRow> = (0..6).map(|i| row("a-bank", &format!("A-{i}"))).collect();
    storage
        .put_items("a-bank", &bank, now(), 100)
        .expect("registers");
    storage
        .put_items(
            "z-shop",
            &[row("z-shop", "Z-0"), row("z-shop", "Z-1")],
            now(),
            100,
        )
        .expect("registers");
    let listed: Vec<String> = storage
        .device_items("handheld-01", 4)
        .expect("items")
        .into_iter()
        .map(|i| i.item_id)
        .collect();
    assert_eq!(listed, vec!["A-0", "A-1", "Z-0", "Z-1"]);
}
