//! Test support for the JVM tests, behind the `simcard` feature and never in an app build: the
//! software My Number Card, the software phone (level M), the test PKIs, and a probe that times
//! callback round trips.
//!
//! `SoftwareCardTransport` is deliberately not a `CardTransport` itself: the tests implement the
//! transport in Kotlin and forward each APDU to it, so every check goes through the same callback
//! path as `IsoDep` on a device.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use honnin_core::transport::CardTransport as _;
use honnin_simcard::mdoc::{PhoneProfile, SoftwarePhone};
use honnin_simcard::{PinId, Profile, SoftwareCard};

use crate::error::{BridgeError, HonninError};
use crate::platform::{CardTransport, TransportCapabilities, TransportError};

/// The software card, one profile (`genuine`, `forged-ca`, `clone`, `pin-one-try-left`, …; see
/// `honnin profiles`).
#[derive(uniffi::Object)]
pub struct SoftwareCardTransport {
    card: Mutex<SoftwareCard>,
}

/// The secrets printed on (or known for) a test card. Test fiction, never real.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TestCardSecrets {
    pub matching_number_b: String,
    pub auth_pin: String,
    pub sign_password: String,
}

/// A PIN of the software card, to read its counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum TestPin {
    Auth,
    Sign,
    InputSupport,
    MatchingNumberB,
}

impl SoftwareCardTransport {
    fn card(&self) -> MutexGuard<'_, SoftwareCard> {
        self.card.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn link_error(error: honnin_core::transport::TransportError) -> TransportError {
    use honnin_core::transport::TransportError as Core;
    match error {
        Core::TagLost => TransportError::TagLost,
        Core::NoCard => TransportError::NoCard,
        Core::Timeout => TransportError::Timeout,
        Core::LengthNotSupported => TransportError::LengthNotSupported,
        Core::Reader(detail) => TransportError::Reader { detail },
    }
}

#[uniffi::export]
impl SoftwareCardTransport {
    #[uniffi::constructor]
    pub fn new(profile: String) -> Result<Arc<Self>, HonninError> {
        let card = Profile::from_name(&profile)
            .and_then(|p| p.build())
            .map_err(|e| HonninError::invalid_argument(e.to_string()))?;
        Ok(Arc::new(Self {
            card: Mutex::new(card),
        }))
    }

    pub fn capabilities(&self) -> TransportCapabilities {
        self.card().capabilities().into()
    }

    pub fn transmit(&self, command: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        self.card().transmit(&command).map_err(link_error)
    }

    pub fn reconnect(&self) -> Result<(), TransportError> {
        self.card().reconnect().map_err(link_error)
    }

    pub fn secrets(&self) -> TestCardSecrets {
        let card = self.card();
        let facts = card.facts();
        TestCardSecrets {
            matching_number_b: facts.matching_number_b.clone(),
            auth_pin: facts.auth_pin.to_owned(),
            sign_password: facts.sign_password.to_owned(),
        }
    }

    pub fn tries_left(&self, pin: TestPin) -> Option<u32> {
        let pin = match pin {
            TestPin::Auth => PinId::Auth,
            TestPin::Sign => PinId::Sign,
            TestPin::InputSupport => PinId::InputSupport,
            TestPin::MatchingNumberB => PinId::MatchingNumberB,
        };
        self.card().tries_left(pin).map(u32::from)
    }

    /// Exchanges the card has seen, including those lost on the link.
    pub fn exchanges(&self) -> u64 {
        self.card().stats().exchanges as u64
    }
}

/// The software phone (a holder's phone presenting the My Number Card as an mdoc), one profile
/// (`mdoc-genuine`, `mdoc-clone`, `mdoc-signature-forged`, …; see `honnin profiles`). Like
/// [`SoftwareCardTransport`], the tests forward each APDU to it from a Kotlin transport.
#[derive(uniffi::Object)]
pub struct SoftwarePhoneTransport {
    phone: Mutex<SoftwarePhone>,
    qr_text: String,
    exchanges: Mutex<u64>,
}

impl SoftwarePhoneTransport {
    fn phone(&self) -> MutexGuard<'_, SoftwarePhone> {
        self.phone.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[uniffi::export]
impl SoftwarePhoneTransport {
    #[uniffi::constructor]
    pub fn new(profile: String) -> Result<Arc<Self>, HonninError> {
        let phone = PhoneProfile::from_name(&profile)
            .ok_or_else(|| {
                HonninError::invalid_argument(format!("no software phone profile {profile:?}"))
            })?
            .build()
            .map_err(|e| HonninError::invalid_argument(e.to_string()))?;
        let qr_text = phone.qr_text();
        Ok(Arc::new(Self {
            phone: Mutex::new(phone),
            qr_text,
            exchanges: Mutex::new(0),
        }))
    }

    pub fn capabilities(&self) -> TransportCapabilities {
        self.phone().capabilities().into()
    }

    pub fn transmit(&self, command: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        *self
            .exchanges
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += 1;
        self.phone().transmit(&command).map_err(link_error)
    }

    pub fn reconnect(&self) -> Result<(), TransportError> {
        self.phone().reconnect().map_err(link_error)
    }

    /// The `mdoc:` text of the QR code this phone would show.
    pub fn qr_text(&self) -> String {
        self.qr_text.clone()
    }

    /// Exchanges the phone has seen, including those lost on the link.
    pub fn exchanges(&self) -> u64 {
        *self
            .exchanges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The software phone's issuer anchor directory (its test IACA), as a deployment would
/// configure the phone issuers' certificates.
#[uniffi::export]
pub fn test_phone_anchors_directory() -> String {
    honnin_simcard::mdoc::anchors_dir()
        .to_string_lossy()
        .into_owned()
}

/// The test PKI's trust-anchor directory (what a deployment would configure).
#[uniffi::export]
pub fn test_anchors_directory() -> String {
    honnin_simcard::fixtures::anchors_dir()
        .to_string_lossy()
        .into_owned()
}

/// The test CRLs of both JPKI issuing CAs (DER), which list the `revoked` profile's certificates.
#[uniffi::export]
pub fn test_revocation_lists() -> Result<Vec<Vec<u8>>, HonninError> {
    let dir = honnin_simcard::fixtures::anchors_dir().join("..");
    ["jpki-auth-ca.crl.der", "jpki-sign-ca.crl.der"]
        .iter()
        .map(|name| {
            std::fs::read(dir.join(name)).map_err(|e| {
                HonninError::invalid_argument(format!("test CRL {name} cannot be read: {e}"))
            })
        })
        .collect()
}

/// How long `count` calls of a foreign `transmit` took, timed in Rust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct RoundTripTiming {
    pub count: u32,
    pub total_nanos: u64,
    pub response_bytes: u64,
}

/// Calls `transport.transmit(command)` `count` times from Rust: the callback path every APDU
/// of a check takes (Rust → Kotlin → Rust), without the card's work.
#[uniffi::export]
pub fn measure_transmit_round_trips(
    transport: Arc<dyn CardTransport>,
    command: Vec<u8>,
    count: u32,
) -> Result<RoundTripTiming, HonninError> {
    let mut response_bytes = 0u64;
    let start = Instant::now();
    for _ in 0..count {
        let response =
            transport
                .transmit(command.clone())
                .map_err(|error| match error.into_core() {
                    Ok(link_failure) => HonninError::from(link_failure),
                    Err(detail) => BridgeError::Callback {
                        method: "CardTransport.transmit",
                        detail,
                    }
                    .into(),
                })?;
        response_bytes += response.len() as u64;
    }
    let total_nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    Ok(RoundTripTiming {
        count,
        total_nanos,
        response_bytes,
    })
}
