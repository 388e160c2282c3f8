//! The trust bundle a device keeps next to its record store (`<store>.trust-bundle`): written
//! by `honnin sync` after it verified, read by `honnin check`, and verified again with the
//! receiver's receipt key each time it is read (a file edited on the device is refused, never
//! skipped). See docs/trust-bundle.md.
//!
//! What a kept bundle means (verification, the serial for the rollback check, the verifier, its
//! freshness, the file written whole) is the core's (`honnin_core::trust_bundle::kept`), shared
//! with the Android app; this module only places the file and words the CLI's messages.

use std::path::{Path, PathBuf};

use honnin_core::check::Verifier;
use honnin_core::record::DeviceKey;
use honnin_core::trust_bundle::kept;
use honnin_core::trust_bundle::{SignedTrustBundle, VerifiedTrustBundle};
use honnin_core::verify::x509::{RevocationList, TrustAnchors};
use honnin_core::verify::{Clock, SystemClock, UnixTime};

use crate::commands::records::{read_receipt_key, with_suffix};
use crate::error::CliError;

/// Where the bundle of the store at `store` is kept.
pub fn path_of(store: &Path) -> PathBuf {
    with_suffix(store, ".trust-bundle")
}

/// The serial of the bundle kept beside `store`, to refuse an older one at the next sync: the
/// bundle verified with one of `receipt_keys` (the key trusted now, and the one before a
/// rotation this sync learnt). A kept file that no longer reads counts as none (the next good
/// bundle replaces it).
pub fn kept_serial(store: &Path, receipt_keys: &[&DeviceKey]) -> Option<u64> {
    let bytes = kept::read_kept(&path_of(store)).ok().flatten();
    kept::kept_serial(bytes.as_deref(), receipt_keys, SystemClock.now())
}

/// Keeps `signed` beside `store` in place of the previous bundle, all or nothing.
pub fn keep(store: &Path, signed: &SignedTrustBundle) -> Result<(), CliError> {
    let path = path_of(store);
    kept::keep(&path, signed).map_err(|e| CliError::Io(format!("{}: {e}", path.display())))
}

/// The bundle kept beside `store`, verified now with the receipt key kept at enrolment.
/// `Ok(None)`: no bundle (or the device is not enrolled). A bundle that does not verify is an
/// error: the courier must know the device's trust is not what the receiver sent.
pub fn load(store: &Path) -> Result<Option<VerifiedTrustBundle>, CliError> {
    let path = path_of(store);
    let Some(bytes) = kept::read_kept(&path)
        .map_err(|e| CliError::Environment(format!("{}: {e}", path.display())))?
    else {
        return Ok(None);
    };
    let key_path = with_suffix(store, ".receiver-key");
    let receiver_key = read_receipt_key(&key_path)?.ok_or_else(|| {
        CliError::Environment(format!(
            "{}: a trust bundle but no receipt key ({}) to verify it; enrol this device again",
            path.display(),
            key_path.display()
        ))
    })?;
    kept::open_kept(&bytes, &receiver_key, SystemClock.now())
        .map(Some)
        .map_err(|e| {
            CliError::Environment(format!(
                "the trust bundle {} cannot be used ({e}); run `honnin sync` while online",
                path.display()
            ))
        })
}

/// A verifier trusting the bundle's anchors and any anchors in `extra_dir`, with the bundle's
/// lists (each naming the bundle, refused once it expired) and the lists in `extra_crls`.
pub fn verifier(
    bundle: &VerifiedTrustBundle,
    extra_dir: Option<&Path>,
    extra_crls: &[PathBuf],
    now: UnixTime,
) -> Result<Verifier, CliError> {
    let extra = extra_dir
        .map(|dir| {
            TrustAnchors::load_dir(dir).map_err(|e| {
                CliError::Environment(format!("trust anchors in {}: {e}", dir.display()))
            })
        })
        .transpose()?;
    let mut lists = Vec::with_capacity(extra_crls.len());
    for path in extra_crls {
        let bytes = std::fs::read(path)
            .map_err(|e| CliError::Environment(format!("{}: {e}", path.display())))?;
        lists.push(
            RevocationList::from_der(&bytes)
                .map_err(|e| CliError::Environment(format!("{}: {e}", path.display())))?,
        );
    }
    let verifier = bundle
        .verifier(extra.as_ref(), lists)
        .map_err(|e| CliError::Environment(format!("the trust bundle's anchors: {e}")))?;
    // Said before the check, so the courier knows what revocation is checked against.
    let status = bundle.status(now);
    if status.is_current() {
        eprintln!("{}", status.summary());
    } else {
        eprintln!("warning: {}", status.summary());
    }
    Ok(verifier)
}
