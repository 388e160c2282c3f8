//! Issue 13: a device reads a card's CA certificate (JPKI EF 000B / EF 0002) only while it does
//! not know it. The CA certificates of paths it validated are kept; a later check builds the path
//! from those and the anchors, and reads the card's copy only when that fails. These tests show
//! that this saves APDUs and nothing else: the same checks with the same results, the same
//! evidence, every bad certificate still refused before a PIN try, and an anchor that issues the
//! card's certificates directly (as the real J-LIS roots do) needs no CA certificate at all.

use honnin_core::card::profile::{aid, jpki};
use honnin_core::check::{DoorCheckReport, Level, Verdict, Verifier};
use honnin_core::reader::CardSession;
use honnin_core::verify::x509::TrustAnchors;
use honnin_core::verify::{CheckId, CheckState};
use honnin_e2e::{
    CountingRandom, addressee, auth_pin, clock, request, signing_password, verifier_with_crl,
};
use honnin_simcard::{Fixtures, PinId, Profile, SoftwareCard, names};

/// COMPUTE DIGITAL SIGNATURE.
const SIGN: u8 = 0x2A;
const VERIFY: u8 = 0x20;

fn check(verifier: &Verifier, level: Level, profile: Profile) -> (DoorCheckReport, SoftwareCard) {
    let card = profile.build().expect("builds");
    let mut session = CardSession::new(card);
    let request = request(Some(addressee()));
    let report = match level {
        Level::B => verifier.check_level_b(
            &mut session,
            &request,
            &auth_pin(),
            &clock(),
            &mut CountingRandom(0),
        ),
        Level::C => verifier.check_level_c(
            &mut session,
            &request,
            &signing_password(),
            &clock(),
            &mut CountingRandom(0),
        ),
        Level::A | Level::M => unreachable!("levels A and M read no JPKI CA certificate"),
    };
    (report, session.into_transport())
}

fn read_card_ca(card: &SoftwareCard) -> bool {
    card.was_selected(&aid::JPKI, jpki::AUTH_CA_CERT)
        || card.was_selected(&aid::JPKI, jpki::SIGN_CA_CERT)
}

#[test]
fn a_device_reads_the_card_ca_only_until_it_knows_it_and_the_checks_stay_the_same() {
    for level in [Level::B, Level::C] {
        let verifier = verifier_with_crl();
        let (first, first_card) = check(&verifier, level, Profile::Genuine);
        assert_eq!(first.verdict(), Verdict::Genuine, "{level:?} {first:#?}");
        assert!(
            read_card_ca(&first_card),
            "{level:?}: the first check reads it"
        );

        let (later, later_card) = check(&verifier, level, Profile::Genuine);
        assert_eq!(later.verdict(), Verdict::Genuine, "{level:?} {later:#?}");
        assert!(
            !read_card_ca(&later_card),
            "{level:?}: known, not read again"
        );
        assert_eq!(first.checks(), later.checks(), "{level:?}: same checks");
        assert_eq!(
            first.evidence().certificates,
            later.evidence().certificates,
            "{level:?}: the record carries the same path"
        );
        assert!(later_card.stats().exchanges < first_card.stats().exchanges);

        verifier.forget_known_certificates();
        let (_, forgotten) = check(&verifier, level, Profile::Genuine);
        assert!(read_card_ca(&forgotten), "{level:?}: forgotten, read again");
    }
}

#[test]
fn level_c_checks_the_free_certificate_before_the_password_and_reads_the_signing_ca_only_after_it()
{
    let verifier = verifier_with_crl();
    let (report, card) = check(&verifier, Level::C, Profile::Genuine);
    assert_eq!(report.verdict(), Verdict::Genuine, "{report:#?}");
    let position = |found: &dyn Fn(&honnin_simcard::LogEntry) -> bool| {
        card.log()
            .iter()
            .position(found)
            .expect("the command was sent")
    };
    let auth_certificate = position(&|e| e.ins == 0xA4 && e.fid == Some(jpki::AUTH_CERT));
    let password = position(&|e| e.ins == VERIFY && e.fid == Some(jpki::SIGN_PIN));
    let signing_ca = position(&|e| e.ins == 0xA4 && e.fid == Some(jpki::SIGN_CA_CERT));
    assert!(auth_certificate < password);
    // Nothing can be checked with the signing CA before the signing certificate is read.
    assert!(password < signing_ca);
}

fn issuers_as_anchors() -> Verifier {
    let fixtures = Fixtures::embedded();
    let der = |name: &str| fixtures.cert(name).expect("embedded").to_vec();
    let anchors = TrustAnchors::from_der(vec![
        der(names::JPKI_AUTH_CA),
        der(names::JPKI_SIGN_CA),
        der(names::DATA_ISSUER),
    ])
    .expect("anchors load");
    Verifier::new(anchors)
}

#[test]
fn an_anchor_that_issues_the_card_certificates_needs_no_card_ca_even_on_the_first_check() {
    let fixtures = Fixtures::embedded();
    for (level, issuer) in [
        (Level::B, names::JPKI_AUTH_CA),
        (Level::C, names::JPKI_SIGN_CA),
    ] {
        let (report, card) = check(&issuers_as_anchors(), level, Profile::Genuine);
        assert_eq!(report.verdict(), Verdict::Genuine, "{level:?} {report:#?}");
        assert!(!read_card_ca(&card), "{level:?}");
        // The record still names the issuer, as the card's CA EF would.
        let certificates = &report.evidence().certificates;
        assert_eq!(certificates.len(), 2, "{level:?}");
        assert_eq!(
            certificates[1],
            fixtures.cert(issuer).expect("embedded"),
            "{level:?}"
        );
    }
}

#[test]
fn known_ca_certificates_let_no_bad_card_through_and_spend_no_pin_try() {
    let warm = verifier_with_crl();
    check(&warm, Level::B, Profile::Genuine);
    check(&warm, Level::C, Profile::Genuine);
    for profile in [
        Profile::ForgedCa,
        Profile::ExpiredCertificate,
        Profile::NotYetValidCertificate,
        Profile::WrongKeyUsage,
        Profile::Revoked,
    ] {
        for (level, pin) in [(Level::B, PinId::Auth), (Level::C, PinId::Sign)] {
            let (cold, _) = check(&verifier_with_crl(), level, profile);
            let (report, card) = check(&warm, level, profile);
            let name = format!("{} at {level:?}", profile.name());
            assert_ne!(report.verdict(), Verdict::Genuine, "{name}");
            assert_eq!(report.verdict(), cold.verdict(), "{name}");
            assert_eq!(report.checks(), cold.checks(), "{name}: the same results");
            assert!(!card.was_sent(&aid::JPKI, SIGN), "{name}: the card signed");
            let tries = if level == Level::B { 3 } else { 5 };
            assert_eq!(card.tries_left(pin), Some(tries), "{name}: a try was spent");
            let state = report.check(CheckId::PinState).expect("reported").state;
            assert_eq!(state, CheckState::NotChecked, "{name}");
        }
    }
}
