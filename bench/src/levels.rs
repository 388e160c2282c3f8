//! Whole door checks, levels A, B and C, on the genuine card: what each costs on the air and on
//! the host.

use std::time::{Duration, Instant};

use honnin_core::check::{DoorCheckReport, FaceDecision, Level, Verdict, Verifier};
use honnin_core::reader::CardSession;

use crate::fixtures::{CountingRandom, Secrets, clock, request};
use crate::metered::MeteredCard;
use crate::model::Cost;
use crate::stats::median;

pub const LEVELS: [Level; 3] = [Level::A, Level::B, Level::C];

/// One check of one level.
#[derive(Debug, Clone)]
pub struct LevelSample {
    pub level: Level,
    pub verdict: Verdict,
    /// The first failed check, for a verdict other than genuine.
    pub failure: Option<String>,
    /// The session's counters, with the card's RSA operations over the same check.
    pub cost: Cost,
    /// The card's own count of the same exchanges (a cross-check of the core's counters).
    pub card_cost: Cost,
    /// The whole check, reading and verifying (level A: with image decoding and the courier's
    /// confirmation given at once).
    pub host: Duration,
}

/// Runs one door check of `level` on `card` in a fresh session.
pub fn run_level(
    level: Level,
    card: &mut MeteredCard,
    verifier: &Verifier,
    secrets: &Secrets,
) -> LevelSample {
    let probe = card.probe();
    let before = probe.get();
    let mut session = CardSession::new(&mut *card);
    let request = request();
    let mut random = CountingRandom(0);
    let start = Instant::now();
    let report: DoorCheckReport = match level {
        Level::A => verifier
            .check_level_a(
                &mut session,
                &request,
                &secrets.matching_number_b,
                &clock(),
                &mut random,
            )
            .confirm(FaceDecision::Confirmed),
        Level::B => verifier.check_level_b(
            &mut session,
            &request,
            &secrets.auth_pin,
            &clock(),
            &mut random,
        ),
        Level::C => verifier.check_level_c(
            &mut session,
            &request,
            &secrets.signing_password,
            &clock(),
            &mut random,
        ),
        // LEVELS holds the card levels only; the phone is measured by `phone-costs`.
        Level::M => panic!("level M does not run on a card; see the phone-costs bench"),
    };
    let host = start.elapsed();
    let card_cost = Cost::between(before, probe.get());
    LevelSample {
        level,
        verdict: report.verdict(),
        failure: report
            .first_failure()
            .map(|f| format!("{:?}: {:?} {}", f.check, f.reason, f.detail)),
        cost: Cost::new(session.counters(), card_cost.rsa_operations),
        card_cost,
        host,
    }
}

/// One level over many runs.
#[derive(Debug, Clone)]
pub struct LevelSummary {
    pub level: Level,
    pub verdict: Verdict,
    pub failure: Option<String>,
    pub cost: Cost,
    pub host: Duration,
    /// Every run cost the same, and the core's counters agree with the card's.
    pub consistent: bool,
}

/// What the verifier knows before a check: the CA and CV certificates earlier checks verified
/// (the core keeps them, so that a device reads them from a card only once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    /// The device's first check: every run starts with nothing known.
    Cold,
    /// After one check of the same level on this device (the warm-up run is not counted).
    Warm,
}

impl Cache {
    pub fn label(self) -> &'static str {
        match self {
            Cache::Cold => "first check",
            Cache::Warm => "later checks",
        }
    }
}

/// Runs `level` `runs` times on one card and summarises, each run as the device's first check.
pub fn measure(
    level: Level,
    card: &mut MeteredCard,
    verifier: &Verifier,
    runs: usize,
) -> LevelSummary {
    measure_with(level, card, verifier, runs, Cache::Cold)
}

/// Runs `level` `runs` times on one card with the given cache state and summarises.
pub fn measure_with(
    level: Level,
    card: &mut MeteredCard,
    verifier: &Verifier,
    runs: usize,
    cache: Cache,
) -> LevelSummary {
    let secrets = Secrets::of(card.card());
    verifier.forget_known_certificates();
    if cache == Cache::Warm {
        run_level(level, card, verifier, &secrets);
    }
    let samples: Vec<LevelSample> = (0..runs.max(1))
        .map(|_| {
            if cache == Cache::Cold {
                verifier.forget_known_certificates();
            }
            run_level(level, card, verifier, &secrets)
        })
        .collect();
    let first = &samples[0];
    let hosts: Vec<Duration> = samples.iter().map(|s| s.host).collect();
    LevelSummary {
        level,
        verdict: first.verdict,
        failure: first.failure.clone(),
        cost: first.cost,
        host: median(&hosts),
        consistent: samples
            .iter()
            .all(|s| s.cost == first.cost && s.card_cost == s.cost && s.verdict == first.verdict),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{genuine_card, verifier};
    use crate::links::Link;

    #[test]
    fn every_level_finds_the_genuine_card_genuine_and_counts_agree() {
        let verifier = verifier();
        for link in Link::short_and_extended() {
            let mut card = genuine_card(&link);
            for level in LEVELS {
                let summary = measure(level, &mut card, &verifier, 2);
                assert_eq!(
                    summary.verdict,
                    Verdict::Genuine,
                    "{level:?} {}",
                    link.label
                );
                assert!(summary.consistent, "{level:?} {}", link.label);
                assert_eq!(summary.cost.rsa_operations, 1, "{level:?}");
            }
        }
    }

    #[test]
    fn later_checks_read_fewer_certificates_and_still_find_the_card_genuine() {
        let verifier = verifier();
        let mut card = genuine_card(&Link::EXTENDED_65536);
        for level in [Level::B, Level::C] {
            let cold = measure_with(level, &mut card, &verifier, 2, Cache::Cold);
            let warm = measure_with(level, &mut card, &verifier, 2, Cache::Warm);
            assert!(cold.consistent && warm.consistent, "{level:?}");
            assert_eq!(warm.verdict, Verdict::Genuine, "{level:?}");
            assert!(warm.cost.apdus < cold.cost.apdus, "{level:?}");
        }
    }

    #[test]
    fn extended_length_saves_apdus_at_every_level() {
        let verifier = verifier();
        let apdus = |link: Link, level: Level| {
            let mut card = genuine_card(&link);
            measure(level, &mut card, &verifier, 1).cost.apdus
        };
        for level in LEVELS {
            assert!(apdus(Link::EXTENDED_65536, level) < apdus(Link::SHORT_256, level));
        }
    }
}
