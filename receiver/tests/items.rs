//! Items, manifests, the item policy on ingest, and webhook pushes (two pushers sharing one
//! database's lease and backoff), over real HTTP on loopback,
//! against SQLite and PostgreSQL (see `common`).

#[macro_use]
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use honnin_core::check::{FaceDecision, Level};
use honnin_core::manifest::{ManifestError, SignedManifest};
use honnin_core::record::{AttributePolicy, DeviceKey, SoftwareSigner};
use honnin_core::store::Store;
use honnin_core::sync::{Backoff, SyncClient, SyncConfig, SyncError};
use honnin_core::verify::{Clock, SystemClock, SystemRandom, UnixTime};
use honnin_e2e::records::{device_signer, draft_of, genuine_report, level_a_report, store_keys};
use honnin_e2e::verifier_with_crl;
use honnin_receiver::items::MANIFEST_REQUEST;
use honnin_receiver::webhook::{
    HEADER_WEBHOOK_SIGNATURE, HEADER_WEBHOOK_TIMESTAMP, PushSettings, run_pusher, verify_signature,
};
use honnin_receiver::{Receiver, SecretBox, now, operator};

use common::{Backend, Server, agent, get, post_enrol, receipt_key_of};

backend_tests!(
    senders_register_items_and_a_device_gets_only_its_own_in_a_signed_manifest,
    records_are_checked_against_their_items_policy,
    an_item_leaves_the_manifest_once_a_genuine_check_at_its_level_delivered_it,
    webhooks_get_every_record_signed_and_failed_pushes_are_retried,
);

fn start(backend: &Backend) -> Server {
    common::start_with(backend, |dir, storage| {
        // Sealed secrets, as an operator runs it: the webhook test pushes with a sealed secret.
        let secrets = SecretBox::from_key_file(&dir.join("secrets.key")).expect("secrets key");
        let mut receiver =
            Receiver::with_secrets(storage, verifier_with_crl(), secrets).expect("receiver");
        // The webhook test's endpoints are plain http on loopback, which an operator must allow.
        receiver.limits.allow_private_webhooks = true;
        receiver
    })
}

fn enrol(server: &Server, device_id: &str, signer: &SoftwareSigner) -> DeviceKey {
    let code = operator::issue_enrolment_code(
        server.receiver.storage.as_ref(),
        device_id,
        &["test-bank"],
        now(),
    )
    .expect("code");
    let (status, answer) = post_enrol(server, device_id, signer, &code);
    assert_eq!(status, 201, "{answer}");
    receipt_key_of(&answer)
}

/// `PUT`/`DELETE` with a sender token: `(status, JSON body)`.
fn send(
    method: &str,
    url: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let authorization = format!("Bearer {token}");
    let result = match (method, body) {
        ("PUT", Some(body)) => agent()
            .put(url)
            .header("authorization", &authorization)
            .content_type("application/json")
            .send(body.to_string().as_bytes()),
        ("DELETE", _) => agent()
            .delete(url)
            .header("authorization", &authorization)
            .call(),
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

/// Registers `items` (`{"items": [...]}`) for the sender of `token`; they must be accepted.
fn register(server: &Server, token: &str, items: serde_json::Value) {
    let (status, answer) = send(
        "PUT",
        &format!("{}/v1/items", server.base),
        token,
        Some(items),
    );
    assert_eq!(status, 200, "{answer}");
}

fn item(item_id: &str, device_id: &str, level: &str) -> serde_json::Value {
    serde_json::json!({
        "item_id": item_id,
        "device_id": device_id,
        "addressee_name": "試験 花子",
        "min_level": level,
        "attributes": ["name"],
    })
}

/// The signed headers of a manifest request by `device_id`, as the sync client makes them.
fn manifest_headers(
    device_id: &str,
    signer: &SoftwareSigner,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    common::device_headers(device_id, signer, body)
}

fn fetch_manifest(server: &Server, headers: &[(&'static str, String)]) -> (u16, Vec<u8>) {
    let mut request = agent().get(&format!("{}/v1/manifest", server.base));
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let mut response = request.call().expect("answer");
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_vec().expect("body"))
}

fn senders_register_items_and_a_device_gets_only_its_own_in_a_signed_manifest(backend: &Backend) {
    let server = start(backend);
    let storage = server.receiver.storage.as_ref();
    let bank = operator::add_sender(storage, "test-bank").expect("sender");
    let other = operator::add_sender(storage, "other-bank").expect("sender");
    let device = device_signer();
    let receipt_key = enrol(&server, "handheld-01", &device);
    let items_url = format!("{}/v1/items", server.base);

    let (status, answer) = send(
        "PUT",
        &items_url,
        &bank,
        Some(serde_json::json!({"items": [
            item("JP-ITEM-0001", "handheld-01", "B"),
            item("JP-ITEM-0002", "handheld-02", "A"),
        ]})),
    );
    assert_eq!(
        (status, answer["registered"].as_u64()),
        (200, Some(2)),
        "{answer}"
    );

    // Another sender cannot take or change the item, and its whole request is refused.
    let (status, answer) = send(
        "PUT",
        &items_url,
        &other,
        Some(serde_json::json!({"items": [
            item("JP-OTHER-0001", "handheld-01", "A"),
            item("JP-ITEM-0001", "handheld-01", "A"),
        ]})),
    );
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "item_taken");
    assert!(storage.item("JP-OTHER-0001").expect("reads").is_none());
    // Read for a batch at once (one query on PostgreSQL): the registered ones, only those.
    let mut found: Vec<(String, String)> = storage
        .items(&["JP-ITEM-0002", "JP-OTHER-0001", "JP-ITEM-0001", "JP-NONE"])
        .expect("reads")
        .into_iter()
        .map(|i| (i.item_id, i.device_id))
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("JP-ITEM-0001".into(), "handheld-01".into()),
            ("JP-ITEM-0002".into(), "handheld-02".into())
        ]
    );

    // Bad items are refused with the reason, and nothing is registered.
    for (bad, why) in [
        (item("JP-ITEM-0003", "handheld-01", "D"), "unknown level"),
        (
            serde_json::json!({"item_id": "JP-ITEM-0003", "device_id": "handheld-01",
                "addressee_name": "試験 花子", "min_level": "A",
                "attributes": ["individual_number"]}),
            "unknown attribute",
        ),
        (
            item(" JP-ITEM-0003", "handheld-01", "A"),
            "surrounding spaces",
        ),
        (item("JP-ITEM-0003", "", "A"), "device id"),
    ] {
        let (status, answer) = send(
            "PUT",
            &items_url,
            &bank,
            Some(serde_json::json!({ "items": [bad] })),
        );
        assert_eq!(status, 400, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(why), "{message} should say {why}");
    }
    assert!(storage.item("JP-ITEM-0003").expect("reads").is_none());
    let (status, _) = send(
        "PUT",
        &items_url,
        "hnn_wrong",
        Some(serde_json::json!({"items": []})),
    );
    assert_eq!(status, 401);

    // A sender reads its own item; another sender's is not there for it.
    let (status, own) = get(&format!("{items_url}/JP-ITEM-0001"), Some(&bank));
    assert_eq!((status, own["min_level"].as_str()), (200, Some("B")));
    let (status, _) = get(&format!("{items_url}/JP-ITEM-0001"), Some(&other));
    assert_eq!(status, 404);

    // The device's manifest lists its item only, signed with the receipt key.
    let headers = manifest_headers("handheld-01", &device, MANIFEST_REQUEST);
    let (status, bytes) = fetch_manifest(&server, &headers);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    let manifest = SignedManifest::from_json(&bytes).expect("a manifest");
    let verified = manifest
        .verify(&receipt_key, "handheld-01", SystemClock.now())
        .expect("verifies with the receipt key");
    assert_eq!(verified.items().len(), 1);
    let policy = verified.item("JP-ITEM-0001").expect("listed");
    assert_eq!(
        (policy.min_level, policy.sender_id.as_str()),
        (Level::B, "test-bank")
    );
    assert_eq!(policy.attributes.names(), vec!["name"]);
    assert!(matches!(
        manifest.verify(&receipt_key, "handheld-02", SystemClock.now()),
        Err(ManifestError::OtherDevice { .. })
    ));
    assert!(matches!(
        manifest.verify(&receipt_key, "handheld-01", UnixTime(verified.expires_at)),
        Err(ManifestError::Expired { .. })
    ));

    // The same signed request again is a replay; one signed over other bytes does not verify.
    let (status, _) = fetch_manifest(&server, &headers);
    assert_eq!(status, 409);
    let (status, _) = fetch_manifest(&server, &manifest_headers("handheld-01", &device, b""));
    assert_eq!(status, 401);
    let stranger = SoftwareSigner::from_secret_bytes(&[0x77; 32]).expect("key");
    let (status, _) = fetch_manifest(
        &server,
        &manifest_headers("handheld-01", &stranger, MANIFEST_REQUEST),
    );
    assert_eq!(status, 401);

    // The core's sync client downloads it into the device's store, where it is kept sealed and
    // verified again when read; one that does not verify is refused and the kept one stays.
    let mut store =
        Store::create(&server.dir.path().join("device.db"), &store_keys()).expect("store");
    let fetched = sync_client(&server, receipt_key.clone())
        .fetch_manifest(&mut store, &device, &SystemClock, &mut SystemRandom)
        .expect("fetches");
    assert_eq!(fetched.items().len(), 1);
    let wrong_key = SoftwareSigner::from_secret_bytes(&[0x55; 32]).expect("key");
    let refused = sync_client(&server, wrong_key.device_key().clone()).fetch_manifest(
        &mut store,
        &device,
        &SystemClock,
        &mut SystemRandom,
    );
    assert!(
        matches!(
            refused,
            Err(SyncError::BadManifest(ManifestError::BadSignature))
        ),
        "{refused:?}"
    );
    let kept = store
        .manifest(&receipt_key, "handheld-01", SystemClock.now())
        .expect("reads")
        .expect("kept");
    assert_eq!(
        kept.item("JP-ITEM-0001").map(|i| i.min_level),
        Some(Level::B)
    );

    // A removed item leaves the next manifest.
    let (status, _) = send("DELETE", &format!("{items_url}/JP-ITEM-0001"), &other, None);
    assert_eq!(status, 404, "only its sender removes an item");
    let (status, _) = send("DELETE", &format!("{items_url}/JP-ITEM-0001"), &bank, None);
    assert_eq!(status, 204);
    let (status, bytes) = fetch_manifest(
        &server,
        &manifest_headers("handheld-01", &device, MANIFEST_REQUEST),
    );
    assert_eq!(status, 200);
    let manifest = SignedManifest::from_json(&bytes).expect("a manifest");
    let verified = manifest
        .verify(&receipt_key, "handheld-01", SystemClock.now())
        .expect("verifies");
    assert!(verified.items().is_empty());
}

/// The policy of the items registered here (`item`): the holder's name only.
const NAME_ONLY: AttributePolicy = AttributePolicy {
    name: true,
    address: false,
    birth_date: false,
    sex: false,
};

/// A device store with a genuine record of JP-ITEM-0001 per `(level, attributes kept)`.
fn device_store(dir: &std::path::Path, records: &[(Level, AttributePolicy)]) -> Store {
    let mut store = Store::create(&dir.join("device.db"), &store_keys()).expect("store");
    for &(level, policy) in records {
        store
            .append(draft_of(&genuine_report(level), policy), &device_signer())
            .expect("appends");
    }
    store
}

/// One record per level, each keeping what the items ask for.
const ONE_PER_LEVEL: [(Level, AttributePolicy); 3] = [
    (Level::A, NAME_ONLY),
    (Level::B, NAME_ONLY),
    (Level::C, NAME_ONLY),
];

fn sync_client(server: &Server, receipt_key: DeviceKey) -> SyncClient {
    let mut config = SyncConfig::new(&server.base, "handheld-01");
    config.allow_loopback_http = true;
    config.backoff = Backoff {
        base: Duration::from_millis(10),
        max: Duration::from_millis(50),
    };
    SyncClient::new(config, receipt_key)
}

fn sync(server: &Server, receipt_key: DeviceKey, store: &mut Store) {
    sync_client(server, receipt_key)
        .sync(store, &device_signer(), &SystemClock, &mut SystemRandom)
        .expect("syncs");
}

fn policy_of(entry: &serde_json::Value) -> (String, String) {
    let check = entry["verification"]["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["check"] == "item_policy"))
        .cloned()
        .unwrap_or_default();
    (
        check["state"].as_str().unwrap_or("missing").to_owned(),
        check["reason"].as_str().unwrap_or("missing").to_owned(),
    )
}

fn records_are_checked_against_their_items_policy(backend: &Backend) {
    let server = start(backend);
    let bank = operator::add_sender(server.receiver.storage.as_ref(), "test-bank").expect("sender");
    let receipt_key = enrol(&server, "handheld-01", &device_signer());
    register(
        &server,
        &bank,
        serde_json::json!({"items": [item("JP-ITEM-0001", "handheld-01", "B")]}),
    );
    // Each record breaks at most one rule: A is below the minimum, the second C keeps more
    // attributes than asked for, the second B fewer.
    let mut store = device_store(
        server.dir.path(),
        &[
            (Level::A, NAME_ONLY),
            (Level::B, NAME_ONLY),
            (Level::C, NAME_ONLY),
            (Level::C, AttributePolicy::ALL),
            (Level::B, AttributePolicy::default()),
        ],
    );
    sync(&server, receipt_key, &mut store);

    let (status, page) = get(&format!("{}/v1/feed", server.base), Some(&bank));
    assert_eq!(status, 200);
    let entries = page["entries"].as_array().expect("entries");
    let found: Vec<(String, (String, String), String)> = entries
        .iter()
        .map(|e| {
            (
                e["verification"]["level"].as_str().unwrap_or("").to_owned(),
                policy_of(e),
                e["verification"]["outcome"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect();
    let expected = |level: &str, state: &str, reason: &str, outcome: &str| {
        (
            level.to_owned(),
            (state.to_owned(), reason.to_owned()),
            outcome.to_owned(),
        )
    };
    assert_eq!(
        found,
        vec![
            expected("A", "failed", "level_below_policy", "failed"),
            expected("B", "passed", "verified", "verified"),
            expected("C", "passed", "verified", "verified"),
            expected("C", "failed", "attributes_beyond_policy", "failed"),
            expected("B", "failed", "attributes_missing", "failed"),
        ]
    );
    // The receipt tells the device the same.
    assert_eq!(entries[0]["receipt"]["receipt"]["outcome"], "failed");
    assert_eq!(entries[1]["receipt"]["receipt"]["outcome"], "verified");
}

/// The item ids in `device_id`'s manifest, as the device verifies it.
fn manifest_items(server: &Server, receipt_key: &DeviceKey, device_id: &str) -> Vec<String> {
    let headers = manifest_headers(device_id, &device_signer(), MANIFEST_REQUEST);
    let (status, bytes) = fetch_manifest(server, &headers);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    let manifest = SignedManifest::from_json(&bytes).expect("a manifest");
    let verified = manifest
        .verify(receipt_key, device_id, SystemClock.now())
        .expect("verifies");
    verified.items().iter().map(|i| i.item_id.clone()).collect()
}

fn an_item_leaves_the_manifest_once_a_genuine_check_at_its_level_delivered_it(backend: &Backend) {
    let server = start(backend);
    let bank = operator::add_sender(server.receiver.storage.as_ref(), "test-bank").expect("sender");
    let receipt_key = enrol(&server, "handheld-01", &device_signer());
    register(
        &server,
        &bank,
        serde_json::json!({"items": [
            item("JP-ITEM-0001", "handheld-01", "B"),
            item("JP-ITEM-0002", "handheld-01", "A"),
        ]}),
    );
    let item_url = format!("{}/v1/items/JP-ITEM-0001", server.base);
    let delivery = || {
        let (status, item) = get(&item_url, Some(&bank));
        assert_eq!(status, 200, "{item}");
        item["delivery"].clone()
    };
    assert_eq!(delivery(), serde_json::Value::Null);

    // Records that do not deliver, each breaking one condition: a genuine level-A check below
    // the item's minimum B; then, with the minimum lowered to A, a genuine card whose face the
    // courier rejected (verdict not_addressee).
    let mut store =
        Store::create(&server.dir.path().join("device.db"), &store_keys()).expect("store");
    let mut sync_one = |report: &honnin_core::check::DoorCheckReport| {
        store
            .append(draft_of(report, NAME_ONLY), &device_signer())
            .expect("appends");
        sync(&server, receipt_key.clone(), &mut store);
    };
    sync_one(&genuine_report(Level::A));
    assert_eq!(delivery(), serde_json::Value::Null);
    register(
        &server,
        &bank,
        serde_json::json!({"items": [item("JP-ITEM-0001", "handheld-01", "A")]}),
    );
    sync_one(&level_a_report(FaceDecision::Rejected));
    assert_eq!(server.receiver.storage.count_records().expect("count"), 2);
    assert_eq!(delivery(), serde_json::Value::Null);
    assert_eq!(
        manifest_items(&server, &receipt_key, "handheld-01"),
        vec!["JP-ITEM-0001", "JP-ITEM-0002"]
    );

    // A genuine level-B check delivers it: the sender sees which record, the device's next
    // manifest no longer lists it; the other item stays.
    let draft = draft_of(&genuine_report(Level::B), NAME_ONLY);
    let checked_at = draft.time().0;
    let delivering = store.append(draft, &device_signer()).expect("appends");
    sync(&server, receipt_key.clone(), &mut store);
    let delivered = delivery();
    assert_eq!(delivered["record_id"], delivering.record_id.as_str());
    assert_eq!(delivered["delivered_at"].as_i64(), Some(checked_at));
    assert_eq!(
        manifest_items(&server, &receipt_key, "handheld-01"),
        vec!["JP-ITEM-0002"]
    );

    // A later record for the item leaves the first delivery as it was.
    store
        .append(
            draft_of(&genuine_report(Level::C), NAME_ONLY),
            &device_signer(),
        )
        .expect("appends");
    sync(&server, receipt_key.clone(), &mut store);
    assert_eq!(delivery(), delivered);

    // Removing the item removes its delivery; registered again, it is back in the manifest.
    let (status, _) = send("DELETE", &item_url, &bank, None);
    assert_eq!(status, 204);
    register(
        &server,
        &bank,
        serde_json::json!({"items": [item("JP-ITEM-0001", "handheld-01", "B")]}),
    );
    assert_eq!(delivery(), serde_json::Value::Null);
    assert_eq!(
        manifest_items(&server, &receipt_key, "handheld-01"),
        vec!["JP-ITEM-0001", "JP-ITEM-0002"]
    );
}

/// What the sender's webhook endpoint saw: each push's status answered, timestamp, signature,
/// body.
type Pushes = Arc<Mutex<Vec<(u16, String, String, Vec<u8>)>>>;

/// A sender's endpoint on loopback that answers 500 to the first `failures` pushes, then 204.
fn webhook_endpoint(runtime: &tokio::runtime::Runtime, failures: usize) -> (String, Pushes) {
    use axum::http::{HeaderMap, StatusCode};
    let pushes: Pushes = Arc::default();
    let seen = pushes.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                let mut seen = seen.lock().expect("lock");
                let status = if seen.len() < failures {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                };
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned()
                };
                seen.push((
                    status.as_u16(),
                    header(HEADER_WEBHOOK_TIMESTAMP),
                    header(HEADER_WEBHOOK_SIGNATURE),
                    body.to_vec(),
                ));
                status
            }
        }),
    );
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binds");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    runtime.spawn(async move { axum::serve(listener, app).await });
    (url, pushes)
}

fn webhooks_get_every_record_signed_and_failed_pushes_are_retried(backend: &Backend) {
    let server = start(backend);
    let storage = server.receiver.storage.as_ref();
    let bank = operator::add_sender(storage, "test-bank").expect("sender");
    let other = operator::add_sender(storage, "other-bank").expect("sender");
    // Two pushers, as two receiver instances on one database run them: they share the
    // webhook's lease and backoff, so no page goes out twice and no failure is retried twice.
    for _ in 0..2 {
        server.runtime.spawn(run_pusher(
            server.receiver.clone(),
            PushSettings {
                poll: Duration::from_millis(20),
                initial_backoff: Duration::from_millis(40),
                max_backoff: Duration::from_millis(200),
                timeout: Duration::from_secs(5),
                page: 2,
            },
        ));
    }
    let (url, pushes) = webhook_endpoint(&server.runtime, 2);
    let webhook_url = format!("{}/v1/webhook", server.base);

    let (status, answer) = send(
        "PUT",
        &webhook_url,
        &bank,
        Some(serde_json::json!({ "url": "http://bank.example/hook" })),
    );
    assert_eq!(status, 400, "plain http to another machine: {answer}");
    let (status, answer) = send(
        "PUT",
        &webhook_url,
        &bank,
        Some(serde_json::json!({ "url": url })),
    );
    assert_eq!(status, 200, "{answer}");
    let secret = answer["secret"].as_str().expect("secret").to_owned();
    assert_eq!(secret.len(), 64);
    // The database keeps it sealed.
    let kept = server.receiver.storage.webhooks().expect("webhooks");
    assert!(
        kept.iter()
            .all(|hook| hook.secret.starts_with("sealed-v1:") && !hook.secret.contains(&secret)),
        "a webhook secret is kept unsealed"
    );
    // The other sender's webhook points elsewhere and must get nothing of test-bank's.
    let (other_url, other_pushes) = webhook_endpoint(&server.runtime, 0);
    let (status, _) = send(
        "PUT",
        &webhook_url,
        &other,
        Some(serde_json::json!({ "url": other_url })),
    );
    assert_eq!(status, 200);

    let receipt_key = enrol(&server, "handheld-01", &device_signer());
    let mut store = device_store(server.dir.path(), &ONE_PER_LEVEL);
    sync(&server, receipt_key, &mut store);
    let held: Vec<String> = store
        .list(0, 10)
        .expect("lists")
        .into_iter()
        .map(|row| row.record_id)
        .collect();
    assert_eq!(held.len(), 3);

    // Wait for the pushes: two refused, then pages of two until all three records are acknowledged.
    let deadline = Instant::now() + Duration::from_secs(60);
    let acknowledged = loop {
        let pushes = pushes.lock().expect("lock").clone();
        let acknowledged: Vec<String> = pushes
            .iter()
            .filter(|p| p.0 == 204)
            .flat_map(|p| {
                let page: serde_json::Value = serde_json::from_slice(&p.3).unwrap_or_default();
                page["entries"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|e| e["record"]["body"]["record_id"].as_str().map(str::to_owned))
            })
            .collect();
        if acknowledged.len() >= held.len() || Instant::now() > deadline {
            // Every push, refused or not, carries a valid signature over its own body.
            for (_, timestamp, signature, body) in &pushes {
                let timestamp: i64 = timestamp.parse().expect("timestamp header");
                assert!(verify_signature(&secret, timestamp, body, signature));
                assert!(!verify_signature(
                    &"00".repeat(32),
                    timestamp,
                    body,
                    signature
                ));
            }
            assert!(pushes.len() >= 4, "2 refused + 2 pages: {}", pushes.len());
            assert_eq!(pushes[0].0, 500);
            assert_eq!(pushes[1].0, 500);
            break acknowledged;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(acknowledged, held, "every record once, in feed order");
    // Nothing more once acknowledged (two refused, two pages, by either pusher), and nothing
    // of test-bank's to the other sender.
    std::thread::sleep(Duration::from_millis(300));
    let statuses: Vec<u16> = pushes.lock().expect("lock").iter().map(|p| p.0).collect();
    assert_eq!(statuses, vec![500, 500, 204, 204]);
    assert!(other_pushes.lock().expect("lock").is_empty());

    // Removed: no more pushes.
    let (status, _) = send("DELETE", &webhook_url, &bank, None);
    assert_eq!(status, 204);
    assert!(
        storage
            .webhooks()
            .expect("reads")
            .iter()
            .all(|w| w.sender_id != "test-bank")
    );
}
