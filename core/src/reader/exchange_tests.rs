//! `61 xx` and `6C xx` resolved by the engine on any transport (exchange.rs).

use super::*;
use crate::apdu::{Command, Le, StatusWord};
use crate::transport::{CardTransport, TransportCapabilities, TransportError};

/// Answers from a script and records what it was sent.
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
}

impl CardTransport for Script {
    fn capabilities(&self) -> TransportCapabilities {
        TransportCapabilities::EXTENDED
    }
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.sent.push(command.to_vec());
        self.answers.pop().ok_or(TransportError::Timeout)
    }
}

fn read(le: usize) -> Command {
    Command::new(0x00, 0xB0, 0x00, 0x00).with_le(Le::new(le).expect("le"))
}

#[test]
fn more_data_is_fetched_with_get_response_and_joined() {
    let full = [vec![7u8; 256], vec![0x61, 0x02]].concat();
    let mut session = CardSession::new(Script::new(&[&[0x61, 0x00], &full, &[8, 9, 0x90, 0x00]]));
    let response = session.transmit(&read(258)).expect("exchange");
    assert_eq!(response.status(), StatusWord::SUCCESS);
    assert_eq!(response.data().len(), 258);
    assert_eq!(response.data()[256..], [8, 9]);
    let sent = &session.transport().sent;
    assert_eq!(sent[1], [0x00, 0xC0, 0x00, 0x00, 0x00]);
    assert_eq!(sent[2], [0x00, 0xC0, 0x00, 0x00, 0x02]);
    // Every GET RESPONSE is counted.
    assert_eq!(session.counters().apdus, 3);
}

#[test]
fn a_signature_after_61xx_is_fetched_and_the_command_sent_once() {
    let signature = [vec![5u8; 256], vec![0x90, 0x00]].concat();
    let mut session = CardSession::new(Script::new(&[&[0x61, 0x00], &signature]));
    let sign = Command::new(0x80, 0x2A, 0x00, 0x80)
        .with_data(vec![0xAA; 51])
        .with_le(Le::short_max());
    let response = session.transmit(&sign).expect("exchange");
    assert_eq!(response.data(), &signature[..256]);
    let sent = &session.transport().sent;
    assert_eq!(sent.iter().filter(|c| c[1] == 0x2A).count(), 1);
}

#[test]
fn wrong_le_is_resent_with_the_named_le_for_reads_only() {
    let mut session = CardSession::new(Script::new(&[&[0x6C, 0x04], &[1, 2, 3, 4, 0x90, 0x00]]));
    let response = session.transmit(&read(256)).expect("exchange");
    assert_eq!(response.data(), [1, 2, 3, 4]);
    assert_eq!(session.transport().sent[1], [0x00, 0xB0, 0x00, 0x00, 0x04]);

    // A command with data (VERIFY) is never sent twice: the 6C answer is returned as it is.
    let mut session = CardSession::new(Script::new(&[&[0x6C, 0x04]]));
    let verify = Command::new(0x00, 0x20, 0x00, 0x80).with_data(b"1234".to_vec());
    let response = session.transmit(&verify).expect("exchange");
    assert_eq!(response.status(), StatusWord(0x6C04));
    assert_eq!(session.transport().sent.len(), 1);
}

#[test]
fn a_card_that_answers_61xx_forever_is_a_typed_error() {
    struct Endless;
    impl CardTransport for Endless {
        fn capabilities(&self) -> TransportCapabilities {
            TransportCapabilities::EXTENDED
        }
        fn transmit(&mut self, _: &[u8]) -> Result<Vec<u8>, TransportError> {
            Ok([vec![0u8; 256], vec![0x61, 0x00]].concat())
        }
    }
    let mut session = CardSession::new(Endless);
    let result = session.transmit(&read(256));
    assert!(
        matches!(
            result,
            Err(CardError::Malformed {
                operation: "GET RESPONSE",
                ..
            })
        ),
        "{result:?}"
    );
    assert!(session.counters().apdus <= 300);
}
