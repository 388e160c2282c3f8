//! Where the receiver may push a webhook: a sender chooses the URL, and the receiver's pushes
//! come from inside the operator's network, so an unchecked URL would let any sender make the
//! receiver post to its own loopback services, the private network or a cloud metadata
//! address (server-side request forgery).
//!
//! By default a webhook must be `https://` to a public address: a URL naming a loopback,
//! private, link-local, shared (CGNAT), unique-local, multicast or unspecified address is
//! refused at registration, by literal address and by every address its name resolves to.
//! Names are checked again at each push, on the addresses the connection actually uses (the
//! pusher's resolver drops every non-public one), so a name re-pointed after registration
//! (DNS rebinding) gets nothing; pushes follow no redirects and use no proxy from the
//! environment. An operator whose senders' endpoints live on its own network allows them with
//! `serve --allow-private-webhooks`, which also allows plain `http://` to loopback (tests,
//! a proxy on the same machine).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};

use crate::error::ApiError;

/// Whether pushing to `ip` cannot reach the operator's own machine or network.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        // 0.0.0.0/8 ("this network") and 100.64.0.0/10 (carrier-grade NAT, shared).
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        // 192.0.0.0/24 (protocol assignments) and 198.18.0.0/15 (benchmarking).
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (b == 18 || b == 19)))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // fc00::/7 unique local, fe80::/10 link-local, fec0::/10 site-local (deprecated).
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        // 2001:db8::/32 documentation; 64:ff9b:1::/48 local-use NAT64.
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        || (first == 0x0064 && ip.segments()[1] == 0xff9b && ip.segments()[2] == 1))
}

/// A webhook URL as checked: its host (brackets removed) and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
}

fn bad(why: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_webhook_url", why)
}

const ALLOW_HINT: &str = "the receiver's operator can allow addresses on its own network with `serve --allow-private-webhooks`";

/// Checks `url` before any lookup: https (or, when `allow_private`, http to loopback), a host,
/// no user info, and a literal address only if public (or allowed). The host and port to
/// resolve, for [`check_resolved`].
pub fn check_url(url: &str, allow_private: bool) -> Result<Target, ApiError> {
    if url.len() > 2048 || url.chars().any(|c| c.is_control() || c == ' ') {
        return Err(bad("the URL is longer than 2048 bytes or has spaces"));
    }
    let uri: Uri = url
        .parse()
        .map_err(|_| bad("the URL cannot be read as an absolute https:// URL"))?;
    let authority = uri.authority().ok_or_else(|| bad("the URL has no host"))?;
    if authority.as_str().contains('@') {
        return Err(bad("the URL must not carry a user name or password"));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if host.is_empty() {
        return Err(bad("the URL has no host"));
    }
    let literal: Option<IpAddr> = host.parse().ok();
    let loopback =
        host.eq_ignore_ascii_case("localhost") || literal.is_some_and(|ip| ip.is_loopback());
    let port = match uri.scheme_str() {
        Some("https") => authority.port_u16().unwrap_or(443),
        Some("http") if allow_private && loopback => authority.port_u16().unwrap_or(80),
        Some("http") if loopback => {
            return Err(bad(format!(
                "plain http:// to this machine is refused; {ALLOW_HINT}"
            )));
        }
        Some("http") => {
            return Err(bad(
                "plain http:// is allowed only to this machine, and only when the operator allows it; use https://",
            ));
        }
        _ => return Err(bad("the URL must start with https://")),
    };
    if let Some(ip) = literal
        && !allow_private
        && !is_public(ip)
    {
        return Err(bad(format!(
            "{ip} is a loopback, private or link-local address; {ALLOW_HINT}"
        )));
    }
    Ok(Target { host, port })
}

/// Resolves the target's name and refuses it unless every address it has is public (or
/// private addresses are allowed): a name that resolves nowhere is refused too, since it
/// could be pointed anywhere later without a check at registration.
pub async fn check_resolved(target: &Target, allow_private: bool) -> Result<(), ApiError> {
    if allow_private || target.host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let addresses: Vec<IpAddr> = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .map_err(|_| bad(format!("the host {:?} does not resolve", target.host)))?
        .map(|a| a.ip())
        .collect();
    if addresses.is_empty() {
        return Err(bad(format!("the host {:?} does not resolve", target.host)));
    }
    if let Some(ip) = addresses.iter().find(|ip| !is_public(**ip)) {
        return Err(bad(format!(
            "the host {:?} resolves to {ip}, a loopback, private or link-local address; {ALLOW_HINT}",
            target.host
        )));
    }
    Ok(())
}

/// The pusher's resolver: the default one, minus every non-public address unless they are
/// allowed; a name left with none fails the push.
#[derive(Debug, Default)]
pub struct PublicResolver {
    pub allow_private: bool,
    inner: DefaultResolver,
}

impl PublicResolver {
    pub fn new(allow_private: bool) -> Self {
        Self {
            allow_private,
            inner: DefaultResolver::default(),
        }
    }
}

impl Resolver for PublicResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let resolved = self.inner.resolve(uri, config, timeout)?;
        if self.allow_private {
            return Ok(resolved);
        }
        let mut kept = self.empty();
        for address in resolved.iter().filter(|a| is_public(a.ip())) {
            kept.push(*address);
        }
        if kept.is_empty() {
            return Err(ureq::Error::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "the webhook's host resolves only to loopback, private or link-local addresses",
            )));
        }
        Ok(kept)
    }
}

/// The agent webhooks are pushed with: [`PublicResolver`], no redirects, no proxy.
pub fn push_agent(timeout: std::time::Duration, allow_private: bool) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .build();
    ureq::Agent::with_parts(
        config,
        ureq::unversioned::transport::DefaultConnector::default(),
        PublicResolver::new(allow_private),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_default_webhooks_are_https_to_public_addresses() {
        assert!(check_url("https://bank.example/honnin", false).is_ok());
        assert!(
            check_url("https://203.0.113.7/hook", false).is_err(),
            "documentation"
        );
        assert!(check_url("https://8.8.8.8/hook", false).is_ok());
        for refused in [
            "http://127.0.0.1:9000/hook",
            "http://localhost/hook",
            "http://[::1]:9000/hook",
            "http://bank.example/hook",
            "https://127.0.0.1/hook",
            "https://127.1.2.3/hook",
            "https://10.0.0.1/hook",
            "https://172.16.0.1/hook",
            "https://192.168.1.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/hook",
            "https://0.0.0.0/hook",
            "https://[::1]/hook",
            "https://[fe80::1]/hook",
            "https://[fd00::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://[::ffff:169.254.169.254]/hook",
            "https://user@bank.example/",
            "https://127.0.0.1@bank.example/",
            "ftp://bank.example",
            "https://",
            "https://bank.example/a b",
            "bank.example/hook",
        ] {
            assert!(check_url(refused, false).is_err(), "{refused}");
        }
    }

    #[test]
    fn the_operator_can_allow_its_own_network_and_loopback_http() {
        for allowed in [
            "http://127.0.0.1:9000/hook",
            "http://localhost/hook",
            "http://[::1]:9000/hook",
            "https://10.0.0.1/hook",
            "https://[fe80::1]/hook",
        ] {
            assert!(check_url(allowed, true).is_ok(), "{allowed}");
        }
        // Plain http to another machine stays refused.
        assert!(check_url("http://bank.example/hook", true).is_err());
        assert!(check_url("http://10.0.0.1/hook", true).is_err());
        assert!(check_url("http://localhost.bank.example/", true).is_err());
        assert_eq!(
            check_url("https://[fe80::1]:8443/x", true).expect("allowed"),
            Target {
                host: "fe80::1".into(),
                port: 8443
            }
        );
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_unless_allowed() {
        let target = check_url("https://localhost:8443/hook", false).expect("syntax");
        let refused = check_resolved(&target, false)
            .await
            .expect_err("loopback name");
        assert!(
            refused.message.contains("resolves to"),
            "{}",
            refused.message
        );
        assert!(check_resolved(&target, true).await.is_ok());
    }
}
