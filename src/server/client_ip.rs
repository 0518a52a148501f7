//! The client's address: the TCP peer, or, when the peer is a trusted reverse proxy (`[server]
//! trusted_proxies`), the address that proxy saw, from `X-Forwarded-For`. Only the entries
//! appended by trusted proxies are believed: the list is read from the right, past trusted
//! hops, and the first address that is not a trusted proxy is the client (anything left of it
//! may be forged by the client). It keys the per-IP rate limits and is `event.request.ip`.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// The client's address for a request from `peer` with `headers`.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(&canonical(*ip)));
    if !is_trusted(&peer) {
        return peer;
    }
    // Every X-Forwarded-For header, in order, as one list.
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = canonical(ip);
                if !is_trusted(&client) {
                    return client;
                }
            }
            // Garbage where a trusted proxy should have written an address: the last address
            // known for sure.
            Err(_) => return client,
        }
    }
    client
}

/// IPv4-mapped IPv6 addresses as IPv4 (one client, one rate-limit key).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().expect("header"));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn nets(v: &[&str]) -> Vec<ipnet::IpNet> {
        v.iter().map(|s| s.parse().expect("net")).collect()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        assert_eq!(client_ip(ip("203.0.113.9"), &headers(&["198.51.100.1"]), &[]), ip("203.0.113.9"));
    }

    #[test]
    fn a_peer_that_is_not_a_trusted_proxy_cannot_forge_its_address() {
        let t = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(ip("203.0.113.9"), &headers(&["10.0.0.5", "1.2.3.4"]), &t),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let t = nets(&["10.0.0.0/8"]);
        // The client prepends a forged address; the proxy appends the real one.
        let h = headers(&["6.6.6.6, 198.51.100.7"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &t), ip("198.51.100.7"));
        // Two trusted proxies in a row, and the list split over two headers.
        let h = headers(&["6.6.6.6, 198.51.100.7", "10.1.2.3"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &t), ip("198.51.100.7"));
    }

    #[test]
    fn garbage_or_a_missing_header_keeps_the_last_known_address() {
        let t = nets(&["10.0.0.0/8", "192.0.2.1/32"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &headers(&[]), &t), ip("10.0.0.2"));
        assert_eq!(client_ip(ip("10.0.0.2"), &headers(&["not-an-ip"]), &t), ip("10.0.0.2"));
        assert_eq!(
            client_ip(ip("10.0.0.2"), &headers(&["198.51.100.7, junk, 10.9.9.9"]), &t),
            ip("10.9.9.9")
        );
        // Only trusted hops: the leftmost.
        assert_eq!(client_ip(ip("10.0.0.2"), &headers(&["192.0.2.1"]), &t), ip("192.0.2.1"));
    }

    #[test]
    fn ipv4_mapped_addresses_count_as_ipv4() {
        let t = nets(&["127.0.0.1/32"]);
        assert_eq!(
            client_ip(ip("::ffff:127.0.0.1"), &headers(&["::ffff:198.51.100.7"]), &t),
            ip("198.51.100.7")
        );
    }
}
