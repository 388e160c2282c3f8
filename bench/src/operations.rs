//! Every card operation honnin performs, run in the order a reader would, with what each cost.
//!
//! One run opens a fresh session on the card and calls each typed operation once: the three
//! applications' SELECTs, every EF read (the protected ones after their secret), every PIN
//! counter, every VERIFY, both JPKI signatures and INTERNAL AUTHENTICATE. The counts come from the
//! core's per-operation counters (`CardSession::operations`); the card's RSA operations from the
//! software card's statistics; host time from a clock around each call.

use std::time::{Duration, Instant};

use honnin_core::card::profile::ins::INTERNAL_AUTH_CHALLENGE_LEN;
use honnin_core::card::sha256_digest_info;
use honnin_core::reader::CardSession;

use crate::fixtures::Secrets;
use crate::metered::{MeteredCard, StatsProbe};
use crate::model::Cost;
use crate::stats::median;

/// One operation of one run.
#[derive(Debug, Clone)]
pub struct OperationSample {
    /// The core's name for it ("read authentication certificate", …).
    pub name: &'static str,
    pub cost: Cost,
    pub host: Duration,
    /// Why the card or link refused it, if it did.
    pub error: Option<String>,
}

struct Mark {
    host: Duration,
    rsa_operations: u64,
    error: Option<String>,
}

struct Recorder {
    probe: StatsProbe,
    marks: Vec<Mark>,
}

/// Times one typed call, records its outcome, and yields its value when it succeeded.
macro_rules! step {
    ($recorder:expr, $call:expr) => {{
        let rsa_before = $recorder.probe.get().rsa_operations;
        let start = Instant::now();
        let result = $call;
        let host = start.elapsed();
        let rsa_after = $recorder.probe.get().rsa_operations;
        $recorder.marks.push(Mark {
            host,
            rsa_operations: rsa_after.saturating_sub(rsa_before) as u64,
            error: result.as_ref().err().map(|e| e.to_string()),
        });
        result.ok()
    }};
}

/// Runs every operation once on `card` (in a fresh session) and returns what each cost.
pub fn run_once(card: &mut MeteredCard, secrets: &Secrets) -> Vec<OperationSample> {
    let mut recorder = Recorder {
        probe: card.probe(),
        marks: Vec::new(),
    };
    let mut session = CardSession::new(&mut *card);
    let digest_info = sha256_digest_info(&[0x5A; 32]);
    let challenge = [0xA5; INTERNAL_AUTH_CHALLENGE_LEN];

    if let Some(mut jpki) = step!(recorder, session.jpki()) {
        step!(recorder, jpki.token());
        step!(recorder, jpki.authentication_certificate());
        step!(recorder, jpki.authentication_ca_certificate());
        step!(recorder, jpki.signing_ca_certificate());
        step!(recorder, jpki.authentication_pin_state());
        step!(recorder, jpki.signing_pin_state());
        if let Some(mut signing) = step!(recorder, jpki.unlock_signing(&secrets.signing_password)) {
            step!(recorder, signing.signing_certificate());
            step!(recorder, signing.sign(&digest_info));
        }
    }
    // The authentication key needs its own PIN; selecting JPKI again starts from no security
    // state, as a level B check does.
    if let Some(jpki) = step!(recorder, session.jpki())
        && let Some(mut authentication) =
            step!(recorder, jpki.unlock_authentication(&secrets.auth_pin))
    {
        step!(recorder, authentication.sign(&digest_info));
    }
    if let Some(mut input_support) = step!(recorder, session.input_support()) {
        step!(recorder, input_support.cv_certificate());
        step!(recorder, input_support.pin_state());
        let pin = honnin_core::card::InputSupportPin::from_auth_pin(&secrets.auth_pin);
        if let Some(mut unlocked) = step!(recorder, input_support.unlock(&pin)) {
            step!(recorder, unlocked.basic_attributes());
            step!(recorder, unlocked.signature());
        }
    }
    if let Some(mut card_face) = step!(recorder, session.card_face()) {
        step!(recorder, card_face.cv_certificate());
        step!(recorder, card_face.matching_number_state());
        if let Some(mut opened) = step!(recorder, card_face.open(&secrets.matching_number_b)) {
            step!(recorder, opened.face_data());
            step!(recorder, opened.internal_authenticate(&challenge));
        }
    }

    let operations = session.operations();
    assert_eq!(
        operations.len(),
        recorder.marks.len(),
        "each typed call must record exactly one operation in the session"
    );
    operations
        .iter()
        .zip(recorder.marks)
        .map(|(operation, mark)| OperationSample {
            name: operation.operation,
            cost: Cost::new(operation.counters, mark.rsa_operations),
            host: mark.host,
            error: mark.error,
        })
        .collect()
}

/// One operation over many runs.
#[derive(Debug, Clone)]
pub struct OperationSummary {
    pub name: &'static str,
    pub cost: Cost,
    /// Median host time over the runs.
    pub host: Duration,
    pub error: Option<String>,
    /// Whether every run cost the same (the software card is deterministic, so it should).
    pub stable: bool,
}

/// Summarises runs of [`run_once`]: one row per operation name, in first-seen order (an
/// operation performed twice in a run, like selecting JPKI, is taken at its first occurrence).
pub fn summarise(runs: &[Vec<OperationSample>]) -> Vec<OperationSummary> {
    let mut names: Vec<&'static str> = Vec::new();
    for sample in runs.iter().flatten() {
        if !names.contains(&sample.name) {
            names.push(sample.name);
        }
    }
    names
        .into_iter()
        .filter_map(|name| {
            let firsts: Vec<&OperationSample> = runs
                .iter()
                .filter_map(|run| run.iter().find(|s| s.name == name))
                .collect();
            let first = firsts.first()?;
            let hosts: Vec<Duration> = firsts.iter().map(|s| s.host).collect();
            Some(OperationSummary {
                name,
                cost: first.cost,
                host: median(&hosts),
                error: first.error.clone(),
                stable: firsts.iter().all(|s| s.cost == first.cost),
            })
        })
        .collect()
}

/// Runs every operation `runs` times on one card and summarises.
pub fn measure(card: &mut MeteredCard, runs: usize) -> Vec<OperationSummary> {
    let secrets = Secrets::of(card.card());
    let samples: Vec<Vec<OperationSample>> =
        (0..runs.max(1)).map(|_| run_once(card, &secrets)).collect();
    summarise(&samples)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::genuine_card;
    use crate::links::Link;
    use crate::model::Cost;

    #[test]
    fn every_operation_succeeds_on_the_genuine_card_and_the_counts_agree_with_the_card() {
        for link in Link::short_and_extended() {
            let mut card = genuine_card(&link);
            let before = card.card().stats();
            let summaries = measure(&mut card, 1);
            for s in &summaries {
                assert_eq!(s.error, None, "{} on {}", s.name, link.label);
            }
            // The summary drops the second "select JPKI"; the card saw it too.
            let select_jpki = summaries
                .iter()
                .find(|s| s.name == "select JPKI")
                .expect("JPKI selected")
                .cost;
            let total = summaries.iter().fold(select_jpki, |sum, s| sum + s.cost);
            assert_eq!(
                total,
                Cost::between(before, card.card().stats()),
                "{}",
                link.label
            );
            // Three signatures: both JPKI keys and INTERNAL AUTHENTICATE.
            assert_eq!(total.rsa_operations, 3);
        }
    }

    #[test]
    fn extended_length_reads_the_card_face_ef_in_one_read_binary() {
        let cost = |link: Link| {
            let mut card = genuine_card(&link);
            measure(&mut card, 1)
                .into_iter()
                .find(|s| s.name == "read card-face data")
                .expect("card-face data read")
                .cost
        };
        // SELECT EF + one READ BINARY; at Le 256 the ~4.6 KB EF takes many more.
        assert_eq!(cost(Link::EXTENDED_65536).apdus, 2);
        assert!(cost(Link::SHORT_256).apdus > 15);
    }

    #[test]
    fn a_reader_that_cannot_carry_a_signature_is_reported_not_hidden() {
        let limited = Link::all()
            .into_iter()
            .find(|l| l.label == "short 224")
            .expect("224-byte link listed");
        let mut card = genuine_card(&limited);
        let summaries = measure(&mut card, 1);
        let sign = summaries
            .iter()
            .find(|s| s.name == "sign with authentication key")
            .expect("signing attempted");
        assert!(sign.error.is_some());
        assert_eq!(sign.cost.rsa_operations, 0);
    }
}
