//! What a check needs: the verifier's configuration and the parcel it is for.

use super::known::KnownCertificates;
use crate::verify::addressee::Addressee;
use crate::verify::x509::{RevocationList, TrustAnchors};

/// The parcel, sender and device a check is bound to, and the addressee to match.
#[derive(Debug, Clone)]
pub struct CheckRequest {
    pub item_id: String,
    pub sender_id: String,
    pub device_id: String,
    pub addressee: Option<Addressee>,
}

/// The verifier's configuration: trust anchors (JPKI roots and card-data issuers) and, where the
/// operator is entitled to them, revocation lists; and the certificates its checks have verified,
/// which later checks need not read from the card again (see `known.rs`).
pub struct Verifier {
    pub(crate) anchors: TrustAnchors,
    pub(crate) revocation_lists: Vec<RevocationList>,
    pub(crate) allow_sha1: bool,
    pub(crate) known: KnownCertificates,
    /// The phone issuers' IACA anchors, for re-verifying level-M records.
    pub(crate) mdoc_anchors: crate::mdoc::IssuerAnchors,
}

impl Verifier {
    pub fn new(anchors: TrustAnchors) -> Self {
        Self {
            anchors,
            revocation_lists: Vec::new(),
            allow_sha1: false,
            known: KnownCertificates::default(),
            mdoc_anchors: crate::mdoc::IssuerAnchors::default(),
        }
    }

    /// Adds the phone issuers' anchors (level-M records are re-verified under them).
    pub fn with_mdoc_anchors(mut self, anchors: crate::mdoc::IssuerAnchors) -> Self {
        self.mdoc_anchors = anchors;
        self
    }

    pub fn with_revocation_lists(mut self, lists: Vec<RevocationList>) -> Self {
        self.revocation_lists = lists;
        self
    }

    /// Accepts SHA-1 certificate signatures (reported as such): only for a card profile known to
    /// use them.
    pub fn allowing_sha1(mut self) -> Self {
        self.allow_sha1 = true;
        self
    }

    pub fn anchors(&self) -> &TrustAnchors {
        &self.anchors
    }

    /// Forgets the CA certificates earlier checks verified, so the next check reads them
    /// from the card again (benchmarks of a device's first check; after changing the anchors a
    /// new verifier is made anyway).
    pub fn forget_known_certificates(&self) {
        self.known.clear();
    }
}
