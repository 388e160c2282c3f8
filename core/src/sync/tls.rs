//! Who the device trusts as its receiver, and the TLS under the sync client's HTTP.
//!
//! The device keeps its trust decision in [`TlsTrust`]:
//! - [`TlsTrust::Pinned`]: only the key pinned at enrolment (the operator hands the pin out
//!   with the one-time code). Names and dates on the certificate are not looked at: the key is
//!   the trust, and the handshake proves the receiver holds it. This is what the product uses
//!   for a receiver with a self-signed certificate.
//! - [`TlsTrust::PinnedSet`]: any of several pinned keys — the one pinned at enrolment or
//!   served now, and the next ones the receiver announced under its receipt key's signature
//!   ([`super::pin_announcement`]), so a TLS key rotation needs no new enrolment.
//! - [`TlsTrust::WebPki`]: the public web PKI (Mozilla's root programme, compiled in through
//!   webpki-roots), for a receiver with a certificate from a public CA. The default.
//! - [`TlsTrust::PrivateCa`]: the certificates of a private CA.
//! - [`TlsTrust::Platform`]: a verifier the host platform supplies, e.g.
//!   `rustls_platform_verifier::Verifier` on Android (the OS trust store, user-added CAs per
//!   the app's network security config, and the OS revocation checks).
//!
//! ureq's own TLS connector only knows root certificates, so the client plugs its own
//! rustls connector into ureq's transport chain (ureq's `unversioned` API; pinned to ureq 3.5
//! in Cargo.toml for that reason). The crypto provider is always ring.

use std::io::{Read, Write};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, ClientConnection, OtherError, RootCertStore};
use rustls::{DigitallySignedStruct, SignatureScheme, StreamOwned};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};

use super::pin::SpkiPin;

/// How the device decides that it talks to its receiver.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum TlsTrust {
    /// Only a receiver presenting the key with this pin (SHA-256 of its SubjectPublicKeyInfo).
    Pinned(SpkiPin),
    /// Only a receiver presenting a key with one of these pins (at least one): the pin kept
    /// and the next ones the receiver announced, signed by its receipt key.
    PinnedSet(Vec<SpkiPin>),
    /// The public web PKI roots compiled into the client (webpki-roots).
    #[default]
    WebPki,
    /// DER certificates of a private CA (at least one must parse).
    PrivateCa(Vec<Vec<u8>>),
    /// A verifier supplied by the platform (its trust store and revocation checking).
    Platform(Arc<dyn ServerCertVerifier>),
}

/// Why the client refused the receiver's TLS identity. Retrying does not help: the device is
/// talking to something that is not its receiver, or its trust is configured wrongly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsRefusal {
    #[error(
        "the receiver's TLS key is not the one pinned at enrolment (pinned {expected}, presented {presented}): someone may be intercepting; if the operator changed the receiver's key, enrol again with its new pin"
    )]
    PinMismatch {
        expected: SpkiPin,
        presented: SpkiPin,
    },
    #[error(
        "the receiver's TLS key ({presented}) is none of the {} keys this device trusts (the one pinned and those the receiver announced): someone may be intercepting; if the operator changed the receiver's key without announcing it first, enrol again with its new pin",
        trusted.len()
    )]
    PinNotInSet {
        trusted: Vec<SpkiPin>,
        presented: SpkiPin,
    },
    #[error(
        "the receiver's certificate is not issued by a CA this device trusts (give its pin with --receiver-pin, or its CA with --receiver-ca)"
    )]
    UnknownIssuer,
    #[error("the receiver's certificate has expired or is not yet valid (check both clocks)")]
    NotValidNow,
    #[error("the receiver's certificate is not valid for the host name in the receiver URL")]
    WrongName,
    #[error("the receiver's certificate has been revoked")]
    Revoked,
    #[error("the receiver's certificate is not acceptable: {0}")]
    Other(String),
}

/// Why a sync configuration cannot be used; nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("the receiver URL must be https://host[:port] (http:// only for loopback tests)")]
    BadUrl,
    #[error(
        "plain http:// is only allowed to a loopback address (127.0.0.0/8, ::1, localhost); use https://"
    )]
    PlainHttpNotLoopback,
    #[error(
        "plain http:// to loopback must be allowed explicitly (allow_loopback_http, or --insecure-loopback-http)"
    )]
    PlainHttpNotAllowed,
    #[error("a pinned receiver key needs an https:// receiver URL")]
    PinWithoutTls,
    #[error("a set of pinned receiver keys must hold at least one pin")]
    NoPins,
    #[error("TLS setup failed: {0}")]
    Tls(String),
}

/// Whether `url` may be used with `trust` (and plain HTTP to loopback if `allow_loopback_http`).
pub(super) fn check_url(
    url: &str,
    trust: &TlsTrust,
    allow_loopback_http: bool,
) -> Result<(), ConfigError> {
    if matches!(trust, TlsTrust::PinnedSet(pins) if pins.is_empty()) {
        return Err(ConfigError::NoPins);
    }
    let (scheme, rest) = url.split_once("://").ok_or(ConfigError::BadUrl)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(ConfigError::BadUrl);
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" => {
            if matches!(trust, TlsTrust::Pinned(_) | TlsTrust::PinnedSet(_)) {
                return Err(ConfigError::PinWithoutTls);
            }
            if !is_loopback(authority) {
                return Err(ConfigError::PlainHttpNotLoopback);
            }
            if !allow_loopback_http {
                return Err(ConfigError::PlainHttpNotAllowed);
            }
            Ok(())
        }
        _ => Err(ConfigError::BadUrl),
    }
}

/// Whether the host of `authority` (`host[:port]`) is a loopback address or `localhost`.
fn is_loopback(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls client configuration of `trust`.
pub(super) fn client_config(trust: &TlsTrust) -> Result<Arc<ClientConfig>, ConfigError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::Tls(e.to_string()))?;
    let roots = |certificates: Vec<CertificateDer<'static>>| {
        let mut store = RootCertStore::empty();
        let (added, _ignored) = store.add_parsable_certificates(certificates);
        if added == 0 {
            return Err(ConfigError::Tls(
                "none of the CA certificates given for the receiver could be used".into(),
            ));
        }
        Ok(store)
    };
    let pinned = |pins: Vec<SpkiPin>| {
        Arc::new(PinnedVerifier {
            pins,
            algorithms: provider.signature_verification_algorithms,
        })
    };
    let config = match trust {
        TlsTrust::Pinned(pin) => builder
            .dangerous()
            .with_custom_certificate_verifier(pinned(vec![*pin]))
            .with_no_client_auth(),
        TlsTrust::PinnedSet(pins) => {
            if pins.is_empty() {
                return Err(ConfigError::NoPins);
            }
            builder
                .dangerous()
                .with_custom_certificate_verifier(pinned(pins.clone()))
                .with_no_client_auth()
        }
        TlsTrust::WebPki => builder
            .with_root_certificates(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            })
            .with_no_client_auth(),
        TlsTrust::PrivateCa(certificates) => builder
            .with_root_certificates(roots(
                certificates
                    .iter()
                    .map(|der| CertificateDer::from(der.clone()))
                    .collect(),
            )?)
            .with_no_client_auth(),
        // The platform's verifier is the platform's trust decision, not a weakening of ours.
        TlsTrust::Platform(verifier) => builder
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Accepts exactly the pinned keys, and checks that the handshake is signed with the one
/// presented.
#[derive(Debug)]
struct PinnedVerifier {
    /// Never empty (checked where it is made).
    pins: Vec<SpkiPin>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = SpkiPin::of_certificate_der(end_entity.as_ref())
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        if !self.pins.contains(&presented) {
            let refusal = match self.pins.as_slice() {
                [expected] => TlsRefusal::PinMismatch {
                    expected: *expected,
                    presented,
                },
                trusted => TlsRefusal::PinNotInSet {
                    trusted: trusted.to_vec(),
                    presented,
                },
            };
            return Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(refusal)),
            )));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The refusal a certificate error stands for.
pub(super) fn refusal(error: &CertificateError) -> TlsRefusal {
    match error {
        CertificateError::Other(OtherError(inner)) => inner
            .downcast_ref::<TlsRefusal>()
            .cloned()
            .unwrap_or_else(|| TlsRefusal::Other(inner.to_string())),
        CertificateError::UnknownIssuer | CertificateError::BadSignature => {
            TlsRefusal::UnknownIssuer
        }
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => TlsRefusal::NotValidNow,
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            TlsRefusal::WrongName
        }
        CertificateError::Revoked => TlsRefusal::Revoked,
        other => TlsRefusal::Other(format!("{other:?}")),
    }
}

/// The TLS step of the client's ureq connector chain (after TCP).
#[derive(Debug)]
pub(super) struct TlsConnector {
    pub(super) config: Arc<ClientConfig>,
}

impl<In: Transport> Connector<In> for TlsConnector {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Err(ureq::Error::ConnectionFailed);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details.uri.host().ok_or(ureq::Error::HostNotFound)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_owned())
            .map_err(|_| ureq::Error::Tls("the receiver's host is not a valid TLS server name"))?;
        let mut connection = ClientConnection::new(self.config.clone(), name)?;
        let mut socket = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        socket.set_timeout(details.timeout);
        connection
            .complete_io(&mut socket)
            .map_err(|error| match error.into_inner() {
                // Keep rustls's error typed, so a refused certificate is told from a dropped line.
                Some(inner) => match inner.downcast::<rustls::Error>() {
                    Ok(tls) => ureq::Error::Rustls(*tls),
                    Err(inner) => ureq::Error::Io(std::io::Error::other(inner)),
                },
                None => ureq::Error::ConnectionFailed,
            })?;
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(TlsTransport {
            buffers,
            stream: StreamOwned::new(connection, socket),
        })))
    }
}

/// HTTP over a rustls client connection.
pub(super) struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsTransport")
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback_and_only_when_allowed() {
        let web = TlsTrust::WebPki;
        for url in [
            "http://127.0.0.1:8750",
            "http://127.1.2.3",
            "http://[::1]:80/x",
            "http://localhost:1",
        ] {
            assert_eq!(check_url(url, &web, true), Ok(()), "{url}");
            assert_eq!(
                check_url(url, &web, false),
                Err(ConfigError::PlainHttpNotAllowed),
                "{url}"
            );
        }
        for url in [
            "http://10.0.0.1:8750",
            "http://receiver.example",
            "http://127.0.0.1.nip.io",
            "http://[::2]:80",
        ] {
            assert_eq!(
                check_url(url, &web, true),
                Err(ConfigError::PlainHttpNotLoopback),
                "{url}"
            );
        }
        assert_eq!(
            check_url(
                "https://receiver.example",
                &TlsTrust::PinnedSet(vec![]),
                false
            ),
            Err(ConfigError::NoPins)
        );
        assert_eq!(
            check_url(
                "http://127.0.0.1:1",
                &TlsTrust::PinnedSet(vec![SpkiPin::from_bytes([7; 32])]),
                true
            ),
            Err(ConfigError::PinWithoutTls)
        );
        let pinned = TlsTrust::Pinned(SpkiPin::from_bytes([7; 32]));
        assert_eq!(
            check_url("http://127.0.0.1:1", &pinned, true),
            Err(ConfigError::PinWithoutTls)
        );
        assert_eq!(
            check_url("https://receiver.example", &pinned, false),
            Ok(())
        );
        for url in ["ftp://x", "receiver.example", "https://", "https://u@host"] {
            assert_eq!(
                check_url(url, &web, true),
                Err(ConfigError::BadUrl),
                "{url}"
            );
        }
    }

    #[test]
    fn a_private_ca_without_a_usable_certificate_is_refused() {
        let trust = TlsTrust::PrivateCa(vec![b"not a certificate".to_vec()]);
        assert!(matches!(client_config(&trust), Err(ConfigError::Tls(_))));
    }
}
