//! Shared by the kill tests (here and in cli/tests): the device store they sync, and the
//! one check that matters after any crash — every record is at the receiver exactly once, and
//! marked synced on the device under a receipt that verifies.

use std::collections::HashMap;
use std::path::Path;

use honnin_core::check::Level;
use honnin_core::record::{AttributePolicy, DeviceKey};
use honnin_core::store::Store;
use honnin_core::sync::protocol::SignedReceipt;
use honnin_e2e::records::{device_signer, draft_of, genuine_report, store_keys};
use honnin_receiver::Storage;

/// The sender the test records are for (`honnin_e2e::request`).
pub const SENDER: &str = "test-bank";

/// A new device store at `path` holding `n` records of a genuine level-B door check.
pub fn device_store(path: &Path, n: usize) -> Store {
    let mut store = Store::create(path, &store_keys()).expect("store");
    let draft = draft_of(&genuine_report(Level::B), AttributePolicy::ALL);
    let signer = device_signer();
    for _ in 0..n {
        store.append(draft.clone(), &signer).expect("appends");
    }
    store
}

/// Every one of the store's `n` records is synced on the device, held once by the receiver,
/// in the sender's feed once, with a receipt by `receipt_key` naming the record's hash.
pub fn assert_delivered_exactly_once(
    store: &Store,
    storage: &dyn Storage,
    receipt_key: &DeviceKey,
    n: u64,
) {
    let info = store.info().expect("info");
    assert_eq!(info.records, n);
    assert_eq!(info.pending_sync, 0, "records left unsynced on the device");
    let mut hashes = HashMap::new();
    for row in store.list(0, usize::MAX).expect("lists") {
        assert!(
            row.synced_at.is_some(),
            "record {} not synced",
            row.position
        );
        let record = row.record.expect("record reads");
        hashes.insert(record.body().record_id().to_owned(), record.hash());
    }
    assert_eq!(hashes.len() as u64, n);
    assert_eq!(storage.count_records().expect("count"), n);
    let feed = storage.feed(SENDER, 0, 10_000).expect("feed");
    assert_eq!(
        feed.len() as u64,
        n,
        "the feed holds a record twice or misses one"
    );
    let mut seen = std::collections::HashSet::new();
    for row in feed {
        let receipt: SignedReceipt = serde_json::from_str(&row.receipt).expect("receipt");
        let id = receipt.receipt.record_id.clone();
        let hash = hashes.get(&id).expect("a record the device holds");
        receipt
            .verify(receipt_key, &id, hash)
            .expect("receipt verifies");
        assert!(seen.insert(id), "a record twice in the feed");
    }
}
