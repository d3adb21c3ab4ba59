"""SSRF policy (回调地址安全策略): addresses, URLs at save time, resolved addresses at send time."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.errors import DomainError
from shared.domain.netguard import (
    UnsafeURLError,
    check_resolved_addresses,
    check_webhook_url,
    is_forbidden_ip,
    parse_allow_list,
    parse_ip_host,
)

FORBIDDEN = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "169.254.0.1",
    "100.64.0.1",  # CGNAT
    "100.127.255.255",
    "0.0.0.0",  # noqa: S104 - an address under test, nothing binds to it
    "0.1.2.3",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
    "198.18.0.1",
    "::",
    "::1",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # deprecated IPv4-compatible
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "fc00::1",
    "fd12:3456::1",  # unique local
    "fe80::1",
    "fe80::1%eth0",
    "fec0::1",
    "ff02::1",
    "2001:db8::1",
    "2001::1",  # Teredo
    "100::1",
]
PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "100.63.255.255",  # just below CGNAT
    "100.128.0.0",  # just above CGNAT
    "172.32.0.1",  # just above 172.16/12
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    "2606:4700:4700::1111",
    "2400:3200::1",  # Alibaba public DNS
]


@pytest.mark.parametrize("text", FORBIDDEN)
def test_forbidden_addresses(text: str) -> None:
    assert is_forbidden_ip(ip_address(text))


@pytest.mark.parametrize("text", PUBLIC)
def test_public_addresses(text: str) -> None:
    assert not is_forbidden_ip(ip_address(text))


@given(st.ip_addresses(v=4))
def test_mapped_ipv6_is_judged_like_its_ipv4(ip: IPv4Address) -> None:
    mapped = IPv6Address(f"::ffff:{ip}")
    assert is_forbidden_ip(mapped) == is_forbidden_ip(ip)


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_legacy_ipv4_forms_parse_to_the_same_address(value: int) -> None:
    ip = IPv4Address(value)
    assert parse_ip_host(hex(value)) == ip
    assert parse_ip_host(str(value)) == ip
    assert parse_ip_host("0" + oct(value)[2:]) == ip
    a, b, c, d = ip.packed
    assert parse_ip_host(f"{a}.{b}.{(c << 8) + d}") == ip


def test_host_names_are_not_ip_literals() -> None:
    assert parse_ip_host("example.com") is None
    assert parse_ip_host("hooks.0x10.example") is None  # a number inside, not at the end


@pytest.mark.parametrize("host", ["1.2.3.4.5", "256.1.1.1", "1.2.3.0x100", "08.1.1.1", "[::1"])
def test_ambiguous_numeric_hosts_are_refused(host: str) -> None:
    with pytest.raises(UnsafeURLError):
        parse_ip_host(host)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.0.0.1:8080/hook",
        "http://10.1.2.3/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0x7f000001/",
        "http://0x7F.0.0.1/",
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://0/",
        "http://localhost/",
        "http://LOCALHOST./",
        "http://api.localhost/",
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://example.com/",
        "javascript:alert(1)",
        "http://user:secret@example.com/",
        "http://user@example.com/",
        "http://example.com\\@127.0.0.1/",
        "http://exa mple.com/",
        "http:///path-only",
        "http://example.com:99999/",
        "http://under_score.example/",
        " http://example.com/",
    ],
)
def test_unsafe_urls_are_refused_at_save_time(url: str) -> None:
    with pytest.raises(UnsafeURLError):
        check_webhook_url(url, [])


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/kesu",
        "http://example.com:8080/x?y=1",
        "https://8.8.8.8/hook",
        "https://[2606:4700:4700::1111]/hook",
        "https://例子.测试/hook",  # IDN
        "HTTPS://Example.COM/Hook",
    ],
)
def test_public_urls_are_accepted(url: str) -> None:
    check_webhook_url(url, [])


def test_allow_list_permits_cidrs_and_names() -> None:
    check_webhook_url("http://127.0.0.1:9000/hook", ["127.0.0.1/32"])
    check_webhook_url("http://[::1]:9000/hook", ["::1/128"])
    check_webhook_url("http://10.20.0.5/hook", ["10.20.0.0/16"])
    check_webhook_url("http://localhost:9000/hook", ["localhost"])
    with pytest.raises(UnsafeURLError):
        check_webhook_url("http://10.21.0.5/hook", ["10.20.0.0/16"])
    with pytest.raises(UnsafeURLError):
        # 127.0.0.2 is outside the /32
        check_webhook_url("http://127.0.0.2/hook", ["127.0.0.1/32"])


def test_allow_list_rejects_malformed_entries() -> None:
    with pytest.raises(ValueError, match="allow-list"):
        parse_allow_list(["*.example.com"])


def test_send_time_refuses_if_any_resolved_address_is_forbidden() -> None:
    allow = parse_allow_list([])
    public, internal = ip_address("93.184.216.34"), ip_address("10.0.0.7")
    check_resolved_addresses("hooks.example.com", [public], allow)
    with pytest.raises(UnsafeURLError, match=r"10\.0\.0\.7"):
        check_resolved_addresses("hooks.example.com", [public, internal], allow)
    with pytest.raises(UnsafeURLError):
        check_resolved_addresses("hooks.example.com", [], allow)


def test_allowed_name_may_resolve_to_private_but_never_to_metadata() -> None:
    allow = parse_allow_list(["Hooks.Intranet.Example."])
    check_resolved_addresses("hooks.intranet.example", [ip_address("10.0.0.7")], allow)
    with pytest.raises(UnsafeURLError):
        check_resolved_addresses("hooks.intranet.example", [ip_address("169.254.169.254")], allow)
    with pytest.raises(UnsafeURLError):
        check_resolved_addresses("other.example", [ip_address("10.0.0.7")], allow)
    # An explicit CIDR is the admin's deliberate choice, even for the metadata address.
    explicit = parse_allow_list(["169.254.169.254/32"])
    check_resolved_addresses("meta.example", [ip_address("169.254.169.254")], explicit)


def test_errors_are_domain_errors_with_bilingual_detail() -> None:
    with pytest.raises(UnsafeURLError) as info:
        check_webhook_url("http://127.0.0.1/", [])
    assert isinstance(info.value, DomainError)
    assert "回调地址" in info.value.detail
    assert "forbidden address 127.0.0.1" in info.value.detail


@pytest.mark.parametrize(
    "url",
    [
        "http://127。0。0。1/",  # ideographic full stops
        "http://127．0．0．1/",  # fullwidth full stops
        "http://１２７.０.０.１/",  # fullwidth digits
        "http://127｡0｡0｡1/",  # halfwidth ideographic full stops
        "http://169。254。169。254/latest/meta-data/",
        "http://０x7f000001/",
        "http://ＬＯＣＡＬＨＯＳＴ/",
        "http://api。localhost/",
    ],
)
def test_host_names_are_normalised_before_the_check(url: str) -> None:
    """Issue 15 point 6: resolvers and httpx read these hosts as 127.0.0.1 (UTS 46 maps the
    full stops and fullwidth digits), so the save-time check must judge them the same way."""
    with pytest.raises(UnsafeURLError):
        check_webhook_url(url, [])


def test_normalised_names_still_match_the_allow_list() -> None:
    check_webhook_url("http://ｈｏｏｋｓ。intranet.example/x", ["hooks.intranet.example"])
    check_webhook_url("http://127。0。0。1:9000/hook", ["127.0.0.1/32"])
