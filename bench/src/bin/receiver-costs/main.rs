//! What the receiver costs, on this machine, against SQLite and (when a URL is given)
//! PostgreSQL:
//! - ingest: signed batches of 500 records posted over loopback HTTP, each record re-verified in
//!   full (device signature, chain, challenge, certificate path, CRL) — records per second, with
//!   the same verification on one core alone for comparison;
//! - end-to-end sync: the core's `SyncClient` sending a device store's records to the receiver
//!   on loopback, receipts verified and marked on the device;
//! - feed page latency at 1,000,000 stored records: rows bulk-loaded through the storage (one
//!   transaction per 5,000), then real HTTP feed requests at random cursors, p50 and p99, for
//!   pages of 100 and 1,000; beside them, at the same cursors in the same run, what the parts
//!   cost (the storage's rows alone, the page's JSON built from them) and the floor: the same
//!   bytes served from memory by a bare HTTP/1.1 responder on loopback to the same client.
//!   `--reuse DIR` keeps the SQLite database in DIR (loaded on the first run, reused by later
//!   ones with the same `--feed-rows`): a million rows take minutes to load.
//!
//! ```sh
//! cargo run --release -p honnin-bench --bin receiver-costs              # 10,000 records, 1,000,000 rows
//! cargo run --release -p honnin-bench --bin receiver-costs -- --part feed --requests 500
//! cargo run --release -p honnin-bench --bin receiver-costs -- --part feed --reuse /work/tmp-bench/feed
//! cargo run --release -p honnin-bench --bin receiver-costs -- --quick   # CI: 200 records, 2,000 rows
//! ```
//! PostgreSQL runs when `--postgres URL` or `HONNIN_TEST_POSTGRES` gives a database
//! (`scripts/start-postgres` prints one); each part uses a schema of its own, dropped after.
//! Records are levels A, B and C in turn, as in the receiver's tests.

mod cpu;
mod feed;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use honnin_core::check::Level;
use honnin_core::record::{AttributePolicy, SignedRecord};
use honnin_core::store::Store;
use honnin_core::sync::protocol::{
    HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, sign_batch,
};
use honnin_core::sync::{SyncClient, SyncConfig};
use honnin_core::verify::record::{RecordExpectation, TimeWindow, verify_record};
use honnin_core::verify::{Clock, RandomSource, SystemClock, SystemRandom};
use honnin_e2e::records::{device_signer, draft_of, genuine_report, store_keys};
use honnin_e2e::verifier_with_crl;
use honnin_receiver::storage::{ChainHead, next_head};
use honnin_receiver::{PostgresStorage, Receiver, SqliteStorage, Storage, now, operator};
use r2d2_postgres::postgres;

const USAGE: &str = "usage: receiver-costs [--quick] [--part ingest|sync|feed]... [--records N] [--feed-rows N] [--requests N] [--postgres URL] [--reuse DIR]";
const DEVICE: &str = "handheld-01";
const BATCH: usize = 500;
/// Issue 13's goals: ingest with full re-verification on 2 cores, and the end-to-end sync.
const GOAL_INGEST: f64 = 2500.0;
const GOAL_SYNC: Duration = Duration::from_secs(6);
const GOAL_RECORDS: usize = 10_000;

struct Plan {
    records: usize,
    feed_rows: usize,
    requests: usize,
    postgres: Option<String>,
    /// Where the SQLite feed database is kept between runs (`--reuse DIR`).
    reuse: Option<PathBuf>,
    /// The parts to run (`ingest`, `sync`, `feed`); all when empty.
    parts: Vec<String>,
}

impl Plan {
    fn runs(&self, part: &str) -> bool {
        self.parts.is_empty() || self.parts.iter().any(|p| p == part)
    }
}

fn fail(message: &str) -> ! {
    eprintln!("receiver-costs: {message}");
    std::process::exit(1)
}

fn main() {
    cpu::name_pool_threads();
    let mut plan = Plan {
        records: 10_000,
        feed_rows: 1_000_000,
        requests: 200,
        postgres: std::env::var("HONNIN_TEST_POSTGRES")
            .ok()
            .filter(|v| !v.is_empty()),
        reuse: None,
        parts: Vec::new(),
    };
    let quick = |plan: &mut Plan| {
        plan.records = 200;
        plan.feed_rows = 2_000;
        plan.requests = 5;
    };
    if matches!(std::env::var("HONNIN_BENCH_QUICK"), Ok(v) if !v.is_empty() && v != "0") {
        quick(&mut plan);
    }
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> usize {
            args.next()
                .and_then(|v| v.replace(['_', ','], "").parse().ok())
                .unwrap_or_else(|| fail(&format!("{name} takes a number; {USAGE}")))
        };
        match arg.as_str() {
            "--quick" => quick(&mut plan),
            "--part" => match args.next() {
                Some(part) if ["ingest", "sync", "feed"].contains(&part.as_str()) => {
                    plan.parts.push(part)
                }
                _ => fail(&format!("--part takes ingest, sync or feed; {USAGE}")),
            },
            "--records" => plan.records = number("--records").max(1),
            "--feed-rows" => plan.feed_rows = number("--feed-rows").max(1000),
            "--requests" => plan.requests = number("--requests").max(1),
            "--postgres" => {
                plan.postgres = Some(
                    args.next()
                        .unwrap_or_else(|| fail(&format!("--postgres takes a URL; {USAGE}"))),
                )
            }
            "--reuse" => {
                plan.reuse =
                    Some(PathBuf::from(args.next().unwrap_or_else(|| {
                        fail(&format!("--reuse takes a directory; {USAGE}"))
                    })))
            }
            _ => fail(USAGE),
        }
    }
    if let Err(message) = run(&plan) {
        fail(&message)
    }
}

/// A database for one part of the benchmark.
enum Database {
    Sqlite(tempfile::TempDir),
    /// SQLite in a directory kept after the run (`--reuse DIR`).
    Kept(PathBuf),
    Postgres {
        url: String,
        schema: String,
    },
}

impl Database {
    fn name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) | Self::Kept(_) => "SQLite",
            Self::Postgres { .. } => "PostgreSQL",
        }
    }

    /// The directory of an SQLite database.
    fn sqlite_dir(&self) -> Option<&Path> {
        match self {
            Self::Sqlite(dir) => Some(dir.path()),
            Self::Kept(dir) => Some(dir),
            Self::Postgres { .. } => None,
        }
    }

    fn fresh(postgres: Option<&str>, part: &str) -> Result<Self, String> {
        match postgres {
            None => tempfile::tempdir()
                .map(Self::Sqlite)
                .map_err(|e| e.to_string()),
            Some(url) => {
                let schema = format!("honnin_bench_{part}_{}", std::process::id());
                let mut client = postgres::Client::connect(url, postgres::NoTls)
                    .map_err(|e| format!("PostgreSQL at --postgres: {e}"))?;
                client
                    .batch_execute(&format!(
                        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
                    ))
                    .map_err(|e| format!("creating schema {schema}: {e}"))?;
                Ok(Self::Postgres {
                    url: url.to_owned(),
                    schema,
                })
            }
        }
    }

    fn open(&self) -> Result<Arc<dyn Storage>, String> {
        match self {
            Self::Sqlite(_) | Self::Kept(_) => {
                let dir = self.sqlite_dir().unwrap_or(Path::new("."));
                SqliteStorage::open(&dir.join("receiver.db"))
                    .map(|s| Arc::new(s) as Arc<dyn Storage>)
                    .map_err(|e| e.to_string())
            }
            Self::Postgres { url, schema } => {
                let separator = if url.contains('?') { '&' } else { '?' };
                PostgresStorage::connect(&format!(
                    "{url}{separator}options=-c%20search_path%3D{schema}"
                ))
                .map(|s| Arc::new(s) as Arc<dyn Storage>)
                .map_err(|e| e.to_string())
            }
        }
    }

    /// After a bulk load, what a running database does by itself soon after (PostgreSQL's
    /// autovacuum: statistics, the visibility map), so the timed requests do not race it.
    fn settle(&self) -> Result<(), String> {
        if let Self::Postgres { url, schema } = self {
            let mut client = postgres::Client::connect(url, postgres::NoTls)
                .map_err(|e| format!("PostgreSQL at --postgres: {e}"))?;
            client
                .batch_execute(&format!("VACUUM ANALYZE {schema}.records"))
                .map_err(|e| format!("settling after the load: {e}"))?;
        }
        Ok(())
    }

    /// The bytes the database holds for the part, where that is cheap to tell.
    fn size(&self) -> Option<u64> {
        match self {
            Self::Sqlite(_) | Self::Kept(_) => {
                std::fs::read_dir(self.sqlite_dir()?).ok().map(|entries| {
                    entries
                        .filter(|e| {
                            e.as_ref().is_ok_and(|e| {
                                e.file_name().to_string_lossy().starts_with("receiver.db")
                            })
                        })
                        .filter_map(|e| e.ok()?.metadata().ok())
                        .map(|m| m.len())
                        .sum()
                })
            }
            Self::Postgres { url, schema } => {
                let mut client = postgres::Client::connect(url, postgres::NoTls).ok()?;
                let row = client
                    .query_one(
                        "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c
                         JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE n.nspname = $1 AND c.relkind = 'r'",
                        &[schema],
                    )
                    .ok()?;
                row.get::<_, Option<i64>>(0)
                    .and_then(|n| u64::try_from(n).ok())
            }
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Self::Postgres { url, schema } = self
            && let Ok(mut client) = postgres::Client::connect(url, postgres::NoTls)
        {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// A receiver on `database`, served on loopback by its own runtime.
struct Served {
    base: String,
    receiver: Arc<Receiver>,
    _runtime: tokio::runtime::Runtime,
}

fn serve(database: &Database) -> Result<Served, String> {
    let storage = database.open()?;
    let receiver =
        Arc::new(Receiver::new(storage, verifier_with_crl()).map_err(|e| e.to_string())?);
    // Named apart from the main thread, whose name the client's threads carry (cpu.rs).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("receiver")
        .build()
        .map_err(|e| e.to_string())?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| e.to_string())?;
    let base = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    runtime.spawn(honnin_receiver::routes::serve(listener, receiver.clone()));
    Ok(Served {
        base,
        receiver,
        _runtime: runtime,
    })
}

/// [`serve`] with the device enrolled.
fn serve_enrolled(database: &Database) -> Result<Served, String> {
    let served = serve(database)?;
    enrol_device(&served)?;
    Ok(served)
}

fn enrol_device(served: &Served) -> Result<(), String> {
    let storage = served.receiver.storage.as_ref();
    let code = operator::issue_enrolment_code(storage, DEVICE, &["test-bank"], now())
        .map_err(|e| e.to_string())?;
    let enrolled = storage
        .enrol(
            DEVICE,
            &operator::secret_hash(&code),
            device_signer().device_key().spki_der(),
            now(),
            &|e| {
                honnin_receiver::fleet::enrolment_entry(
                    e,
                    std::net::IpAddr::from([127, 0, 0, 1]),
                    None,
                )
            },
        )
        .map_err(|e| e.to_string())?;
    if !enrolled {
        return Err("the device did not enrol".into());
    }
    Ok(())
}

/// A device store under `dir` with `n` records, levels A, B and C in turn.
fn device_store(dir: &std::path::Path, n: usize) -> Result<Store, String> {
    let mut store =
        Store::create(&dir.join("device.db"), &store_keys()).map_err(|e| e.to_string())?;
    let reports = [Level::A, Level::B, Level::C].map(genuine_report);
    let drafts = (0..n)
        .map(|i| draft_of(&reports[i % 3], AttributePolicy::default()))
        .collect();
    store
        .append_all(drafts, &device_signer())
        .map_err(|e| e.to_string())?;
    Ok(store)
}

fn records_of(store: &Store, n: usize) -> Result<Vec<SignedRecord>, String> {
    store
        .list(0, n)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|row| row.record.map_err(|e| e.to_string()))
        .collect()
}

fn run(plan: &Plan) -> Result<(), String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let backends: Vec<Option<&str>> = match &plan.postgres {
        Some(url) => vec![None, Some(url.as_str())],
        None => {
            println!("(PostgreSQL skipped: give --postgres URL or set HONNIN_TEST_POSTGRES)");
            vec![None]
        }
    };
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    // The feed alone needs three records (levels A, B, C) as templates.
    let made = if plan.runs("ingest") { plan.records } else { 3 };
    let store = device_store(work.path(), made)?;
    let records = records_of(&store, made)?;
    drop(store);

    if plan.runs("ingest") {
        ingest(plan, &backends, &records, cores)?;
    }
    if plan.runs("sync") {
        sync(plan, &backends, cores)?;
    }
    if plan.runs("feed") {
        feed::feed(plan, &backends, &records)?;
    }
    Ok(())
}

fn ingest(
    plan: &Plan,
    backends: &[Option<&str>],
    records: &[SignedRecord],
    cores: usize,
) -> Result<(), String> {
    println!(
        "\n== ingest: {} records in signed batches of {BATCH} over loopback HTTP, full re-verification, {cores} cores",
        plan.records
    );
    let started = Instant::now();
    let usage = cpu::Usage::now();
    let mut previous: Option<ChainHead> = None;
    let key = device_signer().device_key().clone();
    let verifier = verifier_with_crl();
    for record in records {
        let expect = RecordExpectation {
            device_key: &key,
            item_id: None,
            sender_id: None,
            previous,
            time_window: TimeWindow::UNKNOWN,
        };
        std::hint::black_box(verify_record(record, &verifier, &expect));
        previous = next_head(previous, record.body().seq(), record.hash());
    }
    let alone = started.elapsed();
    // On this thread alone, so the "client" share of the reading is the verification.
    let alone_cpu = usage.since().client;
    println!(
        "  verification alone, one core: {:>8.0} records/s, {:.0} µs CPU per record (the baseline: what ingest cannot go below)   (load {})",
        rate(plan.records, alone),
        alone_cpu.as_secs_f64() * 1e6 / plan.records as f64,
        feed::load_average()
    );
    for backend in backends {
        let database = Database::fresh(*backend, "ingest")?;
        let served = serve_enrolled(&database)?;
        let started = Instant::now();
        let usage = cpu::Usage::now();
        let server = cpu::postgres_server();
        post_batches(&served.base, records)?;
        let spent = usage.since();
        let server = cpu::postgres_server().saturating_sub(server);
        let elapsed = started.elapsed();
        let held = served
            .receiver
            .storage
            .count_records()
            .map_err(|e| e.to_string())?;
        if held != plan.records as u64 {
            return Err(format!("{} holds {held} records", database.name()));
        }
        let achieved = rate(plan.records, elapsed);
        println!(
            "  {:<10} {:>8.0} records/s ({:.2} s)  goal >= {GOAL_INGEST:.0}/s on 2 cores: {}   (load {})",
            database.name(),
            achieved,
            elapsed.as_secs_f64(),
            verdict(achieved >= GOAL_INGEST),
            feed::load_average()
        );
        println!(
            "  {:<10}   {}; at most {:.0} records/s on {cores} idle cores by CPU",
            "",
            spent.per_record(plan.records),
            cpu_bound(&spent, plan.records, cores)
        );
        if backend.is_some() {
            // The server shares these cores when it runs here.
            let with_server = cpu::Spent {
                receiver: spent.receiver + server,
                ..spent
            };
            println!(
                "  {:<10}   the PostgreSQL server's processes on this machine: {:.0} µs CPU per record; with them, at most {:.0} records/s",
                "",
                server.as_secs_f64() * 1e6 / plan.records as f64,
                cpu_bound(&with_server, plan.records, cores)
            );
        }
    }

    Ok(())
}

/// "met" or "not met", as every goal line says.
fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "not met" }
}

/// The rate `cores` idle cores would allow if the receiver and client kept them all busy with
/// the CPU time they spent: an upper bound to read beside a rate measured under load.
fn cpu_bound(spent: &cpu::Spent, records: usize, cores: usize) -> f64 {
    let total = (spent.receiver + spent.client).as_secs_f64();
    records as f64 * cores as f64 / total.max(1e-9)
}

fn sync(plan: &Plan, backends: &[Option<&str>], cores: usize) -> Result<(), String> {
    println!(
        "\n== end-to-end sync: {} records, core SyncClient -> receiver on loopback, batches of {BATCH}",
        plan.records
    );
    for backend in backends {
        let database = Database::fresh(*backend, "sync")?;
        let served = serve_enrolled(&database)?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut store = device_store(dir.path(), plan.records)?;
        let mut config = SyncConfig::new(&served.base, DEVICE);
        // Plain HTTP on loopback: the figure is the receiver's, not TLS's.
        config.allow_loopback_http = true;
        config.batch_size = BATCH;
        config.timeout = Duration::from_secs(300);
        let client = SyncClient::new(config, served.receiver.receipt_key().clone());
        let started = Instant::now();
        let usage = cpu::Usage::now();
        let report = client
            .sync(
                &mut store,
                &device_signer(),
                &SystemClock,
                &mut SystemRandom,
            )
            .map_err(|e| e.to_string())?;
        let spent = usage.since();
        let elapsed = started.elapsed();
        if report.synced != plan.records as u64 {
            return Err(format!("synced {} of {}", report.synced, plan.records));
        }
        let goal = if plan.records == GOAL_RECORDS {
            format!(
                "goal <= {} s: {}",
                GOAL_SYNC.as_secs(),
                verdict(elapsed <= GOAL_SYNC)
            )
        } else {
            format!("goal <= {} s at 10,000 records", GOAL_SYNC.as_secs())
        };
        println!(
            "  {:<10} {:>8.2} s ({:.0} records/s, {} requests)  {goal}   (load {})",
            database.name(),
            elapsed.as_secs_f64(),
            rate(plan.records, elapsed),
            report.requests,
            feed::load_average()
        );
        println!(
            "  {:<10}   {} (the device's SyncClient); at most {:.0} records/s on {cores} idle cores by CPU",
            "",
            spent.per_record(plan.records),
            cpu_bound(&spent, plan.records, cores)
        );
    }

    Ok(())
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64().max(1e-9)
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(300)))
        .build()
        .new_agent()
}

/// Posts `records` in signed batches, one after another, as a device does.
fn post_batches(base: &str, records: &[SignedRecord]) -> Result<(), String> {
    let agent = agent();
    let signer = device_signer();
    for chunk in records.chunks(BATCH) {
        let mut body = Vec::from(&b"{\"records\":["[..]);
        for (i, record) in chunk.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&record.to_envelope_bytes());
        }
        body.extend_from_slice(b"]}");
        let mut nonce = [0u8; 16];
        SystemRandom.fill(&mut nonce);
        let nonce = hex_lower(&nonce);
        let timestamp = SystemClock.now().0;
        let signature = sign_batch(
            &signer,
            signer.device_key(),
            DEVICE,
            timestamp,
            &nonce,
            &body,
        )
        .map_err(|e| e.to_string())?;
        let mut response = agent
            .post(format!("{base}/v1/batches"))
            .header(HEADER_DEVICE, DEVICE)
            .header(HEADER_TIMESTAMP, timestamp.to_string())
            .header(HEADER_NONCE, &nonce)
            .header(HEADER_SIGNATURE, &signature)
            .content_type("application/json")
            .send(&body[..])
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| e.to_string())?;
        if status != 200 || text.contains("\"rejected\"") {
            return Err(format!(
                "a batch was answered {status}: {}",
                &text[..text.len().min(300)]
            ));
        }
    }
    Ok(())
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
