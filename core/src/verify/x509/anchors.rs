//! Trust anchors: the configured certificates whose keys end every chain and verify every CV
//! certificate.
//!
//! An anchor is trusted for its key, never for its name: the J-LIS 2015 and 2023 roots carry the
//! same distinguished name, and so does any forger who copies it. Anchors come from one directory
//! (model v1: PEM or DER, any file names), so a deployment adds the keys it is given — the
//! card-face data issuer's, which is not public — next to the public JPKI roots.
//!
//! Each anchor serves one purpose, decided by what its certificate allows ([`AnchorPurpose`]):
//! one that may issue X.509 certificates (cA or keyCertSign, as the J-LIS roots are) is a JPKI
//! root and only ends certificate paths; one that may not is a card-data issuer and only verifies
//! CV certificates. So a JPKI root never verifies a CV certificate, and a CV issuer's key never
//! ends a JPKI chain, even where the two share a name or a deployment mixes them up (issue 17;
//! docs/card-model-changes.md).
//!
//! Which files are read: every regular file whose contents are PEM with at least one
//! `CERTIFICATE` block, or DER that parses as one certificate. A file named `*.pem`, `*.der`,
//! `*.cer` or `*.crt` that does not parse is an error naming the file, because a typo in a trust
//! anchor must not silently remove it. Any other file that is not a certificate (a README, a
//! checksum list) is skipped and listed in [`TrustAnchors::skipped`]. Hidden files and
//! subdirectories are ignored.

use std::fmt;
use std::path::{Path, PathBuf};

use rsa::PublicKey;

use super::cert::{CertificateError, ParsedCertificate};
use crate::card::profile::KEY_ID_LEN;
use crate::verify::crypto::{self, KeyError};

/// Files larger than this are not read as anchors (a bundle of a hundred certificates is ~200 KB).
const MAX_ANCHOR_FILE_LEN: u64 = 1024 * 1024;
const CERTIFICATE_EXTENSIONS: [&str; 4] = ["pem", "der", "cer", "crt"];

/// Why the anchors could not be loaded. Each variant names the file, so that an operator can fix
/// the configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnchorError {
    #[error("cannot read the trust anchor directory {path}: {source}")]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the trust anchor file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the trust anchor file {path} is larger than {MAX_ANCHOR_FILE_LEN} bytes")]
    FileTooLarge { path: PathBuf },
    #[error("the trust anchor file {source_name} is not a valid certificate: {reason}")]
    Certificate { source_name: String, reason: String },
    #[error("the trust anchor in {source_name} has a key honnin cannot use: {reason}")]
    Key {
        source_name: String,
        reason: KeyError,
    },
    #[error("no trust anchor certificate was found in {source_name}")]
    Empty { source_name: String },
}

/// What an anchor is trusted for. Decided from the anchor's certificate, see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnchorPurpose {
    /// Ends JPKI certificate paths: the certificate says cA or keyCertSign.
    JpkiRoot,
    /// Verifies card-face and input-support CV certificates (model v1: by key id): the
    /// certificate says neither cA nor keyCertSign.
    CvIssuer,
}

impl AnchorPurpose {
    fn of(parsed: &ParsedCertificate) -> Self {
        let ca = parsed.basic_constraints.as_ref().is_some_and(|c| c.ca);
        let issues = parsed.key_usage.as_ref().is_some_and(|u| u.key_cert_sign());
        if ca || issues {
            AnchorPurpose::JpkiRoot
        } else {
            AnchorPurpose::CvIssuer
        }
    }
}

/// One configured anchor: its certificate, and the key that is what is actually trusted.
#[derive(Clone)]
pub struct TrustAnchor {
    pub(crate) parsed: ParsedCertificate,
    pub(crate) key: PublicKey,
    key_id: [u8; KEY_ID_LEN],
    source: String,
    purpose: AnchorPurpose,
    /// The subject as text, made once: every chain report names its anchor, and formatting a
    /// name (an OID table search per attribute) cost a receiver about a tenth of a record's
    /// verification when it was made per record.
    subject: String,
}

impl TrustAnchor {
    /// The anchor's RSA public key.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// First 16 bytes of SHA-256 over the anchor's SubjectPublicKeyInfo (model v1 key id).
    pub fn key_id(&self) -> [u8; KEY_ID_LEN] {
        self.key_id
    }

    /// What the anchor is trusted for.
    pub fn purpose(&self) -> AnchorPurpose {
        self.purpose
    }

    /// The anchor's subject name (RFC 4514), for logs and reports: a CA name, never a person's.
    pub fn subject(&self) -> String {
        self.subject.clone()
    }

    /// Where the anchor came from: a file name, or `der[<index>]` for [`TrustAnchors::from_der`].
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The anchor certificate as configured (DER).
    pub fn certificate_der(&self) -> &[u8] {
        &self.parsed.der
    }

    pub(crate) fn spki_der(&self) -> &[u8] {
        &self.parsed.spki_der
    }
}

impl fmt::Debug for TrustAnchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustAnchor")
            .field("subject", &self.subject())
            .field("key_id", &hex_id(&self.key_id))
            .field("purpose", &self.purpose)
            .field("source", &self.source)
            .finish()
    }
}

/// The configured trust anchors, in two pools by purpose.
#[derive(Clone, Debug, Default)]
pub struct TrustAnchors {
    /// Only these end certificate paths.
    jpki_roots: Vec<TrustAnchor>,
    /// Only these verify CV certificates.
    cv_issuers: Vec<TrustAnchor>,
    skipped: Vec<String>,
}

impl TrustAnchors {
    /// Reads every certificate file of `dir` (see the module docs for which files count).
    /// Files are read in name order, so the result does not depend on the file system.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self, AnchorError> {
        let dir = dir.as_ref();
        let read = read_anchor_dir(dir)?;
        let mut anchors = Self {
            skipped: read.skipped,
            ..Self::default()
        };
        for (name, ders) in read.files {
            for der in ders {
                anchors.add(&der, &name)?;
            }
        }
        if anchors.is_empty() {
            return Err(AnchorError::Empty {
                source_name: dir.display().to_string(),
            });
        }
        Ok(anchors)
    }

    /// Anchors given as DER certificates (tests, platform bindings that hold the files).
    pub fn from_der(certificates: Vec<Vec<u8>>) -> Result<Self, AnchorError> {
        let mut anchors = Self::default();
        for (index, der) in certificates.iter().enumerate() {
            anchors.add(der, &format!("der[{index}]"))?;
        }
        Ok(anchors)
    }

    fn add(&mut self, der: &[u8], source: &str) -> Result<(), AnchorError> {
        let parsed = ParsedCertificate::parse(der).map_err(|e: CertificateError| {
            AnchorError::Certificate {
                source_name: source.to_owned(),
                reason: e.to_string(),
            }
        })?;
        let key = parsed.public_key().map_err(|reason| AnchorError::Key {
            source_name: source.to_owned(),
            reason,
        })?;
        // The same certificate twice (a bundle and a single file) is one anchor.
        if self.iter().any(|a| a.parsed.der == parsed.der) {
            return Ok(());
        }
        let purpose = AnchorPurpose::of(&parsed);
        let anchor = TrustAnchor {
            key_id: crypto::key_id(&parsed.spki_der),
            key,
            subject: parsed.subject_text(),
            parsed,
            source: source.to_owned(),
            purpose,
        };
        match purpose {
            AnchorPurpose::JpkiRoot => self.jpki_roots.push(anchor),
            AnchorPurpose::CvIssuer => self.cv_issuers.push(anchor),
        }
        Ok(())
    }

    /// The CV-issuer anchor whose key id equals a CV certificate's issuer id (model v1). A JPKI
    /// root with that key id is not one: roots do not certify card data.
    pub fn cv_issuer(&self, issuer_key_id: &[u8; KEY_ID_LEN]) -> Option<&TrustAnchor> {
        self.cv_issuers.iter().find(|a| &a.key_id == issuer_key_id)
    }

    /// Every anchor, JPKI roots first, each pool in load order.
    pub fn iter(&self) -> impl Iterator<Item = &TrustAnchor> {
        self.jpki_roots.iter().chain(&self.cv_issuers)
    }

    /// The anchors that end certificate paths.
    pub fn jpki_roots(&self) -> &[TrustAnchor] {
        &self.jpki_roots
    }

    /// The anchors that verify CV certificates.
    pub fn cv_issuers(&self) -> &[TrustAnchor] {
        &self.cv_issuers
    }

    pub fn len(&self) -> usize {
        self.jpki_roots.len() + self.cv_issuers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Files of the directory that were not certificates and were skipped, by name.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// Every JPKI root whose key is exactly this SubjectPublicKeyInfo.
    pub(crate) fn with_spki<'a>(
        &'a self,
        spki_der: &'a [u8],
    ) -> impl Iterator<Item = (usize, &'a TrustAnchor)> + 'a {
        self.jpki_roots
            .iter()
            .enumerate()
            .filter(move |(_, a)| a.spki_der() == spki_der)
    }

    /// The JPKI root at `index` of [`TrustAnchors::jpki_roots`].
    pub(crate) fn get(&self, index: usize) -> Option<&TrustAnchor> {
        self.jpki_roots.get(index)
    }
}

/// The certificate files of an anchor directory, read by the rules in the module docs: what both
/// the JPKI anchors and the mdoc issuer anchors (`crate::mdoc::IssuerAnchors`) are loaded from.
pub(crate) struct AnchorFiles {
    /// Each certificate file's name and its DER certificates, in name order.
    pub(crate) files: Vec<(String, Vec<Vec<u8>>)>,
    /// Files that are not certificates (a README, …).
    pub(crate) skipped: Vec<String>,
}

/// Reads every file of `dir` in name order, so the result does not depend on the file system.
pub(crate) fn read_anchor_dir(dir: &Path) -> Result<AnchorFiles, AnchorError> {
    let directory_error = |source| AnchorError::Directory {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(directory_error)? {
        let entry = entry.map_err(directory_error)?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        let path = entry.path();
        // `metadata` follows symbolic links, so a link to a certificate file counts.
        if !hidden && std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            paths.push(path);
        }
    }
    paths.sort();

    let mut read = AnchorFiles {
        files: Vec::new(),
        skipped: Vec::new(),
    };
    for path in paths {
        let read_error = |source| AnchorError::Read {
            path: path.clone(),
            source,
        };
        let len = std::fs::metadata(&path).map_err(read_error)?.len();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let certificate_named = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .is_some_and(|e| CERTIFICATE_EXTENSIONS.contains(&e.as_str()));
        if len > MAX_ANCHOR_FILE_LEN {
            if certificate_named {
                return Err(AnchorError::FileTooLarge { path });
            }
            read.skipped.push(name);
            continue;
        }
        let bytes = std::fs::read(&path).map_err(read_error)?;
        match certificates_in(&bytes) {
            FileContents::Certificates(ders) => read.files.push((name, ders)),
            FileContents::Broken(reason) => {
                return Err(AnchorError::Certificate {
                    source_name: name,
                    reason,
                });
            }
            FileContents::NoCertificate(reason) if certificate_named => {
                return Err(AnchorError::Certificate {
                    source_name: name,
                    reason,
                });
            }
            FileContents::NoCertificate(_) => read.skipped.push(name),
        }
    }
    Ok(read)
}

enum FileContents {
    Certificates(Vec<Vec<u8>>),
    /// The file holds PEM certificate blocks, and one of them does not parse.
    Broken(String),
    /// Neither PEM certificates nor a DER certificate: why, in case the name says otherwise.
    NoCertificate(String),
}

/// The DER certificates in a file: every `CERTIFICATE` block of PEM, or the file itself as DER.
fn certificates_in(bytes: &[u8]) -> FileContents {
    const BEGIN: &[u8] = b"-----BEGIN ";
    if find(bytes, BEGIN).is_none() {
        return match ParsedCertificate::parse(bytes) {
            Ok(_) => FileContents::Certificates(vec![bytes.to_vec()]),
            Err(e) => FileContents::NoCertificate(e.to_string()),
        };
    }
    let mut found = Vec::new();
    let mut rest = bytes;
    while let Some(start) = find(rest, BEGIN) {
        let block = &rest[start..];
        let Some(end) = find(block, b"-----END ").and_then(|end| {
            let after = &block[end + 9..];
            find(after, b"-----").map(|close| end + 9 + close + 5)
        }) else {
            return FileContents::Broken("a PEM block has no END line".into());
        };
        let is_certificate = block.starts_with(b"-----BEGIN CERTIFICATE-----");
        match der::pem::decode_vec(&block[..end]) {
            Ok(("CERTIFICATE", der)) => {
                if let Err(e) = ParsedCertificate::parse(&der) {
                    return FileContents::Broken(e.to_string());
                }
                found.push(der);
            }
            Ok(_) => {}
            Err(e) if is_certificate => return FileContents::Broken(format!("PEM: {e}")),
            Err(_) => {}
        }
        rest = &block[end..];
    }
    if found.is_empty() {
        FileContents::NoCertificate("the file holds no PEM CERTIFICATE block".into())
    } else {
        FileContents::Certificates(found)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub(crate) fn hex_id(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}
