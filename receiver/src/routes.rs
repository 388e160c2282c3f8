//! The HTTP API (see `openapi.json`): health, the OpenAPI document, the receipt key, device
//! enrolment, batch ingest, the sender feed; items and the device manifest ([`crate::items`]),
//! webhooks ([`crate::webhook`]).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use honnin_core::record::DeviceKey;
use honnin_core::sync::SpkiPin;
use honnin_core::sync::protocol::HEADER_APP_VERSION;
use serde::Deserialize;

use crate::error::ApiError;
use crate::feed_page::{PageBuffer, PageWriter};
use crate::ingest::{RecordResult, ingest_batch};
use crate::operator::secret_hash;
use crate::storage::FeedRow;
use crate::{OPENAPI, Receiver, auth, items, now, webhook};

type Shared = State<Arc<Receiver>>;

/// Every route, as `(method, path)` in OpenAPI's notation: the agreement test compares this
/// list with the document.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/health"),
    ("get", "/v1/openapi.json"),
    ("get", "/v1/receipt-key"),
    ("post", "/v1/enrol"),
    ("post", "/v1/batches"),
    ("get", "/v1/feed"),
    ("put", "/v1/items"),
    ("get", "/v1/items/{item_id}"),
    ("delete", "/v1/items/{item_id}"),
    ("get", "/v1/manifest"),
    ("put", "/v1/webhook"),
    ("delete", "/v1/webhook"),
    ("get", "/v1/trust-bundle"),
];

/// The TLS key the receiver serves with, announced in the enrolment answer so a device can
/// check or keep the pin it trusts (`None` on plain HTTP or behind a TLS proxy).
#[derive(Clone)]
enum ServedTls {
    Fixed(Option<SpkiPin>),
    /// The identity served now, which a TLS key rotation changes.
    Live(Arc<crate::tls_reload::LiveIdentity>),
}

impl ServedTls {
    fn pin(&self) -> Option<SpkiPin> {
        match self {
            Self::Fixed(pin) => *pin,
            Self::Live(identity) => Some(identity.pin()),
        }
    }
}

/// The receiver's routes.
pub fn router(receiver: Arc<Receiver>) -> Router {
    router_with_tls(receiver, None)
}

/// The receiver's routes when it serves TLS with the key of `pin` itself.
pub fn router_with_tls(receiver: Arc<Receiver>, pin: Option<SpkiPin>) -> Router {
    routes(receiver, ServedTls::Fixed(pin))
}

/// The receiver's routes when it serves TLS with `identity`, which may be rotated.
pub fn router_with_live_tls(
    receiver: Arc<Receiver>,
    identity: Arc<crate::tls_reload::LiveIdentity>,
) -> Router {
    routes(receiver, ServedTls::Live(identity))
}

fn routes(receiver: Arc<Receiver>, served: ServedTls) -> Router {
    let limit = receiver.limits.max_body;
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/receipt-key", get(receipt_key))
        .route("/v1/enrol", post(enrol))
        .route("/v1/batches", post(batches))
        .route("/v1/feed", get(feed))
        .route("/v1/items", put(items::put_items))
        .route(
            "/v1/items/{item_id}",
            get(items::get_item).delete(items::delete_item),
        )
        .route("/v1/manifest", get(items::manifest))
        .route(
            "/v1/trust-bundle",
            get(crate::trust_bundle::get_trust_bundle),
        )
        .route(
            "/v1/webhook",
            put(webhook::put_webhook).delete(webhook::delete_webhook),
        )
        .layer(DefaultBodyLimit::max(limit))
        // Refusals axum makes itself (unknown path, method, a body cut at the limit) typed too.
        .layer(middleware::from_fn(crate::rejections::typed))
        .layer(middleware::from_fn(move |request, next| {
            refuse_declared_oversize(limit, request, next)
        }))
        .layer(Extension(served))
        .with_state(receiver)
}

/// Serves `receiver` on `listener` until the future is dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    receiver: Arc<Receiver>,
) -> std::io::Result<()> {
    // With the header timeout and limits of TLS connections (axum::serve sets none).
    crate::http_conn::serve_plain(listener, receiver).await
}

/// Answers 413 from the `Content-Length` header alone, before any of the body is read: a
/// client (or an attacker) announcing more than the limit is told at once instead of after
/// uploading megabytes the receiver would throw away. Bodies without the header are still
/// cut at the limit by [`DefaultBodyLimit`].
async fn refuse_declared_oversize(limit: usize, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is {length} bytes; the receiver takes at most {limit} per request"),
        )
        .into_response(),
        _ => next.run(request).await,
    }
}

async fn health() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// The receipt key, its rotations, and the TLS key pins it signs ([`crate::tls_pins`]).
async fn receipt_key(
    State(receiver): Shared,
    Extension(served): Extension<ServedTls>,
) -> Result<impl IntoResponse, ApiError> {
    let pin = served.pin();
    let answer = tokio::task::spawn_blocking(move || {
        let rotations = crate::rotation::rotations(receiver.storage.as_ref())?;
        let own = receiver.receipt_key();
        let mut answer = crate::rotation::announcement(&own, &rotations);
        let announced = crate::rotation::announced_key(&own, &rotations);
        if let Some(signed) =
            crate::tls_pins::signed_announcement(&receiver, pin, &announced, now())?
        {
            answer["tls_pins"] = serde_json::to_value(signed).unwrap_or_default();
        }
        Ok::<_, crate::StorageError>(answer)
    })
    .await
    .map_err(|_| internal())??;
    Ok(Json(answer))
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "malformed_json",
            format!(
                "the body is not the JSON this endpoint takes (line {}, column {}, {:?})",
                e.line(),
                e.column(),
                e.classify()
            ),
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrolRequest {
    device_id: String,
    /// Base64 DER SubjectPublicKeyInfo (P-256).
    public_key: String,
    code: String,
}

async fn enrol(
    State(receiver): Shared,
    Extension(served): Extension<ServedTls>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    receiver
        .limiter
        .check(client.ip(), receiver.limits.max_auth_failures)?;
    let request: EnrolRequest = parse_json(&body)?;
    // Only for the audit entry: the enrolment API does not take the header, so one that is
    // not a valid version is left out of the entry rather than refusing the enrolment.
    let app_version = crate::fleet::app_version(headers.get(HEADER_APP_VERSION))
        .ok()
        .flatten();
    // Characters, not bytes, as the document's maxLength counts them.
    if request.device_id.is_empty()
        || request.device_id.chars().count() > 256
        || request.device_id.chars().any(char::is_control)
    {
        return Err(ApiError::bad_request(
            "invalid_device_id",
            "device_id must be 1-256 characters without control characters",
        ));
    }
    let key = BASE64
        .decode(request.public_key.as_bytes())
        .ok()
        .and_then(|der| DeviceKey::from_spki_der(&der).ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_public_key",
                "public_key must be a base64 DER SubjectPublicKeyInfo of a P-256 key",
            )
        })?;
    let storage = receiver.storage.clone();
    let device_id = request.device_id.clone();
    let spki = key.spki_der().to_vec();
    let code_hash = secret_hash(request.code.trim());
    let enrolled = tokio::task::spawn_blocking(move || {
        // The entry is appended in the enrolment's transaction (see `fleet::enrolment_entry`
        // for why refused attempts get none).
        let entry = |enrolment: &crate::storage::Enrolment<'_>| {
            crate::fleet::enrolment_entry(enrolment, client.ip(), app_version.as_deref())
        };
        storage.enrol(&device_id, &code_hash, &spki, now(), &entry)
    })
    .await
    .map_err(|_| internal())?;
    match enrolled {
        Ok(true) => {
            receiver.metrics.enrolment(true);
            Ok((
                StatusCode::CREATED,
                Json(serde_json::json!({
                    "device_id": request.device_id,
                    "device_key_id": key.id_hex(),
                    "receipt_key": BASE64.encode(receiver.receipt_key().spki_der()),
                    "tls_spki_sha256": served.pin().map(|pin| pin.to_string()),
                })),
            ))
        }
        Ok(false) => {
            receiver
                .limiter
                .failed(client.ip(), receiver.limits.max_auth_failures);
            receiver.metrics.enrolment(false);
            Err(ApiError::unauthorized(
                "the enrolment code is not valid for this device (wrong, used or expired): ask the operator for a new one",
            ))
        }
        Err(crate::StorageError::AlreadyEnrolled(_)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_enrolled",
            "this device id is already enrolled",
        )),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn internal() -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the receiver failed; retry later",
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    /// Checked as JSON here; each parsed into a record by ingest, on every core.
    records: Vec<Box<serde_json::value::RawValue>>,
}

async fn batches(
    State(receiver): Shared,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    receiver
        .limiter
        .check(client.ip(), receiver.limits.max_auth_failures)?;
    let worker = receiver.clone();
    let outcome = tokio::task::spawn_blocking(move || -> Result<Vec<RecordResult>, ApiError> {
        let (device_id, key) = auth::device(&worker, &headers, &body)?;
        let request: BatchRequest = parse_json(&body)?;
        if request.records.len() > worker.limits.max_batch {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "batch_too_large",
                format!("at most {} records per batch", worker.limits.max_batch),
            ));
        }
        Ok(ingest_batch(&worker, &device_id, &key, &request.records)?)
    })
    .await
    .map_err(|_| internal())?;
    match outcome {
        Ok(results) => {
            receiver.metrics.batch(results.iter().map(|r| r.status));
            Ok(Json(serde_json::json!({ "results": results })))
        }
        Err(error) => {
            receiver.metrics.refused(error.code);
            if error.status == StatusCode::UNAUTHORIZED {
                receiver
                    .limiter
                    .failed(client.ip(), receiver.limits.max_auth_failures);
            }
            Err(error)
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedQuery {
    after: Option<i64>,
    limit: Option<u32>,
}

async fn feed(
    State(receiver): Shared,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<FeedQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    receiver
        .limiter
        .check(client.ip(), receiver.limits.max_auth_failures)?;
    let query = query.map(|Query(query)| query);
    let worker = receiver.clone();
    // The token lookup, the rows and the page on one blocking thread: each hop between threads
    // waits for a core, which on a busy machine costs more than the work (as
    // `auth::sender_counted`, minus its separate hop).
    let page = tokio::task::spawn_blocking(move || {
        let sender = auth::sender(&worker, &headers)?;
        let max_page = worker.limits.max_page;
        let refused = || {
            ApiError::bad_request(
                "invalid_query",
                format!("after must be a cursor (an integer, 0 or more) and limit 1-{max_page}"),
            )
        };
        let query = query.map_err(|_| refused())?;
        // Out of range is refused, not clamped: a client asking for 5,000 and silently getting
        // 1,000 could take the shorter page for the end of the feed.
        let after = query.after.unwrap_or(0);
        let limit = query.limit.unwrap_or(100);
        if after < 0 || !(1..=max_page).contains(&limit) {
            return Err(refused());
        }
        // The page is CPU work proportional to its size: built here too, straight from the
        // storage's rows into a buffer an earlier page was sent from.
        let mut buffer = PageBuffer::take();
        let mut page = PageWriter::new(buffer.bytes_mut(), after);
        worker
            .storage
            .write_feed(&sender, after, limit, &mut page)?;
        page.finish();
        Ok::<_, ApiError>(Bytes::from_owner(buffer))
    })
    .await
    .map_err(|_| internal())?;
    if let Err(error) = &page
        && error.status == StatusCode::UNAUTHORIZED
    {
        receiver
            .limiter
            .failed(client.ip(), receiver.limits.max_auth_failures);
    }
    Ok(([(header::CONTENT_TYPE, "application/json")], page?))
}

/// A feed page's JSON (as pushed to webhooks, and as served) and the cursor it ends at.
pub fn feed_page(rows: Vec<FeedRow>, after: i64) -> (Vec<u8>, i64) {
    // The page is the stored JSON plus a few names per entry: one allocation of about its
    // size instead of a buffer doubled (and copied) up to megabytes.
    let capacity = rows
        .iter()
        .map(|r| {
            r.envelope.len()
                + r.receipt.len()
                + r.verification.len()
                + 2 * r.device_key_spki.len()
                + 160
        })
        .sum::<usize>()
        + 64;
    let mut out = Vec::with_capacity(capacity);
    let mut page = PageWriter::new(&mut out, after);
    for row in &rows {
        page.row(row);
    }
    let next = page.finish();
    (out, next)
}
