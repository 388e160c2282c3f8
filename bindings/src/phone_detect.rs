//! Card or phone? Reader mode sees an ISO-DEP tag either way; this asks it which application it
//! has, so the app can route it to the card levels or the phone check (level M).
//!
//! Only SELECT commands by AID are sent (the JPKI application of a My Number Card, the mdoc
//! application of ISO/IEC 18013-5, then the card's two other applications), each answered with
//! a status word and no data (P2 `0C`, no FCI): nothing is read, no PIN counter is touched, and
//! the check that follows starts with its own SELECT, so the detection leaves no state behind
//! that matters. The JPKI application is asked first because cards are the common case: a card
//! then costs one APDU, a phone two.

use std::sync::Arc;

use honnin_core::apdu::{Command, Response};
use honnin_core::card::profile::aid;
use honnin_core::mdoc::transfer::MDOC_AID;
use honnin_core::reader::CardSession;
use honnin_core::transport::{CardTransport as _, TransportError as CoreTransportError};

use crate::error::HonninError;
use crate::platform::CardTransport;
use crate::session::{self, CancellationToken, Link};

/// What answered on the tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CredentialKind {
    /// A My Number Card (one of its applications answered): levels A, B, C.
    MyNumberCard,
    /// A phone presenting an mdoc (the mdoc application answered): level M.
    Phone,
    /// Neither: another card, a transit card, a phone without a wallet document.
    Unknown,
}

/// The applications asked, in order, and what each one's answer means.
const PROBES: [(&[u8], CredentialKind); 4] = [
    (&aid::JPKI, CredentialKind::MyNumberCard),
    (&MDOC_AID, CredentialKind::Phone),
    (&aid::CARD_FACE, CredentialKind::MyNumberCard),
    (&aid::INPUT_SUPPORT, CredentialKind::MyNumberCard),
];

/// Why a probe could not be answered: the link's failure, or an answer that is not an APDU
/// response.
enum ProbeError {
    Link(CoreTransportError),
    Malformed(String),
}

fn probe(session: &mut CardSession<Link>) -> Result<CredentialKind, ProbeError> {
    for (application, kind) in PROBES {
        let command = Command::new(0x00, 0xA4, 0x04, 0x0C)
            .with_data(application.to_vec())
            .to_bytes()
            .map_err(|e| ProbeError::Malformed(e.to_string()))?;
        let raw = session
            .transport_mut()
            .transmit(&command)
            .map_err(ProbeError::Link)?;
        let response = Response::parse(&raw).map_err(|e| {
            ProbeError::Malformed(format!("the tag's answer to SELECT is not an APDU: {e}"))
        })?;
        if response.status().is_success() {
            return Ok(kind);
        }
    }
    Ok(CredentialKind::Unknown)
}

/// Tells a My Number Card from a phone on the tag with SELECT commands only (at most four).
/// A tag that leaves the field throws `TagLost`; one that answers garbage `CardDataMalformed`.
#[uniffi::export(default(cancellation = None))]
pub fn detect_credential(
    transport: Arc<dyn CardTransport>,
    cancellation: Option<Arc<CancellationToken>>,
) -> Result<CredentialKind, HonninError> {
    let finished = session::run(transport, None, cancellation, probe)?;
    finished.output.map_err(|error| match error {
        ProbeError::Link(link) => HonninError::from(link),
        ProbeError::Malformed(detail) => HonninError::CardDataMalformed { detail },
    })
}
