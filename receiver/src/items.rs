//! Items and policies: a sender registers the items it sends (item id, the device that carries
//! it, addressee, the lowest check level it accepts, the attributes it wants back); a device
//! downloads the manifest of the items assigned to it, signed with the receipt key
//! ([`honnin_core::manifest`]), so the door check works offline with the addressee and policy.
//!
//! On ingest, a record for a registered item is checked against the item's policy
//! ([`policy_check`]): same sender, the device the item was assigned to, a level at least the
//! sender's minimum, exactly the attributes the sender asked for. A record reaches a sender's
//! feed only for an item that sender registered for the record's device, or when the operator
//! enrolled the device for that sender ([`feed_sender`]). Items a device delivered (a genuine,
//! `verified` record that passed the item's policy, see [`proves_delivery`]) drop out of its
//! manifest, and the sender sees the delivery on the item.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use honnin_core::check::{Level, Verdict};
use honnin_core::manifest::{
    MANIFEST_FORMAT, MAX_ITEMS, ManifestBody, ManifestItem, SignedManifest, check_id,
};
use honnin_core::record::RecordBody;
use honnin_core::verify::CheckState;
use honnin_core::verify::record::{RecordCheck, RecordVerification};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::storage::ItemRow;
use crate::{Receiver, auth, now};

/// How long a manifest is valid: a working day and a night offline, then the device fetches a
/// new one.
pub const MANIFEST_SECONDS: i64 = 36 * 3600;

pub use honnin_core::sync::protocol::MANIFEST_REQUEST;

/// One item as a sender registers it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemRegistration {
    pub item_id: String,
    /// The device (handheld) the item is dispatched with.
    pub device_id: String,
    pub addressee_name: String,
    #[serde(default)]
    pub addressee_address: Option<String>,
    /// `A`, `B` or `C`.
    pub min_level: String,
    /// Of `name`, `address`, `birth_date`, `sex`.
    #[serde(default)]
    pub attributes: Vec<String>,
}

/// An item as `GET /v1/items/{item_id}` shows it: the registration, and the delivery once a
/// record proved it.
#[derive(Serialize)]
struct ItemStatus {
    #[serde(flatten)]
    registration: ItemRegistration,
    delivery: Option<DeliveryStatus>,
}

#[derive(Serialize)]
struct DeliveryStatus {
    record_id: String,
    delivered_at: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemsRequest {
    items: Vec<ItemRegistration>,
}

impl ItemRow {
    fn manifest_item(&self) -> ManifestItem {
        ManifestItem {
            item_id: self.item_id.clone(),
            sender_id: self.sender_id.clone(),
            addressee_name: self.addressee_name.clone(),
            addressee_address: self.addressee_address.clone(),
            min_level: self.min_level.clone(),
            attributes: self
                .attributes
                .split(',')
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }

    fn registration(&self) -> ItemRegistration {
        let item = self.manifest_item();
        ItemRegistration {
            item_id: item.item_id,
            device_id: self.device_id.clone(),
            addressee_name: item.addressee_name,
            addressee_address: item.addressee_address,
            min_level: item.min_level,
            attributes: item.attributes,
        }
    }
}

/// Validates a registration the way a device will validate its manifest.
fn row(sender_id: &str, item: ItemRegistration) -> Result<ItemRow, ApiError> {
    let invalid = |e: String| ApiError::bad_request("invalid_item", e);
    check_id("the device id", &item.device_id).map_err(|e| invalid(e.to_string()))?;
    let manifest_item = ManifestItem {
        item_id: item.item_id,
        sender_id: sender_id.to_owned(),
        addressee_name: item.addressee_name,
        addressee_address: item.addressee_address,
        min_level: item.min_level,
        attributes: item.attributes,
    };
    let policy = manifest_item.policy().map_err(|e| invalid(e.to_string()))?;
    Ok(ItemRow {
        item_id: manifest_item.item_id,
        sender_id: sender_id.to_owned(),
        device_id: item.device_id,
        addressee_name: manifest_item.addressee_name,
        addressee_address: manifest_item.addressee_address,
        min_level: format!("{:?}", policy.min_level),
        attributes: policy.attributes.names().join(","),
    })
}

type Shared = State<Arc<Receiver>>;

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| crate::routes::internal())?
}

/// `PUT /v1/items`: registers or replaces the sender's items, all or none.
pub async fn put_items(
    State(receiver): Shared,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let sender = auth::sender_counted(&receiver, client, &headers).await?;
    let request: ItemsRequest = crate::routes::parse_json(&body)?;
    if request.items.len() > receiver.limits.max_batch {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_items",
            format!(
                "at most {} items per request; send the rest in another",
                receiver.limits.max_batch
            ),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    let mut rows = Vec::with_capacity(request.items.len());
    for item in request.items {
        // 409, not 400: each entry is well formed, the list contradicts itself (the document
        // says each item_id at most once; a schema cannot say it of one property).
        if !seen.insert(item.item_id.clone()) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "item_listed_twice",
                format!(
                    "item {:?} is listed twice; list each item once (nothing was registered)",
                    item.item_id
                ),
            ));
        }
        rows.push(row(&sender, item)?);
    }
    let count = rows.len();
    let storage = receiver.storage.clone();
    let per_device = receiver.limits.max_items_per_device;
    blocking(move || {
        storage
            .put_items(&sender, &rows, now(), per_device)
            .map_err(|e| match e {
                crate::StorageError::TooManyItems { device_id, cap } => ApiError::new(
                    StatusCode::CONFLICT,
                    "too_many_items_for_device",
                    format!(
                        "this would give device {device_id:?} more than {cap} undelivered items of this sender (the cap per sender and device); nothing was registered: remove items that will not go out (DELETE /v1/items/{{item_id}}) or assign them to another device"
                    ),
                ),
                crate::StorageError::ItemTaken(item_id) => ApiError::new(
                    StatusCode::CONFLICT,
                    "item_taken",
                    format!(
                        "item {item_id:?} is registered by another sender; item ids must be unique"
                    ),
                ),
                other => other.into(),
            })
    })
    .await?;
    Ok(Json(serde_json::json!({ "registered": count })))
}

/// `GET /v1/items/{item_id}`: one of the sender's items, as registered, with its delivery.
pub async fn get_item(
    State(receiver): Shared,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(item_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let sender = auth::sender_counted(&receiver, client, &headers).await?;
    let storage = receiver.storage.clone();
    let status = blocking(move || {
        match storage.item(&item_id)? {
            // Another sender's item is reported as missing: its existence is not this sender's
            // business.
            Some(item) if item.sender_id == sender => {
                let delivery = storage.delivery(&item_id)?.map(|d| DeliveryStatus {
                    record_id: d.record_id,
                    delivered_at: d.delivered_at,
                });
                Ok(Some(ItemStatus {
                    registration: item.registration(),
                    delivery,
                }))
            }
            _ => Ok(None),
        }
    })
    .await?;
    status.map(Json).ok_or_else(not_found)
}

/// `DELETE /v1/items/{item_id}`: the item leaves the manifests (a returned parcel, say).
pub async fn delete_item(
    State(receiver): Shared,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(item_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let sender = auth::sender_counted(&receiver, client, &headers).await?;
    let storage = receiver.storage.clone();
    let removed = blocking(move || Ok(storage.remove_item(&sender, &item_id)?)).await?;
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}

fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_such_item",
        "this sender has no item with this id",
    )
}

/// `GET /v1/manifest`: the signed manifest of the items assigned to the requesting device and
/// not delivered yet. The request is signed like a batch, over [`MANIFEST_REQUEST`].
pub async fn manifest(
    State(receiver): Shared,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    receiver
        .limiter
        .check(client.ip(), receiver.limits.max_auth_failures)?;
    let worker = receiver.clone();
    let outcome = blocking(move || {
        let (device_id, _) = auth::device(&worker, &headers, MANIFEST_REQUEST)?;
        let rows = worker.storage.device_items(&device_id, MAX_ITEMS)?;
        if rows.len() >= MAX_ITEMS {
            // Said to the operator: the device misses items until some are delivered.
            eprintln!(
                "honnin-receiver: the manifest of device {device_id:?} is full ({MAX_ITEMS} items); further items are left out, each sender's share kept even"
            );
        }
        let issued_at = now();
        let body = ManifestBody {
            format: MANIFEST_FORMAT.to_owned(),
            device_id,
            issued_at,
            expires_at: issued_at + MANIFEST_SECONDS,
            items: rows.iter().map(ItemRow::manifest_item).collect(),
        };
        let signer = worker.key.signer();
        SignedManifest::sign(body, signer.as_ref(), signer.device_key()).map_err(|e| {
            eprintln!("honnin-receiver: signing a manifest: {e}");
            crate::routes::internal()
        })
    })
    .await;
    match outcome {
        Ok(signed) => Ok((
            [(header::CONTENT_TYPE, "application/json")],
            signed.to_json(),
        )),
        Err(error) => {
            if error.status == StatusCode::UNAUTHORIZED {
                receiver
                    .limiter
                    .failed(client.ip(), receiver.limits.max_auth_failures);
            }
            Err(error)
        }
    }
}

/// The sender whose feed a record reaches: the sender it names, but only when that sender
/// registered the item for the device that made the record, or the operator enrolled the device
/// for that sender (`honnin-receiver enrol-code --sender`). Otherwise no sender's: a device cannot
/// put records, and the holder attributes in them, into a feed of its choosing. Such a record is
/// still stored (evidence is never dropped) and its `item_policy` fails.
pub fn feed_sender(
    item: Option<&ItemRow>,
    device_senders: &[String],
    body: &RecordBody,
) -> Option<String> {
    let named = body.sender_id();
    let registered_here =
        item.is_some_and(|item| item.sender_id == named && item.device_id == body.device_id());
    (registered_here || device_senders.iter().any(|s| s == named)).then(|| named.to_owned())
}

/// The `item_policy` check of a record, added to its verification. For a registered item: the
/// record must come from the sender that registered it, from the device it was assigned to, at a
/// level no lower than the sender's minimum, keeping exactly the attributes the sender asked for
/// (more would be personal data the sender has no purpose for; fewer, data it needs). For an
/// item nobody registered: not checked when the device is enrolled for the sender the record
/// names, failed otherwise (see [`feed_sender`]).
pub fn policy_check(
    item: Option<&ItemRow>,
    device_senders: &[String],
    attributes_kept: &[String],
    verification: &RecordVerification,
) -> RecordCheck {
    let check = |state, reason: &str, detail: String| RecordCheck {
        check: "item_policy".to_owned(),
        state,
        reason: reason.to_owned(),
        detail,
    };
    let Some(item) = item else {
        if device_senders.contains(&verification.sender_id) {
            return check(
                CheckState::NotChecked,
                "not_registered",
                "the sender registered no item with this id; the device is enrolled for the sender"
                    .into(),
            );
        }
        return check(
            CheckState::Failed,
            "sender_not_authorised",
            "the sender the record names registered no such item, and the device is not enrolled for that sender: the record reaches no sender's feed".into(),
        );
    };
    if item.sender_id != verification.sender_id {
        return check(
            CheckState::Failed,
            "wrong_sender",
            "the item is registered by another sender than the record names".into(),
        );
    }
    if item.device_id != verification.device_id {
        return check(
            CheckState::Failed,
            "wrong_device",
            format!(
                "the item was assigned to device {:?}, the record comes from {:?}",
                item.device_id, verification.device_id
            ),
        );
    }
    let made = verification.level;
    let wanted = match item.min_level.parse::<Level>() {
        Ok(wanted) if made >= wanted => wanted,
        Ok(wanted) => {
            return check(
                CheckState::Failed,
                "level_below_policy",
                format!(
                    "the check was made at level {}, the sender asks for at least {}",
                    made.code(),
                    wanted.code()
                ),
            );
        }
        Err(_) => {
            return check(
                CheckState::Failed,
                "malformed",
                "the item's registered level cannot be read".into(),
            );
        }
    };
    let asked: Vec<&str> = item
        .attributes
        .split(',')
        .filter(|a| !a.is_empty())
        .collect();
    let beyond: Vec<&str> = attributes_kept
        .iter()
        .map(String::as_str)
        .filter(|a| !asked.contains(a))
        .collect();
    let missing: Vec<&str> = asked
        .iter()
        .copied()
        .filter(|a| !attributes_kept.iter().any(|k| k == a))
        .collect();
    if !beyond.is_empty() {
        return check(
            CheckState::Failed,
            "attributes_beyond_policy",
            format!(
                "the record keeps {} though the sender asked only for [{}]",
                beyond.join(", "),
                asked.join(", ")
            ),
        );
    }
    if !missing.is_empty() {
        return check(
            CheckState::Failed,
            "attributes_missing",
            format!(
                "the sender asked for {} and the record does not keep it",
                missing.join(", ")
            ),
        );
    }
    check(
        CheckState::Passed,
        "verified",
        format!(
            "level {} meets the sender's minimum {}; the record keeps the attributes asked for",
            made.code(),
            wanted.code()
        ),
    )
}

/// Whether a record proves its registered item was handed over: the card was genuine and held
/// by the addressee (the device's word), the level's whole evidence verified again here (so at
/// levels B and C the card itself signed this parcel's challenge), and the item's policy passed
/// (so the item is registered, by this sender, for this device).
pub fn proves_delivery(body: &RecordBody, verification: &RecordVerification) -> bool {
    body.verdict() == Verdict::Genuine
        && verification.is_verified()
        && verification
            .check("item_policy")
            .is_some_and(|check| check.state == CheckState::Passed)
}

/// Adds [`policy_check`] to `verification`, failing it when the policy is not met.
pub fn apply_policy(
    item: Option<&ItemRow>,
    device_senders: &[String],
    attributes_kept: &[String],
    verification: &mut RecordVerification,
) {
    let check = policy_check(item, device_senders, attributes_kept, verification);
    verification.push_check(check);
}
