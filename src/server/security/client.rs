//! Who the client is, for the limits that count per client: the TCP peer, or behind a trusted
//! proxy the address that proxy says it forwarded for, grouped into the network one party holds.

use crate::server::config::SecurityConfig;
use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv6Addr};

/// How client addresses are read and grouped (from `[security]`).
#[derive(Debug, Clone)]
pub struct ClientRule {
    /// Peers whose `Forwarded` / `X-Forwarded-For` is believed. Anyone else's is ignored: a client
    /// can write those headers itself.
    pub trusted_proxies: Vec<IpNet>,
    /// IPv6 clients are counted by network of this prefix length: one party gets a /64 (or more)
    /// and can pick any address in it.
    pub ipv6_prefix: u8,
}

/// A client, as the limits count it: an IPv4 address or an IPv6 network, as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey(String);

impl ClientKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl ClientRule {
    pub fn new(cfg: &SecurityConfig) -> Self {
        Self {
            // Checked while read (`config::values::ip_networks`).
            trusted_proxies: cfg.trusted_proxies.iter().filter_map(|n| n.parse().ok()).collect(),
            ipv6_prefix: cfg.ipv6_prefix,
        }
    }

    pub fn is_trusted(&self, peer: IpAddr) -> bool {
        let peer = canonical(peer);
        self.trusted_proxies.iter().any(|net| net.contains(&peer))
    }

    /// The client's address: the peer's, or, when the peer is a trusted proxy, the nearest
    /// address in the forwarding chain that is not itself a trusted proxy (the chain is read from
    /// the right, the end the proxies wrote). An entry that does not parse stops the walk: the
    /// last proxy is then taken as the client, so garbage cannot mint fresh keys.
    pub fn client_addr(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer);
        if !self.is_trusted(client) {
            return client;
        }
        for hop in forwarded_chain(headers).iter().rev() {
            match hop {
                Some(addr) => {
                    client = canonical(*addr);
                    if !self.is_trusted(client) {
                        break;
                    }
                }
                None => break,
            }
        }
        client
    }

    /// The key the limits count `addr` under.
    pub fn key(&self, addr: IpAddr) -> ClientKey {
        match canonical(addr) {
            IpAddr::V4(v4) => ClientKey(v4.to_string()),
            IpAddr::V6(v6) => {
                let prefix = self.ipv6_prefix.min(128);
                let net = ipnet::Ipv6Net::new(v6, prefix).map(|n| n.trunc()).unwrap_or_else(|_| v6.into());
                ClientKey(net.to_string())
            }
        }
    }

    /// The key of the client behind a request from `peer`.
    pub fn client_key(&self, peer: IpAddr, headers: &HeaderMap) -> ClientKey {
        self.key(self.client_addr(peer, headers))
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:a.b.c.d`) is that IPv4 address.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The forwarding chain, client first: the `for=` of every `Forwarded` element (RFC 7239), or
/// else the entries of `X-Forwarded-For`. `None` for an entry that is not an address.
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::to_owned)
            .collect()
    };
    let forwarded = values("forwarded");
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.trim().split_once('='))
                    .find(|(k, _)| k.eq_ignore_ascii_case("for"))
                    .and_then(|(_, v)| parse_node(v))
            })
            .collect();
    }
    values("x-forwarded-for").iter().map(|v| parse_node(v)).collect()
}

/// `192.0.2.1`, `192.0.2.1:80`, `"[2001:db8::1]:443"`, `2001:db8::1`.
fn parse_node(raw: &str) -> Option<IpAddr> {
    let s = raw.trim().trim_matches('"');
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse::<Ipv6Addr>().ok()).map(IpAddr::V6);
    }
    s.rsplit_once(':').and_then(|(ip, _)| ip.parse::<std::net::Ipv4Addr>().ok()).map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderName, HeaderValue};

    fn rule(trusted: &[&str]) -> ClientRule {
        ClientRule { trusted_proxies: trusted.iter().map(|t| t.parse().unwrap()).collect(), ipv6_prefix: 64 }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        let xff = headers(&[("x-forwarded-for", "203.0.113.7, 10.0.0.9")]);
        assert_eq!(rule(&[]).client_addr(peer, &xff), peer, "no proxy trusted: the header is the client's own");
        let behind = rule(&["10.0.0.0/24"]);
        assert_eq!(behind.client_addr(peer, &xff).to_string(), "203.0.113.7", "the proxies' own hops skipped");
        let spoofed = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.7")]);
        assert_eq!(
            behind.client_addr(peer, &spoofed).to_string(),
            "203.0.113.7",
            "what the client wrote is left of it"
        );
        let fwd = headers(&[("forwarded", "for=\"[2001:db8:cafe::17]:4711\";proto=https, for=10.0.0.9")]);
        assert_eq!(behind.client_addr(peer, &fwd).to_string(), "2001:db8:cafe::17");
        let garbage = headers(&[("x-forwarded-for", "203.0.113.7, not-an-ip")]);
        assert_eq!(behind.client_addr(peer, &garbage), peer, "garbage mints no new client");
        assert_eq!(behind.client_addr(peer, &HeaderMap::new()), peer);
    }

    #[test]
    fn ipv6_clients_are_grouped_by_network_and_mapped_ipv4_is_ipv4() {
        let r = rule(&[]);
        let a = r.key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = r.key("2001:db8:1:2:ffff::9".parse().unwrap());
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "2001:db8:1:2::/64");
        assert_ne!(a, r.key("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(r.key("::ffff:192.0.2.1".parse().unwrap()).as_str(), "192.0.2.1");
    }
}
