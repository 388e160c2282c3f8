//! Authentication: devices by their signature over each batch request, senders by a bearer
//! token (compared by its SHA-256), and a limit on failed attempts per client address.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

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

/// Counts failed authentications per client address in one-minute windows.
#[derive(Debug, Default)]
pub struct FailureLimiter {
    windows: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

impl FailureLimiter {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<IpAddr, (i64, u32)>) -> T) -> T {
        let mut map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut map)
    }

    /// 429 when `client` failed too often in the current minute.
    pub fn check(&self, client: IpAddr, max: u32) -> Result<(), ApiError> {
        let minute = now() / 60;
        let blocked = self.with(|map| match map.get(&client) {
            Some((window, count)) => *window == minute && *count >= max,
            None => false,
        });
        if blocked {
            Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_failures",
                "too many failed authentications from this address; wait a minute",
            ))
        } else {
            Ok(())
        }
    }

    pub fn failed(&self, client: IpAddr) {
        let minute = now() / 60;
        self.with(|map| {
            if map.len() > 100_000 {
                map.retain(|_, (window, _)| *window == minute);
            }
            let entry = map.entry(client).or_insert((minute, 0));
            if entry.0 != minute {
                *entry = (minute, 0);
            }
            entry.1 = entry.1.saturating_add(1);
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
        receiver.limiter.failed(client.ip());
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
}
