//! `honnin counter`: the post-office counter. Waits for a card on a PC/SC reader, checks it for
//! the item the clerk names, shows the verdict, waits for the card to be taken away, and starts
//! over. A card taken away mid-check is reported and the same check starts again when it is back.

use std::time::Duration;

use honnin_core::check::{CheckRequest, Level};
use honnin_core::verify::addressee::Addressee;
use honnin_core::verify::{CheckId, CheckState, Reason, SystemClock};
use honnin_pcsc::Pcsc;

use super::check::{HowToAsk, perform, print_output, read_secret};
use crate::error::CliError;
use crate::output::CheckOutput;
use crate::reader_spec::{Reader, ReaderSpec};
use crate::secrets::SecretSource;

/// Everything `honnin counter` is asked.
#[derive(clap::Args)]
pub struct CounterArgs {
    /// pcsc (first reader with a card) or pcsc:<reader name>.
    #[arg(long, default_value = "pcsc")]
    pub reader: ReaderSpec,
    #[arg(long, value_enum, default_value = "auto")]
    pub extended: crate::reader_spec::ExtendedMode,
    #[arg(long)]
    pub level: Level,
    /// The sender whose items this counter hands out.
    #[arg(long)]
    pub sender: String,
    #[arg(long, default_value = "counter")]
    pub device: String,
    /// Directory of trust anchors (JPKI roots, card-data issuers).
    #[arg(long)]
    pub trust_anchors: std::path::PathBuf,
    #[arg(long)]
    pub crl: Vec<std::path::PathBuf>,
    /// Read item id, addressee, secret (and, at level A, the face confirmation y/n) one per line
    /// from stdin for each card.
    #[arg(long)]
    pub stdin: bool,
    /// Stop after this many completed checks (default: run until interrupted).
    #[arg(long)]
    pub max_checks: Option<u32>,
    /// Give up waiting for a card after this many seconds (default: wait for ever).
    #[arg(long)]
    pub wait_seconds: Option<u64>,
    #[arg(long)]
    pub json: bool,
}

/// How many times one item's check starts again after the card was taken away mid-check.
const MAX_RESTARTS: u32 = 3;

pub fn run(args: &CounterArgs) -> Result<std::process::ExitCode, CliError> {
    let ReaderSpec::Pcsc(wanted) = &args.reader else {
        return Err(CliError::Usage(
            "honnin counter needs a PC/SC reader: --reader pcsc[:<name>]".into(),
        ));
    };
    let verifier = crate::trust::load_verifier(&args.trust_anchors, &args.crl)?;
    let source = if args.stdin {
        SecretSource::Stdin
    } else {
        SecretSource::Terminal
    };
    let pcsc = Pcsc::establish().map_err(|e| CliError::Environment(e.to_string()))?;
    let wait = Duration::from_secs(args.wait_seconds.unwrap_or(u64::MAX / 4));
    let mut completed = 0;

    while args.max_checks.is_none_or(|max| completed < max) {
        eprintln!("counter: put the card on the reader");
        let reader = pcsc
            .wait_for_card(wanted.as_deref(), wait)
            .map_err(|e| CliError::Environment(e.to_string()))?;
        let item = source.read_line("item id")?;
        let addressee = source.read_line("addressee name (empty if none)")?;
        let request = CheckRequest {
            item_id: item.trim().to_owned(),
            sender_id: args.sender.clone(),
            device_id: args.device.clone(),
            addressee: (!addressee.trim().is_empty()).then(|| Addressee {
                name: addressee.trim().to_owned(),
                address: None,
                birth_date: None,
            }),
        };

        let mut restarts = 0;
        let output = loop {
            let secret = read_secret(args.level, &source, None)?;
            let transport = pcsc
                .wait_for_card(Some(&reader), wait)
                .and_then(|name| pcsc.connect(&name, honnin_pcsc::ConnectOptions::default()))
                .map_err(|e| CliError::Environment(e.to_string()))?;
            let how = HowToAsk {
                face_confirmed: false,
                interactive: true,
                quiet: args.json,
            };
            let (report, counters) = perform(
                Reader::Pcsc(transport),
                &verifier,
                &request,
                secret,
                &SystemClock,
                &source,
                how,
            );
            let removed = report
                .check(CheckId::CardCommunication)
                .is_some_and(|r| r.state == CheckState::Failed && r.reason == Reason::CardRemoved);
            if removed && restarts < MAX_RESTARTS {
                restarts += 1;
                eprintln!(
                    "counter: the card was taken away during the check; put it back to check again"
                );
                let _ = pcsc.wait_for_removal(&reader, Duration::from_secs(5));
                continue;
            }
            break CheckOutput::new(
                &ReaderSpec::Pcsc(Some(reader.clone())),
                &request,
                &report,
                counters,
            );
        };
        print_output(&output, args.json)?;
        completed += 1;
        eprintln!("counter: take the card away");
        pcsc.wait_for_removal(&reader, wait)
            .map_err(|e| CliError::Environment(e.to_string()))?;
    }
    Ok(std::process::ExitCode::SUCCESS)
}
