//! What the receiver's tests share: the storage backends they run against, each test with a
//! fresh database of its own so tests run in parallel, and a receiver served on loopback over
//! one, with the API calls most tests make.
//!
//! Every test runs against SQLite (a file in the test's temp dir), and against PostgreSQL when
//! `HONNIN_TEST_POSTGRES` holds a connection URL (`scripts/start-postgres` prints one): there
//! each test gets its own schema, dropped at the end. Under CI (`CI` set) the URL is required,
//! so a CI run cannot pass without the PostgreSQL half.

#![allow(dead_code)] // Each test binary uses its own part.

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use honnin_core::record::{DeviceKey, SignedRecord, SoftwareSigner};
use honnin_core::sync::protocol::sign_batch;
use honnin_core::verify::{Clock, SystemClock, SystemRandom};
use honnin_e2e::records::device_signer;
use honnin_e2e::verifier_with_crl;
use honnin_receiver::{PostgresStorage, Receiver, SqliteStorage, Storage};
use r2d2_postgres::postgres;

/// Where a test's receiver keeps its data.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

/// Declares each named test `fn name(backend: &Backend)` once per backend: `sqlite::name` and
/// `postgres::name`. Use after `#[macro_use] mod common;`.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(&crate::common::Backend::Sqlite) })*
        }
        mod postgres {
            $(#[test] fn $name() {
                if let Some(backend) = crate::common::Backend::postgres() {
                    super::$name(&backend)
                }
            })*
        }
    };
}

impl Backend {
    /// PostgreSQL at `HONNIN_TEST_POSTGRES`; `None` (the test is skipped, and says so) when it
    /// is not set outside CI.
    pub fn postgres() -> Option<Self> {
        match std::env::var("HONNIN_TEST_POSTGRES") {
            Ok(url) if !url.is_empty() => Some(Self::Postgres(url)),
            _ if std::env::var_os("CI").is_some() => panic!(
                "HONNIN_TEST_POSTGRES is not set: CI runs every receiver test against PostgreSQL too \
                 (scripts/test sets it from scripts/start-postgres)"
            ),
            _ => {
                eprintln!("skipped: set HONNIN_TEST_POSTGRES to a PostgreSQL URL to run this test");
                None
            }
        }
    }

    /// A fresh, empty database for one test (one receiver instance on it).
    pub fn database(&self, dir: &Path) -> TestDatabase {
        match self {
            Self::Sqlite => TestDatabase {
                address: dir.join("receiver.db").display().to_string(),
                schema: None,
            },
            Self::Postgres(url) => {
                let schema = format!("honnin_test_{}", random_hex(8));
                admin(url)
                    .batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .expect("creates the test's schema");
                let separator = if url.contains('?') { '&' } else { '?' };
                TestDatabase {
                    address: format!("{url}{separator}options=-c%20search_path%3D{schema}"),
                    schema: Some((url.clone(), schema)),
                }
            }
        }
    }
}

fn admin(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).expect("connects to HONNIN_TEST_POSTGRES")
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).expect("random bytes");
    hex::encode(buffer)
}

/// A test's own database; a PostgreSQL schema is dropped with it.
pub struct TestDatabase {
    /// A SQLite path or a PostgreSQL URL whose search path is the test's schema.
    pub address: String,
    schema: Option<(String, String)>,
}

impl TestDatabase {
    /// A storage on this database; each call is one more receiver instance sharing it.
    pub fn open(&self) -> Arc<dyn Storage> {
        match &self.schema {
            None => Arc::new(SqliteStorage::open(Path::new(&self.address)).expect("opens SQLite")),
            Some(_) => Arc::new(PostgresStorage::connect(&self.address).expect("opens PostgreSQL")),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((url, schema)) = &self.schema
            && let Ok(mut client) = postgres::Client::connect(url, postgres::NoTls)
        {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

// Dropped in this order: the server stops before its database goes.
/// A receiver in the test process serving plain HTTP on loopback, over a fresh database.
pub struct Server {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub receiver: Arc<Receiver>,
    pub runtime: tokio::runtime::Runtime,
    pub database: TestDatabase,
    /// The test's own directory (the database file for SQLite, device stores, key files).
    pub dir: tempfile::TempDir,
}

/// [`start_with`] a receiver with the test PKI's anchors and CRLs and default settings.
pub fn start(backend: &Backend) -> Server {
    start_with(backend, |_, storage| {
        Receiver::new(storage, verifier_with_crl()).expect("receiver")
    })
}

/// A receiver `make` sets up (given the test's directory and its storage), served on loopback.
pub fn start_with(
    backend: &Backend,
    make: impl FnOnce(&Path, Arc<dyn Storage>) -> Receiver,
) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = backend.database(dir.path());
    let receiver = Arc::new(make(dir.path(), database.open()));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binds");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    runtime.spawn(honnin_receiver::routes::serve(listener, receiver.clone()));
    Server {
        base,
        receiver,
        runtime,
        database,
        dir,
    }
}

/// `POST /v1/enrol` of `device_id` with `signer`'s key and the one-time `code`: `(status,
/// JSON body)`.
pub fn post_enrol(
    server: &Server,
    device_id: &str,
    signer: &SoftwareSigner,
    code: &str,
) -> (u16, serde_json::Value) {
    let body = serde_json::json!({
        "device_id": device_id,
        "public_key": BASE64.encode(signer.device_key().spki_der()),
        "code": code,
    });
    post(
        &format!("{}/v1/enrol", server.base),
        &[],
        body.to_string().as_bytes(),
    )
}

/// The receipt key an enrolment answer (or `GET /v1/receipt-key`) names.
pub fn receipt_key_of(answer: &serde_json::Value) -> DeviceKey {
    let der = BASE64
        .decode(answer["receipt_key"].as_str().expect("key"))
        .expect("base64");
    DeviceKey::from_spki_der(&der).expect("receipt key")
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// `(status, JSON body)`.
pub fn post(url: &str, headers: &[(&str, String)], body: &[u8]) -> (u16, serde_json::Value) {
    let mut request = agent().post(url).content_type("application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let mut response = request.send(body).expect("answer");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// `(status, JSON body)` of a POST that announces `length` bytes of body and sends none of
/// them: a server that waits for the body times the test out after 30 s, one that judges
/// the declared length answers at once. Plain HTTP only.
pub fn post_announcing(
    url: &str,
    headers: &[(&str, String)],
    length: usize,
) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("a plain HTTP URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = std::net::TcpStream::connect(authority).expect("connects");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("sets a timeout");
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nhost: {authority}\r\ncontent-type: application/json\r\n\
         content-length: {length}\r\nconnection: close\r\n"
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("sends the head");
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .expect("an answer before the body");
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

pub fn get(url: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let mut request = agent().get(url);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let mut response = request.call().expect("answer");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// A signed batch request for `records`, as the client makes it.
pub fn signed_batch(records: &[SignedRecord]) -> (Vec<(&'static str, String)>, Vec<u8>) {
    let entries: Vec<serde_json::Value> = records.iter().map(|r| r.to_json_value()).collect();
    let body = serde_json::json!({ "records": entries })
        .to_string()
        .into_bytes();
    (signed_headers(&body), body)
}

/// The headers of `handheld-01`'s request with `body`, signed as the client signs them (also for
/// a body that holds records no honnin would make).
pub fn signed_headers(body: &[u8]) -> Vec<(&'static str, String)> {
    device_headers("handheld-01", &device_signer(), body)
}

/// The headers of a request by `device_id` signed with `signer` over `signed` (the body, or
/// what a GET signs in its place), as the sync client makes them.
pub fn device_headers(
    device_id: &str,
    signer: &SoftwareSigner,
    signed: &[u8],
) -> Vec<(&'static str, String)> {
    let mut nonce = [0u8; 16];
    honnin_core::verify::RandomSource::fill(&mut SystemRandom, &mut nonce);
    let nonce = hex::encode(nonce);
    let timestamp = SystemClock.now().0;
    let signature = sign_batch(
        signer,
        signer.device_key(),
        device_id,
        timestamp,
        &nonce,
        signed,
    )
    .expect("signs");
    vec![
        ("x-honnin-device", device_id.to_owned()),
        ("x-honnin-timestamp", timestamp.to_string()),
        ("x-honnin-nonce", nonce),
        ("x-honnin-signature", signature),
    ]
}
