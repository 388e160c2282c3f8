//! Prints what honnin's card operations and door checks cost (APDUs, bytes, on-card RSA, the
//! card-model.md time model at 106 and 424 kbit/s, host time) for each reader link, and how
//! honnin's verification of a record compares with OpenSSL.
//!
//! ```sh
//! cargo run --release -p honnin-bench --bin card-costs            # full: many runs per figure
//! cargo run --release -p honnin-bench --bin card-costs -- --quick # CI: each figure once
//! ```
//! `HONNIN_BENCH_QUICK=1` also selects the quick mode.

use std::time::Instant;

use honnin_bench::floors;
use honnin_bench::model::TimeModel;
use honnin_bench::report::{self, Plan};

const USAGE: &str = "usage: card-costs [--quick] [--runs N]
  --quick   each measurement once (CI); also HONNIN_BENCH_QUICK=1
  --runs N  override the number of runs of each card measurement";

fn main() {
    let mut plan = match std::env::var("HONNIN_BENCH_QUICK") {
        Ok(v) if !v.is_empty() && v != "0" => Plan::QUICK,
        _ => Plan::FULL,
    };
    let mut quick = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => {
                plan = Plan::QUICK;
                quick = true;
            }
            "--runs" => {
                let runs: usize = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .unwrap_or_else(|| exit_with_usage("--runs takes a positive number"));
                plan.operation_runs = runs;
                plan.level_runs = runs;
                plan.openssl_runs = runs;
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return;
            }
            other => exit_with_usage(&format!("unknown argument {other:?}")),
        }
    }
    let quick = quick || plan.operation_runs == Plan::QUICK.operation_runs;

    let started = Instant::now();
    println!("# honnin card costs\n");
    println!(
        "Time model (card-model.md): t = APDUs × {} ms + bytes on the air × 8 / bitrate + \
         on-card RSA-2048 operations × {} ms, at {} and {} kbit/s.",
        TimeModel::CARD_MODEL.per_apdu_ms,
        TimeModel::CARD_MODEL.per_rsa_operation_ms,
        TimeModel::BITRATES[0] / 1000,
        TimeModel::BITRATES[1] / 1000,
    );
    println!(
        "Mode: {}; build: {}.\n",
        if quick {
            "quick (each figure once: counts exact, host times indicative only)"
        } else {
            "full"
        },
        if cfg!(debug_assertions) {
            "debug (host times are not representative; use --release)"
        } else {
            "release"
        }
    );

    let operations = report::card_operations(&plan);
    report::print_card_operations(&operations, plan.operation_runs);
    report::print_application_summary(&operations);
    let levels = report::levels(&plan);
    report::print_levels(&levels, plan.level_runs);
    let floors = floors::measure(plan.level_runs.min(5));
    floors::print(&floors);
    let verification = report::verification(&plan);
    report::print_verification(&verification, &plan);

    println!("Done in {:.1} s.", started.elapsed().as_secs_f64());
}

fn exit_with_usage(message: &str) -> ! {
    eprintln!("card-costs: {message}\n{USAGE}");
    std::process::exit(2);
}
