//! Fetching the item manifest on a sync, and the receipt-key rotation window that the manifest
//! and the trust bundle downloads share.
//!
//! **The rotation window.** `honnin-receiver rotate-receipt-key` writes the rotation to the
//! database, and `GET /v1/receipt-key` announces it at once; each serving instance switches the
//! key it signs with a few seconds later (its reloader looks every 5 s). A device that learnt
//! the rotation at the start of this sync ([`SyncClient::update_receipt_key`]) can therefore
//! get a manifest or a trust bundle still signed by the key the rotation replaced.
//!
//! Two ways out were weighed:
//! - Accept what the replaced key signed. It was authentic a moment ago, but a manifest is kept
//!   and verified again with the receipt key the device holds at every door lookup: one signed
//!   by the old key would fail each lookup after this sync. And the device would go on trusting
//!   content from a key it has just been told to stop trusting.
//! - Download again, a bounded number of times, until it is signed by the key trusted now. This
//!   is what is done ([`SyncClient::across_rotation`]): nothing is ever accepted that the key
//!   trusted now did not sign. The wait happens only when the answer verifies under a key that
//!   a rotation *in this very client* replaced: the device trusted that key when the sync
//!   began, so only the receiver that held it (not someone in between, who cannot sign with
//!   it) can make the device wait, and never for more than [`ROTATION_WINDOW_TRIES`] downloads
//!   ([`SyncConfig::rotation_pause`](super::SyncConfig::rotation_pause) apart, 1 s by default:
//!   past the receiver's 5 s reload). Anything signed by a key the device never trusted is
//!   refused at once, as before.

use super::client::{SyncClient, SyncError, SyncReport};
use super::protocol::MANIFEST_REQUEST;
use crate::manifest::{SignedManifest, VerifiedManifest};
use crate::record::{DeviceKey, DeviceSigner, RecordError};
use crate::store::{Store, StoreError};
use crate::verify::{Clock, RandomSource};

/// Most downloads of one manifest or bundle while the receiver still signs with the key a
/// rotation of this sync replaced.
pub const ROTATION_WINDOW_TRIES: u32 = 8;

impl SyncClient {
    /// Runs `download` again while its answer does not verify with the key trusted now but does
    /// with one a rotation of this client replaced (`verifies(answer, key)`), at most
    /// [`ROTATION_WINDOW_TRIES`] times; the last answer is returned for the caller to verify
    /// (and refuse) as usual.
    pub(super) fn across_rotation<T>(
        &self,
        mut download: impl FnMut() -> Result<T, SyncError>,
        verifies: impl Fn(&T, &DeviceKey) -> bool,
    ) -> Result<T, SyncError> {
        let mut tries = 1;
        loop {
            let answer = download()?;
            let in_window = !verifies(&answer, &self.receiver_key)
                && self.previous_keys.iter().any(|key| verifies(&answer, key));
            if !in_window || tries >= ROTATION_WINDOW_TRIES {
                return Ok(answer);
            }
            tries += 1;
            std::thread::sleep(self.config.rotation_pause);
        }
    }

    /// Downloads this device's item manifest, verifies it with the receiver's key and keeps it
    /// in `store` in place of the previous one. A manifest that does not verify is refused
    /// ([`SyncError::BadManifest`]) and the previous one stays; one signed by the key a rotation
    /// of this sync replaced is downloaded again (see the module documentation).
    pub fn fetch_manifest(
        &self,
        store: &mut Store,
        signer: &dyn DeviceSigner,
        clock: &dyn Clock,
        random: &mut dyn RandomSource,
    ) -> Result<VerifiedManifest, SyncError> {
        self.agent()?;
        let key = DeviceKey::from_spki_der(&signer.public_key_der().map_err(RecordError::from)?)?;
        let mut report = SyncReport::default();
        let device = self.config.device_id.as_str();
        let manifest = self.across_rotation(
            || {
                self.signed_exchange(
                    "/v1/manifest",
                    None,
                    MANIFEST_REQUEST,
                    signer,
                    &key,
                    clock,
                    &mut *random,
                    &mut report,
                    |text| SignedManifest::from_json(text).ok(),
                )
            },
            |manifest, by| manifest.verify(by, device, clock.now()).is_ok(),
        )?;
        store
            .save_manifest(&manifest, &self.receiver_key, device, clock.now())
            .map_err(|e| match e {
                StoreError::Manifest(e) => SyncError::BadManifest(e),
                other => SyncError::Store(other),
            })
    }
}

#[cfg(test)]
#[path = "manifest_fetch_tests.rs"]
mod tests;
