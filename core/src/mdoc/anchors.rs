//! The issuer anchors of mdocs (IACA certificates, ISO/IEC 18013-5 Annex B): trusted by key,
//! configured as one directory with the same file rules as the JPKI anchors (PEM or DER, any file
//! names, hidden files and subdirectories ignored, a `*.pem`/`*.der`/`*.cer`/`*.crt` file that
//! does not parse is an error naming it, other files are skipped).
//!
//! They are a separate directory from the JPKI anchors because they are EC keys (P-256), which
//! the JPKI anchor set, made for RSA-2048 J-LIS roots, refuses; and because an IACA must never
//! end a JPKI path nor a J-LIS root an mdoc path.

use std::path::{Path, PathBuf};

use crate::verify::x509::{AnchorError, ParsedCertificate, read_anchor_dir};
use p256::PublicKey;
use p256::pkcs8::DecodePublicKey;

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

impl IssuerAnchorError {
    /// The directory reader's error, named as an mdoc issuer anchor's.
    fn from_directory(error: AnchorError) -> Self {
        let file_name = |path: &Path| {
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        match error {
            AnchorError::Directory { path, source } => Self::Directory { path, source },
            AnchorError::Read { path, source } => Self::Certificate {
                name: file_name(&path),
                reason: source.to_string(),
            },
            AnchorError::FileTooLarge { path } => Self::Certificate {
                name: file_name(&path),
                reason: "larger than 1 MiB".into(),
            },
            AnchorError::Certificate {
                source_name,
                reason,
            } => Self::Certificate {
                name: source_name,
                reason,
            },
            // The reader checks no keys and leaves emptiness to its caller.
            other => Self::Certificate {
                name: String::new(),
                reason: other.to_string(),
            },
        }
    }
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

    /// Reads every certificate file of `dir`, in name order, by the JPKI anchors' own reader
    /// (the same file rules); only the keys differ.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self, IssuerAnchorError> {
        let dir = dir.as_ref();
        let read = read_anchor_dir(dir).map_err(IssuerAnchorError::from_directory)?;
        let mut anchors = Self {
            skipped: read.skipped,
            ..Self::default()
        };
        for (name, ders) in read.files {
            for der in ders {
                anchors.add(&der, &name)?;
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
