//! What a phone check keeps for the sender: everything needed to re-verify the document and the
//! device signature, and nothing more (BRIEF.md "What goes to a sender is minimal").
//!
//! - `issuer_auth`: the issuer's COSE_Sign1 with the MSO and the document signer certificate;
//! - `elements`: for every returned element its namespace, identifier, digest id and SHA-256
//!   digest, and — only for the attributes the sender's policy names — the IssuerSignedItem
//!   bytes themselves, so the sender recomputes the digest over the value it stores. The
//!   portrait is never kept, only its digest;
//! - `session_transcript`, `doc_type`, `device_namespaces` and `device_signature`: the inputs of
//!   DeviceAuthentication and the phone's signature over it, so the sender re-verifies that the
//!   phone held the key the issuer bound the document to, in this session.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::profile::MdocProfile;
use super::response::Document;
use crate::record::AttributePolicy;

/// One returned element as the record keeps it.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct ElementEvidence {
    pub namespace: String,
    pub element: String,
    pub digest_id: u64,
    /// SHA-256 of the tagged IssuerSignedItem.
    pub digest: [u8; 32],
    /// The tagged IssuerSignedItem, only for attributes the policy asks the record to keep.
    #[serde(skip)]
    pub item: Option<Vec<u8>>,
}

impl std::fmt::Debug for ElementEvidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ElementEvidence({}, kept: {})",
            self.element,
            self.item.is_some()
        )
    }
}

/// The evidence of one phone check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MdocEvidence {
    pub doc_type: String,
    #[serde(skip)]
    pub issuer_auth: Vec<u8>,
    #[serde(skip)]
    pub session_transcript: Vec<u8>,
    #[serde(skip)]
    pub device_namespaces: Vec<u8>,
    /// The device's COSE_Sign1 (detached payload); `None` when the phone sent a MAC.
    #[serde(skip)]
    pub device_signature: Option<Vec<u8>>,
    pub elements: Vec<ElementEvidence>,
}

impl MdocEvidence {
    pub(crate) fn new(
        document: &Document,
        session_transcript: Vec<u8>,
        device_signature: Option<Vec<u8>>,
        profile: &MdocProfile,
        policy: AttributePolicy,
    ) -> Self {
        let kept = |element: &str| {
            (policy.name && (element == profile.family_name || element == profile.given_name))
                || (policy.address && element == profile.resident_address)
                || (policy.birth_date && element == profile.birth_date)
                || (policy.sex && element == profile.sex)
        };
        let elements = document
            .items
            .iter()
            .map(|item| ElementEvidence {
                namespace: item.namespace.clone(),
                element: item.element.clone(),
                digest_id: item.digest_id,
                digest: Sha256::digest(&item.tagged_bytes).into(),
                item: (item.element != profile.portrait && kept(&item.element))
                    .then(|| item.tagged_bytes.clone()),
            })
            .collect();
        Self {
            doc_type: document.doc_type.clone(),
            issuer_auth: document.issuer_auth.clone(),
            session_transcript,
            device_namespaces: document.device_namespaces.clone(),
            device_signature,
            elements,
        }
    }
}
