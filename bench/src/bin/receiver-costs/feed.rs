//! The feed part of `receiver-costs`: page latency at `--feed-rows` stored records over real
//! HTTP on loopback, and, at the same cursors in the same run, what its parts cost and the
//! floor under it:
//! - the storage's rows alone (the database's share: index range, row and overflow pages,
//!   column copies), called in process;
//! - the page's JSON built from those rows, exactly as the route builds it;
//! - the floor: the very bytes of the page served from memory by a bare HTTP/1.1 responder on
//!   loopback (no framework, no database) to the same client, so what no receiver change can
//!   go below on this machine is printed beside the figure.
//!
//! Every page served is compared byte for byte with the page built from the storage's rows, so
//! a faster route cannot serve something else.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use honnin_core::record::SignedRecord;
use honnin_core::sync::protocol::{RECEIPT_FORMAT, ReceiptBody, SignedReceipt};
use honnin_core::verify::record::{RecordExpectation, TimeWindow, verify_record};
use honnin_e2e::records::device_signer;
use honnin_e2e::verifier_with_crl;
use honnin_receiver::storage::{BatchCommit, BatchWrite, ChainHead, NewRecord, next_head};
use honnin_receiver::{Receiver, now, operator};

use crate::cpu::process_cpu;
use crate::{
    DEVICE, Database, Plan, Served, agent, enrol_device, millis, percentile, rate, serve, thousands,
};

/// The feed's goal: a page of 1,000 at 1,000,000 rows, p99, on SQLite.
const GOAL_P99: Duration = Duration::from_millis(30);
const GOAL_ROWS: usize = 1_000_000;
const GOAL_PAGE: usize = 1000;
const SENDER: &str = "test-bank";
/// Where `--reuse` keeps the sender's token (the database holds only its hash).
const TOKEN_FILE: &str = "sender-token";

pub(crate) fn feed(
    plan: &Plan,
    backends: &[Option<&str>],
    records: &[SignedRecord],
) -> Result<(), String> {
    println!(
        "\n== feed page latency at {} stored records: HTTP on loopback, {} requests per page size at random cursors (load {})",
        thousands(plan.feed_rows),
        plan.requests,
        load_average()
    );
    for backend in backends {
        let database = match (backend, &plan.reuse) {
            (None, Some(dir)) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("--reuse {}: {e}", dir.display()))?;
                Database::Kept(dir.clone())
            }
            _ => Database::fresh(*backend, "feed")?,
        };
        let (served, token) = loaded(&database, &records[..records.len().min(3)], plan)?;
        let floor = Floor::start()?;
        for page in [100usize, 1000] {
            // A few untimed pages first: connections made, statements prepared.
            measure(&served, &floor, &token, 5, plan.feed_rows, page)?;
            let mut times = measure(&served, &floor, &token, plan.requests, plan.feed_rows, page)?;
            let name = database.name();
            let goal = if name == "SQLite" && page == GOAL_PAGE {
                let p99 = times.http.p99();
                let verdict = if p99 <= GOAL_P99 { "met" } else { "not met" };
                let scale = if plan.feed_rows == GOAL_ROWS {
                    ""
                } else {
                    " (the goal is at 1,000,000 rows)"
                };
                format!("  goal p99 <= {} ms: {verdict}{scale}", millis(GOAL_P99))
            } else {
                String::new()
            };
            println!(
                "  {name:<10} page of {page:>4} ({:.2} MB): p50 {:>7.2} ms, p99 {:>7.2} ms{goal}   (load {})",
                times.bytes as f64 / 1e6,
                millis(times.http.p50()),
                millis(times.http.p99()),
                load_average()
            );
            println!(
                "  {:<10}   {:<34} {:>7.2} ms per page, receiver and client (floor's: {:.2} ms)",
                "",
                "CPU time of the requests",
                millis(times.cpu) / plan.requests as f64,
                millis(times.floor_cpu) / plan.requests as f64
            );
            for (what, series) in [
                ("storage rows alone", &mut times.storage),
                ("page JSON from rows", &mut times.json),
                ("floor: same bytes, bare responder", &mut times.floor),
            ] {
                println!(
                    "  {:<10}   {what:<34} p50 {:>7.2} ms, p99 {:>7.2} ms",
                    "",
                    millis(series.p50()),
                    millis(series.p99())
                );
            }
        }
    }
    Ok(())
}

/// The receiver on `database` with `plan.feed_rows` records and a sender's token: loaded now,
/// or, for `--reuse`, found from an earlier run.
fn loaded(
    database: &Database,
    templates: &[SignedRecord],
    plan: &Plan,
) -> Result<(Served, String), String> {
    let served = serve(database)?;
    let held = served
        .receiver
        .storage
        .count_records()
        .map_err(|e| e.to_string())?;
    let token_file = match database {
        Database::Kept(dir) => Some(dir.join(TOKEN_FILE)),
        _ => None,
    };
    if held > 0 {
        let (Some(file), true) = (&token_file, held == plan.feed_rows as u64) else {
            return Err(format!(
                "the kept database holds {held} records, not {}: give --feed-rows {held} or delete it",
                plan.feed_rows
            ));
        };
        let token = std::fs::read_to_string(file)
            .map_err(|e| format!("{}: {e} (delete the kept database)", file.display()))?;
        println!(
            "  {:<10} reused {} rows in {}{}",
            database.name(),
            thousands(plan.feed_rows),
            file.parent().unwrap_or(Path::new(".")).display(),
            size_of(database)
        );
        if let Some(unchecked) = rows_without_checksums(file)? {
            println!(
                "  {:<10} {} of them stored before the feed's checksums: each of their \
                 documents is parsed as JSON on every page (delete DIR to measure the checksums)",
                "",
                thousands(unchecked)
            );
        }
        return Ok((served, token.trim().to_owned()));
    }
    enrol_device(&served)?;
    let started = Instant::now();
    bulk_load(&served.receiver, templates, plan.feed_rows)?;
    let load = started.elapsed();
    database.settle()?;
    println!(
        "  {:<10} loaded in {:.1} s ({:.0} rows/s in transactions of 5,000{})",
        database.name(),
        load.as_secs_f64(),
        rate(plan.feed_rows, load),
        size_of(database)
    );
    let token = operator::add_sender(served.receiver.storage.as_ref(), SENDER)
        .map_err(|e| e.to_string())?;
    if let Some(file) = token_file {
        std::fs::write(&file, &token).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    Ok((served, token))
}

/// Rows of a kept SQLite database (next to its token file) written before the feed's
/// checksums, which a reused database from an older build has; `None` when there are none.
fn rows_without_checksums(token_file: &Path) -> Result<Option<usize>, String> {
    let path = token_file.with_file_name("receiver.db");
    let count: i64 = rusqlite::Connection::open(&path)
        .and_then(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM records WHERE envelope_crc IS NULL",
                [],
                |r| r.get(0),
            )
        })
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(usize::try_from(count).ok().filter(|n| *n > 0))
}

fn size_of(database: &Database) -> String {
    database
        .size()
        .map(|b| format!(", {:.2} GB", b as f64 / 1e9))
        .unwrap_or_default()
}

/// The system's load average over the last minute, as `/proc/loadavg` gives it: every figure
/// of a shared machine is quoted with it.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
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

/// Durations of one kind, sorted on demand.
#[derive(Default)]
struct Series(Vec<Duration>);

impl Series {
    fn p50(&mut self) -> Duration {
        self.0.sort_unstable();
        percentile(&self.0, 50)
    }

    fn p99(&mut self) -> Duration {
        self.0.sort_unstable();
        percentile(&self.0, 99)
    }
}

#[derive(Default)]
struct Times {
    /// The whole request, as the sender sees it.
    http: Series,
    storage: Series,
    json: Series,
    floor: Series,
    /// Bytes of the last page.
    bytes: usize,
    /// CPU time of this process (receiver and client alike) during the timed requests: the
    /// work a page costs, whatever the machine's load does to its latency.
    cpu: Duration,
    /// The same for the floor's requests (the client and the bare responder).
    floor_cpu: Duration,
}

/// Times `requests` feed pages of `page` entries at random cursors among `rows` (a fixed
/// xorshift sequence, so runs compare), and at each cursor the parts and the floor.
fn measure(
    served: &Served,
    floor: &Floor,
    token: &str,
    requests: usize,
    rows: usize,
    page: usize,
) -> Result<Times, String> {
    let agent = agent();
    let storage = served.receiver.storage.as_ref();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15 ^ (page * requests) as u64;
    let span = rows.saturating_sub(page).max(1) as u64;
    let mut times = Times::default();
    for _ in 0..requests {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let after = (state % span) as i64;
        let cpu = process_cpu();
        let started = Instant::now();
        let served_page = get(
            &agent,
            &format!("{}/v1/feed?after={after}&limit={page}", served.base),
            token,
        )?;
        times.http.0.push(started.elapsed());
        times.cpu += process_cpu().saturating_sub(cpu);

        let started = Instant::now();
        let rows = storage
            .feed(SENDER, after, page as u32)
            .map_err(|e| e.to_string())?;
        times.storage.0.push(started.elapsed());
        let entries = rows.len();
        let started = Instant::now();
        let (built, _) = honnin_receiver::routes::feed_page(rows, after);
        times.json.0.push(started.elapsed());
        if entries != page {
            return Err(format!(
                "a feed page after {after} held {entries} entries, not {page}"
            ));
        }
        if served_page != built {
            return Err(format!(
                "the feed page after {after} served differs from the page built from the storage's rows"
            ));
        }

        times.bytes = built.len();
        floor.set(built);
        let cpu = process_cpu();
        let started = Instant::now();
        let bare = get(&agent, &floor.url, token)?;
        times.floor.0.push(started.elapsed());
        times.floor_cpu += process_cpu().saturating_sub(cpu);
        if bare.len() != times.bytes {
            return Err("the bare responder answered other bytes".into());
        }
    }
    Ok(times)
}

/// The body of a GET, as a sender's client reads it.
fn get(agent: &ureq::Agent, url: &str, token: &str) -> Result<Vec<u8>, String> {
    let mut response = agent
        .get(url)
        .header("authorization", format!("Bearer {token}"))
        .call()
        .map_err(|e| e.to_string())?;
    if response.status() != 200 {
        return Err(format!("{url} answered {}", response.status()));
    }
    response
        .body_mut()
        .with_config()
        .limit(256 * 1024 * 1024)
        .read_to_vec()
        .map_err(|e| e.to_string())
}

/// A bare HTTP/1.1 responder on loopback answering every request with the bytes last set:
/// the cost of moving a page to the client, with nothing of the receiver's.
struct Floor {
    url: String,
    body: Arc<Mutex<Arc<Vec<u8>>>>,
}

impl Floor {
    fn start() -> Result<Self, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let url = format!(
            "http://{}/",
            listener.local_addr().map_err(|e| e.to_string())?
        );
        let body: Arc<Mutex<Arc<Vec<u8>>>> = Arc::default();
        let shared = body.clone();
        // Runs until the process ends, like the receiver's runtime.
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || respond(tcp, &shared));
            }
        });
        Ok(Self { url, body })
    }

    fn set(&self, bytes: Vec<u8>) {
        if let Ok(mut body) = self.body.lock() {
            *body = Arc::new(bytes);
        }
    }
}

/// Answers each request on `tcp` (the header read up to its blank line; a GET has no body)
/// with the current body, keeping the connection open as the client asks by default.
fn respond(mut tcp: TcpStream, body: &Mutex<Arc<Vec<u8>>>) {
    let _ = tcp.set_nodelay(true);
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            seen.drain(..end + 4);
            let bytes = body.lock().map(|b| Arc::clone(&b)).unwrap_or_default();
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                bytes.len()
            );
            if tcp.write_all(head.as_bytes()).is_err() || tcp.write_all(&bytes).is_err() {
                return;
            }
        }
        match tcp.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
        }
    }
}
