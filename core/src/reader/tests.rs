//! The reading engine against a scripted card that serves one EF.

use proptest::prelude::*;

use super::*;
use crate::apdu::{Command, StatusWord};
use crate::transport::TransportCapabilities;

/// A card holding one EF, with the limits and faults of real readers and cards.
struct OneFileCard {
    ef: Vec<u8>,
    capabilities: TransportCapabilities,
    /// The card answers `67 00` to a READ BINARY asking for more.
    card_max_le: usize,
    /// Answer `6C xx` instead of `67 00` when Le exceeds what is left in the file.
    hints_le: bool,
    /// 1-based exchange numbers at which the tag is lost (command not executed).
    lose_tag_at: Vec<u32>,
    /// The reader claims extended length but fails such commands (seen with some PC/SC readers).
    rejects_extended: bool,
    exchanges: u32,
    reconnects: u32,
}

impl OneFileCard {
    fn new(ef: Vec<u8>, capabilities: TransportCapabilities) -> Self {
        Self {
            ef,
            capabilities,
            card_max_le: usize::MAX,
            hints_le: false,
            lose_tag_at: Vec::new(),
            rejects_extended: false,
            exchanges: 0,
            reconnects: 0,
        }
    }
}

impl CardTransport for OneFileCard {
    fn capabilities(&self) -> TransportCapabilities {
        self.capabilities
    }

    fn transmit(&mut self, bytes: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.exchanges += 1;
        if self.lose_tag_at.contains(&self.exchanges) {
            return Err(TransportError::TagLost);
        }
        let command = Command::parse(bytes).map_err(|e| TransportError::Reader(e.to_string()))?;
        if command.is_extended() && (!self.capabilities.extended_length || self.rejects_extended) {
            return Err(TransportError::LengthNotSupported);
        }
        let sw = |s: StatusWord| Ok(s.to_bytes().to_vec());
        match command.ins {
            0xA4 => sw(StatusWord::SUCCESS),
            0xB0 => {
                let offset = usize::from(u16::from_be_bytes([command.p1, command.p2]));
                let le = command.le().map_or(0, |le| le.bytes());
                if offset >= self.ef.len() {
                    return sw(StatusWord::WRONG_P1P2);
                }
                let left = self.ef.len() - offset;
                if le > self.card_max_le {
                    return sw(StatusWord::WRONG_LENGTH);
                }
                if le > left && self.hints_le {
                    return sw(StatusWord(0x6C00 | (left.min(256) % 256) as u16));
                }
                let mut out = self.ef[offset..offset + le.min(left)].to_vec();
                let status = if le > left {
                    StatusWord::END_OF_FILE
                } else {
                    StatusWord::SUCCESS
                };
                if out.len() + 2 > self.capabilities.max_response_len {
                    return Err(TransportError::LengthNotSupported);
                }
                out.extend_from_slice(&status.to_bytes());
                Ok(out)
            }
            _ => sw(StatusWord::INS_NOT_SUPPORTED),
        }
    }

    fn reconnect(&mut self) -> Result<(), TransportError> {
        self.reconnects += 1;
        Ok(())
    }
}

/// A DER SEQUENCE of `value_len` bytes, followed by `padding` bytes of 0xFF (EFs are fixed-size).
fn der_ef(value_len: usize, padding: usize) -> (Vec<u8>, Vec<u8>) {
    let mut tlv = crate::tlv::encode(0x30, &vec![0x5A; value_len]);
    for (i, b) in tlv.iter_mut().enumerate().skip(4) {
        *b = (i % 251) as u8;
    }
    let mut ef = tlv.clone();
    ef.extend(std::iter::repeat_n(0xFF, padding));
    (tlv, ef)
}

fn read(card: OneFileCard) -> (Result<Vec<u8>, CardError>, Counters, Vec<ReadEvent>) {
    let events = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let sink = events.clone();
    let mut session = CardSession::new(card)
        .with_observer(move |e: &ReadEvent| sink.borrow_mut().push(e.clone()));
    let result = session.read_tlv_ef(0x000A);
    let counters = session.counters();
    drop(session);
    let events = events.borrow().clone();
    (result, counters, events)
}

#[test]
fn short_reads_take_exactly_what_the_header_declares() {
    let (tlv, ef) = der_ef(1196, 300);
    let (data, counters, _) = read(OneFileCard::new(ef, TransportCapabilities::SHORT_ONLY));
    assert_eq!(data.expect("reads"), tlv);
    // SELECT + ceil(1200 / 256) READ BINARY.
    assert_eq!(counters.apdus, 1 + 5);
}

#[test]
fn extended_length_reads_a_certificate_in_one_command() {
    let (tlv, ef) = der_ef(1196, 300);
    let (data, counters, _) = read(OneFileCard::new(ef, TransportCapabilities::EXTENDED));
    assert_eq!(data.expect("reads"), tlv);
    assert_eq!(counters.apdus, 2);
}

#[test]
fn link_refusing_extended_length_falls_back_to_short() {
    let (tlv, ef) = der_ef(1196, 0);
    let mut card = OneFileCard::new(ef, TransportCapabilities::EXTENDED);
    card.rejects_extended = true;
    let (data, counters, events) = read(card);
    assert_eq!(data.expect("reads"), tlv);
    assert!(
        events.contains(&ReadEvent::ExtendedLengthDisabled),
        "{events:?}"
    );
    // SELECT, the refused extended read, then 5 short reads.
    assert_eq!(counters.apdus, 1 + 1 + 5);
}

#[test]
fn card_limited_to_224_bytes_steps_down_once() {
    let (tlv, ef) = der_ef(1000, 0);
    let mut card = OneFileCard::new(ef, TransportCapabilities::SHORT_ONLY);
    card.card_max_le = 224;
    let (data, counters, events) = read(card);
    assert_eq!(data.expect("reads"), tlv);
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, ReadEvent::ResponseSizeReduced { .. }))
            .collect::<Vec<_>>(),
        vec![&ReadEvent::ResponseSizeReduced { from: 256, to: 224 }]
    );
    // SELECT, one refused 256, then ceil(1004 / 224) = 5 reads.
    assert_eq!(counters.apdus, 1 + 1 + 5);
}

#[test]
fn card_hint_6cxx_is_followed_for_a_small_file() {
    let (tlv, ef) = der_ef(30, 0);
    let mut card = OneFileCard::new(ef, TransportCapabilities::SHORT_ONLY);
    card.hints_le = true;
    let (data, counters, _) = read(card);
    assert_eq!(data.expect("reads"), tlv);
    assert_eq!(counters.apdus, 1 + 2);
}

#[test]
fn tag_loss_resumes_at_the_same_offset() {
    let (tlv, ef) = der_ef(1196, 0);
    let mut card = OneFileCard::new(ef, TransportCapabilities::SHORT_ONLY);
    // Exchange 4 is the third READ BINARY (offset 512).
    card.lose_tag_at = vec![4];
    let (data, counters, events) = read(card);
    assert_eq!(data.expect("reads"), tlv);
    assert_eq!(counters.tag_losses, 1);
    assert!(events.contains(&ReadEvent::TagLost {
        attempt: 1,
        max_attempts: DEFAULT_MAX_TAG_LOSSES
    }));
    assert!(events.contains(&ReadEvent::Resumed {
        ef: 0x000A,
        offset: 512
    }));
}

#[test]
fn tag_lost_too_often_gives_up_with_a_typed_error() {
    let (_, ef) = der_ef(1196, 0);
    let mut card = OneFileCard::new(ef, TransportCapabilities::SHORT_ONLY);
    card.lose_tag_at = (3..40).collect();
    let (data, _, _) = read(card);
    assert!(
        matches!(data, Err(CardError::TagLostTooOften { attempts: 4 })),
        "{data:?}"
    );
}

#[test]
fn header_promising_more_than_the_file_holds_is_truncation() {
    let (tlv, _) = der_ef(1196, 0);
    let ef = tlv[..700].to_vec();
    let (data, _, _) = read(OneFileCard::new(ef, TransportCapabilities::SHORT_ONLY));
    assert!(
        matches!(
            data,
            Err(CardError::Truncated {
                ef: 0x000A,
                expected: 1200,
                got: 700
            })
        ),
        "{data:?}"
    );
}

#[test]
fn indefinite_length_is_malformed() {
    let ef = vec![0x30, 0x80, 0x01, 0x02, 0x00, 0x00];
    let (data, _, _) = read(OneFileCard::new(ef, TransportCapabilities::SHORT_ONLY));
    assert!(
        matches!(data, Err(CardError::MalformedTlv { .. })),
        "{data:?}"
    );
}

#[test]
fn empty_file_is_truncation_not_a_hang() {
    let (data, _, _) = read(OneFileCard::new(
        vec![0x30],
        TransportCapabilities::SHORT_ONLY,
    ));
    assert!(data.is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever the file size, padding, link and card limit, the engine returns exactly the TLV,
    /// and never more READ BINARY commands than the chunk size makes necessary (plus step-downs).
    #[test]
    fn reads_exactly_the_tlv(
        value_len in 0usize..12_000,
        padding in 0usize..600,
        extended in any::<bool>(),
        card_max_le in prop::sample::select(vec![usize::MAX, 256, 224, 200, 128, 64]),
        hints in any::<bool>(),
    ) {
        let (tlv, ef) = der_ef(value_len, padding);
        let caps = if extended { TransportCapabilities::EXTENDED } else { TransportCapabilities::SHORT_ONLY };
        let mut card = OneFileCard::new(ef, caps);
        card.card_max_le = card_max_le;
        card.hints_le = hints;
        let (data, counters, _) = read(card);
        prop_assert_eq!(data.expect("reads"), tlv.clone());
        let effective = if extended && card_max_le == usize::MAX { 65_536 } else { card_max_le.min(256) };
        let smallest_step = super::read_binary::smallest_step_at_most(effective);
        let reads = tlv.len().div_ceil(smallest_step) as u32;
        // SELECT, the reads, and at most one refusal per step-down plus one card hint.
        prop_assert!(counters.apdus <= 1 + reads + 8 + 1, "{} APDUs for {} bytes", counters.apdus, tlv.len());
    }

    /// Hostile files never panic the engine, and whatever it returns came from the card.
    #[test]
    fn arbitrary_files_never_panic(ef in prop::collection::vec(any::<u8>(), 0..3000), extended in any::<bool>()) {
        let caps = if extended { TransportCapabilities::EXTENDED } else { TransportCapabilities::SHORT_ONLY };
        let (data, _, _) = read(OneFileCard::new(ef.clone(), caps));
        if let Ok(bytes) = data {
            prop_assert!(ef.starts_with(&bytes));
        }
    }
}
