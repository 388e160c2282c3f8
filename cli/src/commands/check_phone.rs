//! `honnin check --level M`: the My Number Card in a phone's wallet (an ISO/IEC 18013-5 mdoc),
//! read over NFC with the same reader as the card, verified on this machine, recorded like a card
//! check.

use std::path::PathBuf;
use std::process::ExitCode;

use honnin_core::check::{FaceDecision, Verdict};
use honnin_core::mdoc::{DeviceEngagement, Engagement, IssuerAnchors, MdocProfile, PhoneVerifier};
use honnin_core::verify::SystemRandom;

use super::check::{CheckArgs, HowToAsk, check_clock, exit_code, print_output, request};
use crate::error::CliError;
use crate::face_art;
use crate::output::CheckOutput;
use crate::reader_spec::{Reader, ReaderSpec};
use crate::secrets::SecretSource;

/// The mdoc issuer anchors. A trust bundle kept beside the store (`honnin sync`) is the
/// operator's decision: its phone issuer anchors are used, with those of `--mdoc-anchors`
/// added. Without a kept bundle: `--mdoc-anchors`, or the software phone's test IACA for `sim:`.
fn issuer_anchors(args: &CheckArgs) -> Result<IssuerAnchors, CliError> {
    let load = |dir: &PathBuf| {
        IssuerAnchors::load_dir(dir).map_err(|e| CliError::Environment(e.to_string()))
    };
    let kept = match &args.record.store {
        Some(store) => crate::trust_bundle_file::load(store)?,
        None => None,
    };
    let Some(bundle) = kept else {
        return match (&args.mdoc_anchors, &args.reader) {
            (Some(dir), _) => load(dir),
            (None, ReaderSpec::Simulated(_)) => load(&honnin_simcard::mdoc::anchors_dir()),
            (None, ReaderSpec::Pcsc(_)) => Err(CliError::Usage(
                "--mdoc-anchors <dir> (the IACA certificates of the phone's issuer) is required with a PC/SC reader, unless `honnin sync` brought them in the trust bundle".into(),
            )),
        };
    };
    let mut certificates: Vec<Vec<u8>> = bundle
        .mdoc_anchors()
        .iter()
        .map(|a| a.certificate_der().to_vec())
        .collect();
    let from_bundle = certificates.len();
    if let Some(dir) = &args.mdoc_anchors {
        certificates.extend(load(dir)?.iter().map(|a| a.certificate_der().to_vec()));
    } else if from_bundle == 0 {
        eprintln!(
            "warning: the trust bundle {} carries no phone issuer anchors (the operator loaded none), so no phone can be verified: ask the operator, or give --mdoc-anchors",
            bundle.serial
        );
    }
    if from_bundle > 0 {
        eprintln!(
            "trust bundle {}: {from_bundle} phone issuer anchors",
            bundle.serial
        );
    }
    IssuerAnchors::from_der(&certificates).map_err(|e| CliError::Environment(e.to_string()))
}

fn profile(args: &CheckArgs) -> Result<MdocProfile, CliError> {
    MdocProfile::by_name(&args.mdoc_profile).ok_or_else(|| {
        CliError::Usage(format!(
            "unknown --mdoc-profile {:?}: use jp-wallet-model or mdl",
            args.mdoc_profile
        ))
    })
}

pub fn run(args: &CheckArgs) -> Result<ExitCode, CliError> {
    // A mistyped or misscanned QR text is the clerk's to fix, before the phone is touched (as
    // the bindings' `check_phone` does).
    if let Some(text) = &args.qr {
        DeviceEngagement::from_qr(text).map_err(|e| {
            CliError::Usage(format!(
                "--qr is not a phone's mdoc engagement ({e}): scan the QR code the wallet shows again"
            ))
        })?;
    }
    let verifier = PhoneVerifier::new(issuer_anchors(args)?, profile(args)?);
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
        match awaiting.portrait().map(honnin_core::image::decode_jpeg2000) {
            Some(Ok(image)) => eprint!("{}", face_art::render(&image, 40)),
            // Phones send JPEG, which this terminal view does not decode: the phone's own screen
            // shows the same portrait the issuer signed.
            _ => eprintln!("(compare the person with the portrait on the phone's screen)"),
        }
        let source = if args.stdin {
            SecretSource::Stdin
        } else {
            SecretSource::Terminal
        };
        match source.confirm("Does the portrait show the person in front of you?") {
            Ok(true) => FaceDecision::Confirmed,
            Ok(false) => FaceDecision::Rejected,
            Err(_) => FaceDecision::NotGiven,
        }
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
