//! The client address, as `client_ip.py` works it out: X-Forwarded-For is
//! trusted only through known proxies, and each hop is parsed as Python's
//! `ipaddress.ip_address` parses it.

use super::text::{head, is_port, strip};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Ip {
    V4(u32),
    V6(u128),
}

/// One network of REQLOG_TRUSTED_PROXIES.
#[derive(Clone, Copy, Debug)]
pub struct Network {
    pub address: Ip,
    pub prefix: u32,
}

impl Network {
    fn contains(&self, ip: Ip) -> bool {
        match (self.address, ip) {
            (Ip::V4(net), Ip::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - self.prefix).unwrap_or(0);
                ip & mask == net & mask
            }
            (Ip::V6(net), Ip::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - self.prefix).unwrap_or(0);
                ip & mask == net & mask
            }
            _ => false,
        }
    }
}

/// `parse_ip`: one forwarded hop, read leniently (brackets, a port, a zone
/// id); anything that is not plainly an address is None.
pub fn parse_ip(value: &str) -> Option<Ip> {
    let text = strip(value).trim_matches('"');
    if text.is_empty() || text.chars().count() > 64 {
        return None;
    }
    let text = if let Some(inner) = text.strip_prefix('[') {
        let end = inner.find(']')?;
        let rest = &inner[end + 1..];
        if !(rest.is_empty() || rest.starts_with(':') && is_port(&rest[1..])) {
            return None;
        }
        &inner[..end]
    } else if text.matches(':').count() == 1 {
        let (host, port) = text.split_once(':')?;
        if !is_port(port) {
            return None;
        }
        host
    } else {
        text
    };
    let text = text.split('%').next().unwrap_or(text);
    let address = ipv4(text).map(Ip::V4).or_else(|| ipv6(text).map(Ip::V6))?;
    Some(match address {
        Ip::V6(bits) if bits >> 32 == 0xFFFF => Ip::V4(bits as u32),
        other => other,
    })
}

fn octet(text: &str) -> Option<u32> {
    let ok = !text.is_empty()
        && text.len() <= 3
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    let value: u32 = if ok { text.parse().ok()? } else { return None };
    (value <= 255).then_some(value)
}

fn ipv4(text: &str) -> Option<u32> {
    let mut octets = text.split('.');
    let mut address = 0u32;
    for _ in 0..4 {
        address = (address << 8) | octet(octets.next()?)?;
    }
    octets.next().is_none().then_some(address)
}

fn hextet(text: &str) -> Option<u128> {
    let ok = !text.is_empty() && text.len() <= 4 && text.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| u128::from_str_radix(text, 16).ok())?
}

/// `IPv6Address._ip_int_from_string`, step by step.
fn ipv6(text: &str) -> Option<u128> {
    if text.is_empty() || text.contains('/') {
        return None;
    }
    let mut parts: Vec<&str> = text.split(':').collect();
    if parts.len() < 3 {
        return None;
    }
    let mut tail = [String::new(), String::new()];
    let mut last_two = false;
    if parts.last()?.contains('.') {
        let v4 = ipv4(parts.pop()?)?;
        tail = [format!("{:x}", v4 >> 16), format!("{:x}", v4 & 0xFFFF)];
        last_two = true;
    }
    let parts: Vec<&str> = if last_two {
        parts
            .iter()
            .copied()
            .chain(tail.iter().map(String::as_str))
            .collect()
    } else {
        parts
    };
    if parts.len() > 9 {
        return None;
    }
    let mut skip = None;
    for (index, part) in parts.iter().enumerate().take(parts.len() - 1).skip(1) {
        if part.is_empty() {
            if skip.is_some() {
                return None;
            }
            skip = Some(index);
        }
    }
    let (hi, lo, skipped) = match skip {
        Some(index) => {
            let (mut hi, mut lo) = (index, parts.len() - index - 1);
            if parts[0].is_empty() {
                hi -= 1;
                if hi > 0 {
                    return None;
                }
            }
            if parts[parts.len() - 1].is_empty() {
                lo -= 1;
                if lo > 0 {
                    return None;
                }
            }
            let skipped = 8usize.checked_sub(hi + lo).filter(|&s| s >= 1)?;
            (hi, lo, skipped)
        }
        None => {
            if parts.len() != 8 || parts[0].is_empty() || parts[7].is_empty() {
                return None;
            }
            (8, 0, 0)
        }
    };
    let mut address = 0u128;
    for part in &parts[..hi] {
        address = (address << 16) | hextet(part)?;
    }
    address = address.checked_shl(16 * skipped as u32).unwrap_or(0);
    for part in &parts[parts.len() - lo..] {
        address = (address << 16) | hextet(part)?;
    }
    Some(address)
}

/// `str(address)`: dotted quad, or RFC 5952 text as Python writes it.
pub fn format_ip(address: Ip) -> String {
    match address {
        Ip::V4(bits) => {
            let mut out = String::with_capacity(15);
            for (index, octet) in bits.to_be_bytes().iter().enumerate() {
                if index > 0 {
                    out.push('.');
                }
                crate::line::write_int(&mut out, i64::from(*octet));
            }
            out
        }
        Ip::V6(bits) => {
            let hextets: Vec<u128> = (0..8).map(|i| (bits >> (112 - 16 * i)) & 0xFFFF).collect();
            // The longest run of zero hextets (the first of equals), if longer than one.
            let (mut best, mut run) = ((0, 0), (0, 0));
            for (index, &value) in hextets.iter().enumerate() {
                if value == 0 {
                    run = if run.1 == 0 {
                        (index, 1)
                    } else {
                        (run.0, run.1 + 1)
                    };
                    if run.1 > best.1 {
                        best = run;
                    }
                } else {
                    run = (0, 0);
                }
            }
            let text = |range: &[u128]| {
                range
                    .iter()
                    .map(|h| format!("{h:x}"))
                    .collect::<Vec<_>>()
                    .join(":")
            };
            if best.1 < 2 {
                return text(&hextets);
            }
            format!(
                "{}::{}",
                text(&hextets[..best.0]),
                text(&hextets[best.0 + best.1..])
            )
        }
    }
}

/// The client, the proxy chain and the peer (`_addresses`).
pub struct Addresses<'a> {
    pub client: Option<String>,
    pub chain: Vec<&'a str>,
    pub peer: Option<String>,
}

/// `resolve_client_ip`: the client is the peer unless the peer is a trusted
/// proxy; then hops are walked right to left, trusted hops skipped, and the
/// first untrusted valid address wins. An invalid hop stops the walk.
pub fn resolve<'a>(
    remote_addr: &'a str,
    forwarded_for: &'a str,
    trusted: &[Network],
) -> Addresses<'a> {
    let peer = if remote_addr.is_empty() {
        None
    } else {
        parse_ip(remote_addr)
    };
    let hops: Vec<&str> = if forwarded_for.is_empty() {
        Vec::new()
    } else {
        forwarded_for.split(',').map(strip).collect()
    };
    let mut chain: Vec<&str> = hops[hops.len().saturating_sub(20)..]
        .iter()
        .map(|hop| head(hop, 64))
        .collect();
    if !remote_addr.is_empty() {
        chain.push(head(remote_addr, 64));
    }
    let is_trusted = |ip: Ip| trusted.iter().any(|net| net.contains(ip));
    let client = peer.map(|peer| {
        if !is_trusted(peer) {
            return peer;
        }
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(address) = parse_ip(hop) else { break };
            client = address;
            if !is_trusted(address) {
                break;
            }
        }
        client
    });
    Addresses {
        client: client.map(format_ip),
        chain,
        peer: peer.map(format_ip),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Option<String> {
        parse_ip(value).map(format_ip)
    }

    #[test]
    fn parses_like_ipaddress() {
        assert_eq!(text(" 192.0.2.1 ").as_deref(), Some("192.0.2.1"));
        assert_eq!(text("198.51.100.1:443").as_deref(), Some("198.51.100.1"));
        assert_eq!(text("[2001:db8::2]:8080").as_deref(), Some("2001:db8::2"));
        assert_eq!(text("::ffff:10.0.0.7").as_deref(), Some("10.0.0.7"));
        assert_eq!(text("::10.0.0.7").as_deref(), Some("::a00:7"));
        assert_eq!(text("fe80::1%eth0").as_deref(), Some("fe80::1"));
        assert_eq!(
            text("2001:db8:0:0:1:0:0:1").as_deref(),
            Some("2001:db8::1:0:0:1")
        );
        assert_eq!(text("1:2:3:4:5:6:7::").as_deref(), Some("1:2:3:4:5:6:7:0"));
        assert_eq!(text("::").as_deref(), Some("::"));
        for bad in [
            "01.2.3.4",
            "1.2.3",
            "256.1.1.1",
            ":::",
            "1::2::3",
            "12345::1",
            "x",
            "",
        ] {
            assert_eq!(text(bad), None, "{bad}");
        }
    }

    #[test]
    fn walks_trusted_proxies() {
        let trusted = [Network {
            address: Ip::V4(0x0A00_0000),
            prefix: 8,
        }];
        let found = resolve("10.0.0.7", "203.0.113.9, 10.0.0.1", &trusted);
        assert_eq!(found.client.as_deref(), Some("203.0.113.9"));
        assert_eq!(found.chain, ["203.0.113.9", "10.0.0.1", "10.0.0.7"]);
        assert_eq!(found.peer.as_deref(), Some("10.0.0.7"));
    }
}
