//! `honnin read`: everything a card shows without a PIN, with what each step cost.

use std::process::ExitCode;

use honnin_core::card::{CertificateDer, CvCertificate};
use honnin_core::reader::{CardSession, OperationStats, PinState};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::CliError;
use crate::reader_spec::{ExtendedMode, Reader, ReaderSpec};

#[derive(Serialize)]
struct CertificateSummary {
    bytes: usize,
    sha256: String,
}

impl From<&CertificateDer> for CertificateSummary {
    fn from(cert: &CertificateDer) -> Self {
        Self {
            bytes: cert.as_bytes().len(),
            sha256: hex::encode(Sha256::digest(cert.as_bytes())),
        }
    }
}

#[derive(Serialize)]
struct CvSummary {
    issuer_key_id: String,
    subject_key_id: String,
    modulus_bits: usize,
}

impl From<&CvCertificate> for CvSummary {
    fn from(cv: &CvCertificate) -> Self {
        Self {
            issuer_key_id: hex::encode(cv.issuer_key_id),
            subject_key_id: hex::encode(cv.subject_key_id),
            modulus_bits: cv
                .public_key
                .modulus
                .iter()
                .skip_while(|b| **b == 0)
                .count()
                * 8,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
enum PinSummary {
    TriesLeft { tries_left: u8 },
    Locked,
    AlreadyVerified,
}

impl From<PinState> for PinSummary {
    fn from(state: PinState) -> Self {
        match state {
            PinState::TriesLeft(tries_left) => PinSummary::TriesLeft { tries_left },
            PinState::Locked => PinSummary::Locked,
            PinState::AlreadyVerified => PinSummary::AlreadyVerified,
        }
    }
}

#[derive(Serialize)]
struct JpkiSummary {
    token: String,
    authentication_certificate: CertificateSummary,
    authentication_ca_certificate: CertificateSummary,
    signing_ca_certificate: CertificateSummary,
    authentication_pin: PinSummary,
    signing_password: PinSummary,
}

#[derive(Serialize)]
struct ApplicationSummary {
    cv_certificate: CvSummary,
    pin: PinSummary,
}

#[derive(Serialize)]
struct OperationSummary {
    operation: &'static str,
    apdus: u32,
    bytes_sent: u64,
    bytes_received: u64,
}

impl From<&OperationStats> for OperationSummary {
    fn from(stats: &OperationStats) -> Self {
        Self {
            operation: stats.operation,
            apdus: stats.counters.apdus,
            bytes_sent: stats.counters.bytes_sent,
            bytes_received: stats.counters.bytes_received,
        }
    }
}

#[derive(Serialize)]
struct Readout {
    reader: String,
    extended_length: bool,
    jpki: JpkiSummary,
    input_support: ApplicationSummary,
    card_face: ApplicationSummary,
    operations: Vec<OperationSummary>,
    total_apdus: u32,
    total_bytes: u64,
}

pub fn run(spec: &ReaderSpec, extended: ExtendedMode, json: bool) -> Result<ExitCode, CliError> {
    let reader = Reader::open(spec, extended)?;
    let mut session = CardSession::new(reader);

    let mut jpki = session.jpki()?;
    let jpki = JpkiSummary {
        token: jpki.token()?,
        authentication_certificate: (&jpki.authentication_certificate()?).into(),
        authentication_ca_certificate: (&jpki.authentication_ca_certificate()?).into(),
        signing_ca_certificate: (&jpki.signing_ca_certificate()?).into(),
        authentication_pin: jpki.authentication_pin_state()?.into(),
        signing_password: jpki.signing_pin_state()?.into(),
    };
    let mut app = session.input_support()?;
    let input_support = ApplicationSummary {
        cv_certificate: (&app.cv_certificate()?).into(),
        pin: app.pin_state()?.into(),
    };
    let mut app = session.card_face()?;
    let card_face = ApplicationSummary {
        cv_certificate: (&app.cv_certificate()?).into(),
        pin: app.matching_number_state()?.into(),
    };

    let totals = session.counters();
    let readout = Readout {
        reader: spec.to_string(),
        extended_length: session.extended_length_in_use(),
        jpki,
        input_support,
        card_face,
        operations: session.operations().iter().map(Into::into).collect(),
        total_apdus: totals.apdus,
        total_bytes: totals.bytes_on_air(),
    };
    let text = if json {
        let mut json = serde_json::to_string_pretty(&readout)
            .map_err(|e| CliError::Io(format!("cannot print JSON: {e}")))?;
        json.push('\n');
        json
    } else {
        render_text(&readout)
    };
    crate::output::write_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn render_text(readout: &Readout) -> String {
    use std::fmt::Write;
    let mut text = String::new();
    let _ = writeln!(
        text,
        "reader: {} (extended length: {})",
        readout.reader, readout.extended_length
    );
    let _ = writeln!(text, "JPKI token: {}", readout.jpki.token);
    let _ = writeln!(
        text,
        "authentication certificate: {} bytes, SHA-256 {}",
        readout.jpki.authentication_certificate.bytes,
        readout.jpki.authentication_certificate.sha256
    );
    let _ = writeln!(
        text,
        "{:<40} {:>5} {:>8} {:>8}",
        "operation", "APDUs", "sent", "received"
    );
    for op in &readout.operations {
        let _ = writeln!(
            text,
            "{:<40} {:>5} {:>8} {:>8}",
            op.operation, op.apdus, op.bytes_sent, op.bytes_received
        );
    }
    let _ = writeln!(
        text,
        "total: {} APDUs, {} bytes on the air",
        readout.total_apdus, readout.total_bytes
    );
    text
}
