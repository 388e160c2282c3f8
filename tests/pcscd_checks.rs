//! Door checks through a real pcscd: each software-card profile, and each software-phone profile,
//! sits in vsmartcard's virtual reader, the core talks to it over PC/SC, and the verdict and every
//! check's state and reason must be those of the same check in-process. What is on the reader is
//! first told by AID (`credential_kind::detect`), as `honnin check --reader pcsc` does.

use honnin_core::card::MatchingNumberB;
use honnin_core::check::{DoorCheckReport, FaceDecision, Level, Verdict};
use honnin_core::credential_kind::{Credential, detect};
use honnin_core::mdoc::Engagement;
use honnin_core::reader::CardSession;
use honnin_core::record::AttributePolicy;
use honnin_core::transport::CardTransport;
use honnin_e2e::phone::phone_verifier;
use honnin_e2e::virtual_reader::{virtual_phone_reader, virtual_reader};
use honnin_e2e::{CountingRandom, addressee, clock, request, run_level};
use honnin_pcsc::{ConnectOptions, ExtendedLength, Pcsc};
use honnin_simcard::Profile;
use honnin_simcard::mdoc::PhoneProfile;

fn check<T: CardTransport>(
    transport: T,
    level: Level,
    number: &MatchingNumberB,
) -> DoorCheckReport {
    run_level(&mut CardSession::new(transport), level, number)
}

/// (verdict, [(check, state, reason)]) for comparing two reports.
fn outcome(report: &DoorCheckReport) -> String {
    let checks: Vec<String> = report
        .checks()
        .iter()
        .map(|r| format!("{:?}/{:?}/{}", r.check, r.state, r.reason.code()))
        .collect();
    format!("{:?}: {}", report.verdict(), checks.join(", "))
}

#[test]
fn every_profile_gets_the_same_verdict_through_pcscd_as_in_process() {
    let cases: Vec<(Profile, Level)> = Profile::all()
        .iter()
        .flat_map(|profile| {
            let levels: &[Level] = match profile {
                // The card-face faults show at level A, the certificate faults at B and C.
                Profile::TamperedFace
                | Profile::ExpiredCard
                | Profile::NoInternalAuth
                | Profile::CloneNoInternalAuth
                | Profile::ExtendedExpiry
                | Profile::CvByJpkiRoot => &[Level::A],
                Profile::ExpiredCertificate
                | Profile::NotYetValidCertificate
                | Profile::WrongKeyUsage
                | Profile::Revoked
                | Profile::PinOneTryLeft
                | Profile::PinLocked => &[Level::B],
                Profile::Genuine | Profile::ForgedCa | Profile::Clone => {
                    &[Level::A, Level::B, Level::C]
                }
                _ => &[Level::A, Level::B],
            };
            levels.iter().map(move |level| (*profile, *level))
        })
        .collect();

    for (profile, level) in cases {
        let card = profile.build().expect("builds");
        let number = MatchingNumberB::parse(&card.facts().matching_number_b).expect("well-formed");
        let in_process = check(profile.build().expect("builds"), level, &number);

        let Some(reader) = virtual_reader(card) else {
            return;
        };
        let transport = Pcsc::establish()
            .expect("pcscd runs")
            .connect(&reader.reader, ConnectOptions::default())
            .expect("connects to the software card");
        let through_pcscd = check(transport, level, &number);
        reader.stop();

        assert_eq!(
            outcome(&through_pcscd),
            outcome(&in_process),
            "{} at level {level:?}",
            profile.name()
        );
    }
}

/// The phone check on `transport`, after telling by AID that a phone is there (as the CLI does):
/// what was found, the report, and the APDUs the check took.
fn phone_check<T: CardTransport>(mut transport: T) -> (Credential, DoorCheckReport, u32) {
    let found = detect(&mut transport).expect("a card or a phone answers");
    let awaiting = phone_verifier().check_phone(
        transport,
        &request(Some(addressee())),
        AttributePolicy::default(),
        Engagement::Nfc,
        &clock(),
        &mut CountingRandom(7),
    );
    let apdus = awaiting.counters().apdus;
    (
        found.credential,
        awaiting.confirm(FaceDecision::Confirmed),
        apdus,
    )
}

#[test]
fn every_phone_profile_gets_the_same_verdict_through_pcscd_as_in_process() {
    for profile in PhoneProfile::ALL {
        let (credential, in_process, _) = phone_check(profile.build().expect("the phone builds"));
        assert_eq!(credential, Credential::Phone);

        let Some(reader) = virtual_phone_reader(profile.build().expect("the phone builds")) else {
            return;
        };
        let transport = Pcsc::establish()
            .expect("pcscd runs")
            .connect(&reader.reader, ConnectOptions::default())
            .expect("connects to the software phone");
        assert!(
            transport.capabilities().extended_length,
            "a contactless phone's link carries extended length"
        );
        let (credential, through_pcscd, _) = phone_check(transport);
        reader.stop();

        assert_eq!(credential, Credential::Phone, "{}", profile.name());
        assert_eq!(
            outcome(&through_pcscd),
            outcome(&in_process),
            "{}",
            profile.name()
        );
    }
}

/// A reader without extended length: the session messages go in chained ENVELOPEs and the
/// phone's answer comes back in GET RESPONSE chunks, with the same verdict.
#[test]
fn a_genuine_phone_through_short_apdus_only() {
    let mut apdus = Vec::new();
    for extended in [ExtendedLength::Auto, ExtendedLength::Never] {
        let Some(reader) = virtual_phone_reader(PhoneProfile::Genuine.build().expect("builds"))
        else {
            return;
        };
        let options = ConnectOptions {
            extended_length: extended,
            ..ConnectOptions::default()
        };
        let transport = Pcsc::establish()
            .expect("pcscd runs")
            .connect(&reader.reader, options)
            .expect("connects to the software phone");
        let (_, report, cost) = phone_check(transport);
        reader.stop();
        assert_eq!(report.verdict(), Verdict::Genuine, "{}", outcome(&report));
        apdus.push(cost);
    }
    // The portrait alone is several KB: at 256 bytes per answer it takes many more commands.
    assert!(apdus[1] > apdus[0] + 5, "{apdus:?}");
}

#[test]
fn a_card_is_told_from_a_phone_through_pcscd() {
    let Some(reader) = virtual_reader(Profile::Genuine.build().expect("builds")) else {
        return;
    };
    let mut transport = Pcsc::establish()
        .expect("pcscd runs")
        .connect(&reader.reader, ConnectOptions::default())
        .expect("connects to the software card");
    let found = detect(&mut transport).expect("detects");
    reader.stop();
    assert_eq!(found.credential, Credential::Card);
    // The mdoc SELECT (refused) and the JPKI one.
    assert_eq!(found.counters.apdus, 2);
}
