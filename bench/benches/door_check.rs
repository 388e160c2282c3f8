//! Criterion benchmarks (host time, statistically): whole door checks per level and link, the
//! full operation script per link, and one record's verification by honnin and by the OpenSSL
//! command line. The counts and modelled times are printed by the `card-costs` binary.
//!
//! `cargo bench -p honnin-bench` runs them; `cargo bench -p honnin-bench -- --test` runs each
//! once.

use std::time::Duration;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use honnin_bench::fixtures::{self, Secrets};
use honnin_bench::levels::{LEVELS, run_level};
use honnin_bench::links::Link;
use honnin_bench::openssl::{self, EvidenceFiles};
use honnin_bench::operations;
use honnin_bench::verification;
use honnin_core::check::Verdict;

fn bench_name(link: &Link) -> String {
    link.label.replace(' ', "_")
}

fn door_check(c: &mut Criterion) {
    let verifier = fixtures::verifier();
    let mut group = c.benchmark_group("door_check");
    for link in Link::short_and_extended() {
        let mut card = fixtures::genuine_card(&link);
        let secrets = Secrets::of(card.card());
        for level in LEVELS {
            let verdict = run_level(level, &mut card, &verifier, &secrets).verdict;
            assert_eq!(
                verdict,
                Verdict::Genuine,
                "level {level:?} on {} must find the genuine card genuine",
                link.label
            );
            group.bench_function(format!("level_{level:?}/{}", bench_name(&link)), |b| {
                b.iter(|| run_level(level, &mut card, &verifier, &secrets))
            });
        }
    }
    group.finish();
}

fn card_operations(c: &mut Criterion) {
    let mut group = c.benchmark_group("every_card_operation");
    for link in Link::short_and_extended() {
        let mut card = fixtures::genuine_card(&link);
        let secrets = Secrets::of(card.card());
        group.bench_function(bench_name(&link), |b| {
            b.iter(|| operations::run_once(&mut card, &secrets))
        });
    }
    group.finish();
}

fn record_verification(c: &mut Criterion) {
    let anchors = fixtures::anchors();
    let evidence = verification::genuine_record_evidence(&anchors);
    let mut group = c.benchmark_group("record_verification");
    group.bench_function("honnin/chain_and_signature", |b| {
        b.iter(|| verification::verify_record(&anchors, &evidence))
    });
    group.bench_function("honnin/chain", |b| {
        b.iter(|| verification::validate_record_chain(&anchors, &evidence))
    });
    group.bench_function("honnin/signature", |b| {
        b.iter(|| verification::verify_signature_only(&evidence))
    });
    match (openssl::version(), EvidenceFiles::write(&evidence)) {
        (Some(_), Ok(files)) => {
            // Processes take milliseconds each: one iteration count per sample keeps the run short.
            group.sampling_mode(SamplingMode::Flat);
            group.bench_function("openssl_cli/verify_and_dgst", |b| {
                b.iter(|| {
                    files
                        .verify_record()
                        .expect("openssl accepts the genuine record")
                })
            });
            group.bench_function("openssl_cli/start_up", |b| {
                b.iter(|| openssl::start_up().expect("openssl version runs"))
            });
        }
        (None, _) => eprintln!("record_verification: no openssl binary; OpenSSL side skipped"),
        (_, Err(e)) => eprintln!("record_verification: cannot write evidence files ({e})"),
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = door_check, card_operations, record_verification
}
criterion_main!(benches);
