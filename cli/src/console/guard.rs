//! Who may talk to the console. It listens on loopback, but every local user's processes can
//! reach loopback, and a web page elsewhere can make the clerk's browser send requests to it (or
//! re-point a DNS name at 127.0.0.1). So every request must:
//! 1. come from a loopback address (never the network, even through a misconfigured proxy);
//! 2. name this console in `Host` (`127.0.0.1:<port>` or `localhost:<port>`): a rebound DNS name
//!    does not;
//! 3. if it carries an `Origin`, be this console's own origin (no cross-site requests);
//! 4. carry the per-start key: once in the address `honnin console` printed (`/?key=…`), which
//!    is answered with an HttpOnly, SameSite=Strict cookie and a redirect to `/` so the key
//!    leaves the address bar and the history, and from then on in that cookie.
//!
//! Each refusal is a 403 with a message naming what is wrong, in Japanese and English, and no
//! command reaches the worker.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::routes::{refusal, refusal_page};

/// The key and the port this console answers for.
#[derive(Clone)]
pub struct Guard {
    /// SHA-256 of the key: compared in constant time, and the key itself is not kept.
    key_hash: [u8; 32],
    port: u16,
}

impl Guard {
    pub fn new(key: &str, port: u16) -> Self {
        Self {
            key_hash: Sha256::digest(key.as_bytes()).into(),
            port,
        }
    }

    /// Cookies are shared by every port of a host: the name carries the port so two consoles
    /// on one computer do not overwrite each other's.
    fn cookie_name(&self) -> String {
        format!("honnin_console_{}", self.port)
    }

    fn key_matches(&self, candidate: &str) -> bool {
        let hash: [u8; 32] = Sha256::digest(candidate.as_bytes()).into();
        // Constant time over the fixed-size hashes: no early exit on the first differing byte.
        hash.iter()
            .zip(self.key_hash.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    fn host_is_ours(&self, headers: &HeaderMap) -> bool {
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        [
            format!("127.0.0.1:{}", self.port),
            format!("localhost:{}", self.port),
        ]
        .iter()
        .any(|ours| host.eq_ignore_ascii_case(ours))
    }

    fn origin_is_ours(&self, headers: &HeaderMap) -> bool {
        match headers.get(header::ORIGIN).map(HeaderValue::to_str) {
            None => true,
            Some(Ok(origin)) => [
                format!("http://127.0.0.1:{}", self.port),
                format!("http://localhost:{}", self.port),
            ]
            .iter()
            .any(|ours| origin.eq_ignore_ascii_case(ours)),
            Some(Err(_)) => false,
        }
    }

    fn cookie_key<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        let name = self.cookie_name();
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|line| line.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value)
    }
}

/// The key given in the address (`?key=…`), if any.
fn query_key(request: &Request) -> Option<&str> {
    request
        .uri()
        .query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == "key")
        .map(|(_, value)| value)
}

/// The middleware in front of every route.
pub async fn check(
    State(guard): State<Guard>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    // The page's own requests get JSON; an address opened in the browser gets a page.
    let refusal: fn(StatusCode, &str, &str, &str) -> Response =
        if request.uri().path().starts_with("/api/") {
            refusal
        } else {
            refusal_page
        };
    if !peer.ip().is_loopback() {
        return refusal(
            StatusCode::FORBIDDEN,
            "not_loopback",
            "The counter console answers this computer only.",
            "この画面は、このパソコンからのみ利用できます。",
        );
    }
    if !guard.host_is_ours(request.headers()) {
        return refusal(
            StatusCode::FORBIDDEN,
            "foreign_host",
            "This request names another host: open the address honnin console printed.",
            "別のホスト名での要求です。honnin console が表示したアドレスを開いてください。",
        );
    }
    if !guard.origin_is_ours(request.headers()) {
        return refusal(
            StatusCode::FORBIDDEN,
            "foreign_origin",
            "Requests from other web pages are refused.",
            "他のウェブページからの要求は受け付けません。",
        );
    }
    if guard
        .cookie_key(request.headers())
        .is_some_and(|key| guard.key_matches(key))
    {
        return next.run(request).await;
    }
    // The printed address: set the cookie, and send the browser on to the address without the
    // key.
    if request.uri().path() == "/"
        && let Some(key) = query_key(&request)
        && guard.key_matches(key)
    {
        let cookie = format!(
            "{}={key}; Path=/; HttpOnly; SameSite=Strict",
            guard.cookie_name()
        );
        return (
            StatusCode::SEE_OTHER,
            [
                (header::SET_COOKIE, cookie),
                (header::LOCATION, "/".to_owned()),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
        )
            .into_response();
    }
    refusal(
        StatusCode::FORBIDDEN,
        "no_key",
        "This console needs its key: open the full address honnin console printed when it started.",
        "この画面には鍵が必要です。honnin console の起動時に表示されたアドレスをそのまま開いてください。",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    #[test]
    fn only_our_key_host_and_origin_pass() {
        let guard = Guard::new("secret-key", 4321);
        assert!(guard.key_matches("secret-key"));
        assert!(!guard.key_matches("secret-kez"));
        assert!(!guard.key_matches(""));

        assert!(guard.host_is_ours(&headers(&[(header::HOST, "127.0.0.1:4321")])));
        assert!(guard.host_is_ours(&headers(&[(header::HOST, "localhost:4321")])));
        assert!(!guard.host_is_ours(&headers(&[(header::HOST, "127.0.0.1:4322")])));
        assert!(!guard.host_is_ours(&headers(&[(header::HOST, "evil.example:4321")])));
        assert!(!guard.host_is_ours(&HeaderMap::new()));

        assert!(guard.origin_is_ours(&HeaderMap::new()));
        assert!(guard.origin_is_ours(&headers(&[(header::ORIGIN, "http://127.0.0.1:4321")])));
        assert!(!guard.origin_is_ours(&headers(&[(header::ORIGIN, "http://evil.example")])));
        assert!(!guard.origin_is_ours(&headers(&[(header::ORIGIN, "null")])));

        let cookies = headers(&[(
            header::COOKIE,
            "other=1; honnin_console_4321=secret-key; honnin_console_9=x",
        )]);
        assert_eq!(guard.cookie_key(&cookies), Some("secret-key"));
        let theirs = headers(&[(header::COOKIE, "honnin_console_9=secret-key")]);
        assert_eq!(guard.cookie_key(&theirs), None);
    }
}
