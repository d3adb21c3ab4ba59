"""SSRF policy for outgoing webhooks (回调地址安全策略).

Webhook URLs are typed in by administrators, so a URL must never let the worker reach the
machine itself, the private network behind it or a cloud metadata service. The policy is
checked twice:

* when a subscription is saved (`check_webhook_url`): the scheme, the authority and an IP
  literal host are checked; host names are only checked for the obviously local ones, because
  DNS answers change;
* when a delivery is sent (`check_resolved_addresses`): every address the host name resolves to
  is checked, and the sender connects to a checked address (see
  `services/sla_worker/delivery/webhooks.py`), so a DNS answer cannot change in between.

The allow list (放行名单) holds CIDRs (``"127.0.0.1/32"``) and/or exact host names
(``"hooks.intranet.example"``) an administrator permits:

* an address inside an allowed CIDR is permitted whatever it is;
* a URL whose host name is allowed may resolve to private addresses (that is the point of
  naming it), but never to the `NEVER_PERMITTED_BY_NAME` ones (unspecified, broadcast,
  multicast, cloud metadata): reaching those takes an explicit CIDR.

Pure: no resolution, no network, no clock.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_network,
)
from urllib.parse import urlsplit

import idna

from shared.domain.errors import DomainError

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

# Explicit lists (IANA special-purpose registries) rather than only `ipaddress`'s flags: the
# flags' meaning changed between Python patch releases, and this policy must not.
FORBIDDEN_V4: tuple[IPv4Network, ...] = tuple(
    IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches the local host on Linux
        "10.0.0.0/8",  # RFC 1918
        "100.64.0.0/10",  # carrier-grade NAT (RFC 6598)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, incl. the 169.254.169.254 metadata service
        "172.16.0.0/12",  # RFC 1918
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # TEST-NET-1
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",  # RFC 1918
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # TEST-NET-2
        "203.0.113.0/24",  # TEST-NET-3
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, incl. broadcast 255.255.255.255
    )
)
FORBIDDEN_V6: tuple[IPv6Network, ...] = tuple(
    IPv6Network(n)
    for n in (
        "::/96",  # unspecified, loopback and the deprecated IPv4-compatible form
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001::/32",  # Teredo: tunnels to an obfuscated IPv4 we do not try to judge
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation (RFC 9637)
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
# IPv6 ranges that carry an IPv4 address a router or the kernel may deliver to: judge the
# embedded address too, so ::ffff:127.0.0.1 is as forbidden as 127.0.0.1.
_MAPPED_V4 = IPv6Network("::ffff:0:0/96")
_NAT64_V4 = IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = IPv6Network("2002::/16")
# Only global unicast is ever a webhook receiver; the rest of the IPv6 space is unassigned.
_GLOBAL_UNICAST_V6 = IPv6Network("2000::/3")

NEVER_PERMITTED_BY_NAME: tuple[IPNetwork, ...] = (
    IPv4Network("0.0.0.0/32"),
    IPv4Network("255.255.255.255/32"),
    IPv4Network("224.0.0.0/4"),
    IPv4Network("169.254.169.254/32"),  # AWS / GCP / Azure / Alibaba Cloud metadata
    IPv4Network("100.100.100.200/32"),  # Alibaba Cloud metadata
    IPv6Network("::/128"),
    IPv6Network("ff00::/8"),
    IPv6Network("fd00:ec2::254/128"),  # AWS metadata over IPv6
)

_ALLOWED_SCHEMES = frozenset({"http", "https"})
_LOCAL_NAME = re.compile(r"(^|\.)localhost$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_FORBIDDEN_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


class UnsafeURLError(DomainError):
    """A webhook URL or address the SSRF policy refuses (不安全的回调地址)."""

    title = "Unsafe webhook URL"
    code = "unsafe-url"


@dataclass(frozen=True, slots=True)
class AllowList:
    """Parsed administrator allow list (放行名单)."""

    networks: tuple[IPNetwork, ...] = ()
    host_names: frozenset[str] = frozenset()

    def permits_address(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.networks)

    def permits_name(self, host: str) -> bool:
        return normalize_host_name(host) in self.host_names


def parse_allow_list(entries: Iterable[str]) -> AllowList:
    """Parse CIDR and host-name entries; raise `ValueError` on anything else (e.g. wildcards)."""
    networks: list[IPNetwork] = []
    names: set[str] = set()
    for raw in entries:
        entry = raw.strip()
        try:
            networks.append(ip_network(entry, strict=False))
            continue
        except ValueError:
            pass
        name = normalize_host_name(entry)
        if not _is_valid_host_name(name):
            raise ValueError(f"放行名单条目无效 / invalid allow-list entry: {raw!r}")
        names.add(name)
    return AllowList(tuple(networks), frozenset(names))


def normalize_host_name(host: str) -> str:
    """The host as resolvers and HTTP clients read it: UTS 46 mapping (so ``127。0。0。1``,
    with ideographic full stops, or fullwidth digits, are ``127.0.0.1``), lower case, IDNA
    A-labels, no root dot. Checks and allow-list matching both judge this form. A name that
    cannot be mapped is returned lower-cased, for the caller's validity check to refuse."""
    name = host.strip().lower()
    with contextlib.suppress(idna.IDNAError, UnicodeError):
        name = idna.encode(name, uts46=True, transitional=False).decode("ascii")
    return name.rstrip(".")


def is_forbidden_ip(ip: IPAddress) -> bool:
    """True for every address a webhook must not reach (loopback, private, metadata, …)."""
    if isinstance(ip, IPv4Address):
        return any(ip in net for net in FORBIDDEN_V4) or not ip.is_global
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return is_forbidden_ip(embedded)
    if ip.scope_id is not None or ip not in _GLOBAL_UNICAST_V6:
        return True
    return any(ip in net for net in FORBIDDEN_V6) or not ip.is_global


def _embedded_ipv4(ip: IPv6Address) -> IPv4Address | None:
    if ip in _MAPPED_V4 or ip in _NAT64_V4:
        return IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _SIX_TO_FOUR:
        return ip.sixtofour
    return None


def parse_ip_host(host: str) -> IPAddress | None:
    """The address an IP-literal host denotes, or None for a host name.

    Besides dotted quads and IPv6 this accepts the legacy forms resolvers still honour
    (``0x7f000001``, ``2130706433``, ``0177.0.0.1``, ``127.1``), because ``getaddrinfo`` would
    turn them into an address behind our back. A host that ends in a number but is no valid
    address is refused rather than guessed at.
    """
    literal = host.strip()
    if literal.startswith("[") and literal.endswith("]"):
        literal = literal[1:-1]
    if ":" in literal:
        try:
            return IPv6Address(literal)
        except ValueError as exc:
            raise UnsafeURLError(f"IPv6 地址无效 / invalid IPv6 address: {host!r}") from exc
    parts = literal.rstrip(".").split(".")
    if not parts or not _looks_numeric(parts[-1]):
        return None
    return _legacy_ipv4(parts, host)


def _looks_numeric(part: str) -> bool:
    return re.fullmatch(r"0[xX][0-9a-fA-F]*|[0-9]+", part) is not None


def _legacy_ipv4(parts: list[str], host: str) -> IPv4Address:
    invalid = UnsafeURLError(f"IPv4 地址无效 / invalid IPv4 address: {host!r}")
    if len(parts) > 4 or not all(_looks_numeric(p) for p in parts):
        raise invalid
    numbers: list[int] = []
    for part in parts:
        if part[:2].lower() == "0x":
            numbers.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            if re.fullmatch(r"[0-7]+", part) is None:
                raise invalid
            numbers.append(int(part, 8))
        else:
            numbers.append(int(part))
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise invalid
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return IPv4Address(value)


def _is_valid_host_name(name: str) -> bool:
    return 0 < len(name) <= 253 and all(_LABEL.match(label) for label in name.split("."))


def check_address(ip: IPAddress, *, host: str, allow: AllowList) -> None:
    """Refuse `ip` (reached for URL host `host`) unless it is public or allowed."""
    if allow.permits_address(ip):
        return
    if allow.permits_name(host) and not any(
        ip.version == net.version and ip in net for net in NEVER_PERMITTED_BY_NAME
    ):
        return
    if is_forbidden_ip(ip):
        raise UnsafeURLError(
            f"回调地址指向内部或保留地址 / webhook host {host!r} reaches forbidden address {ip}"
        )


def check_resolved_addresses(host: str, addresses: Iterable[IPAddress], allow: AllowList) -> None:
    """Send-time check: refuse if ANY address `host` resolved to is forbidden and not allowed.

    Checking all of them, not just the one we connect to, keeps a round-robin answer that
    mixes a public and an internal address from being accepted on a lucky draw.
    """
    seen = False
    for ip in addresses:
        seen = True
        check_address(ip, host=host, allow=allow)
    if not seen:
        raise UnsafeURLError(f"域名无法解析 / host {host!r} resolved to no address")


def check_webhook_url(url: str, allow: Sequence[str]) -> None:
    """Save-time check of a webhook URL; raises `UnsafeURLError`.

    Requires http(s), a host and no user-info (credentials in URLs end up in logs); refuses
    control characters and backslashes, on which URL parsers disagree; checks an IP-literal
    host and the names that always mean this machine (``localhost``, ``*.localhost``).
    """
    if _FORBIDDEN_URL_CHARS.search(url):
        raise UnsafeURLError("回调地址含非法字符 / URL contains whitespace, control or '\\'")
    parts = urlsplit(url)
    if parts.scheme.lower() not in _ALLOWED_SCHEMES:
        raise UnsafeURLError(f"仅允许 http/https / scheme {parts.scheme!r} is not allowed")
    if "@" in parts.netloc:
        raise UnsafeURLError("回调地址不得包含用户信息 / URL must not contain user-info")
    host = parts.hostname
    if not host:
        raise UnsafeURLError("回调地址缺少主机名 / URL has no host")
    try:
        parts.port  # noqa: B018 - parsing the port is the validation
    except ValueError as exc:
        raise UnsafeURLError("端口无效 / invalid port") from exc
    allow_list = parse_allow_list(allow)
    # IPv6 literals as they are; any other host as a resolver would read it (UTS 46) first.
    name = host if ":" in host else normalize_host_name(host)
    ip = parse_ip_host(name)
    if ip is not None:
        check_address(ip, host=name, allow=allow_list)
        return
    if not _is_valid_host_name(name):
        raise UnsafeURLError(f"主机名无效 / invalid host name: {host!r}")
    if _LOCAL_NAME.search(name) and not allow_list.permits_name(name):
        raise UnsafeURLError(f"回调地址指向本机 / host {host!r} is this machine")
