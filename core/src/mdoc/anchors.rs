//! The issuer anchors of mdocs (IACA certificates, ISO/IEC 18013-5 Annex B): trusted by key,
//! configured as one directory with the same file rules as the JPKI anchors (PEM or DER, any file
//! names, hidden files and subdirectories ignored, a `*.pem`/`*.der`/`*.cer`/`*.crt` file that
//! does not parse is an error naming it, other files are skipped).
//!
//! They are a separate directory from the JPKI anchors because they are EC keys (P-256), which
//! the JPKI anchor set, made for RSA-2048 J-LIS roots, refuses; and because an IACA must never
//! end a JPKI path nor a J-LIS root an mdoc path.

use std::path::{Path, PathBuf};

use p256::PublicKey;
use p256::pkcs8::DecodePublicKey;
use x509_cert::Certificate;
use x509_cert::der::DecodePem;

use crate::verify::x509::ParsedCertificate;

const MAX_ANCHOR_FILE_LEN: u64 = 1024 * 1024;
const CERTIFICATE_EXTENSIONS: [&str; 4] = ["pem", "der", "cer", "crt"];

/// Why the issuer anchors could not be loaded; each variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssuerAnchorError {
    #[error("cannot read the mdoc issuer anchor directory {path}: {source}")]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the mdoc issuer anchor file {name} is not a usable certificate: {reason}")]
    Certificate { name: String, reason: String },
    #[error("no mdoc issuer anchor certificate was found in {0}")]
    Empty(String),
}

/// One IACA anchor: its parsed certificate and P-256 key.
#[derive(Clone)]
pub struct IssuerAnchor {
    pub(crate) parsed: ParsedCertificate,
    pub(crate) key: PublicKey,
    source: String,
}

impl IssuerAnchor {
    pub fn subject(&self) -> String {
        self.parsed.subject_text()
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn certificate_der(&self) -> &[u8] {
        &self.parsed.der
    }
}

impl std::fmt::Debug for IssuerAnchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IssuerAnchor({}, from {})", self.subject(), self.source)
    }
}

/// The configured mdoc issuer anchors.
#[derive(Clone, Debug, Default)]
pub struct IssuerAnchors {
    anchors: Vec<IssuerAnchor>,
    skipped: Vec<String>,
}

impl IssuerAnchors {
    /// Anchors given as DER certificates (tests, platform bindings).
    pub fn from_der(certificates: &[Vec<u8>]) -> Result<Self, IssuerAnchorError> {
        let mut anchors = Self::default();
        for (i, der) in certificates.iter().enumerate() {
            anchors.add(der, &format!("der[{i}]"))?;
        }
        Ok(anchors)
    }

    /// Reads every certificate file of `dir`, in name order.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self, IssuerAnchorError> {
        let dir = dir.as_ref();
        let directory_error = |source| IssuerAnchorError::Directory {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(directory_error)? {
            let entry = entry.map_err(directory_error)?;
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            let path = entry.path();
            if !hidden && std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                paths.push(path);
            }
        }
        paths.sort();
        let mut anchors = Self::default();
        for path in paths {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let named = path
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
                .is_some_and(|e| CERTIFICATE_EXTENSIONS.contains(&e.as_str()));
            let broken = |reason: String| IssuerAnchorError::Certificate {
                name: name.clone(),
                reason,
            };
            let len = std::fs::metadata(&path)
                .map(|m| m.len())
                .unwrap_or(u64::MAX);
            if len > MAX_ANCHOR_FILE_LEN {
                if named {
                    return Err(broken("larger than 1 MiB".into()));
                }
                anchors.skipped.push(name);
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| broken(e.to_string()))?;
            let ders = certificates_in(&bytes);
            match ders {
                Ok(ders) if !ders.is_empty() => {
                    for der in ders {
                        anchors.add(&der, &name)?;
                    }
                }
                Ok(_) | Err(_) if !named => anchors.skipped.push(name),
                Ok(_) => return Err(broken("no certificate in the file".into())),
                Err(reason) => return Err(broken(reason)),
            }
        }
        if anchors.anchors.is_empty() {
            return Err(IssuerAnchorError::Empty(dir.display().to_string()));
        }
        Ok(anchors)
    }

    fn add(&mut self, der: &[u8], source: &str) -> Result<(), IssuerAnchorError> {
        let broken = |reason: String| IssuerAnchorError::Certificate {
            name: source.to_owned(),
            reason,
        };
        let parsed = ParsedCertificate::parse(der).map_err(|e| broken(e.to_string()))?;
        let key = PublicKey::from_public_key_der(&parsed.spki_der)
            .map_err(|_| broken("the key is not an EC P-256 key".into()))?;
        if !self.anchors.iter().any(|a| a.parsed.der == parsed.der) {
            self.anchors.push(IssuerAnchor {
                parsed,
                key,
                source: source.to_owned(),
            });
        }
        Ok(())
    }

    pub fn iter(&self) -> impl Iterator<Item = &IssuerAnchor> {
        self.anchors.iter()
    }

    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// Files of the directory that were not certificates (a README, …).
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }
}

/// The certificates of a PEM bundle or a single DER certificate.
fn certificates_in(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    use x509_cert::der::{Decode, Encode};
    if bytes.starts_with(b"-----BEGIN") || bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        let text = std::str::from_utf8(bytes).map_err(|_| "PEM that is not text".to_owned())?;
        let mut out = Vec::new();
        for block in text.split_inclusive("-----END CERTIFICATE-----") {
            let Some(start) = block.find("-----BEGIN CERTIFICATE-----") else {
                continue;
            };
            let cert = Certificate::from_pem(&block[start..]).map_err(|e| e.to_string())?;
            out.push(cert.to_der().map_err(|e| e.to_string())?);
        }
        return Ok(out);
    }
    Certificate::from_der(bytes)
        .map(|_| vec![bytes.to_vec()])
        .map_err(|e| e.to_string())
}
