//! The phone check's configuration (level M), one place for `honnin check`, `honnin counter` and
//! `honnin console`: whose phones are trusted (the mdoc issuer anchors) and which document is
//! asked for (the profile), and the first look at a QR engagement text.
//!
//! The anchors: a trust bundle kept beside the store (`honnin sync`) is the operator's decision,
//! so its phone issuer anchors are used, with those of `--mdoc-anchors` added. Without a kept
//! bundle: `--mdoc-anchors`, or, for the built-in software phone only, its test IACA. A real
//! reader never gets the test IACA by default: a deployment that trusted it would take the
//! software phone's forgeries for genuine.

use std::path::Path;

use honnin_core::mdoc::{DeviceEngagement, IssuerAnchors, MdocProfile, PhoneVerifier};

use crate::error::CliError;

/// Where the phone issuer anchors may come from.
pub struct AnchorSources<'a> {
    /// The record store, beside which `honnin sync` keeps the trust bundle.
    pub store: Option<&'a Path>,
    /// `--mdoc-anchors <dir>`.
    pub mdoc_anchors: Option<&'a Path>,
    /// The reader is the built-in software phone, whose test IACA may then be the default.
    pub simulated: bool,
}

/// The issuer anchors from `sources`, or `None` when none was configured (a PC/SC reader with
/// neither a kept bundle nor `--mdoc-anchors`, or a kept bundle without phone anchors and no
/// `--mdoc-anchors`). Progress and warnings go to stderr, for the
/// operator's terminal.
pub fn issuer_anchors(sources: &AnchorSources<'_>) -> Result<Option<IssuerAnchors>, CliError> {
    let load =
        |dir: &Path| IssuerAnchors::load_dir(dir).map_err(|e| CliError::Environment(e.to_string()));
    let kept = match sources.store {
        Some(store) => crate::trust_bundle_file::load(store)?,
        None => None,
    };
    let Some(bundle) = kept else {
        return match (sources.mdoc_anchors, sources.simulated) {
            (Some(dir), _) => load(dir).map(Some),
            (None, true) => load(&honnin_simcard::mdoc::anchors_dir()).map(Some),
            (None, false) => Ok(None),
        };
    };
    let mut certificates: Vec<Vec<u8>> = bundle
        .mdoc_anchors()
        .iter()
        .map(|a| a.certificate_der().to_vec())
        .collect();
    let from_bundle = certificates.len();
    if let Some(dir) = sources.mdoc_anchors {
        certificates.extend(load(dir)?.iter().map(|a| a.certificate_der().to_vec()));
    } else if from_bundle == 0 {
        // No anchor at all is "not configured", not a verifier that trusts nobody: that one
        // would name every genuine phone forged to the courier or clerk.
        eprintln!(
            "the trust bundle {} carries no phone issuer anchors (the operator loaded none): ask the operator to load them (honnin-receiver trust-load --mdoc-anchors), or give --mdoc-anchors",
            bundle.serial
        );
        return Ok(None);
    }
    if from_bundle > 0 {
        eprintln!(
            "trust bundle {}: {from_bundle} phone issuer anchors",
            bundle.serial
        );
    }
    IssuerAnchors::from_der(&certificates)
        .map(Some)
        .map_err(|e| CliError::Environment(e.to_string()))
}

/// The message when no phone issuer anchor is configured.
pub const ANCHORS_REQUIRED: &str = "no phone can be checked here without the phone issuers' anchors: give --mdoc-anchors <dir> (the IACA certificates of the phone's issuer), or have the operator load them into the trust bundle that `honnin sync` brings";

/// The document profile named by `--mdoc-profile`.
pub fn profile(name: &str) -> Result<MdocProfile, CliError> {
    MdocProfile::by_name(name).ok_or_else(|| {
        CliError::Usage(format!(
            "unknown --mdoc-profile {name:?}: use jp-wallet-model or mdl"
        ))
    })
}

/// The phone verifier for a command that cannot go on without one (`honnin check --level M`,
/// `honnin counter --level M`).
pub fn required_verifier(
    sources: &AnchorSources<'_>,
    profile_name: &str,
) -> Result<PhoneVerifier, CliError> {
    let profile = profile(profile_name)?;
    let anchors =
        issuer_anchors(sources)?.ok_or_else(|| CliError::Usage(ANCHORS_REQUIRED.into()))?;
    Ok(PhoneVerifier::new(anchors, profile))
}

/// Why `text` is not a phone's mdoc engagement, if it is not. A mistyped or misscanned QR text
/// is the clerk's to fix, before the phone is touched.
pub fn qr_problem(text: &str) -> Option<String> {
    DeviceEngagement::from_qr(text).err().map(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_reader_gets_no_test_iaca_by_default() {
        let none = issuer_anchors(&AnchorSources {
            store: None,
            mdoc_anchors: None,
            simulated: false,
        })
        .expect("no error");
        assert!(none.is_none());
        let required = required_verifier(
            &AnchorSources {
                store: None,
                mdoc_anchors: None,
                simulated: false,
            },
            "jp-wallet-model",
        )
        .expect_err("no anchors");
        assert!(
            required.to_string().contains("--mdoc-anchors"),
            "{required}"
        );

        let simulated = issuer_anchors(&AnchorSources {
            store: None,
            mdoc_anchors: None,
            simulated: true,
        })
        .expect("loads")
        .expect("the test IACA");
        assert_eq!(simulated.len(), 1);
    }

    #[test]
    fn an_unknown_profile_and_a_bad_qr_text_say_what_to_do() {
        let error = profile("passport").expect_err("unknown");
        assert!(error.to_string().contains("jp-wallet-model"), "{error}");
        assert!(profile("mdl").is_ok());
        let problem = qr_problem("https://example.com/not-an-engagement").expect("refused");
        assert!(problem.contains("mdoc:"), "{problem}");
        assert!(qr_problem("mdoc:!!!").is_some());
    }
}
