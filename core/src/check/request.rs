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
    /// Re-verifying records after the fact (the receiver): revocation is judged with every
    /// list held, a later one included ([`crate::verify::x509::check_revocation_among`]).
    pub(crate) after_the_fact: bool,
}

impl Verifier {
    pub fn new(anchors: TrustAnchors) -> Self {
        Self {
            anchors,
            revocation_lists: Vec::new(),
            allow_sha1: false,
            known: KnownCertificates::default(),
            mdoc_anchors: crate::mdoc::IssuerAnchors::default(),
            after_the_fact: false,
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

    /// For re-verifying records after the fact, as the receiver does: a record's revocation is
    /// judged with every list held for its issuer, lists issued after its check time included,
    /// and any list that revokes the certificate on or before that time fails it
    /// ([`crate::verify::x509::check_revocation_among`]). A door check (at the current time)
    /// keeps choosing the one list current now.
    pub fn re_verifying_after_the_fact(mut self) -> Self {
        self.after_the_fact = true;
        self
    }

    pub fn anchors(&self) -> &TrustAnchors {
        &self.anchors
    }

    /// The revocation lists, as given.
    pub fn revocation_lists(&self) -> &[RevocationList] {
        &self.revocation_lists
    }

    /// The phone issuers' anchors.
    pub fn mdoc_anchors(&self) -> &crate::mdoc::IssuerAnchors {
        &self.mdoc_anchors
    }

    /// Whether SHA-1 certificate signatures are accepted ([`Self::allowing_sha1`]).
    pub fn allows_sha1(&self) -> bool {
        self.allow_sha1
    }

    /// Forgets the CA certificates earlier checks verified, so the next check reads them
    /// from the card again (benchmarks of a device's first check; after changing the anchors a
    /// new verifier is made anyway).
    pub fn forget_known_certificates(&self) {
        self.known.clear();
    }
}
