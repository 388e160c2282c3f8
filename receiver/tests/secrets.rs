//! The receiver's own secrets at rest (`--secrets-key`), against SQLite and PostgreSQL: values
//! kept before sealing was turned on are sealed in place with the receipt key unchanged, and
//! a database with sealed secrets opens only with the key that sealed them.

#[macro_use]
mod common;

use std::sync::Arc;

use honnin_e2e::verifier_with_crl;
use honnin_receiver::secrets::SecretsError;
use honnin_receiver::storage::WebhookRow;
use honnin_receiver::{Receiver, SecretBox, Storage, StorageError};

use common::Backend;

backend_tests!(secrets_kept_plain_are_sealed_in_place_and_open_only_with_their_key);

const WEBHOOK_SECRET: &str = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7";

fn sealed(dir: &std::path::Path, name: &str) -> SecretBox {
    SecretBox::from_key_file(&dir.join(name)).expect("secrets key")
}

fn kept_receipt_key(storage: &dyn Storage) -> String {
    let kept = storage.meta("receipt_key").expect("reads").expect("kept");
    String::from_utf8(kept).expect("text")
}

fn secrets_kept_plain_are_sealed_in_place_and_open_only_with_their_key(backend: &Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = backend.database(dir.path());
    let storage: Arc<dyn Storage> = database.open();

    // A receiver run so far without a secrets key: both secrets kept as they are.
    let plain = Receiver::new(storage.clone(), verifier_with_crl()).expect("receiver");
    let receipt_key = plain.receipt_key().clone();
    storage
        .set_webhook(
            "test-bank",
            Some(&WebhookRow {
                sender_id: "test-bank".into(),
                url: "https://bank.example/hook".into(),
                secret: WEBHOOK_SECRET.into(),
                cursor: 7,
            }),
        )
        .expect("webhook");
    assert!(kept_receipt_key(storage.as_ref()).contains("PRIVATE KEY"));

    // Started with a key: the same receipt key, now sealed; the webhook secret sealed too and
    // still the sender's (the pusher opens it to the same bytes).
    let secrets = sealed(dir.path(), "secrets.key");
    let receiver = Receiver::with_secrets(storage.clone(), verifier_with_crl(), secrets)
        .expect("seals in place");
    assert_eq!(receiver.receipt_key(), receipt_key);
    let kept = kept_receipt_key(storage.as_ref());
    assert!(
        kept.starts_with("sealed-v1:") && !kept.contains("PRIVATE KEY"),
        "{kept}"
    );
    let hooks = storage.webhooks().expect("webhooks");
    assert_eq!(hooks.len(), 1);
    assert!(hooks[0].secret.starts_with("sealed-v1:"));
    assert_eq!(hooks[0].cursor, 7);
    let opened = receiver
        .secrets
        .open(
            &honnin_receiver::secrets::webhook_purpose("test-bank"),
            hooks[0].secret.as_bytes(),
        )
        .expect("opens");
    assert_eq!(opened.plaintext.as_slice(), WEBHOOK_SECRET.as_bytes());

    // Without the key, or with another one, the receiver does not start.
    match Receiver::new(storage.clone(), verifier_with_crl()) {
        Err(StorageError::Secrets(SecretsError::KeyNeeded { .. })) => {}
        other => panic!("started without its secrets key: {other:?}"),
    }
    match Receiver::with_secrets(
        storage.clone(),
        verifier_with_crl(),
        sealed(dir.path(), "other.key"),
    ) {
        Err(StorageError::Secrets(SecretsError::WrongKey { .. })) => {}
        other => panic!("started with another secrets key: {other:?}"),
    }
    // With it again, as before.
    let again = Receiver::with_secrets(
        storage.clone(),
        verifier_with_crl(),
        sealed(dir.path(), "secrets.key"),
    )
    .expect("starts");
    assert_eq!(again.receipt_key(), receipt_key);
    assert_eq!(kept_receipt_key(storage.as_ref()), kept);
}
