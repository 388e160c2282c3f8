//! Regression tests for what the Schemathesis run (receiver/tests/api_fuzz) and its harness
//! found, against the real receiver over TLS on loopback:
//!
//! - Refusals axum made itself had no error body (an unknown path, a method a path does not
//!   take) or a plain-text one (a path segment that is not UTF-8, a chunked body over the
//!   limit), where the document promises `{"error": {"code", "message"}}`; now each is typed.
//! - The document's `ItemStatus` was an `allOf` with `ItemRegistration`, which forbids
//!   additional properties, so every item answer (it has `delivery`) broke its own schema.

#[macro_use]
mod common;
mod hostile_support;

use std::io::{Read, Write};

use common::Backend;
use hostile_support::{Server, start};

backend_tests!(refusals_the_router_makes_itself_are_typed);

fn answer(server: &Server, method: &str, path: &str) -> (u16, Option<String>, serde_json::Value) {
    let url = format!("{}{path}", server.base);
    let result = match method {
        "GET" => server.agent.get(&url).call(),
        "PATCH" => server.agent.patch(&url).send_empty(),
        _ => panic!("unsupported {method}"),
    };
    let mut response = result.expect("an answer");
    let status = response.status().as_u16();
    let allow = response
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        allow,
        serde_json::from_str(&text).unwrap_or_default(),
    )
}

fn refusals_the_router_makes_itself_are_typed(backend: &Backend) {
    let server = start(backend, |receiver| receiver.limits.max_body = 64 * 1024);
    let (status, _, body) = answer(&server, "GET", "/v1/nothing-here");
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &"no_such_endpoint".into()),
        "{body}"
    );
    let (status, allow, body) = answer(&server, "PATCH", "/v1/items");
    assert_eq!(
        (status, &body["error"]["code"]),
        (405, &"method_not_allowed".into()),
        "{body}"
    );
    assert_eq!(allow.as_deref(), Some("PUT"));
    // A percent-encoded byte that is no UTF-8 in a path parameter.
    let (status, _, body) = answer(&server, "GET", "/v1/items/%FF%FE");
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &"bad_request".into()),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );

    // A chunked body (no Content-Length to judge first) over the limit, over raw TLS.
    let status_and_body = chunked_over_limit(&server, 64 * 1024);
    assert!(
        status_and_body.starts_with("HTTP/1.1 413"),
        "{status_and_body}"
    );
    assert!(
        status_and_body.contains("\"body_too_large\""),
        "{status_and_body}"
    );
}

/// Sends a chunked PUT /v1/items of more than `limit` bytes; the answer as text.
fn chunked_over_limit(server: &Server, limit: usize) -> String {
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(
            server.certificate_der.clone(),
        ))
        .expect("root");
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let address = server.base.trim_start_matches("https://");
    let tcp = std::net::TcpStream::connect(address).expect("connects");
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let connection = rustls::ClientConnection::new(std::sync::Arc::new(config), name).expect("tls");
    let mut stream = rustls::StreamOwned::new(connection, tcp);
    let head = "PUT /v1/items HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer x\r\n\
                content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).expect("head");
    let chunk = vec![b' '; 16 * 1024];
    for _ in 0..(limit / chunk.len() + 2) {
        let sent = stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .and_then(|()| stream.write_all(&chunk))
            .and_then(|()| stream.write_all(b"\r\n"));
        if sent.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let _ = stream.flush();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn no_schema_an_all_of_extends_forbids_additional_properties() {
    let document: serde_json::Value =
        serde_json::from_str(honnin_receiver::OPENAPI).expect("the document is JSON");
    let schemas = document["components"]["schemas"]
        .as_object()
        .expect("schemas");
    for (name, schema) in schemas {
        for part in schema["allOf"].as_array().into_iter().flatten() {
            let target = part["$ref"]
                .as_str()
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .map_or(part, |r| &schemas[r]);
            assert_ne!(
                target["additionalProperties"],
                serde_json::Value::Bool(false),
                "{name} extends a schema that forbids the properties it adds"
            );
        }
    }
    // The item answer's own schema lists what the receiver sends.
    let status = &schemas["ItemStatus"];
    for field in ["item_id", "device_id", "delivery", "attributes"] {
        assert!(status["properties"].get(field).is_some(), "{field}");
    }
}
