//! A hostile device or sender against the real receiver over TLS on loopback, against SQLite
//! and PostgreSQL (see `common`): each test builds a request to exploit exactly one hole and
//! checks it is refused with a typed error. Feed cursors and webhook targets have their own
//! files (`feed_cursors`, `webhook_targets`).
//!
//! - A signed request with a timestamp at the edge of `i64` gets 401, not a panic.
//! - With a clock skew above half an hour a request's nonce is still held when a replay of it
//!   would pass the timestamp check.
//! - A sender cannot register more than the cap of undelivered items on one device, and a
//!   device's manifest is shared fairly when its senders' items are more than it holds.

#[macro_use]
mod common;
mod hostile_support;

use honnin_core::record::SoftwareSigner;
use honnin_core::sync::protocol::{MANIFEST_REQUEST, sign_batch};
use honnin_core::verify::{RandomSource, SystemRandom};
use honnin_e2e::records::device_signer;
use honnin_receiver::storage::ItemRow;
use honnin_receiver::{auth, now, operator};

use common::Backend;
use hostile_support::{Server, call, enrol, start};

backend_tests!(
    a_signed_timestamp_at_the_edge_of_i64_is_refused_not_a_panic,
    a_nonce_is_held_as_long_as_a_replay_would_pass_the_clock_check,
    a_sender_cannot_register_beyond_its_cap_on_one_device,
    a_full_manifest_is_shared_fairly_among_senders,
);

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
