//! `honnin sync` against a receiver whose operator rotates its receipt key and then revokes the
//! device: the CLI learns the new key through the rotation the old key signed (keeps it in
//! place of the old one, and its records sync under receipts by the new key), tells the
//! receiver its app version, and once the device is revoked says so plainly and fails. And a
//! device pinned to the receiver's TLS key follows a TLS key rotation the operator announced
//! (the pins signed by the receipt key), while one that never synced since is refused. A man
//! in the middle who holds the receiver's TLS key cannot add his own key by an announcement
//! signed with another key, nor bring back a withdrawn key by replaying an older genuine one:
//! the device keeps its pins, and his key stays refused.

mod support;
#[path = "../../receiver/tests/sync_support/mod.rs"]
mod sync_support;

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use honnin_core::record::SoftwareSigner;
use honnin_core::store::{StaticKeyProvider, Store};
use honnin_core::sync::pin_announcement::SignedPinAnnouncement;
use honnin_e2e::records::STORE_KEY;
use honnin_e2e::verifier_with_crl;
use honnin_receiver::tls::ServerTls;
use honnin_receiver::{Receiver, SqliteStorage, Storage, fleet, now, rotation};
use support::{BIN, TlsReceiver, enrol, enrol_pinned, serve_tls, store_of, write_device_keys};
use sync_support::{SENDER, assert_delivered_exactly_once, device_store};

#[test]
fn sync_follows_a_rotated_receipt_key_and_reports_a_revoked_device() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store_path = store_of(dir.path(), "device");
    drop(device_store(&store_path, 3));
    write_device_keys(&store_path);

    // Plain HTTP on loopback: this test is about the receipt key, not TLS.
    let storage: Arc<dyn Storage> =
        Arc::new(SqliteStorage::open(&dir.path().join("receiver.db")).expect("opens"));
    let receiver = Arc::new(Receiver::new(storage, verifier_with_crl()).expect("receiver"));
    let code = fleet::issue_enrolment_code(
        receiver.storage.as_ref(),
        "t",
        "handheld-01",
        &[SENDER],
        now(),
    )
    .expect("code");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    runtime.spawn(honnin_receiver::routes::serve(listener, receiver.clone()));

    let device = [
        "--receiver",
        &url,
        "--device",
        "handheld-01",
        "--insecure-loopback-http",
    ];
    let honnin = |command: &str| {
        let mut process = Command::new(BIN);
        process
            .arg(command)
            .args(device)
            .arg("--store")
            .arg(&store_path);
        process
    };
    enrol(&store_path, &device, &code);
    // The operator's audit log has the enrolment, with the app that made it.
    let logged = honnin_receiver::audit::all_entries(receiver.storage.as_ref()).expect("log");
    let enrolled = logged
        .iter()
        .find(|e| e.action == "enrol_device")
        .expect("the enrolment is logged");
    let detail: serde_json::Value = serde_json::from_str(&enrolled.detail).expect("JSON");
    let told = detail["app_version"].as_str().unwrap_or_default();
    assert!(told.starts_with("honnin-cli/"), "{detail}");
    let key_file = dir.path().join("device").join("records.db.receiver-key");
    assert_eq!(
        std::fs::read(&key_file).expect("kept"),
        receiver.receipt_key().spki_der()
    );

    // The operator rotates the receipt key before the device's next sync.
    rotation::rotate_receipt_key(receiver.storage.as_ref(), &receiver.secrets, "t", now())
        .expect("rotates");
    receiver
        .key
        .reload(receiver.storage.as_ref(), &receiver.secrets)
        .expect("reloads");
    let synced = honnin("sync").output().expect("sync runs");
    let stderr = String::from_utf8_lossy(&synced.stderr);
    assert!(synced.status.success(), "{synced:?}");
    assert!(stderr.contains("rotated its receipt key"), "{stderr}");
    assert_eq!(
        std::fs::read(&key_file).expect("kept"),
        receiver.receipt_key().spki_der(),
        "the new key is kept in place of the old one"
    );
    // Every record synced once, under a receipt by the new key.
    let store = Store::open(&store_path, &StaticKeyProvider::new(STORE_KEY)).expect("opens");
    assert_delivered_exactly_once(
        &store,
        receiver.storage.as_ref(),
        &receiver.receipt_key(),
        3,
    );
    drop(store);
    let listed = fleet::devices(receiver.storage.as_ref()).expect("lists");
    let version = listed[0].app_version.clone().unwrap_or_default();
    assert!(version.starts_with("honnin-cli/"), "{version}");

    // Revoked: the next sync fails and says why.
    fleet::revoke(
        receiver.storage.as_ref(),
        "t",
        "handheld-01",
        "stolen from van 4",
        now(),
        now(),
    )
    .expect("revokes");
    let refused = honnin("sync").output().expect("sync runs");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{refused:?}");
    assert!(
        stderr.contains("revoked by the receiver's operator")
            && stderr.contains("stolen from van 4"),
        "{stderr}"
    );
}

/// `honnin <command>` for `device` (its store in `dir/<device>/`) against `url`.
fn device_command(command: &str, url: &str, device: &str, dir: &Path) -> Command {
    let mut process = Command::new(BIN);
    process
        .args([command, "--receiver", url, "--device", device, "--store"])
        .arg(store_of(dir, device));
    process
}

#[test]
fn a_pinned_device_follows_an_announced_tls_key_rotation() {
    use honnin_receiver::tls::{CERT_FILE, KEY_FILE};
    let dir = tempfile::tempdir().expect("temp dir");
    // The receiver serves the TLS identity in `served`, which the operator replaces later.
    let install = |name: &str| {
        let made = dir.path().join(name);
        ServerTls::self_signed(&made).expect("made");
        for file in [CERT_FILE, KEY_FILE] {
            std::fs::copy(made.join(file), dir.path().join("served").join(file)).expect("copies");
        }
        made.join(CERT_FILE)
    };
    std::fs::create_dir(dir.path().join("served")).expect("dir");
    install("first");
    let served = dir.path().join("served");
    let tls =
        ServerTls::from_pem_files(&served.join(CERT_FILE), &served.join(KEY_FILE)).expect("loads");
    let TlsReceiver {
        url,
        tls,
        receiver,
        runtime: _runtime,
    } = TlsReceiver::start(dir.path(), tls);

    // Two devices pin the first key; only handheld-01 syncs after the announcement.
    let first_pin = tls.pin.to_string();
    for device in ["handheld-01", "handheld-02"] {
        let code =
            fleet::issue_enrolment_code(receiver.storage.as_ref(), "t", device, &[SENDER], now())
                .expect("code");
        enrol_pinned(
            &store_of(dir.path(), device),
            &url,
            device,
            &first_pin,
            &code,
        );
    }
    let sync = |device: &str| {
        device_command("sync", &url, device, dir.path())
            .arg("--json")
            .output()
            .expect("sync runs")
    };
    let before = sync("handheld-01");
    assert!(before.status.success(), "{before:?}");
    let report: serde_json::Value = serde_json::from_slice(&before.stdout).expect("json");
    assert_eq!(
        report["tls_pins"],
        serde_json::json!([first_pin]),
        "{report}"
    );

    // The operator announces the next key (its certificate made ahead), then handheld-01 syncs.
    let next_cert = dir.path().join("second").join(CERT_FILE);
    ServerTls::self_signed(&dir.path().join("second")).expect("made");
    let next_pin = honnin_receiver::tls_pins::pin_of_certificate_file(&next_cert).expect("pin");
    honnin_receiver::tls_pins::announce(receiver.storage.as_ref(), next_pin, "t", now())
        .expect("announces");
    let announced = sync("handheld-01");
    assert!(announced.status.success(), "{announced:?}");
    let report: serde_json::Value = serde_json::from_slice(&announced.stdout).expect("json");
    assert_eq!(
        report["tls_pins"],
        serde_json::json!([first_pin, next_pin.to_string()]),
        "{report}"
    );
    let kept = dir
        .path()
        .join("handheld-01")
        .join("records.db.receiver-pins");
    assert!(kept.exists());

    // The operator installs the next key: served without a restart.
    install("second");
    assert_eq!(
        honnin_receiver::tls_reload::reload_and_log(&tls.live, receiver.storage.as_ref())
            .expect("reloads"),
        Some(next_pin)
    );
    let after = sync("handheld-01");
    assert!(
        after.status.success(),
        "the announced key is trusted: {after:?}"
    );
    // The old key is no longer listed, so the device drops it.
    let report: serde_json::Value = serde_json::from_slice(&after.stdout).expect("json");
    assert_eq!(
        report["tls_pins"],
        serde_json::json!([next_pin.to_string()]),
        "{report}"
    );
    // handheld-02 never saw the announcement: refused with the pin error.
    let refused = sync("handheld-02");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{refused:?}");
    assert!(
        stderr.contains("not the one pinned at enrolment") && stderr.contains(&first_pin),
        "{stderr}"
    );
}

/// The receiver's own routes behind a man in the middle who holds a TLS key the device
/// trusts: he relays every request, records each genuine TLS pin announcement he relays
/// (`seen`), and in answers to `GET /v1/receipt-key` puts `forged` in its place when set.
#[derive(Clone, Default)]
struct Interceptor {
    forged: Arc<Mutex<Option<serde_json::Value>>>,
    seen: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Interceptor {
    /// The receiver's routes as served with `tls`, through this interceptor.
    fn app(&self, receiver: Arc<Receiver>, tls: &ServerTls) -> axum::Router {
        let me = self.clone();
        honnin_receiver::routes::router_with_live_tls(receiver, tls.live.clone()).layer(
            axum::middleware::from_fn(move |request: Request, next: Next| {
                me.clone().tamper(request, next)
            }),
        )
    }

    async fn tamper(self, request: Request, next: Next) -> Response {
        let receipt_key = request.uri().path() == "/v1/receipt-key";
        let response = next.run(request).await;
        if !receipt_key {
            return response;
        }
        let (mut parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .expect("the receiver's answer");
        let mut answer: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        if let Some(genuine) = answer.get("tls_pins") {
            self.seen.lock().expect("lock").push(genuine.clone());
        }
        if let Some(forged) = self.forged.lock().expect("lock").clone() {
            answer["tls_pins"] = forged;
        }
        parts.headers.remove(axum::http::header::CONTENT_LENGTH);
        Response::from_parts(parts, Body::from(answer.to_string()))
    }
}

#[test]
fn a_forged_or_replayed_pin_announcement_is_refused_and_the_kept_pins_stay() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The receiver's TLS key, the next one the operator announces (and later withdraws), and
    // the attacker's own. The man in the middle holds the receiver's key.
    let genuine = TlsReceiver::self_signed(dir.path());
    let next = ServerTls::self_signed(&dir.path().join("next")).expect("tls");
    let attackers = ServerTls::self_signed(&dir.path().join("attacker")).expect("tls");
    let interceptor = Interceptor::default();
    let through = |tls: &ServerTls| {
        serve_tls(
            &genuine.runtime,
            interceptor.app(genuine.receiver.clone(), tls),
            tls,
        )
    };
    let in_the_middle = through(&genuine.tls);

    let store = store_of(dir.path(), "handheld-01");
    drop(device_store(&store, 2));
    write_device_keys(&store);
    let code = fleet::issue_enrolment_code(genuine.storage(), "t", "handheld-01", &[SENDER], now())
        .expect("code");
    enrol_pinned(&store, &genuine.url, "handheld-01", &genuine.pin(), &code);
    let sync = |url: &str| {
        let out = Command::new(BIN)
            .args([
                "sync",
                "--receiver",
                url,
                "--device",
                "handheld-01",
                "--json",
            ])
            .arg("--store")
            .arg(&store)
            .output()
            .expect("sync runs");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        (out, report)
    };
    let pins_file = store.with_extension("db.receiver-pins");
    let kept_pins = || std::fs::read(&pins_file).expect("pins kept");

    // The operator announces the next key; the device syncs through the man in the middle,
    // who relays faithfully and records the genuine announcement.
    honnin_receiver::tls_pins::announce(genuine.storage(), next.pin, "t", now())
        .expect("announces");
    let (out, report) = sync(&in_the_middle);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(report["synced"], 2, "{report}");
    assert_eq!(
        report["tls_pins"],
        serde_json::json!([genuine.pin(), next.pin.to_string()])
    );
    let announced = kept_pins();
    let recorded = interceptor.seen.lock().expect("lock")[0].clone();

    // Forged: the attacker's key announced under a signature of his own key.
    let attacker = SoftwareSigner::from_secret_bytes(&[0x5a; 32]).expect("key");
    let forged = SignedPinAnnouncement::sign(
        &[genuine.tls.pin, attackers.pin],
        now(),
        &attacker,
        attacker.device_key(),
    )
    .expect("signs");
    *interceptor.forged.lock().expect("lock") = Some(serde_json::to_value(&forged).expect("JSON"));
    let (out, report) = sync(&in_the_middle);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{out:?}");
    assert!(
        stderr.contains("not signed by the receiver's receipt key")
            && stderr.contains("tell the receiver's operator")
            && stderr.contains(&next.pin.to_string())
            && !stderr.contains(&attackers.pin.to_string()),
        "{stderr}"
    );
    assert!(
        report["tls_pins_error"]
            .as_str()
            .is_some_and(|e| e.contains("not signed by the receiver's receipt key")),
        "{report}"
    );
    assert_eq!(kept_pins(), announced, "the kept pins are unchanged");
    // Then he serves his own key: the device does not trust it, and sends nothing.
    let (out, _) = sync(&through(&attackers));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        stderr.contains(&format!("TLS key ({})", attackers.pin))
            && stderr.contains("none of the 2 keys this device trusts"),
        "{stderr}"
    );
    assert_eq!(kept_pins(), announced);

    // The operator withdraws the next key (say it leaked); the device's next sync drops it.
    honnin_receiver::tls_pins::clear(genuine.storage(), "t", now()).expect("withdraws");
    let signed_at = recorded["announcement"]["issued_at"]
        .as_i64()
        .expect("issued_at");
    while now() <= signed_at {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (out, report) = sync(&genuine.url);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(report["tls_pins"], serde_json::json!([genuine.pin()]));
    let withdrawn = kept_pins();
    // A replay of the earlier announcement, genuinely signed and listing the withdrawn key,
    // is not taken: the sync goes on, the kept pins stay, and that key is still refused.
    *interceptor.forged.lock().expect("lock") = Some(recorded);
    let (out, report) = sync(&in_the_middle);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stderr.contains(&format!("signed at {signed_at}, before the one kept")),
        "{stderr}"
    );
    assert!(report["tls_pins"].is_null(), "{report}");
    assert_eq!(kept_pins(), withdrawn, "the replay changed the kept pins");
    let (out, _) = sync(&through(&next));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        stderr.contains(&format!("presented {}", next.pin)),
        "{stderr}"
    );
    assert_eq!(kept_pins(), withdrawn);
}
