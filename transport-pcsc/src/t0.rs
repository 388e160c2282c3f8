//! T=0 response handling: `61xx` (GET RESPONSE) and `6Cxx` (wrong Le, re-issue).
//!
//! Under T=0 a card cannot send data in the same exchange as a command that also carried data
//! (ISO 7816-3 case 4), and it reports a wrong `Le` before running a case-2 command. It then
//! answers with the procedure status `61xx` ("xx bytes waiting, fetch them with GET RESPONSE") or
//! `6Cxx` ("ask again with Le = xx"). Mapping these back to one APDU exchange is the transport's
//! job (ISO 7816-3 §12.2, ISO 7816-4 §5.3.4).
//!
//! Who does it on a PC/SC host? Not pcsc-lite: `SCardTransmit` passes the APDU to the reader
//! driver and returns what comes back. Readers that exchange at APDU level (most CCID readers in
//! their default mode) may resolve it inside the reader; readers at TPDU level hand `61xx` to the
//! host. OpenSC, pyscard users and javax.smartcardio all do it above PC/SC, so we do too on T=0.
//! On T=1 (and on contactless T=CL, which PC/SC presents like T=1) a `61xx` or `6Cxx` is passed to
//! the core unchanged, and the core's reading engine resolves it the same way
//! (`honnin_core::reader`, exchange.rs), so that every transport — Android's IsoDep included —
//! gets it (issue 16).
//!
//! Both steps are safe to take without being asked: GET RESPONSE only fetches bytes the card
//! already produced, and `6Cxx` is only acted on for commands without a data field (case 1 and
//! 2: reads), which a card answering `6Cxx` has not executed. A command with data (VERIFY,
//! COMPUTE DIGITAL SIGNATURE) is never sent twice.

use honnin_core::transport::TransportError;

/// GET RESPONSE chains are bounded: 65,536 data bytes at 256 per step, plus slack. A card that
/// answers `61xx` forever is a broken (or hostile) card, not a reason to loop.
const MAX_GET_RESPONSE_STEPS: usize = 260;
const MAX_RESPONSE_DATA: usize = 65_536;

/// Sends `command` through `send`, resolving `61xx` and `6Cxx` as T=0 requires.
pub(crate) fn exchange(
    command: &[u8],
    mut send: impl FnMut(&[u8]) -> Result<Vec<u8>, TransportError>,
) -> Result<Vec<u8>, TransportError> {
    let mut response = send(command)?;

    if let Some(le) = sw_6c(&response)
        && let Some(reissued) = with_short_le(command, le)
    {
        response = send(&reissued)?;
    }

    let mut data: Vec<u8> = Vec::new();
    let mut steps = 0;
    while let Some(available) = sw_61(&response) {
        steps += 1;
        if steps > MAX_GET_RESPONSE_STEPS || data.len() > MAX_RESPONSE_DATA {
            return Err(TransportError::Reader(format!(
                "the card kept answering 61xx (more data) after {} bytes; a card sends at most \
                 65,536",
                data.len()
            )));
        }
        response.truncate(response.len() - 2);
        data.append(&mut response);
        response = send(&[0x00, 0xC0, 0x00, 0x00, available])?;
    }
    if data.is_empty() {
        Ok(response)
    } else {
        data.append(&mut response);
        Ok(data)
    }
}

/// `Some(p3)` when the response is exactly `61 p3` (data before it is allowed: some cards send
/// part of the data with it).
fn sw_61(response: &[u8]) -> Option<u8> {
    match response {
        [.., 0x61, p3] => Some(*p3),
        _ => None,
    }
}

fn sw_6c(response: &[u8]) -> Option<u8> {
    match response {
        [0x6C, p3] => Some(*p3),
        _ => None,
    }
}

/// The same command with a short `Le`, when it carries no data (case 1 or 2); `None` otherwise.
fn with_short_le(command: &[u8], le: u8) -> Option<Vec<u8>> {
    let header = command.get(..4)?;
    let no_data = match command.len() {
        4 | 5 => true,
        // Case 2 extended: 00 Le1 Le2.
        7 => command[4] == 0,
        _ => false,
    };
    no_data.then(|| {
        let mut out = header.to_vec();
        out.push(le);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A card that answers from a script and records what it was sent.
    struct Script {
        answers: Vec<Vec<u8>>,
        sent: Vec<Vec<u8>>,
    }

    impl Script {
        fn new(answers: &[&[u8]]) -> Self {
            Self {
                answers: answers.iter().rev().map(|a| a.to_vec()).collect(),
                sent: Vec::new(),
            }
        }
        fn send(&mut self, cmd: &[u8]) -> Result<Vec<u8>, TransportError> {
            self.sent.push(cmd.to_vec());
            self.answers.pop().ok_or(TransportError::Timeout)
        }
    }

    #[test]
    fn plain_answers_pass_through_with_one_exchange() {
        let mut card = Script::new(&[&[1, 2, 0x90, 0x00]]);
        let r = exchange(&[0, 0xB0, 0, 0, 2], |c| card.send(c)).expect("exchange");
        assert_eq!(r, vec![1, 2, 0x90, 0x00]);
        assert_eq!(card.sent.len(), 1);
    }

    #[test]
    fn get_response_chain_is_concatenated() {
        let full = [vec![7u8; 256], vec![0x61, 0x02]].concat();
        let mut card = Script::new(&[&[0x61, 0x00], &full, &[8, 9, 0x90, 0x00]]);
        let cmd = [0x80, 0x2A, 0x00, 0x80, 0x01, 0xAA, 0x00];
        let r = exchange(&cmd, |c| card.send(c)).expect("exchange");
        assert_eq!(r.len(), 256 + 2 + 2);
        assert_eq!(&r[256..], &[8, 9, 0x90, 0x00]);
        assert_eq!(card.sent[1], vec![0x00, 0xC0, 0x00, 0x00, 0x00]);
        assert_eq!(card.sent[2], vec![0x00, 0xC0, 0x00, 0x00, 0x02]);
        // The signing command itself was sent once.
        assert_eq!(card.sent.iter().filter(|c| c[1] == 0x2A).count(), 1);
    }

    #[test]
    fn wrong_le_is_reissued_for_reads() {
        let mut card = Script::new(&[&[0x6C, 0x04], &[1, 2, 3, 4, 0x90, 0x00]]);
        let r = exchange(&[0, 0xB0, 0, 0, 0], |c| card.send(c)).expect("exchange");
        assert_eq!(r, vec![1, 2, 3, 4, 0x90, 0x00]);
        assert_eq!(card.sent[1], vec![0, 0xB0, 0, 0, 4]);
    }

    #[test]
    fn wrong_le_on_extended_read_is_reissued_short() {
        let mut card = Script::new(&[&[0x6C, 0x10], &[0x90, 0x00]]);
        exchange(&[0, 0xB0, 0, 0, 0, 0x10, 0x00], |c| card.send(c)).expect("exchange");
        assert_eq!(card.sent[1], vec![0, 0xB0, 0, 0, 0x10]);
    }

    #[test]
    fn commands_with_data_are_never_sent_twice() {
        let mut card = Script::new(&[&[0x6C, 0x04]]);
        let verify = [0x00, 0x20, 0x00, 0x80, 0x04, 1, 2, 3, 4];
        let r = exchange(&verify, |c| card.send(c)).expect("exchange");
        assert_eq!(r, vec![0x6C, 0x04]);
        assert_eq!(card.sent.len(), 1);
    }

    #[test]
    fn endless_61_is_a_typed_error() {
        let mut sent = 0usize;
        let r = exchange(&[0, 0xB0, 0, 0, 0], |_| {
            sent += 1;
            Ok(vec![0x61, 0x00])
        });
        assert!(matches!(r, Err(TransportError::Reader(_))), "{r:?}");
        assert!(sent <= MAX_GET_RESPONSE_STEPS + 1);
    }

    #[test]
    fn link_errors_during_get_response_are_reported() {
        let mut card = Script::new(&[&[0x61, 0x10]]);
        let r = exchange(&[0, 0xB0, 0, 0, 0], |c| card.send(c));
        assert_eq!(r, Err(TransportError::Timeout));
    }
}
