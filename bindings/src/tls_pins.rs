//! The receiver's TLS key pins on a pinned device: the set the app keeps, and the next pins the
//! receiver announces under its receipt key's signature, so an operator can replace the TLS
//! key of a receiver that handhelds pin without enrolling every handheld again.
//!
//! The app keeps the pin of its enrolment (`ReceiverConfig.receiver_pin`, as before) until a
//! sync returns announced pins ([`AnnouncedTlsPins`] in `SyncSummary.tls_pins`); from then on it
//! keeps those instead, with when they were signed, and passes them as
//! `ReceiverConfig.receiver_pins` and `receiver_pins_issued_at`. The set is replaced, never
//! merged (a key the receiver no longer lists is dropped), as `honnin sync` does with
//! `<store>.receiver-pins`. What an announcement means and how it verifies is the core's
//! (`honnin_core::sync::pin_announcement`); this module decides when it is taken.

use honnin_core::sync::pin_announcement::PinAnnouncementError;
use honnin_core::sync::{SpkiPin, SyncClient, TlsTrust};

use crate::error::HonninError;

/// How far an announcement may be older than the one kept and still be passed over quietly:
/// receiver instances sign each one when served, by their own clocks, so two syncs a moment
/// apart may see them a little out of order. Passing over an older one is always safe (the
/// pins kept stay); only one older by more than this, a replay or a receiver clock gone wrong,
/// is worth refusing loudly.
const CLOCK_SLACK_SECONDS: i64 = 300;

/// Pins the receiver announced, signed by the receipt key this device trusts: keep them (and
/// `issued_at`) in place of the pins kept so far, in the same durable write as the receipt key.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AnnouncedTlsPins {
    /// `sha256/<base64>` each: the key the receiver serves now first, then the next ones.
    pub pins: Vec<String>,
    /// When the receiver signed them (Unix seconds): pass it back as
    /// `ReceiverConfig.receiver_pins_issued_at`, so an older announcement is not taken.
    pub issued_at: i64,
}

/// The TLS trust of the pins given: `receiver_pin` alone (an enrolment from before pin sets, or
/// no announcement yet) or the set `receiver_pins`; never both, since the set replaces the
/// enrolment's pin. `None` when neither is given.
pub(crate) fn pinned_trust(
    receiver_pin: Option<&str>,
    receiver_pins: &[String],
) -> Result<Option<TlsTrust>, HonninError> {
    let parse = |field: &str, text: &str| {
        text.trim()
            .parse::<SpkiPin>()
            .map_err(|e| HonninError::invalid_argument(format!("{field}: {e}")))
    };
    match (receiver_pin, receiver_pins) {
        (Some(_), [_, ..]) => Err(HonninError::invalid_argument(
            "give receiver_pin or receiver_pins, not both: the pins a sync returned replace the enrolment's pin",
        )),
        (Some(pin), []) => Ok(Some(TlsTrust::Pinned(parse("receiver_pin", pin)?))),
        (None, []) => Ok(None),
        (None, pins) => {
            let mut set = Vec::with_capacity(pins.len());
            for pin in pins {
                let pin = parse("receiver_pins", pin)?;
                if !set.contains(&pin) {
                    set.push(pin);
                }
            }
            Ok(Some(TlsTrust::PinnedSet(set)))
        }
    }
}

/// The pins the receiver announced in the answer `client.update_receipt_key()` read, verified
/// with the receipt key the client trusts now (after the rotations it followed, each signed by
/// the key before): `None` when there is none, or when it is not newer than the pins kept
/// (`kept_issued_at`) by more than clock slack. Anything not signed by that key, of another
/// format, or dated in the future is refused (`TlsPinsRefused`), and so is an announcement
/// older than the kept one by more than the slack.
pub(crate) fn announced(
    client: &SyncClient,
    kept_issued_at: Option<i64>,
    now: i64,
) -> Result<Option<AnnouncedTlsPins>, HonninError> {
    let Some(announcement) = client.tls_pin_announcement() else {
        return Ok(None);
    };
    let refused = |error: PinAnnouncementError| HonninError::TlsPinsRefused {
        detail: format!("{error}; the TLS pins kept stay and nothing was sent"),
    };
    match announcement.verify(client.receipt_key(), kept_issued_at, now) {
        Ok(taken) => Ok(Some(AnnouncedTlsPins {
            pins: taken.pins.iter().map(ToString::to_string).collect(),
            issued_at: taken.issued_at,
        })),
        Err(PinAnnouncementError::Stale { kept, found }) if found >= kept - CLOCK_SLACK_SECONDS => {
            Ok(None)
        }
        Err(error) => Err(refused(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(byte: u8) -> String {
        SpkiPin::from_bytes([byte; 32]).to_string()
    }

    #[test]
    fn one_pin_or_a_set_never_both() {
        assert!(matches!(
            pinned_trust(Some(&pin(1)), &[]),
            Ok(Some(TlsTrust::Pinned(_)))
        ));
        // The set, duplicates dropped.
        match pinned_trust(None, &[pin(1), pin(2), pin(1)]) {
            Ok(Some(TlsTrust::PinnedSet(set))) => assert_eq!(set.len(), 2),
            other => panic!("a set of two, not {other:?}"),
        }
        assert!(matches!(pinned_trust(None, &[]), Ok(None)));
        assert!(matches!(
            pinned_trust(Some(&pin(1)), &[pin(2)]),
            Err(HonninError::InvalidArgument { .. })
        ));
        // One malformed pin of the set refuses the set, not just that pin.
        assert!(matches!(
            pinned_trust(None, &[pin(1), "sha256/nope".into()]),
            Err(HonninError::InvalidArgument { .. })
        ));
    }
}
