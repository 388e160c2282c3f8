//! Card or phone? What the holder put on the reader, found by AID before anything else happens.
//!
//! At the door and at the counter a holder may hold out the plastic My Number Card or a phone
//! whose wallet carries it (an ISO/IEC 18013-5 mdoc). The two are checked differently (levels
//! A/B/C with a secret, level M without one), and a reader shows both the same way: an
//! ISO 14443-4 tag. Before a secret is asked for, the courier's device must know which one it
//! has, so that a phone is never asked for a card PIN and a card is never run through the phone
//! check; [`detect`] finds out with SELECTs alone, nothing that reads or changes the credential:
//!
//! 1. SELECT the mdoc application (`A0 00 00 02 48 04 00`): only a phone wallet has it.
//! 2. SELECT the JPKI application: every My Number Card has it.
//! 3. SELECT the card-face application, for a card whose JPKI application does not answer.
//!
//! The mdoc AID goes first although cards are the common case (one extra SELECT for a card, a
//! few milliseconds): a phone might one day also answer the JPKI AID (the smartphone JPKI
//! certificate lives in the phone), and taking such a phone for a card would ask its holder for
//! a card PIN. No card answers the mdoc AID.
//!
//! [`Credential::fits`] then says whether the level the courier chose suits what is on the reader,
//! with a message that says what to do instead. Platform-free, so the Android app uses it as the
//! CLI does.

use thiserror::Error;

use crate::apdu::{Command, Response};
use crate::card::profile::aid;
use crate::check::Level;
use crate::mdoc::transfer::MDOC_AID;
use crate::reader::Counters;
use crate::transport::{CardTransport, TransportError};

/// What the holder put on the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// The plastic My Number Card (JPKI or card-face application).
    Card,
    /// A phone wallet presenting the card as an ISO/IEC 18013-5 mdoc.
    Phone,
}

/// What [`detect`] found and what its SELECTs cost on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detection {
    pub credential: Credential,
    pub counters: Counters,
}

/// Why the credential could not be told.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DetectError {
    /// The link failed while selecting (the card or phone left the field, the reader failed).
    #[error("{0}")]
    Transport(#[from] TransportError),
    /// Something answered, but neither the mdoc nor a My Number Card application.
    #[error(
        "this is neither a My Number Card nor a phone wallet (no mdoc, JPKI or card-face \
         application answered): ask for the My Number Card, or the phone with the card in its \
         wallet"
    )]
    NotRecognised,
}

/// The level the courier chose does not suit what is on the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WrongCredential {
    /// A phone wallet at a card level (A, B or C).
    #[error(
        "this is a phone wallet (the My Number Card in a phone), not the card: check it at level \
         M (--level M), if the sender allows it; otherwise ask for the plastic card. Level {0:?} \
         needs the card, and no secret was asked for"
    )]
    PhoneAtCardLevel(Level),
    /// A card at level M.
    #[error(
        "this is a My Number Card, not a phone wallet: check it at level A, B or C (--level, at \
         least the sender's minimum); level M is for the card in a phone's wallet"
    )]
    CardAtPhoneLevel,
}

impl Credential {
    /// Whether `level` checks this credential; the error says what to do instead.
    pub fn fits(self, level: Level) -> Result<(), WrongCredential> {
        match (self, level) {
            (Credential::Phone, Level::M) => Ok(()),
            (Credential::Phone, other) => Err(WrongCredential::PhoneAtCardLevel(other)),
            (Credential::Card, Level::M) => Err(WrongCredential::CardAtPhoneLevel),
            (Credential::Card, _) => Ok(()),
        }
    }

    /// What the people at the door call it (English).
    pub fn noun(self) -> &'static str {
        match self {
            Credential::Card => "card",
            Credential::Phone => "phone",
        }
    }
}

/// Finds out, with SELECTs only, whether a phone wallet or a My Number Card is on `transport`.
///
/// Leaves an application selected; both checks select what they need first, so that does not
/// matter to them.
pub fn detect<T: CardTransport + ?Sized>(transport: &mut T) -> Result<Detection, DetectError> {
    let mut counters = Counters::default();
    let candidates: [(&[u8], Credential); 3] = [
        (&MDOC_AID, Credential::Phone),
        (&aid::JPKI, Credential::Card),
        (&aid::CARD_FACE, Credential::Card),
    ];
    for (aid, credential) in candidates {
        if select(transport, aid, &mut counters)? {
            return Ok(Detection {
                credential,
                counters,
            });
        }
    }
    Err(DetectError::NotRecognised)
}

/// SELECT by AID, first or only occurrence, no FCI; whether the application answered 90 00.
fn select<T: CardTransport + ?Sized>(
    transport: &mut T,
    aid: &[u8],
    counters: &mut Counters,
) -> Result<bool, DetectError> {
    let bytes = Command::new(0x00, 0xA4, 0x04, 0x0C)
        .with_data(aid.to_vec())
        .to_bytes()
        .map_err(|e| TransportError::Reader(e.to_string()))?;
    counters.apdus += 1;
    counters.bytes_sent += bytes.len() as u64;
    let raw = transport.transmit(&bytes).inspect_err(|e| {
        if *e == TransportError::TagLost {
            counters.tag_losses += 1;
        }
    })?;
    counters.bytes_received += raw.len() as u64;
    // A malformed answer (no status word) is not a yes.
    Ok(Response::parse(&raw).is_ok_and(|r| r.status().is_success()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::TransportCapabilities;

    /// Answers 90 00 to a SELECT of the AIDs it has and 6A 82 to the rest; logs every command.
    struct Applications {
        has: Vec<Vec<u8>>,
        sent: Vec<Vec<u8>>,
        fail_with: Option<TransportError>,
    }

    impl Applications {
        fn with(has: &[&[u8]]) -> Self {
            Self {
                has: has.iter().map(|a| a.to_vec()).collect(),
                sent: Vec::new(),
                fail_with: None,
            }
        }
    }

    impl CardTransport for Applications {
        fn capabilities(&self) -> TransportCapabilities {
            TransportCapabilities::EXTENDED
        }

        fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
            self.sent.push(command.to_vec());
            if let Some(e) = self.fail_with.clone() {
                return Err(e);
            }
            let aid = command.get(5..).unwrap_or_default();
            Ok(if self.has.iter().any(|a| a == aid) {
                vec![0x90, 0x00]
            } else {
                vec![0x6A, 0x82]
            })
        }
    }

    #[test]
    fn a_phone_is_found_by_the_mdoc_aid_with_one_select() {
        let mut phone = Applications::with(&[&MDOC_AID]);
        let found = detect(&mut phone).expect("detects");
        assert_eq!(found.credential, Credential::Phone);
        assert_eq!(found.counters.apdus, 1);
        assert_eq!(phone.sent[0][..4], [0x00, 0xA4, 0x04, 0x0C]);
    }

    #[test]
    fn a_card_is_found_by_jpki_or_else_by_the_card_face_application() {
        let mut card = Applications::with(&[&aid::JPKI, &aid::CARD_FACE]);
        let found = detect(&mut card).expect("detects");
        assert_eq!(found.credential, Credential::Card);
        assert_eq!(found.counters.apdus, 2);
        let mut card_face_only = Applications::with(&[&aid::CARD_FACE]);
        assert_eq!(
            detect(&mut card_face_only).map(|d| d.credential),
            Ok(Credential::Card)
        );
        // Only SELECTs are sent: nothing is read, no secret is tried.
        assert!(card_face_only.sent.iter().all(|c| c[1] == 0xA4));
    }

    #[test]
    fn a_phone_that_also_answers_jpki_is_a_phone() {
        let mut phone = Applications::with(&[&aid::JPKI, &MDOC_AID]);
        assert_eq!(
            detect(&mut phone).map(|d| d.credential),
            Ok(Credential::Phone)
        );
    }

    #[test]
    fn something_else_is_not_recognised_and_a_lost_tag_is_a_transport_error() {
        let mut other = Applications::with(&[&[0xA0, 0x00, 0x00, 0x00, 0x03]]);
        assert_eq!(detect(&mut other), Err(DetectError::NotRecognised));
        assert_eq!(other.sent.len(), 3);
        let mut leaving = Applications::with(&[&MDOC_AID]);
        leaving.fail_with = Some(TransportError::TagLost);
        assert_eq!(
            detect(&mut leaving),
            Err(DetectError::Transport(TransportError::TagLost))
        );
    }

    #[test]
    fn levels_fit_their_credential_and_the_errors_say_what_to_do() {
        assert_eq!(Credential::Phone.fits(Level::M), Ok(()));
        assert_eq!(Credential::Card.fits(Level::B), Ok(()));
        let phone = Credential::Phone.fits(Level::B).expect_err("a card level");
        assert!(phone.to_string().contains("level M"), "{phone}");
        assert!(phone.to_string().contains("phone wallet"), "{phone}");
        let card = Credential::Card
            .fits(Level::M)
            .expect_err("the phone level");
        assert!(card.to_string().contains("level A, B or C"), "{card}");
    }
}
