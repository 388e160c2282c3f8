//! The trust bundle a device keeps next to its record store (`<store>.trust-bundle`): written
//! by `honnin sync` after it verified, read by `honnin check`, and verified again with the
//! receiver's receipt key each time it is read (a file edited on the device is refused, never
//! skipped). See docs/trust-bundle.md.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use honnin_core::check::Verifier;
use honnin_core::record::DeviceKey;
use honnin_core::trust_bundle::{SignedTrustBundle, VerifiedTrustBundle};
use honnin_core::verify::x509::{RevocationList, TrustAnchors};
use honnin_core::verify::{Clock, SystemClock, UnixTime};

use crate::commands::records::{read_receipt_key, with_suffix};
use crate::error::CliError;

/// Where the bundle of the store at `store` is kept.
pub fn path_of(store: &Path) -> PathBuf {
    with_suffix(store, ".trust-bundle")
}

/// The serial of the bundle kept beside `store`, to refuse an older one at the next sync; a
/// kept file that no longer reads counts as none (the next good bundle replaces it).
pub fn kept_serial(store: &Path, receiver_key: &DeviceKey) -> Option<u64> {
    let bytes = std::fs::read(path_of(store)).ok()?;
    let signed = SignedTrustBundle::from_json(&bytes).ok()?;
    signed
        .verify(receiver_key, None, SystemClock.now())
        .ok()
        .map(|verified| verified.serial)
}

/// Keeps `signed` beside `store` in place of the previous bundle, all or nothing: written to a
/// temporary file, synced, then renamed over the old one.
pub fn keep(store: &Path, signed: &SignedTrustBundle) -> Result<(), CliError> {
    let path = path_of(store);
    let temporary = with_suffix(&path, ".tmp");
    let io = |e: std::io::Error| CliError::Io(format!("{}: {e}", path.display()));
    let mut file = std::fs::File::create(&temporary).map_err(io)?;
    file.write_all(&signed.to_json())
        .and_then(|()| file.sync_all())
        .map_err(io)?;
    std::fs::rename(&temporary, &path).map_err(io)
}

/// The bundle kept beside `store`, verified now with the receipt key kept at enrolment.
/// `Ok(None)`: no bundle (or the device is not enrolled). A bundle that does not verify is an
/// error: the courier must know the device's trust is not what the receiver sent.
pub fn load(store: &Path) -> Result<Option<VerifiedTrustBundle>, CliError> {
    let path = path_of(store);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CliError::Environment(format!("{}: {e}", path.display()))),
    };
    let key_path = with_suffix(store, ".receiver-key");
    let receiver_key = read_receipt_key(&key_path)?.ok_or_else(|| {
        CliError::Environment(format!(
            "{}: a trust bundle but no receipt key ({}) to verify it; enrol this device again",
            path.display(),
            key_path.display()
        ))
    })?;
    let refused = |e: String| {
        CliError::Environment(format!(
            "the trust bundle {} cannot be used ({e}); run `honnin sync` while online",
            path.display()
        ))
    };
    let signed = SignedTrustBundle::from_json(&bytes).map_err(|e| refused(e.to_string()))?;
    signed
        .verify(&receiver_key, None, SystemClock.now())
        .map(Some)
        .map_err(|e| refused(e.to_string()))
}

/// A verifier trusting the bundle's anchors and any anchors in `extra_dir`, with the bundle's
/// lists (each naming the bundle, refused once it expired) and the lists in `extra_crls`.
pub fn verifier(
    bundle: &VerifiedTrustBundle,
    extra_dir: Option<&Path>,
    extra_crls: &[PathBuf],
    now: UnixTime,
) -> Result<Verifier, CliError> {
    let mut certificates: Vec<Vec<u8>> = bundle
        .anchors()
        .iter()
        .map(|a| a.certificate_der().to_vec())
        .collect();
    if let Some(dir) = extra_dir {
        let extra = TrustAnchors::load_dir(dir).map_err(|e| {
            CliError::Environment(format!("trust anchors in {}: {e}", dir.display()))
        })?;
        certificates.extend(extra.iter().map(|a| a.certificate_der().to_vec()));
    }
    let anchors = TrustAnchors::from_der(certificates)
        .map_err(|e| CliError::Environment(format!("the trust bundle's anchors: {e}")))?;
    let mut lists = bundle.revocation_lists();
    for path in extra_crls {
        let bytes = std::fs::read(path)
            .map_err(|e| CliError::Environment(format!("{}: {e}", path.display())))?;
        lists.push(
            RevocationList::from_der(&bytes)
                .map_err(|e| CliError::Environment(format!("{}: {e}", path.display())))?,
        );
    }
    // Said before the check, so the courier knows what revocation is checked against.
    if bundle.is_expired(now) {
        eprintln!(
            "warning: the trust bundle {} expired (issued {} h ago); its revocation lists are not used as current: run `honnin sync` while online",
            bundle.serial,
            bundle.age_hours(now)
        );
    } else {
        eprintln!(
            "trust bundle {}: {} anchors, {} revocation lists, issued {} h ago",
            bundle.serial,
            bundle.anchors().len(),
            bundle.revocation_lists().len(),
            bundle.age_hours(now)
        );
    }
    Ok(Verifier::new(anchors).with_revocation_lists(lists))
}
