//! Fetching the trust bundle ([`crate::trust_bundle`]) on a sync: a request signed like a
//! manifest request, and the answer kept only if it verifies with the receipt key and is not
//! older than the bundle the device has.

use super::client::{SyncClient, SyncError, SyncReport};
use super::protocol::TRUST_BUNDLE_REQUEST;
use crate::record::{DeviceKey, DeviceSigner, RecordError};
use crate::trust_bundle::{SignedTrustBundle, VerifiedTrustBundle};
use crate::verify::{Clock, RandomSource};

/// What a fetch of the trust bundle found.
// Made once per sync and taken apart at once: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum FetchedTrustBundle {
    /// A bundle that verified: keep `signed` (in place of the one kept before).
    Verified {
        signed: SignedTrustBundle,
        verified: VerifiedTrustBundle,
    },
    /// The receiver's operator has loaded none (404 `no_trust_bundle`): keep what is kept.
    NoneLoaded,
}

impl SyncClient {
    /// Downloads the trust bundle and verifies it with the receiver's key; `kept_serial` is the
    /// serial of the bundle the device keeps, so an older one is refused
    /// ([`SyncError::BadTrustBundle`]). Transport failures are retried as for batches.
    pub fn fetch_trust_bundle(
        &self,
        kept_serial: Option<u64>,
        signer: &dyn DeviceSigner,
        clock: &dyn Clock,
        random: &mut dyn RandomSource,
    ) -> Result<FetchedTrustBundle, SyncError> {
        self.agent()?;
        let key = DeviceKey::from_spki_der(&signer.public_key_der().map_err(RecordError::from)?)?;
        let mut report = SyncReport::default();
        // A bundle the receiver still signed with the key a rotation of this sync replaced is
        // downloaded again (see `manifest_fetch`).
        let fetched = self.across_rotation(
            || {
                self.signed_exchange(
                    // This client reads v2 bundles (with phone issuer anchors); a receiver
                    // before v2 ignores the query and answers v1, which this client reads too.
                    "/v1/trust-bundle?format=v2",
                    None,
                    TRUST_BUNDLE_REQUEST,
                    signer,
                    &key,
                    clock,
                    &mut *random,
                    &mut report,
                    |text| SignedTrustBundle::from_json(text).ok(),
                )
            },
            |signed, by| signed.verify(by, kept_serial, clock.now()).is_ok(),
        );
        let signed = match fetched {
            Ok(signed) => signed,
            Err(SyncError::Refused { status: 404, .. }) => {
                return Ok(FetchedTrustBundle::NoneLoaded);
            }
            Err(other) => return Err(other),
        };
        let verified = signed
            .verify(&self.receiver_key, kept_serial, clock.now())
            .map_err(SyncError::BadTrustBundle)?;
        Ok(FetchedTrustBundle::Verified { signed, verified })
    }
}
