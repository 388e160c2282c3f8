//! The rotation window against a real HTTP server on loopback (plain HTTP, which the client
//! allows only to loopback and only when asked): a receiver that has announced a receipt-key
//! rotation but still signs its manifests with the old key for a few requests, as its
//! instances do until their reloader takes the new key.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::*;
use crate::manifest::{MANIFEST_FORMAT, ManifestBody, ManifestError, ManifestItem};
use crate::record::SoftwareSigner;
use crate::store::StaticKeyProvider;
use crate::sync::SyncConfig;
use crate::sync::rotation::SignedKeyRotation;
use crate::verify::{SystemClock, SystemRandom};

const DEVICE: &str = "handheld-01";

fn key(byte: u8) -> SoftwareSigner {
    SoftwareSigner::from_secret_bytes(&[byte; 32]).expect("valid scalar")
}

fn manifest(signer: &SoftwareSigner) -> Vec<u8> {
    let now = SystemClock.now().0;
    let body = ManifestBody {
        format: MANIFEST_FORMAT.into(),
        device_id: DEVICE.into(),
        issued_at: now,
        expires_at: now + 86_400,
        items: vec![ManifestItem {
            item_id: "JP-ITEM-0001".into(),
            sender_id: "test-bank".into(),
            addressee_name: "試験 花子".into(),
            addressee_address: None,
            min_level: "B".into(),
            attributes: vec!["name".into()],
        }],
    };
    SignedManifest::sign(body, signer, signer.device_key())
        .expect("signs")
        .to_json()
}

/// A receiver on loopback: its receipt key is `new` (reached from `old` by one rotation), and
/// it answers the n-th manifest request with `manifests[n]` (the last one from then on).
struct Receiver {
    url: String,
    manifest_requests: Arc<AtomicUsize>,
}

fn receiver(old: &SoftwareSigner, new: &SoftwareSigner, manifests: Vec<Vec<u8>>) -> Receiver {
    let rotation = SignedKeyRotation::sign(old, old.device_key(), new.device_key(), 1_800_000_000)
        .expect("signs");
    let receipt_key = serde_json::json!({
        "receipt_key": BASE64.encode(new.device_key().spki_der()),
        "rotations": [rotation],
    })
    .to_string()
    .into_bytes();
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let manifest_requests = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&manifest_requests);
    let manifests = Mutex::new(manifests);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clones"));
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            // The headers up to the blank line; the GETs here have no body.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let body = if request_line.contains(" /v1/receipt-key ") {
                receipt_key.clone()
            } else if request_line.contains(" /v1/manifest ") {
                let n = counted.fetch_add(1, Ordering::SeqCst);
                let manifests = manifests.lock().expect("not poisoned");
                manifests[n.min(manifests.len() - 1)].clone()
            } else {
                b"{}".to_vec()
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    Receiver {
        url,
        manifest_requests,
    }
}

fn client_of(receiver: &Receiver, trusted: &SoftwareSigner) -> SyncClient {
    let mut config = SyncConfig::new(&receiver.url, DEVICE);
    config.allow_loopback_http = true;
    config.max_attempts = 1;
    config.rotation_pause = Duration::from_millis(20);
    SyncClient::try_new(config, trusted.device_key().clone()).expect("usable config")
}

fn fetch(client: &SyncClient) -> Result<VerifiedManifest, SyncError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::create(
        &dir.path().join("records.db"),
        &StaticKeyProvider::new([7; 32]),
    )
    .expect("creates");
    client.fetch_manifest(&mut store, &key(0x51), &SystemClock, &mut SystemRandom)
}

#[test]
fn a_manifest_the_replaced_key_signed_is_fetched_again_until_the_new_key_signs_it() {
    let (old, new) = (key(1), key(2));
    let server = receiver(
        &old,
        &new,
        vec![manifest(&old), manifest(&old), manifest(&new)],
    );
    let mut client = client_of(&server, &old);
    let learnt = client.update_receipt_key().expect("follows the rotation");
    assert_eq!(learnt.as_ref(), Some(new.device_key()));
    let manifest = fetch(&client).expect("the new key's manifest is kept");
    assert_eq!(manifest.items().len(), 1);
    assert_eq!(server.manifest_requests.load(Ordering::SeqCst), 3);
}

#[test]
fn the_wait_is_bounded_and_ends_in_the_usual_refusal() {
    let (old, new) = (key(1), key(2));
    let server = receiver(&old, &new, vec![manifest(&old)]);
    let mut client = client_of(&server, &old);
    client.update_receipt_key().expect("follows the rotation");
    assert!(matches!(
        fetch(&client),
        Err(SyncError::BadManifest(ManifestError::BadSignature))
    ));
    assert_eq!(
        server.manifest_requests.load(Ordering::SeqCst),
        ROTATION_WINDOW_TRIES as usize
    );
}

#[test]
fn no_second_download_for_a_key_the_device_never_trusted_or_without_a_rotation_in_this_sync() {
    let (old, new, stranger) = (key(1), key(2), key(9));
    // Signed by a key no rotation of this sync replaced: refused at the first answer.
    let server = receiver(&old, &new, vec![manifest(&stranger), manifest(&new)]);
    let mut client = client_of(&server, &old);
    client.update_receipt_key().expect("follows the rotation");
    assert!(matches!(
        fetch(&client),
        Err(SyncError::BadManifest(ManifestError::BadSignature))
    ));
    assert_eq!(server.manifest_requests.load(Ordering::SeqCst), 1);
    // A device that already holds the new key (it followed the rotation in an earlier sync)
    // does not trust the old one at all any more: its manifest is refused at once.
    let server = receiver(&old, &new, vec![manifest(&old), manifest(&new)]);
    let mut client = client_of(&server, &new);
    assert_eq!(client.update_receipt_key().expect("nothing new"), None);
    assert!(matches!(
        fetch(&client),
        Err(SyncError::BadManifest(ManifestError::BadSignature))
    ));
    assert_eq!(server.manifest_requests.load(Ordering::SeqCst), 1);
}
