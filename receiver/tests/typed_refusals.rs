//! Regression tests for what the Schemathesis run (receiver/tests/api_fuzz) and its harness
//! found, against the real receiver over TLS on loopback:
//!
//! - Refusals axum made itself had no error body (an unknown path, a method a path does not
//!   take) or a plain-text one (a path segment that is not UTF-8, a chunked body over the
//!   limit), where the document promises `{"error": {"code", "message"}}`; now each is typed.
//! - The document's `ItemStatus` was an `allOf` with `ItemRegistration`, which forbids
//!   additional properties, so every item answer (it has `delivery`) broke its own schema.
//! - With every check on (positive and negative data acceptance): the feed clamped a `limit`
//!   beyond 1-1000 and took a negative `after` where the document forbids both (now 400
//!   `invalid_query`); enrolment counted a device id's 256 in bytes where the document's
//!   maxLength counts characters (a 100-character Japanese id was refused); and the document
//!   allowed empty ids and names, surrounding spaces, keys of any text and unknown batch
//!   fields that the receiver refuses (now it says so: `receiver/openapi.json`).

#[macro_use]
mod common;
mod hostile_support;

use common::Backend;
use hostile_support::{Server, call, start};

backend_tests!(
    refusals_the_router_makes_itself_are_typed,
    the_feed_refuses_what_the_document_forbids_and_enrolment_counts_characters,
);

fn answer(server: &Server, method: &str, path: &str) -> (u16, Option<String>, serde_json::Value) {
    let url = format!("{}{path}", server.base);
    let result = match method {
        "GET" => server.agent.get(&url).call(),
        "PATCH" => server.agent.patch(&url).send_empty(),
        _ => panic!("unsupported {method}"),
    };
    let mut response = result.expect("an answer");
    let status = response.status().as_u16();
    let allow = response
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        allow,
        serde_json::from_str(&text).unwrap_or_default(),
    )
}

fn refusals_the_router_makes_itself_are_typed(backend: &Backend) {
    let server = start(backend, |receiver| receiver.limits.max_body = 64 * 1024);
    let (status, _, body) = answer(&server, "GET", "/v1/nothing-here");
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &"no_such_endpoint".into()),
        "{body}"
    );
    let (status, allow, body) = answer(&server, "PATCH", "/v1/items");
    assert_eq!(
        (status, &body["error"]["code"]),
        (405, &"method_not_allowed".into()),
        "{body}"
    );
    assert_eq!(allow.as_deref(), Some("PUT"));
    // A percent-encoded byte that is no UTF-8 in a path parameter.
    let (status, _, body) = answer(&server, "GET", "/v1/items/%FF%FE");
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &"bad_request".into()),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );

    // A body with no Content-Length to judge first, cut at the limit while it is read. Sent
    // to the router in process: over a socket, the receiver's close after its answer resets
    // the connection while the client still sends, and the client may lose the answer.
    let (status, body) = streamed_over_limit(&server, 64 * 1024);
    assert_eq!(
        (status, &body["error"]["code"]),
        (413, &"body_too_large".into()),
        "{body}"
    );
}

/// `PUT /v1/items` with a streamed body of more than `limit` bytes and no Content-Length.
fn streamed_over_limit(server: &Server, limit: usize) -> (u16, serde_json::Value) {
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use tower::ServiceExt as _;
    let mut request = axum::http::Request::builder()
        .method("PUT")
        .uri("/v1/items")
        .header("authorization", "Bearer x")
        .header("content-type", "application/json")
        .body(Body::new(Spaces { left: limit + 2048 }))
        .expect("request");
    request
        .extensions_mut()
        .insert(ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 9))));
    let router = honnin_receiver::routes::router(server.receiver.clone());
    server.runtime.block_on(async move {
        let response = router.oneshot(request).await.expect("an answer");
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("the answer's body");
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    })
}

/// A body of `left` spaces in frames of 1 KiB, of unknown length (as a chunked upload).
struct Spaces {
    left: usize,
}

impl hyper::body::Body for Spaces {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        let n = self.left.min(1024);
        self.left -= n;
        let frame = hyper::body::Frame::data(axum::body::Bytes::from(vec![b' '; n]));
        std::task::Poll::Ready(Some(Ok(frame)))
    }
}

#[test]
fn no_schema_an_all_of_extends_forbids_additional_properties() {
    let document: serde_json::Value =
        serde_json::from_str(honnin_receiver::OPENAPI).expect("the document is JSON");
    let schemas = document["components"]["schemas"]
        .as_object()
        .expect("schemas");
    for (name, schema) in schemas {
        for part in schema["allOf"].as_array().into_iter().flatten() {
            let target = part["$ref"]
                .as_str()
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .map_or(part, |r| &schemas[r]);
            assert_ne!(
                target["additionalProperties"],
                serde_json::Value::Bool(false),
                "{name} extends a schema that forbids the properties it adds"
            );
        }
    }
    // The item answer's own schema lists what the receiver sends.
    let status = &schemas["ItemStatus"];
    for field in ["item_id", "device_id", "delivery", "attributes"] {
        assert!(status["properties"].get(field).is_some(), "{field}");
    }
}

fn the_feed_refuses_what_the_document_forbids_and_enrolment_counts_characters(backend: &Backend) {
    let server = start(backend, |_| {});
    let token = honnin_receiver::operator::add_sender(server.receiver.storage.as_ref(), "bank")
        .expect("sender");
    let auth = [("authorization", format!("Bearer {token}"))];
    for query in [
        "limit=1001",
        "limit=0",
        "limit=5000",
        "after=-1",
        "limit=x",
        "other=1",
    ] {
        let (status, body) = call(&server, "GET", &format!("/v1/feed?{query}"), &auth, None);
        assert_eq!(
            (status, &body["error"]["code"]),
            (400, &"invalid_query".into()),
            "{query}: {body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("1-1000")),
            "{body}"
        );
    }
    for query in ["limit=1", "limit=1000", "after=0&limit=100", ""] {
        let (status, body) = call(&server, "GET", &format!("/v1/feed?{query}"), &auth, None);
        assert_eq!(status, 200, "{query}: {body}");
    }

    // 100 characters of 3 bytes each: within the document's 256 characters.
    let signer = honnin_e2e::records::device_signer();
    let long_id = "配".repeat(100);
    hostile_support::enrol(&server, &long_id, &signer);
    let code = honnin_receiver::operator::issue_enrolment_code(
        server.receiver.storage.as_ref(),
        "x",
        &[],
        honnin_receiver::now(),
    )
    .expect("code");
    let too_long = serde_json::json!({
        "device_id": "配".repeat(257),
        "public_key": "MFkw",
        "code": code,
    });
    let (status, body) = call(&server, "POST", "/v1/enrol", &[], Some(too_long));
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &"invalid_device_id".into()),
        "{body}"
    );
}
