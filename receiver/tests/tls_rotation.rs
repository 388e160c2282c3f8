//! The TLS key rotated while the receiver serves: new certificate and key files are picked up
//! without a restart, new connections get the new key (a device pinned to it connects, one
//! pinned to the old key is refused), the enrolment answer announces the new pin, and files
//! that do not load leave the identity served as it was.

use std::sync::Arc;

use honnin_core::sync::{SyncClient, SyncConfig, SyncError, TlsTrust};
use honnin_e2e::verifier_with_crl;
use honnin_receiver::tls::{CERT_FILE, KEY_FILE, ServerTls};
use honnin_receiver::{Receiver, SqliteStorage};

/// Puts the self-signed identity of `from` in `to` (as an operator installs a renewed
/// certificate and key).
fn install(from: &std::path::Path, to: &std::path::Path) {
    ServerTls::self_signed(from).expect("made");
    for file in [CERT_FILE, KEY_FILE] {
        std::fs::copy(from.join(file), to.join(file)).expect("copies");
    }
}

/// Whether a device trusting `trust` gets through the TLS handshake to the receiver (it then
/// answers a made-up enrolment code with 401).
fn connects(base: &str, trust: TlsTrust) -> Result<(), SyncError> {
    let config = SyncConfig::new(base, "handheld-01").with_trust(trust);
    let signer = honnin_e2e::records::device_signer();
    match SyncClient::enrol_device(&config, "0000", &signer) {
        // Reached the receiver, which refused the code: the TLS identity was accepted.
        Err(SyncError::Refused { status: 401, .. }) => Ok(()),
        Err(other) => Err(other),
        Ok(_) => panic!("a made-up code enrolled"),
    }
}

#[test]
fn a_new_tls_key_is_served_without_a_restart_and_broken_files_are_not() {
    let dir = tempfile::tempdir().expect("temp dir");
    let served = dir.path().join("served");
    std::fs::create_dir(&served).expect("dir");
    install(&dir.path().join("first"), &served);
    let tls =
        ServerTls::from_pem_files(&served.join(CERT_FILE), &served.join(KEY_FILE)).expect("loads");
    let old_pin = tls.pin;
    let storage = Arc::new(SqliteStorage::open(&dir.path().join("receiver.db")).expect("opens"));
    let receiver = Arc::new(Receiver::new(storage, verifier_with_crl()).expect("receiver"));
    let operator_storage = receiver.storage.clone();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binds");
    let base = format!("https://{}", listener.local_addr().expect("address"));
    let serving = tls.clone();
    runtime.spawn(async move { honnin_receiver::tls::serve(listener, receiver, &serving).await });

    connects(&base, TlsTrust::Pinned(old_pin)).expect("the first key is served");
    assert_eq!(tls.live.reload_if_changed().expect("unchanged"), None);

    // A renewed identity with a new key: picked up, and served to new connections.
    install(&dir.path().join("second"), &served);
    let new_pin = honnin_receiver::tls_reload::reload_and_log(&tls.live, operator_storage.as_ref())
        .expect("reloads")
        .expect("a new pin");
    let logged = honnin_receiver::audit::all_entries(operator_storage.as_ref()).expect("log");
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].action, "rotate_tls_key");
    assert!(
        logged[0].detail.contains(&new_pin.to_string()),
        "{}",
        logged[0].detail
    );
    assert_ne!(new_pin, old_pin);
    connects(&base, TlsTrust::Pinned(new_pin)).expect("the new key is served");
    assert!(matches!(
        connects(&base, TlsTrust::Pinned(old_pin)),
        Err(SyncError::UntrustedReceiver(_))
    ));
    let code = honnin_receiver::operator::issue_enrolment_code(
        operator_storage.as_ref(),
        "handheld-01",
        &[],
        honnin_receiver::now(),
    )
    .expect("code");
    let config = SyncConfig::new(&base, "handheld-01").with_trust(TlsTrust::Pinned(new_pin));
    let enrolment = SyncClient::enrol_device(&config, &code, &honnin_e2e::records::device_signer())
        .expect("enrols");
    assert_eq!(
        enrolment.tls_pin,
        Some(new_pin),
        "the enrolment answer announces the new pin"
    );

    // A key that is not the certificate's: refused, and the new identity stays served.
    std::fs::copy(
        dir.path().join("first").join(KEY_FILE),
        served.join(KEY_FILE),
    )
    .expect("copies");
    assert!(tls.live.reload_if_changed().is_err());
    assert_eq!(tls.live.pin(), new_pin);
    connects(&base, TlsTrust::Pinned(new_pin)).expect("still served");
    // Not retried until the files change again.
    assert_eq!(tls.live.reload_if_changed().expect("unchanged"), None);
}
