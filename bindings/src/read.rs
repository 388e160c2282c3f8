//! Reading what a card shows without any secret: the JPKI certificates and every PIN counter.
//! An app reads this first, to tell the holder how many PIN tries are left before asking for one,
//! and to offer level A when the PIN guard would refuse.

use std::sync::Arc;

use honnin_core::reader::{CardError, CardSession, PinState};

use crate::error::HonninError;
use crate::platform::{CardTransport, ProgressListener};
use crate::report::CardCounters;
use crate::session::{self, CancellationToken, Link};

/// A PIN counter as the card reports it, read without spending a try.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PinStatus {
    TriesLeft {
        tries: u32,
    },
    Locked,
    /// Already verified in this card session.
    AlreadyVerified,
}

impl From<PinState> for PinStatus {
    fn from(state: PinState) -> Self {
        match state {
            PinState::TriesLeft(tries) => PinStatus::TriesLeft {
                tries: u32::from(tries),
            },
            PinState::Locked => PinStatus::Locked,
            PinState::AlreadyVerified => PinStatus::AlreadyVerified,
        }
    }
}

/// Everything readable without a secret. The certificates are unverified bytes as the card holds
/// them (the authentication certificate carries no personal attributes).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CardReadout {
    /// The JPKI token (`JPKIAPICCTOKEN` on a My Number Card), padding removed.
    pub token: String,
    pub authentication_certificate: Vec<u8>,
    pub authentication_ca_certificate: Vec<u8>,
    pub signing_ca_certificate: Vec<u8>,
    /// The 4-digit PIN of level B.
    pub authentication_pin: PinStatus,
    /// The signing password of level C.
    pub signing_password: PinStatus,
    /// The input-support PIN (the same four digits, with its own counter).
    pub input_support_pin: PinStatus,
    /// 照合番号B of level A.
    pub matching_number_b: PinStatus,
    /// Whether extended-length reads were used (false after the link refused them).
    pub extended_length: bool,
    pub counters: CardCounters,
}

struct Read {
    token: String,
    certificates: [Vec<u8>; 3],
    pins: [PinStatus; 4],
    extended_length: bool,
}

fn read(session: &mut CardSession<Link>) -> Result<Read, CardError> {
    let mut jpki = session.jpki()?;
    let token = jpki.token()?;
    let certificates = [
        jpki.authentication_certificate()?.0,
        jpki.authentication_ca_certificate()?.0,
        jpki.signing_ca_certificate()?.0,
    ];
    let authentication = jpki.authentication_pin_state()?;
    let signing = jpki.signing_pin_state()?;
    let input_support = session.input_support()?.pin_state()?;
    let matching_number_b = session.card_face()?.matching_number_state()?;
    Ok(Read {
        token,
        certificates,
        pins: [authentication, signing, input_support, matching_number_b].map(PinStatus::from),
        extended_length: session.extended_length_in_use(),
    })
}

/// Reads the card's free data and PIN counters. Card failures throw `HonninException` with the
/// core's kind (`TagLost` after the reader's retries, `NotAMyNumberCard`, …).
#[uniffi::export(default(listener = None, cancellation = None))]
pub fn read_card(
    transport: Arc<dyn CardTransport>,
    listener: Option<Arc<dyn ProgressListener>>,
    cancellation: Option<Arc<CancellationToken>>,
) -> Result<CardReadout, HonninError> {
    let finished = session::run(transport, listener, cancellation, read)?;
    let read = finished.output?;
    let [
        authentication_certificate,
        authentication_ca_certificate,
        signing_ca_certificate,
    ] = read.certificates;
    let [
        authentication_pin,
        signing_password,
        input_support_pin,
        matching_number_b,
    ] = read.pins;
    Ok(CardReadout {
        token: read.token,
        authentication_certificate,
        authentication_ca_certificate,
        signing_ca_certificate,
        authentication_pin,
        signing_password,
        input_support_pin,
        matching_number_b,
        extended_length: read.extended_length,
        counters: finished.counters,
    })
}
