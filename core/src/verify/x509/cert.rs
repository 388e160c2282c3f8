//! One X.509 certificate, parsed once into what the checks need.
//!
//! The signed bytes are taken from the input itself, not re-encoded from the parsed structure, so
//! that what is verified is exactly what the issuer signed.

use der::asn1::ObjectIdentifier;
use der::{Decode, Encode, Header, Reader, SliceReader, Tag};
use rsa::PublicKey;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies, KeyUsage, SubjectKeyIdentifier,
};
use x509_cert::spki::AlgorithmIdentifierOwned;

use crate::verify::crypto::{self, KeyError};

/// Certificates larger than this are refused before parsing (a JPKI certificate is ~1.2 KB).
pub const MAX_CERTIFICATE_LEN: usize = 16 * 1024;

pub(crate) mod oid {
    use der::asn1::ObjectIdentifier;

    pub const SHA256_WITH_RSA: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
    pub const SHA1_WITH_RSA: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5");

    pub const SUBJECT_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
    pub const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
    pub const SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
    pub const ISSUER_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.18");
    pub const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
    pub const CRL_DISTRIBUTION_POINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.31");
    pub const CERTIFICATE_POLICIES: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.32");
    pub const AUTHORITY_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");
    pub const AUTHORITY_INFO_ACCESS: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.1");
}

/// Extensions honnin processes or may safely ignore; a critical extension not in this list makes
/// the certificate unacceptable (RFC 5280 §4.2). Certificate policies are understood: real JPKI
/// signing certificates mark them critical.
const UNDERSTOOD_EXTENSIONS: [ObjectIdentifier; 9] = [
    oid::SUBJECT_KEY_ID,
    oid::KEY_USAGE,
    oid::SUBJECT_ALT_NAME,
    oid::ISSUER_ALT_NAME,
    oid::BASIC_CONSTRAINTS,
    oid::CRL_DISTRIBUTION_POINTS,
    oid::CERTIFICATE_POLICIES,
    oid::AUTHORITY_KEY_ID,
    oid::AUTHORITY_INFO_ACCESS,
];

/// Why a certificate could not be parsed. Holds no certificate content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    #[error("the certificate is {len} bytes, more than the {MAX_CERTIFICATE_LEN} accepted")]
    TooLarge { len: usize },
    #[error("the certificate is not valid DER X.509: {0}")]
    Der(String),
    #[error("the certificate's two signature algorithm fields differ")]
    AlgorithmMismatch,
    #[error("the certificate's signature has unused bits")]
    SignatureBits,
    #[error("the extension {oid} appears more than once")]
    DuplicateExtension { oid: String },
    #[error("the extension {oid} cannot be parsed: {reason}")]
    BadExtension { oid: String, reason: String },
}

/// The signature algorithm of a certificate or CRL, as far as honnin cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignatureAlgorithm {
    Sha256WithRsa,
    Sha1WithRsa,
    /// Anything else, by OID (md5WithRSA, RSASSA-PSS, ECDSA, …): never accepted.
    Other(String),
}

impl SignatureAlgorithm {
    pub(crate) fn of(algorithm: &AlgorithmIdentifierOwned) -> Self {
        // RFC 4055 §5: the parameters are NULL; an absent field is seen in the wild and harmless.
        let plain_parameters = algorithm
            .parameters
            .as_ref()
            .is_none_or(|parameters| parameters.is_null());
        match algorithm.oid {
            oid::SHA256_WITH_RSA if plain_parameters => Self::Sha256WithRsa,
            oid::SHA1_WITH_RSA if plain_parameters => Self::Sha1WithRsa,
            other => Self::Other(other.to_string()),
        }
    }
}

/// A parsed certificate with the pieces each check uses.
#[derive(Clone)]
pub(crate) struct ParsedCertificate {
    pub der: Vec<u8>,
    pub cert: Certificate,
    /// The TBSCertificate exactly as in `der`: what the issuer signed.
    pub tbs: Vec<u8>,
    pub signature: Vec<u8>,
    pub algorithm: SignatureAlgorithm,
    pub spki_der: Vec<u8>,
    pub subject_der: Vec<u8>,
    pub issuer_der: Vec<u8>,
    pub subject_key_id: Option<Vec<u8>>,
    pub authority_key_id: Option<Vec<u8>>,
    pub not_before: i64,
    pub not_after: i64,
    pub basic_constraints: Option<BasicConstraints>,
    pub key_usage: Option<KeyUsage>,
    pub policies: Option<CertificatePolicies>,
    /// The first critical extension honnin does not understand, by OID.
    pub unknown_critical: Option<String>,
}

impl ParsedCertificate {
    pub fn parse(der: &[u8]) -> Result<Self, CertificateError> {
        if der.len() > MAX_CERTIFICATE_LEN {
            return Err(CertificateError::TooLarge { len: der.len() });
        }
        let cert = Certificate::from_der(der).map_err(|e| CertificateError::Der(e.to_string()))?;
        let tbs = raw_first_element(der).map_err(|e| CertificateError::Der(e.to_string()))?;
        let tbs_cert = cert.tbs_certificate();
        if cert.signature_algorithm() != tbs_cert.signature() {
            return Err(CertificateError::AlgorithmMismatch);
        }
        let signature = cert
            .signature()
            .as_bytes()
            .ok_or(CertificateError::SignatureBits)?
            .to_vec();
        let encode = |value: &dyn EncodeDyn| {
            value
                .der()
                .map_err(|e| CertificateError::Der(e.to_string()))
        };
        let spki_der = encode(tbs_cert.subject_public_key_info())?;
        let subject_der = encode(tbs_cert.subject())?;
        let issuer_der = encode(tbs_cert.issuer())?;

        let mut seen: Vec<ObjectIdentifier> = Vec::new();
        let mut unknown_critical = None;
        for extension in tbs_cert.extensions().map(|e| e.as_slice()).unwrap_or(&[]) {
            if seen.contains(&extension.extn_id) {
                return Err(CertificateError::DuplicateExtension {
                    oid: extension.extn_id.to_string(),
                });
            }
            seen.push(extension.extn_id);
            if extension.critical
                && unknown_critical.is_none()
                && !UNDERSTOOD_EXTENSIONS.contains(&extension.extn_id)
            {
                unknown_critical = Some(extension.extn_id.to_string());
            }
        }

        let validity = tbs_cert.validity();
        Ok(Self {
            algorithm: SignatureAlgorithm::of(cert.signature_algorithm()),
            subject_key_id: extension::<SubjectKeyIdentifier>(&cert)?
                .map(|ski| ski.0.as_bytes().to_vec()),
            authority_key_id: extension::<AuthorityKeyIdentifier>(&cert)?
                .and_then(|aki| aki.key_identifier)
                .map(|id| id.as_bytes().to_vec()),
            basic_constraints: extension::<BasicConstraints>(&cert)?,
            key_usage: extension::<KeyUsage>(&cert)?,
            policies: extension::<CertificatePolicies>(&cert)?,
            not_before: unix_seconds(validity.not_before),
            not_after: unix_seconds(validity.not_after),
            der: der.to_vec(),
            tbs: tbs.to_vec(),
            signature,
            spki_der,
            subject_der,
            issuer_der,
            unknown_critical,
            cert,
        })
    }

    /// The subject's RSA key, if it is one honnin accepts.
    pub fn public_key(&self) -> Result<PublicKey, KeyError> {
        crypto::rsa_public_key_from_spki(&self.spki_der)
    }

    /// The identifiers a CRL's authorityKeyIdentifier may give for this certificate's key: its
    /// subjectKeyIdentifier, if it has one, and the SHA-1 of its subjectPublicKey (RFC 5280
    /// §4.2.1.2 method 1), which is how CAs that carry no SKI are usually named.
    pub fn key_identifiers(&self) -> Vec<Vec<u8>> {
        use sha1::Digest;
        let bits = self
            .cert
            .tbs_certificate()
            .subject_public_key_info()
            .subject_public_key
            .raw_bytes();
        let mut ids: Vec<Vec<u8>> = self.subject_key_id.iter().cloned().collect();
        let method_1 = sha1::Sha1::digest(bits).to_vec();
        if !ids.contains(&method_1) {
            ids.push(method_1);
        }
        ids
    }

    pub fn serial(&self) -> &[u8] {
        self.cert.tbs_certificate().serial_number().as_bytes()
    }

    /// The subject name, RFC 4514. Only for CA names: an end-entity subject may name a person.
    pub fn subject_text(&self) -> String {
        self.cert.tbs_certificate().subject().to_string()
    }
}

/// Verifies `signature` over `message` with `key` under `algorithm`.
pub(crate) fn verify_signature(
    key: &PublicKey,
    algorithm: &SignatureAlgorithm,
    allow_sha1: bool,
    message: &[u8],
    signature: &[u8],
) -> LinkCheck {
    match algorithm {
        SignatureAlgorithm::Sha256WithRsa => {
            if crypto::verify_pkcs1v15_sha256(key, message, signature) {
                LinkCheck::Verified { sha1: false }
            } else {
                LinkCheck::BadSignature
            }
        }
        SignatureAlgorithm::Sha1WithRsa if allow_sha1 => {
            if crypto::verify_pkcs1v15_sha1(key, message, signature) {
                LinkCheck::Verified { sha1: true }
            } else {
                LinkCheck::BadSignature
            }
        }
        SignatureAlgorithm::Sha1WithRsa => LinkCheck::Unsupported("sha1WithRSAEncryption".into()),
        SignatureAlgorithm::Other(oid) => LinkCheck::Unsupported(oid.clone()),
    }
}

/// The outcome of checking one signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LinkCheck {
    Verified {
        sha1: bool,
    },
    BadSignature,
    /// The algorithm (named) is not accepted, so the signature was not even tried.
    Unsupported(String),
}

fn extension<'a, T>(cert: &'a Certificate) -> Result<Option<T>, CertificateError>
where
    T: Decode<'a, Error = der::Error> + der::oid::AssociatedOid,
{
    cert.tbs_certificate()
        .get_extension::<T>()
        .map(|found| found.map(|(_critical, value)| value))
        .map_err(|e| CertificateError::BadExtension {
            oid: T::OID.to_string(),
            reason: e.to_string(),
        })
}

/// Seconds since the epoch; X.509 times are never before 1950 and never after 9999.
pub(crate) fn unix_seconds(time: x509_cert::time::Time) -> i64 {
    i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

/// The complete TLV of the first element inside the outer SEQUENCE of `der`.
pub(crate) fn raw_first_element(der: &[u8]) -> der::Result<&[u8]> {
    let mut reader = SliceReader::new(der)?;
    let header = Header::decode(&mut reader)?;
    header.tag().assert_eq(Tag::Sequence)?;
    reader.tlv_bytes()
}

/// Object-safe DER encoding, so that the three encodings above share one error mapping.
trait EncodeDyn {
    fn der(&self) -> der::Result<Vec<u8>>;
}

impl<T: Encode> EncodeDyn for T {
    fn der(&self) -> der::Result<Vec<u8>> {
        self.to_der()
    }
}
