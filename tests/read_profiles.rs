//! Every software-card profile read by the core in-process: each is either read in full or fails
//! with the typed error its fault calls for. (Verdicts are the verifier's business; this is about
//! the reading layer delivering the right bytes or the right error.)

use honnin_core::apdu::StatusWord;
use honnin_core::card::input_support::BasicAttributes;
use honnin_core::card::{
    CardFaceData, InputSupportPin, InternalAuthentication, MatchingNumberB, Sex, profile::aid,
    profile::card_face as face_ef, profile::input_support as is_ef,
};
use honnin_core::reader::{CardError, CardSession, PinState};
use honnin_core::transport::{CardTransport, TransportError};
use honnin_e2e::{auth_pin, signing_password};
use honnin_simcard::holder::{INPUT_SUPPORT_PIN, TEST_HOLDER};
use honnin_simcard::{LinkConfig, PinId, Profile, SoftwareCard};

struct Readout {
    auth_cert: Vec<u8>,
    sign_cert: Vec<u8>,
    face: CardFaceData,
    attributes: BasicAttributes,
    internal_auth: InternalAuthentication,
}

/// Reads every application as the Level A, B and C checks do.
fn read_all<T: CardTransport>(
    session: &mut CardSession<T>,
    number_b: &MatchingNumberB,
) -> Result<Readout, CardError> {
    let mut jpki = session.jpki()?;
    let auth_cert = jpki.authentication_certificate()?.0;
    jpki.authentication_ca_certificate()?;
    jpki.signing_ca_certificate()?;
    let mut signing = jpki.unlock_signing(&signing_password())?;
    let sign_cert = signing.signing_certificate()?.0;
    signing.sign(&[0u8; 51])?;

    let mut jpki = session.jpki()?;
    jpki.authentication_pin_state()?;
    jpki.unlock_authentication(&auth_pin())?.sign(&[0u8; 51])?;

    let mut input_support = session.input_support()?;
    input_support.cv_certificate()?;
    let pin = InputSupportPin::parse(INPUT_SUPPORT_PIN).expect("well-formed");
    let mut unlocked = input_support.unlock(&pin)?;
    let attributes = unlocked.basic_attributes()?;
    unlocked.signature()?;

    let mut card_face = session.card_face()?;
    card_face.cv_certificate()?;
    let mut opened = card_face.open(number_b)?;
    let face = opened.face_data()?;
    let internal_auth = opened.internal_authenticate(&[7u8; 32])?;
    Ok(Readout {
        auth_cert,
        sign_cert,
        face,
        attributes,
        internal_auth,
    })
}

fn read_profile(profile: Profile, link: LinkConfig) -> (Result<Readout, CardError>, SoftwareCard) {
    let card = profile.build().expect("fixtures build").with_link(link);
    // The number printed on this card (a forger prints what their chip accepts).
    let number_b = MatchingNumberB::parse(&card.facts().matching_number_b).expect("well-formed");
    let mut session = CardSession::new(card);
    let result = read_all(&mut session, &number_b);
    (result, session.into_transport())
}

fn assert_never_touched_the_individual_number(card: &SoftwareCard) {
    assert!(!card.was_selected(&aid::INPUT_SUPPORT, is_ef::INDIVIDUAL_NUMBER_NEVER_READ));
    assert!(!card.was_selected(&aid::CARD_FACE, face_ef::MATCHING_NUMBER_A_NEVER_USED));
}

#[test]
fn readable_profiles_deliver_the_card_contents() {
    use Profile::*;
    for profile in [
        Genuine,
        ForgedCa,
        Clone,
        TamperedAttribute,
        TamperedFace,
        ExpiredCard,
        ExpiredCertificate,
        NotYetValidCertificate,
        WrongKeyUsage,
        Revoked,
        NoInternalAuth,
    ] {
        for link in [LinkConfig::SHORT_ONLY, LinkConfig::EXTENDED] {
            let (result, card) = read_profile(profile, link);
            let readout = result.unwrap_or_else(|e| panic!("{}: {e}", profile.name()));
            assert_eq!(
                Some(readout.auth_cert.as_slice()),
                card.ef(&aid::JPKI, 0x000A),
                "{}",
                profile.name()
            );
            assert_eq!(
                Some(readout.sign_cert.as_slice()),
                card.ef(&aid::JPKI, 0x0001)
            );
            assert_eq!(readout.face.sex, Sex::Female);
            assert_eq!(readout.face.face_image.len(), facts_face_len(&card));
            let expected_name = TEST_HOLDER.name;
            assert_eq!(readout.attributes.name, expected_name);
            if profile == TamperedAttribute {
                assert_eq!(readout.attributes.address, honnin_simcard::TAMPERED_ADDRESS);
            } else {
                assert_eq!(readout.attributes.address, TEST_HOLDER.address);
            }
            match (profile, &readout.internal_auth) {
                (NoInternalAuth, InternalAuthentication::Refused(status)) => {
                    assert_eq!(*status, StatusWord::INS_NOT_SUPPORTED)
                }
                (NoInternalAuth, other) => panic!("expected Refused(6D00), got {other:?}"),
                (_, InternalAuthentication::Signed(signature)) => assert_eq!(signature.len(), 256),
                (_, other) => panic!("{}: {other:?}", profile.name()),
            }
            assert_never_touched_the_individual_number(&card);
        }
    }
}

fn facts_face_len(card: &SoftwareCard) -> usize {
    let ef = card.ef(&aid::CARD_FACE, 0x0002).expect("card-face EF");
    CardFaceData::parse(ef).expect("parses").face_image.len()
}

#[test]
fn extended_length_reads_with_fewer_commands() {
    let (short, short_card) = read_profile(Profile::Genuine, LinkConfig::SHORT_ONLY);
    let (extended, extended_card) = read_profile(Profile::Genuine, LinkConfig::EXTENDED);
    short.expect("reads");
    extended.expect("reads");
    let short_apdus = short_card.stats().exchanges;
    let extended_apdus = extended_card.stats().exchanges;
    assert!(
        extended_apdus + 10 <= short_apdus,
        "extended {extended_apdus} vs short {short_apdus}"
    );
}

#[test]
fn pin_with_one_try_left_is_refused_before_any_try_is_spent() {
    let card = Profile::PinOneTryLeft.build().expect("builds");
    let mut session = CardSession::new(card);
    let jpki = session.jpki().expect("selects");
    let result = jpki.unlock_authentication(&auth_pin());
    assert!(
        matches!(result, Err(CardError::PinGuard { tries_left: 1 })),
        "{:?}",
        result.err()
    );
    let card = session.into_transport();
    assert_eq!(card.tries_left(PinId::Auth), Some(1));
}

#[test]
fn locked_pin_is_reported_and_nothing_is_sent() {
    let card = Profile::PinLocked.build().expect("builds");
    let mut session = CardSession::new(card);
    let mut jpki = session.jpki().expect("selects");
    assert_eq!(jpki.authentication_pin_state(), Ok(PinState::Locked));
    let result = jpki.unlock_authentication(&auth_pin());
    assert!(
        matches!(result, Err(CardError::PinLocked)),
        "{:?}",
        result.err()
    );
}

#[test]
fn wrong_pins_stop_before_the_card_locks() {
    let card = Profile::Genuine.build().expect("builds");
    let mut session = CardSession::new(card);
    let wrong = honnin_core::card::AuthPin::parse("0000").expect("well-formed");
    let mut outcomes = Vec::new();
    for _ in 0..5 {
        let jpki = session.jpki().expect("selects");
        outcomes.push(jpki.unlock_authentication(&wrong).err());
    }
    assert_eq!(
        outcomes,
        vec![
            Some(CardError::WrongPin { tries_left: 2 }),
            Some(CardError::WrongPin { tries_left: 1 }),
            Some(CardError::PinGuard { tries_left: 1 }),
            Some(CardError::PinGuard { tries_left: 1 }),
            Some(CardError::PinGuard { tries_left: 1 }),
        ]
    );
    assert_eq!(session.into_transport().tries_left(PinId::Auth), Some(1));
}

#[test]
fn malformed_tlv_is_a_typed_error() {
    let (result, card) = read_profile(Profile::MalformedTlv, LinkConfig::EXTENDED);
    let error = result.err().expect("fails");
    assert!(
        matches!(
            error,
            CardError::MalformedTlv { .. } | CardError::Truncated { .. }
        ),
        "{error:?}"
    );
    assert_never_touched_the_individual_number(&card);
}

#[test]
fn truncated_response_is_a_typed_error() {
    let (result, _) = read_profile(Profile::TruncatedResponse, LinkConfig::SHORT_ONLY);
    let error = result.err().expect("fails");
    // Losing the status word makes every READ BINARY answer end in two data bytes read as SW.
    assert!(
        matches!(
            error,
            CardError::Refused { .. }
                | CardError::Truncated { .. }
                | CardError::MalformedTlv { .. }
                | CardError::ResponseSizeUnsupported { .. }
        ),
        "{error:?}"
    );
}

#[test]
fn tag_loss_before_a_free_read_resumes_transparently() {
    for at in 1..=8 {
        let profile = Profile::TagLoss {
            at,
            command_executed: false,
        };
        let card = profile
            .build()
            .expect("builds")
            .with_link(LinkConfig::SHORT_ONLY);
        let mut session = CardSession::new(card);
        let mut jpki = session.jpki().expect("selects after a tag loss");
        let cert = jpki.authentication_certificate().expect("resumes");
        let card = session.into_transport();
        assert_eq!(
            Some(cert.0.as_slice()),
            card.ef(&aid::JPKI, 0x000A),
            "tag loss at {at}"
        );
    }
}

#[test]
fn tag_loss_after_a_pin_needs_a_new_start_and_costs_no_try() {
    // Exchanges: SELECT JPKI, SELECT EF 0018, VERIFY (tries), VERIFY (PIN), SELECT EF 0017, sign.
    let profile = Profile::TagLoss {
        at: 6,
        command_executed: false,
    };
    let card = profile.build().expect("builds");
    let mut session = CardSession::new(card);
    let jpki = session.jpki().expect("selects");
    let mut unlocked = jpki.unlock_authentication(&auth_pin()).expect("unlocks");
    let result = unlocked.sign(&[0u8; 51]);
    assert_eq!(result, Err(CardError::SecurityStateLost));
    let card = session.into_transport();
    assert_eq!(card.tries_left(PinId::Auth), Some(3));
}

#[test]
fn card_removed_for_good_gives_up_with_tag_lost_too_often() {
    let card = Profile::Genuine
        .build()
        .expect("builds")
        .with_fault(honnin_simcard::Fault::Removed { from_exchange: 3 });
    let mut session = CardSession::new(card);
    let mut jpki = session.jpki().expect("selects");
    let result = jpki.authentication_certificate();
    assert!(
        matches!(result, Err(CardError::TagLostTooOften { .. })),
        "{result:?}"
    );
    assert!(result.err().is_some_and(|e| e.is_tag_lost()));
    let _ = TransportError::TagLost;
}
