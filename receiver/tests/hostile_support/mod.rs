//! What the hostile-input tests share (`hostile`, `feed_cursors`, `webhook_targets`,
//! `reverify`, …): a real receiver serving TLS on loopback over a test database of either
//! backend, a client that trusts its certificate, and records stored straight into its storage.

#![allow(dead_code)] // Each test binary uses its own part.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use honnin_core::record::SoftwareSigner;
use honnin_e2e::verifier_with_crl;
use honnin_receiver::storage::{BatchCommit, BatchWrite, ChainHead, NewRecord, next_head};
use honnin_receiver::tls::ServerTls;
use honnin_receiver::{Receiver, Storage, now, operator};

use crate::common::{Backend, TestDatabase};

// Dropped in this order: the server stops before its database goes.
pub struct Server {
    pub base: String,
    pub receiver: Arc<Receiver>,
    pub agent: ureq::Agent,
    /// The self-signed certificate it serves (for clients other than `agent`).
    pub certificate_der: Vec<u8>,
    pub runtime: tokio::runtime::Runtime,
    _database: TestDatabase,
    _dir: tempfile::TempDir,
}

/// A receiver serving TLS (a self-signed identity) on loopback, set up by `configure`.
pub fn start(backend: &Backend, configure: impl FnOnce(&mut Receiver)) -> Server {
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
        certificate_der: tls.certificate_der.clone(),
        runtime,
        _database: database,
        _dir: dir,
    }
}

impl Server {
    /// The database's address as `honnin-receiver` takes it: a SQLite path (`--db`) or a
    /// PostgreSQL URL (`--database`), and which of the two.
    pub fn database_flag(&self) -> (&'static str, &str) {
        let address = self._database.address.as_str();
        if address.starts_with("postgres") {
            ("--database", address)
        } else {
            ("--db", address)
        }
    }

    /// Another receiver instance on this server's database, as a second `serve` would be, with
    /// `serve`'s own trust `verifier`, serving TLS on loopback with the same certificate (so
    /// `agent` reaches it too): its base URL and receiver.
    pub fn another_instance(
        &self,
        verifier: honnin_core::check::Verifier,
    ) -> (String, Arc<Receiver>) {
        let tls = ServerTls::self_signed(&self._dir.path().join("tls")).expect("tls");
        let receiver = Arc::new(Receiver::new(self._database.open(), verifier).expect("receiver"));
        let listener = self
            .runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("binds");
        let base = format!("https://{}", listener.local_addr().expect("address"));
        let shared = receiver.clone();
        self.runtime
            .spawn(async move { honnin_receiver::tls::serve(listener, shared, &tls).await });
        (base, receiver)
    }
}

/// Enrols `device_id` with `signer`'s key over the API.
pub fn enrol(server: &Server, device_id: &str, signer: &SoftwareSigner) {
    let code =
        operator::issue_enrolment_code(server.receiver.storage.as_ref(), device_id, &[], now())
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
pub fn call(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let url = format!("{}{path}", server.base);
    let result = match method {
        "GET" | "DELETE" => {
            let mut request = if method == "GET" {
                server.agent.get(&url)
            } else {
                server.agent.delete(&url)
            };
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

/// A stored record of `sender_id` at chain position `seq` (content the feed passes through).
pub fn record(sender_id: &str, seq: u64) -> NewRecord {
    NewRecord {
        record_id: format!("record-{seq}"),
        record_hash: [u8::try_from(seq).expect("small"); 32],
        device_id: "handheld-01".into(),
        seq,
        sender_id: sender_id.into(),
        item_id: format!("item-{seq}"),
        envelope: format!("{{\"record_id\":\"record-{seq}\"}}"),
        verification: "{}".into(),
        receipt: "{}".into(),
        received_at: now(),
        delivered_at: None,
    }
}

/// Stores `records` on top of `head` as one batch; the new head.
pub fn store(
    storage: &dyn Storage,
    head: Option<ChainHead>,
    records: &[NewRecord],
) -> Option<ChainHead> {
    let batch = BatchWrite {
        device_id: "handheld-01",
        expected_head: head,
        records,
    };
    assert_eq!(
        storage.insert_batch(&batch).expect("stores"),
        BatchCommit::Stored
    );
    records
        .iter()
        .fold(head, |head, r| next_head(head, r.seq, r.record_hash))
}
