#![no_main]
//! The reading engine and card applications against a card whose every answer is fuzz input:
//! a hostile chip must get typed errors, never a panic, a hang or an unbounded allocation.

use honnin_core::card::{AuthPin, MatchingNumberB};
use honnin_core::reader::CardSession;
use honnin_core::transport::{CardTransport, TransportCapabilities, TransportError};
use libfuzzer_sys::fuzz_target;

/// Answers each command with the next length-prefixed chunk of the input.
struct HostileCard<'a> {
    input: &'a [u8],
    extended: bool,
    exchanges: usize,
}

impl CardTransport for HostileCard<'_> {
    fn capabilities(&self) -> TransportCapabilities {
        if self.extended {
            TransportCapabilities::EXTENDED
        } else {
            TransportCapabilities::SHORT_ONLY
        }
    }

    fn transmit(&mut self, _command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.exchanges += 1;
        assert!(self.exchanges < 100_000, "the engine does not stop");
        let Some((&len, rest)) = self.input.split_first() else {
            return Err(TransportError::NoCard);
        };
        if len == 0xFF {
            self.input = rest;
            return Err(TransportError::TagLost);
        }
        let len = usize::from(len).min(rest.len());
        let (answer, rest) = rest.split_at(len);
        self.input = rest;
        Ok(answer.to_vec())
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    let card = HostileCard {
        input,
        extended: mode & 1 == 1,
        exchanges: 0,
    };
    let mut session = CardSession::new(card);
    if let Ok(mut jpki) = session.jpki() {
        let _ = jpki.token();
        let _ = jpki.authentication_certificate();
        if let Ok(pin) = AuthPin::parse("1234")
            && let Ok(mut unlocked) = jpki.unlock_authentication(&pin)
        {
            let _ = unlocked.sign(&[0u8; 51]);
        }
    }
    if let Ok(face) = session.card_face()
        && let Ok(number) = MatchingNumberB::parse("90040120341234")
        && let Ok(mut opened) = face.open(&number)
    {
        let _ = opened.face_data();
        let _ = opened.internal_authenticate(&[0u8; 32]);
    }
});
