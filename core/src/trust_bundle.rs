//! The trust bundle: the J-LIS trust anchors, the latest revocation lists and (format v2) the
//! sender's phone issuer anchors, signed by the receiver and carried to the devices by sync, so
//! the door check can check revocation on the device, offline, with lists it received, and a
//! level-M check trusts the phone issuers the operator chose.
//!
//! The operator loads anchors and CRLs into the receiver (`honnin-receiver trust-load`); each
//! load is a new bundle with a higher `serial`. A device fetches the bundle on every sync
//! (`GET /v1/trust-bundle`, signed like a manifest request), verifies the receiver's ECDSA P-256
//! signature over the canonical JSON of the body with the receipt key learnt at enrolment (as
//! for the item manifest, [`crate::manifest`]), and keeps the last good one. A bundle with a
//! lower serial than the one kept is refused (a replayed old bundle could bring back a retired
//! anchor or hide a revocation).
//!
//! Freshness is never silent. A bundle is valid until its `expires_at`; after that its lists
//! are still handed to the verifier, but marked ([`RevocationList::delivered_by`]) so that the
//! revocation check fails with `revocation_list_invalid` and says the bundle expired. Each
//! list is also judged by its own `nextUpdate`. The check's detail names the list used (its
//! issuer, when it was issued and how old it is) and the bundle it came from.
//!
//! [`kept`]: what every device does with the bundle it keeps between syncs (verify it again,
//! its serial for the rollback check, a verifier from it, its freshness, the file).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::mdoc::IssuerAnchors;
use crate::record::canonical::to_canonical_bytes;
use crate::record::{DeviceKey, DeviceSigner, RecordError};
use crate::verify::UnixTime;
use crate::verify::x509::{ListSource, RevocationList, TrustAnchors};

/// The value of `format` in a bundle without phone issuer anchors (every device reads it).
pub const TRUST_BUNDLE_FORMAT: &str = "honnin.trust-bundle.v1";
/// The value of `format` in a bundle that may carry phone issuer anchors (`mdoc_anchors`).
pub const TRUST_BUNDLE_FORMAT_V2: &str = "honnin.trust-bundle.v2";
/// Most anchors one bundle may carry (the J-LIS roots of a few generations, card-data issuers).
pub const MAX_ANCHORS: usize = 64;
/// Most revocation lists one bundle may carry.
pub const MAX_LISTS: usize = 64;
/// Longest label of an anchor or list, in characters.
pub const MAX_LABEL_CHARS: usize = 128;

/// One trust anchor: an X.509 certificate, its purpose read from it as for `--trust-anchors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleAnchor {
    /// What the operator called it (its file name), for messages.
    pub label: String,
    /// Base64 DER.
    pub certificate: String,
}

/// One revocation list as J-LIS publishes it (X.509 v2 CRL, DER).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleList {
    pub label: String,
    /// Base64 DER.
    pub crl: String,
    /// The list's thisUpdate and nextUpdate (Unix seconds), repeated for readers of the JSON;
    /// the device reads them from the signed list itself.
    pub this_update: i64,
    pub next_update: Option<i64>,
}

/// What the receiver signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustBundleBody {
    pub format: String,
    /// One more per operator load; a device never goes back to a lower one.
    pub serial: u64,
    /// When the receiver signed it (Unix seconds).
    pub issued_at: i64,
    /// After this the bundle's lists no longer count as current (Unix seconds).
    pub expires_at: i64,
    pub anchors: Vec<BundleAnchor>,
    pub lists: Vec<BundleList>,
    /// The phone issuers' IACA certificates (ISO/IEC 18013-5), trusted for level-M checks; v2
    /// only, and left out when empty (see the module docs on versions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mdoc_anchors: Vec<BundleAnchor>,
}

/// A bundle with the receiver's signature: `{"bundle": <body>, "signature": <base64 r‖s>}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedTrustBundle {
    pub bundle: TrustBundleBody,
    pub signature: String,
}

/// Why a bundle is not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustBundleError {
    #[error("the trust bundle is not signed by the receiver's key; the previous one is kept")]
    BadSignature,
    #[error(
        "the trust bundle has an unknown format {found:?}; this honnin reads {TRUST_BUNDLE_FORMAT}"
    )]
    UnknownFormat { found: String },
    #[error(
        "the trust bundle is number {found}, older than number {kept} this device keeps: refused (a replayed bundle could bring back a retired anchor)"
    )]
    Rollback { kept: u64, found: u64 },
    #[error("the trust bundle is dated in the future ({issued_at}); check the device clock")]
    NotYetValid { issued_at: i64 },
    #[error("the trust bundle is not valid: {why}")]
    Invalid { why: String },
}

fn invalid(why: impl Into<String>) -> TrustBundleError {
    TrustBundleError::Invalid { why: why.into() }
}

impl SignedTrustBundle {
    /// Signs `bundle` with the receiver's key after checking every anchor and list parses.
    pub fn sign(
        bundle: TrustBundleBody,
        signer: &dyn DeviceSigner,
        key: &DeviceKey,
    ) -> Result<Self, RecordError> {
        parse_contents(&bundle).map_err(|e| RecordError::Malformed { why: e.to_string() })?;
        let bytes = body_bytes(&bundle).map_err(|why| RecordError::Malformed { why })?;
        let returned = signer.sign(&bytes)?;
        let signature = key.accept_signature(&bytes, &returned)?;
        Ok(Self {
            bundle,
            signature: BASE64.encode(signature),
        })
    }

    /// Parses a bundle as the receiver sends it (and as the device keeps it).
    pub fn from_json(bytes: &[u8]) -> Result<Self, TrustBundleError> {
        serde_json::from_slice(bytes).map_err(|e| invalid(format!("not a trust bundle: {e}")))
    }

    pub fn to_json(&self) -> Vec<u8> {
        // Strings, integers and lists: serialisation cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Checks the receiver's signature, the format, the date and every anchor and list, and
    /// that the bundle is not older than `kept_serial` (the one the device has). An expired
    /// bundle verifies: its age is reported where it is used ([`VerifiedTrustBundle`]).
    pub fn verify(
        &self,
        receiver_key: &DeviceKey,
        kept_serial: Option<u64>,
        now: UnixTime,
    ) -> Result<VerifiedTrustBundle, TrustBundleError> {
        let body = &self.bundle;
        if body.format != TRUST_BUNDLE_FORMAT && body.format != TRUST_BUNDLE_FORMAT_V2 {
            return Err(TrustBundleError::UnknownFormat {
                found: body.format.chars().take(MAX_LABEL_CHARS).collect(),
            });
        }
        let bytes = body_bytes(body).map_err(invalid)?;
        let signature = BASE64
            .decode(self.signature.as_bytes())
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .ok_or(TrustBundleError::BadSignature)?;
        if !receiver_key.verifies(&bytes, &signature) {
            return Err(TrustBundleError::BadSignature);
        }
        if let Some(kept) = kept_serial
            && body.serial < kept
        {
            return Err(TrustBundleError::Rollback {
                kept,
                found: body.serial,
            });
        }
        // A little slack for clocks that differ by a few minutes, as for manifests.
        if body.issued_at > now.0.saturating_add(300) {
            return Err(TrustBundleError::NotYetValid {
                issued_at: body.issued_at,
            });
        }
        let (anchors, lists, mdoc_anchors) = parse_contents(body)?;
        Ok(VerifiedTrustBundle {
            serial: body.serial,
            issued_at: body.issued_at,
            expires_at: body.expires_at,
            anchors,
            lists,
            mdoc_anchors,
        })
    }
}

/// A bundle whose signature, serial and contents were checked.
#[derive(Debug, Clone)]
pub struct VerifiedTrustBundle {
    pub serial: u64,
    pub issued_at: i64,
    pub expires_at: i64,
    anchors: TrustAnchors,
    lists: Vec<RevocationList>,
    mdoc_anchors: IssuerAnchors,
}

impl VerifiedTrustBundle {
    /// The bundle's anchors (trusted by key, each for the purpose its certificate states).
    pub fn anchors(&self) -> &TrustAnchors {
        &self.anchors
    }

    /// The phone issuers' anchors (IACA, P-256) for level-M checks; empty in a v1 bundle.
    pub fn mdoc_anchors(&self) -> &IssuerAnchors {
        &self.mdoc_anchors
    }

    /// The bundle's revocation lists, each marked with this bundle (serial, issue date and
    /// expiry), so the revocation check names it and refuses its lists once it expired.
    pub fn revocation_lists(&self) -> Vec<RevocationList> {
        let source = ListSource {
            name: format!(
                "trust bundle {} issued {}",
                self.serial,
                crate::verify::x509::date(self.issued_at)
            ),
            expires_at: self.expires_at,
        };
        self.lists
            .iter()
            .cloned()
            .map(|list| list.delivered_by(source.clone()))
            .collect()
    }

    /// Whether the bundle is past its `expires_at` at `now`.
    pub fn is_expired(&self, now: UnixTime) -> bool {
        now.0 > self.expires_at
    }

    /// Its age at `now`, in whole hours (0 for a bundle from the future within the slack).
    pub fn age_hours(&self, now: UnixTime) -> i64 {
        now.0.saturating_sub(self.issued_at).max(0) / 3600
    }
}

fn body_bytes(body: &TrustBundleBody) -> Result<Vec<u8>, String> {
    let value = serde_json::to_value(body).map_err(|e| e.to_string())?;
    to_canonical_bytes(&value).map_err(|e| e.to_string())
}

fn check_label(label: &str) -> Result<(), TrustBundleError> {
    if label.trim().is_empty()
        || label.chars().count() > MAX_LABEL_CHARS
        || label.chars().any(char::is_control)
    {
        return Err(invalid(format!(
            "a label is empty, longer than {MAX_LABEL_CHARS} characters or has control characters"
        )));
    }
    Ok(())
}

/// The anchors and lists of `body`, each parsed; limits and labels checked.
fn parse_contents(
    body: &TrustBundleBody,
) -> Result<(TrustAnchors, Vec<RevocationList>, IssuerAnchors), TrustBundleError> {
    if body.expires_at <= body.issued_at {
        return Err(invalid("it expires before it was issued"));
    }
    if body.anchors.is_empty() {
        return Err(invalid("it has no trust anchor"));
    }
    if body.anchors.len() > MAX_ANCHORS
        || body.lists.len() > MAX_LISTS
        || body.mdoc_anchors.len() > MAX_ANCHORS
    {
        return Err(invalid(format!(
            "it has {} anchors, {} lists and {} phone issuer anchors; at most {MAX_ANCHORS}, {MAX_LISTS} and {MAX_ANCHORS}",
            body.anchors.len(),
            body.lists.len(),
            body.mdoc_anchors.len()
        )));
    }
    if body.format == TRUST_BUNDLE_FORMAT && !body.mdoc_anchors.is_empty() {
        return Err(invalid(format!(
            "a {TRUST_BUNDLE_FORMAT} bundle carries no phone issuer anchors; use {TRUST_BUNDLE_FORMAT_V2}"
        )));
    }
    let entries = BundleEntries::decode(&body.anchors, &body.lists, &body.mdoc_anchors)?;
    let anchors =
        TrustAnchors::from_der(entries.anchor_certificates).map_err(|e| invalid(e.to_string()))?;
    let mdoc_anchors = IssuerAnchors::from_der(&entries.mdoc_certificates)
        .map_err(|e| invalid(format!("phone issuer anchors: {e}")))?;
    Ok((anchors, entries.lists, mdoc_anchors))
}

/// A bundle's entries decoded: each anchor's and phone issuer anchor's certificate (DER), each
/// list parsed. The certificates stay DER so that a holder of other anchors (the receiver, with
/// `serve`'s own) can build one set from both.
#[derive(Debug, Clone)]
pub struct BundleEntries {
    pub anchor_certificates: Vec<Vec<u8>>,
    pub lists: Vec<RevocationList>,
    pub mdoc_certificates: Vec<Vec<u8>>,
}

impl BundleEntries {
    /// Decodes `anchors`, `lists` and `mdoc_anchors`: labels checked, base64 decoded, lists
    /// parsed and their stated dates checked against the lists' own.
    pub fn decode(
        anchors: &[BundleAnchor],
        lists: &[BundleList],
        mdoc_anchors: &[BundleAnchor],
    ) -> Result<Self, TrustBundleError> {
        let certificate = |what: &str, anchor: &BundleAnchor| {
            check_label(&anchor.label)?;
            BASE64
                .decode(anchor.certificate.as_bytes())
                .map_err(|_| invalid(format!("{what} {:?} is not base64", anchor.label)))
        };
        let anchor_certificates = anchors
            .iter()
            .map(|anchor| certificate("anchor", anchor))
            .collect::<Result<_, _>>()?;
        let mut parsed = Vec::with_capacity(lists.len());
        for entry in lists {
            check_label(&entry.label)?;
            let der = BASE64
                .decode(entry.crl.as_bytes())
                .map_err(|_| invalid(format!("list {:?} is not base64", entry.label)))?;
            let list = RevocationList::from_der(&der)
                .map_err(|e| invalid(format!("list {:?}: {e}", entry.label)))?;
            if list.this_update().0 != entry.this_update
                || list.next_update().map(|t| t.0) != entry.next_update
            {
                return Err(invalid(format!(
                    "list {:?}: its stated dates are not the list's own",
                    entry.label
                )));
            }
            parsed.push(list);
        }
        let mdoc_certificates = mdoc_anchors
            .iter()
            .map(|anchor| certificate("phone issuer anchor", anchor))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            anchor_certificates,
            lists: parsed,
            mdoc_certificates,
        })
    }
}

#[path = "trust_bundle_kept.rs"]
pub mod kept;

#[cfg(test)]
#[path = "trust_bundle_tests.rs"]
mod tests;
