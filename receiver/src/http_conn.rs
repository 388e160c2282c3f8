//! How the receiver serves each HTTP/1 connection, over TLS ([`crate::tls::serve`]) and plain
//! HTTP ([`serve_plain`]) alike: the limits that keep a slow or hostile client from holding the
//! receiver's connections and memory.
//!
//! - A request's header must arrive whole within [`HEADER_TIMEOUT`], counted from its first
//!   byte: a slowloris client dribbling a byte at a time is cut off then, however steadily it
//!   sends.
//! - A header block over [`MAX_HEADER_BYTES`], or with more than [`MAX_HEADERS`] fields, is
//!   answered 431 and the connection closed (hyper answers before any handler runs; the typed
//!   error body is put in by [`crate::parse_refusals`]); what a connection buffers is bounded
//!   by [`MAX_READ_BUFFER`]. A
//!   device's or sender's request needs a few hundred bytes of header.
//! - At most `Limits::max_connections` connections are served at once; further clients wait in
//!   the listen backlog until one closes.
//!
//! Plain HTTP used to be served by `axum::serve`, which sets no timer and so no header timeout
//! at all (behind a TLS proxy on the same machine, a slow client held its connection forever).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use crate::Receiver;

/// Time allowed for a request's whole header once its first byte arrived, unless
/// `Limits::header_timeout` says otherwise (the tests shorten it to wait less).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest header block (request line and fields) the receiver reads.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Most header fields in one request.
pub const MAX_HEADERS: usize = 64;
/// Most bytes a connection buffers while reading (hyper's default is ~400 KB per connection).
pub const MAX_READ_BUFFER: usize = 64 * 1024;

/// The HTTP/1 settings every connection is served with.
pub fn http1_builder(header_timeout: Duration) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_header_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS)
        .max_buf_size(MAX_READ_BUFFER);
    builder
}

/// Serves `app` on one accepted connection `io` from `client`, as [`http1_builder`] says.
pub async fn serve_connection<I>(
    io: I,
    client: SocketAddr,
    app: axum::Router,
    header_timeout: Duration,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        // What axum's `into_make_service_with_connect_info` would insert.
        request
            .extensions_mut()
            .insert(ConnectInfo::<SocketAddr>(client));
        app.clone().oneshot(request)
    });
    // A client that breaks the limits or goes away ends its own connection, nothing else.
    let _ = http1_builder(header_timeout)
        .serve_connection(
            TokioIo::new(crate::parse_refusals::TypedParseRefusals::new(io)),
            service,
        )
        .await;
}

/// Serves `receiver` over plain HTTP on `listener` until the future is dropped (loopback only;
/// `main` refuses anything else), with the limits of this module.
pub async fn serve_plain(
    listener: tokio::net::TcpListener,
    receiver: Arc<Receiver>,
) -> std::io::Result<()> {
    let (max_connections, header_timeout) = (
        receiver.limits.max_connections,
        receiver.limits.header_timeout,
    );
    let app = crate::routes::router(receiver);
    accept_loop(listener, max_connections, move |tcp, client| {
        serve_connection(tcp, client, app.clone(), header_timeout)
    })
    .await
}

/// Accepts clients on `listener` until the future is dropped and has `serve` serve each in a
/// task of its own, at most `max_connections` at once: further clients wait in the listen
/// backlog, so a flood of idle connections cannot take every descriptor of the process. The
/// loop of TLS ([`crate::tls::serve_app`]) and plain HTTP ([`serve_plain`]) alike.
pub async fn accept_loop<F, Served>(
    listener: tokio::net::TcpListener,
    max_connections: usize,
    serve: F,
) -> std::io::Result<()>
where
    F: Fn(tokio::net::TcpStream, SocketAddr) -> Served,
    Served: std::future::Future<Output = ()> + Send + 'static,
{
    let connections = Arc::new(Semaphore::new(max_connections.max(1)));
    loop {
        // A slot first, then the next client: at the limit, new clients wait in the backlog.
        let Ok(slot) = connections.clone().acquire_owned().await else {
            return Ok(());
        };
        let (tcp, client) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of descriptors and the like: wait rather than spin (as axum::serve does).
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let served = serve(tcp, client);
        tokio::spawn(async move {
            let _slot = slot;
            served.await;
        });
    }
}
