//! The trust bundle a device keeps between syncs, used the same way on every device: the
//! desktop CLI (a file beside its record store) and the Android app (through the bindings, the
//! same file beside its store) call this module, so a kept bundle is verified, its serial
//! guards against rollback, its anchors and lists become a [`Verifier`], and its age is told,
//! by one piece of code.
//!
//! A kept bundle is never trusted for having been kept: it is verified again with the receipt
//! key each time it is read, so an edited file is refused rather than skipped. Its lists go to
//! the verifier marked with the bundle ([`VerifiedTrustBundle::revocation_lists`]), so a check
//! after the bundle's expiry or a list's nextUpdate fails its revocation check and says which
//! list and why, instead of quietly using old revocation data. [`TrustBundleStatus`] says the
//! same before any card is read, for a screen or a log line.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{SignedTrustBundle, TrustBundleError, VerifiedTrustBundle};
use crate::check::Verifier;
use crate::record::DeviceKey;
use crate::verify::UnixTime;
use crate::verify::x509::{AnchorError, RevocationList, TrustAnchors, date};

/// Largest kept bundle read: 64 anchors and 64 lists, base64, with room to spare. A bigger file
/// is not one sync wrote.
pub const MAX_KEPT_BYTES: u64 = 64 * 1024 * 1024;

/// Parses the bytes of a kept bundle and verifies them with the receipt key trusted now (no
/// rollback check: this is the bundle the device has).
pub fn open_kept(
    bytes: &[u8],
    receipt_key: &DeviceKey,
    now: UnixTime,
) -> Result<VerifiedTrustBundle, TrustBundleError> {
    SignedTrustBundle::from_json(bytes)?.verify(receipt_key, None, now)
}

/// The serial of the kept bundle, for the rollback check of the next fetch: the bundle verified
/// with one of `receipt_keys` (the key trusted before a rotation learnt in this sync signed the
/// bundle kept before it). `None` when there is none or it does not verify: the next good bundle
/// replaces it.
pub fn kept_serial(
    bytes: Option<&[u8]>,
    receipt_keys: &[&DeviceKey],
    now: UnixTime,
) -> Option<u64> {
    let signed = SignedTrustBundle::from_json(bytes?).ok()?;
    receipt_keys
        .iter()
        .find_map(|key| signed.verify(key, None, now).ok())
        .map(|verified| verified.serial)
}

/// Reads a kept bundle's file; `Ok(None)` when there is none.
pub fn read_kept(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read as _;
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    file.take(MAX_KEPT_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_KEPT_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {MAX_KEPT_BYTES} bytes: not a trust bundle sync kept"),
        ));
    }
    Ok(Some(bytes))
}

/// Keeps `signed` at `path` in place of the bundle kept before, all or nothing: written to a
/// temporary file beside it, synced, renamed over the old one, and the directory synced, so a
/// crash leaves the old bundle or the new one, never half of one.
pub fn keep(path: &Path, signed: &SignedTrustBundle) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(&signed.to_json())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)?;
    // The rename itself is durable only once the directory is; a directory that cannot be
    // opened for that (some platforms) still holds the whole file, old or new.
    if let Some(dir) = path.parent()
        && let Ok(dir) = std::fs::File::open(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

impl VerifiedTrustBundle {
    /// A verifier trusting the bundle's anchors (and `extra_anchors`, e.g. an operator's own
    /// directory), with the bundle's lists, each naming the bundle and refused by the revocation
    /// check once the bundle expired, then `extra_lists`.
    pub fn verifier(
        &self,
        extra_anchors: Option<&TrustAnchors>,
        extra_lists: Vec<RevocationList>,
    ) -> Result<Verifier, AnchorError> {
        let mut certificates: Vec<Vec<u8>> = self
            .anchors()
            .iter()
            .map(|a| a.certificate_der().to_vec())
            .collect();
        if let Some(extra) = extra_anchors {
            certificates.extend(extra.iter().map(|a| a.certificate_der().to_vec()));
        }
        let anchors = TrustAnchors::from_der(certificates)?;
        let mut lists = self.revocation_lists();
        lists.extend(extra_lists);
        Ok(Verifier::new(anchors).with_revocation_lists(lists))
    }

    /// How current the bundle and each of its lists are at `now`.
    pub fn status(&self, now: UnixTime) -> TrustBundleStatus {
        let expired = self.is_expired(now);
        let lists = self
            .revocation_lists()
            .iter()
            .map(|list| ListStatus {
                description: list.describe(now),
                this_update: list.this_update().0,
                next_update: list.next_update().map(|t| t.0),
                stale: expired || list.next_update().is_none_or(|next| now.0 > next.0),
            })
            .collect();
        TrustBundleStatus {
            serial: self.serial,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            age_hours: self.age_hours(now),
            expired,
            anchors: self.anchors().len(),
            lists,
        }
    }
}

/// A kept bundle's freshness at one instant, for the courier or the log before a check: the
/// check itself reports the same through its revocation result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustBundleStatus {
    pub serial: u64,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds; after this none of the bundle's lists counts as current.
    pub expires_at: i64,
    pub age_hours: i64,
    pub expired: bool,
    pub anchors: usize,
    pub lists: Vec<ListStatus>,
}

/// One revocation list of a kept bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListStatus {
    /// Its issuer, issue date, age, next update and bundle, as the revocation check names it.
    pub description: String,
    pub this_update: i64,
    pub next_update: Option<i64>,
    /// Past its nextUpdate (or it has none), or its bundle expired: the revocation check fails
    /// with it rather than use it as current.
    pub stale: bool,
}

impl TrustBundleStatus {
    /// Whether revocation can be checked as current with this bundle: not expired, and no list
    /// past its next update.
    pub fn is_current(&self) -> bool {
        !self.expired && self.lists.iter().all(|list| !list.stale)
    }

    /// One line for the courier's log or screen.
    pub fn summary(&self) -> String {
        if self.expired {
            return format!(
                "the trust bundle {} expired on {} (issued {} h ago): its revocation lists are not used as current; sync while online",
                self.serial,
                date(self.expires_at),
                self.age_hours
            );
        }
        let stale = self.lists.iter().filter(|list| list.stale).count();
        let mut line = format!(
            "trust bundle {}: {} anchors, {} revocation lists, issued {} h ago, valid until {}",
            self.serial,
            self.anchors,
            self.lists.len(),
            self.age_hours,
            date(self.expires_at)
        );
        if stale > 0 {
            line.push_str(&format!(
                "; {stale} of its lists are past their next update and are not used as current: sync while online"
            ));
        }
        line
    }
}

#[cfg(test)]
#[path = "trust_bundle_kept_tests.rs"]
mod tests;
