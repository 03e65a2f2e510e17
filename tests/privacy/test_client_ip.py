"""Guarantee 4: the logged client IP cannot be chosen by the client.

The attacker controls the X-Forwarded-For header they send and nothing else:
trusted proxies append the address they saw, and REMOTE_ADDR is the last
proxy (or the attacker). Generated attempts put valid, malformed and
obfuscated addresses in the attacker's part; the logged ``client.ip`` must
always be the attacker's real address (or, if a proxy wrote a hop we cannot
parse, a trusted proxy), never anything the attacker wrote.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json

import pytest
from django.test import RequestFactory, override_settings
from hypothesis import given
from hypothesis import strategies as st

from django_reqlog.client_ip import parse_ip, resolve_client_ip
from django_reqlog.middleware import RequestLogMiddleware
from tests.helpers.privacy import (
    FIGURES,
    collecting,
    examples,
    hsettings,
)
from tests.views import plain_ok as _view

TRUSTED_SETS = {
    "private-v4": ["10.0.0.0/8", "192.168.0.0/16"],
    "mixed": ["172.16.0.0/12", "fd00::/8", "203.0.113.7/32"],
    "v6-only": ["2001:db8:ffff::/48"],
}


def logged_ips(remote_addr: str, forwarded_for: str | None) -> tuple[str | None, str | None]:
    """(client.ip from ECS, client from Logstash) for one request."""
    meta = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded_for
    with collecting() as collector:
        RequestLogMiddleware(_view)(RequestFactory().get("/ip/", **meta))
        ecs, logstash = (json.loads(line) for line in collector.json_lines())
    return ecs.get("client", {}).get("ip"), logstash.get("client")


# -- what an attacker can write ----------------------------------------------


def obfuscations(address: ipaddress.IPv4Address) -> list[str]:
    """Spellings of an IPv4 address that some parsers (inet_aton, browsers) accept."""
    octets = [int(o) for o in str(address).split(".")]
    # Unicode digits that str.isdigit() and int() accept: fullwidth, Arabic-Indic.
    fullwidth = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))
    arabic = str.maketrans("0123456789", "".join(chr(0x0660 + d) for d in range(10)))
    return [
        ".".join(f"0{o:o}" for o in octets),  # octal
        ".".join(f"0x{o:x}" for o in octets),  # hex
        f"0x{int(address):08x}",
        str(int(address)),  # a single integer
        f"{octets[0]}.{(octets[1] << 16) + (octets[2] << 8) + octets[3]}",  # short form
        f"{octets[0]}.{octets[1]}.{(octets[2] << 8) + octets[3]}",
        ".".join(f"{o:03d}" for o in octets),  # zero padded
        str(address).translate(fullwidth),
        str(address).translate(arabic),
        f"{address}\u200b",  # zero-width space
        f"{address}\x00",
        f"{address}/32",
        f"{address}.",
        f"for={address}",
        f"{address}:",
        f"{address}:port",
        f"{address}:80:80",
        f"[{address}]x",
        f"{address} {address}",
    ]


@st.composite
def attacker_entries(draw: st.DrawFn) -> str:
    kind = draw(
        st.sampled_from(["v4", "v6", "obfuscated", "bracketed", "port", "junk", "mapped", "zone"])
    )
    v4 = draw(st.ip_addresses(v=4))
    if kind == "v4":
        return str(v4)
    if kind == "v6":
        return str(draw(st.ip_addresses(v=6)))
    if kind == "obfuscated":
        return draw(st.sampled_from(obfuscations(v4)))
    if kind == "bracketed":
        return f"[{draw(st.ip_addresses(v=6))}]" + draw(st.sampled_from(["", ":443", ":0"]))
    if kind == "port":
        return f"{v4}:{draw(st.integers(0, 70000))}"
    if kind == "mapped":
        return f"::ffff:{v4}"
    if kind == "zone":
        return f"fe80::{draw(st.integers(1, 0xFFFF)):x}%eth0"
    return draw(
        st.sampled_from(["unknown", "_hidden", "", " ", "localhost", "::", "[::1", "1.2.3", '"'])
        | st.text(max_size=15)
    )


def attacker_header(draw: st.DrawFn) -> tuple[str, set[str]]:
    """The X-Forwarded-For an attacker sends, and every address it names."""
    entries = draw(st.lists(attacker_entries(), min_size=0, max_size=5))
    separators = st.sampled_from([",", ", ", " ,", ",\t", " , "])
    header = ""
    for index, entry in enumerate(entries):
        header += (draw(separators) if index else "") + entry
    named = set()
    for entry in entries:
        for text in (entry, entry.strip(), entry.strip("[]")):
            with contextlib.suppress(ValueError):
                named.add(str(ipaddress.ip_address(text.split("%")[0])))
    # Whatever parse_ip itself would read out of the attacker's text.
    for piece in header.split(","):
        parsed = parse_ip(piece)
        if parsed is not None:
            named.add(str(parsed))
    return header, named


def canonical(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def as_written_by_proxy(
    draw: st.DrawFn, address: ipaddress.IPv4Address | ipaddress.IPv6Address
) -> str:
    """How a proxy may record an address it saw: plain, with port, bracketed."""
    if address.version == 6:
        return draw(
            st.sampled_from(
                [str(address), f"[{address}]", f"[{address}]:{draw(st.integers(1, 65535))}"]
            )
        )
    return draw(st.sampled_from([str(address), f"{address}:{draw(st.integers(1, 65535))}"]))


def untrusted(
    networks: list[str],
) -> st.SearchStrategy[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    parsed = [ipaddress.ip_network(n) for n in networks]
    return st.ip_addresses().filter(
        lambda a: (
            not any(a.version == n.version and a in n for n in parsed)
            and not (a.version == 6 and a.ipv4_mapped is not None)
        )
    )


def record_attempt(client: str | None, expected: str, named: set[str]) -> None:
    FIGURES["spoof attempts"] += 1
    FIGURES["spoof attempts yielding an attacker-chosen address"] += 0  # printed when zero
    if client in named and client != expected:
        FIGURES["spoof attempts yielding an attacker-chosen address"] += 1


# -- the properties ------------------------------------------------------------


def test_without_trusted_proxies_client_is_always_remote_addr():
    @hsettings(400)
    @given(data=st.data(), real=st.ip_addresses())
    def run(data: st.DataObject, real: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
        header, named = attacker_header(data.draw)
        ecs_ip, logstash_ip = logged_ips(str(real), header)
        record_attempt(ecs_ip, canonical(real), named)
        assert ecs_ip == logstash_ip == canonical(real)

    with override_settings(REQLOG_TRUSTED_PROXIES=[]):
        run()


@pytest.mark.parametrize("trusted", sorted(TRUSTED_SETS))
def test_behind_trusted_proxies_client_is_rightmost_untrusted_hop(trusted):
    networks = TRUSTED_SETS[trusted]
    parsed = [ipaddress.ip_network(n) for n in networks]

    @hsettings(170)
    @given(data=st.data(), real=untrusted(networks))
    def run(data: st.DataObject, real: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
        header, named = attacker_header(data.draw)
        proxies = []
        for _ in range(data.draw(st.integers(1, 3))):
            network = data.draw(st.sampled_from(parsed))
            proxies.append(network[data.draw(st.integers(0, 255)) % network.num_addresses])
        # Each proxy appends the address it received the request from.
        hops = [as_written_by_proxy(data.draw, real)]
        hops += [as_written_by_proxy(data.draw, p) for p in proxies[:-1]]
        forwarded = ", ".join([header, *hops]) if header else ", ".join(hops)
        ecs_ip, logstash_ip = logged_ips(str(proxies[-1]), forwarded)
        record_attempt(ecs_ip, canonical(real), named)
        assert ecs_ip == logstash_ip == canonical(real), forwarded

    with override_settings(REQLOG_TRUSTED_PROXIES=networks):
        run()


def test_untrusted_peer_is_the_client_even_with_trusted_proxies_configured():
    networks = TRUSTED_SETS["private-v4"]

    @hsettings(90)
    @given(data=st.data(), real=untrusted(networks))
    def run(data: st.DataObject, real: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
        # The attacker bypasses the proxy and writes a "trusted" chain themselves.
        header, named = attacker_header(data.draw)
        forwarded = f"{header}, 10.1.2.3, 192.168.0.9" if header else "10.1.2.3"
        named |= {"10.1.2.3", "192.168.0.9"}
        ecs_ip, _ = logged_ips(str(real), forwarded)
        record_attempt(ecs_ip, canonical(real), named)
        assert ecs_ip == canonical(real)

    with override_settings(REQLOG_TRUSTED_PROXIES=networks):
        run()


def test_unparseable_hop_written_by_a_proxy_is_never_the_client():
    """nginx writes ``unknown``, RFC 7239 allows ``_hidden``: the walk stops and
    the last trusted proxy is logged, never the text or anything left of it."""

    @hsettings(100)
    @given(data=st.data(), bad=attacker_entries())
    def run(data: st.DataObject, bad: str) -> None:
        if parse_ip(bad) is not None or "," in bad or not bad.strip():
            bad = data.draw(st.sampled_from(["unknown", "_hidden", "1.2.3", "0x7f.1"]))
        header, named = attacker_header(data.draw)
        forwarded = ", ".join(p for p in [header, bad, "10.0.0.2"] if p)
        ecs_ip, _ = logged_ips("10.0.0.3", forwarded)
        record_attempt(ecs_ip, "10.0.0.2", named)
        assert ecs_ip == "10.0.0.2"

    with override_settings(REQLOG_TRUSTED_PROXIES=["10.0.0.0/8"]):
        run()


PROPERTY_TESTS = {
    "test_without_trusted_proxies_client_is_always_remote_addr",
    "test_behind_trusted_proxies_client_is_rightmost_untrusted_hop",
    "test_untrusted_peer_is_the_client_even_with_trusted_proxies_configured",
    "test_unparseable_hop_written_by_a_proxy_is_never_the_client",
}


def test_spoof_attempt_figures(request):
    selected = {i.originalname for i in request.session.items if i.module is request.module}
    if not selected >= PROPERTY_TESTS:
        pytest.skip("only part of the module was selected")
    assert FIGURES["spoof attempts"] >= examples(1_000)  # 1,000 under the default profile
    assert FIGURES["spoof attempts yielding an attacker-chosen address"] == 0


# -- the parser on its own -----------------------------------------------------


@pytest.mark.parametrize("text", obfuscations(ipaddress.IPv4Address("127.0.0.1")))
def test_obfuscated_forms_are_rejected(text):
    assert parse_ip(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.1", "192.0.2.1"),
        (" 192.0.2.1 ", "192.0.2.1"),
        ("192.0.2.1:8080", "192.0.2.1"),
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("fe80::1%eth0", "fe80::1"),
        ('"[2001:db8::1]:443"', "2001:db8::1"),
    ],
)
def test_accepted_forms(text, expected):
    assert str(parse_ip(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "unknown",
        "_hidden",
        "[2001:db8::1",
        "[2001:db8::1]x",
        "1.2.3.4:",
        "1.2.3.4:port",
        "a" * 80,
    ],
)
def test_malformed_forms_are_rejected(text):
    assert parse_ip(text) is None


def test_chain_is_kept_for_forensics_but_bounded():
    hops = ", ".join(f"198.51.100.{i}" for i in range(50))
    client, chain = resolve_client_ip("10.0.0.1", hops, [ipaddress.ip_network("10.0.0.0/8")])
    assert client == "198.51.100.49"
    assert len(chain) == 21 and chain[-1] == "10.0.0.1"
