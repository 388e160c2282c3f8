//! The TLS key rotated without downtime: the server's certificate and key are read again from
//! their files when these change ([`LiveIdentity::reload_if_changed`], run every
//! [`RELOAD_SECONDS`] by `serve`), and new connections get the new identity while those open
//! finish on the old one. A file pair that does not load (a half-written key, a key that is not
//! the certificate's) is reported and the identity served stays.
//!
//! Devices trusting the receiver through a CA need nothing. A device that pins the TLS key
//! needs the new pin: the enrolment answer announces the identity served now, and `honnin
//! enrol --receiver-pin` takes the new pin; renewing a certificate with the same key (what
//! `--tls-self-signed` and most ACME clients can do) keeps every pin valid.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use honnin_core::sync::SpkiPin;
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use zeroize::Zeroizing;

use crate::tls::TlsError;

/// How often a serving receiver looks at its certificate and key files.
pub const RELOAD_SECONDS: u64 = 10;

/// What identifies a file's version: the SHA-256 of its content (a time stamp can stay the
/// same across a quick replacement, and a new key of the same type has the same length).
type Stamp = Option<[u8; 32]>;

fn stamp(path: &Path) -> Stamp {
    use sha2::Digest as _;
    let bytes = Zeroizing::new(std::fs::read(path).ok()?);
    Some(sha2::Sha256::digest(bytes.as_slice()).into())
}

/// The identity served now, read from a certificate file and a key file.
pub struct LiveIdentity {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Served>,
}

struct Served {
    key: Arc<CertifiedKey>,
    pin: SpkiPin,
    certificate_der: Vec<u8>,
    stamps: (Stamp, Stamp),
}

impl std::fmt::Debug for LiveIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LiveIdentity({})", self.pin())
    }
}

impl LiveIdentity {
    /// The identity in `cert` (PEM chain, end entity first) and `key` (PEM private key).
    pub fn load(cert: &Path, key: &Path, provider: Arc<CryptoProvider>) -> Result<Self, TlsError> {
        let served = read(cert, key, &provider)?;
        Ok(Self {
            cert_path: cert.to_owned(),
            key_path: key.to_owned(),
            provider,
            current: RwLock::new(served),
        })
    }

    fn served(&self) -> std::sync::RwLockReadGuard<'_, Served> {
        self.current.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The pin of the key served now.
    pub fn pin(&self) -> SpkiPin {
        self.served().pin
    }

    /// The end-entity certificate served now (DER).
    pub fn certificate_der(&self) -> Vec<u8> {
        self.served().certificate_der.clone()
    }

    /// Reads the files again if either changed: `Ok(Some(pin))` when a new identity is served,
    /// `Ok(None)` when nothing changed, an error (and the old identity kept) when the new
    /// files do not load.
    pub fn reload_if_changed(&self) -> Result<Option<SpkiPin>, TlsError> {
        let stamps = (stamp(&self.cert_path), stamp(&self.key_path));
        if self.served().stamps == stamps {
            return Ok(None);
        }
        let served = read(&self.cert_path, &self.key_path, &self.provider);
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        match served {
            Ok(served) => {
                let pin = served.pin;
                *current = served;
                Ok(Some(pin))
            }
            Err(error) => {
                // Not tried again until the files change once more.
                current.stamps = stamps;
                Err(error)
            }
        }
    }
}

impl ResolvesServerCert for LiveIdentity {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.served().key.clone())
    }
}

fn read(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<Served, TlsError> {
    let stamps = (stamp(cert), stamp(key));
    let io = |path: &Path| {
        let path = path.to_owned();
        move |error| TlsError::Io { path, error }
    };
    let cert_pem = std::fs::read(cert).map_err(io(cert))?;
    let key_pem = Zeroizing::new(std::fs::read(key).map_err(io(key))?);
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadPem {
            path: cert.to_owned(),
            why: e.to_string(),
        })?;
    let certificate_der = chain
        .first()
        .ok_or_else(|| TlsError::NoCertificate {
            path: cert.to_owned(),
        })?
        .as_ref()
        .to_vec();
    let pin =
        SpkiPin::of_certificate_der(&certificate_der).map_err(|e| TlsError::Pin(e.to_string()))?;
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::NoKey {
        path: key.to_owned(),
        why: e.to_string(),
    })?;
    let certified = CertifiedKey::from_der(chain, private, provider)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    Ok(Served {
        key: Arc::new(certified),
        pin,
        certificate_der,
        stamps,
    })
}

/// [`LiveIdentity::reload_if_changed`], with a new identity logged in the audit log (as
/// `serve`: each instance that takes it logs it).
pub fn reload_and_log(
    identity: &LiveIdentity,
    storage: &dyn crate::Storage,
) -> Result<Option<SpkiPin>, TlsError> {
    let pin = identity.reload_if_changed()?;
    if let Some(pin) = pin {
        let logged = crate::fleet::audit(
            storage,
            "serve",
            "rotate_tls_key",
            "tls_key",
            serde_json::json!({"pin": pin.to_string()}),
            crate::now(),
        );
        if let Err(e) = logged {
            eprintln!("honnin-receiver: the TLS key change is not in the audit log: {e}");
        }
    }
    Ok(pin)
}

/// Looks for a new certificate and key every [`RELOAD_SECONDS`] while the receiver serves.
pub async fn run_reloader(identity: Arc<LiveIdentity>, receiver: Arc<crate::Receiver>) {
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(RELOAD_SECONDS));
    loop {
        ticks.tick().await;
        let (worker, storage) = (identity.clone(), receiver.storage.clone());
        match tokio::task::spawn_blocking(move || reload_and_log(&worker, storage.as_ref())).await {
            Ok(Ok(Some(pin))) => {
                eprintln!("honnin-receiver: new TLS certificate and key served; TLS key pin {pin}")
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => eprintln!(
                "honnin-receiver: the new TLS certificate or key cannot be used ({e}); still serving the previous one"
            ),
            Err(_) => eprintln!("honnin-receiver: reloading the TLS identity failed"),
        }
    }
}
