//! What keeping proof records costs: a durable insert of a signed, encrypted record against a
//! plain SQLite insert of the same record's bytes with the same durability settings (WAL,
//! `synchronous=FULL`, one transaction per record), printed as a ratio; and the time to open and
//! to verify the chain of a store of 100,000 records.
//!
//! ```sh
//! cargo run --release -p honnin-bench --bin store-costs            # 1,000 inserts, 100,000 records
//! cargo run --release -p honnin-bench --bin store-costs -- --quick # CI: 50 inserts, 2,000 records
//! ```
//! `--dir <path>` puts the files on another file system (default: the system temp dir). Both
//! inserts fsync; their absolute times are the disk's, the ratio is what honnin adds.
//!
//! Each figure is given in wall time and in CPU time (Linux: the thread's time on a CPU from
//! `/proc/thread-self/schedstat` per insert, the process's user + system time from
//! `/proc/self/stat` for verify-chain): on a machine shared with other work the wall time
//! includes waiting for a CPU, the CPU time does not, so the latter stays comparable.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use honnin_bench::fixtures::{CountingRandom, Secrets, clock, request, verifier};
use honnin_core::check::DoorCheckReport;
use honnin_core::reader::CardSession;
use honnin_core::record::{
    AttributePolicy, ChainLink, DeviceSigner, RecordContext, RecordDraft, SignedRecord,
    SoftwareSigner, canonical,
};
use honnin_core::store::{StaticKeyProvider, Store};
use honnin_core::verify::{Clock, SystemRandom};
use honnin_simcard::Profile;

const USAGE: &str = "usage: store-costs [--quick] [--inserts N] [--records N] [--dir PATH]";

struct Plan {
    inserts: usize,
    records: usize,
    dir: PathBuf,
}

fn main() {
    let mut plan = Plan {
        inserts: 1000,
        records: 100_000,
        dir: std::env::temp_dir(),
    };
    if matches!(std::env::var("HONNIN_BENCH_QUICK"), Ok(v) if !v.is_empty() && v != "0") {
        plan.inserts = 50;
        plan.records = 2000;
    }
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |what: &str| -> usize {
            args.next()
                .and_then(|n| n.parse().ok())
                .filter(|n| *n > 0)
                .unwrap_or_else(|| fail(&format!("{what} takes a positive number")))
        };
        match arg.as_str() {
            "--quick" => {
                plan.inserts = 50;
                plan.records = 2000;
            }
            "--inserts" => plan.inserts = number("--inserts"),
            "--records" => plan.records = number("--records"),
            "--dir" => {
                plan.dir = args
                    .next()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| fail("--dir takes a path"))
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return;
            }
            other => fail(&format!("unknown argument {other:?}")),
        }
    }
    let work = plan
        .dir
        .join(format!("honnin-store-costs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap_or_else(|e| fail(&format!("{}: {e}", work.display())));
    let result = run(&plan, &work);
    let _ = std::fs::remove_dir_all(&work);
    if let Err(message) = result {
        fail(&message);
    }
}

fn fail(message: &str) -> ! {
    eprintln!("store-costs: {message}\n{USAGE}");
    std::process::exit(64)
}

/// A genuine level-B check of the software card: the record every figure is about.
fn level_b_report() -> DoorCheckReport {
    let card = Profile::Genuine.build().expect("the genuine card builds");
    let secrets = Secrets::of(&card);
    let mut session = CardSession::new(card);
    verifier().check_level_b(
        &mut session,
        &request(),
        &secrets.auth_pin,
        &clock(),
        &mut CountingRandom(0),
    )
}

fn draft(report: &DoorCheckReport) -> RecordDraft {
    let context = RecordContext {
        courier_id: "bench-courier".into(),
        time: clock().now(),
        policy: AttributePolicy::ALL,
    };
    RecordDraft::from_check(report, &request(), &context).expect("the report makes a record")
}

/// Nanoseconds this thread has run on a CPU (its time waiting for one left out); `None` where
/// the kernel does not say (not Linux, or without scheduler statistics).
///
/// The kernel brings a running thread's figure up to date only when it schedules it (a tick,
/// a sleep, a yield), so a plain read can be a whole tick stale: one insert's reading was off
/// by up to milliseconds. A yield first makes it current (`sched_yield` updates the runtime
/// even when the thread runs on), and the file stays open so a reading costs one `pread`
/// rather than an open and a read (which would land inside the next interval).
fn thread_cpu() -> Option<Duration> {
    use std::os::unix::fs::FileExt as _;
    thread_local! {
        static SCHEDSTAT: Option<std::fs::File> =
            std::fs::File::open("/proc/thread-self/schedstat").ok();
    }
    SCHEDSTAT.with(|file| {
        let file = file.as_ref()?;
        std::thread::yield_now();
        let mut buffer = [0u8; 128];
        let read = file.read_at(&mut buffer, 0).ok()?;
        let text = std::str::from_utf8(buffer.get(..read)?).ok()?;
        let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
        Some(Duration::from_nanos(nanos))
    })
}

/// User + system time of the whole process, every thread included (also those that ended), in
/// the kernel's clock ticks of 10 ms (Linux's USER_HZ is 100 on every architecture).
fn process_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces: state is the
    // 3rd field of the line, utime the 14th and stime the 15th.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((user + system) * 10))
}

/// Wall and CPU time of `work`, the CPU time from `clock` (`None` when it is not available).
fn timed<T>(
    clock: fn() -> Option<Duration>,
    work: impl FnOnce() -> T,
) -> (T, Duration, Option<Duration>) {
    let cpu_before = clock();
    let started = Instant::now();
    let out = work();
    let wall = started.elapsed();
    let cpu = match (cpu_before, clock()) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    (out, wall, cpu)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "unknown".into())
}

fn stats(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort_unstable();
    let median = samples[samples.len() / 2].as_secs_f64() * 1e3;
    let mean = samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len() as f64;
    (median, mean * 1e3)
}

fn run(plan: &Plan, work: &Path) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let report = level_b_report();
    let signer = SoftwareSigner::generate(&mut SystemRandom);
    let keys = StaticKeyProvider::new([0x5A; 32]);

    // The same record as bytes, for the plain insert and for the record size.
    let sample = SignedRecord::sign(
        draft(&report),
        &[0; 16],
        ChainLink::GENESIS,
        &signer,
        signer.device_key(),
    )
    .map_err(|e| err(&e))?;
    let envelope = sample.to_envelope_bytes();
    println!("# honnin record store costs\n");
    println!(
        "Record: a genuine level-B check with every attribute, {} bytes canonical ({} certificates).",
        envelope.len(),
        sample.body().certificates().len()
    );

    // Plain SQLite: the envelope bytes into a table, same pragmas, one transaction each.
    let plain_path = work.join("plain.db");
    let plain = rusqlite::Connection::open(&plain_path).map_err(|e| err(&e))?;
    plain
        .execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA temp_store=MEMORY;
             CREATE TABLE records (seq INTEGER PRIMARY KEY, record_id TEXT NOT NULL UNIQUE,
                                   recorded_at INTEGER NOT NULL, body BLOB NOT NULL);",
        )
        .map_err(|e| err(&e))?;
    // honnin: sign, seal, insert, move the head, commit.
    let store_path = work.join("records.db");
    let mut store = Store::create(&store_path, &keys).map_err(|e| err(&e))?;
    // Both sides' settings as SQLite reports them, so the comparison is like with like: in WAL
    // mode with synchronous=FULL every commit syncs the WAL once (checkpoints every 1,000 pages
    // add a sync of the database file on both sides).
    let pragma = |name: &str| -> Result<String, String> {
        plain
            .query_row(&format!("PRAGMA {name}"), [], |row| {
                row.get::<_, rusqlite::types::Value>(0)
            })
            .map(|value| match value {
                rusqlite::types::Value::Integer(n) => n.to_string(),
                rusqlite::types::Value::Text(text) => text,
                other => format!("{other:?}"),
            })
            .map_err(|e| err(&e))
    };
    let plain_durability = (
        pragma("journal_mode")?,
        pragma("synchronous")?.parse::<i64>().unwrap_or(-1),
        pragma("wal_autocheckpoint")?,
    );
    let store_durability = store.durability().map_err(|e| err(&e))?;
    let synchronous = |level: i64| match level {
        0 => "OFF",
        1 => "NORMAL",
        2 => "FULL",
        3 => "EXTRA",
        _ => "?",
    };
    println!(
        "Durability, as SQLite reports it: plain journal_mode={} synchronous={} \
         (wal_autocheckpoint {}); honnin journal_mode={} synchronous={}; one transaction per \
         record on both sides, so one WAL sync per insert on both.\n",
        plain_durability.0,
        synchronous(plain_durability.1),
        plain_durability.2,
        store_durability.0,
        synchronous(store_durability.1),
    );
    if plain_durability.0 != store_durability.0 || plain_durability.1 != store_durability.1 {
        return Err("the two sides do not have the same durability settings".into());
    }
    // The first append binds the device to the store; it is not typical.
    store.append(draft(&report), &signer).map_err(|e| err(&e))?;
    let mut plain_samples = Vec::with_capacity(plan.inserts);
    let mut store_samples = Vec::with_capacity(plan.inserts);
    let mut plain_cpu = Vec::with_capacity(plan.inserts);
    let mut store_cpu = Vec::with_capacity(plan.inserts);
    let mut sign_samples = Vec::with_capacity(plan.inserts);
    let mut signature_samples = Vec::with_capacity(plan.inserts);
    let mut check_samples = Vec::with_capacity(plan.inserts);
    let mut encoding_samples = Vec::with_capacity(plan.inserts);
    // Interleaved, each going first every other time, so both see the same disk and load.
    for i in 0..plan.inserts {
        let mut insert_plain = || -> Result<(), String> {
            // A prepared statement, as any application inserting rows in a loop keeps (honnin
            // keeps its own): preparing the SQL each time would add to the baseline.
            let (inserted, wall, cpu) = timed(thread_cpu, || {
                plain
                    .prepare_cached(
                        "INSERT INTO records (seq, record_id, recorded_at, body) VALUES (?1, ?2, ?3, ?4)",
                    )
                    .and_then(|mut insert| {
                        insert.execute(rusqlite::params![
                            i as i64 + 1,
                            format!("{i:032x}"),
                            0i64,
                            envelope
                        ])
                    })
            });
            inserted.map_err(|e| err(&e))?;
            plain_samples.push(wall);
            plain_cpu.extend(cpu);
            Ok(())
        };
        if i % 2 == 0 {
            insert_plain()?;
        }
        let draft = draft(&report);
        let copy = draft.clone();
        let sign_started = Instant::now();
        let _ = SignedRecord::sign(
            copy,
            &[1; 16],
            ChainLink::GENESIS,
            &signer,
            signer.device_key(),
        );
        sign_samples.push(sign_started.elapsed());
        // The parts of that: the canonical encoding of the body, the device signature alone,
        // and the check of it the core does before it stores a record.
        let started = Instant::now();
        let encoded = canonical::to_canonical_vec(sample.body());
        encoding_samples.push(started.elapsed());
        if encoded.as_deref() != Some(sample.canonical_body()) {
            return Err("the sample record's body does not encode to its canonical bytes".into());
        }
        let started = Instant::now();
        let signature = signer.sign(sample.canonical_body()).map_err(|e| err(&e))?;
        signature_samples.push(started.elapsed());
        let started = Instant::now();
        if !signer
            .device_key()
            .verifies(sample.canonical_body(), sample.signature())
        {
            return Err("the sample record does not verify".into());
        }
        check_samples.push(started.elapsed());
        drop(signature);
        let (appended, wall, cpu) = timed(thread_cpu, || store.append(draft, &signer));
        appended.map_err(|e| err(&e))?;
        store_samples.push(wall);
        store_cpu.extend(cpu);
        if i % 2 == 1 {
            insert_plain()?;
        }
    }
    drop(plain);
    drop(store);
    let (plain_median, plain_mean) = stats(&mut plain_samples);
    let (store_median, store_mean) = stats(&mut store_samples);
    let (sign_median, _) = stats(&mut sign_samples);
    let (signature_median, _) = stats(&mut signature_samples);
    let (check_median, _) = stats(&mut check_samples);
    let (encoding_median, _) = stats(&mut encoding_samples);
    let cpu_stats =
        |samples: &mut Vec<Duration>| (samples.len() == plan.inserts).then(|| stats(samples));
    let (plain_cpu, store_cpu) = (cpu_stats(&mut plain_cpu), cpu_stats(&mut store_cpu));
    let cpu_cells = |cpu: Option<(f64, f64)>| match cpu {
        Some((median, mean)) => format!("{median:.3} | {mean:.3}"),
        None => "n/a | n/a".into(),
    };
    println!("Load average at the inserts: {}\n", load_average());
    println!(
        "| durable insert ({} runs) | median ms | mean ms | CPU median ms | CPU mean ms |",
        plan.inserts
    );
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| plain SQLite insert of the record bytes | {plain_median:.3} | {plain_mean:.3} | {} |",
        cpu_cells(plain_cpu)
    );
    println!(
        "| honnin: signed (P-256), sealed (XChaCha20-Poly1305), chained | {store_median:.3} | {store_mean:.3} | {} |",
        cpu_cells(store_cpu)
    );
    println!(
        "| of which canonical encoding + device signature + its check | {sign_median:.3} | | | |"
    );
    println!("| — the canonical encoding of the body (JCS) | {encoding_median:.3} | | | |");
    println!(
        "| — the device signature alone (ECDSA P-256, SoftwareSigner on ring) | {signature_median:.3} | | | |"
    );
    println!("| — the check of that signature (ECDSA P-256 verify) | {check_median:.3} | | | |");
    println!(
        "\nRatio honnin / plain: {:.2} (median), {:.2} (mean); goal ≤ 1.50 (issue 13)",
        store_median / plain_median,
        store_mean / plain_mean
    );
    if let (Some((plain_median, plain_mean)), Some((store_median, store_mean))) =
        (plain_cpu, store_cpu)
    {
        println!(
            "CPU time per insert: honnin adds {:.3} ms (median) to the plain insert's {:.3} ms; \
             CPU ratio {:.2} (median), {:.2} (mean). The wall time beyond the CPU time is the \
             WAL's fsync (and, on a loaded machine, waiting for a CPU).",
            store_median - plain_median,
            plain_median,
            store_median / plain_median,
            store_mean / plain_mean
        );
    }
    println!();

    // A store of plan.records records, filled in batches (one transaction per 1,000).
    let big_path = work.join("big.db");
    let mut big = Store::create(&big_path, &keys).map_err(|e| err(&e))?;
    let fill_started = Instant::now();
    let mut left = plan.records;
    while left > 0 {
        let batch = left.min(1000);
        let drafts: Vec<RecordDraft> = (0..batch).map(|_| draft(&report)).collect();
        big.append_all(drafts, &signer).map_err(|e| err(&e))?;
        left -= batch;
    }
    drop(big);
    let fill = fill_started.elapsed();
    let size: u64 = ["big.db", "big.db-wal"]
        .iter()
        .filter_map(|name| std::fs::metadata(work.join(name)).ok())
        .map(|m| m.len())
        .sum();

    let open_started = Instant::now();
    let big = Store::open(&big_path, &keys).map_err(|e| err(&e))?;
    let open = open_started.elapsed();
    let quick_started = Instant::now();
    big.quick_check().map_err(|e| err(&e))?;
    let quick_check = quick_started.elapsed();
    let load = load_average();
    // The calling thread reads the rows and follows the chain; the rest of the CPU time is the
    // workers' (decrypt, parse, signature): its share says whether reading is off the critical
    // path.
    let (timed_chain, _, main_cpu) =
        timed(thread_cpu, || timed(process_cpu, || big.verify_chain()));
    let (chain, verify, verify_cpu) = timed_chain;
    let chain = chain.map_err(|e| err(&e))?;
    if !chain.is_intact() || chain.verified != plan.records as u64 {
        return Err(format!("the benchmark store does not verify: {chain:?}"));
    }
    println!(
        "| store of {} records ({:.0} MB) | seconds |",
        plan.records,
        size as f64 / 1e6
    );
    println!("|---|---:|");
    println!(
        "| fill (batches of 1,000 per transaction) | {:.2} |",
        fill.as_secs_f64()
    );
    println!(
        "| open (key check, schema, acknowledged head present) | {:.4} |",
        open.as_secs_f64()
    );
    println!(
        "| SQLite quick_check alone | {:.2} |",
        quick_check.as_secs_f64()
    );
    println!(
        "| verify-chain (quick_check + decrypt, parse, verify signature and link of every record) | {:.2} |",
        verify.as_secs_f64()
    );
    let per_100k = |d: Duration| d.as_secs_f64() * 100_000.0 / plan.records as f64;
    println!(
        "\nverify-chain: {:.1} µs per record, {:.2} s per 100,000 (goal ≤ 10 s on 2 cores, issue 13)",
        verify.as_secs_f64() * 1e6 / plan.records as f64,
        per_100k(verify)
    );
    match verify_cpu {
        Some(cpu) => println!(
            "verify-chain CPU time (user + system, all threads): {:.2} s, {:.2} CPU-s per 100,000 \
             ({} worker threads; load average {load}): on 2 otherwise idle cores at least {:.2} s \
             per 100,000",
            cpu.as_secs_f64(),
            per_100k(cpu),
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            per_100k(cpu) / 2.0
        ),
        None => println!("verify-chain CPU time: not available on this system"),
    }
    if let (Some(cpu), Some(main_cpu)) = (verify_cpu, main_cpu) {
        println!(
            "verify-chain cores busy on average: {:.2} (CPU time / wall time); of the CPU time, \
             {:.2} CPU-s per 100,000 on the thread that reads the rows and follows the chain",
            cpu.as_secs_f64() / verify.as_secs_f64(),
            main_cpu.as_secs_f64() * 100_000.0 / plan.records as f64
        );
    }
    println!(
        "on-disk size: {:.0} bytes per record, {:.2}× the record's {} canonical bytes (goal ≤ 2×)",
        size as f64 / plan.records as f64,
        size as f64 / plan.records as f64 / envelope.len() as f64,
        envelope.len()
    );
    Ok(())
}
