//! Door checks through a real pcscd: each software-card profile sits in vsmartcard's virtual
//! reader, the core talks to it over PC/SC, and the verdict and every check's state and reason
//! must be those of the same check in-process.

use honnin_core::card::MatchingNumberB;
use honnin_core::check::{DoorCheckReport, Level};
use honnin_core::reader::CardSession;
use honnin_core::transport::CardTransport;
use honnin_e2e::run_level;
use honnin_e2e::virtual_reader::virtual_reader;
use honnin_pcsc::{ConnectOptions, Pcsc};
use honnin_simcard::Profile;

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
