//! Level M in a record: the phone's evidence, as the sender re-verifies it (docs/record-format.md,
//! "Level M"). Made from [`MdocEvidence`]; never holds the portrait, only its digest.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::signer::hex_lower;
use crate::mdoc::MdocEvidence;

/// One returned element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MdocElementEntry {
    /// SHA-256 of the tagged IssuerSignedItem, lowercase hex.
    pub digest: String,
    pub digest_id: u64,
    pub element: String,
    /// The tagged IssuerSignedItem, base64: only for attributes the sender's policy keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    pub namespace: String,
}

/// The phone's document and device authentication.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MdocEntry {
    /// The DeviceNameSpaces the phone signed (CBOR), base64.
    pub device_namespaces: String,
    /// The phone's COSE_Sign1 over DeviceAuthentication (detached payload), base64.
    pub device_signature: Option<String>,
    pub doc_type: String,
    pub elements: Vec<MdocElementEntry>,
    /// The issuer's COSE_Sign1 (MSO and document signer certificate), base64.
    pub issuer_auth: String,
    /// The SessionTranscript (CBOR array), base64.
    pub session_transcript: String,
}

impl std::fmt::Debug for MdocEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "MdocEntry({}, {} elements)",
            self.doc_type,
            self.elements.len()
        )
    }
}

impl From<&MdocEvidence> for MdocEntry {
    fn from(evidence: &MdocEvidence) -> Self {
        Self {
            doc_type: evidence.doc_type.clone(),
            issuer_auth: BASE64.encode(&evidence.issuer_auth),
            session_transcript: BASE64.encode(&evidence.session_transcript),
            device_namespaces: BASE64.encode(&evidence.device_namespaces),
            device_signature: evidence.device_signature.as_ref().map(|s| BASE64.encode(s)),
            elements: evidence
                .elements
                .iter()
                .map(|e| MdocElementEntry {
                    namespace: e.namespace.clone(),
                    element: e.element.clone(),
                    digest_id: e.digest_id,
                    digest: hex_lower(&e.digest),
                    item: e.item.as_ref().map(|i| BASE64.encode(i)),
                })
                .collect(),
        }
    }
}
