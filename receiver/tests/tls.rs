//! The sync client against the receiver over real TLS on loopback: the pinned key works, a
//! wrong pin, a certificate from an unknown CA, a certificate for another name and a
//! self-signed certificate under the public roots are each refused with their own typed error
//! and nothing reaches the receiver; plain http:// needs explicit permission; clients beyond
//! the connection limit wait for a free slot.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use honnin_core::check::Level;
use honnin_core::record::{AttributePolicy, SoftwareSigner};
use honnin_core::store::Store;
use honnin_core::sync::{
    ConfigError, SpkiPin, SyncClient, SyncConfig, SyncError, TlsRefusal, TlsTrust,
};
use honnin_core::verify::{SystemClock, SystemRandom};
use honnin_e2e::records::{device_signer, draft_of, genuine_report, store_keys};
use honnin_e2e::verifier_with_crl;
use honnin_receiver::tls::ServerTls;
use honnin_receiver::{Limits, Receiver, SqliteStorage, Storage, now, operator};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

struct Server {
    base: String,
    receiver: Arc<Receiver>,
    tls: ServerTls,
    _runtime: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
}

/// A receiver serving TLS with `tls` (or a fresh self-signed identity) on loopback.
fn start(tls: Option<ServerTls>) -> Server {
    start_with(tls, Limits::default())
}

fn start_with(tls: Option<ServerTls>, limits: Limits) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let tls = tls.unwrap_or_else(|| ServerTls::self_signed(&dir.path().join("tls")).expect("tls"));
    let storage: Arc<dyn Storage> =
        Arc::new(SqliteStorage::open(&dir.path().join("receiver.db")).expect("opens"));
    let mut receiver = Receiver::new(storage, verifier_with_crl()).expect("receiver");
    receiver.limits = limits;
    let receiver = Arc::new(receiver);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binds");
    let base = format!("https://{}", listener.local_addr().expect("address"));
    let served = tls.clone();
    let shared = receiver.clone();
    runtime.spawn(async move { honnin_receiver::tls::serve(listener, shared, &served).await });
    Server {
        base,
        receiver,
        tls,
        _runtime: runtime,
        dir,
    }
}

fn config(server: &Server, trust: TlsTrust) -> SyncConfig {
    config_for(server, trust, "handheld-01")
}

fn config_for(server: &Server, trust: TlsTrust, device: &str) -> SyncConfig {
    let mut config = SyncConfig::new(&server.base, device).with_trust(trust);
    // Generous: a loaded machine only makes the successful calls slower (refusals are at once).
    config.timeout = Duration::from_secs(30);
    config.max_attempts = 2;
    config
}

fn code(server: &Server, device: &str) -> String {
    operator::issue_enrolment_code(
        server.receiver.storage.as_ref(),
        device,
        &["test-bank"],
        now(),
    )
    .expect("code")
}

fn device_store(dir: &Path, n: usize) -> Store {
    let mut store = Store::create(&dir.join("device.db"), &store_keys()).expect("store");
    let report = genuine_report(Level::B);
    for _ in 0..n {
        store
            .append(draft_of(&report, AttributePolicy::ALL), &device_signer())
            .expect("appends");
    }
    store
}

/// Enrolment and sync with `trust` must be refused as `expected`, with nothing stored.
fn assert_refused(server: &Server, trust: TlsTrust, expected: &TlsRefusal) {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let device = format!("refused-{}", CALLS.fetch_add(1, Ordering::SeqCst));
    let signer: SoftwareSigner = device_signer();
    let code = code(server, &device);
    let config = config_for(server, trust, &device);
    match SyncClient::enrol_device(&config, &code, &signer) {
        Err(SyncError::UntrustedReceiver(refusal)) => assert_eq!(&refusal, expected),
        other => panic!("enrolment not refused: {other:?}"),
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = device_store(dir.path(), 3);
    let before = server.receiver.storage.count_records().expect("count");
    let client = SyncClient::new(config, server.receiver.receipt_key().clone());
    match client.sync(&mut store, &signer, &SystemClock, &mut SystemRandom) {
        Err(SyncError::UntrustedReceiver(refusal)) => assert_eq!(&refusal, expected),
        other => panic!("sync not refused: {other:?}"),
    }
    assert_eq!(store.info().expect("info").pending_sync, 3);
    assert_eq!(
        server.receiver.storage.count_records().expect("count"),
        before
    );
    // The code never reached the receiver: it is still good for this device.
    assert!(
        server
            .receiver
            .storage
            .enrol(
                &device,
                &operator::secret_hash(&code),
                signer.device_key().spki_der(),
                now(),
                &|e| honnin_receiver::fleet::enrolment_entry(
                    e,
                    std::net::IpAddr::from([127, 0, 0, 1]),
                    None
                )
            )
            .expect("enrols")
    );
}

#[test]
fn the_pinned_key_enrols_and_syncs() {
    let server = start(None);
    let signer = device_signer();
    let trust = TlsTrust::Pinned(server.tls.pin);
    let enrolment = SyncClient::enrol_device(
        &config(&server, trust.clone()),
        &code(&server, "handheld-01"),
        &signer,
    )
    .expect("enrols over TLS");
    assert_eq!(enrolment.tls_pin, Some(server.tls.pin));
    assert_eq!(enrolment.receipt_key, server.receiver.receipt_key());
    let mut store = device_store(server.dir.path(), 5);
    let client =
        SyncClient::try_new(config(&server, trust), enrolment.receipt_key).expect("client");
    let report = client
        .sync(&mut store, &signer, &SystemClock, &mut SystemRandom)
        .expect("syncs");
    assert_eq!(report.synced, 5);
    assert_eq!(store.info().expect("info").pending_sync, 0);
    assert_eq!(server.receiver.storage.count_records().expect("count"), 5);
}

#[test]
fn idle_connections_beyond_the_limit_wait_and_the_next_client_is_served_when_one_closes() {
    let server = start_with(
        None,
        Limits {
            max_connections: 2,
            // The idle clients must hold their slots however slowly the test goes on; at the
            // default handshake timeout (10 s) a loaded machine could see them dropped first.
            handshake_timeout: Duration::from_secs(600),
            ..Limits::default()
        },
    );
    let address = server.base.trim_start_matches("https://").to_owned();
    // Two clients that connect and say nothing take both slots.
    let idle: Vec<std::net::TcpStream> = (0..2)
        .map(|_| std::net::TcpStream::connect(&address).expect("connects"))
        .collect();
    let trust = TlsTrust::Pinned(server.tls.pin);
    let mut patient = config(&server, trust.clone());
    patient.timeout = Duration::from_secs(2);
    patient.max_attempts = 1;
    let code = code(&server, "handheld-01");
    let waited = SyncClient::enrol_device(&patient, &code, &device_signer());
    assert!(
        matches!(waited, Err(SyncError::Unreachable { .. })),
        "a third client was served beside two idle ones: {waited:?}"
    );
    // One idle client leaves: its slot goes to the next client.
    drop(idle);
    let enrolment = SyncClient::enrol_device(&config(&server, trust), &code, &device_signer())
        .expect("served once a slot is free");
    assert_eq!(enrolment.receipt_key, server.receiver.receipt_key());
}

#[test]
fn a_wrong_pin_is_refused_naming_both_keys() {
    let server = start(None);
    let other = ServerTls::self_signed(&server.dir.path().join("other")).expect("tls");
    assert_refused(
        &server,
        TlsTrust::Pinned(other.pin),
        &TlsRefusal::PinMismatch {
            expected: other.pin,
            presented: server.tls.pin,
        },
    );
}

/// A CA and a server certificate it issued for `names`, written as PEM into `dir`.
fn issued(dir: &Path, names: &[&str]) -> (Vec<u8>, ServerTls) {
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "honnin test CA");
    let ca_cert = ca.self_signed(&ca_key).expect("CA");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("key");
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let cert = CertificateParams::new(names)
        .expect("params")
        .signed_by(&key, &issuer)
        .expect("issued");
    std::fs::create_dir_all(dir).expect("dir");
    std::fs::write(dir.join("cert.pem"), cert.pem()).expect("writes");
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).expect("writes");
    let tls = ServerTls::from_pem_files(&dir.join("cert.pem"), &dir.join("key.pem")).expect("tls");
    (ca_cert.der().to_vec(), tls)
}

#[test]
fn a_certificate_from_a_trusted_ca_works_and_from_an_unknown_ca_is_refused() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let (ca, tls) = issued(&scratch.path().join("a"), &["127.0.0.1", "localhost"]);
    let (other_ca, _) = issued(&scratch.path().join("b"), &["127.0.0.1"]);
    let server = start(Some(tls));
    assert_refused(
        &server,
        TlsTrust::PrivateCa(vec![other_ca]),
        &TlsRefusal::UnknownIssuer,
    );
    // The public roots do not know the test CA either.
    assert_refused(&server, TlsTrust::WebPki, &TlsRefusal::UnknownIssuer);
    // The issuing CA is accepted, for enrolment and sync.
    let trust = TlsTrust::PrivateCa(vec![ca]);
    let enrolment = SyncClient::enrol_device(
        &config(&server, trust.clone()),
        &code(&server, "handheld-01"),
        &device_signer(),
    )
    .expect("enrols through the CA");
    let mut store = device_store(server.dir.path(), 2);
    let client =
        SyncClient::try_new(config(&server, trust), enrolment.receipt_key).expect("client");
    let report = client
        .sync(
            &mut store,
            &device_signer(),
            &SystemClock,
            &mut SystemRandom,
        )
        .expect("syncs through the CA");
    assert_eq!(report.synced, 2);
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let (ca, tls) = issued(scratch.path(), &["receiver.example"]);
    let server = start(Some(tls));
    assert_refused(
        &server,
        TlsTrust::PrivateCa(vec![ca]),
        &TlsRefusal::WrongName,
    );
}

#[test]
fn a_self_signed_receiver_under_the_public_roots_is_refused() {
    let server = start(None);
    assert_refused(&server, TlsTrust::WebPki, &TlsRefusal::UnknownIssuer);
}

#[test]
fn plain_http_needs_permission_and_never_carries_a_pin() {
    let key = device_signer().device_key().clone();
    // Refused by default: plain HTTP is never the default, not even to loopback.
    let config = SyncConfig::new("http://127.0.0.1:9", "handheld-01");
    match SyncClient::try_new(config.clone(), key.clone()) {
        Err(SyncError::Config(ConfigError::PlainHttpNotAllowed)) => {}
        other => panic!("not refused: {other:?}"),
    }
    let pinned = config
        .clone()
        .with_trust(TlsTrust::Pinned(SpkiPin::from_bytes([1; 32])));
    match SyncClient::try_new(pinned, key.clone()) {
        Err(SyncError::Config(ConfigError::PinWithoutTls)) => {}
        other => panic!("not refused: {other:?}"),
    }
    let mut remote = SyncConfig::new("http://192.0.2.1:8750", "handheld-01");
    remote.allow_loopback_http = true;
    // `new` defers the error to the first call, before anything is sent.
    let client = SyncClient::new(remote, key);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = device_store(dir.path(), 1);
    match client.sync(
        &mut store,
        &device_signer(),
        &SystemClock,
        &mut SystemRandom,
    ) {
        Err(SyncError::Config(ConfigError::PlainHttpNotLoopback)) => {}
        other => panic!("not refused: {other:?}"),
    }
}
