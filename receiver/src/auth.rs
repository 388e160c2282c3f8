//! Authentication: devices by their signature over each batch request, senders by a bearer
//! token (compared by its SHA-256), and a limit on failed attempts per client address.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use honnin_core::record::DeviceKey;
use honnin_core::sync::protocol::{
    HEADER_APP_VERSION, HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP,
    verify_batch,
};

use crate::error::ApiError;
use crate::operator::secret_hash;
use crate::storage::NONCE_RETENTION_SECONDS;
use crate::{Receiver, now};

/// Limits failed authentications per client address to `max` a minute.
///
/// A generic cell-rate algorithm over the monotonic clock (the one `governor`'s per-minute
/// quotas use): each failure adds `60 s / max` of debt that drains in real time, and an address
/// whose next failure would take its debt past sixty seconds is held off. So `max` failures may
/// come at once, and after that one more every `60 s / max`. Counting per calendar minute instead
/// let a guesser make `2 × max` tries across a minute's boundary.
#[derive(Debug, Default)]
pub struct FailureLimiter {
    debt_until: Mutex<HashMap<IpAddr, Instant>>,
}

const LIMIT_WINDOW: Duration = Duration::from_secs(60);

/// What one failure adds to an address's debt when `max` are allowed per window.
fn cost_of_failure(max: u32) -> Duration {
    LIMIT_WINDOW / max.max(1)
}

impl FailureLimiter {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<IpAddr, Instant>) -> T) -> T {
        let mut map = self.debt_until.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut map)
    }

    /// 429 when `client`'s next failure would go over `max` a minute.
    pub fn check(&self, client: IpAddr, max: u32) -> Result<(), ApiError> {
        self.check_at(client, max, Instant::now())
    }

    /// Counts a failed authentication by `client`.
    pub fn failed(&self, client: IpAddr, max: u32) {
        self.failed_at(client, max, Instant::now());
    }

    fn check_at(&self, client: IpAddr, max: u32, now: Instant) -> Result<(), ApiError> {
        let allowed_debt = LIMIT_WINDOW.saturating_sub(cost_of_failure(max));
        let debt = self.with(|map| {
            map.get(&client)
                .map_or(Duration::ZERO, |until| until.saturating_duration_since(now))
        });
        if debt <= allowed_debt {
            return Ok(());
        }
        let wait = (debt - allowed_debt).as_secs().max(1);
        Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_failures",
            format!("too many failed authentications from this address; try again in {wait} s"),
        ))
    }

    fn failed_at(&self, client: IpAddr, max: u32, now: Instant) {
        let cost = cost_of_failure(max);
        self.with(|map| {
            if map.len() > 100_000 {
                map.retain(|_, until| *until > now);
            }
            let until = map.entry(client).or_insert(now);
            // A failure held off by `check` never gets here, so the debt stays within a window.
            *until = (*until).max(now) + cost;
        });
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::unauthorized(format!("the {name} header is missing")))
}

/// The sender a bearer token belongs to.
pub fn sender(receiver: &Receiver, headers: &HeaderMap) -> Result<String, ApiError> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::unauthorized("give the sender's API token as `Authorization: Bearer <token>`")
        })?;
    receiver
        .storage
        .sender_by_token(&secret_hash(token.trim()))?
        .ok_or_else(|| ApiError::unauthorized("the API token is not valid"))
}

/// The device a batch request comes from, after its signature, time and nonce checked out.
pub fn device(
    receiver: &Receiver,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(String, DeviceKey), ApiError> {
    let device_id = header(headers, HEADER_DEVICE)?;
    let timestamp: i64 = header(headers, HEADER_TIMESTAMP)?
        .parse()
        .map_err(|_| ApiError::unauthorized("x-honnin-timestamp is not Unix seconds"))?;
    let nonce = header(headers, HEADER_NONCE)?;
    let signature = header(headers, HEADER_SIGNATURE)?;
    if nonce.len() != 32 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::unauthorized(
            "x-honnin-nonce is not 32 hex digits",
        ));
    }
    let spki = receiver
        .storage
        .device_key(device_id)?
        .ok_or_else(|| ApiError::unauthorized("the device is not enrolled"))?;
    let key = DeviceKey::from_spki_der(&spki).map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "device_key_damaged",
            "the enrolled device key cannot be read",
        )
    })?;
    if !verify_batch(&key, device_id, timestamp, nonce, body, signature) {
        return Err(ApiError::unauthorized(
            "the request signature does not verify with the device's enrolled key",
        ));
    }
    // Told only to the device itself (its signature verified): a revoked device is refused
    // with the reason, so the courier knows to hand it in.
    if let Some(revocation) = receiver.storage.revocation(device_id)? {
        return Err(crate::fleet::refusal(&revocation));
    }
    let app_version = crate::fleet::app_version(headers.get(HEADER_APP_VERSION))?;
    let max_skew = receiver.limits.max_clock_skew;
    // Checked: a signed but hostile timestamp (i64::MIN) must be refused, not overflow.
    match now().checked_sub(timestamp).and_then(i64::checked_abs) {
        Some(skew) if skew <= max_skew => {}
        Some(skew) => {
            return Err(ApiError::unauthorized(format!(
                "the request time is {skew} s away from the receiver's clock (at most {max_skew} s): set the device's clock"
            )));
        }
        None => {
            return Err(ApiError::unauthorized(format!(
                "the request time is out of any range the receiver accepts (at most {max_skew} s from its clock): set the device's clock"
            )));
        }
    }
    let retention = nonce_retention(max_skew);
    if !receiver
        .storage
        .use_nonce(device_id, nonce, now(), retention)?
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "replayed_request",
            "this request was received before (same nonce): a replay is not processed again",
        ));
    }
    receiver
        .storage
        .note_sync(device_id, now(), app_version.as_deref())?;
    Ok((device_id.to_owned(), key))
}

/// How long a request nonce must be kept, in seconds: a request is accepted while its timestamp
/// is within `max_clock_skew` of the receiver's clock, so one first seen at `t` (timestamp at
/// most `t + skew`) can be replayed until `t + 2 × skew`. Its nonce is kept at least that long,
/// plus a margin, and never less than [`NONCE_RETENTION_SECONDS`].
pub fn nonce_retention(max_clock_skew: i64) -> i64 {
    max_clock_skew
        .max(0)
        .saturating_mul(2)
        .saturating_add(NONCE_MARGIN_SECONDS)
        .max(NONCE_RETENTION_SECONDS)
}

/// What a nonce is kept beyond the accepted window: the receiver's clock may step while a
/// request is in flight.
pub const NONCE_MARGIN_SECONDS: i64 = 120;

/// The sender of a request, for every sender endpoint: refuses a client over its failure limit,
/// looks the token up on a blocking thread (a storage call), and counts a failed
/// authentication against the client.
pub async fn sender_counted(
    receiver: &Arc<Receiver>,
    client: SocketAddr,
    headers: &HeaderMap,
) -> Result<String, ApiError> {
    receiver
        .limiter
        .check(client.ip(), receiver.limits.max_auth_failures)?;
    let worker = receiver.clone();
    let headers = headers.clone();
    let sender = tokio::task::spawn_blocking(move || sender(&worker, &headers))
        .await
        .map_err(|_| crate::routes::internal())?;
    if let Err(error) = &sender
        && error.status == StatusCode::UNAUTHORIZED
    {
        receiver
            .limiter
            .failed(client.ip(), receiver.limits.max_auth_failures);
    }
    sender
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_outlive_every_accepted_timestamp_window() {
        assert_eq!(nonce_retention(300), NONCE_RETENTION_SECONDS);
        // The skews where the fixed hour reopened replays.
        for skew in [1800, 1900, 3600, 86_400] {
            assert!(nonce_retention(skew) > 2 * skew, "{skew}");
        }
        assert_eq!(nonce_retention(i64::MAX), i64::MAX);
        assert_eq!(nonce_retention(-5), NONCE_RETENTION_SECONDS);
    }

    fn address(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn failures_across_a_minute_boundary_count_together() {
        let limiter = FailureLimiter::default();
        let start = Instant::now();
        let guesser = address(1);
        // Nine failures at the end of one calendar minute, one just after it turns.
        let before_turn = start + Duration::from_secs(59);
        for _ in 0..9 {
            assert!(limiter.check_at(guesser, 10, before_turn).is_ok());
            limiter.failed_at(guesser, 10, before_turn);
        }
        let after_turn = start + Duration::from_secs(61);
        assert!(limiter.check_at(guesser, 10, after_turn).is_ok());
        limiter.failed_at(guesser, 10, after_turn);
        let refused = limiter
            .check_at(guesser, 10, after_turn)
            .expect_err("an 11th failure within sixty seconds is held off");
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.code, "too_many_failures");
        assert!(
            refused.message.contains("try again in"),
            "{}",
            refused.message
        );
        // Another address is not held off by this one.
        assert!(limiter.check_at(address(2), 10, after_turn).is_ok());
    }

    #[test]
    fn a_burst_of_max_is_allowed_and_then_one_more_per_share_of_the_window() {
        let limiter = FailureLimiter::default();
        let start = Instant::now();
        let guesser = address(3);
        for _ in 0..10 {
            assert!(limiter.check_at(guesser, 10, start).is_ok());
            limiter.failed_at(guesser, 10, start);
        }
        assert!(limiter.check_at(guesser, 10, start).is_err());
        assert!(
            limiter
                .check_at(guesser, 10, start + Duration::from_secs(5))
                .is_err()
        );
        // 60 s / 10 later, one more failure is allowed, and only one.
        let later = start + Duration::from_secs(6);
        assert!(limiter.check_at(guesser, 10, later).is_ok());
        limiter.failed_at(guesser, 10, later);
        assert!(limiter.check_at(guesser, 10, later).is_err());
        // After a quiet minute the full burst is available again.
        let quiet = later + LIMIT_WINDOW;
        for _ in 0..10 {
            assert!(limiter.check_at(guesser, 10, quiet).is_ok());
            limiter.failed_at(guesser, 10, quiet);
        }
        assert!(limiter.check_at(guesser, 10, quiet).is_err());
    }

    #[test]
    fn a_limit_of_zero_still_allows_one_failure_a_minute() {
        // `--max-auth-failures 0` must not divide by zero; it is read as one.
        let limiter = FailureLimiter::default();
        let start = Instant::now();
        assert!(limiter.check_at(address(4), 0, start).is_ok());
        limiter.failed_at(address(4), 0, start);
        assert!(limiter.check_at(address(4), 0, start).is_err());
        assert!(
            limiter
                .check_at(address(4), 0, start + LIMIT_WINDOW)
                .is_ok()
        );
    }
}
