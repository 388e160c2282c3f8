//! Webhook targets a hostile sender picks, against the real receiver over TLS on loopback
//! (SQLite and PostgreSQL): loopback, private and link-local addresses, literal or by a name
//! resolving there, are refused unless the operator allows them, and a webhook kept for one
//! gets no connection from the pusher.

#[macro_use]
mod common;
mod hostile_support;

use std::sync::Arc;

use honnin_e2e::records::device_signer;
use honnin_receiver::operator;
use honnin_receiver::storage::WebhookRow;
use honnin_receiver::webhook::{PushSettings, run_pusher};

use common::Backend;
use hostile_support::{Server, call, enrol, record, start, store};

backend_tests!(
    a_webhook_to_the_receivers_own_network_is_refused_unless_the_operator_allows_it,
    a_webhook_kept_for_a_private_address_gets_no_connection,
);

/// `PUT /v1/webhook` with `url` for the sender of `token`.
fn put_webhook(server: &Server, token: &str, url: &str) -> (u16, serde_json::Value) {
    let headers = [("authorization", format!("Bearer {token}"))];
    call(
        server,
        "PUT",
        "/v1/webhook",
        &headers,
        Some(serde_json::json!({ "url": url })),
    )
}

/// A TCP listener on loopback that counts the connections made to it (and closes them).
fn connection_counter(server: &Server) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = server
        .runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binds");
    let port = listener.local_addr().expect("address").port();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    server.runtime.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(stream);
        }
    });
    (port, count)
}

fn a_webhook_to_the_receivers_own_network_is_refused_unless_the_operator_allows_it(
    backend: &Backend,
) {
    let server = start(backend, |_| {});
    let token =
        operator::add_sender(server.receiver.storage.as_ref(), "test-bank").expect("sender");
    let (port, connections) = connection_counter(&server);
    for url in [
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://localhost:{port}/hook"),
        format!("https://127.0.0.1:{port}/hook"),
        // Names that resolve to loopback, one of them an address in a form that only the
        // resolver reads as one.
        format!("https://localhost:{port}/hook"),
        format!("https://0x7f000001:{port}/hook"),
        format!("https://2130706433:{port}/hook"),
        "https://10.1.2.3/hook".to_owned(),
        "https://192.168.0.10/hook".to_owned(),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
        "https://[::1]/hook".to_owned(),
        "https://[fe80::1]/hook".to_owned(),
        "https://[::ffff:10.0.0.1]/hook".to_owned(),
    ] {
        let (status, answer) = put_webhook(&server, &token, &url);
        assert_eq!(status, 400, "{url}: {answer}");
        assert_eq!(
            answer["error"]["code"], "invalid_webhook_url",
            "{url}: {answer}"
        );
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("--allow-private-webhooks")),
            "{url}: {answer}"
        );
    }
    assert!(
        server
            .receiver
            .storage
            .webhook("test-bank")
            .expect("reads")
            .is_none()
    );
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 0);
    // Allowed by the operator: the same loopback endpoint is accepted.
    let allowed = start(backend, |r| r.limits.allow_private_webhooks = true);
    let token =
        operator::add_sender(allowed.receiver.storage.as_ref(), "test-bank").expect("sender");
    let (status, answer) = put_webhook(&allowed, &token, &format!("http://127.0.0.1:{port}/hook"));
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = put_webhook(&allowed, &token, "https://10.1.2.3/hook?key=s3cr3t");
    assert_eq!(status, 200, "{answer}");
    let secret = answer["secret"].as_str().expect("secret").to_owned();
    let headers = [("authorization", format!("Bearer {token}"))];
    let (status, _) = call(&allowed, "DELETE", "/v1/webhook", &headers, None);
    assert_eq!(status, 204);
    // Each change is in the audit log, by the sender, with where pushes go but neither the
    // path and query (they may carry the sender's own secret) nor the webhook's secret.
    let logged =
        honnin_receiver::audit::all_entries(allowed.receiver.storage.as_ref()).expect("audit log");
    let changes: Vec<(&str, &str)> = logged
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str()))
        .collect();
    assert_eq!(
        changes,
        [
            ("sender:test-bank", "set_webhook"),
            ("sender:test-bank", "set_webhook"),
            ("sender:test-bank", "delete_webhook"),
        ]
    );
    assert!(
        logged[1].detail.contains("\"10.1.2.3\""),
        "{}",
        logged[1].detail
    );
    for entry in &logged {
        assert!(
            !entry.detail.contains("s3cr3t") && !entry.detail.contains(&secret),
            "{}",
            entry.detail
        );
    }
}

fn a_webhook_kept_for_a_private_address_gets_no_connection(backend: &Backend) {
    let settings = PushSettings {
        poll: std::time::Duration::from_millis(20),
        initial_backoff: std::time::Duration::from_millis(20),
        max_backoff: std::time::Duration::from_millis(50),
        timeout: std::time::Duration::from_secs(2),
        page: 10,
    };
    for allow in [false, true] {
        let server = start(backend, |r| r.limits.allow_private_webhooks = allow);
        let storage = server.receiver.storage.as_ref();
        enrol(&server, "handheld-01", &device_signer());
        let (port, connections) = connection_counter(&server);
        // Kept before the receiver refused them (registered under an older release): a
        // literal loopback http URL, and https URLs whose names resolve to loopback.
        let senders = ["test-bank", "other-shop", "third-shop"];
        for sender in senders {
            // Registered, so the overview shows each webhook's failures (below).
            operator::add_sender(storage, sender).expect("sender");
        }
        for (sender, url) in [
            ("test-bank", format!("http://127.0.0.1:{port}/hook")),
            ("other-shop", format!("https://localhost:{port}/hook")),
            ("third-shop", format!("https://0x7f000001:{port}/hook")),
        ] {
            let hook = WebhookRow {
                sender_id: sender.into(),
                url,
                secret: "00".repeat(32),
                cursor: 0,
            };
            storage.set_webhook(sender, Some(&hook)).expect("keeps");
        }
        store(
            storage,
            None,
            &[
                record("test-bank", 1),
                record("other-shop", 2),
                record("third-shop", 3),
            ],
        );
        server
            .runtime
            .spawn(run_pusher(server.receiver.clone(), settings.clone()));
        // Waits for what each case expects, not for a fixed time (a loaded machine may take
        // seconds): allowed, a connection to each; refused, two failed pushes of each webhook,
        // so the pusher has come to every one of them (and then made no connection).
        let failures = |sender: &str| {
            storage
                .overview()
                .expect("overview")
                .senders
                .iter()
                .find(|figures| figures.sender_id == sender)
                .map_or(0, |figures| figures.webhook_failures)
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::time::Instant::now() < deadline
            && if allow {
                connections.load(std::sync::atomic::Ordering::SeqCst) < 3
            } else {
                senders.iter().any(|sender| failures(sender) < 2)
            }
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        if !allow {
            for sender in senders {
                assert!(
                    failures(sender) >= 2,
                    "the pusher did not try {sender}'s webhook within 60 s"
                );
            }
        }
        let made = connections.load(std::sync::atomic::Ordering::SeqCst);
        if allow {
            // The control: allowed, the pusher does connect, to each.
            assert!(made >= 3, "the allowed pusher made {made} connections");
        } else {
            assert_eq!(made, 0, "the pusher connected to a loopback address");
        }
    }
}
