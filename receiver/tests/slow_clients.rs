//! Slow and oversized clients against the real receiver on loopback, over TLS (as deployed) and
//! over plain HTTP (loopback, or behind a TLS proxy): the limits of `honnin_receiver::http_conn`.
//!
//! - A slowloris flood (many connections each dribbling its header a byte at a time, and
//!   connections that never start TLS) does not stop a device from being served meanwhile;
//!   every dribbler is cut off at the header timeout although it never went quiet, and every
//!   silent connection at the handshake timeout.
//! - A client that stops half-way through its header is cut off at the header timeout; on plain
//!   HTTP too (axum::serve, used there before, had no header timeout at all).
//! - A header block over the limit, one huge header, or too many headers get 431 (with the typed
//!   error body, as a header field that is not HTTP gets 400) and nothing is
//!   served for them; the receiver serves the next client.
//!
//! The receivers here run with shorter timeouts than the deployed 30-second header and 10-second
//! handshake timeouts (`Limits`), so that each test waits seconds, not half a minute; the
//! limits are the same code whatever their length.

#[macro_use]
mod common;
mod hostile_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use honnin_receiver::http_conn::{MAX_HEADER_BYTES, MAX_HEADERS};
use honnin_receiver::{Receiver, routes};
use tokio_rustls::rustls;

use common::Backend;
use hostile_support::{Server, start};

/// The header timeout of the receivers under test.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Their TLS handshake timeout.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

/// Shortened timeouts for a receiver under test.
fn short_timeouts(receiver: &mut Receiver) {
    receiver.limits.header_timeout = HEADER_TIMEOUT;
    receiver.limits.handshake_timeout = HANDSHAKE_TIMEOUT;
}

/// How long past the header timeout a connection may stay open before the test calls it not
/// cut off (scheduling slack on a loaded machine; no speed is measured here).
const GRACE: Duration = Duration::from_secs(20);

/// A byte stream to the receiver: TLS or plain TCP.
trait Wire: Read + Write + Send {}
impl<T: Read + Write + Send> Wire for T {}

fn tls_config(server: &Server) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(
            server.certificate_der.clone(),
        ))
        .expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn address(server: &Server) -> String {
    server.base.trim_start_matches("https://").to_owned()
}

/// A TLS connection to `server`, handshake done.
fn connect_tls(server: &Server, config: &Arc<rustls::ClientConfig>) -> Box<dyn Wire> {
    let tcp = TcpStream::connect(address(server)).expect("connects");
    tcp.set_read_timeout(Some(HEADER_TIMEOUT + GRACE))
        .expect("timeout");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let connection = rustls::ClientConnection::new(config.clone(), name).expect("client");
    let mut stream = rustls::StreamOwned::new(connection, tcp);
    stream.flush().expect("handshake");
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .expect("handshake");
    }
    Box::new(stream)
}

/// Reads until the receiver closes the connection (or the read timeout); what it sent, and
/// whether it closed the connection.
fn read_until_closed(wire: &mut dyn Wire) -> (Vec<u8>, bool) {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match wire.read(&mut buffer) {
            Ok(0) => return (answer, true),
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (answer, false);
            }
            // A reset, or TLS ended without close_notify: closed by the receiver.
            Err(_) => return (answer, true),
        }
    }
}

fn status_of(answer: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(answer);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// A whole request for /v1/health on `wire`, with `extra` header lines; the answer's status.
fn health(wire: &mut dyn Wire, extra: &str) -> Option<u16> {
    health_answer(wire, extra).0
}

/// [`health`]'s status and the answer's JSON body (`Null` when it has none).
fn health_answer(wire: &mut dyn Wire, extra: &str) -> (Option<u16>, serde_json::Value) {
    let request =
        format!("GET /v1/health HTTP/1.1\r\nhost: localhost\r\n{extra}connection: close\r\n\r\n");
    // The receiver may answer and close before it read everything of an oversized header.
    if wire.write_all(request.as_bytes()).is_err() {
        return (None, serde_json::Value::Null);
    }
    let _ = wire.flush();
    let (answer, _) = read_until_closed(wire);
    let text = String::from_utf8_lossy(&answer);
    let body = text
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or_default();
    (status_of(&answer), body)
}

backend_tests!(
    a_slowloris_flood_is_cut_off_at_the_header_timeout_and_devices_are_served_meanwhile,
    oversized_header_blocks_get_431_and_the_next_client_is_served,
);

fn a_slowloris_flood_is_cut_off_at_the_header_timeout_and_devices_are_served_meanwhile(
    backend: &Backend,
) {
    let server = start(backend, short_timeouts);
    let config = tls_config(&server);
    // Connections that never start TLS: dropped at the handshake timeout.
    let silent: Vec<TcpStream> = (0..8)
        .map(|_| {
            let tcp = TcpStream::connect(address(&server)).expect("connects");
            tcp.set_read_timeout(Some(GRACE)).expect("timeout");
            tcp
        })
        .collect();
    let dribblers: Vec<_> = (0..16)
        .map(|_| {
            // Timed from before the connection: the receiver's header timer starts after it,
            // so a thread that starts late cannot make the cut look early.
            let started = Instant::now();
            let mut wire = connect_tls(&server, &config);
            std::thread::spawn(move || {
                let head = b"GET /v1/health HTTP/1.1\r\nhost: localhost\r\nx-slow: ";
                if wire.write_all(head).and_then(|()| wire.flush()).is_err() {
                    return (started.elapsed(), true);
                }
                // One more byte every half second, for longer than the timeout and its grace.
                while started.elapsed() < HEADER_TIMEOUT + GRACE {
                    std::thread::sleep(Duration::from_millis(500));
                    if wire.write_all(b"a").and_then(|()| wire.flush()).is_err() {
                        return (started.elapsed(), true);
                    }
                }
                (started.elapsed(), false)
            })
        })
        .collect();
    // Meanwhile (within the header timeout), whole requests are served, one after another.
    for _ in 0..5 {
        let mut wire = connect_tls(&server, &config);
        assert_eq!(health(wire.as_mut(), ""), Some(200));
        std::thread::sleep(Duration::from_millis(500));
    }
    for dribbler in dribblers {
        let (after, cut) = dribbler.join().expect("the dribbler thread");
        assert!(
            cut,
            "a client dribbling its header was still connected after {after:?}"
        );
        assert!(
            after >= HEADER_TIMEOUT - Duration::from_secs(1),
            "cut off after {after:?}, before the header timeout"
        );
    }
    // By now (past the header timeout) every silent connection was closed by the receiver.
    for tcp in silent {
        let mut wire: Box<dyn Wire> = Box::new(tcp);
        let (_, closed) = read_until_closed(wire.as_mut());
        assert!(closed, "a connection that never started TLS is still open");
    }
    let mut wire = connect_tls(&server, &config);
    assert_eq!(health(wire.as_mut(), ""), Some(200));
}

fn oversized_header_blocks_get_431_and_the_next_client_is_served(backend: &Backend) {
    let server = start(backend, |_| {});
    let config = tls_config(&server);
    let one_huge = format!("x-big: {}\r\n", "a".repeat(MAX_HEADER_BYTES + 1));
    let many: String = (0..=MAX_HEADERS)
        .map(|i| format!("x-h{i}: {i}\r\n"))
        .collect();
    let block_over: String = (0..MAX_HEADERS / 2)
        .map(|i| {
            format!(
                "x-h{i}: {}\r\n",
                "b".repeat(MAX_HEADER_BYTES / (MAX_HEADERS / 2))
            )
        })
        .collect();
    // Far over any buffer: the receiver refuses before it has read it all.
    let megabyte = format!("x-huge: {}\r\n", "c".repeat(1024 * 1024));
    for (what, extra) in [
        ("one header over the limit", &one_huge),
        ("more headers than allowed", &many),
        ("a block over the limit", &block_over),
        ("a megabyte of header", &megabyte),
    ] {
        let mut wire = connect_tls(&server, &config);
        let (status, body) = health_answer(wire.as_mut(), extra);
        assert!(
            status == Some(431) || status.is_none(),
            "{what}: answered {status:?} instead of 431"
        );
        if what != "a megabyte of header" {
            assert_eq!(status, Some(431), "{what}");
        }
        // With the typed error body every other refusal has.
        if status.is_some() {
            assert_eq!(body["error"]["code"], "header_too_large", "{what}: {body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("32768 bytes or 64 fields")),
                "{what}: {body}"
            );
        }
    }
    // A header field that is not HTTP: 400, typed too.
    let mut wire = connect_tls(&server, &config);
    let (status, body) = health_answer(wire.as_mut(), "no colon here\r\n");
    assert_eq!(status, Some(400));
    assert_eq!(body["error"]["code"], "malformed_request", "{body}");
    // Just under the limits: served.
    let fitting: String = (0..MAX_HEADERS - 8)
        .map(|i| format!("x-h{i}: {i}\r\n"))
        .collect();
    let mut wire = connect_tls(&server, &config);
    assert_eq!(health(wire.as_mut(), &fitting), Some(200));
}

/// Over plain HTTP, as `honnin-receiver serve --insecure-http` serves: a client that stops
/// half-way through its header is cut off at the header timeout.
#[test]
fn plain_http_cuts_off_a_client_that_stops_mid_header() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = common::Backend::Sqlite.database(dir.path()).open();
    let mut receiver = Receiver::new(storage, honnin_e2e::verifier_with_crl()).expect("receiver");
    short_timeouts(&mut receiver);
    let receiver = Arc::new(receiver);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binds");
    let address = listener.local_addr().expect("address");
    runtime.spawn(routes::serve(listener, receiver));
    // Timed from before the connection, which starts the receiver's header timer: a pause
    // here (a loaded machine) cannot make the cut look early.
    let started = Instant::now();
    let stalled = TcpStream::connect(address).expect("connects");
    stalled
        .set_read_timeout(Some(HEADER_TIMEOUT + GRACE))
        .expect("timeout");
    let mut stalled: Box<dyn Wire> = Box::new(stalled);
    stalled
        .write_all(b"GET /v1/health HTTP/1.1\r\nhost: localhost\r\n")
        .expect("half a header");
    // Meanwhile another client is served.
    let mut other: Box<dyn Wire> = Box::new(TcpStream::connect(address).expect("connects"));
    assert_eq!(health(other.as_mut(), ""), Some(200));
    let (_, closed) = read_until_closed(stalled.as_mut());
    assert!(
        closed,
        "a client with half a header was still connected after {:?}",
        started.elapsed()
    );
    assert!(started.elapsed() >= HEADER_TIMEOUT - Duration::from_secs(1));
}
