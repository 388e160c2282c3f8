//! The `honnin-receiver devices …` and `honnin-receiver audit …` commands: the fleet actions
//! of [`crate::fleet`] and the audit log of [`crate::audit`] from the operator's shell, each
//! action logged with the actor `cli:<user>`.

use std::path::PathBuf;

use clap::Subcommand;

use crate::storage::Storage;
use crate::{audit, fleet, now};

/// `honnin-receiver devices …`.
#[derive(Debug, Subcommand)]
pub enum DevicesCommand {
    /// Every enrolled device: last sync, pending estimate, chain head, app version, revocation.
    List {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a lost or stolen device: its later batches are refused, its manifest is no longer
    /// served, and the feed flags its records made or received from the cut-off on.
    Revoke {
        #[arg(long)]
        device: String,
        /// Why (kept in the audit log and shown to the device and in the feed).
        #[arg(long)]
        reason: String,
        /// From when the device is not trusted, Unix seconds (when it was lost); default now.
        #[arg(long)]
        cutoff: Option<i64>,
    },
    /// Re-enrol a replacement for a revoked device: its undelivered items and sender
    /// enrolments move to the new device id, and the new id's one-time enrolment code is
    /// printed (once).
    Reenrol {
        /// The revoked device.
        #[arg(long)]
        device: String,
        /// The replacement's new device id.
        #[arg(long)]
        replacement: String,
    },
}

/// `honnin-receiver audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Write the audit log as JSON lines (to stdout, or --out) and print its head hash to
    /// stderr: keep that hash elsewhere to check later that nothing was cut off the end.
    Export {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check the audit log's hash chain (the database's, or an export's with --file) and name
    /// the first broken entry.
    Verify {
        #[arg(long)]
        file: Option<PathBuf>,
        /// A head hash printed by an earlier export: it must still be in the chain.
        #[arg(long)]
        head: Option<String>,
    },
}

/// Who runs a command, for the audit log.
pub fn cli_actor() -> String {
    let user = std::env::var("USER").unwrap_or_default();
    let user: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .take(64)
        .collect();
    if user.is_empty() {
        "cli".to_owned()
    } else {
        format!("cli:{user}")
    }
}

fn time(value: Option<i64>) -> String {
    value.map_or_else(|| "-".to_owned(), |t| t.to_string())
}

/// Runs a `devices` command; the text to print.
pub fn devices(storage: &dyn Storage, command: DevicesCommand) -> Result<String, String> {
    let actor = cli_actor();
    match command {
        DevicesCommand::List { json } => {
            let devices = fleet::devices(storage).map_err(|e| e.to_string())?;
            if json {
                return serde_json::to_string_pretty(&devices)
                    .map(|text| text + "\n")
                    .map_err(|e| e.to_string());
            }
            let mut out = String::from(
                "device\tlast_sync\tpending_estimate\tchain_head\tapp_version\tstatus\n",
            );
            for d in devices {
                let head = match (d.chain_head_seq, &d.chain_head_hash) {
                    (Some(seq), Some(hash)) => format!("{seq}:{}", &hash[..hash.len().min(16)]),
                    _ => "-".to_owned(),
                };
                let status = match &d.revocation {
                    Some(r) => format!(
                        "revoked at {} from {} ({}){}",
                        r.revoked_at,
                        r.cutoff,
                        r.reason,
                        r.replaced_by
                            .as_ref()
                            .map(|by| format!(", replaced by {by}"))
                            .unwrap_or_default()
                    ),
                    None => "active".to_owned(),
                };
                out.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\n",
                    d.device_id,
                    time(d.last_sync_at),
                    d.pending_estimate,
                    head,
                    d.app_version.as_deref().unwrap_or("-"),
                    status
                ));
            }
            Ok(out)
        }
        DevicesCommand::Revoke {
            device,
            reason,
            cutoff,
        } => {
            let now = now();
            let revocation = fleet::revoke(
                storage,
                &actor,
                &device,
                &reason,
                cutoff.unwrap_or(now),
                now,
            )
            .map_err(|e| e.to_string())?;
            Ok(format!(
                "revoked {device} at {}: records from {} on are flagged, its batches refused\n",
                revocation.revoked_at, revocation.cutoff
            ))
        }
        DevicesCommand::Reenrol {
            device,
            replacement,
        } => {
            let (code, moved) = fleet::reenrol(storage, &actor, &device, &replacement, now())
                .map_err(|e| e.to_string())?;
            eprintln!(
                "{replacement} replaces {device}: {moved} undelivered items moved; enrol it with this code (valid 24 h):"
            );
            Ok(format!("{code}\n"))
        }
    }
}

/// Runs an `audit` command; the text to print.
pub fn audit(storage: &dyn Storage, command: AuditCommand) -> Result<String, String> {
    match command {
        AuditCommand::Export { out } => {
            let entries = audit::all_entries(storage).map_err(|e| e.to_string())?;
            let text = audit::export(&entries);
            let head = entries
                .last()
                .map_or(audit::GENESIS, |e| e.hash.as_str())
                .to_owned();
            eprintln!("audit log: {} entries, head {head}", entries.len());
            match out {
                Some(path) => {
                    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
                    Ok(String::new())
                }
                None => Ok(text),
            }
        }
        AuditCommand::Verify { file, head } => {
            if let Some(path) = &file {
                return verify_export(path, head.as_deref());
            }
            let entries = audit::all_entries(storage).map_err(|e| e.to_string())?;
            verified(&entries, head.as_deref())
        }
    }
}

/// `audit verify --file`: needs no database.
pub fn verify_export(path: &std::path::Path, head: Option<&str>) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let entries = audit::parse_export(&text).map_err(|e| e.to_string())?;
    verified(&entries, head)
}

fn verified(entries: &[audit::AuditEntry], head: Option<&str>) -> Result<String, String> {
    let (count, last) = audit::verify_chain(entries, head).map_err(|e| e.to_string())?;
    Ok(format!(
        "audit log verified: {count} entries, unbroken, head {last}\n"
    ))
}
