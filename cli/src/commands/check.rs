//! `honnin check`: one door or counter check of one card, at the level the sender asks for.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use honnin_core::card::{AuthPin, CalendarDate, MatchingNumberB, SigningPassword};
use honnin_core::check::{CheckRequest, DoorCheckReport, FaceDecision, Level, Verdict, Verifier};
use honnin_core::manifest::ItemPolicy;
use honnin_core::reader::{CardSession, Counters, ReadEvent};
use honnin_core::verify::addressee::Addressee;
use honnin_core::verify::{CheckId, CheckState, Reason};
use honnin_core::verify::{Clock, FixedClock, SystemClock, SystemRandom, UnixTime};
use honnin_pcsc::Pcsc;
use honnin_simcard::Profile;

use crate::error::CliError;
use crate::face_art;
use crate::output::{CheckOutput, render_text, write_stdout};
use crate::reader_spec::{ExtendedMode, Reader, ReaderSpec};
use crate::secrets::SecretSource;

/// Everything `honnin check` is asked.
#[derive(clap::Args)]
pub struct CheckArgs {
    #[arg(long, default_value = "sim:genuine")]
    pub reader: ReaderSpec,
    #[arg(long, value_enum, default_value = "auto")]
    pub extended: ExtendedMode,
    /// A: 照合番号B and the courier's look; B: 4-digit PIN; C: signing password; M: the card in
    /// a phone's wallet (ISO/IEC 18013-5 mdoc), no secret, the courier's look at the portrait.
    #[arg(long)]
    pub level: Level,
    /// Level M: directory of the phone issuers' IACA certificates (default with sim: the test
    /// IACA). Required with PC/SC.
    #[arg(long)]
    pub mdoc_anchors: Option<PathBuf>,
    /// Level M: which document to ask the phone for (jp-wallet-model, mdl).
    #[arg(long, default_value = "jp-wallet-model")]
    pub mdoc_profile: String,
    /// Level M: the text of the QR code the phone shows (`mdoc:…`); without it the engagement is
    /// read over NFC.
    #[arg(long)]
    pub qr: Option<String>,
    /// The parcel's item id.
    #[arg(long)]
    pub item: String,
    /// The sender's id (default: the item's sender in the manifest `honnin sync` keeps in
    /// --store; required without one).
    #[arg(long)]
    pub sender: Option<String>,
    /// This device's id (bound into the challenge).
    #[arg(long, default_value = "desktop")]
    pub device: String,
    /// The addressee's name as on the parcel (default: the item's addressee in the manifest).
    #[arg(long)]
    pub addressee: Option<String>,
    /// The addressee's address, compared when given.
    #[arg(long, requires = "addressee")]
    pub addressee_address: Option<String>,
    /// The addressee's birth date YYYY-MM-DD, compared when given.
    #[arg(long, requires = "addressee")]
    pub addressee_birth_date: Option<String>,
    /// Directory of trust anchors (JPKI roots, card-data issuers). Required with PC/SC.
    #[arg(long)]
    pub trust_anchors: Option<PathBuf>,
    /// A revocation list (X.509 CRL, DER) of a JPKI CA; repeatable. Without one, revocation is
    /// reported as not checked.
    #[arg(long)]
    pub crl: Vec<PathBuf>,
    /// Read the secret (and the face confirmation) one per line from stdin.
    #[arg(long)]
    pub stdin: bool,
    /// Level A: the operator has compared face and name already (scripted use).
    #[arg(long)]
    pub face_confirmed: bool,
    /// Check as of this date (YYYY-MM-DD); only with the software card.
    #[arg(long)]
    pub check_time: Option<String>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub record: crate::commands::records::RecordArgs,
}

/// Exit codes: 0 genuine, 1 forged, 2 inconclusive, refused or not the addressee.
pub(crate) fn exit_code(verdict: Verdict) -> ExitCode {
    ExitCode::from(match verdict {
        Verdict::Genuine => 0,
        Verdict::Forged => 1,
        Verdict::Inconclusive | Verdict::Refused | Verdict::NotAddressee => 2,
    })
}

fn parse_date(text: &str, what: &str) -> Result<CalendarDate, CliError> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_digit).collect();
    CalendarDate::parse_yyyymmdd(&digits)
        .ok_or_else(|| CliError::Usage(format!("{what} must be a date YYYY-MM-DD, got {text:?}")))
}

pub fn load_verifier(args: &CheckArgs) -> Result<Verifier, CliError> {
    // The trust bundle `honnin sync` keeps beside the store: its anchors, and its revocation
    // lists so revocation is checked on the device (plus any given here).
    if let Some(store) = &args.record.store
        && let Some(bundle) = crate::trust_bundle_file::load(store)?
    {
        let now = check_clock(args)?.now();
        return crate::trust_bundle_file::verifier(
            &bundle,
            args.trust_anchors.as_deref(),
            &args.crl,
            now,
        );
    }
    let directory = match (&args.trust_anchors, &args.reader) {
        (Some(dir), _) => dir.clone(),
        // The software card is made from the test PKI, so its anchors are the test anchors; a
        // real reader never gets them by default.
        (None, ReaderSpec::Simulated(_)) => honnin_simcard::fixtures::anchors_dir(),
        (None, ReaderSpec::Pcsc(_)) => {
            return Err(CliError::Usage(
                "--trust-anchors <dir> is required with a PC/SC reader (see README: trust anchors)"
                    .into(),
            ));
        }
    };
    crate::trust::load_verifier(&directory, &args.crl)
}

pub(crate) fn check_clock(args: &CheckArgs) -> Result<Box<dyn Clock>, CliError> {
    match (&args.check_time, &args.reader) {
        (None, _) => Ok(Box::new(SystemClock)),
        (Some(text), ReaderSpec::Simulated(_)) => {
            let date = parse_date(text, "--check-time")?;
            Ok(Box::new(FixedClock(UnixTime::from_date(
                i32::from(date.year),
                u32::from(date.month),
                u32::from(date.day),
            ))))
        }
        // A real card is always checked at the real time.
        (Some(_), ReaderSpec::Pcsc(_)) => Err(CliError::Usage(
            "--check-time is only for the software card".into(),
        )),
    }
}

/// The secret the level needs.
#[derive(Clone)]
pub enum Secret {
    MatchingNumber(MatchingNumberB),
    Pin(AuthPin),
    Password(SigningPassword),
}

/// With the software card and no --stdin, the card's own test secrets are used (fiction printed
/// on the simulated card), so the demo runs unattended.
fn simulated_facts(args: &CheckArgs) -> Result<Option<honnin_simcard::CardFacts>, CliError> {
    match (&args.reader, args.stdin) {
        (ReaderSpec::Simulated(name), false) => Profile::from_name(name)
            .and_then(|p| p.build())
            .map(|card| Some(card.facts().clone()))
            .map_err(|e| CliError::Usage(e.to_string())),
        _ => Ok(None),
    }
}

/// Reads the secret for `level` from `source`, or takes the software card's own.
pub fn read_secret(
    level: Level,
    source: &SecretSource,
    simulated: Option<&honnin_simcard::CardFacts>,
) -> Result<Secret, CliError> {
    let typed = |what: &str, simulated_value: Option<String>| match simulated_value {
        Some(value) => Ok(zeroize::Zeroizing::new(value)),
        None => source.read(what),
    };
    let bad = |e: honnin_core::card::SecretFormatError| CliError::Usage(e.to_string());
    Ok(match level {
        Level::A => {
            let text = typed(
                "照合番号B (birth date YYMMDD + expiry year + security code)",
                simulated.map(|f| f.matching_number_b.clone()),
            )?;
            Secret::MatchingNumber(MatchingNumberB::parse(&text).map_err(bad)?)
        }
        Level::B => {
            let text = typed("PIN (4 digits)", simulated.map(|f| f.auth_pin.to_owned()))?;
            Secret::Pin(AuthPin::parse(&text).map_err(bad)?)
        }
        Level::M => {
            return Err(CliError::Usage(
                "level M (a phone) asks for no secret".into(),
            ));
        }
        Level::C => {
            let text = typed(
                "signing password",
                simulated.map(|f| f.sign_password.to_owned()),
            )?;
            Secret::Password(SigningPassword::parse(&text).map_err(bad)?)
        }
    })
}

pub fn run(args: &CheckArgs) -> Result<ExitCode, CliError> {
    if args.level == Level::M {
        return crate::commands::check_phone::run(args);
    }
    let verifier = load_verifier(args)?;
    let clock = check_clock(args)?;
    let source = if args.stdin {
        SecretSource::Stdin
    } else {
        SecretSource::Terminal
    };
    // Before the card and the secret: a store that cannot be written, or a level the sender
    // does not accept, must not cost a PIN try.
    let mut recorder = crate::commands::records::Recorder::open(&args.record, &args.device)?;
    let item = match &recorder {
        Some(recorder) => recorder.item_policy(&args.device, &args.item)?,
        None => None,
    };
    let request = request(args, item.as_ref())?;
    if let (Some(item), Some(recorder)) = (&item, recorder.as_mut()) {
        recorder.set_attribute_policy(item.attributes);
    }
    // The card first: a phone wallet on the reader must be told to use level M before its
    // holder is asked for a card's secret.
    let mut reader = Reader::open(&args.reader, args.extended)?;
    let identified = reader.identify(args.level)?;
    let simulated = simulated_facts(args)?;
    let secret = read_secret(args.level, &source, simulated.as_ref())?;

    let how = HowToAsk {
        face_confirmed: args.face_confirmed,
        interactive: !(args.json || args.stdin),
        quiet: args.json,
    };
    // A PC/SC reader whose card leaves the field after the secret was accepted loses what the
    // secret unlocked; the core cannot resume that read, so the check is run again on the card
    // once it is back (the secret is kept for that, and wiped with it).
    let pcsc_reader = match &reader {
        Reader::Pcsc(transport) => Some(transport.reader().to_owned()),
        Reader::Simulated(_) | Reader::Phone(_) => None,
    };
    let spare_secret = pcsc_reader.as_ref().map(|_| secret.clone());
    let (mut report, cost) = perform(
        reader,
        &verifier,
        &request,
        secret,
        clock.as_ref(),
        &source,
        how,
    );
    let mut counters = add(identified, cost);
    if let (Some(name), Some(secret)) = (pcsc_reader, spare_secret) {
        let mut resumes = 0;
        while card_removed(&report) && resumes < MAX_RESUMES {
            resumes += 1;
            if !how.quiet {
                eprintln!(
                    "the card left the reader during the check: put it back and hold it still \
                     (waiting up to {} s)…",
                    CARD_RETURN_WAIT.as_secs()
                );
            }
            let Some(reader) = wait_for_return(&name, args.extended) else {
                break;
            };
            let (again, cost) = perform(
                reader,
                &verifier,
                &request,
                secret.clone(),
                clock.as_ref(),
                &source,
                how,
            );
            report = again;
            counters = add(counters, cost);
        }
    }
    let stored = recorder
        .as_mut()
        .map(|r| r.record(&report, &request, clock.now()))
        .transpose();
    let mut output = CheckOutput::new(&args.reader, &request, &report, counters);
    output.record = stored.as_ref().ok().cloned().flatten();
    print_output(&output, args.json)?;
    stored?;
    Ok(exit_code(report.verdict()))
}

/// How often `honnin check` runs the check again after the card left the reader.
pub(crate) const MAX_RESUMES: u32 = 2;
/// How long it waits for the card to come back each time: long enough to put a card back,
/// short enough for a clear "card removed" answer.
pub(crate) const CARD_RETURN_WAIT: Duration = Duration::from_secs(10);

/// Whether the check ended because the card left the reader.
pub(crate) fn card_removed(report: &DoorCheckReport) -> bool {
    report
        .check(CheckId::CardCommunication)
        .is_some_and(|r| r.state == CheckState::Failed && r.reason == Reason::CardRemoved)
}

/// Waits for the card to be back on `reader` and connects to it; `None` when it does not come
/// back in time (the first report, card removed, stands).
fn wait_for_return(reader: &str, extended: ExtendedMode) -> Option<Reader> {
    let pcsc = Pcsc::establish().ok()?;
    let name = pcsc.wait_for_card(Some(reader), CARD_RETURN_WAIT).ok()?;
    Reader::open(&ReaderSpec::Pcsc(Some(name)), extended).ok()
}

/// What two attempts cost together.
pub(crate) fn add(a: Counters, b: Counters) -> Counters {
    Counters {
        apdus: a.apdus + b.apdus,
        bytes_sent: a.bytes_sent + b.bytes_sent,
        bytes_received: a.bytes_received + b.bytes_received,
        tag_losses: a.tag_losses + b.tag_losses,
    }
}

/// The check's request: the item, with its sender and addressee from the options or else from
/// the manifest's `item`; refused when the sender asks for a higher level or the options
/// contradict the manifest.
pub(crate) fn request(
    args: &CheckArgs,
    item: Option<&ItemPolicy>,
) -> Result<CheckRequest, CliError> {
    if let Some(item) = item {
        follows_item_policy(item, &args.item, args.sender.as_deref(), args.level)
            .map_err(CliError::Usage)?;
    }
    let sender_id = match (&args.sender, item) {
        (Some(given), _) => given.clone(),
        (None, Some(item)) => item.sender_id.clone(),
        (None, None) => {
            return Err(CliError::Usage(format!(
                "item {} is not in this device's manifest: give --sender (and --addressee), or run `honnin sync` to get the manifest",
                args.item
            )));
        }
    };
    let addressee = match (&args.addressee, item) {
        (Some(name), _) => Some(Addressee {
            name: name.clone(),
            address: args.addressee_address.clone(),
            birth_date: args
                .addressee_birth_date
                .as_deref()
                .map(|d| parse_date(d, "--addressee-birth-date"))
                .transpose()?,
        }),
        (None, Some(item)) => Some(item.addressee.clone()),
        (None, None) => None,
    };
    Ok(CheckRequest {
        item_id: args.item.clone(),
        sender_id,
        device_id: args.device.clone(),
        addressee,
    })
}

/// Whether a check of `item_id` for `sender` (when one was given) at `level` follows the
/// manifest's `item`: its sender, and its minimum level. The refusal says what to do instead.
pub(crate) fn follows_item_policy(
    item: &ItemPolicy,
    item_id: &str,
    sender: Option<&str>,
    level: Level,
) -> Result<(), String> {
    if let Some(given) = sender
        && given != item.sender_id
    {
        return Err(format!(
            "item {item_id} is {}'s in the manifest, not {given}'s: check the item id",
            item.sender_id
        ));
    }
    if !item.allows(level) {
        return Err(format!(
            "{} asks for at least level {:?} for item {item_id}: check it at level {:?} or higher",
            item.sender_id, item.min_level, item.min_level
        ));
    }
    Ok(())
}

/// Prints a check's outcome as JSON or as text for people.
pub fn print_output(output: &CheckOutput, json: bool) -> Result<(), CliError> {
    let text = if json {
        let mut text = serde_json::to_string_pretty(output)
            .map_err(|e| CliError::Io(format!("cannot print JSON: {e}")))?;
        text.push('\n');
        text
    } else {
        render_text(output)
    };
    write_stdout(&text)
}

/// How the courier's confirmation is obtained at level A.
#[derive(Clone, Copy)]
pub struct HowToAsk {
    /// Given up front (--face-confirmed).
    pub face_confirmed: bool,
    /// A person is at the terminal to look and answer.
    pub interactive: bool,
    /// No progress messages (JSON output).
    pub quiet: bool,
}

/// Runs one check on an open reader and returns the report with what it cost on the air.
pub fn perform(
    reader: Reader,
    verifier: &Verifier,
    request: &CheckRequest,
    secret: Secret,
    clock: &dyn Clock,
    source: &SecretSource,
    how: HowToAsk,
) -> (DoorCheckReport, honnin_core::reader::Counters) {
    let quiet = how.quiet;
    let mut session = CardSession::new(reader).with_observer(move |event: &ReadEvent| {
        if !quiet && let ReadEvent::TagLost { .. } = event {
            eprintln!("the card moved away: hold it still on the reader…");
        }
    });
    let mut random = SystemRandom;
    let report = match secret {
        Secret::MatchingNumber(number) => {
            let awaiting =
                verifier.check_level_a(&mut session, request, &number, clock, &mut random);
            let decision = if how.face_confirmed {
                FaceDecision::Confirmed
            } else if awaiting.card_verdict() != Verdict::Genuine
                || awaiting.images().face.is_none()
                || !how.interactive
            {
                // Nothing to compare (the card itself failed, or shows no photo), or nobody to
                // compare (scripted use without --face-confirmed).
                FaceDecision::NotGiven
            } else {
                if let Some(face) = &awaiting.images().face {
                    eprint!("{}", face_art::render(face, 40));
                }
                if let Some(name) = &awaiting.images().name {
                    eprint!("{}", face_art::render(name, 60));
                }
                match source.confirm(
                    "Does the photo show the person in front of you, and is the name the addressee's?",
                ) {
                    Ok(true) => FaceDecision::Confirmed,
                    Ok(false) => FaceDecision::Rejected,
                    Err(_) => FaceDecision::NotGiven,
                }
            };
            awaiting.confirm(decision)
        }
        Secret::Pin(pin) => verifier.check_level_b(&mut session, request, &pin, clock, &mut random),
        Secret::Password(password) => {
            verifier.check_level_c(&mut session, request, &password, clock, &mut random)
        }
    };
    (report, session.counters())
}
