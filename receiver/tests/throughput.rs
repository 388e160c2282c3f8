//! Measurements, not checks (ignored by default): end-to-end sync of N records (default 10,000)
//! from a device store to a receiver on loopback with full re-verification on ingest, and feed
//! page latency. Run:
//! `HONNIN_BENCH_RECORDS=10000 cargo test --release -p honnin-receiver --test throughput -- --ignored --nocapture`

use std::sync::Arc;
use std::time::{Duration, Instant};

use honnin_core::check::Level;
use honnin_core::record::AttributePolicy;
use honnin_core::store::Store;
use honnin_core::sync::{SyncClient, SyncConfig};
use honnin_core::verify::{SystemClock, SystemRandom};
use honnin_e2e::records::{device_signer, draft_of, genuine_report, store_keys};
use honnin_e2e::verifier_with_crl;
use honnin_receiver::routes::serve;
use honnin_receiver::{Receiver, SqliteStorage, Storage, now, operator};

#[test]
#[ignore = "a measurement; run with --ignored --nocapture"]
fn sync_and_feed_throughput() {
    let n: usize = std::env::var("HONNIN_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let storage: Arc<dyn Storage> =
        Arc::new(SqliteStorage::open(&dir.path().join("receiver.db")).expect("opens"));
    let receiver = Arc::new(Receiver::new(storage, verifier_with_crl()).expect("receiver"));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binds");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    runtime.spawn(serve(listener, receiver.clone()));
    let signer = device_signer();
    let code = operator::issue_enrolment_code(receiver.storage.as_ref(), "handheld-01", now())
        .expect("code");
    receiver
        .storage
        .enrol(
            "handheld-01",
            &operator::secret_hash(&code),
            signer.device_key().spki_der(),
            now(),
        )
        .expect("enrols");

    let mut store = Store::create(&dir.path().join("device.db"), &store_keys()).expect("store");
    let reports = [Level::A, Level::B, Level::C].map(genuine_report);
    let drafts = (0..n)
        .map(|i| draft_of(&reports[i % 3], AttributePolicy::default()))
        .collect();
    store.append_all(drafts, &signer).expect("appends");

    let mut config = SyncConfig::new(&base, "handheld-01");
    config.batch_size = 500;
    config.timeout = Duration::from_secs(300);
    let client = SyncClient::new(config, receiver.receipt_key().clone());
    let started = Instant::now();
    let report = client
        .sync(&mut store, &signer, &SystemClock, &mut SystemRandom)
        .expect("syncs");
    let elapsed = started.elapsed();
    assert_eq!(report.synced, n as u64);
    println!(
        "sync: {n} records (levels A/B/C in turn) in {:.2} s = {:.0} records/s end to end, full re-verification on ingest, {} requests",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        report.requests
    );

    let token = operator::add_sender(receiver.storage.as_ref(), "test-bank").expect("sender");
    let agent = ureq::Agent::config_builder().build().new_agent();
    let mut times = Vec::new();
    let mut after = 0i64;
    for _ in 0..50 {
        let started = Instant::now();
        let mut response = agent
            .get(format!("{base}/v1/feed?after={after}&limit=100"))
            .header("authorization", format!("Bearer {token}"))
            .call()
            .expect("feed");
        let page: serde_json::Value =
            serde_json::from_str(&response.body_mut().read_to_string().expect("body"))
                .expect("json");
        times.push(started.elapsed());
        after = page["next_after"].as_i64().unwrap_or(0);
        if after as usize >= n {
            after = 0;
        }
    }
    times.sort();
    println!(
        "feed: page of 100 at {n} stored records: median {:.2} ms, max {:.2} ms",
        times[times.len() / 2].as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0
    );
}
