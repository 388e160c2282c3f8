//! Webhook push: a sender that registers a URL gets its feed pushed there, page by page, as
//! records arrive. Each push is `POST <url>` with the same JSON as a feed page and two headers:
//! `x-honnin-webhook-timestamp` (Unix seconds) and `x-honnin-webhook-signature`
//! (`sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`), the secret being the one the
//! receiver returned when the webhook was registered. Delivery is at least once: the receiver
//! moves the webhook's cursor only on a 2xx answer, and retries a failed push with exponential
//! backoff and jitter; a sender deduplicates by the entries' `cursor` (or record id).
//!
//! The cursor, the failures in a row and the wait before the next try are in storage, and a
//! webhook is pushed under a lease there: a restart resumes where the last acknowledged push
//! ended, and with several receiver instances on one database one of them pushes at a time
//! under one backoff. A page can still arrive twice (a push answered 2xx whose pusher died
//! before moving the cursor, or a lease that ran out mid-push): at least once, never lost.
//!
//! Where a webhook may point is [`crate::webhook_url`]'s job: by default https to public
//! addresses only, checked at registration and again on every push.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::secrets::webhook_purpose;
use crate::storage::{Storage, StorageError, WebhookRow};
use crate::webhook_url::{check_resolved, check_url, push_agent};
use crate::{Receiver, auth, now};

pub const HEADER_WEBHOOK_TIMESTAMP: &str = "x-honnin-webhook-timestamp";
pub const HEADER_WEBHOOK_SIGNATURE: &str = "x-honnin-webhook-signature";

/// How the pusher paces itself.
#[derive(Debug, Clone)]
pub struct PushSettings {
    /// How often the pusher looks for new records.
    pub poll: Duration,
    /// The wait after the first failure; doubled per further failure, up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Whole-request timeout of one push.
    pub timeout: Duration,
    /// Entries per push.
    pub page: u32,
}

impl Default for PushSettings {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(1),
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(3600),
            timeout: Duration::from_secs(30),
            page: 100,
        }
    }
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Option<HmacSha256> {
    let key = hex::decode(secret).ok()?;
    let mut mac = HmacSha256::new_from_slice(&key).ok()?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

/// The `x-honnin-webhook-signature` value for `body` sent at `timestamp`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    match mac(secret, timestamp, body) {
        Some(mac) => format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
        None => String::new(),
    }
}

/// What a sender runs on a push: whether `header` is the signature of `body` at `timestamp`
/// (compared in constant time).
pub fn verify_signature(secret: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Some(given) = header
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    mac(secret, timestamp, body).is_some_and(|mac| mac.verify_slice(&given).is_ok())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookRequest {
    url: String,
    /// Push entries after this cursor (default 0: the whole feed).
    #[serde(default)]
    after: i64,
}

type Shared = State<Arc<Receiver>>;

/// `PUT /v1/webhook`: registers (or replaces) the sender's webhook and returns its new secret,
/// shown once.
pub async fn put_webhook(
    State(receiver): Shared,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let sender = auth::sender_counted(&receiver, client, &headers).await?;
    let request: WebhookRequest = crate::routes::parse_json(&body)?;
    let allow_private = receiver.limits.allow_private_webhooks;
    let target = check_url(&request.url, allow_private)?;
    check_resolved(&target, allow_private).await?;
    if request.after < 0 {
        return Err(ApiError::bad_request(
            "invalid_cursor",
            "after must be a feed cursor (0 or more)",
        ));
    }
    let secret = crate::operator::random_hex(32)?;
    let kept = receiver
        .secrets
        .seal(&webhook_purpose(&sender), secret.as_bytes())
        .map_err(crate::StorageError::from)?;
    let row = WebhookRow {
        sender_id: sender,
        url: request.url.clone(),
        secret: String::from_utf8_lossy(&kept).into_owned(),
        cursor: request.after,
    };
    let storage = receiver.storage.clone();
    // Logged with where pushes go (host and port: a path or query may carry the sender's own
    // secret) and from which cursor; never the webhook's secret.
    let detail =
        serde_json::json!({"host": target.host, "port": target.port, "after": request.after});
    tokio::task::spawn_blocking(move || {
        storage.set_webhook(&row.sender_id, Some(&row))?;
        log_change(storage.as_ref(), &row.sender_id, "set_webhook", detail)
    })
    .await
    .map_err(|_| crate::routes::internal())??;
    Ok(Json(serde_json::json!({
        "url": request.url,
        "secret": secret,
        "after": request.after,
    })))
}

/// `DELETE /v1/webhook`: stops pushing.
pub async fn delete_webhook(
    State(receiver): Shared,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let sender = auth::sender_counted(&receiver, client, &headers).await?;
    let storage = receiver.storage.clone();
    tokio::task::spawn_blocking(move || {
        storage.set_webhook(&sender, None)?;
        log_change(
            storage.as_ref(),
            &sender,
            "delete_webhook",
            serde_json::json!({}),
        )
    })
    .await
    .map_err(|_| crate::routes::internal())??;
    Ok(StatusCode::NO_CONTENT)
}

/// A sender's webhook change, in the audit log beside the operator's actions: where a
/// sender's records are pushed is as much the receiver's business as who may read them.
fn log_change(
    storage: &dyn Storage,
    sender: &str,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), StorageError> {
    let actor = format!("sender:{sender}");
    crate::fleet::audit(storage, &actor, action, sender, detail, now()).map(|_| ())
}

/// Pushes every sender's new records to its webhook until the runtime stops. Each webhook is
/// pushed under a lease kept in the database, so with several receivers on one database one
/// of them pushes a page at a time, and its failures and backoff are shared by all.
pub async fn run_pusher(receiver: Arc<Receiver>, settings: PushSettings) {
    let agent = push_agent(settings.timeout, receiver.limits.allow_private_webhooks);
    // Unique per pusher: random, or (failing that) the process and this call's address.
    let owner = crate::operator::random_hex(8)
        .unwrap_or_else(|_| format!("{}-{:p}", std::process::id(), &settings));
    loop {
        if let Ok(hooks) = on_storage(&receiver, |s| s.webhooks()).await {
            for hook in hooks {
                // Idle webhooks cost a read, not a lease write, per poll.
                if has_pending(&receiver, &hook).await {
                    push_leased(&receiver, &agent, &settings, &owner, &hook.sender_id).await;
                }
            }
        }
        tokio::time::sleep(settings.poll).await;
    }
}

/// Runs `work` on the receiver's storage on a blocking thread (storage calls may block).
async fn on_storage<T: Send + 'static>(
    receiver: &Arc<Receiver>,
    work: impl FnOnce(&dyn Storage) -> Result<T, StorageError> + Send + 'static,
) -> Result<T, String> {
    let storage = receiver.storage.clone();
    tokio::task::spawn_blocking(move || work(storage.as_ref()))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// Whether the sender has records after the webhook's cursor (as last read).
async fn has_pending(receiver: &Arc<Receiver>, hook: &WebhookRow) -> bool {
    let (sender, after) = (hook.sender_id.clone(), hook.cursor);
    on_storage(receiver, move |s| s.feed(&sender, after, 1))
        .await
        .is_ok_and(|rows| !rows.is_empty())
}

/// How long one lease lasts: renewed before every page, it outlives any one push.
fn lease_ms(settings: &PushSettings) -> i64 {
    i64::try_from(settings.timeout.as_millis().saturating_mul(2)).unwrap_or(i64::MAX / 4) + 5_000
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

async fn lease(
    receiver: &Arc<Receiver>,
    settings: &PushSettings,
    owner: &str,
    sender: &str,
) -> Option<u32> {
    let (owner, sender) = (owner.to_owned(), sender.to_owned());
    let now = now_ms();
    let until = now.saturating_add(lease_ms(settings));
    on_storage(receiver, move |s| {
        s.lease_webhook(&sender, &owner, now, until)
    })
    .await
    .unwrap_or_else(|e| {
        eprintln!("honnin-receiver: webhook lease: {e}");
        None
    })
}

/// Pushes the sender's pending pages if this pusher gets the lease, then releases it with the
/// outcome: failures reset, or one more and the wait before the next try.
async fn push_leased(
    receiver: &Arc<Receiver>,
    agent: &ureq::Agent,
    settings: &PushSettings,
    owner: &str,
    sender: &str,
) {
    let Some(failures) = lease(receiver, settings, owner, sender).await else {
        return;
    };
    let outcome = push_pending(receiver, agent, settings, owner, sender).await;
    let (failures, next_try) = match outcome {
        Ok(()) => (0, 0),
        Err(why) => {
            let failures = failures.saturating_add(1);
            let wait = backoff(settings, failures);
            eprintln!(
                "honnin-receiver: webhook push failed ({why}); try {} again in {} ms",
                failures + 1,
                wait.as_millis()
            );
            let wait = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 4);
            (failures, now_ms().saturating_add(wait))
        }
    };
    let (owner, sender) = (owner.to_owned(), sender.to_owned());
    let released = on_storage(receiver, move |s| {
        s.release_webhook(&sender, &owner, failures, next_try)
    })
    .await;
    if let Err(e) = released {
        // The lease then simply runs out.
        eprintln!("honnin-receiver: webhook release: {e}");
    }
}

/// `initial × 2^(failures-1)`, capped, then scaled by a random factor in [0.5, 1) so that many
/// failing webhooks do not retry in step.
fn backoff(settings: &PushSettings, failures: u32) -> Duration {
    let doubled = settings
        .initial_backoff
        .saturating_mul(1u32 << failures.saturating_sub(1).min(20));
    let capped = doubled.min(settings.max_backoff);
    let mut byte = [0u8; 1];
    let jitter = match getrandom::fill(&mut byte) {
        Ok(()) => 0.5 + f64::from(byte[0]) / 512.0,
        Err(_) => 0.75,
    };
    capped.mul_f64(jitter)
}

/// Pushes pages until the webhook is up to date; stops at the first failure, or when the
/// lease could not be renewed (another pusher has it).
async fn push_pending(
    receiver: &Arc<Receiver>,
    agent: &ureq::Agent,
    settings: &PushSettings,
    owner: &str,
    sender: &str,
) -> Result<(), String> {
    // Read under the lease: another pusher may have moved the cursor just before.
    let wanted = sender.to_owned();
    let Some(hook) = on_storage(receiver, move |s| s.webhook(&wanted)).await? else {
        return Ok(());
    };
    // Registered under another policy (before the upgrade, or with the operator's allowance
    // since withdrawn): refused now as it would be at registration.
    check_url(&hook.url, receiver.limits.allow_private_webhooks).map_err(|e| e.message)?;
    let opened = receiver
        .secrets
        .open(&webhook_purpose(&hook.sender_id), hook.secret.as_bytes())
        .map_err(|e| e.to_string())?;
    let secret = Zeroizing::new(String::from_utf8_lossy(&opened.plaintext).into_owned());
    let mut after = hook.cursor;
    let mut first = true;
    loop {
        if !first && lease(receiver, settings, owner, sender).await.is_none() {
            return Ok(());
        }
        first = false;
        let wanted = sender.to_owned();
        let page = settings.page;
        let rows = on_storage(receiver, move |s| s.feed(&wanted, after, page)).await?;
        if rows.is_empty() {
            return Ok(());
        }
        let (body, next) = crate::routes::feed_page(rows, after);
        let timestamp = now();
        let signed = signature(&secret, timestamp, &body);
        let agent = agent.clone();
        let url = hook.url.clone();
        let status = tokio::task::spawn_blocking(move || {
            agent
                .post(&url)
                .header(HEADER_WEBHOOK_TIMESTAMP, timestamp.to_string())
                .header(HEADER_WEBHOOK_SIGNATURE, &signed)
                .content_type("application/json")
                .send(&body[..])
                .map(|response| response.status().as_u16())
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())??;
        if !(200..300).contains(&status) {
            return Err(format!("the sender's endpoint answered HTTP {status}"));
        }
        let wanted = sender.to_owned();
        let moved = on_storage(receiver, move |s| s.advance_webhook(&wanted, after, next)).await?;
        if !moved {
            // Re-registered meanwhile: the next round starts from the new cursor.
            return Ok(());
        }
        after = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_time_and_body_and_need_the_secret() {
        let secret = "00".repeat(32);
        let header = signature(&secret, 1_795_564_800, b"{\"entries\":[]}");
        assert!(header.starts_with("sha256="));
        assert!(verify_signature(
            &secret,
            1_795_564_800,
            b"{\"entries\":[]}",
            &header
        ));
        assert!(!verify_signature(
            &secret,
            1_795_564_801,
            b"{\"entries\":[]}",
            &header
        ));
        assert!(!verify_signature(
            &secret,
            1_795_564_800,
            b"{\"entries\":[1]}",
            &header
        ));
        assert!(!verify_signature(
            &"01".repeat(32),
            1_795_564_800,
            b"{\"entries\":[]}",
            &header
        ));
        assert!(!verify_signature(
            &secret,
            1_795_564_800,
            b"{}",
            "sha256=zz"
        ));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let settings = PushSettings {
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            ..PushSettings::default()
        };
        for (failures, full) in [(1, 2), (2, 4), (3, 8), (6, 60), (40, 60)] {
            let wait = backoff(&settings, failures);
            let full = Duration::from_secs(full);
            assert!(wait >= full / 2 && wait < full, "{failures}: {wait:?}");
        }
    }
}
