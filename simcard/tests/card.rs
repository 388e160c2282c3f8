//! The software card's APDU behaviour, driven through `CardTransport` as a reader would.

mod common;

use common::*;
use honnin_core::apdu::{Command, Le, StatusWord};
use honnin_core::card::profile::{aid, card_face, input_support, ins, jpki};
use honnin_core::transport::{CardTransport, TransportError};
use honnin_simcard::{LinkConfig, Oversize, PinId, Profile, SoftwareCard};

fn genuine() -> SoftwareCard {
    Profile::Genuine.build().expect("genuine card")
}

#[test]
fn selects_applications_by_aid_only() {
    let mut card = genuine();
    assert_eq!(
        sw(&mut card, select_ef(jpki::AUTH_CERT)),
        StatusWord::FILE_NOT_FOUND
    );
    assert_eq!(sw(&mut card, select_app(&aid::JPKI)), StatusWord::SUCCESS);
    assert_eq!(
        sw(&mut card, select_app(&[0xA0; 10])),
        StatusWord::FILE_NOT_FOUND
    );
    assert_eq!(sw(&mut card, select_ef(0x7777)), StatusWord::FILE_NOT_FOUND);
    // FCI is not offered.
    let with_fci = Command::new(0x00, ins::SELECT, ins::P1_SELECT_AID, 0x00).with_data(aid::JPKI);
    assert_eq!(sw(&mut card, with_fci), StatusWord::INCORRECT_P1P2);
    assert_eq!(card.selected_aids().len(), 3);
}

#[test]
fn token_is_padded_to_32_bytes() {
    let mut card = genuine();
    open(&mut card, &aid::JPKI, jpki::TOKEN);
    let r = send(&mut card, read(0, 32)).expect("link");
    assert_eq!(r.status(), StatusWord::SUCCESS);
    assert_eq!(r.data(), b"JPKIAPICCTOKEN                  ");
}

#[test]
fn read_binary_edges() {
    let mut card = genuine();
    open(&mut card, &aid::JPKI, jpki::AUTH_CERT);
    let size = card.ef(&aid::JPKI, jpki::AUTH_CERT).expect("cert").len();
    assert!(size > 256 && size < 2048);

    // Short Le 00 asks for 256 bytes.
    let r = send(&mut card, read(0, 256)).expect("link");
    assert_eq!((r.status(), r.data().len()), (StatusWord::SUCCESS, 256));
    // Fewer bytes left than asked: the rest, with 62 82.
    let last = (size - 10) as u16;
    let r = send(&mut card, read(last, 256)).expect("link");
    assert_eq!((r.status(), r.data().len()), (StatusWord::END_OF_FILE, 10));
    // Exactly what is left: 90 00.
    let r = send(&mut card, read(last, 10)).expect("link");
    assert_eq!((r.status(), r.data().len()), (StatusWord::SUCCESS, 10));
    // At or past the end: 6B 00, no data.
    for offset in [size as u16, size as u16 + 100] {
        let r = send(&mut card, read(offset, 1)).expect("link");
        assert_eq!((r.status(), r.data().len()), (StatusWord::WRONG_P1P2, 0));
    }
    // No Le: wrong length.
    assert_eq!(
        sw(&mut card, Command::new(0x00, ins::READ_BINARY, 0, 0)),
        StatusWord::WRONG_LENGTH
    );
    // Short-EF addressing is not part of the model.
    let sfi = Command::new(0x00, ins::READ_BINARY, 0x81, 0).with_le(Le::short_max());
    assert_eq!(sw(&mut card, sfi), StatusWord::FUNCTION_NOT_SUPPORTED);
    // What was read, piecewise, is the EF.
    assert_eq!(
        read_all(&mut card),
        card.ef(&aid::JPKI, jpki::AUTH_CERT).expect("cert")
    );
}

#[test]
fn extended_le_reads_a_whole_ef_in_one_command() {
    let mut card = genuine();
    assert_eq!(
        sw(&mut card, select_app(&aid::CARD_FACE)),
        StatusWord::SUCCESS
    );
    assert_eq!(
        sw(&mut card, select_ef(card_face::MATCHING_NUMBER_B)),
        StatusWord::SUCCESS
    );
    let number = card.facts().matching_number_b.clone();
    assert_eq!(
        sw(&mut card, verify(number.as_bytes())),
        StatusWord::SUCCESS
    );
    assert_eq!(
        sw(&mut card, select_ef(card_face::FACE_DATA)),
        StatusWord::SUCCESS
    );
    let size = card
        .ef(&aid::CARD_FACE, card_face::FACE_DATA)
        .expect("EF")
        .len();
    assert!(size > 3_000, "{size}");
    let r = send(&mut card, read(0, 65_536)).expect("link");
    assert_eq!(
        (r.status(), r.data().len()),
        (StatusWord::END_OF_FILE, size)
    );
    assert!(card.capabilities().extended_length);
}

#[test]
fn short_only_link_refuses_extended_commands_either_way() {
    let mut card = genuine().with_link(LinkConfig::SHORT_ONLY);
    assert_eq!(card.capabilities().max_response_len, 258);
    open(&mut card, &aid::JPKI, jpki::AUTH_CERT);
    assert_eq!(sw(&mut card, read(0, 1024)), StatusWord::WRONG_LENGTH);
    // Extended encoding of a small Le is refused too: the link cannot carry the form.
    let forced = read(0, 16).extended();
    assert_eq!(sw(&mut card, forced), StatusWord::WRONG_LENGTH);
    assert_eq!(sw(&mut card, read(0, 256)), StatusWord::SUCCESS);

    let mut card =
        genuine().with_link(LinkConfig::SHORT_ONLY.with_oversize(Oversize::TransportError));
    open(&mut card, &aid::JPKI, jpki::AUTH_CERT);
    assert_eq!(
        send(&mut card, read(0, 1024)).map(|r| r.status()),
        Err(TransportError::LengthNotSupported)
    );
    // The refused command never reached the card.
    assert_eq!(card.log().last().and_then(|e| e.status), None);
}

#[test]
fn max_response_len_caps_le_on_an_extended_link() {
    let mut card = genuine().with_link(LinkConfig::EXTENDED.with_max_response_len(1026));
    open(&mut card, &aid::JPKI, jpki::AUTH_CERT);
    assert_eq!(sw(&mut card, read(0, 1024)), StatusWord::END_OF_FILE);
    assert_eq!(sw(&mut card, read(0, 1025)), StatusWord::WRONG_LENGTH);
}

#[test]
fn tries_left_spends_nothing_and_wrong_pins_lock() {
    let mut card = genuine();
    open(&mut card, &aid::JPKI, jpki::AUTH_PIN);
    assert_eq!(sw(&mut card, tries()), StatusWord(0x63C3));
    assert_eq!(sw(&mut card, tries()), StatusWord(0x63C3));
    assert_eq!(card.tries_left(PinId::Auth), Some(3));
    assert_eq!(sw(&mut card, verify(b"0000")), StatusWord(0x63C2));
    assert_eq!(sw(&mut card, verify(b"0000")), StatusWord(0x63C1));
    assert_eq!(card.tries_left(PinId::Auth), Some(1));
    assert_eq!(sw(&mut card, verify(b"0000")), StatusWord(0x63C0));
    assert_eq!(card.tries_left(PinId::Auth), Some(0));
    // Locked: the right PIN is refused, with or without data, and stays locked after reselect.
    assert_eq!(
        sw(&mut card, verify(b"2468")),
        StatusWord::AUTH_METHOD_BLOCKED
    );
    assert_eq!(sw(&mut card, tries()), StatusWord::AUTH_METHOD_BLOCKED);
    open(&mut card, &aid::JPKI, jpki::AUTH_PIN);
    assert_eq!(
        sw(&mut card, verify(b"2468")),
        StatusWord::AUTH_METHOD_BLOCKED
    );
    // Other PINs are untouched.
    assert_eq!(card.tries_left(PinId::Sign), Some(5));
    assert_eq!(card.tries_left(PinId::InputSupport), Some(3));
}

#[test]
fn right_pin_resets_the_counter() {
    let mut card = genuine();
    open(&mut card, &aid::JPKI, jpki::SIGN_PIN);
    assert_eq!(sw(&mut card, verify(b"WRONG1")), StatusWord(0x63C4));
    assert_eq!(sw(&mut card, verify(b"TESTPASS1")), StatusWord::SUCCESS);
    assert_eq!(card.tries_left(PinId::Sign), Some(5));
    // Verified: a VERIFY without data answers 90 00 (ISO 7816-4).
    assert_eq!(sw(&mut card, tries()), StatusWord::SUCCESS);
}

#[test]
fn verify_needs_a_pin_ef() {
    let mut card = genuine();
    assert_eq!(sw(&mut card, select_app(&aid::JPKI)), StatusWord::SUCCESS);
    assert_eq!(sw(&mut card, verify(b"2468")), StatusWord(0x6986));
    assert_eq!(
        sw(&mut card, select_ef(jpki::AUTH_CERT)),
        StatusWord::SUCCESS
    );
    assert_eq!(sw(&mut card, verify(b"2468")), StatusWord(0x6981));
    assert_eq!(card.tries_left(PinId::Auth), Some(3));
}

#[test]
fn signing_certificate_needs_the_signing_password() {
    let mut card = genuine();
    open(&mut card, &aid::JPKI, jpki::SIGN_CERT);
    assert_eq!(
        sw(&mut card, read(0, 256)),
        StatusWord::SECURITY_STATUS_NOT_SATISFIED
    );
    // The authentication PIN does not open it.
    assert_eq!(
        sw(&mut card, select_ef(jpki::AUTH_PIN)),
        StatusWord::SUCCESS
    );
    assert_eq!(sw(&mut card, verify(b"2468")), StatusWord::SUCCESS);
    assert_eq!(
        sw(&mut card, select_ef(jpki::SIGN_CERT)),
        StatusWord::SUCCESS
    );
    assert_eq!(
        sw(&mut card, read(0, 256)),
        StatusWord::SECURITY_STATUS_NOT_SATISFIED
    );
    assert_eq!(
        sw(&mut card, select_ef(jpki::SIGN_PIN)),
        StatusWord::SUCCESS
    );
    assert_eq!(sw(&mut card, verify(b"TESTPASS1")), StatusWord::SUCCESS);
    assert_eq!(
        sw(&mut card, select_ef(jpki::SIGN_CERT)),
        StatusWord::SUCCESS
    );
    assert_eq!(sw(&mut card, read(0, 256)), StatusWord::SUCCESS);
    // Keys and PINs are never readable.
    assert_eq!(
        sw(&mut card, select_ef(jpki::SIGN_KEY)),
        StatusWord::SUCCESS
    );
    assert_eq!(sw(&mut card, read(0, 256)), StatusWord(0x6981));
}

#[test]
fn security_state_is_lost_when_another_application_is_selected() {
    let mut card = genuine();
    open(&mut card, &aid::JPKI, jpki::AUTH_PIN);
    assert_eq!(sw(&mut card, verify(b"2468")), StatusWord::SUCCESS);
    assert_eq!(
        sw(&mut card, select_ef(jpki::AUTH_KEY)),
        StatusWord::SUCCESS
    );
    let digest_info = [&SHA256_DIGEST_INFO_PREFIX[..], &[7u8; 32]].concat();
    assert_eq!(sw(&mut card, sign(&digest_info)), StatusWord::SUCCESS);

    assert_eq!(
        sw(&mut card, select_app(&aid::INPUT_SUPPORT)),
        StatusWord::SUCCESS
    );
    open(&mut card, &aid::JPKI, jpki::AUTH_KEY);
    assert_eq!(
        sw(&mut card, sign(&digest_info)),
        StatusWord::SECURITY_STATUS_NOT_SATISFIED
    );
    // Reselecting the same application drops it as well.
    open(&mut card, &aid::JPKI, jpki::AUTH_PIN);
    assert_eq!(sw(&mut card, verify(b"2468")), StatusWord::SUCCESS);
    open(&mut card, &aid::JPKI, jpki::AUTH_KEY);
    assert_eq!(
        sw(&mut card, sign(&digest_info)),
        StatusWord::SECURITY_STATUS_NOT_SATISFIED
    );
    assert_eq!(card.stats().rsa_operations, 1);
}

#[test]
fn compute_signature_checks_its_inputs() {
    let mut card = genuine();
    open(&mut card, &aid::JPKI, jpki::AUTH_PIN);
    assert_eq!(sw(&mut card, verify(b"2468")), StatusWord::SUCCESS);
    // On a non-key EF.
    assert_eq!(sw(&mut card, sign(&[1; 51])), StatusWord(0x6981));
    assert_eq!(
        sw(&mut card, select_ef(jpki::AUTH_KEY)),
        StatusWord::SUCCESS
    );
    // Wrong CLA, no data, too much data, Le too small.
    let wrong_cla = Command::new(0x00, ins::COMPUTE_DIGITAL_SIGNATURE, 0, 0x80)
        .with_data(vec![1; 51])
        .with_le(Le::short_max());
    assert_eq!(sw(&mut card, wrong_cla), StatusWord::CLA_NOT_SUPPORTED);
    assert_eq!(sw(&mut card, sign(&[1; 246])), StatusWord::WRONG_LENGTH);
    let small_le = Command::new(0x80, ins::COMPUTE_DIGITAL_SIGNATURE, 0, 0x80)
        .with_data(vec![1; 51])
        .with_le(Le::new(128).expect("valid"));
    assert_eq!(sw(&mut card, small_le), StatusWord::WRONG_LENGTH);
    let r = send(&mut card, sign(&[1; 51])).expect("link");
    assert_eq!((r.status(), r.data().len()), (StatusWord::SUCCESS, 256));
}

#[test]
fn internal_authenticate_needs_matching_number_b_and_the_card_face_ap() {
    let mut card = genuine();
    let challenge = [0x42; 32];
    assert_eq!(sw(&mut card, select_app(&aid::JPKI)), StatusWord::SUCCESS);
    assert_eq!(
        sw(&mut card, internal_auth(&challenge)),
        StatusWord::INS_NOT_SUPPORTED
    );
    assert_eq!(
        sw(&mut card, select_app(&aid::CARD_FACE)),
        StatusWord::SUCCESS
    );
    assert_eq!(
        sw(&mut card, internal_auth(&challenge)),
        StatusWord::SECURITY_STATUS_NOT_SATISFIED
    );
    assert_eq!(
        sw(&mut card, select_ef(card_face::MATCHING_NUMBER_B)),
        StatusWord::SUCCESS
    );
    assert_eq!(
        sw(&mut card, verify(b"90040120341234")),
        StatusWord::SUCCESS
    );
    assert_eq!(
        sw(&mut card, internal_auth(&[0x42; 31])),
        StatusWord::WRONG_LENGTH
    );
    let r = send(&mut card, internal_auth(&challenge)).expect("link");
    assert_eq!((r.status(), r.data().len()), (StatusWord::SUCCESS, 256));

    let mut card = Profile::NoInternalAuth.build().expect("card");
    open(&mut card, &aid::CARD_FACE, card_face::MATCHING_NUMBER_B);
    assert_eq!(
        sw(&mut card, verify(b"90040120341234")),
        StatusWord::SUCCESS
    );
    assert_eq!(
        sw(&mut card, internal_auth(&challenge)),
        StatusWord::INS_NOT_SUPPORTED
    );

    // A clone may answer anything instead of the signature it cannot make.
    let mut card = Profile::Clone
        .build()
        .expect("card")
        .with_internal_auth_refusal(StatusWord(0x6A81));
    open(&mut card, &aid::CARD_FACE, card_face::MATCHING_NUMBER_B);
    assert_eq!(
        sw(&mut card, verify(b"90040120341234")),
        StatusWord::SUCCESS
    );
    assert_eq!(sw(&mut card, internal_auth(&challenge)), StatusWord(0x6A81));
}

#[test]
fn input_support_data_needs_its_pin() {
    let mut card = genuine();
    open(&mut card, &aid::INPUT_SUPPORT, input_support::CV_CERT);
    assert_eq!(sw(&mut card, read(0, 16)), StatusWord::SUCCESS);
    assert_eq!(
        sw(&mut card, select_ef(input_support::BASIC_ATTRIBUTES)),
        StatusWord::SUCCESS
    );
    assert_eq!(
        sw(&mut card, read(0, 16)),
        StatusWord::SECURITY_STATUS_NOT_SATISFIED
    );
    assert_eq!(
        sw(&mut card, select_ef(input_support::PIN)),
        StatusWord::SUCCESS
    );
    assert_eq!(sw(&mut card, verify(b"2468")), StatusWord::SUCCESS);
    assert_eq!(
        sw(&mut card, select_ef(input_support::SIGNATURE)),
        StatusWord::SUCCESS
    );
    assert_eq!(sw(&mut card, read(0, 16)), StatusWord::SUCCESS);
}

#[test]
fn the_log_records_what_was_asked_but_no_data() {
    let mut card = genuine();
    open(&mut card, &aid::INPUT_SUPPORT, input_support::PIN);
    sw(&mut card, verify(b"2468"));
    sw(&mut card, select_ef(input_support::BASIC_ATTRIBUTES));
    sw(&mut card, read(0, 256));
    assert!(!card.was_selected(
        &aid::INPUT_SUPPORT,
        input_support::INDIVIDUAL_NUMBER_NEVER_READ
    ));
    assert!(!card.was_selected(&aid::CARD_FACE, card_face::MATCHING_NUMBER_A_NEVER_USED));
    assert!(card.was_selected(&aid::INPUT_SUPPORT, input_support::BASIC_ATTRIBUTES));
    assert!(card.was_sent(&aid::INPUT_SUPPORT, ins::VERIFY));
    let last = card.log().last().expect("entry");
    assert_eq!(
        (last.ins, last.fid),
        (ins::READ_BINARY, Some(input_support::BASIC_ATTRIBUTES))
    );
    assert!(!format!("{:?}", card.log()).contains("2468"));

    // A test that did select EF 0001 is caught.
    sw(
        &mut card,
        select_ef(input_support::INDIVIDUAL_NUMBER_NEVER_READ),
    );
    assert!(card.was_selected(
        &aid::INPUT_SUPPORT,
        input_support::INDIVIDUAL_NUMBER_NEVER_READ
    ));
}

#[test]
fn unknown_instructions_and_malformed_apdus_get_status_words() {
    let mut card = genuine();
    assert_eq!(
        card.transmit(&[0x00, 0xCA, 0x01, 0x02, 0x00]),
        Ok(vec![0x6D, 0x00])
    );
    assert_eq!(card.transmit(&[0x00, 0xB0]), Ok(vec![0x67, 0x00]));
    assert_eq!(
        card.transmit(&[0x00, 0xA4, 0x04, 0x0C, 0x05, 1, 2]),
        Ok(vec![0x67, 0x00])
    );
    assert_eq!(card.stats().exchanges, 3);
}
