//! One command and its complete answer: the ISO 7816-4 procedure statuses resolved.
//!
//! ISO/IEC 7816-4 §5.3.4 allows a card to answer `61 xx` ("xx more bytes wait: fetch them with
//! GET RESPONSE") and `6C xx` ("wrong Le: ask again with Le = xx") whatever the protocol. They
//! are best known from T=0, where the PC/SC transport resolves them itself, but cards and readers
//! also produce them over T=1 and contactless links (issue 16: a card answering `61 xx` to READ
//! BINARY over T=1 was refused). So the engine resolves them on every transport, once, here:
//! - `61 xx`: GET RESPONSE until the card has sent everything; only fetches bytes the card has
//!   already produced, so it is safe after any command;
//! - `6C xx`: re-sent with the named Le only for a command without data (case 1/2: reads), which
//!   a card answering `6C xx` has not run. A command with data (VERIFY, a signature) is never sent
//!   twice.

use super::{CardError, CardSession};
use crate::apdu::{CardStatus, Command, Le, Response};
use crate::card::profile::ins;
use crate::transport::{CardTransport, TransportError};

/// GET RESPONSE chains are bounded: 65,536 data bytes at 256 per step, and slack. A card that
/// answers `61 xx` forever is broken (or hostile), not a reason to loop.
const MAX_GET_RESPONSE_STEPS: usize = 260;
const MAX_RESPONSE_DATA: usize = 65_536;

#[cfg(test)]
#[path = "exchange_tests.rs"]
mod tests;

impl<T: CardTransport> CardSession<T> {
    /// One command and its whole answer, every exchange counted; no retry after a link failure.
    pub(crate) fn transmit(&mut self, command: &Command) -> Result<Response, CardError> {
        self.fresh_pin_state = None;
        let response = self.exchange_once(command)?;
        let response = self.resend_with_named_le(command, response)?;
        self.fetch_remaining(response)
    }

    /// `6C xx` to a command without data: the same command with Le = xx.
    fn resend_with_named_le(
        &mut self,
        command: &Command,
        response: Response,
    ) -> Result<Response, CardError> {
        let CardStatus::WrongLength {
            correct_le: Some(named),
        } = response.status().decode()
        else {
            return Ok(response);
        };
        let le = Le::new(named);
        if !command.data().is_empty() || command.le().is_none() || le == command.le() {
            return Ok(response);
        }
        let Some(le) = le else {
            return Ok(response);
        };
        let again = Command::new(command.cla, command.ins, command.p1, command.p2).with_le(le);
        self.exchange_once(&again)
    }

    /// `61 xx`: GET RESPONSE until the card has nothing more; the data of every step joined.
    fn fetch_remaining(&mut self, mut response: Response) -> Result<Response, CardError> {
        let mut data: Vec<u8> = Vec::new();
        let mut steps = 0;
        while let CardStatus::MoreData { available } = response.status().decode() {
            steps += 1;
            data.extend_from_slice(response.data());
            if steps > MAX_GET_RESPONSE_STEPS || data.len() > MAX_RESPONSE_DATA {
                return Err(CardError::Malformed {
                    operation: "GET RESPONSE",
                    detail: format!(
                        "the card kept answering 61xx (more data) after {} bytes; a card sends at \
                         most 65,536",
                        data.len()
                    ),
                });
            }
            let get_response = |le: usize| {
                Le::new(le).map(|le| Command::new(0x00, ins::GET_RESPONSE, 0x00, 0x00).with_le(le))
            };
            let Some(command) = get_response(available) else {
                break;
            };
            response = self.exchange_once(&command)?;
            response = self.resend_with_named_le(&command, response)?;
        }
        if data.is_empty() {
            return Ok(response);
        }
        data.extend_from_slice(response.data());
        Ok(Response::new(data, response.status()))
    }

    /// One exchange, counted.
    fn exchange_once(&mut self, command: &Command) -> Result<Response, CardError> {
        let bytes = command.to_bytes()?;
        self.counters.apdus += 1;
        self.counters.bytes_sent += bytes.len() as u64;
        let answer = match self.transport.transmit(&bytes) {
            Ok(answer) => answer,
            Err(e) => {
                if e == TransportError::TagLost {
                    self.counters.tag_losses += 1;
                }
                return Err(e.into());
            }
        };
        self.counters.bytes_received += answer.len() as u64;
        Ok(Response::parse(&answer)?)
    }
}
