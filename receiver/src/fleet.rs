//! The operator's fleet actions, for `honnin-receiver` commands and the operator console alike:
//! list devices, revoke a lost or stolen one, re-enrol a replacement, and the earlier operator
//! actions (senders, enrolment codes), each appended to the audit log ([`crate::audit`]): a
//! revocation and a replacement in their own transaction, the others right after they took
//! effect. A device's enrolment with its code is logged too ([`enrolment_entry`]), in the
//! enrolment's own transaction.
//!
//! A revoked device's later requests are refused ([`refusal`], `403 device_revoked`), its
//! manifest is no longer served, and the feed flags its records made or received at or after
//! the cut-off ([`feed_flag`]): those before stay as they were, evidence is never removed.

use std::net::IpAddr;

use honnin_core::manifest::check_id;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::audit::{AuditEntry, NewAuditEntry};
use crate::error::ApiError;
use crate::operator;
use crate::storage::{
    DeviceRow, Enrolment, FeedRow, ReplaceOutcome, Revocation, RevokeOutcome, Storage, StorageError,
};

/// Why a fleet action was refused.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("{0}")]
    Invalid(String),
    #[error("the device {0:?} is not enrolled")]
    NotEnrolled(String),
    #[error("the device {0:?} was revoked before (at {1}); the first revocation stands")]
    AlreadyRevoked(String, i64),
    #[error("the device {0:?} is not revoked: revoke it first, with a reason and a cut-off")]
    NotRevoked(String),
    #[error("the device {0:?} was replaced by {1:?} already")]
    AlreadyReplaced(String, String),
    #[error("the replacement id {0:?} is enrolled or revoked already: choose a new device id")]
    ReplacementTaken(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Longest revocation reason kept.
pub const MAX_REASON: usize = 200;

/// A device as the operator sees it (`devices list --json`, the console).
#[derive(Debug, Clone, Serialize)]
pub struct DeviceView {
    pub device_id: String,
    pub enrolled_at: i64,
    pub chain_head_seq: Option<u64>,
    /// Lowercase hex.
    pub chain_head_hash: Option<String>,
    pub last_sync_at: Option<i64>,
    pub app_version: Option<String>,
    /// Items assigned to the device and not delivered yet: records it may hold unsynced, or
    /// has still to make (an estimate: the receiver cannot see into the device).
    pub pending_estimate: u64,
    pub revocation: Option<Revocation>,
}

impl From<DeviceRow> for DeviceView {
    fn from(row: DeviceRow) -> Self {
        Self {
            device_id: row.device_id,
            enrolled_at: row.enrolled_at,
            chain_head_seq: row.head.map(|(seq, _)| seq),
            chain_head_hash: row.head.map(|(_, hash)| hex::encode(hash)),
            last_sync_at: row.last_sync_at,
            app_version: row.app_version,
            pending_estimate: row.pending_items,
            revocation: row.revocation,
        }
    }
}

/// Every enrolled device.
pub fn devices(storage: &dyn Storage) -> Result<Vec<DeviceView>, StorageError> {
    Ok(storage
        .devices()?
        .into_iter()
        .map(DeviceView::from)
        .collect())
}

/// Appends an operator action to the audit log.
pub fn audit(
    storage: &dyn Storage,
    actor: &str,
    action: &str,
    subject: &str,
    detail: serde_json::Value,
    now: i64,
) -> Result<AuditEntry, StorageError> {
    storage.append_audit(&NewAuditEntry {
        at: now,
        actor: actor.to_owned(),
        action: action.to_owned(),
        subject: subject.to_owned(),
        detail,
    })
}

fn device_id(id: &str) -> Result<(), FleetError> {
    check_id("the device id", id).map_err(|e| FleetError::Invalid(e.to_string()))
}

/// Revokes `device_id` from `cutoff` on, for `reason`; logged.
pub fn revoke(
    storage: &dyn Storage,
    actor: &str,
    device: &str,
    reason: &str,
    cutoff: i64,
    now: i64,
) -> Result<Revocation, FleetError> {
    device_id(device)?;
    let reason = reason.trim();
    if reason.is_empty()
        || reason.chars().count() > MAX_REASON
        || reason.chars().any(char::is_control)
    {
        return Err(FleetError::Invalid(format!(
            "the reason must be 1-{MAX_REASON} characters without control characters (e.g. \"lost on route 12\")"
        )));
    }
    if cutoff > now {
        return Err(FleetError::Invalid(
            "the cut-off is in the future: give the time from which the device is not trusted (when it was lost), at the latest now".into(),
        ));
    }
    // Logged in the revocation's own transaction: no revocation without its entry.
    let entry = NewAuditEntry {
        at: now,
        actor: actor.to_owned(),
        action: "revoke_device".into(),
        subject: device.to_owned(),
        detail: serde_json::json!({"reason": reason, "cutoff": cutoff}),
    };
    match storage.revoke_device(device, reason, cutoff, now, &entry)? {
        RevokeOutcome::Revoked => {}
        RevokeOutcome::NotEnrolled => return Err(FleetError::NotEnrolled(device.to_owned())),
        RevokeOutcome::AlreadyRevoked(held) => {
            return Err(FleetError::AlreadyRevoked(
                device.to_owned(),
                held.revoked_at,
            ));
        }
    }
    Ok(Revocation {
        reason: reason.to_owned(),
        cutoff,
        revoked_at: now,
        replaced_by: None,
    })
}

/// A replacement for the revoked `device`: its undelivered items and sender enrolments move to
/// `replacement`, and the one-time enrolment code for it is returned (shown once); logged.
pub fn reenrol(
    storage: &dyn Storage,
    actor: &str,
    device: &str,
    replacement: &str,
    now: i64,
) -> Result<(String, u64), FleetError> {
    device_id(device)?;
    device_id(replacement)?;
    let entry = |items_moved: u64| NewAuditEntry {
        at: now,
        actor: actor.to_owned(),
        action: "reenrol_device".into(),
        subject: device.to_owned(),
        detail: serde_json::json!({"replacement": replacement, "items_moved": items_moved}),
    };
    // Logged in the replacement's own transaction.
    let items_moved = match storage.replace_device(device, replacement, &entry)? {
        ReplaceOutcome::Replaced { items_moved } => items_moved,
        ReplaceOutcome::NotRevoked => return Err(FleetError::NotRevoked(device.to_owned())),
        ReplaceOutcome::AlreadyReplaced(by) => {
            return Err(FleetError::AlreadyReplaced(device.to_owned(), by));
        }
        ReplaceOutcome::ReplacementTaken => {
            return Err(FleetError::ReplacementTaken(replacement.to_owned()));
        }
    };
    // The senders moved with the device; the code enrols the replacement's own key (should
    // this fail, `enrol-code --device <replacement>` issues one).
    let code = operator::issue_enrolment_code(storage, replacement, &[], now)?;
    Ok((code, items_moved))
}

/// [`operator::add_sender`], logged.
pub fn add_sender(
    storage: &dyn Storage,
    actor: &str,
    sender: &str,
    now: i64,
) -> Result<String, StorageError> {
    let token = operator::add_sender(storage, sender)?;
    audit(
        storage,
        actor,
        "add_sender",
        sender,
        serde_json::json!({}),
        now,
    )?;
    Ok(token)
}

/// [`operator::issue_enrolment_code`], logged (the code itself never is).
pub fn issue_enrolment_code(
    storage: &dyn Storage,
    actor: &str,
    device: &str,
    senders: &[&str],
    now: i64,
) -> Result<String, StorageError> {
    let code = operator::issue_enrolment_code(storage, device, senders, now)?;
    audit(
        storage,
        actor,
        "enrol_code",
        device,
        serde_json::json!({"senders": senders}),
        now,
    )?;
    Ok(code)
}

/// The `enrol_device` entry of a device's enrolment, appended in the enrolment's own
/// transaction ([`Storage::enrol`]): the device, its time, the client address it came from,
/// the SHA-256 of the key it registered (the `device_key_id` its records carry), when the code
/// it used was issued (the time of that code's `enrol_code` or `reenrol_device` entry, so the
/// operator finds the issue without the code ever being logged), the senders it serves, and
/// the app version it told (`x-honnin-app-version`, if it sent a valid one).
///
/// Refused attempts (a wrong, used or expired code) get no entry: they are no operator action
/// and change nothing, anyone can make them by the thousand, and a log the chain keeps forever
/// would fill with them and bury what an investigation needs. The failed-auth limiter holds
/// their address off, and `/metrics` counts them (`honnin_enrolments_total{outcome="refused"}`):
/// a rise there is what tells of someone guessing codes.
pub fn enrolment_entry(
    enrolment: &Enrolment<'_>,
    client: IpAddr,
    app_version: Option<&str>,
) -> NewAuditEntry {
    NewAuditEntry {
        at: enrolment.enrolled_at,
        actor: format!("device:{}", enrolment.device_id),
        action: "enrol_device".into(),
        subject: enrolment.device_id.to_owned(),
        detail: serde_json::json!({
            "device_key_sha256": hex::encode(Sha256::digest(enrolment.key_spki)),
            "client": client.to_string(),
            // Every code is valid for the same time from its issue (`operator`).
            "code_issued_at": enrolment.code_expires_at - operator::ENROLMENT_CODE_SECONDS,
            "senders": enrolment.senders,
            "app_version": app_version,
        }),
    }
}

/// The answer to a request of a revoked device: refused, saying why and what to do.
pub fn refusal(revocation: &Revocation) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        "device_revoked",
        format!(
            "this device was revoked by the receiver's operator at {} ({}); nothing more is accepted from it, and records it made from {} on are flagged: hand it in and use the replacement the operator enrols",
            revocation.revoked_at, revocation.reason, revocation.cutoff
        ),
    )
}

/// What the feed says of a record of a revoked device made or received at or after the
/// cut-off.
#[derive(Debug, Clone, Serialize)]
pub struct RevokedFlag {
    pub reason: String,
    pub cutoff: i64,
    pub revoked_at: i64,
}

/// The flag of a feed row, if its device was revoked and the record was made (by the time it
/// claims) or received at or after the cut-off.
pub fn feed_flag(row: &FeedRow) -> Option<RevokedFlag> {
    let revocation = row.revocation.as_ref()?;
    let after_cutoff = row.received_at >= revocation.cutoff
        || claimed_time(&row.envelope).is_none_or(|made| made >= revocation.cutoff);
    after_cutoff.then(|| RevokedFlag {
        reason: revocation.reason.clone(),
        cutoff: revocation.cutoff,
        revoked_at: revocation.revoked_at,
    })
}

/// The latest time a stored record claims; `None` for one that does not parse (flagged, since
/// nothing shows it is older).
fn claimed_time(envelope: &str) -> Option<i64> {
    honnin_core::record::SignedRecord::parse(envelope.as_bytes())
        .ok()
        .map(|record| honnin_core::verify::record::evidence::claimed_time(record.body()))
}

/// Checks the app version a device tells (`x-honnin-app-version`): 1-64 printable ASCII
/// characters.
pub fn app_version(value: Option<&axum::http::HeaderValue>) -> Result<Option<String>, ApiError> {
    let Some(value) = value else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(text)
            if (1..=64).contains(&text.len())
                && text.bytes().all(|b| (0x20..0x7f).contains(&b)) =>
        {
            Ok(Some(text.to_owned()))
        }
        _ => Err(ApiError::bad_request(
            "invalid_app_version",
            "x-honnin-app-version must be 1-64 printable ASCII characters (e.g. honnin-android/1.4.0)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn an_app_version_is_printable_ascii_of_at_most_64_characters() {
        let told = |text: &'static str| app_version(Some(&HeaderValue::from_static(text)));
        assert_eq!(
            told("honnin-android/1.4.0").expect("fine"),
            Some("honnin-android/1.4.0".into())
        );
        assert_eq!(app_version(None).expect("absent"), None);
        assert!(told("").is_err());
        assert!(told(Box::leak("x".repeat(65).into_boxed_str())).is_err());
        assert!(told("tab\there").is_err());
        let utf8 = HeaderValue::from_bytes("本人/1.0".as_bytes()).expect("header bytes");
        assert_eq!(
            app_version(Some(&utf8)).expect_err("refused").code,
            "invalid_app_version"
        );
    }
}
