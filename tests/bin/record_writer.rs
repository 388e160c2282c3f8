//! Test helper for the crash test: appends records to a store in a loop and prints each record's
//! id on its own line only after `Store::append` returned, i.e. after the store acknowledged it.
//! The crash test kills this process with SIGKILL at random moments.
//!
//! Usage: record-writer <store path> [max records]

use std::io::Write;

use honnin_core::check::Level;
use honnin_core::record::AttributePolicy;
use honnin_core::store::Store;
use honnin_e2e::records::{device_signer, draft_of, genuine_report, store_keys};

fn main() -> std::process::ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(path) = args.next().map(std::path::PathBuf::from) else {
        eprintln!("usage: record-writer <store path> [max records]");
        return std::process::ExitCode::from(64);
    };
    let max: u64 = args
        .next()
        .and_then(|n| n.to_str().and_then(|n| n.parse().ok()))
        .unwrap_or(u64::MAX);
    let report = genuine_report(Level::B);
    let draft = draft_of(&report, AttributePolicy::ALL);
    let signer = device_signer();
    let mut store = match Store::open_or_create(&path, &store_keys()) {
        Ok(store) => store,
        Err(error) => {
            eprintln!("record-writer: {error}");
            return std::process::ExitCode::from(1);
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ready");
    let _ = out.flush();
    for _ in 0..max {
        match store.append(draft.clone(), &signer) {
            Ok(appended) => {
                // One write per acknowledged record: the test reads what reached the pipe.
                let _ = writeln!(out, "{}", appended.record_id);
                let _ = out.flush();
            }
            Err(error) => {
                eprintln!("record-writer: {error}");
                return std::process::ExitCode::from(1);
            }
        }
    }
    std::process::ExitCode::SUCCESS
}
