//! The door check, levels A, B and C: convert the arguments, run the core's check on a session
//! over the platform transport, wrap the report.
//!
//! Secrets arrive as Kotlin strings. The Rust copy is wiped as soon as it is parsed (the typed
//! secret wipes itself after the check); the Kotlin `String` cannot be wiped, so the app should
//! keep the typed PIN in a `CharArray` and make the `String` only for this call.

use std::sync::{Arc, Mutex, PoisonError};

use honnin_core::card::{
    AuthPin, CalendarDate, MatchingNumberB, SecretFormatError, SigningPassword,
};
use honnin_core::check::{
    AwaitingFaceConfirmation, CheckRequest as CoreRequest, FaceDecision, Verdict,
    Verifier as CoreVerifier,
};
use honnin_core::image::RgbaImage;
use honnin_core::verify::addressee::Addressee as CoreAddressee;
use honnin_core::verify::x509::RevocationList;
use honnin_core::verify::{FixedClock, SystemRandom, UnixTime};
use zeroize::Zeroizing;

use crate::anchors::TrustAnchors;
use crate::error::{BridgeError, HonninError};
use crate::platform::{CardTransport, Clock, ProgressListener};
use crate::report::{CardCounters, Date, DoorCheckReport};
use crate::session::{self, CancellationToken};

#[uniffi::remote(Enum)]
pub enum FaceDecision {
    Confirmed,
    Rejected,
    NotGiven,
}

/// The parcel, sender and device a check is bound to, and the addressee to match.
#[derive(Clone, uniffi::Record)]
pub struct CheckRequest {
    pub item_id: String,
    pub sender_id: String,
    pub device_id: String,
    #[uniffi(default = None)]
    pub addressee: Option<Addressee>,
}

/// The addressee as the sender registered them; fields left out are not compared.
#[derive(Clone, uniffi::Record)]
pub struct Addressee {
    pub name: String,
    #[uniffi(default = None)]
    pub address: Option<String>,
    #[uniffi(default = None)]
    pub birth_date: Option<Date>,
}

impl TryFrom<CheckRequest> for CoreRequest {
    type Error = HonninError;

    fn try_from(request: CheckRequest) -> Result<Self, HonninError> {
        let addressee = match request.addressee {
            Some(a) => Some(CoreAddressee {
                name: a.name,
                address: a.address,
                birth_date: a.birth_date.map(CalendarDate::try_from).transpose()?,
            }),
            None => None,
        };
        Ok(CoreRequest {
            item_id: request.item_id,
            sender_id: request.sender_id,
            device_id: request.device_id,
            addressee,
        })
    }
}

/// Parses a typed secret and wipes the text it came from.
fn secret<S>(
    text: String,
    parse: impl FnOnce(&str) -> Result<S, SecretFormatError>,
) -> Result<S, HonninError> {
    let text = Zeroizing::new(text);
    Ok(parse(&text)?)
}

/// The verifier: trust anchors, revocation lists and the platform clock. Shareable across
/// threads; each check runs on its own card session.
#[derive(uniffi::Object)]
pub struct Verifier {
    inner: CoreVerifier,
    clock: Arc<dyn Clock>,
}

impl Verifier {
    /// A verifier of `inner` (built elsewhere, e.g. from a kept trust bundle) on `clock`.
    pub(crate) fn from_core(inner: CoreVerifier, clock: Arc<dyn Clock>) -> Arc<Self> {
        Arc::new(Self { inner, clock })
    }

    /// The core's verifier, for record verification.
    pub(crate) fn core(&self) -> &CoreVerifier {
        &self.inner
    }

    /// Reads the platform clock once per check; the core's clock is then fixed at that instant.
    fn now(&self) -> Result<FixedClock, HonninError> {
        Ok(FixedClock(crate::keys::now(self.clock.as_ref())?))
    }
}

#[uniffi::export]
impl Verifier {
    /// `revocation_lists` are X.509 CRLs (DER) of JPKI CAs, for operators entitled to them;
    /// without one, revocation is reported as "not checked on device".
    #[uniffi::constructor(default(revocation_lists = []))]
    pub fn new(
        anchors: Arc<TrustAnchors>,
        clock: Arc<dyn Clock>,
        revocation_lists: Vec<Vec<u8>>,
    ) -> Result<Arc<Self>, HonninError> {
        let lists = revocation_lists
            .iter()
            .map(|der| RevocationList::from_der(der))
            .collect::<Result<Vec<_>, _>>()?;
        let inner = CoreVerifier::new(anchors.anchors.clone()).with_revocation_lists(lists);
        Ok(Arc::new(Self { inner, clock }))
    }

    /// Level A, first phase: 照合番号B opens the card-face application, its data is verified and
    /// its images decoded. The courier then compares them with the person and calls
    /// [`PendingFaceConfirmation::confirm`].
    #[uniffi::method(default(listener = None, cancellation = None))]
    pub fn check_level_a(
        &self,
        transport: Arc<dyn CardTransport>,
        request: CheckRequest,
        matching_number_b: String,
        listener: Option<Arc<dyn ProgressListener>>,
        cancellation: Option<Arc<CancellationToken>>,
    ) -> Result<Arc<PendingFaceConfirmation>, HonninError> {
        let number = secret(matching_number_b, MatchingNumberB::parse)?;
        let request = CoreRequest::try_from(request)?;
        let clock = self.now()?;
        let finished = session::run(transport, listener, cancellation, |session| {
            self.inner
                .check_level_a(session, &request, &number, &clock, &mut SystemRandom)
        })?;
        Ok(Arc::new(PendingFaceConfirmation {
            awaiting: Mutex::new(Some(finished.output)),
            request,
            time: clock.0,
            counters: finished.counters,
        }))
    }

    /// Level B: the holder's 4-digit PIN. The PIN is sent only after the certificate chain
    /// verified and with at least two tries left.
    #[uniffi::method(default(listener = None, cancellation = None))]
    pub fn check_level_b(
        &self,
        transport: Arc<dyn CardTransport>,
        request: CheckRequest,
        pin: String,
        listener: Option<Arc<dyn ProgressListener>>,
        cancellation: Option<Arc<CancellationToken>>,
    ) -> Result<Arc<DoorCheckReport>, HonninError> {
        let pin = secret(pin, AuthPin::parse)?;
        let request = CoreRequest::try_from(request)?;
        let clock = self.now()?;
        let finished = session::run(transport, listener, cancellation, |session| {
            self.inner
                .check_level_b(session, &request, &pin, &clock, &mut SystemRandom)
        })?;
        Ok(DoorCheckReport::new(
            finished.output,
            request,
            clock.0,
            finished.counters,
        ))
    }

    /// Level C: the holder's signing password (6–16 of A–Z, 0–9).
    #[uniffi::method(default(listener = None, cancellation = None))]
    pub fn check_level_c(
        &self,
        transport: Arc<dyn CardTransport>,
        request: CheckRequest,
        password: String,
        listener: Option<Arc<dyn ProgressListener>>,
        cancellation: Option<Arc<CancellationToken>>,
    ) -> Result<Arc<DoorCheckReport>, HonninError> {
        let password = secret(password, SigningPassword::parse)?;
        let request = CoreRequest::try_from(request)?;
        let clock = self.now()?;
        let finished = session::run(transport, listener, cancellation, |session| {
            self.inner
                .check_level_c(session, &request, &password, &clock, &mut SystemRandom)
        })?;
        Ok(DoorCheckReport::new(
            finished.output,
            request,
            clock.0,
            finished.counters,
        ))
    }
}

/// An image as RGBA, 8 bits per channel, rows top to bottom. Show it; never store it.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

impl From<&RgbaImage> for Image {
    fn from(image: &RgbaImage) -> Self {
        Image {
            width: image.width,
            height: image.height,
            rgba: image.pixels.clone(),
        }
    }
}

/// The card-face images for the courier; `None` where the card had none or it did not decode.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct FaceImages {
    pub face: Option<Image>,
    pub name: Option<Image>,
    pub address: Option<Image>,
}

/// Level A after the card was read and verified, waiting for the courier's decision. The images
/// are wiped in Rust when [`PendingFaceConfirmation::confirm`] is called.
#[derive(uniffi::Object)]
pub struct PendingFaceConfirmation {
    awaiting: Mutex<Option<AwaitingFaceConfirmation>>,
    request: CoreRequest,
    time: UnixTime,
    counters: CardCounters,
}

impl PendingFaceConfirmation {
    fn with<R>(&self, f: impl FnOnce(&AwaitingFaceConfirmation) -> R) -> Result<R, HonninError> {
        let guard = self.awaiting.lock().unwrap_or_else(PoisonError::into_inner);
        guard.as_ref().map(f).ok_or_else(already_confirmed)
    }
}

fn already_confirmed() -> HonninError {
    BridgeError::AlreadyUsed("this level A check was already confirmed").into()
}

#[uniffi::export]
impl PendingFaceConfirmation {
    /// Face photo, name and address images to show the courier.
    pub fn images(&self) -> Result<FaceImages, HonninError> {
        self.with(|awaiting| {
            let images = awaiting.images();
            FaceImages {
                face: images.face.as_ref().map(Image::from),
                name: images.name.as_ref().map(Image::from),
                address: images.address.as_ref().map(Image::from),
            }
        })
    }

    /// The verdict the card alone supports: a forged card is forged whatever the courier says,
    /// so the app can say so before asking.
    pub fn card_verdict(&self) -> Result<Verdict, HonninError> {
        self.with(AwaitingFaceConfirmation::card_verdict)
    }

    /// Records the courier's decision and makes the report. Once only.
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
