//! The item manifest for Kotlin: download it from the receiver while online (signed by the
//! receiver, verified with the receipt key, kept sealed in the record store), and look an item
//! up at the door, offline: its sender, addressee, the levels the sender accepts and the
//! attributes it wants in the record.

use std::sync::Arc;

use honnin_core::check::Level;
use honnin_core::manifest::{ItemPolicy, VerifiedManifest};
use honnin_core::store::Store;
use honnin_core::sync::{SyncClient, SyncError};
use honnin_core::verify::SystemRandom;

use crate::error::HonninError;
use crate::keys::{LiveClock, Signer, bridged, now};
use crate::session::CancellationToken;
use crate::store::{RecordAttributes, RecordStore};
use crate::sync::{ReceiverCall, ReceiverConfig, receipt_key};

/// One item the device carries, as its sender registered it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ManifestItem {
    pub item_id: String,
    pub sender_id: String,
    /// The name printed on the parcel, matched against the card.
    pub addressee_name: String,
    pub addressee_address: Option<String>,
    /// The lowest level the sender accepts.
    pub min_level: Level,
    /// The levels the courier may choose, lowest first.
    pub allowed_levels: Vec<Level>,
    /// What the record keeps of the holder's attributes: pass it to `RecordStore.append`.
    pub attributes: RecordAttributes,
}

impl From<&ItemPolicy> for ManifestItem {
    fn from(item: &ItemPolicy) -> Self {
        Self {
            item_id: item.item_id.clone(),
            sender_id: item.sender_id.clone(),
            addressee_name: item.addressee.name.clone(),
            addressee_address: item.addressee.address.clone(),
            min_level: item.min_level,
            allowed_levels: item.allowed_levels(),
            attributes: RecordAttributes {
                name: item.attributes.name,
                address: item.attributes.address,
                birth_date: item.attributes.birth_date,
                sex: item.attributes.sex,
            },
        }
    }
}

/// A verified manifest.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Manifest {
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds; after this the manifest is not used: download a new one.
    pub expires_at: i64,
    pub items: Vec<ManifestItem>,
}

impl From<&VerifiedManifest> for Manifest {
    fn from(manifest: &VerifiedManifest) -> Self {
        Self {
            issued_at: manifest.issued_at,
            expires_at: manifest.expires_at,
            items: manifest.items().iter().map(ManifestItem::from).collect(),
        }
    }
}

/// What a sync did with the item manifest.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ManifestUpdate {
    /// Downloaded, verified with the receipt key trusted now and kept in the store in place of
    /// the one before.
    Kept { manifest: Manifest },
    /// Not updated; the kept one (if any) stays. `retryable`: the receiver could not be reached
    /// (or the sync was stopped), so trying later may help; otherwise the manifest was refused
    /// (not signed by the receipt key, made for another device, malformed).
    NotUpdated { detail: String, retryable: bool },
}

/// Fetches the manifest after a sync's records, with the sync's own client (so it knows the
/// key a rotation of this sync replaced). Only a revoked device is an error; anything else is
/// told in the update, since the records are synced already.
pub(crate) fn refresh(
    client: &SyncClient,
    store: &mut Store,
    signer: &dyn honnin_core::record::DeviceSigner,
    clock: &LiveClock,
) -> Result<ManifestUpdate, SyncError> {
    match client.fetch_manifest(store, signer, clock, &mut SystemRandom) {
        Ok(manifest) => Ok(ManifestUpdate::Kept {
            manifest: Manifest::from(&manifest),
        }),
        Err(error @ SyncError::DeviceRevoked { .. }) => Err(error),
        Err(other) => Ok(ManifestUpdate::NotUpdated {
            retryable: matches!(other, SyncError::Unreachable { .. }),
            detail: other.to_string(),
        }),
    }
}

#[uniffi::export]
impl RecordStore {
    /// Downloads this device's item manifest from the receiver, verifies the receiver's
    /// signature with `receiver_key` (from `enrol`) and keeps it in the store in place of the
    /// previous one. Throws `ManifestInvalid` when it does not verify (the previous one stays),
    /// `Offline`, `UntrustedReceiver`, `Cancelled` as `sync` does. Blocks on the network.
    /// `sync` fetches the manifest too (`SyncSummary.manifest`), and only there is one still
    /// signed by the receipt key a rotation of that sync replaced fetched again: prefer it.
    #[uniffi::method(default(cancellation = None))]
    pub fn fetch_manifest(
        &self,
        receiver: ReceiverConfig,
        receiver_key: Vec<u8>,
        cancellation: Option<Arc<CancellationToken>>,
    ) -> Result<Manifest, HonninError> {
        let ReceiverCall {
            _one_at_a_time,
            receiver_key,
            config,
            stop,
            mut store,
            clock,
        } = self.receiver_call(receiver, &receiver_key, cancellation)?;
        let signer = Signer::new(Arc::clone(&self.signer), Arc::clone(&stop));
        let client = SyncClient::new(config, receiver_key);
        let fetched = client.fetch_manifest(&mut store, &signer, &clock, &mut SystemRandom);
        Ok(Manifest::from(&bridged(&stop, fetched)?))
    }

    /// The manifest kept in the store, verified now (signature, device, expiry); `None` when
    /// none was downloaded yet. Throws `ManifestExpired` once it expired, `ManifestInvalid`
    /// when it no longer verifies with `receiver_key`.
    pub fn manifest(
        &self,
        receiver_key: Vec<u8>,
        device_id: String,
    ) -> Result<Option<Manifest>, HonninError> {
        let receiver_key = receipt_key(&receiver_key)?;
        let time = now(self.clock.as_ref())?;
        let kept = self.store().manifest(&receiver_key, &device_id, time)?;
        Ok(kept.as_ref().map(Manifest::from))
    }

    /// The item `item_id` (as the courier typed or scanned it) in the kept manifest; `None`
    /// when there is no manifest or the item is not in it (then the courier types the
    /// addressee, and the sender's policy is not known on the device).
    pub fn manifest_item(
        &self,
        receiver_key: Vec<u8>,
        device_id: String,
        item_id: String,
    ) -> Result<Option<ManifestItem>, HonninError> {
        let receiver_key = receipt_key(&receiver_key)?;
        let time = now(self.clock.as_ref())?;
        let kept = self.store().manifest(&receiver_key, &device_id, time)?;
        Ok(kept
            .as_ref()
            .and_then(|m| m.item(&item_id))
            .map(ManifestItem::from))
    }
}
