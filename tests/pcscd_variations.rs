//! Genuine cards that differ from the default software card in ways the card model or ISO/IEC
//! 7816-4 allow (docs/card-variations.md), each through a real pcscd (vpcd presents the card as
//! T=1): every one must get the genuine card's verdict at every level.
//!
//! Issue 16 found three of these with an independent virtual card: a signing certificate without
//! the substitute-character attributes (level C said `not_addressee`), `61xx` answers over T=1
//! (`inconclusive`, card_refused_command), and a card leaving the field (cli/tests/
//! check_pcscd_resume.rs).

use honnin_core::card::MatchingNumberB;
use honnin_core::check::{DoorCheckReport, Level, Verdict};
use honnin_core::reader::CardSession;
use honnin_core::verify::CheckState;
use honnin_e2e::run_level;
use honnin_e2e::virtual_reader::virtual_reader;
use honnin_pcsc::{ConnectOptions, Pcsc};
use honnin_simcard::{Profile, Variation};

fn through_pcscd(profile: Profile, level: Level) -> Option<DoorCheckReport> {
    let card = profile.build().expect("builds");
    let number = MatchingNumberB::parse(&card.facts().matching_number_b).expect("well-formed");
    let reader = virtual_reader(card)?;
    let transport = Pcsc::establish()
        .expect("pcscd runs")
        .connect(&reader.reader, ConnectOptions::default())
        .expect("connects to the software card");
    let report = run_level(&mut CardSession::new(transport), level, &number);
    reader.stop();
    Some(report)
}

fn not_passed(report: &DoorCheckReport) -> Vec<String> {
    report
        .checks()
        .iter()
        .filter(|r| r.state != CheckState::Passed)
        .map(|r| {
            format!(
                "{:?}/{:?}/{}: {}",
                r.check,
                r.state,
                r.reason.code(),
                r.detail
            )
        })
        .collect()
}

#[test]
fn every_variation_is_genuine_at_every_level_through_pcscd() {
    for variation in Variation::all() {
        for level in [Level::A, Level::B, Level::C] {
            let Some(report) = through_pcscd(Profile::Variation(*variation), level) else {
                return;
            };
            assert_eq!(
                report.verdict(),
                Verdict::Genuine,
                "{} at level {level:?}: {:#?}",
                variation.name(),
                not_passed(&report)
            );
        }
    }
}

#[test]
fn a_signing_certificate_without_substitute_flags_is_genuine_at_level_c() {
    let Some(report) = through_pcscd(Profile::Variation(Variation::NoSubstituteFlags), Level::C)
    else {
        return;
    };
    assert_eq!(
        report.verdict(),
        Verdict::Genuine,
        "{:#?}",
        not_passed(&report)
    );
}

#[test]
fn more_data_answers_are_fetched_with_get_response_over_t1() {
    for level in [Level::A, Level::B] {
        let Some(report) = through_pcscd(Profile::Variation(Variation::MoreData), level) else {
            return;
        };
        assert_eq!(
            report.verdict(),
            Verdict::Genuine,
            "{:#?}",
            not_passed(&report)
        );
    }
}
