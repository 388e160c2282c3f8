//! Trust distribution: the operator loads the J-LIS trust anchors and the latest revocation
//! lists into the receiver (`honnin-receiver trust-load`), and every device fetches them, signed
//! with the receipt key, on each sync (`GET /v1/trust-bundle`), so the door check can check
//! revocation on the device ([`honnin_core::trust_bundle`]).
//!
//! What was loaded is kept in the storage's settings (one value, the same for every receiver
//! instance on one database) with a serial one higher than the load before; a load never
//! goes back, so devices, which refuse a lower serial, always take the newest. Each answer is
//! signed when served, valid [`TRUST_BUNDLE_SECONDS`]; each list is also judged by its own
//! nextUpdate on the device, so a list the operator forgot to refresh shows up in the verdicts
//! as stale rather than passing.
//!
//! The sender's phone issuer anchors (IACA certificates, `trust-load --mdoc-anchors`) go into
//! the bundle too, for level-M checks on the device. Only a v2 bundle may carry them, and a
//! device before v2 cannot read one, so the bundle is served as v2 only to devices that ask
//! for it (`?format=v2`), and as v1 (without the phone anchors, the bytes of before) to the
//! others ([`honnin_core::trust_bundle`], "Versions").
//!
//! Anchor rotation is a load with both generations side by side (the 2015 and 2023 J-LIS
//! roots share one name and are told apart by key), then, once no card of the old one is
//! left, a load without it: devices drop it at their next sync.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use honnin_core::mdoc::IssuerAnchors;
use honnin_core::sync::protocol::TRUST_BUNDLE_REQUEST;
use honnin_core::trust_bundle::{
    BundleAnchor, BundleList, MAX_ANCHORS, MAX_LISTS, SignedTrustBundle, TRUST_BUNDLE_FORMAT,
    TRUST_BUNDLE_FORMAT_V2, TrustBundleBody,
};
use honnin_core::verify::x509::{RevocationList, TrustAnchors};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::storage::{Storage, StorageError};
use crate::{Receiver, auth, now};

/// How long a served bundle is valid: a working day and a night offline, as a manifest.
pub const TRUST_BUNDLE_SECONDS: i64 = 36 * 3600;
/// The settings entry the loaded anchors and lists are kept under.
const META_KEY: &str = "trust_bundle.v1";
/// The settings entry holding the serial of the newest load, written after it: small, so
/// every batch can read it to notice a load ([`crate::receiver_trust`]).
pub const SERIAL_KEY: &str = "trust_bundle.serial";
/// Loads tried before giving up when other loads keep winning the race.
const LOAD_ATTEMPTS: u32 = 8;

/// What the operator loaded: the contents of every bundle served until the next load.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadedTrust {
    pub serial: u64,
    /// When it was loaded (Unix seconds).
    pub loaded_at: i64,
    pub anchors: Vec<BundleAnchor>,
    pub lists: Vec<BundleList>,
    /// The phone issuers' IACA certificates (absent in what loads before them kept).
    #[serde(default)]
    pub mdoc_anchors: Vec<BundleAnchor>,
}

/// Why a load was refused (nothing changed then).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustLoadError {
    #[error("trust anchors in {dir}: {why}")]
    Anchors { dir: PathBuf, why: String },
    #[error("{path}: {why}")]
    List { path: PathBuf, why: String },
    #[error("phone issuer anchors in {dir}: {why}")]
    MdocAnchors { dir: PathBuf, why: String },
    #[error(
        "{anchors} anchors and {lists} lists: a bundle carries at most {MAX_ANCHORS} and {MAX_LISTS}"
    )]
    TooMany { anchors: usize, lists: usize },
    #[error("the kept trust bundle cannot be read ({0}); load it again")]
    Damaged(String),
    #[error(
        "the kept trust bundle cannot be read ({0}), and no published serial says which number a new load must exceed (devices refuse a lower one): restore the receiver's settings from a backup"
    )]
    DamagedWithoutSerial(String),
    #[error("other loads kept changing the trust bundle; try again")]
    Contended,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The anchors of `dir` (as `serve --trust-anchors` reads them) and the CRLs (DER) at `crls`,
/// as bundle entries; refused whole if any does not parse.
pub fn read_trust_files(
    dir: &Path,
    crls: &[PathBuf],
) -> Result<(Vec<BundleAnchor>, Vec<BundleList>), TrustLoadError> {
    let anchors = TrustAnchors::load_dir(dir).map_err(|e| TrustLoadError::Anchors {
        dir: dir.to_owned(),
        why: e.to_string(),
    })?;
    if anchors.is_empty() {
        return Err(TrustLoadError::Anchors {
            dir: dir.to_owned(),
            why: "no certificate in it".into(),
        });
    }
    let anchors = anchors
        .iter()
        .map(|anchor| BundleAnchor {
            label: label_of(anchor.source()),
            certificate: BASE64.encode(anchor.certificate_der()),
        })
        .collect();
    let mut lists = Vec::with_capacity(crls.len());
    for path in crls {
        let refused = |why: String| TrustLoadError::List {
            path: path.clone(),
            why,
        };
        let der = std::fs::read(path).map_err(|e| refused(e.to_string()))?;
        let list = RevocationList::from_der(&der).map_err(|e| refused(e.to_string()))?;
        if list.next_update().is_none() {
            return Err(refused(
                "the list has no nextUpdate: a device could never tell it is out of date".into(),
            ));
        }
        lists.push(BundleList {
            label: label_of(&path.display().to_string()),
            crl: BASE64.encode(&der),
            this_update: list.this_update().0,
            next_update: list.next_update().map(|t| t.0),
        });
    }
    Ok((anchors, lists))
}

/// The phone issuers' IACA certificates of `dir` (as `serve --mdoc-anchors` reads them), as
/// bundle entries; refused whole if any does not parse or is not a P-256 key.
pub fn read_mdoc_anchors(dir: &Path) -> Result<Vec<BundleAnchor>, TrustLoadError> {
    let anchors = IssuerAnchors::load_dir(dir).map_err(|e| TrustLoadError::MdocAnchors {
        dir: dir.to_owned(),
        why: e.to_string(),
    })?;
    if anchors.len() > MAX_ANCHORS {
        return Err(TrustLoadError::MdocAnchors {
            dir: dir.to_owned(),
            why: format!(
                "{} certificates; a bundle carries at most {MAX_ANCHORS}",
                anchors.len()
            ),
        });
    }
    Ok(anchors
        .iter()
        .map(|anchor| BundleAnchor {
            label: label_of(anchor.source()),
            certificate: BASE64.encode(anchor.certificate_der()),
        })
        .collect())
}

/// A file's name as a bundle label (the directory says nothing to a device).
fn label_of(source: &str) -> String {
    let name = Path::new(source)
        .file_name()
        .map_or_else(|| source.to_owned(), |n| n.to_string_lossy().into_owned());
    name.chars()
        .filter(|c| !c.is_control())
        .take(honnin_core::trust_bundle::MAX_LABEL_CHARS)
        .collect()
}

/// The CAs (issuer names) `before` carried a revocation list of and `lists` carries none of:
/// a load without them leaves devices and the receiver with no list of those CAs, so a card
/// only those lists revoked is "not checked" again. `trust-load` warns of each.
pub fn lists_dropped(before: &LoadedTrust, lists: &[BundleList]) -> Vec<String> {
    let issuers = |lists: &[BundleList]| -> std::collections::BTreeSet<String> {
        lists
            .iter()
            .filter_map(|list| BASE64.decode(&list.crl).ok())
            .filter_map(|der| RevocationList::from_der(&der).ok())
            .map(|list| list.issuer_name().to_owned())
            .collect()
    };
    issuers(&before.lists)
        .difference(&issuers(lists))
        .cloned()
        .collect()
}

/// The trust the operator loaded last, if any.
pub fn loaded(storage: &dyn Storage) -> Result<Option<LoadedTrust>, TrustLoadError> {
    match storage.meta(META_KEY)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| TrustLoadError::Damaged(e.to_string())),
    }
}

/// Replaces the loaded trust with `anchors` and `lists` (and no phone issuer anchors) under
/// the next serial, logged by `actor`; the serial.
pub fn load(
    storage: &dyn Storage,
    actor: &str,
    anchors: Vec<BundleAnchor>,
    lists: Vec<BundleList>,
    at: i64,
) -> Result<u64, TrustLoadError> {
    load_with_mdoc(storage, actor, anchors, lists, Vec::new(), at)
}

/// Replaces the loaded trust with `anchors`, `lists` and the phone issuer anchors
/// `mdoc_anchors` under the next serial; the serial. Logged by `actor` in the audit log with
/// the serial and what each certificate and list is (label and SHA-256 of its DER), so an
/// auditor can tell which roots and lists the devices were sent from when.
pub fn load_with_mdoc(
    storage: &dyn Storage,
    actor: &str,
    anchors: Vec<BundleAnchor>,
    lists: Vec<BundleList>,
    mdoc_anchors: Vec<BundleAnchor>,
    at: i64,
) -> Result<u64, TrustLoadError> {
    if anchors.len() > MAX_ANCHORS || lists.len() > MAX_LISTS || mdoc_anchors.len() > MAX_ANCHORS {
        return Err(TrustLoadError::TooMany {
            anchors: anchors.len(),
            lists: lists.len(),
        });
    }
    for _ in 0..LOAD_ATTEMPTS {
        let before = storage.meta(META_KEY)?;
        let mut replaces_damaged = false;
        let serial = match &before {
            None => 1,
            Some(bytes) => match serde_json::from_slice::<LoadedTrust>(bytes) {
                Ok(kept) => kept.serial.saturating_add(1),
                // A load is how the operator repairs a damaged bundle; the serial it must
                // exceed is the one published beside it, so devices take the repair.
                Err(e) => {
                    replaces_damaged = true;
                    published_serial(storage)?
                        .ok_or_else(|| TrustLoadError::DamagedWithoutSerial(e.to_string()))?
                        .saturating_add(1)
                }
            },
        };
        let next = LoadedTrust {
            serial,
            loaded_at: at,
            anchors: anchors.clone(),
            lists: lists.clone(),
            mdoc_anchors: mdoc_anchors.clone(),
        };
        let bytes =
            serde_json::to_vec(&next).map_err(|e| TrustLoadError::Damaged(e.to_string()))?;
        // Compare-and-set, so two loads at once cannot both take one serial.
        let stored = match &before {
            None => {
                storage.put_meta(META_KEY, &bytes)?;
                storage.meta(META_KEY)?.as_deref() == Some(&bytes[..])
            }
            Some(old) => storage.replace_meta(META_KEY, old, &bytes)?,
        };
        if stored {
            // After the bundle, so an instance that sees the new serial finds its bundle.
            publish_serial(storage, serial)?;
            let mut detail = load_detail(&next);
            if replaces_damaged {
                detail["replaced_damaged_bundle"] = true.into();
            }
            crate::fleet::audit(storage, actor, "trust_load", "trust_bundle", detail, at)?;
            return Ok(serial);
        }
    }
    Err(TrustLoadError::Contended)
}

/// Sets [`SERIAL_KEY`] to `serial` unless it holds a higher one already (a slower load that
/// committed first must not move it back), compare-and-set as the bundle itself.
fn publish_serial(storage: &dyn Storage, serial: u64) -> Result<(), StorageError> {
    let text = serial.to_string();
    for _ in 0..LOAD_ATTEMPTS {
        let kept = storage.meta(SERIAL_KEY)?;
        let kept_serial = kept.as_deref().and_then(parse_serial);
        if kept_serial.is_some_and(|kept| kept >= serial) {
            return Ok(());
        }
        let stored = match &kept {
            None => {
                storage.put_meta(SERIAL_KEY, text.as_bytes())?;
                storage.meta(SERIAL_KEY)?.as_deref() == Some(text.as_bytes())
            }
            Some(old) => storage.replace_meta(SERIAL_KEY, old, text.as_bytes())?,
        };
        if stored {
            return Ok(());
        }
    }
    // Other loads kept moving it: each publishes its own, higher serial.
    Ok(())
}

fn parse_serial(bytes: &[u8]) -> Option<u64> {
    std::str::from_utf8(bytes).ok()?.parse::<u64>().ok()
}

/// The serial published by the newest load ([`SERIAL_KEY`]), if one is.
fn published_serial(storage: &dyn Storage) -> Result<Option<u64>, StorageError> {
    Ok(storage.meta(SERIAL_KEY)?.as_deref().and_then(parse_serial))
}

/// What the audit log keeps of a load: the serial, and each entry's label and SHA-256 of its
/// DER (the bytes themselves are in the settings and in every bundle served).
fn load_detail(trust: &LoadedTrust) -> serde_json::Value {
    use sha2::Digest as _;
    let sha256 = |base64: &str| {
        let der = BASE64
            .decode(base64)
            .unwrap_or_else(|_| base64.as_bytes().to_vec());
        hex::encode(sha2::Sha256::digest(der))
    };
    let certificates = |anchors: &[BundleAnchor]| {
        anchors
            .iter()
            .map(|a| serde_json::json!({"label": a.label, "sha256": sha256(&a.certificate)}))
            .collect::<Vec<_>>()
    };
    serde_json::json!({
        "serial": trust.serial,
        "anchors": certificates(&trust.anchors),
        "lists": trust.lists.iter().map(|l| serde_json::json!({
            "label": l.label,
            "sha256": sha256(&l.crl),
            "next_update": l.next_update,
        })).collect::<Vec<_>>(),
        "mdoc_anchors": certificates(&trust.mdoc_anchors),
    })
}

/// The bundle of `trust`, signed now by the receiver's key: v2 with the phone issuer anchors
/// when `v2` (the device reads v2) and there are any, else v1 without them.
pub fn sign_bundle(
    receiver: &Receiver,
    trust: LoadedTrust,
    v2: bool,
) -> Result<SignedTrustBundle, ApiError> {
    let issued_at = now();
    let with_phones = v2 && !trust.mdoc_anchors.is_empty();
    let body = TrustBundleBody {
        format: if with_phones {
            TRUST_BUNDLE_FORMAT_V2
        } else {
            TRUST_BUNDLE_FORMAT
        }
        .to_owned(),
        serial: trust.serial,
        issued_at,
        expires_at: issued_at.saturating_add(TRUST_BUNDLE_SECONDS),
        anchors: trust.anchors,
        lists: trust.lists,
        mdoc_anchors: if with_phones {
            trust.mdoc_anchors
        } else {
            Vec::new()
        },
    };
    // The key signing now: after a rotation, devices have followed it before they fetch this.
    let signer = receiver.key.signer();
    SignedTrustBundle::sign(body, signer.as_ref(), signer.device_key()).map_err(|e| {
        eprintln!("honnin-receiver: signing the trust bundle: {e}");
        crate::routes::internal()
    })
}

/// The query of `GET /v1/trust-bundle`: the newest format the device reads.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleQuery {
    format: Option<BundleFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum BundleFormat {
    V1,
    V2,
}

/// `GET /v1/trust-bundle`: the signed trust bundle, for enrolled devices (the request signed
/// like a batch, over [`TRUST_BUNDLE_REQUEST`]). 404 `no_trust_bundle` until the operator
/// loaded one. `?format=v2` from a device that reads v2 bundles (with phone issuer anchors).
pub async fn get_trust_bundle(
    State(receiver): State<Arc<Receiver>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<BundleQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    receiver
        .limiter
        .check(client.ip(), receiver.limits.max_auth_failures)?;
    let Query(query) = query.map_err(|_| {
        ApiError::bad_request(
            "invalid_query",
            "the only query is format, v1 or v2 (the newest trust bundle format the device reads)",
        )
    })?;
    let v2 = query.format == Some(BundleFormat::V2);
    let worker = receiver.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        auth::device(&worker, &headers, TRUST_BUNDLE_REQUEST)?;
        let trust = loaded(worker.storage.as_ref()).map_err(|e| match e {
            TrustLoadError::Storage(e) => ApiError::from(e),
            other => {
                eprintln!("honnin-receiver: {other}");
                crate::routes::internal()
            }
        })?;
        let trust = trust.ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no_trust_bundle",
                "the operator has loaded no trust bundle yet (honnin-receiver trust-load); keep the one you have",
            )
        })?;
        sign_bundle(&worker, trust, v2)
    })
    .await
    .map_err(|_| crate::routes::internal())?;
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
