//! Link faults: tag loss before and after execution, removal, truncation, and their profiles.

mod common;

use common::*;
use honnin_core::apdu::{Response, StatusWord};
use honnin_core::card::profile::{aid, ins, jpki};
use honnin_core::transport::{CardTransport, TransportError};
use honnin_simcard::{DEFAULT_TAG_LOSS_AT, Fault, PinId, Profile, When};

#[test]
fn tag_lost_before_execution_spends_no_try_and_resets_the_card() {
    let mut card = Profile::Genuine
        .build()
        .expect("card")
        .with_fault(Fault::TagLostBefore(When::Exchange(3)));
    open(&mut card, &aid::JPKI, jpki::AUTH_PIN);
    assert_eq!(
        send(&mut card, verify(b"0000")).map(|r| r.status()),
        Err(TransportError::TagLost)
    );
    assert_eq!(card.tries_left(PinId::Auth), Some(3));
    // The card came back powered afresh: nothing is selected.
    assert_eq!(sw(&mut card, tries()), StatusWord(0x6986));
    let lost = &card.log()[2];
    assert_eq!(
        (lost.exchange, lost.ins, lost.status),
        (3, ins::VERIFY, None)
    );
}

#[test]
fn tag_lost_after_execution_spends_the_try_but_loses_the_answer() {
    let mut card = Profile::Genuine
        .build()
        .expect("card")
        .with_fault(Fault::TagLostAfter(When::NthCommand {
            ins: ins::VERIFY,
            n: 1,
        }));
    open(&mut card, &aid::JPKI, jpki::AUTH_PIN);
    assert_eq!(
        send(&mut card, verify(b"0000")).map(|r| r.status()),
        Err(TransportError::TagLost)
    );
    assert_eq!(card.tries_left(PinId::Auth), Some(2));
    open(&mut card, &aid::JPKI, jpki::AUTH_PIN);
    assert_eq!(sw(&mut card, tries()), StatusWord(0x63C2));
}

#[test]
fn removed_card_stays_gone() {
    let mut card = Profile::Genuine
        .build()
        .expect("card")
        .with_fault(Fault::Removed { from_exchange: 2 });
    assert_eq!(sw(&mut card, select_app(&aid::JPKI)), StatusWord::SUCCESS);
    for _ in 0..3 {
        assert_eq!(
            card.transmit(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A]),
            Err(TransportError::TagLost)
        );
    }
}

#[test]
fn truncated_response_profile_drops_the_status_word_of_every_read() {
    let mut card = Profile::TruncatedResponse.build().expect("card");
    open(&mut card, &aid::JPKI, jpki::TOKEN);
    let bytes = card
        .transmit(&read(0, 32).to_bytes().expect("encodes"))
        .expect("link");
    // 32 data bytes and 90 00, less the last two bytes: the data alone, no status word.
    assert_eq!(bytes, b"JPKIAPICCTOKEN                  ");
    // Other commands are intact.
    assert_eq!(
        sw(&mut card, select_ef(jpki::AUTH_CERT)),
        StatusWord::SUCCESS
    );
}

#[test]
fn truncation_can_hit_one_exchange() {
    let mut card = Profile::Genuine
        .build()
        .expect("card")
        .with_fault(Fault::Truncate {
            when: When::Exchange(3),
            bytes: 100,
        });
    open(&mut card, &aid::JPKI, jpki::AUTH_CERT);
    let answer = card
        .transmit(&read(0, 256).to_bytes().expect("encodes"))
        .expect("link");
    assert_eq!(answer.len(), 258 - 100);
    let whole = Response::parse(
        &card
            .transmit(&read(0, 256).to_bytes().expect("encodes"))
            .expect("link"),
    )
    .expect("parses");
    assert_eq!(whole.data().len(), 256);
}

#[test]
fn tag_loss_profiles_take_an_exchange_number() {
    assert_eq!(
        Profile::from_name("tag-loss").expect("known"),
        Profile::TagLoss {
            at: DEFAULT_TAG_LOSS_AT,
            command_executed: false
        }
    );
    let profile = Profile::from_name("tag-loss-executed:2").expect("known");
    assert_eq!(
        profile,
        Profile::TagLoss {
            at: 2,
            command_executed: true
        }
    );
    assert_eq!(profile.to_string(), "tag-loss-executed:2");
    let mut card = profile.build().expect("card");
    assert_eq!(sw(&mut card, select_app(&aid::JPKI)), StatusWord::SUCCESS);
    assert_eq!(
        send(&mut card, select_ef(jpki::AUTH_CERT)).map(|r| r.status()),
        Err(TransportError::TagLost)
    );
    assert!(Profile::from_name("tag-loss:0").is_err());
    assert!(Profile::from_name("genuine:3").is_err());
    assert!(Profile::from_name("tag-loss:x").is_err());
}

#[test]
fn profile_names_round_trip_and_unknown_names_list_the_known_ones() {
    for profile in Profile::all() {
        assert_eq!(Profile::from_name(profile.name()).expect("known"), *profile);
    }
    let err = Profile::from_name("real-card")
        .expect_err("unknown")
        .to_string();
    assert!(
        err.contains("genuine") && err.contains("forged-ca"),
        "{err}"
    );
}

#[test]
fn pin_profiles_stage_the_counters() {
    let card = Profile::PinOneTryLeft.build().expect("card");
    assert_eq!(card.tries_left(PinId::Auth), Some(1));
    assert_eq!(card.tries_left(PinId::InputSupport), Some(3));
    let mut card = Profile::PinLocked.build().expect("card");
    open(&mut card, &aid::JPKI, jpki::AUTH_PIN);
    assert_eq!(sw(&mut card, tries()), StatusWord::AUTH_METHOD_BLOCKED);
    assert_eq!(
        sw(&mut card, verify(b"2468")),
        StatusWord::AUTH_METHOD_BLOCKED
    );
}
