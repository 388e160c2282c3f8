//! `honnin verify-record`: a sender re-verifies a proof record itself, from the record and its own
//! trust anchors, without trusting the handheld or the receiver (see
//! `honnin_core::verify::record`).
//!
//! Input is a record envelope (`{"body": …, "device_signature": …}`) or an entry of the
//! receiver's feed (`{"record": <envelope>, "device_key": <base64 SPKI>, …}`). The device key
//! comes from `--device-key` (what the sender learnt at enrolment) or, failing that, from the
//! feed entry. Exit codes: 0 verified, 1 a check failed or the level's evidence is incomplete
//! (`unverified`), 64+ usage or input errors.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use honnin_core::record::{DeviceKey, SignedRecord};
use honnin_core::verify::CheckState;
use honnin_core::verify::record::evidence::claimed_time;
use honnin_core::verify::record::{
    RecordExpectation, RecordOutcome, RecordVerification, TimeWindow, verify_record,
};

use crate::error::CliError;

/// What `honnin verify-record` is asked.
#[derive(clap::Args)]
pub struct VerifyRecordArgs {
    /// The record or feed entry (JSON); `-` reads stdin.
    pub record: PathBuf,
    /// The device's public key (PEM `PUBLIC KEY`, DER, or base64 DER). Defaults to the
    /// `device_key` of a feed entry.
    #[arg(long)]
    pub device_key: Option<PathBuf>,
    /// Directory of trust anchors (JPKI roots), as for `honnin check`. Required: a sender
    /// trusts only the anchors it configured (`fixtures/pki/anchors` for the software card).
    #[arg(long)]
    pub trust_anchors: PathBuf,
    /// A revocation list (X.509 CRL, DER) of a JPKI CA; repeatable. Every list given is used,
    /// lists issued after the record's check time included: one revoking the card on or before
    /// that time fails the record.
    #[arg(long)]
    pub crl: Vec<PathBuf>,
    /// Directory of the phone issuers' IACA certificates: level-M (phone) records re-verify
    /// under them; without it such a record is `unverified`.
    #[arg(long)]
    pub mdoc_anchors: Option<PathBuf>,
    /// The item the sender sent: the record must be for it.
    #[arg(long)]
    pub item: Option<String>,
    /// The sender's own id: the record must be for it.
    #[arg(long)]
    pub sender: Option<String>,
    /// The device's previous record (record or feed entry): this one must follow it, and
    /// cannot claim an earlier time.
    #[arg(long)]
    pub previous: Option<PathBuf>,
    /// When the record reached the receiver (Unix seconds): it cannot claim a later time than
    /// this plus --clock-skew. Defaults to the receipt's `received_at` of a feed entry.
    #[arg(long)]
    pub received_at: Option<i64>,
    /// Seconds a device's clock may be ahead of the receiver's.
    #[arg(long, default_value_t = 300)]
    pub clock_skew: i64,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &VerifyRecordArgs) -> Result<ExitCode, CliError> {
    let (record, entry_key, entry_received_at) = read_record(&args.record)?;
    let key = match (&args.device_key, entry_key) {
        (Some(path), _) => parse_device_key(&read_file(path)?)
            .map_err(|why| CliError::Usage(format!("{}: {why}", path.display())))?,
        (None, Some(key)) => key,
        (None, None) => {
            return Err(CliError::Usage(
                "the record is not a feed entry with a device_key: give --device-key".into(),
            ));
        }
    };
    let (previous, not_before) = match &args.previous {
        Some(path) => {
            let (previous, _, _) = read_record(path)?;
            (
                Some((previous.body().seq(), previous.hash())),
                Some(claimed_time(previous.body())),
            )
        }
        None => (None, None),
    };
    let time_window = TimeWindow {
        not_before,
        not_after: args
            .received_at
            .or(entry_received_at)
            .map(|t| t.saturating_add(args.clock_skew)),
    };
    // A sender verifies after the fact, as the receiver does: a list issued after the check
    // still tells whether the card was revoked at the check time.
    let mut verifier =
        crate::trust::load_verifier(&args.trust_anchors, &args.crl)?.re_verifying_after_the_fact();
    if let Some(dir) = &args.mdoc_anchors {
        let anchors = honnin_core::mdoc::IssuerAnchors::load_dir(dir)
            .map_err(|e| CliError::Environment(format!("{}: {e}", dir.display())))?;
        verifier = verifier.with_mdoc_anchors(anchors);
    }
    let result = verify_record(
        &record,
        &verifier,
        &RecordExpectation {
            device_key: &key,
            item_id: args.item.as_deref(),
            sender_id: args.sender.as_deref(),
            previous,
            time_window,
        },
    );
    if args.json {
        let text = serde_json::to_string_pretty(&result)
            .map_err(|e| CliError::Io(format!("cannot write the result: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", render(&result));
    }
    Ok(ExitCode::from(if result.is_verified() { 0 } else { 1 }))
}

/// The result for people: one line per check.
pub fn render(result: &RecordVerification) -> String {
    let mut out = format!(
        "record {} (#{} of device {:?}), item {:?}, sender {:?}, level {}, recorded verdict {}\n",
        result.record_id,
        result.seq,
        result.device_id,
        result.item_id,
        result.sender_id,
        result.level.code(),
        result.recorded_verdict.code()
    );
    for check in &result.checks {
        let mark = match check.state {
            CheckState::Passed => "ok  ",
            CheckState::Failed => "FAIL",
            CheckState::NotChecked => "--  ",
            CheckState::NotPresent => "n/a ",
        };
        out.push_str(&format!("  {mark} {:<22} {}", check.check, check.reason));
        if !check.detail.is_empty() {
            out.push_str(&format!(": {}", check.detail));
        }
        out.push('\n');
    }
    match result.outcome {
        RecordOutcome::Verified => {
            out.push_str("re-verified: the level's evidence is all there and every check passed\n")
        }
        RecordOutcome::Unverified => out.push_str(&format!(
            "NOT verified: nothing failed, but the level's evidence is incomplete: {}\n",
            result.missing.join("; ")
        )),
        RecordOutcome::Failed => out.push_str("NOT verified: a check failed\n"),
    }
    out
}

fn read_file(path: &PathBuf) -> Result<Vec<u8>, CliError> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| CliError::Io(format!("stdin: {e}")))?;
        return Ok(bytes);
    }
    std::fs::read(path).map_err(|e| CliError::Io(format!("{}: {e}", path.display())))
}

/// The record, and the device key and time of receipt when the input is a feed entry.
fn read_record(path: &PathBuf) -> Result<(SignedRecord, Option<DeviceKey>, Option<i64>), CliError> {
    let bytes = read_file(path)?;
    let bad = |why: String| CliError::Card(format!("{}: {why}", path.display()));
    let mut value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        bad(format!(
            "not JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let received_at = value["receipt"]["receipt"]["received_at"].as_i64();
    let (envelope, key) = match value.get_mut("record") {
        Some(record) => {
            let envelope = record.take();
            let key = match value.get("device_key").and_then(|k| k.as_str()) {
                Some(text) => Some(
                    parse_device_key(text.as_bytes())
                        .map_err(|why| bad(format!("device_key: {why}")))?,
                ),
                None => None,
            };
            (envelope, key)
        }
        None => (value, None),
    };
    let record = SignedRecord::from_value(envelope).map_err(|e| bad(e.to_string()))?;
    Ok((record, key, received_at))
}

/// A P-256 public key as PEM, DER or base64 DER.
pub fn parse_device_key(bytes: &[u8]) -> Result<DeviceKey, String> {
    let der = if bytes.first() == Some(&0x30) {
        bytes.to_vec()
    } else {
        let text = std::str::from_utf8(bytes).map_err(|_| "neither DER nor text".to_string())?;
        let body: String = text
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .flat_map(|line| line.trim().chars())
            .collect();
        BASE64
            .decode(body.as_bytes())
            .map_err(|_| "not a PEM, DER or base64 public key".to_string())?
    };
    DeviceKey::from_spki_der(&der).map_err(|e| e.to_string())
}
