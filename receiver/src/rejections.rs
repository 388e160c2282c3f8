//! Every refusal in the receiver's error shape, `{"error": {"code", "message"}}`, also those no
//! handler wrote: axum answers an unknown path (404), a method a path does not take (405), a
//! body cut at the limit while streaming (413) or a path segment that is not valid UTF-8 (400)
//! itself, with a plain-text body or none. A client (and the OpenAPI document, which promises
//! the error shape for every 4xx) then gets no code to act on. This layer rewrites such answers;
//! the handlers' own errors ([`ApiError`]) are JSON already and pass unchanged.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Longest part of axum's own message kept in the typed error.
const MAX_DETAIL: usize = 200;
/// What is read of a plain-text rejection body to quote it.
const MAX_READ: usize = 4096;

/// The middleware: a 4xx answer that is not JSON becomes a typed error.
pub async fn typed(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !status.is_client_error() || is_json(&response) {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let detail = match axum::body::to_bytes(response.into_body(), MAX_READ).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes)
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_DETAIL)
            .collect::<String>(),
        Err(_) => String::new(),
    };
    let mut typed = typed_error(status, detail.trim()).into_response();
    if let Some(allow) = allow {
        typed.headers_mut().insert(header::ALLOW, allow);
    }
    typed
}

fn is_json(response: &Response<Body>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// The typed error for an answer axum made with `status` and plain-text `detail`.
pub fn typed_error(status: StatusCode, detail: &str) -> ApiError {
    let (code, advice) = match status {
        StatusCode::NOT_FOUND => (
            "no_such_endpoint",
            "no endpoint has this path; see /v1/openapi.json",
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this path does not take this method; the Allow header lists those it takes",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "body_too_large",
            "the body is larger than the receiver takes per request",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "send the body as application/json",
        ),
        _ => ("bad_request", "the request cannot be read"),
    };
    let message = if detail.is_empty() {
        advice.to_owned()
    } else {
        format!("{advice} ({detail})")
    };
    ApiError::new(status, code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_gets_its_code_and_keeps_a_short_detail() {
        let error = typed_error(StatusCode::METHOD_NOT_ALLOWED, "");
        assert_eq!(error.code, "method_not_allowed");
        let error = typed_error(StatusCode::BAD_REQUEST, "Invalid URL: bad UTF-8");
        assert_eq!(error.code, "bad_request");
        assert!(error.message.ends_with("(Invalid URL: bad UTF-8)"));
        assert_eq!(
            typed_error(StatusCode::PAYLOAD_TOO_LARGE, "x").code,
            "body_too_large"
        );
        assert_eq!(
            typed_error(StatusCode::NOT_FOUND, "").code,
            "no_such_endpoint"
        );
    }
}
