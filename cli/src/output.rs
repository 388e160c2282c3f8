//! The verdict as people and programs read it. The JSON shape is `honnin.check.v1`, documented in
//! docs/check-output.md; it never holds a secret, the face image, or the Individual Number.

use honnin_core::check::CheckRequest;
use honnin_core::check::{DoorCheckReport, Level, Verdict};
use honnin_core::reader::Counters;
use honnin_core::verify::{CheckId, CheckState};
use serde::Serialize;

use crate::error::CliError;
use crate::reader_spec::ReaderSpec;

#[derive(Serialize)]
pub struct CheckLine {
    pub check: CheckId,
    pub state: CheckState,
    pub reason: &'static str,
    pub message_en: &'static str,
    pub message_ja: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

#[derive(Serialize)]
pub struct CardCost {
    pub apdus: u32,
    pub bytes_on_air: u64,
    pub tag_losses: u32,
}

/// Where the check's signed record was stored (`honnin check --store`).
#[derive(Serialize, Clone)]
pub struct RecordLine {
    /// Position in the store's chain.
    pub seq: u64,
    pub id: String,
    pub store: String,
}

#[derive(Serialize)]
pub struct CheckOutput {
    pub schema: &'static str,
    pub reader: String,
    pub item: String,
    pub sender: String,
    pub level: Level,
    pub verdict: Verdict,
    pub message_en: &'static str,
    pub message_ja: &'static str,
    pub checks: Vec<CheckLine>,
    pub card: CardCost,
    /// Present when the record was stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordLine>,
}

impl CheckOutput {
    pub fn new(
        reader: &ReaderSpec,
        request: &CheckRequest,
        report: &DoorCheckReport,
        counters: Counters,
    ) -> Self {
        Self {
            schema: "honnin.check.v1",
            reader: reader.to_string(),
            item: request.item_id.clone(),
            sender: request.sender_id.clone(),
            level: report.level(),
            verdict: report.verdict(),
            message_en: report.verdict().message_en_for(report.level()),
            message_ja: report.verdict().message_ja_for(report.level()),
            checks: report
                .checks()
                .iter()
                .map(|r| CheckLine {
                    check: r.check,
                    state: r.state,
                    reason: r.reason.code(),
                    message_en: r.reason.message_en_for(report.level()),
                    message_ja: r.reason.message_ja_for(report.level()),
                    detail: r.detail.clone(),
                })
                .collect(),
            card: CardCost {
                apdus: counters.apdus,
                bytes_on_air: counters.bytes_on_air(),
                tag_losses: counters.tag_losses,
            },
            record: None,
        }
    }
}

fn mark(state: CheckState) -> &'static str {
    match state {
        CheckState::Passed => "ok  ",
        CheckState::Failed => "FAIL",
        CheckState::NotChecked => "--  ",
        CheckState::NotPresent => "n/a ",
    }
}

/// Writes to stdout; a closed pipe (`| head`) ends output quietly instead of panicking.
pub fn write_stdout(text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::Io(format!("cannot write to stdout: {e}"))),
    }
}

pub fn render_text(output: &CheckOutput) -> String {
    use std::fmt::Write;
    let mut text = String::new();
    let _ = writeln!(text, "{}", output.message_ja);
    let _ = writeln!(text, "{}", output.message_en);
    let _ = writeln!(
        text,
        "level {:?}, verdict: {}",
        output.level,
        output.verdict.code()
    );
    for line in &output.checks {
        let detail = if line.detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", line.detail)
        };
        let _ = writeln!(
            text,
            "  [{}] {:<28} {}{}",
            mark(line.state),
            format!("{:?}", line.check),
            line.message_en,
            detail
        );
    }
    let _ = writeln!(
        text,
        "{}: {} APDUs, {} bytes on the air{}",
        // The JSON keeps its `card` key (docs/check-output.md); people read what they held.
        if output.level == Level::M {
            "phone"
        } else {
            "card"
        },
        output.card.apdus,
        output.card.bytes_on_air,
        if output.card.tag_losses > 0 {
            format!(", {} tag losses", output.card.tag_losses)
        } else {
            String::new()
        }
    );
    if let Some(record) = &output.record {
        let _ = writeln!(
            text,
            "record #{} {} stored in {}",
            record.seq, record.id, record.store
        );
    }
    text
}
