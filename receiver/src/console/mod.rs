//! The operator console: a small web page and its JSON API on a port of its own (loopback
//! only, plain HTTP: reach it through an SSH tunnel), and the Prometheus text metrics at
//! `/metrics`. Every API call and `/metrics` take the operator token (`Authorization: Bearer
//! hno_…`, set with `honnin-receiver operator-token`; only its hash is kept), which is
//! separate from senders' tokens: a sender token is refused here, and the operator token is
//! refused by the sender API.
//!
//! The page (HTML, CSS and JS embedded in the binary) keeps the token in the tab's session
//! storage and sends it as a header, never as a cookie, so another site cannot make the
//! browser act with it. It shows text with `textContent` only: ids and reasons never become
//! markup.

pub mod crl_status;
pub mod metrics;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::fleet::{self, FleetError};
use crate::operator::{random_hex, secret_hash};
use crate::routes::{internal, parse_json};
use crate::storage::{Storage, StorageError};
use crate::{Receiver, audit, now, rotation};

pub use metrics::Metrics;

/// Where the operator token's hash is kept.
const TOKEN_HASH: &str = "operator_token_hash";

/// The actor of console actions in the audit log.
pub const ACTOR: &str = "console";

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("console.js");
const STYLE: &str = include_str!("console.css");

/// Makes a new operator token (`hno_` + 64 hex digits), keeps its hash in place of the one
/// before, and returns it (shown once); logged.
pub fn new_operator_token(
    storage: &dyn Storage,
    actor: &str,
    now: i64,
) -> Result<String, StorageError> {
    let token = format!("hno_{}", random_hex(32)?);
    let hash = secret_hash(&token);
    match storage.meta(TOKEN_HASH)? {
        Some(before) => {
            if !storage.replace_meta(TOKEN_HASH, &before, hash.as_bytes())? {
                return Err(StorageError::Database {
                    context: "setting the operator token",
                    detail: "another operator token was set at the same time; run it again".into(),
                });
            }
        }
        None => storage.put_meta(TOKEN_HASH, hash.as_bytes())?,
    }
    fleet::audit(
        storage,
        actor,
        "operator_token",
        "console",
        serde_json::json!({}),
        now,
    )?;
    Ok(token)
}

/// Whether an operator token was set (the console is served only then).
pub fn has_operator_token(storage: &dyn Storage) -> Result<bool, StorageError> {
    Ok(storage.meta(TOKEN_HASH)?.is_some())
}

/// The console's routes.
pub fn router(receiver: Arc<Receiver>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/console.js", get(script))
        .route("/console.css", get(style))
        .route("/metrics", get(prometheus))
        .route("/api/overview", get(overview))
        .route("/api/devices", get(devices))
        .route("/api/devices/{device_id}/revoke", post(revoke))
        .route("/api/devices/{device_id}/reenrol", post(reenrol))
        .route("/api/senders", post(add_sender))
        .route("/api/enrol-codes", post(enrol_code))
        .route("/api/receipt-key/rotate", post(rotate_receipt_key))
        .route("/api/audit", get(audit_log))
        .with_state(receiver)
}

/// Serves the console on `listener` (loopback) until the future is dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    receiver: Arc<Receiver>,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(receiver).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // Only this page's own script and style; nothing loaded from elsewhere.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; frame-ancestors 'none'",
            ),
        ],
        PAGE,
    )
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}

async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}

/// A request that carries the operator token (`Authorization: Bearer hno_…`): only through
/// one do the console's API and `/metrics` act. A missing or wrong token counts against the
/// client's failure limit, as on the sender API.
struct Operator {
    receiver: Arc<Receiver>,
}

impl FromRequestParts<Arc<Receiver>> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        receiver: &Arc<Receiver>,
    ) -> Result<Self, ApiError> {
        let ConnectInfo(client) = ConnectInfo::<SocketAddr>::from_request_parts(parts, receiver)
            .await
            .map_err(|_| internal())?;
        receiver
            .limiter
            .check(client.ip(), receiver.limits.max_auth_failures)?;
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| secret_hash(t.trim()));
        let storage = receiver.storage.clone();
        let kept = tokio::task::spawn_blocking(move || storage.meta(TOKEN_HASH))
            .await
            .map_err(|_| internal())??;
        match (given, kept) {
            (Some(given), Some(kept)) if given.as_bytes() == kept.as_slice() => Ok(Self {
                receiver: receiver.clone(),
            }),
            _ => {
                receiver
                    .limiter
                    .failed(client.ip(), receiver.limits.max_auth_failures);
                Err(ApiError::unauthorized(
                    "give the operator token as `Authorization: Bearer <token>` (honnin-receiver operator-token makes one)",
                ))
            }
        }
    }
}

impl Operator {
    /// Runs `work` on a blocking thread (storage calls block).
    async fn run<T: Send + 'static>(
        self,
        work: impl FnOnce(&Receiver) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        tokio::task::spawn_blocking(move || work(&self.receiver))
            .await
            .map_err(|_| internal())?
    }

    /// [`Self::run`] with the request's JSON body read as `R` first.
    async fn with_json<R, T>(
        self,
        body: Bytes,
        work: impl FnOnce(&Receiver, R) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        R: DeserializeOwned + Send + 'static,
        T: Send + 'static,
    {
        let request: R = parse_json(&body)?;
        self.run(move |r| work(r, request)).await
    }
}

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "conflict", message)
}

/// `id` as a device or sender id, or a 400 that says what one looks like.
fn valid_id(what: &str, id: &str) -> Result<(), ApiError> {
    honnin_core::manifest::check_id(what, id)
        .map_err(|e| ApiError::bad_request("invalid_request", e.to_string()))
}

impl From<FleetError> for ApiError {
    fn from(error: FleetError) -> Self {
        let message = error.to_string();
        match error {
            FleetError::Invalid(_) => ApiError::bad_request("invalid_request", message),
            FleetError::NotEnrolled(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_enrolled", message)
            }
            FleetError::AlreadyRevoked(..)
            | FleetError::NotRevoked(_)
            | FleetError::AlreadyReplaced(..)
            | FleetError::ReplacementTaken(_) => conflict(message),
            FleetError::Storage(e) => e.into(),
        }
    }
}

async fn prometheus(operator: Operator) -> Result<impl IntoResponse, ApiError> {
    let text = operator
        .run(|r| {
            let overview = r.storage.overview()?;
            let mut text = metrics::exposition(&r.metrics.counts(), &overview);
            text.push_str(&crl_status::exposition(trust_status(r)?.as_ref()));
            text.push_str(&crate::receiver_trust::exposition(&r.verifier.in_use()));
            Ok(text)
        })
        .await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    ))
}

/// The loaded trust's lists against their nextUpdate, now (`None`: none loaded).
fn trust_status(receiver: &Receiver) -> Result<Option<crl_status::TrustStatus>, ApiError> {
    let loaded = crate::trust_bundle::loaded(receiver.storage.as_ref()).map_err(|e| match e {
        crate::trust_bundle::TrustLoadError::Storage(e) => ApiError::from(e),
        other => {
            eprintln!("honnin-receiver: {other}");
            internal()
        }
    })?;
    Ok(loaded.map(|trust| crl_status::status(&trust, now(), receiver.limits.crl_warning_seconds)))
}

async fn overview(operator: Operator) -> Result<impl IntoResponse, ApiError> {
    operator
        .run(|r| {
            let overview = r.storage.overview()?;
            Ok(Json(serde_json::json!({
                "database": overview,
                "instance": r.metrics.counts(),
                "receipt_key_id": r.receipt_key().id_hex(),
                "trust": trust_status(r)?,
                "receiver_trust": r.verifier.in_use(),
            })))
        })
        .await
}

async fn devices(operator: Operator) -> Result<impl IntoResponse, ApiError> {
    operator
        .run(|r| Ok(Json(fleet::devices(r.storage.as_ref())?)))
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeRequest {
    reason: String,
    /// Unix seconds; now when absent.
    cutoff: Option<i64>,
}

async fn revoke(
    operator: Operator,
    Path(device_id): Path<String>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    operator
        .with_json(body, move |r, request: RevokeRequest| {
            let now = now();
            let revocation = fleet::revoke(
                r.storage.as_ref(),
                ACTOR,
                &device_id,
                &request.reason,
                request.cutoff.unwrap_or(now),
                now,
            )?;
            Ok(Json(revocation))
        })
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReenrolRequest {
    replacement: String,
}

async fn reenrol(
    operator: Operator,
    Path(device_id): Path<String>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    operator
        .with_json(body, move |r, request: ReenrolRequest| {
            let (code, items_moved) = fleet::reenrol(
                r.storage.as_ref(),
                ACTOR,
                &device_id,
                &request.replacement,
                now(),
            )?;
            Ok(Json(serde_json::json!({
                "replacement": request.replacement,
                "enrolment_code": code,
                "items_moved": items_moved,
            })))
        })
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SenderRequest {
    sender_id: String,
}

async fn add_sender(operator: Operator, body: Bytes) -> Result<impl IntoResponse, ApiError> {
    operator
        .with_json(body, |r, request: SenderRequest| {
            valid_id("the sender id", &request.sender_id)?;
            match fleet::add_sender(r.storage.as_ref(), ACTOR, &request.sender_id, now()) {
                Ok(token) => Ok(Json(
                    serde_json::json!({"sender_id": request.sender_id, "token": token}),
                )),
                Err(StorageError::SenderExists(_)) => Err(conflict("this sender exists already")),
                Err(e) => Err(e.into()),
            }
        })
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrolCodeRequest {
    device_id: String,
    #[serde(default)]
    senders: Vec<String>,
}

async fn enrol_code(operator: Operator, body: Bytes) -> Result<impl IntoResponse, ApiError> {
    operator
        .with_json(body, |r, request: EnrolCodeRequest| {
            valid_id("the device id", &request.device_id)?;
            let senders: Vec<&str> = request.senders.iter().map(String::as_str).collect();
            let issued = fleet::issue_enrolment_code(
                r.storage.as_ref(),
                ACTOR,
                &request.device_id,
                &senders,
                now(),
            );
            match issued {
                Ok(code) => Ok(Json(
                    serde_json::json!({"device_id": request.device_id, "enrolment_code": code}),
                )),
                Err(StorageError::AlreadyEnrolled(_)) => Err(conflict(
                    "this device id is enrolled already: revoke it and re-enrol a replacement",
                )),
                Err(e) => Err(e.into()),
            }
        })
        .await
}

async fn rotate_receipt_key(operator: Operator) -> Result<impl IntoResponse, ApiError> {
    operator
        .run(|r| {
            let rotation =
                rotation::rotate_receipt_key(r.storage.as_ref(), &r.secrets, ACTOR, now())?;
            // This instance signs with the new key at once; the others within seconds.
            r.key.reload(r.storage.as_ref(), &r.secrets)?;
            Ok(Json(serde_json::json!({
                "receipt_key_id": r.receipt_key().id_hex(),
                "rotation": rotation,
            })))
        })
        .await
}

async fn audit_log(operator: Operator) -> Result<impl IntoResponse, ApiError> {
    operator
        .run(|r| {
            let entries = audit::all_entries(r.storage.as_ref())?;
            let verified = audit::verify_chain(&entries, None);
            Ok(Json(serde_json::json!({
                "chain": match &verified {
                    Ok((count, head)) => serde_json::json!({"intact": true, "entries": count, "head": head}),
                    Err(e) => serde_json::json!({"intact": false, "problem": e.to_string()}),
                },
                "entries": entries,
            })))
        })
        .await
}
