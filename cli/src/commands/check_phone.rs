//! `honnin check --level M`: the My Number Card in a phone's wallet (an ISO/IEC 18013-5 mdoc),
//! read over NFC with the same reader as the card, verified on this machine, recorded like a card
//! check.

use std::process::ExitCode;

use honnin_core::check::{FaceDecision, Verdict};
use honnin_core::mdoc::{AwaitingPortraitConfirmation, Engagement};
use honnin_core::verify::SystemRandom;

use super::check::{CheckArgs, HowToAsk, check_clock, exit_code, print_output, request};
use crate::error::CliError;
use crate::face_art;
use crate::output::CheckOutput;
use crate::phone_trust;
use crate::reader_spec::{Reader, ReaderSpec};
use crate::secrets::SecretSource;

pub fn run(args: &CheckArgs) -> Result<ExitCode, CliError> {
    // A mistyped or misscanned QR text is the clerk's to fix, before the phone is touched (as
    // the bindings' `check_phone` does).
    if let Some(problem) = args.qr.as_deref().and_then(phone_trust::qr_problem) {
        return Err(CliError::Usage(format!(
            "--qr is not a phone's mdoc engagement ({problem}): scan the QR code the wallet shows again"
        )));
    }
    let verifier = phone_trust::required_verifier(
        &phone_trust::AnchorSources {
            store: args.record.store.as_deref(),
            mdoc_anchors: args.mdoc_anchors.as_deref(),
            simulated: matches!(args.reader, ReaderSpec::Simulated(_)),
        },
        &args.mdoc_profile,
    )?;
    let clock = check_clock(args)?;
    let mut recorder = crate::commands::records::Recorder::open(&args.record, &args.device)?;
    let item = match &recorder {
        Some(recorder) => recorder.item_policy(&args.device, &args.item)?,
        None => None,
    };
    let request = request(args, item.as_ref())?;
    let policy = item.as_ref().map(|i| i.attributes).unwrap_or_default();
    if let Some(recorder) = recorder.as_mut() {
        recorder.set_attribute_policy(policy);
    }
    let how = HowToAsk {
        face_confirmed: args.face_confirmed,
        interactive: !(args.json || args.stdin),
        quiet: args.json,
    };
    let mut reader = Reader::open(&args.reader, args.extended)?;
    let identified = reader.identify(args.level)?;
    let qr = args.qr.clone();
    let engagement = match &qr {
        Some(text) => Engagement::Qr(text),
        None => Engagement::Nfc,
    };
    if !how.quiet {
        eprintln!("hold the phone's wallet card to the reader and keep it there…");
    }
    let awaiting = verifier.check_phone(
        reader,
        &request,
        policy,
        engagement,
        clock.as_ref(),
        &mut SystemRandom,
    );
    let counters = super::check::add(identified, awaiting.counters());
    let decision = if how.face_confirmed {
        FaceDecision::Confirmed
    } else if awaiting.card_verdict() != Verdict::Genuine || !how.interactive {
        FaceDecision::NotGiven
    } else {
        let source = if args.stdin {
            SecretSource::Stdin
        } else {
            SecretSource::Terminal
        };
        ask_about_portrait(&awaiting, &source)
    };
    let report = awaiting.confirm(decision);
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

/// Shows the phone's verified portrait on the terminal and asks whether it shows the person.
/// No answer (end of input) is no decision, never a confirmation.
pub(crate) fn ask_about_portrait(
    awaiting: &AwaitingPortraitConfirmation,
    source: &SecretSource,
) -> FaceDecision {
    match awaiting.portrait().map(honnin_core::image::decode_jpeg2000) {
        Some(Ok(image)) => eprint!("{}", face_art::render(&image, 40)),
        // Phones send JPEG, which this terminal view does not decode: the phone's own screen
        // shows the same portrait the issuer signed.
        _ => eprintln!("(compare the person with the portrait on the phone's screen)"),
    }
    match source.confirm("Does the portrait show the person in front of you?") {
        Ok(true) => FaceDecision::Confirmed,
        Ok(false) => FaceDecision::Rejected,
        Err(_) => FaceDecision::NotGiven,
    }
}
