//! The tables `card-costs` prints: card operations per link, applications, levels, and
//! verification against OpenSSL.

use std::time::Duration;

use crate::fixtures;
use crate::levels::{self, LEVELS, LevelSummary};
use crate::links::Link;
use crate::model::{Cost, TimeModel};
use crate::openssl::{self, EvidenceFiles};
use crate::operations::{self, OperationSummary};
use crate::stats::{format_duration, median_of};
use crate::table::{Table, millis, thousands};
use crate::verification::{self, RecordEvidence};

/// How many times each measurement is repeated.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Runs of the whole operation script per link.
    pub operation_runs: usize,
    /// Checks per level and link.
    pub level_runs: usize,
    /// Runs of each OpenSSL process.
    pub openssl_runs: usize,
    /// Runs of honnin's in-process verification.
    pub verify_runs: usize,
    /// `openssl speed -seconds`.
    pub speed_seconds: u32,
}

impl Plan {
    pub const FULL: Self = Self {
        operation_runs: 101,
        level_runs: 51,
        openssl_runs: 51,
        verify_runs: 501,
        speed_seconds: 3,
    };
    /// For CI: every measurement once (a few where it costs nothing), the tables all printed.
    pub const QUICK: Self = Self {
        operation_runs: 1,
        level_runs: 1,
        openssl_runs: 1,
        verify_runs: 5,
        speed_seconds: 1,
    };
}

fn model_cells(cost: &Cost) -> [String; 2] {
    TimeModel::BITRATES.map(|bitrate| millis(TimeModel::CARD_MODEL.millis(cost, bitrate)))
}

fn bitrate_header(bitrate: u32) -> String {
    format!("model @{} kbit/s", bitrate / 1000)
}

/// Card operations on every link: one table per link, then a matrix of APDUs and bytes.
pub fn card_operations(plan: &Plan) -> Vec<(Link, Vec<OperationSummary>)> {
    Link::all()
        .into_iter()
        .map(|link| {
            let mut card = fixtures::genuine_card(&link);
            (link, operations::measure(&mut card, plan.operation_runs))
        })
        .collect()
}

pub fn print_card_operations(results: &[(Link, Vec<OperationSummary>)], runs: usize) {
    println!("## 1. Card operations (genuine software card)\n");
    println!(
        "Each operation as the core performs it: SELECT of the EF included; a VERIFY includes \
         the tries-left read the core always does first; host time is the median of {runs} \
         run(s) against the in-process software card (its RSA private-key work included).\n"
    );
    for (link, summaries) in results {
        println!("### {} — {}\n", link.label, link.description);
        let mut table = Table::new([
            "operation".to_string(),
            "APDUs".into(),
            "sent".into(),
            "received".into(),
            "card RSA".into(),
            "host (median)".into(),
            bitrate_header(TimeModel::BITRATES[0]),
            bitrate_header(TimeModel::BITRATES[1]),
        ]);
        let mut refusals = Vec::new();
        for s in summaries {
            let [slow, fast] = model_cells(&s.cost);
            let name = match &s.error {
                Some(error) => {
                    refusals.push(format!("- {}: {error}", s.name));
                    format!("{} (refused)", s.name)
                }
                None if !s.stable => format!("{} (cost varied between runs)", s.name),
                None => s.name.to_string(),
            };
            table.row([
                name,
                thousands(s.cost.apdus),
                thousands(s.cost.bytes_sent),
                thousands(s.cost.bytes_received),
                thousands(s.cost.rsa_operations),
                format_duration(s.host),
                slow,
                fast,
            ]);
        }
        println!("{}", table.render());
        if !refusals.is_empty() {
            println!("Refused on this link:\n{}\n", refusals.join("\n"));
        }
    }

    println!("### APDUs / bytes on the air, per operation and link\n");
    let mut header = vec!["operation".to_string()];
    header.extend(results.iter().map(|(link, _)| link.label.to_string()));
    let mut table = Table::new(header);
    if let Some((_, first)) = results.first() {
        for (i, s) in first.iter().enumerate() {
            let mut row = vec![s.name.to_string()];
            for (_, summaries) in results {
                row.push(match summaries.get(i) {
                    Some(other) if other.error.is_some() => "refused".to_string(),
                    Some(other) => format!(
                        "{} / {}",
                        other.cost.apdus,
                        thousands(other.cost.bytes_on_air())
                    ),
                    None => "—".to_string(),
                });
            }
            table.row(row);
        }
    }
    println!("{}", table.render());
}

/// What reading one application costs: its SELECT and every EF the core reads in it (free and
/// protected), without PIN counters, VERIFY or signatures.
#[derive(Debug, Clone)]
pub struct ApplicationRead {
    pub application: String,
    pub reads: Vec<&'static str>,
    pub cost: Cost,
}

pub fn application_reads(summaries: &[OperationSummary]) -> Vec<ApplicationRead> {
    let mut out: Vec<ApplicationRead> = Vec::new();
    for s in summaries {
        if let Some(application) = s.name.strip_prefix("select ") {
            if !out.iter().any(|a| a.application == application) {
                out.push(ApplicationRead {
                    application: application.to_string(),
                    reads: Vec::new(),
                    cost: s.cost,
                });
            }
            continue;
        }
        let is_read = s.name.starts_with("read ") && !s.name.ends_with(" tries");
        if let (true, Some(current)) = (is_read, out.last_mut()) {
            current.reads.push(s.name);
            current.cost = current.cost + s.cost;
        }
    }
    out
}

pub fn print_application_summary(results: &[(Link, Vec<OperationSummary>)]) {
    println!("## 2. Reading each application: Le 256 against extended length\n");
    println!(
        "SELECT of the application plus every EF honnin reads there (protected ones after their \
         secret; the secret's VERIFY is not counted here).\n"
    );
    let short = results
        .iter()
        .find(|(link, _)| link.label == Link::SHORT_256.label);
    let extended = results
        .iter()
        .find(|(link, _)| link.label == Link::EXTENDED_65536.label);
    let (Some((_, short)), Some((_, extended))) = (short, extended) else {
        return;
    };
    let mut table = Table::new([
        "application (EFs read)".to_string(),
        "Le 256: APDUs".into(),
        "Le 256: bytes".into(),
        "extended: APDUs".into(),
        "extended: bytes".into(),
        format!("Le 256 {}", bitrate_header(106_000)),
        format!("extended {}", bitrate_header(106_000)),
    ]);
    let ext_reads = application_reads(extended);
    for s in application_reads(short) {
        let Some(e) = ext_reads.iter().find(|e| e.application == s.application) else {
            continue;
        };
        let reads: Vec<String> = s
            .reads
            .iter()
            .map(|r| r.trim_start_matches("read ").to_string())
            .collect();
        table.row([
            format!("{} ({})", s.application, reads.join(", ")),
            thousands(s.cost.apdus),
            thousands(s.cost.bytes_on_air()),
            thousands(e.cost.apdus),
            thousands(e.cost.bytes_on_air()),
            millis(TimeModel::CARD_MODEL.millis(&s.cost, 106_000)),
            millis(TimeModel::CARD_MODEL.millis(&e.cost, 106_000)),
        ]);
    }
    println!("{}", table.render());
}

/// Levels A, B and C on the short and extended links.
pub fn levels(plan: &Plan) -> Vec<(Link, Vec<LevelSummary>)> {
    let verifier = fixtures::verifier();
    Link::short_and_extended()
        .into_iter()
        .map(|link| {
            let mut card = fixtures::genuine_card(&link);
            let summaries = LEVELS
                .iter()
                .map(|level| levels::measure(*level, &mut card, &verifier, plan.level_runs))
                .collect();
            (link, summaries)
        })
        .collect()
}

pub fn print_levels(results: &[(Link, Vec<LevelSummary>)], runs: usize) {
    println!("## 3. Door check per level (genuine card)\n");
    println!(
        "The whole check as `Verifier::check_level_a/b/c` runs it (level A with the courier's \
         confirmation). Host time: median of {runs} check(s), reading and verifying, including \
         the software card's own RSA work and, at level A, decoding the face and text images.\n"
    );
    let mut table = Table::new([
        "level".to_string(),
        "link".into(),
        "verdict".into(),
        "APDUs".into(),
        "sent".into(),
        "received".into(),
        "card RSA".into(),
        bitrate_header(TimeModel::BITRATES[0]),
        bitrate_header(TimeModel::BITRATES[1]),
        "host (median)".into(),
    ]);
    let mut breakdown = Table::new([
        "level".to_string(),
        "link".into(),
        "APDUs × 15 ms".into(),
        "air @106 kbit/s".into(),
        "air @424 kbit/s".into(),
        "RSA × 300 ms".into(),
    ]);
    for level in LEVELS {
        for (link, summaries) in results {
            let Some(s) = summaries.iter().find(|s| s.level == level) else {
                continue;
            };
            let [slow, fast] = model_cells(&s.cost);
            let mut verdict = format!("{:?}", s.verdict);
            if let Some(failure) = &s.failure {
                verdict.push_str(&format!(" ({failure})"));
            }
            if !s.consistent {
                verdict.push_str(" [runs or counters disagree]");
            }
            table.row([
                format!("{level:?}"),
                link.label.to_string(),
                verdict,
                thousands(s.cost.apdus),
                thousands(s.cost.bytes_sent),
                thousands(s.cost.bytes_received),
                thousands(s.cost.rsa_operations),
                slow,
                fast,
                format_duration(s.host),
            ]);
            let model = TimeModel::CARD_MODEL;
            let air =
                |bitrate: u32| s.cost.bytes_on_air() as f64 * 8.0 * 1000.0 / f64::from(bitrate);
            breakdown.row([
                format!("{level:?}"),
                link.label.to_string(),
                millis(s.cost.apdus as f64 * model.per_apdu_ms),
                millis(air(106_000)),
                millis(air(424_000)),
                millis(s.cost.rsa_operations as f64 * model.per_rsa_operation_ms),
            ]);
        }
    }
    println!("{}", table.render());
    println!("Where the modelled time goes:\n");
    println!("{}", breakdown.render());
}

/// honnin's and OpenSSL's verification of one record's evidence.
#[derive(Debug, Clone)]
pub struct VerificationResults {
    pub honnin_record: Duration,
    pub honnin_chain: Duration,
    pub honnin_signature: Duration,
    pub primitives: Primitives,
    pub openssl: Result<OpenSslResults, String>,
}

/// One verify of each primitive, in seconds: honnin's (AWS-LC RSA, ring P-256) and the RustCrypto baseline it
/// replaced, each the median over batches of [`PRIMITIVE_BATCH`].
#[derive(Debug, Clone, Copy)]
pub struct Primitives {
    pub rsa: f64,
    pub rsa_rustcrypto: f64,
    pub ecdsa: f64,
    pub ecdsa_rustcrypto: f64,
}

/// Verifies per timed batch: one verify is tens of microseconds, too short to time alone.
pub const PRIMITIVE_BATCH: u32 = 200;

fn per_verify(runs: usize, work: impl Fn() -> bool) -> f64 {
    median_of(runs, || {
        for _ in 0..PRIMITIVE_BATCH {
            std::hint::black_box(work());
        }
    })
    .as_secs_f64()
        / f64::from(PRIMITIVE_BATCH)
}

fn primitives(runs: usize, evidence: &RecordEvidence) -> Primitives {
    let ecdsa = verification::ecdsa_evidence();
    Primitives {
        rsa: per_verify(runs, || verification::verify_signature_only(evidence)),
        rsa_rustcrypto: per_verify(runs, || verification::verify_signature_rustcrypto(evidence)),
        ecdsa: per_verify(runs, || verification::verify_ecdsa(&ecdsa)),
        ecdsa_rustcrypto: per_verify(runs, || verification::verify_ecdsa_rustcrypto(&ecdsa)),
    }
}

#[derive(Debug, Clone)]
pub struct OpenSslResults {
    pub version: String,
    pub record: Duration,
    pub chain: Duration,
    pub signature: Duration,
    pub start_up: Duration,
    pub speed: Result<openssl::SpeedRsa2048, String>,
    /// `openssl speed ecdsap256`: seconds per verify.
    pub speed_ecdsa: Result<f64, String>,
}

pub fn verification(plan: &Plan) -> VerificationResults {
    let anchors = fixtures::anchors();
    let evidence = verification::genuine_record_evidence(&anchors);
    assert!(
        verification::verify_record(&anchors, &evidence),
        "honnin must accept the genuine record"
    );
    let runs = plan.verify_runs;
    let honnin_record = median_of(runs, || {
        std::hint::black_box(verification::verify_record(&anchors, &evidence));
    });
    let honnin_chain = median_of(runs, || {
        std::hint::black_box(verification::validate_record_chain(&anchors, &evidence));
    });
    let honnin_signature = median_of(runs, || {
        std::hint::black_box(verification::verify_signature_only(&evidence));
    });
    VerificationResults {
        honnin_record,
        honnin_chain,
        honnin_signature,
        primitives: primitives(runs.clamp(5, 51), &evidence),
        openssl: openssl_side(plan, &evidence),
    }
}

fn openssl_side(plan: &Plan, evidence: &RecordEvidence) -> Result<OpenSslResults, String> {
    let version = openssl::version().ok_or("no openssl binary on PATH")?;
    let files = EvidenceFiles::write(evidence)
        .map_err(|e| format!("cannot write the evidence files: {e}"))?;
    // Once untimed: a failure is reported rather than timed, and the page cache is warm.
    files.verify_record()?;
    let runs = plan.openssl_runs;
    let timed = |work: &dyn Fn() -> Result<(), String>| -> Result<Duration, String> {
        let mut failure = None;
        let d = median_of(runs, || {
            if let Err(e) = work() {
                failure = Some(e);
            }
        });
        failure.map_or(Ok(d), Err)
    };
    Ok(OpenSslResults {
        record: timed(&|| files.verify_record())?,
        chain: timed(&|| files.verify_chain())?,
        signature: timed(&|| files.verify_signature())?,
        start_up: timed(&openssl::start_up)?,
        speed: openssl::speed_rsa2048(plan.speed_seconds),
        speed_ecdsa: openssl::speed_ecdsap256_verify(plan.speed_seconds),
        version,
    })
}

pub fn print_verification(results: &VerificationResults, plan: &Plan) {
    println!("## 4. Verifying one record's evidence: honnin against OpenSSL\n");
    println!(
        "The genuine card's authentication chain (end entity + card CA, to the test JPKI root \
         anchor, at 2026-11-25) and its signature over a challenge-sized message. honnin: \
         in-process, median of {} run(s); anchors loaded once beforehand, as a deployment \
         does.\n",
        plan.verify_runs
    );
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mut table = Table::new(["what", "median"]);
    table.row([
        "honnin: chain + signature (one record)".to_string(),
        format_duration(results.honnin_record),
    ]);
    table.row([
        "honnin: chain only (parse, 2 RSA verifies, rules)".to_string(),
        format_duration(results.honnin_chain),
    ]);
    table.row([
        "honnin: signature only (SHA-256 + 1 RSA-2048 verify)".to_string(),
        format_duration(results.honnin_signature),
    ]);
    match &results.openssl {
        Err(why) => {
            println!("{}", table.render());
            println!("OpenSSL side not measured: {why}\n");
        }
        Ok(o) => {
            table.row([
                format!(
                    "openssl CLI: verify + dgst -verify (2 processes, median of {})",
                    plan.openssl_runs
                ),
                format_duration(o.record),
            ]);
            table.row([
                "openssl CLI: verify -CAfile -untrusted (1 process)".to_string(),
                format_duration(o.chain),
            ]);
            table.row([
                "openssl CLI: dgst -sha256 -verify (1 process)".to_string(),
                format_duration(o.signature),
            ]);
            table.row([
                "openssl CLI: start-up alone (`openssl version`)".to_string(),
                format_duration(o.start_up),
            ]);
            let net = o.record.saturating_sub(o.start_up * 2);
            table.row([
                "openssl CLI: record minus 2 × start-up".to_string(),
                format_duration(net),
            ]);
            if let Ok(speed) = &o.speed {
                table.row([
                    format!(
                        "openssl speed rsa2048: 1 verify, in-process ({} s run)",
                        plan.speed_seconds
                    ),
                    format!("{:.1} µs", speed.verify_seconds * 1e6),
                ]);
                table.row([
                    "openssl speed: 3 verifies (a record's RSA work, lower bound)".to_string(),
                    format!("{:.1} µs", 3.0 * speed.verify_seconds * 1e6),
                ]);
            }
            println!("{}", table.render());
            println!("OpenSSL: {}\n", o.version);
            println!("Ratios (> 1: honnin is faster):\n");
            let mut ratios = Table::new(["comparison", "ratio"]);
            let ratio = |a: f64, b: f64| {
                if b > 0.0 {
                    format!("{:.2}×", a / b)
                } else {
                    "—".to_string()
                }
            };
            ratios.row([
                "openssl CLI record / honnin record".to_string(),
                ratio(us(o.record), us(results.honnin_record)),
            ]);
            ratios.row([
                "(openssl CLI record − 2 start-ups) / honnin record".to_string(),
                ratio(us(net), us(results.honnin_record)),
            ]);
            if let Ok(speed) = &o.speed {
                ratios.row([
                    "openssl speed 3 verifies / honnin record".to_string(),
                    ratio(3.0 * speed.verify_seconds * 1e6, us(results.honnin_record)),
                ]);
                ratios.row([
                    "openssl speed 1 verify / honnin signature only".to_string(),
                    ratio(speed.verify_seconds * 1e6, us(results.honnin_signature)),
                ]);
            } else if let Err(why) = &o.speed {
                println!("openssl speed not measured: {why}\n");
            }
            println!("{}", ratios.render());
            print_primitives(&results.primitives, o);
        }
    }
}

/// The native-speed goal of each primitive (issue 13): honnin's verify against OpenSSL's in the
/// same run, and the RustCrypto baseline it replaced.
fn print_primitives(p: &Primitives, o: &OpenSslResults) {
    println!(
        "Signature primitives, one verify each (median over batches of {PRIMITIVE_BATCH}); \
         speed = OpenSSL's time / honnin's (1 = as fast; goal ≥ 0.8):\n"
    );
    let mut table = Table::new([
        "primitive",
        "honnin (RSA: AWS-LC, P-256: ring)",
        "RustCrypto (before)",
        "openssl speed",
        "speed vs OpenSSL",
        "goal",
    ]);
    let us = |seconds: f64| format!("{:.1} µs", seconds * 1e6);
    let rows = [
        (
            "RSA-2048 PKCS#1 v1.5 verify",
            p.rsa,
            p.rsa_rustcrypto,
            o.speed.as_ref().map(|s| s.verify_seconds),
        ),
        (
            "ECDSA P-256 verify",
            p.ecdsa,
            p.ecdsa_rustcrypto,
            o.speed_ecdsa.as_ref().copied(),
        ),
    ];
    for (name, honnin, before, openssl) in rows {
        let (theirs, ratio, goal) = match openssl {
            Ok(theirs) => {
                let ratio = theirs / honnin;
                (
                    us(theirs),
                    format!("{ratio:.2}×"),
                    if ratio >= 0.8 {
                        "≥ 0.8: met"
                    } else {
                        "≥ 0.8: NOT met"
                    }
                    .to_string(),
                )
            }
            Err(why) => (format!("not measured ({why})"), "—".into(), "—".into()),
        };
        table.row([
            name.to_string(),
            us(honnin),
            format!("{} ({:.1}× slower)", us(before), before / honnin),
            theirs,
            ratio,
            goal,
        ]);
    }
    println!("{}", table.render());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(name: &'static str, apdus: u64) -> OperationSummary {
        OperationSummary {
            name,
            cost: Cost {
                apdus,
                ..Cost::default()
            },
            host: Duration::ZERO,
            error: None,
            stable: true,
        }
    }

    #[test]
    fn application_reads_group_reads_under_their_select_without_pins_or_signatures() {
        let summaries = [
            summary("select JPKI", 1),
            summary("read authentication certificate", 5),
            summary("read authentication PIN tries", 2),
            summary("verify signing password", 4),
            summary("read signing certificate", 6),
            summary("sign with signing key", 2),
            summary("select JPKI", 1),
            summary("select card face", 1),
            summary("read card-face data", 20),
        ];
        let reads = application_reads(&summaries);
        assert_eq!(reads.len(), 2);
        assert_eq!(reads[0].application, "JPKI");
        assert_eq!(
            reads[0].reads,
            [
                "read authentication certificate",
                "read signing certificate"
            ]
        );
        assert_eq!(reads[0].cost.apdus, 12);
        assert_eq!(reads[1].cost.apdus, 21);
    }
}
