//! The item manifest on the device: the last one downloaded, sealed like the records, and
//! verified again every time it is read (signature, device, expiry), so a manifest edited on
//! disk or one that expired while the device was offline is never used.

use super::crypt::Purpose;
use super::error::StoreError;
use super::{Store, meta};
use crate::manifest::{SignedManifest, VerifiedManifest};
use crate::record::DeviceKey;
use crate::verify::UnixTime;

const NAME: &str = "manifest";

impl Store {
    /// Verifies `manifest` with the receiver's key for `device_id` and keeps it in place of the
    /// previous one. A manifest that does not verify is not stored, and the previous one stays.
    pub fn save_manifest(
        &mut self,
        manifest: &SignedManifest,
        receiver_key: &DeviceKey,
        device_id: &str,
        now: UnixTime,
    ) -> Result<VerifiedManifest, StoreError> {
        let verified = manifest.verify(receiver_key, device_id, now)?;
        let sealed = self
            .sealer
            .seal(Purpose::Manifest, &manifest.to_json(), self.random.as_mut());
        meta::put(&self.conn, NAME, &sealed)?;
        Ok(verified)
    }

    /// The stored manifest, verified now; `None` when none was downloaded yet.
    pub fn manifest(
        &self,
        receiver_key: &DeviceKey,
        device_id: &str,
        now: UnixTime,
    ) -> Result<Option<VerifiedManifest>, StoreError> {
        let Some(sealed) = meta::get(&self.conn, NAME)? else {
            return Ok(None);
        };
        let plain = self
            .sealer
            .open(Purpose::Manifest, &sealed)
            .map_err(|_| StoreError::MetaDamaged { what: "manifest" })?;
        let manifest = SignedManifest::from_json(&plain)
            .map_err(|_| StoreError::MetaDamaged { what: "manifest" })?;
        Ok(Some(manifest.verify(receiver_key, device_id, now)?))
    }
}
