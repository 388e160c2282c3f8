//! Key rotation over real HTTP on loopback, against SQLite and PostgreSQL (see `common`): the
//! receipt key is replaced while the receiver serves, every receipt signed before still
//! verifies with the old key it announces, a device follows the rotation only when the old
//! key signed it (a forged rotation, or a key swapped in without one, is refused and the
//! trusted key kept), a second instance on the same database switches without a restart, and
//! the secrets key is replaced with every kept secret still opening.

#[macro_use]
mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use honnin_core::check::Level;
use honnin_core::record::{AttributePolicy, DeviceKey, SoftwareSigner};
use honnin_core::store::Store;
use honnin_core::sync::protocol::SignedReceipt;
use honnin_core::sync::rotation::SignedKeyRotation;
use honnin_core::sync::{Backoff, SyncClient, SyncConfig, SyncError};
use honnin_core::verify::{SystemClock, SystemRandom};
use honnin_e2e::records::{device_signer, draft_of, genuine_report, store_keys};
use honnin_e2e::verifier_with_crl;
use honnin_receiver::audit::all_entries;
use honnin_receiver::{Receiver, SecretBox, Storage, fleet, now, rotation};

use common::{Backend, Server, get, post_enrol, receipt_key_of, start};

backend_tests!(
    earlier_receipts_verify_after_rotations_and_the_device_follows_them,
    a_key_not_signed_by_the_trusted_one_is_refused_and_the_trusted_key_kept,
    another_instance_on_the_database_switches_without_a_restart,
    the_secrets_key_is_replaced_with_every_kept_secret_still_opening,
);

/// Enrols handheld-01 with the test device key; the receipt key it learnt.
fn enrol(server: &Server) -> DeviceKey {
    let storage = server.receiver.storage.as_ref();
    let code = fleet::issue_enrolment_code(storage, "t", "handheld-01", &["test-bank"], now())
        .expect("code");
    let (status, answer) = post_enrol(server, "handheld-01", &device_signer(), &code);
    assert_eq!(status, 201, "{answer}");
    receipt_key_of(&answer)
}

fn key_of(base64: &str) -> DeviceKey {
    DeviceKey::from_spki_der(&BASE64.decode(base64).expect("base64")).expect("key")
}

fn client(server: &Server, receipt_key: DeviceKey) -> SyncClient {
    let mut config = SyncConfig::new(&server.base, "handheld-01");
    config.allow_loopback_http = true;
    config.max_attempts = 1;
    config.backoff = Backoff {
        base: std::time::Duration::from_millis(10),
        max: std::time::Duration::from_millis(50),
    };
    SyncClient::new(config, receipt_key)
}

fn append(store: &mut Store, n: usize) {
    for _ in 0..n {
        store
            .append(
                draft_of(&genuine_report(Level::B), AttributePolicy::ALL),
                &device_signer(),
            )
            .expect("appends");
    }
}

fn sync(client: &SyncClient, store: &mut Store) -> Result<u64, SyncError> {
    client
        .sync(store, &device_signer(), &SystemClock, &mut SystemRandom)
        .map(|report| report.synced)
}

/// Every receipt the receiver holds, with its record's id and hash.
fn receipts(storage: &dyn Storage) -> Vec<(SignedReceipt, String, [u8; 32])> {
    storage
        .feed("test-bank", 0, 1000)
        .expect("feed")
        .into_iter()
        .map(|row| {
            let receipt: SignedReceipt = serde_json::from_str(&row.receipt).expect("receipt");
            let id = receipt.receipt.record_id.clone();
            let mut hash = [0u8; 32];
            hex::decode_to_slice(&receipt.receipt.record_hash, &mut hash).expect("hash");
            (receipt, id, hash)
        })
        .collect()
}

fn rotate(server: &Server) -> SignedKeyRotation {
    let receiver = &server.receiver;
    let rotation =
        rotation::rotate_receipt_key(receiver.storage.as_ref(), &receiver.secrets, "t", now())
            .expect("rotates");
    assert!(
        receiver
            .key
            .reload(receiver.storage.as_ref(), &receiver.secrets)
            .expect("reloads")
    );
    rotation
}

fn earlier_receipts_verify_after_rotations_and_the_device_follows_them(backend: &Backend) {
    let server = start(backend);
    let k0 = enrol(&server);
    let mut store =
        Store::create(&server.dir.path().join("device.db"), &store_keys()).expect("store");
    append(&mut store, 3);
    assert_eq!(
        sync(&client(&server, k0.clone()), &mut store).expect("syncs"),
        3
    );

    rotate(&server);
    rotate(&server);
    let (status, announced) = get(&format!("{}/v1/receipt-key", server.base), None);
    assert_eq!(status, 200, "{announced}");
    let k2 = key_of(announced["receipt_key"].as_str().expect("key"));
    assert_eq!(k2, server.receiver.receipt_key());
    assert_eq!(announced["key_id"], k2.id_hex());
    let previous: Vec<DeviceKey> = announced["previous_keys"]
        .as_array()
        .expect("previous keys")
        .iter()
        .map(|k| key_of(k.as_str().expect("key")))
        .collect();
    assert_eq!(previous.len(), 2);
    assert_eq!(previous[0], k0);

    // Receipts signed before the rotations verify with the old key the receiver announces,
    // not with the new one.
    let earlier = receipts(server.receiver.storage.as_ref());
    assert_eq!(earlier.len(), 3);
    for (receipt, id, hash) in &earlier {
        receipt
            .verify(&previous[0], id, hash)
            .expect("verifies with the old key");
        assert!(receipt.verify(&k2, id, hash).is_err());
    }

    // A device that has not learnt the new key does not take receipts signed with it.
    append(&mut store, 2);
    assert!(matches!(
        sync(&client(&server, k0.clone()), &mut store),
        Err(SyncError::BadReceipt { .. })
    ));
    assert_eq!(store.info().expect("info").pending_sync, 2);
    // It follows both rotations from the key it trusts, then syncs and takes the manifest.
    let mut device = client(&server, k0.clone());
    assert_eq!(
        device.update_receipt_key().expect("follows"),
        Some(k2.clone())
    );
    assert_eq!(device.receipt_key(), &k2);
    assert_eq!(device.update_receipt_key().expect("nothing new"), None);
    assert_eq!(sync(&device, &mut store).expect("syncs"), 2);
    device
        .fetch_manifest(
            &mut store,
            &device_signer(),
            &SystemClock,
            &mut SystemRandom,
        )
        .expect("a manifest signed by the new key");

    let actions: Vec<String> = all_entries(server.receiver.storage.as_ref())
        .expect("log")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "enrol_code",
            "enrol_device",
            "rotate_receipt_key",
            "rotate_receipt_key"
        ]
    );
}

fn a_key_not_signed_by_the_trusted_one_is_refused_and_the_trusted_key_kept(backend: &Backend) {
    let server = start(backend);
    let k0 = enrol(&server);
    let storage = server.receiver.storage.as_ref();
    let attacker = SoftwareSigner::from_secret_bytes(&[0x77; 32]).expect("key");

    // A rotation to the attacker's key, signed by the attacker, put in the database.
    let mut forged = SignedKeyRotation::sign(
        &attacker,
        attacker.device_key(),
        attacker.device_key(),
        now(),
    )
    .expect("signs");
    forged.rotation.previous_key = BASE64.encode(k0.spki_der());
    let list = serde_json::to_vec(&[&forged]).expect("JSON");
    storage
        .put_meta("receipt_key_rotations", &list)
        .expect("tampers");
    let mut device = client(&server, k0.clone());
    match device.update_receipt_key() {
        Err(SyncError::BadKeyRotation(e)) => assert!(e.to_string().contains("not signed"), "{e}"),
        other => panic!("a forged rotation was followed: {other:?}"),
    }
    assert_eq!(device.receipt_key(), &k0);

    // The rotation list emptied and the receipt key swapped without one: the served key is
    // not reached from the trusted key.
    storage
        .replace_meta("receipt_key_rotations", &list, b"[]")
        .expect("tampers");
    let pem = attacker.to_pkcs8_pem().expect("PEM");
    let kept = storage.meta("receipt_key").expect("meta").expect("kept");
    storage
        .replace_meta("receipt_key", &kept, pem.as_bytes())
        .expect("tampers");
    server
        .receiver
        .key
        .reload(storage, &server.receiver.secrets)
        .expect("reloads");
    match device.update_receipt_key() {
        Err(SyncError::BadKeyRotation(e)) => assert!(e.to_string().contains("no rotation"), "{e}"),
        other => panic!("a swapped key was taken: {other:?}"),
    }
    assert_eq!(device.receipt_key(), &k0);
}

fn another_instance_on_the_database_switches_without_a_restart(backend: &Backend) {
    let server = start(backend);
    let k0 = enrol(&server);
    let other =
        Receiver::new(server.database.open(), verifier_with_crl()).expect("second instance");
    assert_eq!(other.receipt_key(), k0);
    assert!(
        !other
            .key
            .reload(other.storage.as_ref(), &other.secrets)
            .expect("nothing new")
    );
    rotate(&server);
    assert!(
        other
            .key
            .reload(other.storage.as_ref(), &other.secrets)
            .expect("reloads")
    );
    assert_eq!(other.receipt_key(), server.receiver.receipt_key());
    assert_ne!(other.receipt_key(), k0);
}

fn the_secrets_key_is_replaced_with_every_kept_secret_still_opening(backend: &Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = backend.database(dir.path());
    let old_key = dir.path().join("old.key");
    let new_key = dir.path().join("new.key");
    let sealed = |path: &std::path::Path| SecretBox::from_key_file(path).expect("key file");
    let first = Receiver::with_secrets(database.open(), verifier_with_crl(), sealed(&old_key))
        .expect("sealed under the old key");
    let receipt_key = first.receipt_key();
    drop(first);

    // The new key alone cannot open what the old one sealed.
    assert!(
        Receiver::with_secrets(database.open(), verifier_with_crl(), sealed(&new_key)).is_err()
    );
    // Both keys: instances restarted one at a time keep working.
    let both = || {
        sealed(&new_key)
            .with_previous(sealed(&old_key))
            .expect("both")
    };
    let rolling = Receiver::with_secrets(database.open(), verifier_with_crl(), both())
        .expect("opens with the previous key");
    assert_eq!(rolling.receipt_key(), receipt_key);
    let storage = rolling.storage.clone();
    assert!(rotation::reseal_all(storage.as_ref(), &both(), "t", now()).expect("reseals") >= 1);

    // Now the new key alone opens everything, and the old one nothing.
    let renewed = Receiver::with_secrets(database.open(), verifier_with_crl(), sealed(&new_key))
        .expect("opens with the new key");
    assert_eq!(
        renewed.receipt_key(),
        receipt_key,
        "the receipt key itself is unchanged"
    );
    assert!(
        Receiver::with_secrets(database.open(), verifier_with_crl(), sealed(&old_key)).is_err()
    );
    assert!(
        all_entries(storage.as_ref())
            .expect("log")
            .iter()
            .any(|e| e.action == "rotate_secrets_key")
    );
}
