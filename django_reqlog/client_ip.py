"""The real client address, trusting X-Forwarded-For only through known proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from django_reqlog.conf import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# Addresses repeat (a few proxies, returning clients) and ipaddress parsing
# is slow in pure Python; the cache is bounded.
@lru_cache(maxsize=2048)
def parse_ip(value: str) -> IPAddress | None:
    """Parse one forwarded hop leniently: brackets, ports and zone ids are allowed.

    Anything that is not plainly an address is rejected rather than guessed at,
    so an obfuscated or malformed hop can never be logged as the client.
    """
    text = _host_part(value.strip().strip('"'))
    if text is None:
        return None
    # ipaddress accepts only canonical dotted quads (no octal, hex or short forms).
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _host_part(text: str) -> str | None:
    """The address of one hop without its brackets and port, or None."""
    if not text or len(text) > 64:
        return None
    if text.startswith("["):
        end = text.find("]")
        rest = text[end + 1 :]
        if end == -1 or (rest and not (rest[0] == ":" and is_port(rest[1:]))):
            return None
        return text[1:end]
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host if is_port(port) else None
    return text


def is_port(text: str) -> bool:
    """One or more ASCII digits (``str.isdigit`` also takes "²" and "٣")."""
    return text.isascii() and text.isdigit()


def _is_trusted(address: IPAddress, trusted: Sequence[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def resolve_client_ip(
    remote_addr: str, forwarded_for: str, trusted: Sequence[IPNetwork]
) -> tuple[str | None, list[str]]:
    """Return ``(client_ip, chain)``.

    ``chain`` is the X-Forwarded-For hops followed by the peer, as received
    (kept for forensics, so it is capped). The client is the peer unless the
    peer is a trusted proxy; then hops are walked right to left, trusted hops
    skipped, and the first untrusted valid address wins. An invalid hop stops
    the walk: everything left of it is attacker-controlled.
    """
    peer = parse_ip(remote_addr) if remote_addr else None
    hops = [h.strip() for h in forwarded_for.split(",")] if forwarded_for else []
    chain = [h[:64] for h in hops[-20:]]
    if remote_addr:
        chain.append(remote_addr[:64])
    if peer is None:
        return None, chain
    if not trusted or not _is_trusted(peer, trusted):
        return str(peer), chain
    client = peer
    for hop in reversed(hops):
        address = parse_ip(hop)
        if address is None:
            break
        client = address
        if not _is_trusted(address, trusted):
            break
    return str(client), chain
