//! `honnin counter`: the post-office counter. Waits for a card (or, at level M, a phone showing
//! its wallet card) on a PC/SC reader, checks it for the item the clerk names, shows the verdict,
//! waits for it to be taken away, and starts over. A card or phone taken away mid-check is
//! reported and the same check starts again when it is back. What is on the reader is told apart
//! (SELECTs only) before any secret is asked: a phone is never asked for a card's PIN, a card
//! never run through the phone check. With `--store`, every check's signed record is stored
//! (made at a counter) before the next holder, and an item in the synced manifest follows its
//! sender's policy.

use std::time::Duration;

use honnin_core::check::{CheckRequest, DoorCheckReport, FaceDecision, Level, Verdict, Verifier};
use honnin_core::manifest::ItemPolicy;
use honnin_core::mdoc::{Engagement, PhoneVerifier};
use honnin_core::reader::Counters;
use honnin_core::record::AttributePolicy;
use honnin_core::verify::addressee::Addressee;
use honnin_core::verify::{CheckId, CheckState, Clock, Reason, SystemClock, SystemRandom};
use honnin_pcsc::Pcsc;

use super::check::{HowToAsk, add, follows_item_policy, perform, print_output, read_secret};
use super::check_phone::ask_about_portrait;
use super::records::{RecordArgs, Recorder};
use crate::error::CliError;
use crate::output::CheckOutput;
use crate::phone_trust::{self, AnchorSources};
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
    /// A, B, C: the My Number Card; M: the card in a phone's wallet (no secret, the clerk's look
    /// at the portrait).
    #[arg(long)]
    pub level: Level,
    /// The sender whose items this counter hands out.
    #[arg(long)]
    pub sender: String,
    #[arg(long, default_value = "counter")]
    pub device: String,
    /// Directory of trust anchors (JPKI roots, card-data issuers); required at levels A, B, C.
    #[arg(long)]
    pub trust_anchors: Option<std::path::PathBuf>,
    #[arg(long)]
    pub crl: Vec<std::path::PathBuf>,
    /// Level M: directory of the phone issuers' IACA certificates, added to those of the trust
    /// bundle `honnin sync` keeps beside --store; required without one.
    #[arg(long)]
    pub mdoc_anchors: Option<std::path::PathBuf>,
    /// Level M: which document to ask the phone for (jp-wallet-model, mdl).
    #[arg(long, default_value = "jp-wallet-model")]
    pub mdoc_profile: String,
    /// Read item id, addressee, secret (none at level M) and, at levels A and M, the face
    /// confirmation y/n, one per line from stdin for each card or phone.
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
    #[command(flatten)]
    pub record: RecordArgs,
}

/// How many times one item's check starts again after the card was taken away mid-check.
const MAX_RESTARTS: u32 = 3;

pub fn run(args: &CounterArgs) -> Result<std::process::ExitCode, CliError> {
    let ReaderSpec::Pcsc(wanted) = &args.reader else {
        return Err(CliError::Usage(
            "honnin counter needs a PC/SC reader: --reader pcsc[:<name>]".into(),
        ));
    };
    let checker = Checker::load(args)?;
    // Before any card: a store that cannot be written must not cost a PIN try.
    let mut recorder = Recorder::open(&args.record, &args.device)?;
    if let Some(recorder) = recorder.as_mut() {
        recorder.set_station_counter();
    }
    let source = if args.stdin {
        SecretSource::Stdin
    } else {
        SecretSource::Terminal
    };
    let pcsc = Pcsc::establish().map_err(|e| CliError::Environment(e.to_string()))?;
    let wait = Duration::from_secs(args.wait_seconds.unwrap_or(u64::MAX / 4));
    let mut completed = 0;

    while args.max_checks.is_none_or(|max| completed < max) {
        eprintln!("counter: put the {} on the reader", checker.noun());
        let reader = pcsc
            .wait_for_card(wanted.as_deref(), wait)
            .map_err(|e| CliError::Environment(e.to_string()))?;
        let item = source.read_line("item id")?;
        let addressee = source.read_line("addressee name (empty if none)")?;
        let item_id = item.trim();
        let policy = match &recorder {
            Some(recorder) => recorder.item_policy(&args.device, item_id)?,
            None => None,
        };
        let addressee = (!addressee.trim().is_empty()).then(|| Addressee {
            name: addressee.trim().to_owned(),
            address: None,
            birth_date: None,
        });
        let request = match counter_request(args, item_id, addressee, policy.as_ref()) {
            Ok(request) => request,
            Err(refusal) => {
                // This item cannot be handed out at this level; the counter goes on with the
                // next card, and no PIN was asked.
                eprintln!("counter: {refusal}");
                eprintln!("counter: take the {} away", checker.noun());
                pcsc.wait_for_removal(&reader, wait)
                    .map_err(|e| CliError::Environment(e.to_string()))?;
                continue;
            }
        };
        let attributes = policy
            .as_ref()
            .map_or(args.record.record_attributes, |item| item.attributes);
        if let Some(recorder) = recorder.as_mut() {
            recorder.set_attribute_policy(attributes);
        }

        let mut restarts = 0;
        let output = loop {
            let transport = pcsc
                .wait_for_card(Some(&reader), wait)
                .and_then(|name| pcsc.connect(&name, honnin_pcsc::ConnectOptions::default()))
                .map_err(|e| CliError::Environment(e.to_string()))?;
            let mut holder = Reader::Pcsc(transport);
            // A card at level M or a phone at A, B or C: no check, no record, no secret asked.
            let identified = match holder.identify(args.level) {
                Ok(cost) => cost,
                Err(refusal) => break Err(refusal),
            };
            let (report, cost) = checker.check(holder, &request, attributes, &source, args)?;
            let counters = add(identified, cost);
            let removed = report
                .check(CheckId::CardCommunication)
                .is_some_and(|r| r.state == CheckState::Failed && r.reason == Reason::CardRemoved);
            if removed && restarts < MAX_RESTARTS {
                restarts += 1;
                eprintln!(
                    "counter: the {} was taken away during the check; put it back to check again",
                    checker.noun()
                );
                let _ = pcsc.wait_for_removal(&reader, Duration::from_secs(5));
                continue;
            }
            break Ok((report, counters));
        };
        let (report, counters) = match output {
            Ok(done) => done,
            // Not what this counter checks, or gone before it could tell: the counter goes on
            // with the next holder.
            Err(refusal) => {
                eprintln!("counter: {refusal}");
                eprintln!("counter: take it away");
                pcsc.wait_for_removal(&reader, wait)
                    .map_err(|e| CliError::Environment(e.to_string()))?;
                continue;
            }
        };
        let stored = recorder
            .as_mut()
            .map(|r| r.record(&report, &request, SystemClock.now()))
            .transpose();
        let mut output = CheckOutput::new(
            &ReaderSpec::Pcsc(Some(reader.clone())),
            &request,
            &report,
            counters,
        );
        output.record = stored.as_ref().ok().cloned().flatten();
        print_output(&output, args.json)?;
        // A record that could not be stored stops the counter: the clerk must not go on
        // handing out parcels without proof.
        stored?;
        completed += 1;
        eprintln!("counter: take the {} away", checker.noun());
        pcsc.wait_for_removal(&reader, wait)
            .map_err(|e| CliError::Environment(e.to_string()))?;
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// What this counter checks: cards (levels A, B, C) or phones (level M), with their verifier.
enum Checker {
    Card(Box<Verifier>),
    Phone(Box<PhoneVerifier>),
}

impl Checker {
    /// The verifier for `args.level`, loaded before any holder comes to the counter.
    fn load(args: &CounterArgs) -> Result<Self, CliError> {
        if args.level == Level::M {
            let sources = AnchorSources {
                store: args.record.store.as_deref(),
                mdoc_anchors: args.mdoc_anchors.as_deref(),
                simulated: false,
            };
            return phone_trust::required_verifier(&sources, &args.mdoc_profile)
                .map(|verifier| Checker::Phone(Box::new(verifier)));
        }
        let anchors = args.trust_anchors.as_ref().ok_or_else(|| {
            CliError::Usage(format!(
                "--trust-anchors <dir> is required at level {} (see README: trust anchors)",
                args.level.code()
            ))
        })?;
        crate::trust::load_verifier(anchors, &args.crl)
            .map(|verifier| Checker::Card(Box::new(verifier)))
    }

    fn noun(&self) -> &'static str {
        match self {
            Checker::Card(_) => "card",
            Checker::Phone(_) => "phone",
        }
    }

    /// One check of the holder on `reader`: the secret is asked for a card (after the reader
    /// told it is one), the face confirmation for a phone whose data verified.
    fn check(
        &self,
        reader: Reader,
        request: &CheckRequest,
        attributes: AttributePolicy,
        source: &SecretSource,
        args: &CounterArgs,
    ) -> Result<(DoorCheckReport, Counters), CliError> {
        match self {
            Checker::Card(verifier) => {
                let secret = read_secret(args.level, source, None)?;
                let how = HowToAsk {
                    face_confirmed: false,
                    interactive: true,
                    quiet: args.json,
                };
                Ok(perform(
                    reader,
                    verifier,
                    request,
                    secret,
                    &SystemClock,
                    source,
                    how,
                ))
            }
            Checker::Phone(verifier) => {
                if !args.json {
                    eprintln!("counter: keep the phone on the reader…");
                }
                let awaiting = verifier.check_phone(
                    reader,
                    request,
                    attributes,
                    Engagement::Nfc,
                    &SystemClock,
                    &mut SystemRandom,
                );
                let counters = awaiting.counters();
                // A phone that failed on its own is not shown for comparison: no decision could
                // make it genuine.
                let decision = if awaiting.card_verdict() == Verdict::Genuine {
                    ask_about_portrait(&awaiting, source)
                } else {
                    FaceDecision::NotGiven
                };
                Ok((awaiting.confirm(decision), counters))
            }
        }
    }
}

/// The check's request for one item: the clerk's addressee, or else the manifest's; refused
/// when the manifest names another sender for the item or asks for a higher level.
fn counter_request(
    args: &CounterArgs,
    item_id: &str,
    addressee: Option<Addressee>,
    policy: Option<&ItemPolicy>,
) -> Result<CheckRequest, String> {
    if item_id.is_empty() {
        return Err("no item id given: type the item id from the parcel's label".into());
    }
    if let Some(item) = policy {
        follows_item_policy(item, item_id, Some(&args.sender), args.level)?;
    }
    Ok(CheckRequest {
        item_id: item_id.to_owned(),
        sender_id: args.sender.clone(),
        device_id: args.device.clone(),
        addressee: addressee.or_else(|| policy.map(|item| item.addressee.clone())),
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use honnin_core::record::AttributePolicy;

    use super::*;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        counter: CounterArgs,
    }

    fn counter(level: &str) -> CounterArgs {
        Command::try_parse_from([
            "counter",
            "--level",
            level,
            "--sender",
            "demo-bank",
            "--trust-anchors",
            "anchors",
        ])
        .expect("parses")
        .counter
    }

    fn item(min_level: Level) -> ItemPolicy {
        ItemPolicy {
            item_id: "JP-0002".into(),
            sender_id: "demo-bank".into(),
            addressee: Addressee {
                name: "試験 花子".into(),
                address: None,
                birth_date: None,
            },
            min_level,
            attributes: AttributePolicy::default(),
        }
    }

    fn clerk_typed(name: &str) -> Option<Addressee> {
        Some(Addressee {
            name: name.into(),
            address: None,
            birth_date: None,
        })
    }

    #[test]
    fn an_item_in_the_manifest_gives_its_addressee_unless_the_clerk_typed_one() {
        let args = counter("B");
        let request =
            counter_request(&args, "JP-0002", None, Some(&item(Level::B))).expect("allowed");
        assert_eq!(request.sender_id, "demo-bank");
        assert_eq!(request.device_id, "counter");
        assert_eq!(
            request.addressee.expect("from the manifest").name,
            "試験 花子"
        );

        let typed = counter_request(
            &args,
            "JP-0002",
            clerk_typed("山田 太郎"),
            Some(&item(Level::A)),
        )
        .expect("allowed");
        assert_eq!(typed.addressee.expect("typed").name, "山田 太郎");

        // An item the manifest does not know is checked for the counter's own sender.
        let unknown = counter_request(&args, "JP-0009", None, None).expect("allowed");
        assert_eq!(unknown.sender_id, "demo-bank");
        assert!(unknown.addressee.is_none());
    }

    #[test]
    fn an_item_for_a_higher_level_or_another_sender_is_refused_before_any_pin() {
        let refusal = counter_request(&counter("A"), "JP-0002", None, Some(&item(Level::B)))
            .expect_err("level A is below the sender's minimum");
        assert!(refusal.contains("at least level B"), "{refusal}");

        let mut other = item(Level::A);
        other.sender_id = "other-shop".into();
        let refusal = counter_request(&counter("C"), "JP-0002", None, Some(&other))
            .expect_err("another sender's item");
        assert!(
            refusal.contains("other-shop's in the manifest"),
            "{refusal}"
        );

        let refusal = counter_request(&counter("B"), "", None, None).expect_err("no item id typed");
        assert!(refusal.contains("no item id"), "{refusal}");
    }
}
