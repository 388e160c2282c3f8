//! `honnin records …` and the record `honnin check --store` writes.
//!
//! Files on the desktop (docs/record-format.md, "Desktop files"):
//! - the store: a SQLite file, `--store <file>` (default `$XDG_DATA_HOME/honnin/records.db`);
//! - its key: `--store-key <file>` (default `<store>.key`), 32 random bytes as 64 hex digits,
//!   made with the store and mode 0600; a store whose key file is gone cannot be read, so back
//!   both up together;
//! - the device key: `--device-key <file>` (default `device-key.pem` beside the store), an
//!   ECDSA P-256 PKCS#8 PEM made on first use, mode 0600.
//!
//! Key files readable by group or others are refused, as ssh does.

mod files;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use honnin_core::record::{AttributePolicy, ChainReport, SignedRecord};
use honnin_core::store::{Retention, Store, StoredRecord};
use honnin_core::verify::UnixTime;
use zeroize::Zeroizing;

use crate::error::CliError;
use crate::output::write_stdout;

/// Where `honnin check` stores its record (flattened into the check's arguments).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RecordArgs {
    /// Store the check's signed record in this store file (made on first use). Without it, no
    /// record is kept.
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// The store's key file (default: <store>.key; made with the store).
    #[arg(long, requires = "store")]
    pub store_key: Option<PathBuf>,
    /// The device key file, ECDSA P-256 PKCS#8 PEM (default: device-key.pem beside the store;
    /// made on first use).
    #[arg(long, requires = "store")]
    pub device_key: Option<PathBuf>,
    /// Who checked: the courier's or clerk's id (default: the login name).
    #[arg(long, requires = "store")]
    pub courier: Option<String>,
    /// The holder's attributes the sender's policy wants in the record: a comma-separated list
    /// of name, address, birth_date, sex, or all / none.
    #[arg(long, default_value = "none", requires = "store")]
    pub record_attributes: AttributePolicy,
}

/// The `honnin records` subcommands.
#[derive(clap::Subcommand)]
pub enum RecordsCommand {
    /// List records: position, id, time (UTC), level, verdict, item, sync state.
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// First position to list (default: the last --limit records).
        #[arg(long)]
        from: Option<u64>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Show one record (by id, or by position as #N) with its signature checked.
    Show {
        #[command(flatten)]
        store: StoreArgs,
        /// A record id (32 hex digits) or a position (#N).
        record: String,
        #[arg(long)]
        json: bool,
    },
    /// Verify the whole chain: file structure, every signature, every link, nothing missing.
    /// Exit code 0 intact, 1 with the position of every problem.
    VerifyChain {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        json: bool,
    },
    /// Export one day's records for audit: sealed under the store key, or in clear with
    /// --decrypted.
    Export {
        #[command(flatten)]
        store: StoreArgs,
        /// The day, YYYY-MM-DD, in the time zone of --utc-offset.
        #[arg(long)]
        day: String,
        /// The day's time zone (default +09:00, Japan).
        #[arg(long, default_value = "+09:00", allow_hyphen_values = true)]
        utc_offset: String,
        /// The file to write (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// Write the records in clear. They hold personal data as far as senders' policies asked.
        #[arg(long)]
        decrypted: bool,
    },
    /// Purge records the sender received more than --keep-days ago (oldest first; the chain
    /// stays verifiable).
    Purge {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long, default_value_t = Retention::default().keep_synced_days)]
        keep_days: u32,
    },
}

/// Which store a `records` command reads.
#[derive(clap::Args, Debug, Clone)]
pub struct StoreArgs {
    /// The store file (default: $XDG_DATA_HOME/honnin/records.db).
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// The store's key file (default: <store>.key).
    #[arg(long)]
    pub store_key: Option<PathBuf>,
}

pub use files::Recorder;
use files::{KeyFile, create_private, default_store, store_error};
// `honnin sync` finds the same store and keys the same way.
#[allow(unused_imports)]
pub(crate) use files::load_device_key;
pub(crate) use files::{open_store, read_receipt_key, with_suffix};

fn paths(args: &StoreArgs) -> Result<(PathBuf, PathBuf), CliError> {
    let store = match &args.store {
        Some(path) => path.clone(),
        None => default_store()?,
    };
    let key = args
        .store_key
        .clone()
        .unwrap_or_else(|| with_suffix(&store, ".key"));
    Ok((store, key))
}

pub fn run(command: &RecordsCommand) -> Result<ExitCode, CliError> {
    match command {
        RecordsCommand::List {
            store,
            from,
            limit,
            json,
        } => list(store, *from, *limit, *json),
        RecordsCommand::Show {
            store,
            record,
            json,
        } => show(store, record, *json),
        RecordsCommand::VerifyChain { store, json } => verify_chain(store, *json),
        RecordsCommand::Export {
            store,
            day,
            utc_offset,
            out,
            decrypted,
        } => export(store, day, utc_offset, out, *decrypted),
        RecordsCommand::Purge { store, keep_days } => purge(store, *keep_days),
    }
}

/// `2026-11-25T09:30:00Z`
fn utc(time: UnixTime) -> String {
    let (year, month, day) = time.date();
    let seconds = time.0.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

fn list(
    args: &StoreArgs,
    from: Option<u64>,
    limit: usize,
    json: bool,
) -> Result<ExitCode, CliError> {
    let (path, key) = paths(args)?;
    let store = open_store(&path, &key, false)?;
    let info = store.info().map_err(store_error)?;
    let from = from.unwrap_or_else(|| {
        info.last.map_or(1, |last| {
            last.saturating_sub(limit.saturating_sub(1) as u64).max(1)
        })
    });
    let rows = store.list(from, limit).map_err(store_error)?;
    if json {
        let lines: Vec<serde_json::Value> = rows.iter().map(row_json).collect();
        let mut text = serde_json::to_string_pretty(&lines)
            .map_err(|e| CliError::Io(format!("cannot print JSON: {e}")))?;
        text.push('\n');
        write_stdout(&text)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = String::new();
    for row in &rows {
        text.push_str(&row_text(row));
        text.push('\n');
    }
    text.push_str(&format!(
        "{} records in {} ({} not yet synced){}\n",
        info.records,
        path.display(),
        info.pending_sync,
        match (rows.first(), rows.last()) {
            (Some(a), Some(b)) if (rows.len() as u64) < info.records => format!(
                "; shown #{}–#{} (--from, --limit for others)",
                a.position, b.position
            ),
            _ => String::new(),
        }
    ));
    write_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn row_text(row: &StoredRecord) -> String {
    let sync = match row.synced_at {
        Some(at) => format!("synced {}", utc(at)),
        None => "pending".into(),
    };
    match &row.record {
        Ok(record) => {
            let body = record.body();
            format!(
                "#{:<6} {}  {}  {:<7} level {}  {:<13} item {}  {sync}",
                row.position,
                row.record_id,
                utc(body.time()),
                body.station().code(),
                body.level().code(),
                body.verdict().code(),
                body.item_id(),
            )
        }
        Err(error) => format!(
            "#{:<6} {}  UNREADABLE: {error} (run honnin records verify-chain)",
            row.position, row.record_id
        ),
    }
}

fn row_json(row: &StoredRecord) -> serde_json::Value {
    let mut value = serde_json::json!({
        "position": row.position,
        "record_id": row.record_id,
        "recorded_at": row.recorded_at.0,
        "synced_at": row.synced_at.map(|t| t.0),
    });
    match &row.record {
        Ok(record) => {
            let body = record.body();
            value["level"] = body.level().code().into();
            value["verdict"] = body.verdict().code().into();
            value["item_id"] = body.item_id().into();
            value["sender_id"] = body.sender_id().into();
            value["station"] = body.station().code().into();
        }
        Err(error) => value["unreadable"] = error.to_string().into(),
    }
    value
}

fn show(args: &StoreArgs, reference: &str, json: bool) -> Result<ExitCode, CliError> {
    let (path, key) = paths(args)?;
    let store = open_store(&path, &key, false)?;
    let row = store.get(reference).map_err(store_error)?;
    let record: SignedRecord = row.record.clone().map_err(|e| {
        CliError::Io(format!(
            "the record at position {} cannot be read ({e}); run honnin records verify-chain",
            row.position
        ))
    })?;
    let device = store.device().map_err(store_error)?;
    let signature = match &device {
        Some(device) => match record.verify(&device.key) {
            Ok(()) => "verified with the store's device key".to_owned(),
            Err(e) => format!("NOT VERIFIED: {e}"),
        },
        None => "NOT VERIFIED: the store names no device".to_owned(),
    };
    let verified = signature.starts_with("verified");
    let text = if json {
        let value = serde_json::json!({
            "position": row.position,
            "hash": record.hash_hex(),
            "signature": signature,
            "synced_at": row.synced_at.map(|t| t.0),
            "record": record.to_json_value(),
        });
        format!(
            "{}\n",
            serde_json::to_string_pretty(&value)
                .map_err(|e| CliError::Io(format!("cannot print JSON: {e}")))?
        )
    } else {
        format!(
            "{}\nhash {}\nsignature: {signature}\n{}\n",
            row_text(&row),
            record.hash_hex(),
            serde_json::to_string_pretty(&record.to_json_value())
                .map_err(|e| CliError::Io(format!("cannot print JSON: {e}")))?
        )
    };
    write_stdout(&text)?;
    Ok(if verified {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn verify_chain(args: &StoreArgs, json: bool) -> Result<ExitCode, CliError> {
    let (path, key) = paths(args)?;
    let keys = KeyFile { path: key };
    let store = Store::open_for_audit(&path, &keys).map_err(store_error)?;
    let device = store.device().map_err(store_error)?;
    let report = store.verify_chain().map_err(store_error)?;
    let text = if json {
        format!("{}\n", chain_json(&report, device.as_ref()))
    } else {
        chain_text(&report, device.as_ref(), &path)
    };
    write_stdout(&text)?;
    Ok(if report.is_intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn chain_text(
    report: &ChainReport,
    device: Option<&honnin_core::store::DeviceBinding>,
    path: &Path,
) -> String {
    let who = device.map_or_else(
        || "no device yet".to_owned(),
        |d| format!("device {:?}, key {}", d.device_id, d.key.id_hex()),
    );
    let range = match (report.first, report.last) {
        (Some(a), Some(b)) => format!(" (#{a}–#{b})"),
        _ => String::new(),
    };
    if report.is_intact() {
        return format!(
            "chain intact: {} records{range} in {}, {who}\n",
            report.verified,
            path.display()
        );
    }
    let mut text = format!(
        "CHAIN BROKEN: {} problems in {} ({} of {} records verified{range}, {who})\n",
        report.problems.len() as u64 + report.more_problems,
        path.display(),
        report.verified,
        report.checked,
    );
    for problem in &report.problems {
        text.push_str(&format!("  {problem}\n"));
    }
    if report.more_problems > 0 {
        text.push_str(&format!("  … and {} more\n", report.more_problems));
    }
    text
}

fn chain_json(report: &ChainReport, device: Option<&honnin_core::store::DeviceBinding>) -> String {
    let value = serde_json::json!({
        "intact": report.is_intact(),
        "checked": report.checked,
        "verified": report.verified,
        "first": report.first,
        "last": report.last,
        "device_id": device.map(|d| d.device_id.clone()),
        "device_key_id": device.map(|d| d.key.id_hex()),
        "problems": report.problems.iter().map(|p| serde_json::json!({
            "position": p.position,
            "problem": p.problem.to_string(),
        })).collect::<Vec<_>>(),
        "more_problems": report.more_problems,
    });
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

/// `+09:00`, `-05:30`, `Z` → seconds east of UTC.
fn parse_offset(text: &str) -> Option<i64> {
    if text == "Z" || text == "UTC" {
        return Some(0);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (hours, minutes) = rest.split_once(':').unwrap_or((rest, "0"));
    let hours: i64 = hours.parse().ok().filter(|h| *h <= 14)?;
    let minutes: i64 = minutes.parse().ok().filter(|m| *m < 60)?;
    Some(sign * (hours * 3600 + minutes * 60))
}

fn export(
    args: &StoreArgs,
    day: &str,
    offset: &str,
    out: &Path,
    decrypted: bool,
) -> Result<ExitCode, CliError> {
    let digits: Vec<u8> = day.bytes().filter(u8::is_ascii_digit).collect();
    let date = honnin_core::card::CalendarDate::parse_yyyymmdd(&digits)
        .ok_or_else(|| CliError::Usage(format!("--day must be YYYY-MM-DD, got {day:?}")))?;
    let offset = parse_offset(offset).ok_or_else(|| {
        CliError::Usage(format!("--utc-offset must be like +09:00, got {offset:?}"))
    })?;
    let midnight = UnixTime::from_date(
        i32::from(date.year),
        u32::from(date.month),
        u32::from(date.day),
    );
    let from = UnixTime(midnight.0 - offset);
    let to = UnixTime(from.0 + 86_400);
    let (path, key) = paths(args)?;
    let mut store = open_store(&path, &key, false)?;
    let export = store.export(from, to).map_err(store_error)?;
    let bytes = if decrypted {
        Zeroizing::new(export.to_clear_json())
    } else {
        Zeroizing::new(store.seal_export(&export))
    };
    create_private(out, &bytes)?;
    eprintln!(
        "{} records of {day} written to {} ({})",
        export.records.len(),
        out.display(),
        if decrypted {
            "IN CLEAR: it holds personal data as far as senders' policies asked; keep it safe"
        } else {
            "sealed under the store key"
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn purge(args: &StoreArgs, keep_days: u32) -> Result<ExitCode, CliError> {
    let (path, key) = paths(args)?;
    let mut store = open_store(&path, &key, false)?;
    let now = honnin_core::verify::Clock::now(&honnin_core::verify::SystemClock);
    let report = store
        .purge_synced(
            Retention {
                keep_synced_days: keep_days,
            },
            now,
        )
        .map_err(store_error)?;
    write_stdout(&format!(
        "purged {} synced records; the chain now starts at #{}\n",
        report.purged, report.start
    ))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_times() {
        assert_eq!(parse_offset("+09:00"), Some(9 * 3600));
        assert_eq!(parse_offset("-05:30"), Some(-(5 * 3600 + 1800)));
        assert_eq!(parse_offset("Z"), Some(0));
        assert_eq!(parse_offset("09:00"), None);
        assert_eq!(parse_offset("+25:00"), None);
        assert_eq!(utc(UnixTime(1_795_564_800 + 3661)), "2026-11-25T01:01:01Z");
    }
}
