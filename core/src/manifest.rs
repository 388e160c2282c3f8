//! The item manifest: the items a device carries, with each addressee and each sender's policy,
//! signed by the receiver so the door check works offline with data the device can trust.
//!
//! A sender registers its items with the receiver (item id, addressee, minimum level, the
//! attributes it wants back). While online, a device downloads the manifest of the items
//! assigned to it (format `honnin.manifest.v1`), verifies the receiver's ECDSA P-256 signature
//! over the canonical JSON of the body with the receipt key learnt at enrolment, and keeps it in
//! its encrypted store ([`crate::store::Store::save_manifest`]). At the door, the courier enters
//! the item id and the device looks the item up here: the addressee to match and the lowest
//! level the sender accepts. An item that is not in the manifest is typed in by hand, and the
//! record says no policy was known (the sender sees it).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::check::{CheckRequest, Level};
use crate::record::canonical::to_canonical_bytes;
use crate::record::{AttributePolicy, DeviceKey, DeviceSigner, RecordError};
use crate::verify::UnixTime;
use crate::verify::addressee::Addressee;

/// The value of `format` in every manifest of this version.
pub const MANIFEST_FORMAT: &str = "honnin.manifest.v1";
/// Most items one manifest may list (a courier's round is a few hundred).
pub const MAX_ITEMS: usize = 10_000;
/// Longest item id, sender id or device id, in characters.
pub const MAX_ID_CHARS: usize = 64;
/// Longest addressee name or address, in characters.
pub const MAX_TEXT_CHARS: usize = 256;

/// One item as the sender registered it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestItem {
    pub item_id: String,
    pub sender_id: String,
    /// The name printed on the parcel.
    pub addressee_name: String,
    /// The delivery address, when the sender wants it matched against the card.
    pub addressee_address: Option<String>,
    /// The lowest level the sender accepts: `A`, `B` or `C`.
    pub min_level: String,
    /// The holder's attributes the sender wants in its record (`name`, `address`,
    /// `birth_date`, `sex`), in that order.
    pub attributes: Vec<String>,
}

impl ManifestItem {
    /// The item typed, after checking every field (ids, level, attributes, addressee): what a
    /// receiver runs when a sender registers an item, and a device when it reads a manifest.
    pub fn policy(&self) -> Result<ItemPolicy, ManifestError> {
        check_id("an item id", &self.item_id)?;
        check_id("a sender id", &self.sender_id)?;
        check_text("addressee name", &self.item_id, &self.addressee_name)?;
        if let Some(address) = &self.addressee_address {
            check_text("addressee address", &self.item_id, address)?;
        }
        let min_level: Level = self
            .min_level
            .parse()
            .map_err(|e| invalid(format!("item {}: {e}", self.item_id)))?;
        let attributes: AttributePolicy = self
            .attributes
            .join(",")
            .parse()
            .map_err(|e| invalid(format!("item {}: {e}", self.item_id)))?;
        Ok(ItemPolicy {
            item_id: self.item_id.clone(),
            sender_id: self.sender_id.clone(),
            addressee: Addressee {
                name: self.addressee_name.clone(),
                address: self.addressee_address.clone(),
                birth_date: None,
            },
            min_level,
            attributes,
        })
    }
}

impl std::fmt::Debug for ManifestItem {
    // Addressee data is personal: debug output names the item only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ManifestItem({}, {})", self.item_id, self.sender_id)
    }
}

/// What the receiver signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestBody {
    pub format: String,
    /// The device the manifest was made for; another device refuses it.
    pub device_id: String,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds; after this the device stops using the manifest and asks for a new one.
    pub expires_at: i64,
    pub items: Vec<ManifestItem>,
}

/// A manifest with the receiver's signature: `{"manifest": <body>, "signature": <base64 r‖s>}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedManifest {
    pub manifest: ManifestBody,
    pub signature: String,
}

/// Why a manifest is not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error("the manifest is not signed by the receiver's key; download it again")]
    BadSignature,
    #[error("the manifest has an unknown format {found:?}; this honnin reads {MANIFEST_FORMAT}")]
    UnknownFormat { found: String },
    #[error("the manifest was made for device {found:?}, not this device ({expected:?})")]
    OtherDevice { expected: String, found: String },
    #[error("the manifest expired at {expired_at} (Unix seconds); download a new one when online")]
    Expired { expired_at: i64 },
    #[error("the manifest is dated in the future ({issued_at}); check the device clock")]
    NotYetValid { issued_at: i64 },
    #[error("the manifest is not valid: {why}")]
    Invalid { why: String },
}

impl SignedManifest {
    /// Signs `manifest` with the receiver's key after checking it is well formed.
    pub fn sign(
        manifest: ManifestBody,
        signer: &dyn DeviceSigner,
        key: &DeviceKey,
    ) -> Result<Self, RecordError> {
        validate(&manifest).map_err(|e| RecordError::Malformed { why: e.to_string() })?;
        let bytes = body_bytes(&manifest).map_err(|why| RecordError::Malformed { why })?;
        let returned = signer.sign(&bytes)?;
        let signature = key.accept_signature(&bytes, &returned)?;
        Ok(Self {
            manifest,
            signature: BASE64.encode(signature),
        })
    }

    /// Parses a manifest as the receiver sends it.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ManifestError> {
        serde_json::from_slice(bytes).map_err(|e| ManifestError::Invalid {
            why: format!("not a manifest: {e}"),
        })
    }

    pub fn to_json(&self) -> Vec<u8> {
        // Plain strings, numbers and lists: serialisation cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Checks the receiver's signature, the device, the validity window and every item;
    /// the manifest's items can be looked up only after this.
    pub fn verify(
        &self,
        receiver_key: &DeviceKey,
        device_id: &str,
        now: UnixTime,
    ) -> Result<VerifiedManifest, ManifestError> {
        let body = &self.manifest;
        if body.format != MANIFEST_FORMAT {
            return Err(ManifestError::UnknownFormat {
                found: body.format.chars().take(MAX_ID_CHARS).collect(),
            });
        }
        let bytes = body_bytes(body).map_err(|why| ManifestError::Invalid { why })?;
        let signature = BASE64
            .decode(self.signature.as_bytes())
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .ok_or(ManifestError::BadSignature)?;
        if !receiver_key.verifies(&bytes, &signature) {
            return Err(ManifestError::BadSignature);
        }
        if body.device_id != device_id {
            return Err(ManifestError::OtherDevice {
                expected: device_id.to_owned(),
                found: body.device_id.clone(),
            });
        }
        let now = now.0;
        if now >= body.expires_at {
            return Err(ManifestError::Expired {
                expired_at: body.expires_at,
            });
        }
        // A little slack for clocks that differ by a few minutes.
        if body.issued_at > now.saturating_add(300) {
            return Err(ManifestError::NotYetValid {
                issued_at: body.issued_at,
            });
        }
        let items = validate(body)?;
        Ok(VerifiedManifest {
            device_id: body.device_id.clone(),
            issued_at: body.issued_at,
            expires_at: body.expires_at,
            items,
        })
    }
}

/// A manifest whose signature, device and validity were checked.
#[derive(Debug, Clone)]
pub struct VerifiedManifest {
    pub device_id: String,
    pub issued_at: i64,
    pub expires_at: i64,
    items: Vec<ItemPolicy>,
}

impl VerifiedManifest {
    /// The item with this id (compared exactly, after trimming the courier's typing).
    pub fn item(&self, item_id: &str) -> Option<&ItemPolicy> {
        let wanted = item_id.trim();
        self.items.iter().find(|item| item.item_id == wanted)
    }

    pub fn items(&self) -> &[ItemPolicy] {
        &self.items
    }
}

/// One item of a verified manifest, typed.
#[derive(Debug, Clone)]
pub struct ItemPolicy {
    pub item_id: String,
    pub sender_id: String,
    pub addressee: Addressee,
    pub min_level: Level,
    pub attributes: AttributePolicy,
}

impl ItemPolicy {
    /// Whether a check at `level` satisfies the sender's policy (a higher level always does).
    pub fn allows(&self, level: Level) -> bool {
        level >= self.min_level
    }

    /// The levels the courier may choose for this item, lowest first.
    pub fn allowed_levels(&self) -> Vec<Level> {
        [Level::A, Level::B, Level::C]
            .into_iter()
            .filter(|level| self.allows(*level))
            .collect()
    }

    /// The door check's request for this item on `device_id`.
    pub fn check_request(&self, device_id: &str) -> CheckRequest {
        CheckRequest {
            item_id: self.item_id.clone(),
            sender_id: self.sender_id.clone(),
            device_id: device_id.to_owned(),
            addressee: Some(self.addressee.clone()),
        }
    }
}

fn body_bytes(body: &ManifestBody) -> Result<Vec<u8>, String> {
    let value = serde_json::to_value(body).map_err(|e| e.to_string())?;
    to_canonical_bytes(&value).map_err(|e| e.to_string())
}

fn invalid(why: String) -> ManifestError {
    ManifestError::Invalid { why }
}

/// Checks an id (item, sender, device): non-empty, no surrounding spaces or control characters,
/// at most [`MAX_ID_CHARS`].
pub fn check_id(what: &str, value: &str) -> Result<(), ManifestError> {
    if value.trim().is_empty() || value.trim() != value {
        return Err(invalid(format!(
            "{what} {value:?} is empty or has surrounding spaces"
        )));
    }
    if value.chars().count() > MAX_ID_CHARS || value.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{what} is longer than {MAX_ID_CHARS} characters or has control characters"
        )));
    }
    Ok(())
}

fn check_text(what: &str, item_id: &str, value: &str) -> Result<(), ManifestError> {
    if value.trim().is_empty() || value.chars().count() > MAX_TEXT_CHARS {
        return Err(invalid(format!(
            "item {item_id}: the {what} is empty or longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(())
}

/// Every item well formed, ids unique; the typed items.
fn validate(body: &ManifestBody) -> Result<Vec<ItemPolicy>, ManifestError> {
    check_id("the device id", &body.device_id)?;
    if body.expires_at <= body.issued_at {
        return Err(invalid("it expires before it was issued".into()));
    }
    if body.items.len() > MAX_ITEMS {
        return Err(invalid(format!(
            "it lists {} items, more than {MAX_ITEMS}",
            body.items.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    let mut items = Vec::with_capacity(body.items.len());
    for item in &body.items {
        if !seen.insert(item.item_id.as_str()) {
            return Err(invalid(format!("item {} is listed twice", item.item_id)));
        }
        items.push(item.policy()?);
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SoftwareSigner;

    const NOW: i64 = 1_795_564_800;

    fn item(id: &str, level: &str) -> ManifestItem {
        ManifestItem {
            item_id: id.into(),
            sender_id: "demo-bank".into(),
            addressee_name: "試験 花子".into(),
            addressee_address: None,
            min_level: level.into(),
            attributes: vec!["name".into(), "birth_date".into()],
        }
    }

    fn body(items: Vec<ManifestItem>) -> ManifestBody {
        ManifestBody {
            format: MANIFEST_FORMAT.into(),
            device_id: "handheld-01".into(),
            issued_at: NOW - 60,
            expires_at: NOW + 86_400,
            items,
        }
    }

    fn receiver() -> SoftwareSigner {
        SoftwareSigner::from_secret_bytes(&[9; 32]).expect("key")
    }

    fn signed(items: Vec<ManifestItem>) -> SignedManifest {
        let key = receiver();
        SignedManifest::sign(body(items), &key, key.device_key()).expect("signs")
    }

    #[test]
    fn a_signed_manifest_gives_each_items_policy() {
        let manifest = signed(vec![item("JP-0001", "B"), item("JP-0002", "A")]);
        let bytes = manifest.to_json();
        let parsed = SignedManifest::from_json(&bytes).expect("parses");
        let verified = parsed
            .verify(receiver().device_key(), "handheld-01", UnixTime(NOW))
            .expect("verifies");
        let first = verified.item(" JP-0001 ").expect("listed");
        assert_eq!(first.min_level, Level::B);
        assert!(!first.allows(Level::A));
        assert!(first.allows(Level::C));
        assert_eq!(first.allowed_levels(), vec![Level::B, Level::C]);
        assert_eq!(first.attributes.names(), vec!["name", "birth_date"]);
        let request = first.check_request("handheld-01");
        assert_eq!(request.item_id, "JP-0001");
        assert_eq!(request.sender_id, "demo-bank");
        assert_eq!(
            request.addressee.map(|a| a.name),
            Some("試験 花子".to_owned())
        );
        assert!(verified.item("JP-0003").is_none());
    }

    #[test]
    fn an_edited_manifest_or_another_key_is_refused() {
        let mut manifest = signed(vec![item("JP-0001", "C")]);
        manifest.manifest.items[0].min_level = "A".into();
        assert_eq!(
            manifest
                .verify(receiver().device_key(), "handheld-01", UnixTime(NOW))
                .err(),
            Some(ManifestError::BadSignature)
        );
        let manifest = signed(vec![item("JP-0001", "C")]);
        let other = SoftwareSigner::from_secret_bytes(&[8; 32]).expect("key");
        assert_eq!(
            manifest
                .verify(other.device_key(), "handheld-01", UnixTime(NOW))
                .err(),
            Some(ManifestError::BadSignature)
        );
    }

    #[test]
    fn another_devices_or_an_expired_manifest_is_refused() {
        let manifest = signed(vec![item("JP-0001", "B")]);
        let key = receiver();
        assert!(matches!(
            manifest.verify(key.device_key(), "handheld-02", UnixTime(NOW)),
            Err(ManifestError::OtherDevice { .. })
        ));
        assert_eq!(
            manifest
                .verify(key.device_key(), "handheld-01", UnixTime(NOW + 86_400))
                .err(),
            Some(ManifestError::Expired {
                expired_at: NOW + 86_400
            })
        );
        assert!(matches!(
            manifest.verify(key.device_key(), "handheld-01", UnixTime(NOW - 3_600)),
            Err(ManifestError::NotYetValid { .. })
        ));
    }

    #[test]
    fn malformed_items_are_refused_when_signing() {
        let key = receiver();
        for (items, why) in [
            (vec![item("JP-1", "B"), item("JP-1", "A")], "listed twice"),
            (vec![item("JP-1", "D")], "unknown level"),
            (vec![item(" JP-1", "A")], "surrounding spaces"),
            (
                vec![ManifestItem {
                    attributes: vec!["individual_number".into()],
                    ..item("JP-1", "A")
                }],
                "unknown attribute",
            ),
            (
                vec![ManifestItem {
                    addressee_name: " ".into(),
                    ..item("JP-1", "A")
                }],
                "addressee name",
            ),
        ] {
            let error = SignedManifest::sign(body(items), &key, key.device_key())
                .expect_err("refused")
                .to_string();
            assert!(error.contains(why), "{error} should say {why}");
        }
    }

    #[test]
    fn garbage_is_a_typed_error() {
        assert!(matches!(
            SignedManifest::from_json(b"{\"manifest\": 1}"),
            Err(ManifestError::Invalid { .. })
        ));
        let mut manifest = signed(vec![item("JP-1", "A")]);
        manifest.signature = "not base64".into();
        assert_eq!(
            manifest
                .verify(receiver().device_key(), "handheld-01", UnixTime(NOW))
                .err(),
            Some(ManifestError::BadSignature)
        );
    }
}
