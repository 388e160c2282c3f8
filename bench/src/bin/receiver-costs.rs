//! What the receiver costs, on this machine, against SQLite and (when a URL is given)
//! PostgreSQL:
//! - ingest: signed batches of 500 records posted over loopback HTTP, each record re-verified in
//!   full (device signature, chain, challenge, certificate path, CRL) — records per second, with
//!   the same verification on one core alone for comparison;
//! - end-to-end sync: the core's `SyncClient` sending a device store's records to the receiver
//!   on loopback, receipts verified and marked on the device;
//! - feed page latency at 1,000,000 stored records: rows bulk-loaded through the storage (one
//!   transaction per 5,000), then real HTTP feed requests at random cursors, p50 and p99, for
//!   pages of 100 and 1,000.
//!
//! ```sh
//! cargo run --release -p honnin-bench --bin receiver-costs              # 10,000 records, 1,000,000 rows
//! cargo run --release -p honnin-bench --bin receiver-costs -- --part feed --requests 500
//! cargo run --release -p honnin-bench --bin receiver-costs -- --quick   # CI: 200 records, 2,000 rows
//! ```
//! PostgreSQL runs when `--postgres URL` or `HONNIN_TEST_POSTGRES` gives a database
//! (`scripts/start-postgres` prints one); each part uses a schema of its own, dropped after.
//! Records are levels A, B and C in turn, as in the receiver's tests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use honnin_core::check::Level;
use honnin_core::record::{AttributePolicy, SignedRecord};
use honnin_core::store::Store;
use honnin_core::sync::protocol::{
    HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, RECEIPT_FORMAT, ReceiptBody,
    SignedReceipt, sign_batch,
};
use honnin_core::sync::{SyncClient, SyncConfig};
use honnin_core::verify::record::{RecordExpectation, TimeWindow, verify_record};
use honnin_core::verify::{Clock, RandomSource, SystemClock, SystemRandom};
use honnin_e2e::records::{device_signer, draft_of, genuine_report, store_keys};
use honnin_e2e::verifier_with_crl;
use honnin_receiver::storage::{BatchCommit, BatchWrite, ChainHead, NewRecord, next_head};
use honnin_receiver::{PostgresStorage, Receiver, SqliteStorage, Storage, now, operator};
use r2d2_postgres::postgres;

const USAGE: &str = "usage: receiver-costs [--quick] [--part ingest|sync|feed]... [--records N] [--feed-rows N] [--requests N] [--postgres URL]";
const DEVICE: &str = "handheld-01";
const BATCH: usize = 500;

struct Plan {
    records: usize,
    feed_rows: usize,
    requests: usize,
    postgres: Option<String>,
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
    let mut plan = Plan {
        records: 10_000,
        feed_rows: 1_000_000,
        requests: 200,
        postgres: std::env::var("HONNIN_TEST_POSTGRES")
            .ok()
            .filter(|v| !v.is_empty()),
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
    Postgres { url: String, schema: String },
}

impl Database {
    fn name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "SQLite",
            Self::Postgres { .. } => "PostgreSQL",
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
            Self::Sqlite(dir) => SqliteStorage::open(&dir.path().join("receiver.db"))
                .map(|s| Arc::new(s) as Arc<dyn Storage>)
                .map_err(|e| e.to_string()),
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
            Self::Sqlite(dir) => std::fs::read_dir(dir.path()).ok().map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            }),
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

/// A receiver on `database`, served on loopback by its own runtime, with the device enrolled.
struct Served {
    base: String,
    receiver: Arc<Receiver>,
    _runtime: tokio::runtime::Runtime,
}

fn serve(database: &Database) -> Result<Served, String> {
    let storage = database.open()?;
    let receiver =
        Arc::new(Receiver::new(storage, verifier_with_crl()).map_err(|e| e.to_string())?);
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| e.to_string())?;
    let base = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    runtime.spawn(honnin_receiver::routes::serve(listener, receiver.clone()));
    let storage = receiver.storage.as_ref();
    let code = operator::issue_enrolment_code(storage, DEVICE, &["test-bank"], now())
        .map_err(|e| e.to_string())?;
    let enrolled = storage
        .enrol(
            DEVICE,
            &operator::secret_hash(&code),
            device_signer().device_key().spki_der(),
            now(),
        )
        .map_err(|e| e.to_string())?;
    if !enrolled {
        return Err("the device did not enrol".into());
    }
    Ok(Served {
        base,
        receiver,
        _runtime: runtime,
    })
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
        sync(plan, &backends)?;
    }
    if plan.runs("feed") {
        feed(plan, &backends, &records)?;
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
    println!(
        "  verification alone, one core: {:>8.0} records/s",
        rate(plan.records, alone)
    );
    for backend in backends {
        let database = Database::fresh(*backend, "ingest")?;
        let served = serve(&database)?;
        let started = Instant::now();
        post_batches(&served.base, records)?;
        let elapsed = started.elapsed();
        let held = served
            .receiver
            .storage
            .count_records()
            .map_err(|e| e.to_string())?;
        if held != plan.records as u64 {
            return Err(format!("{} holds {held} records", database.name()));
        }
        println!(
            "  {:<10} {:>8.0} records/s ({:.2} s)",
            database.name(),
            rate(plan.records, elapsed),
            elapsed.as_secs_f64()
        );
    }

    Ok(())
}

fn sync(plan: &Plan, backends: &[Option<&str>]) -> Result<(), String> {
    println!(
        "\n== end-to-end sync: {} records, core SyncClient -> receiver on loopback, batches of {BATCH}",
        plan.records
    );
    for backend in backends {
        let database = Database::fresh(*backend, "sync")?;
        let served = serve(&database)?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut store = device_store(dir.path(), plan.records)?;
        let mut config = SyncConfig::new(&served.base, DEVICE);
        // Plain HTTP on loopback: the figure is the receiver's, not TLS's.
        config.allow_loopback_http = true;
        config.batch_size = BATCH;
        config.timeout = Duration::from_secs(300);
        let client = SyncClient::new(config, served.receiver.receipt_key().clone());
        let started = Instant::now();
        let report = client
            .sync(
                &mut store,
                &device_signer(),
                &SystemClock,
                &mut SystemRandom,
            )
            .map_err(|e| e.to_string())?;
        let elapsed = started.elapsed();
        if report.synced != plan.records as u64 {
            return Err(format!("synced {} of {}", report.synced, plan.records));
        }
        println!(
            "  {:<10} {:>8.2} s ({:.0} records/s, {} requests)",
            database.name(),
            elapsed.as_secs_f64(),
            rate(plan.records, elapsed),
            report.requests
        );
    }

    Ok(())
}

fn feed(plan: &Plan, backends: &[Option<&str>], records: &[SignedRecord]) -> Result<(), String> {
    println!(
        "\n== feed page latency at {} stored records: HTTP on loopback, {} requests per page size at random cursors",
        thousands(plan.feed_rows),
        plan.requests
    );
    for backend in backends {
        let database = Database::fresh(*backend, "feed")?;
        let served = serve(&database)?;
        let started = Instant::now();
        bulk_load(
            &served.receiver,
            &records[..records.len().min(3)],
            plan.feed_rows,
        )?;
        let load = started.elapsed();
        database.settle()?;
        let size = database
            .size()
            .map(|b| format!(", {:.2} GB", b as f64 / 1e9))
            .unwrap_or_default();
        println!(
            "  {:<10} loaded in {:.1} s ({:.0} rows/s in transactions of 5,000{size})",
            database.name(),
            load.as_secs_f64(),
            rate(plan.feed_rows, load)
        );
        let token = operator::add_sender(served.receiver.storage.as_ref(), "test-bank")
            .map_err(|e| e.to_string())?;
        for page in [100usize, 1000] {
            // A few untimed pages first: connections made, statements prepared.
            feed_times(&served.base, &token, 5, plan.feed_rows, page)?;
            let mut times = feed_times(&served.base, &token, plan.requests, plan.feed_rows, page)?;
            times.sort_unstable();
            println!(
                "  {:<10} page of {page:>4}: p50 {:>7.2} ms, p99 {:>7.2} ms",
                database.name(),
                millis(percentile(&times, 50)),
                millis(percentile(&times, 99)),
            );
        }
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

/// Stores `rows` records straight through the storage, 5,000 per transaction: the envelopes,
/// verifications and receipts of `templates` in turn under fresh ids and positions.
fn bulk_load(receiver: &Receiver, templates: &[SignedRecord], rows: usize) -> Result<(), String> {
    let key = device_signer().device_key().clone();
    let verifier = verifier_with_crl();
    let made: Vec<(String, String, String, String)> = templates
        .iter()
        .map(|record| {
            let verification = verify_record(
                record,
                &verifier,
                &RecordExpectation {
                    device_key: &key,
                    item_id: None,
                    sender_id: None,
                    previous: None,
                    time_window: TimeWindow::UNKNOWN,
                },
            );
            let receipt = SignedReceipt::sign(
                ReceiptBody {
                    format: RECEIPT_FORMAT.to_owned(),
                    record_id: record.body().record_id().to_owned(),
                    record_hash: record.hash_hex(),
                    device_id: DEVICE.to_owned(),
                    seq: record.body().seq(),
                    received_at: now(),
                    outcome: "verified".into(),
                },
                receiver.key.signer().as_ref(),
                receiver.key.signer().device_key(),
            )
            .map_err(|e| e.to_string())?;
            Ok((
                String::from_utf8_lossy(&record.to_envelope_bytes()).into_owned(),
                serde_json::to_string(&verification).map_err(|e| e.to_string())?,
                serde_json::to_string(&receipt).map_err(|e| e.to_string())?,
                record.body().item_id().to_owned(),
            ))
        })
        .collect::<Result<_, String>>()?;
    let mut head: Option<ChainHead> = None;
    let mut start = 0;
    while start < rows {
        let end = (start + 5000).min(rows);
        let chunk: Vec<NewRecord> = (start..end)
            .map(|i| {
                let (envelope, verification, receipt, item) = &made[i % made.len()];
                let mut hash = [0u8; 32];
                hash[..8].copy_from_slice(&(i as u64).to_be_bytes());
                NewRecord {
                    record_id: format!("bulk-{i:08}"),
                    record_hash: hash,
                    device_id: DEVICE.to_owned(),
                    seq: i as u64 + 1,
                    sender_id: "test-bank".to_owned(),
                    item_id: item.clone(),
                    envelope: envelope.clone(),
                    verification: verification.clone(),
                    receipt: receipt.clone(),
                    received_at: now(),
                    delivered_at: None,
                }
            })
            .collect();
        let batch = BatchWrite {
            device_id: DEVICE,
            expected_head: head,
            records: &chunk,
        };
        if receiver
            .storage
            .insert_batch(&batch)
            .map_err(|e| e.to_string())?
            != BatchCommit::Stored
        {
            return Err("a bulk-load transaction found the head moved".into());
        }
        for record in &chunk {
            head = next_head(head, record.seq, record.record_hash);
        }
        start = end;
    }
    Ok(())
}

/// Times `requests` feed pages of `page` entries at random cursors among `rows` (a fixed
/// xorshift sequence, so runs compare).
fn feed_times(
    base: &str,
    token: &str,
    requests: usize,
    rows: usize,
    page: usize,
) -> Result<Vec<Duration>, String> {
    let agent = agent();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15 ^ (page * requests) as u64;
    let span = rows.saturating_sub(page).max(1) as u64;
    let mut times = Vec::with_capacity(requests);
    for _ in 0..requests {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let after = state % span;
        let started = Instant::now();
        let mut response = agent
            .get(format!("{base}/v1/feed?after={after}&limit={page}"))
            .header("authorization", format!("Bearer {token}"))
            .call()
            .map_err(|e| e.to_string())?;
        let text = response
            .body_mut()
            .with_config()
            .limit(256 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| e.to_string())?;
        times.push(started.elapsed());
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("feed answer: {e}"))?;
        let entries = value["entries"].as_array().map_or(0, Vec::len);
        if entries != page {
            return Err(format!(
                "a feed page after {after} held {entries} entries, not {page}"
            ));
        }
    }
    Ok(times)
}
