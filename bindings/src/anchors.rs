//! Trust anchors, from a directory (desktop, tests) or from DER bytes (an Android app reads them
//! from its assets). Anchors are trusted by key, never by name (see the core's `x509::anchors`).

use std::sync::Arc;

use honnin_core::verify::x509::TrustAnchors as CoreAnchors;

use crate::error::HonninError;

/// The configured trust anchors: JPKI roots and card-data issuers.
#[derive(Debug, uniffi::Object)]
pub struct TrustAnchors {
    pub(crate) anchors: CoreAnchors,
}

/// One anchor, for a settings screen or a log line: a CA's name, never a person's.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AnchorInfo {
    /// The subject name (RFC 4514).
    pub subject: String,
    /// The model-v1 key id (first 16 bytes of SHA-256 over the SubjectPublicKeyInfo), hex.
    pub key_id: String,
    /// The file it came from, or `der[<index>]`.
    pub source: String,
}

#[uniffi::export]
impl TrustAnchors {
    /// Every certificate file of `path` (PEM or DER); a file named like a certificate that does
    /// not parse is an error naming it.
    #[uniffi::constructor]
    pub fn from_directory(path: String) -> Result<Arc<Self>, HonninError> {
        let anchors = CoreAnchors::load_dir(path)?;
        Ok(Arc::new(Self { anchors }))
    }

    /// Anchors given as DER certificates.
    #[uniffi::constructor]
    pub fn from_der(certificates: Vec<Vec<u8>>) -> Result<Arc<Self>, HonninError> {
        let anchors = CoreAnchors::from_der(certificates)?;
        if anchors.is_empty() {
            return Err(HonninError::TrustAnchors {
                detail: "no trust anchor certificate was given".into(),
            });
        }
        Ok(Arc::new(Self { anchors }))
    }

    pub fn anchors(&self) -> Vec<AnchorInfo> {
        self.anchors
            .iter()
            .map(|a| AnchorInfo {
                subject: a.subject(),
                key_id: a.key_id().iter().map(|b| format!("{b:02x}")).collect(),
                source: a.source().to_owned(),
            })
            .collect()
    }

    /// Files of the directory that held no certificate and were skipped, by name.
    pub fn skipped_files(&self) -> Vec<String> {
        self.anchors.skipped().to_vec()
    }
}
