//! APDU helpers shared by the software card's tests.
#![allow(dead_code)]

use honnin_core::apdu::{Command, Le, Response, StatusWord};
use honnin_core::card::profile::ins;
use honnin_core::transport::{CardTransport, TransportError};
use honnin_simcard::SoftwareCard;

pub fn send(card: &mut SoftwareCard, command: Command) -> Result<Response, TransportError> {
    let bytes = command.to_bytes().expect("encodes");
    let answer = card.transmit(&bytes)?;
    Ok(Response::parse(&answer).expect("at least SW1 SW2"))
}

pub fn sw(card: &mut SoftwareCard, command: Command) -> StatusWord {
    send(card, command).expect("link up").status()
}

pub fn select_app(aid: &[u8; 10]) -> Command {
    Command::new(0x00, ins::SELECT, ins::P1_SELECT_AID, ins::P2_NO_FCI).with_data(aid.to_vec())
}

pub fn select_ef(fid: u16) -> Command {
    Command::new(0x00, ins::SELECT, ins::P1_SELECT_EF, ins::P2_NO_FCI)
        .with_data(fid.to_be_bytes().to_vec())
}

pub fn read(offset: u16, le: usize) -> Command {
    let [p1, p2] = offset.to_be_bytes();
    Command::new(0x00, ins::READ_BINARY, p1, p2).with_le(Le::new(le).expect("valid Le"))
}

pub fn verify(pin: &[u8]) -> Command {
    Command::new(0x00, ins::VERIFY, 0x00, 0x80).with_data(pin.to_vec())
}

pub fn tries() -> Command {
    Command::new(0x00, ins::VERIFY, 0x00, 0x80)
}

pub fn sign(digest_info: &[u8]) -> Command {
    Command::new(
        ins::CLA_PROPRIETARY,
        ins::COMPUTE_DIGITAL_SIGNATURE,
        0x00,
        0x80,
    )
    .with_data(digest_info.to_vec())
    .with_le(Le::short_max())
}

pub fn internal_auth(challenge: &[u8]) -> Command {
    Command::new(0x00, ins::INTERNAL_AUTHENTICATE, 0x00, 0x00)
        .with_data(challenge.to_vec())
        .with_le(Le::short_max())
}

/// Selects an application and an EF, expecting success.
pub fn open(card: &mut SoftwareCard, aid: &[u8; 10], fid: u16) {
    assert_eq!(sw(card, select_app(aid)), StatusWord::SUCCESS);
    assert_eq!(sw(card, select_ef(fid)), StatusWord::SUCCESS);
}

/// Reads a whole EF in 256-byte steps until the card says the file ended.
pub fn read_all(card: &mut SoftwareCard) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let offset = u16::try_from(out.len()).expect("EF below 32 KB");
        let r = send(card, read(offset, 256)).expect("link up");
        match r.status() {
            StatusWord::SUCCESS => out.extend_from_slice(r.data()),
            StatusWord::END_OF_FILE => {
                out.extend_from_slice(r.data());
                return out;
            }
            StatusWord::WRONG_P1P2 => return out,
            other => panic!("unexpected {other}"),
        }
    }
}

/// SHA-256 DigestInfo prefix (RFC 8017 §9.2 note 1).
pub const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
