//! HTTPS for the receiver: rustls (ring) through tokio-rustls, with hyper serving each
//! connection, and self-signed certificates for loopback and demos (rcgen).
//!
//! Devices trust the receiver either through a CA or by the pin of its key
//! ([`SpkiPin`], printed at start and by `honnin-receiver tls-pin`, and announced in the
//! enrolment answer). A self-signed identity is made once and then reused, so its pin stays
//! valid across restarts; renewing the certificate with the same key keeps devices working.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use honnin_core::sync::SpkiPin;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use zeroize::Zeroizing;

use crate::Receiver;
use crate::tls_reload::LiveIdentity;

/// A handshake that takes longer is dropped: a client that opens connections and never
/// finishes them must not hold the receiver's resources.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// File names of a self-signed identity in its directory.
pub const CERT_FILE: &str = "cert.pem";
pub const KEY_FILE: &str = "key.pem";

/// Why the receiver's TLS identity cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)")]
    NoCertificate { path: PathBuf },
    #[error("{path}: {why}")]
    BadPem { path: PathBuf, why: String },
    #[error("{path}: no usable private key (PKCS#8, PKCS#1 or SEC1 PEM) in it: {why}")]
    NoKey { path: PathBuf, why: String },
    #[error("the certificate's key cannot be pinned: {0}")]
    Pin(String),
    #[error("the certificate and key cannot be used together: {0}")]
    Rustls(String),
    #[error("making a self-signed certificate failed: {0}")]
    Generate(String),
}

/// The receiver's TLS server configuration, with the pin devices use for it.
#[derive(Clone)]
pub struct ServerTls {
    pub config: Arc<ServerConfig>,
    /// Pin of the end-entity certificate's key.
    pub pin: SpkiPin,
    /// The end-entity certificate (DER), e.g. for a client test that trusts it as a CA.
    pub certificate_der: Vec<u8>,
    /// The identity served now: `pin` and `certificate_der` are those at start.
    pub live: Arc<LiveIdentity>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerTls({})", self.pin)
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |error| TlsError::Io {
        path: path.to_owned(),
        error,
    }
}

impl ServerTls {
    /// From a PEM certificate chain (end entity first) and a PEM private key, served live:
    /// when the files change, new connections get the new identity
    /// ([`crate::tls_reload`]).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let live = Arc::new(LiveIdentity::load(cert, key, provider.clone())?);
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Rustls(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(live.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            config: Arc::new(config),
            pin: live.pin(),
            certificate_der: live.certificate_der(),
            live,
        })
    }

    /// The self-signed identity in `dir` (`cert.pem`, `key.pem`), made on first use for the
    /// loopback names `localhost`, `127.0.0.1` and `::1`; reused afterwards.
    pub fn self_signed(dir: &Path) -> Result<Self, TlsError> {
        let cert = dir.join(CERT_FILE);
        let key = dir.join(KEY_FILE);
        if !cert.exists() && !key.exists() {
            generate(dir, &cert, &key)?;
        }
        Self::from_pem_files(&cert, &key)
    }
}

fn generate(dir: &Path, cert: &Path, key: &Path) -> Result<(), TlsError> {
    let names = vec!["localhost".to_owned(), "127.0.0.1".into(), "::1".into()];
    let made =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    // The key first, readable by its owner only, and never over an existing file.
    let key_pem = Zeroizing::new(made.signing_key.serialize_pem());
    write_new(key, key_pem.as_bytes(), 0o600)?;
    write_new(cert, made.cert.pem().as_bytes(), 0o644)
}

fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(io_error(path))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io_error(path))
}

/// Serves `receiver` over TLS on `listener` until the future is dropped. Each connection's
/// handshake runs in its own task, so a slow client never holds up the others; at most
/// `limits.max_connections` are open at once.
pub async fn serve(
    listener: tokio::net::TcpListener,
    receiver: Arc<Receiver>,
    tls: &ServerTls,
) -> std::io::Result<()> {
    let limits = receiver.limits.clone();
    let app = crate::routes::router_with_live_tls(receiver, tls.live.clone());
    serve_app(listener, app, tls, &limits).await
}

/// Serves `app` over TLS as [`serve`] serves the receiver's routes (handshake timeout, at most
/// `max_connections` at once, the header limits of [`crate::http_conn`]). Apart from
/// [`serve`], for a router wrapped around the receiver's own: the tests put a man in the
/// middle who holds the TLS key this way, and see what the device makes of his answers.
pub async fn serve_app(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: &ServerTls,
    limits: &crate::Limits,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(tls.config.clone());
    let (handshake_timeout, header_timeout) = (limits.handshake_timeout, limits.header_timeout);
    crate::http_conn::accept_loop(listener, limits.max_connections, move |tcp, client| {
        let (acceptor, app) = (acceptor.clone(), app.clone());
        async move {
            let Ok(Ok(stream)) =
                tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await
            else {
                return;
            };
            // Header timeout and size limits: crate::http_conn.
            crate::http_conn::serve_connection(stream, client, app, header_timeout).await;
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_identity_is_made_once_and_reused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = ServerTls::self_signed(dir.path()).expect("made");
        let again = ServerTls::self_signed(dir.path()).expect("reused");
        assert_eq!(first.pin, again.pin);
        assert_eq!(first.certificate_der, again.certificate_der);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .expect("key file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the key is readable by others: {mode:o}");
        }
        let other = tempfile::tempdir().expect("temp dir");
        assert_ne!(
            ServerTls::self_signed(other.path()).expect("made").pin,
            first.pin
        );
    }

    #[test]
    fn a_half_present_identity_or_garbage_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(CERT_FILE), b"not pem").expect("writes");
        assert!(matches!(
            ServerTls::self_signed(dir.path()),
            Err(TlsError::Io { .. })
        ));
        std::fs::write(dir.path().join(KEY_FILE), b"not pem").expect("writes");
        assert!(matches!(
            ServerTls::self_signed(dir.path()),
            Err(TlsError::NoCertificate { .. })
        ));
    }
}
