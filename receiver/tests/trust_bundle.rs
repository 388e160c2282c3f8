//! Trust distribution end to end, on a real receiver (TLS on loopback, SQLite and PostgreSQL)
//! and the core's sync client: the operator loads anchors and CRLs, the device fetches the
//! signed bundle, and the door check then checks revocation on the device from it, naming the
//! list and the bundle; anchor rotation (old and new root generations side by side, then the
//! old one retired) reaches the device's chain validation; a replayed older bundle, an
//! unenrolled device and a receiver with no bundle each get their typed answer.
//!
//! The fixtures' forger root stands in for the new generation: like the 2023 J-LIS roots
//! beside the 2015 ones, it has the test root's name and another key, and its CAs issued
//! end-entity certificates of their own (fixtures/README.md).

#[macro_use]
mod common;
mod hostile_support;
mod trust_bundle_ingest;

use std::path::{Path, PathBuf};

use honnin_core::card::types::CertificateDer;
use honnin_core::check::{Level, Verdict, Verifier};
use honnin_core::reader::CardSession;
use honnin_core::record::SoftwareSigner;
use honnin_core::sync::{FetchedTrustBundle, SyncClient, SyncConfig, SyncError, TlsTrust};
use honnin_core::trust_bundle::{TrustBundleError, VerifiedTrustBundle};
use honnin_core::verify::x509::{KeyPurpose, validate_chain};
use honnin_core::verify::{CheckId, CheckState, Clock, Reason, SystemClock, SystemRandom};
use honnin_e2e::records::device_signer;
use honnin_e2e::{CountingRandom, addressee, auth_pin, clock, request};
use honnin_receiver::trust_bundle::{load, read_trust_files};
use honnin_simcard::Profile;

use common::Backend;
use hostile_support::{Server, enrol, start};

const PKI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/pki");

backend_tests!(
    a_device_checks_revocation_from_the_bundle_it_synced_and_follows_an_anchor_rotation,
    an_unenrolled_device_or_a_receiver_without_a_bundle_gets_a_typed_answer,
);

// The receiver's own re-verification with what the operator loaded (trust_bundle_ingest).
mod ingest {
    use crate::trust_bundle_ingest::*;
    backend_tests!(
        a_list_loaded_after_serve_started_revokes_the_next_records,
        a_fresher_list_beats_the_one_serve_started_with,
        phone_anchors_loaded_by_trust_load_verify_a_phone_record,
        a_second_instance_follows_a_load_made_through_the_first,
        a_damaged_stored_bundle_keeps_the_last_good_trust,
    );
}

fn pki(name: &str) -> PathBuf {
    Path::new(PKI).join(name)
}

/// An anchor directory holding `files` of the fixture PKI.
fn anchor_dir(root: &Path, name: &str, files: &[&str]) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("dir");
    for file in files {
        let from = pki(file);
        let to = dir.join(from.file_name().expect("name"));
        std::fs::copy(&from, &to).expect("copies");
    }
    dir
}

/// The operator's `trust-load`: the serial of the new bundle.
fn operator_load(server: &Server, dir: &Path) -> u64 {
    let crls = [pki("jpki-auth-ca.crl.der"), pki("jpki-sign-ca.crl.der")];
    let (anchors, lists) = read_trust_files(dir, &crls).expect("reads");
    load(
        server.receiver.storage.as_ref(),
        "t",
        anchors,
        lists,
        honnin_receiver::now(),
    )
    .expect("loads")
}

fn client(server: &Server) -> SyncClient {
    let config = SyncConfig::new(&server.base, "handheld-01")
        .with_trust(TlsTrust::PrivateCa(vec![server.certificate_der.clone()]));
    SyncClient::try_new(config, server.receiver.receipt_key()).expect("client")
}

fn fetch(
    client: &SyncClient,
    kept: Option<u64>,
    signer: &SoftwareSigner,
) -> Result<FetchedTrustBundle, SyncError> {
    client.fetch_trust_bundle(kept, signer, &SystemClock, &mut SystemRandom)
}

fn verified(fetched: FetchedTrustBundle) -> (Vec<u8>, VerifiedTrustBundle) {
    match fetched {
        FetchedTrustBundle::Verified { signed, verified } => (signed.to_json(), verified),
        FetchedTrustBundle::NoneLoaded => panic!("no bundle"),
    }
}

fn verifier(bundle: &VerifiedTrustBundle) -> Verifier {
    Verifier::new(bundle.anchors().clone()).with_revocation_lists(bundle.revocation_lists())
}

/// A level-B door check of the software card `profile` with the bundle's trust, now.
fn door_check(
    bundle: &VerifiedTrustBundle,
    profile: Profile,
) -> honnin_core::check::DoorCheckReport {
    let mut session = CardSession::new(profile.build().expect("card"));
    // At the fixtures' check time (their CRLs are current then); the bundle itself was
    // verified at the real time when fetched.
    verifier(bundle).check_level_b(
        &mut session,
        &request(Some(addressee())),
        &auth_pin(),
        &clock(),
        &mut CountingRandom(Level::B as u8),
    )
}

fn cert(name: &str) -> CertificateDer {
    CertificateDer(std::fs::read(pki(name)).expect("fixture"))
}

/// Whether the authentication certificate `ee` issued by `ca` chains to the bundle's anchors.
fn chains(bundle: &VerifiedTrustBundle, ee: &str, ca: &str) -> bool {
    validate_chain(
        &cert(ee),
        &[cert(ca)],
        bundle.anchors(),
        clock().now(),
        KeyPurpose::Authentication,
    )
    .verified()
    .is_some()
}

fn a_device_checks_revocation_from_the_bundle_it_synced_and_follows_an_anchor_rotation(
    backend: &Backend,
) {
    let server = start(backend, |_| {});
    let signer = device_signer();
    enrol(&server, "handheld-01", &signer);
    let client = client(&server);
    let scratch = tempfile::tempdir().expect("temp dir");
    let old = anchor_dir(
        scratch.path(),
        "old",
        &[
            "anchors/test-jpki-root.cert.der",
            "jlis-data-issuer.cert.der",
        ],
    );
    assert_eq!(operator_load(&server, &old), 1);
    let (first_json, first) = verified(fetch(&client, None, &signer).expect("fetched"));
    assert_eq!(first.serial, 1);

    // Revocation on the device, offline, from the list that came with the bundle.
    let genuine = door_check(&first, Profile::Genuine);
    assert_eq!(genuine.verdict(), Verdict::Genuine, "{genuine:?}");
    let revocation = genuine.check(CheckId::Revocation).expect("checked");
    assert_eq!(
        (revocation.state, revocation.reason),
        (CheckState::Passed, Reason::NotRevoked)
    );
    assert!(
        revocation.detail.contains("h old)") && revocation.detail.contains("from trust bundle 1"),
        "which list, how old and from where: {}",
        revocation.detail
    );
    let revoked = door_check(&first, Profile::Revoked);
    let revocation = revoked.check(CheckId::Revocation).expect("checked");
    assert_eq!(
        (revocation.state, revocation.reason),
        (CheckState::Failed, Reason::Revoked),
        "{revoked:?}"
    );
    assert_ne!(revoked.verdict(), Verdict::Genuine);

    // Rotation, step one: both generations side by side; certificates of either chain.
    let both = anchor_dir(
        scratch.path(),
        "both",
        &[
            "anchors/test-jpki-root.cert.der",
            "forger-root.cert.der",
            "jlis-data-issuer.cert.der",
        ],
    );
    assert_eq!(operator_load(&server, &both), 2);
    let (_, side_by_side) = verified(fetch(&client, Some(1), &signer).expect("fetched"));
    assert_eq!(side_by_side.serial, 2);
    assert!(chains(
        &first,
        "card-auth.cert.der",
        "jpki-auth-ca.cert.der"
    ));
    assert!(!chains(
        &first,
        "forged-auth.cert.der",
        "forger-auth-ca.cert.der"
    ));
    assert!(chains(
        &side_by_side,
        "card-auth.cert.der",
        "jpki-auth-ca.cert.der"
    ));
    assert!(chains(
        &side_by_side,
        "forged-auth.cert.der",
        "forger-auth-ca.cert.der"
    ));
    assert_eq!(
        door_check(&side_by_side, Profile::Genuine).verdict(),
        Verdict::Genuine
    );

    // Step two: the old generation retired. Its certificates no longer chain on the device.
    let new = anchor_dir(
        scratch.path(),
        "new",
        &["forger-root.cert.der", "jlis-data-issuer.cert.der"],
    );
    assert_eq!(operator_load(&server, &new), 3);
    let (_, retired) = verified(fetch(&client, Some(2), &signer).expect("fetched"));
    assert_eq!(retired.serial, 3);
    assert!(!chains(
        &retired,
        "card-auth.cert.der",
        "jpki-auth-ca.cert.der"
    ));
    assert!(chains(
        &retired,
        "forged-auth.cert.der",
        "forger-auth-ca.cert.der"
    ));
    let old_card = door_check(&retired, Profile::Genuine);
    assert_ne!(old_card.verdict(), Verdict::Genuine);
    let chain = old_card.check(CheckId::CertificateChain).expect("checked");
    assert_eq!(chain.state, CheckState::Failed, "{chain:?}");

    // The first bundle replayed to a device that keeps the third: refused, it would bring the
    // retired root back.
    let replayed =
        honnin_core::trust_bundle::SignedTrustBundle::from_json(&first_json).expect("parses");
    assert_eq!(
        replayed
            .verify(&server.receiver.receipt_key(), Some(3), SystemClock.now())
            .err(),
        Some(TrustBundleError::Rollback { kept: 3, found: 1 })
    );
    // And a device that keeps a newer one than the receiver serves refuses it too.
    match fetch(&client, Some(4), &signer) {
        Err(SyncError::BadTrustBundle(TrustBundleError::Rollback { kept: 4, found: 3 })) => {}
        other => panic!("not refused: {other:?}"),
    }
}

fn an_unenrolled_device_or_a_receiver_without_a_bundle_gets_a_typed_answer(backend: &Backend) {
    let server = start(backend, |_| {});
    let signer = device_signer();
    enrol(&server, "handheld-01", &signer);
    let client = client(&server);
    // Nothing loaded yet: the device is told, and keeps what it has.
    assert!(matches!(
        fetch(&client, None, &signer).expect("answered"),
        FetchedTrustBundle::NoneLoaded
    ));
    let scratch = tempfile::tempdir().expect("temp dir");
    let dir = anchor_dir(scratch.path(), "a", &["anchors/test-jpki-root.cert.der"]);
    operator_load(&server, &dir);
    // Another key than the enrolled one: 401, not the bundle.
    let stranger = SoftwareSigner::from_secret_bytes(&[0x77; 32]).expect("key");
    match fetch(&client, None, &stranger) {
        Err(SyncError::Refused { status: 401, .. }) => {}
        other => panic!("not refused: {other:?}"),
    }
    // A device holding another receiver's key refuses this receiver's bundle.
    let config = SyncConfig::new(&server.base, "handheld-01")
        .with_trust(TlsTrust::PrivateCa(vec![server.certificate_der.clone()]));
    let other_key = SoftwareSigner::from_secret_bytes(&[0x55; 32]).expect("key");
    let misled = SyncClient::try_new(config, other_key.device_key().clone()).expect("client");
    match fetch(&misled, None, &signer) {
        Err(SyncError::BadTrustBundle(TrustBundleError::BadSignature)) => {}
        other => panic!("not refused: {other:?}"),
    }
    // A list without nextUpdate, or a file that is no list, is refused at load, nothing kept.
    let junk = scratch.path().join("junk.crl");
    std::fs::write(&junk, b"not a CRL").expect("writes");
    assert!(read_trust_files(&dir, &[junk]).is_err());
    let empty = scratch.path().join("empty");
    std::fs::create_dir_all(&empty).expect("dir");
    assert!(read_trust_files(&empty, &[]).is_err());
    assert_eq!(
        honnin_receiver::trust_bundle::loaded(server.receiver.storage.as_ref())
            .expect("reads")
            .expect("kept")
            .serial,
        1
    );
}

/// The phone issuer anchors the operator loads reach devices that read v2 bundles; devices
/// before v2 get the v1 bundle they can read (without them, the same bytes as before v2).
#[test]
fn phone_issuer_anchors_go_only_to_devices_that_read_v2_bundles() {
    use honnin_receiver::trust_bundle::{
        TrustLoadError, load_with_mdoc, loaded, read_mdoc_anchors, sign_bundle,
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = std::sync::Arc::new(
        honnin_receiver::SqliteStorage::open(&dir.path().join("receiver.db")).expect("opens"),
    );
    let receiver =
        honnin_receiver::Receiver::new(storage, honnin_e2e::verifier_with_crl()).expect("receiver");
    let jpki = anchor_dir(dir.path(), "jpki", &["anchors/test-jpki-root.cert.der"]);
    let (anchors, lists) = read_trust_files(&jpki, &[pki("jpki-auth-ca.crl.der")]).expect("reads");
    let phones = read_mdoc_anchors(&pki("mdoc/anchors")).expect("reads the IACA");
    // The J-LIS roots are RSA: not phone issuer anchors.
    assert!(matches!(
        read_mdoc_anchors(&pki("anchors")),
        Err(TrustLoadError::MdocAnchors { .. })
    ));
    load_with_mdoc(
        receiver.storage.as_ref(),
        "t",
        anchors,
        lists,
        phones,
        honnin_receiver::now(),
    )
    .expect("loads");
    let trust = loaded(receiver.storage.as_ref())
        .expect("reads")
        .expect("loaded");
    let key = receiver.receipt_key();
    let now = SystemClock.now();

    let v1 = sign_bundle(&receiver, trust.clone(), false).expect("signs");
    assert_eq!(v1.bundle.format, "honnin.trust-bundle.v1");
    let text = String::from_utf8(v1.to_json()).expect("utf-8");
    assert!(!text.contains("mdoc_anchors"), "{text}");
    assert!(
        v1.verify(&key, None, now)
            .expect("verifies")
            .mdoc_anchors()
            .is_empty()
    );

    let v2 = sign_bundle(&receiver, trust, true).expect("signs");
    assert_eq!(v2.bundle.format, "honnin.trust-bundle.v2");
    let verified = v2.verify(&key, None, now).expect("verifies");
    assert_eq!(verified.mdoc_anchors().len(), 1);
    assert_eq!(verified.serial, 1);
}
