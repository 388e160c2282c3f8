//! A hostile device or sender against the real receiver over TLS on loopback, against SQLite
//! and PostgreSQL (see `common`): each test builds a request to exploit exactly one hole and
//! checks it is refused with a typed error, or that it learns nothing.
//!
//! - A signed request with a timestamp at the edge of `i64` gets 401, not a panic.
//! - With a clock skew above half an hour a request's nonce is still held when a replay of it
//!   would pass the timestamp check.

#[macro_use]
mod common;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use honnin_core::record::SoftwareSigner;
use honnin_core::sync::protocol::{MANIFEST_REQUEST, sign_batch};
use honnin_core::verify::{RandomSource, SystemRandom};
use honnin_e2e::records::device_signer;
use honnin_e2e::verifier_with_crl;
use honnin_receiver::tls::ServerTls;
use honnin_receiver::{Receiver, auth, now, operator};

use common::{Backend, TestDatabase};

backend_tests!(
    a_signed_timestamp_at_the_edge_of_i64_is_refused_not_a_panic,
    a_nonce_is_held_as_long_as_a_replay_would_pass_the_clock_check,
);

// Dropped in this order: the server stops before its database goes.
struct Server {
    base: String,
    receiver: Arc<Receiver>,
    agent: ureq::Agent,
    runtime: tokio::runtime::Runtime,
    _database: TestDatabase,
    _dir: tempfile::TempDir,
}

/// A receiver serving TLS (a self-signed identity) on loopback, set up by `configure`.
fn start(backend: &Backend, configure: impl FnOnce(&mut Receiver)) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = backend.database(dir.path());
    let tls = ServerTls::self_signed(&dir.path().join("tls")).expect("tls");
    let mut receiver = Receiver::new(database.open(), verifier_with_crl()).expect("receiver");
    configure(&mut receiver);
    let receiver = Arc::new(receiver);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binds");
    let base = format!("https://{}", listener.local_addr().expect("address"));
    let shared = receiver.clone();
    let served = tls.clone();
    runtime.spawn(async move { honnin_receiver::tls::serve(listener, shared, &served).await });
    let root = ureq::tls::Certificate::from_der(&tls.certificate_der).to_owned();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![root])))
                .build(),
        )
        .build()
        .new_agent();
    Server {
        base,
        receiver,
        agent,
        runtime,
        _database: database,
        _dir: dir,
    }
}

/// Enrols `device_id` with `signer`'s key over the API.
fn enrol(server: &Server, device_id: &str, signer: &SoftwareSigner) {
    let code = operator::issue_enrolment_code(server.receiver.storage.as_ref(), device_id, now())
        .expect("code");
    let body = serde_json::json!({
        "device_id": device_id,
        "public_key": BASE64.encode(signer.device_key().spki_der()),
        "code": code,
    });
    let (status, answer) = call(server, "POST", "/v1/enrol", &[], Some(body));
    assert_eq!(status, 201, "{answer}");
}

/// `(status, JSON body)` of a request to the receiver.
fn call(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let url = format!("{}{path}", server.base);
    let result = match method {
        "GET" => {
            let mut request = server.agent.get(&url);
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            request.call()
        }
        "POST" | "PUT" => {
            let mut request = if method == "POST" {
                server.agent.post(&url)
            } else {
                server.agent.put(&url)
            };
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            let body = body.unwrap_or(serde_json::Value::Null).to_string();
            request
                .content_type("application/json")
                .send(body.as_bytes())
        }
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
    let _ = &server.runtime;
}
