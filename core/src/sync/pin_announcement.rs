//! The receiver's TLS key pins, announced in a message signed by its receipt key, so a device
//! that pins the TLS key can follow a TLS key rotation without being enrolled again.
//!
//! Before the operator replaces the TLS key, it announces the next key's pin
//! (`honnin-receiver announce-tls-key`). From then on, `GET /v1/receipt-key` carries
//! `tls_pins`: `{"announcement": <body>, "signature": <base64 r‖s>}`, the receipt key's ECDSA
//! P-256 signature over the canonical JSON of a [`PinAnnouncementBody`] listing the key served
//! now and the announced next ones. A device that verifies it with the receipt key it trusts
//! keeps the listed pins in place of the ones it kept, and accepts any of them
//! ([`super::TlsTrust::PinnedSet`], feature `sync-client`): once the operator switches keys,
//! its next sync connects with the new one. Each announcement is signed when served
//! (`issued_at`), and one older than the kept one is refused, so a replayed announcement cannot
//! bring back a retired key. The set is replaced, never merged: a key the receiver no longer
//! lists is dropped at the next sync.
//!
//! A device that never saw an announcement is refused by the new key with
//! `TlsRefusal::PinMismatch` and must be enrolled again with the new pin, as before.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::pin::SpkiPin;
use crate::record::canonical::to_canonical_bytes;
use crate::record::{DeviceKey, DeviceSigner, RecordError};

/// The value of `format` in every announcement of this version.
pub const PIN_ANNOUNCEMENT_FORMAT: &str = "honnin.tls-pins.v1";
/// Most pins one announcement may list (the key served now and a few next ones).
pub const MAX_ANNOUNCED_PINS: usize = 8;
/// Slack for a device clock a few minutes behind the receiver's, as for manifests.
const CLOCK_SLACK_SECONDS: i64 = 300;

/// What the receipt key states: the receiver's TLS key is one of `pins`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinAnnouncementBody {
    pub format: String,
    /// The key served now first, then the announced next ones.
    pub pins: Vec<SpkiPin>,
    /// When the receiver signed it (Unix seconds).
    pub issued_at: i64,
}

/// An announcement with the receipt key's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedPinAnnouncement {
    pub announcement: PinAnnouncementBody,
    pub signature: String,
}

/// Why an announcement is not taken; the pins kept before stay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PinAnnouncementError {
    #[error(
        "the TLS pin announcement has an unknown format; this honnin reads {PIN_ANNOUNCEMENT_FORMAT}"
    )]
    UnknownFormat,
    #[error(
        "the TLS pin announcement is not signed by the receiver's receipt key: its pins are not trusted"
    )]
    BadSignature,
    #[error("the TLS pin announcement lists {0} pins; it must list 1 to {MAX_ANNOUNCED_PINS}")]
    BadPinCount(usize),
    #[error(
        "the TLS pin announcement was signed at {found}, before the one kept ({kept}): refused (a replayed announcement could bring back a retired key)"
    )]
    Stale { kept: i64, found: i64 },
    #[error("the TLS pin announcement is dated in the future ({0}); check the device clock")]
    NotYetValid(i64),
    #[error("the TLS pin announcement cannot be encoded canonically")]
    NotCanonical,
}

/// Pins an announcement gave, after it verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnouncedPins {
    pub pins: Vec<SpkiPin>,
    pub issued_at: i64,
}

fn body_bytes(body: &PinAnnouncementBody) -> Result<Vec<u8>, PinAnnouncementError> {
    let value = serde_json::to_value(body).map_err(|_| PinAnnouncementError::NotCanonical)?;
    to_canonical_bytes(&value).map_err(|_| PinAnnouncementError::NotCanonical)
}

impl SignedPinAnnouncement {
    /// `pins` (duplicates dropped, order kept) signed by the receipt key of `signer`.
    pub fn sign(
        pins: &[SpkiPin],
        issued_at: i64,
        signer: &dyn DeviceSigner,
        key: &DeviceKey,
    ) -> Result<Self, RecordError> {
        let mut unique: Vec<SpkiPin> = Vec::with_capacity(pins.len());
        for pin in pins {
            if !unique.contains(pin) {
                unique.push(*pin);
            }
        }
        if unique.is_empty() || unique.len() > MAX_ANNOUNCED_PINS {
            return Err(RecordError::Malformed {
                why: PinAnnouncementError::BadPinCount(unique.len()).to_string(),
            });
        }
        let announcement = PinAnnouncementBody {
            format: PIN_ANNOUNCEMENT_FORMAT.to_owned(),
            pins: unique,
            issued_at,
        };
        let bytes =
            body_bytes(&announcement).map_err(|e| RecordError::Malformed { why: e.to_string() })?;
        let returned = signer.sign(&bytes)?;
        let signature = key.accept_signature(&bytes, &returned)?;
        Ok(Self {
            announcement,
            signature: BASE64.encode(signature),
        })
    }

    /// The pins, if `receipt_key` signed them and the announcement is not older than the one
    /// kept (`kept_issued_at`) nor from the future at `now` (Unix seconds).
    pub fn verify(
        &self,
        receipt_key: &DeviceKey,
        kept_issued_at: Option<i64>,
        now: i64,
    ) -> Result<AnnouncedPins, PinAnnouncementError> {
        let body = &self.announcement;
        if body.format != PIN_ANNOUNCEMENT_FORMAT {
            return Err(PinAnnouncementError::UnknownFormat);
        }
        let bytes = body_bytes(body)?;
        let signature = BASE64
            .decode(self.signature.as_bytes())
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .ok_or(PinAnnouncementError::BadSignature)?;
        if !receipt_key.verifies(&bytes, &signature) {
            return Err(PinAnnouncementError::BadSignature);
        }
        if body.pins.is_empty() || body.pins.len() > MAX_ANNOUNCED_PINS {
            return Err(PinAnnouncementError::BadPinCount(body.pins.len()));
        }
        if let Some(kept) = kept_issued_at
            && body.issued_at < kept
        {
            return Err(PinAnnouncementError::Stale {
                kept,
                found: body.issued_at,
            });
        }
        if body.issued_at > now.saturating_add(CLOCK_SLACK_SECONDS) {
            return Err(PinAnnouncementError::NotYetValid(body.issued_at));
        }
        Ok(AnnouncedPins {
            pins: body.pins.clone(),
            issued_at: body.issued_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SoftwareSigner;

    const NOW: i64 = 1_800_000_000;

    fn key(byte: u8) -> SoftwareSigner {
        SoftwareSigner::from_secret_bytes(&[byte; 32]).expect("key")
    }

    fn pins() -> [SpkiPin; 2] {
        [SpkiPin::from_bytes([1; 32]), SpkiPin::from_bytes([2; 32])]
    }

    fn announce(signer: &SoftwareSigner, issued_at: i64) -> SignedPinAnnouncement {
        SignedPinAnnouncement::sign(&pins(), issued_at, signer, signer.device_key()).expect("signs")
    }

    #[test]
    fn pins_signed_by_the_receipt_key_are_taken_through_json() {
        let receipt = key(3);
        let signed = announce(&receipt, NOW);
        let json = serde_json::to_vec(&signed).expect("json");
        let parsed: SignedPinAnnouncement = serde_json::from_slice(&json).expect("parses");
        let taken = parsed
            .verify(receipt.device_key(), Some(NOW - 60), NOW)
            .expect("verifies");
        assert_eq!(taken.pins, pins());
        assert_eq!(taken.issued_at, NOW);
        // The same announcement again (a sync with nothing new) is fine.
        parsed
            .verify(receipt.device_key(), Some(NOW), NOW)
            .expect("the kept one again");
    }

    #[test]
    fn pins_not_signed_by_the_receipt_key_are_refused() {
        let (receipt, attacker) = (key(3), key(4));
        let forged = announce(&attacker, NOW);
        assert_eq!(
            forged.verify(receipt.device_key(), None, NOW),
            Err(PinAnnouncementError::BadSignature)
        );
        // A genuine announcement with a pin added.
        let mut extended = announce(&receipt, NOW);
        extended
            .announcement
            .pins
            .push(SpkiPin::from_bytes([9; 32]));
        assert_eq!(
            extended.verify(receipt.device_key(), None, NOW),
            Err(PinAnnouncementError::BadSignature)
        );
        let mut garbled = announce(&receipt, NOW);
        garbled.signature = "AAAA".into();
        assert_eq!(
            garbled.verify(receipt.device_key(), None, NOW),
            Err(PinAnnouncementError::BadSignature)
        );
        let mut other_format = announce(&receipt, NOW);
        other_format.announcement.format = "honnin.tls-pins.v9".into();
        assert_eq!(
            other_format.verify(receipt.device_key(), None, NOW),
            Err(PinAnnouncementError::UnknownFormat)
        );
    }

    #[test]
    fn older_or_future_announcements_and_bad_pin_counts_are_refused() {
        let receipt = key(3);
        assert_eq!(
            announce(&receipt, NOW - 10).verify(receipt.device_key(), Some(NOW), NOW),
            Err(PinAnnouncementError::Stale {
                kept: NOW,
                found: NOW - 10
            })
        );
        assert_eq!(
            announce(&receipt, NOW + 3600).verify(receipt.device_key(), None, NOW),
            Err(PinAnnouncementError::NotYetValid(NOW + 3600))
        );
        assert!(
            SignedPinAnnouncement::sign(&[], NOW, &receipt, receipt.device_key()).is_err(),
            "no pin"
        );
        let many: Vec<SpkiPin> = (0..=MAX_ANNOUNCED_PINS as u8)
            .map(|i| SpkiPin::from_bytes([i; 32]))
            .collect();
        assert!(SignedPinAnnouncement::sign(&many, NOW, &receipt, receipt.device_key()).is_err());
        // Duplicates are dropped, the order kept.
        let twice = [pins()[1], pins()[0], pins()[1]];
        let signed = SignedPinAnnouncement::sign(&twice, NOW, &receipt, receipt.device_key())
            .expect("signs");
        assert_eq!(signed.announcement.pins, [pins()[1], pins()[0]]);
    }
}
