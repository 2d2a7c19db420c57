//! The client's real address: the connection's peer, or, when that peer is a reverse proxy the
//! operator trusts (`WHARF_TRUSTED_PROXIES`), the address the proxy says it forwarded for.
//! Login throttling, connection limits and the audit log all use this one address; headers
//! from anyone else are ignored, so a client cannot pick an address to dodge a limit.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// The client's address, as resolved once per request by [`resolve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(of(parts))
    }
}

/// The address recorded when none is known (a request served without a connection, as
/// in-process tests do): the one fallback every edge uses.
pub const UNKNOWN: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);

/// The address [`resolve`] recorded (the peer's without it; [`UNKNOWN`] when served without a
/// connection).
pub fn of(parts: &Parts) -> ClientIp {
    parts.extensions.get::<ClientIp>().copied().unwrap_or_else(|| {
        ClientIp(parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(UNKNOWN, |c| c.0.ip()))
    })
}

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(std::sync::Arc<[IpNet]>);

impl TrustedProxies {
    /// Proxies at these addresses or networks.
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self(nets.into())
    }

    /// Whether `ip` is one of them.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client behind `peer`: the right-most forwarded address that is not a trusted proxy
    /// (each proxy appends the address it received from; anything left of the first untrusted
    /// hop was written by the client and proves nothing).
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let chain = forwarded_for(headers);
        let mut client = peer;
        for hop in chain.iter().rev() {
            client = hop.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// The addresses of `Forwarded: for=…` (RFC 7239), else of `X-Forwarded-For`, left to right.
/// An entry that is not an address (`unknown`, an obfuscated name) ends the chain there.
fn forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    let values = |name| headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
    let forwarded = values("forwarded");
    let hops: Vec<String> = if forwarded.is_empty() {
        values("x-forwarded-for").iter().flat_map(|v| v.split(',')).map(|h| h.trim().to_owned()).collect()
    } else {
        forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.trim().split_once('=')?;
                    k.trim().eq_ignore_ascii_case("for").then(|| v.trim().trim_matches('"').to_owned())
                })
            })
            .collect()
    };
    hops.iter().map_while(|h| parse_hop(h)).collect()
}

/// `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:443` or `2001:db8::1`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    hop.parse::<SocketAddr>().ok().map(|s| s.ip())
}

/// Middleware: records the request's [`ClientIp`] for everything after it.
pub async fn resolve(State(proxies): State<TrustedProxies>, mut req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if let Some(peer) = peer {
        let client = proxies.client(peer, req.headers());
        req.extensions_mut().insert(ClientIp(client));
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().expect("value"));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let t =
            TrustedProxies::new(vec!["10.0.0.0/8".parse().expect("net"), "::1/128".parse().expect("net")]);
        let xff = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9")]);
        assert_eq!(t.client(ip("198.51.100.1"), &xff), ip("198.51.100.1"), "an untrusted peer is the client");
        assert_eq!(t.client(ip("10.1.2.3"), &xff), ip("203.0.113.9"), "the hop the proxy saw");
        let two = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.9.9.9")]);
        assert_eq!(t.client(ip("10.1.2.3"), &two), ip("203.0.113.9"), "trusted hops are skipped");
        let fwd = headers(&[("forwarded", "for=\"[2001:db8::7]:4711\";proto=https, for=10.0.0.5")]);
        assert_eq!(t.client(ip("::1"), &fwd), ip("2001:db8::7"));
        assert_eq!(
            t.client(ip("10.1.2.3"), &HeaderMap::new()),
            ip("10.1.2.3"),
            "no header: the proxy itself"
        );
        let junk = headers(&[("x-forwarded-for", "unknown")]);
        assert_eq!(t.client(ip("10.1.2.3"), &junk), ip("10.1.2.3"));
        assert_eq!(
            t.client(ip("::ffff:10.0.0.1"), &xff),
            ip("203.0.113.9"),
            "IPv4-mapped peers are matched as IPv4"
        );
        assert_eq!(
            TrustedProxies::default().client(ip("10.1.2.3"), &xff),
            ip("10.1.2.3"),
            "none trusted by default"
        );
    }
}
