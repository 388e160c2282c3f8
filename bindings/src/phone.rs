//! The phone check (level M): the My Number Card in a phone's wallet, an ISO/IEC 18013-5 mdoc,
//! read over the same platform [`CardTransport`] as the card (Android's `IsoDep`).
//!
//! The core does everything ([`honnin_core::mdoc`]): engagement (NFC static handover or the
//! `mdoc:` QR text), session, the request of exactly the elements the check and the sender's
//! policy need, issuer and device authentication, the verdict. This module converts, runs it on
//! a bridge session (cancellation, callback failures) and hands Kotlin two things: the verified
//! portrait, for the courier's comparison only (it is wiped in Rust when the courier decides and
//! is never part of the report or the record), and the report, which `RecordStore.append` stores
//! like a card check's.

use std::sync::{Arc, Mutex, PoisonError};

use honnin_core::check::{CheckRequest as CoreRequest, FaceDecision, Verdict};
use honnin_core::mdoc::{
    AwaitingPortraitConfirmation, DeviceEngagement, ElementRequest, Engagement, IssuerAnchors,
    MdocProfile, PhoneVerifier as CorePhoneVerifier,
};
use honnin_core::record::AttributePolicy;
use honnin_core::verify::{FixedClock, SystemRandom, UnixTime};

use crate::check::{CheckRequest, Image};
use crate::error::{BridgeError, HonninError};
use crate::platform::{CardTransport, Clock};
use crate::report::{CardCounters, DoorCheckReport};
use crate::session::{self, CancellationToken};
use crate::store::RecordAttributes;

/// The phone issuers' IACA certificates (ISO/IEC 18013-5 Annex B), given like the JPKI anchors:
/// a directory (desktop, tests) or DER bytes (an Android app's assets). Trusted by key.
#[derive(Debug, uniffi::Object)]
pub struct PhoneIssuerAnchors {
    anchors: IssuerAnchors,
}

/// One phone issuer anchor, for a settings screen or a log line: a CA's name, never a person's.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PhoneAnchorInfo {
    /// The subject name (RFC 4514).
    pub subject: String,
    /// The file it came from, or `der[<index>]`.
    pub source: String,
}

fn anchors_error(error: impl std::fmt::Display) -> HonninError {
    HonninError::TrustAnchors {
        detail: error.to_string(),
    }
}

#[uniffi::export]
impl PhoneIssuerAnchors {
    /// Every certificate file of `path` (PEM or DER), with the JPKI anchor directory's rules; a
    /// certificate that is not a P-256 CA key, or a directory without one, is an error.
    #[uniffi::constructor]
    pub fn from_directory(path: String) -> Result<Arc<Self>, HonninError> {
        let anchors = IssuerAnchors::load_dir(path).map_err(anchors_error)?;
        Ok(Arc::new(Self { anchors }))
    }

    /// Anchors given as DER certificates; none is an error.
    #[uniffi::constructor]
    pub fn from_der(certificates: Vec<Vec<u8>>) -> Result<Arc<Self>, HonninError> {
        let anchors = IssuerAnchors::from_der(&certificates).map_err(anchors_error)?;
        if anchors.is_empty() {
            return Err(anchors_error(
                "no phone issuer (IACA) certificate was given",
            ));
        }
        Ok(Arc::new(Self { anchors }))
    }

    pub fn anchors(&self) -> Vec<PhoneAnchorInfo> {
        self.anchors
            .iter()
            .map(|a| PhoneAnchorInfo {
                subject: a.subject(),
                source: a.source().to_owned(),
            })
            .collect()
    }
}

/// Which document the reader asks the phone for (`honnin check --mdoc-profile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PhoneDocument {
    /// The My Number Card in a phone's wallet — a documented model of its names (docs/mdoc.md).
    MyNumberWalletModel,
    /// The ISO/IEC 18013-5 mobile driving licence.
    IsoMdl,
}

impl PhoneDocument {
    fn profile(self) -> MdocProfile {
        match self {
            PhoneDocument::MyNumberWalletModel => MdocProfile::jp_my_number_wallet_model(),
            PhoneDocument::IsoMdl => MdocProfile::iso_mdl(),
        }
    }
}

/// How the phone engaged.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum PhoneEngagement {
    /// NFC static handover, read from the phone on the tag (the usual tap).
    Nfc,
    /// The `mdoc:` text of the QR code the phone shows, scanned by the courier; the data still
    /// travels over NFC.
    Qr { text: String },
}

/// The phone check's configuration: issuer anchors, document, and the platform clock.
/// Shareable across threads; each check runs on its own session.
#[derive(uniffi::Object)]
pub struct PhoneVerifier {
    inner: CorePhoneVerifier,
    clock: Arc<dyn Clock>,
}

impl PhoneVerifier {
    /// Reads the platform clock once per check; the core's clock is then fixed at that instant.
    fn now(&self) -> Result<FixedClock, HonninError> {
        Ok(FixedClock(crate::keys::now(self.clock.as_ref())?))
    }
}

#[uniffi::export]
impl PhoneVerifier {
    /// `document` defaults to [`PhoneDocument::MyNumberWalletModel`].
    #[uniffi::constructor(default(document = None))]
    pub fn new(
        anchors: Arc<PhoneIssuerAnchors>,
        clock: Arc<dyn Clock>,
        document: Option<PhoneDocument>,
    ) -> Arc<Self> {
        let document = document.unwrap_or(PhoneDocument::MyNumberWalletModel);
        let inner = CorePhoneVerifier::new(anchors.anchors.clone(), document.profile());
        Arc::new(Self { inner, clock })
    }

    /// The data elements a check for `request` under the sender's `attributes` asks the phone
    /// for, in order: the name and the portrait always, the birth date, address and sex only
    /// where the addressee or the policy needs them. The phone shows its holder this list.
    #[uniffi::method(default(attributes = None))]
    pub fn requested_elements(
        &self,
        request: CheckRequest,
        attributes: Option<RecordAttributes>,
    ) -> Result<Vec<String>, HonninError> {
        let request = CoreRequest::try_from(request)?;
        let policy: AttributePolicy = attributes.unwrap_or_default().into();
        let wanted =
            ElementRequest::door_check(self.inner.profile(), request.addressee.as_ref(), policy);
        Ok(wanted.elements)
    }

    /// Level M: reads and verifies the phone behind `transport`. No PIN: the phone's holder
    /// consents on the phone. `attributes` is the sender's record policy (the manifest item's),
    /// which decides what is asked beyond the name and portrait; pass the same to
    /// `RecordStore.append`. The courier then compares the portrait and calls
    /// [`PendingPortraitConfirmation::confirm`].
    ///
    /// `engagement` defaults to [`PhoneEngagement::Nfc`]. A phone that leaves the field is not
    /// an exception: the report says `card_removed` (inconclusive), like a card that left after
    /// the PIN. A QR text that is not an mdoc engagement throws `InvalidArgument` before the
    /// phone is touched.
    #[uniffi::method(default(attributes = None, engagement = None, cancellation = None))]
    pub fn check_phone(
        &self,
        transport: Arc<dyn CardTransport>,
        request: CheckRequest,
        attributes: Option<RecordAttributes>,
        engagement: Option<PhoneEngagement>,
        cancellation: Option<Arc<CancellationToken>>,
    ) -> Result<Arc<PendingPortraitConfirmation>, HonninError> {
        let engagement = engagement.unwrap_or(PhoneEngagement::Nfc);
        let request = CoreRequest::try_from(request)?;
        if let PhoneEngagement::Qr { text } = &engagement {
            DeviceEngagement::from_qr(text).map_err(|e| {
                HonninError::invalid_argument(format!(
                    "the scanned QR code is not a phone's mdoc engagement: {e}"
                ))
            })?;
        }
        let policy: AttributePolicy = attributes.unwrap_or_default().into();
        let clock = self.now()?;
        let finished = session::run(transport, None, cancellation, |session| {
            let engagement = match &engagement {
                PhoneEngagement::Nfc => Engagement::Nfc,
                PhoneEngagement::Qr { text } => Engagement::Qr(text),
            };
            self.inner.check_phone(
                session.transport_mut(),
                &request,
                policy,
                engagement,
                &clock,
                &mut SystemRandom,
            )
        })?;
        let awaiting = finished.output;
        Ok(Arc::new(PendingPortraitConfirmation {
            counters: awaiting.counters().into(),
            awaiting: Mutex::new(Some(awaiting)),
            request,
            time: clock.0,
        }))
    }
}

/// How the portrait's bytes are encoded, as far as their signature tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PortraitFormat {
    /// JPEG (what phones send; Android's `BitmapFactory` decodes it).
    Jpeg,
    /// JPEG 2000 (the card's face image format; decoded here into [`Portrait::decoded`]).
    Jpeg2000,
    /// Neither: show nothing and let the courier look at the phone's own screen.
    Unknown,
}

/// The verified portrait, for the courier's comparison only: show it, never store or log it.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct Portrait {
    pub format: PortraitFormat,
    /// The bytes as the issuer signed them.
    pub bytes: Vec<u8>,
    /// Decoded by the core where the platform cannot (JPEG 2000); `None` for JPEG.
    pub decoded: Option<Image>,
}

impl std::fmt::Debug for Portrait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Portrait({:?}, {} bytes)", self.format, self.bytes.len())
    }
}

fn portrait_format(bytes: &[u8]) -> PortraitFormat {
    const JP2_SIGNATURE: [u8; 12] = [
        0, 0, 0, 0x0C, b'j', b'P', b' ', b' ', 0x0D, 0x0A, 0x87, 0x0A,
    ];
    const J2K_CODESTREAM: [u8; 4] = [0xFF, 0x4F, 0xFF, 0x51];
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        PortraitFormat::Jpeg
    } else if bytes.starts_with(&JP2_SIGNATURE) || bytes.starts_with(&J2K_CODESTREAM) {
        PortraitFormat::Jpeg2000
    } else {
        PortraitFormat::Unknown
    }
}

/// Level M after the phone was read and verified, waiting for the courier's look at the
/// portrait. The portrait is wiped in Rust when [`PendingPortraitConfirmation::confirm`] is
/// called; Kotlin should drop its copy (and bitmap) then.
#[derive(uniffi::Object)]
pub struct PendingPortraitConfirmation {
    awaiting: Mutex<Option<AwaitingPortraitConfirmation>>,
    request: CoreRequest,
    time: UnixTime,
    counters: CardCounters,
}

impl PendingPortraitConfirmation {
    fn with<R>(
        &self,
        f: impl FnOnce(&AwaitingPortraitConfirmation) -> R,
    ) -> Result<R, HonninError> {
        let guard = self.awaiting.lock().unwrap_or_else(PoisonError::into_inner);
        guard.as_ref().map(f).ok_or_else(already_confirmed)
    }
}

fn already_confirmed() -> HonninError {
    BridgeError::AlreadyUsed("this level M check was already confirmed").into()
}

#[uniffi::export]
impl PendingPortraitConfirmation {
    /// The portrait under a verified issuer signature and digest; `None` when the phone sent
    /// none or it did not verify (then there is nothing to compare, and the check is not
    /// genuine).
    pub fn portrait(&self) -> Result<Option<Portrait>, HonninError> {
        self.with(|awaiting| {
            awaiting.portrait().map(|bytes| {
                let format = portrait_format(bytes);
                let decoded = match format {
                    PortraitFormat::Jpeg2000 => honnin_core::image::decode_jpeg2000(bytes)
                        .ok()
                        .map(|image| Image::from(&image)),
                    PortraitFormat::Jpeg | PortraitFormat::Unknown => None,
                };
                Portrait {
                    format,
                    bytes: bytes.to_vec(),
                    decoded,
                }
            })
        })
    }

    /// The verdict the phone alone supports: a forged or cloned phone is forged whatever the
    /// courier says, so the app can say so before asking.
    pub fn card_verdict(&self) -> Result<Verdict, HonninError> {
        self.with(AwaitingPortraitConfirmation::card_verdict)
    }

    /// APDUs and bytes the check exchanged with the phone.
    pub fn counters(&self) -> CardCounters {
        self.counters
    }

    /// Records the courier's decision and makes the report (level M). Once only.
    pub fn confirm(&self, decision: FaceDecision) -> Result<Arc<DoorCheckReport>, HonninError> {
        let awaiting = self
            .awaiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(already_confirmed)?;
        Ok(DoorCheckReport::new(
            awaiting.confirm(decision),
            self.request.clone(),
            self.time,
            self.counters,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portrait_formats_are_told_by_their_signature() {
        assert_eq!(
            portrait_format(&[0xFF, 0xD8, 0xFF, 0xE0, 0]),
            PortraitFormat::Jpeg
        );
        assert_eq!(
            portrait_format(&[0xFF, 0x4F, 0xFF, 0x51, 0]),
            PortraitFormat::Jpeg2000
        );
        assert_eq!(
            portrait_format(&[
                0, 0, 0, 0x0C, b'j', b'P', b' ', b' ', 0x0D, 0x0A, 0x87, 0x0A, 0
            ]),
            PortraitFormat::Jpeg2000
        );
        assert_eq!(portrait_format(b"GIF89a"), PortraitFormat::Unknown);
        assert_eq!(portrait_format(&[]), PortraitFormat::Unknown);
    }
}
