"""Which URLs may receive webhooks: public http(s) addresses only (SSRF protection).

`url_check` parses a URL, resolves its host once and checks every address it resolves to; the
sender then connects to exactly the address that was checked, so a name cannot resolve to a
public address for the check and a private one for the connection (DNS rebinding).

Refused: schemes other than http/https; ports outside 1-65535; URLs with credentials (refused rather than stripped,
so nobody believes a password is being sent); IPv4 written in any form other than four decimal
numbers (2130706433, 0177.0.0.1, 0x7f000001, 127.1: parsers disagree on these, which is what
attacks exploit); and any address that is not public — see `address_refusal`. IPv4 embedded
in IPv6 (mapped, 6to4, Teredo) is judged by the IPv4 address it carries.

`settings.WEBHOOK_ALLOWED_HOSTS` lists host names or IP addresses exempt from the address
checks, for local development and tests (a receiver on 127.0.0.1). It is empty by default.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
# Anything inet_aton would read as an IPv4 address: 1 to 4 parts, decimal, octal or hex.
_NUMERIC_IPV4 = re.compile(r"(0x[0-9a-f]*|\d+)(\.(0x[0-9a-f]*|\d+)){0,3}\.?", re.IGNORECASE)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")


class UnsafeURL(ValueError):
    """The URL may not receive webhooks; `str()` says why, in words for the API caller."""


@dataclass(frozen=True)
class CheckedURL:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    address: str  # the checked IP address to connect to


def address_refusal(ip: IPAddress) -> str | None:
    """Why `ip` may not receive webhooks, or None if it is a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            reason = address_refusal(embedded)
            return f"{reason} ({embedded}) inside an IPv6 address" if reason else None
    checks = [
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip in _CGNAT, "a carrier-grade NAT (shared) address"),
        (ip.is_link_local, "a link-local address (as used by cloud metadata services)"),
        (ip.is_multicast, "a multicast address"),
        (ip in _UNIQUE_LOCAL, "a unique local IPv6 address"),
        (getattr(ip, "is_site_local", False), "a site-local IPv6 address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "not a public address"),
    ]
    return next((reason for refused, reason in checks if refused), None)


def _allowed_hosts() -> set[str]:
    return {h.strip().lower().strip("[]") for h in settings.WEBHOOK_ALLOWED_HOSTS if h.strip()}


def _literal_address(host: str) -> IPAddress | None:
    """The IP address a host names literally, or None for a host name to resolve."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_IPV4.fullmatch(host):
        try:
            meant = f" (read as {socket.inet_ntoa(socket.inet_aton(host.rstrip('.')))})"
        except OSError:
            meant = ""
        raise UnsafeURL(
            f"'{host}' is a non-standard spelling of an IPv4 address{meant}; "
            "write the address as four decimal numbers, like 93.184.216.34"
        )
    return None


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"the host '{host}' could not be resolved") from exc
    # sockaddr[0] of a link-local IPv6 address may carry a zone ("fe80::1%eth0").
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))


def _port(netloc: str, scheme: str) -> int:
    """The port a netloc names (the scheme's default when it names none), if within 1-65535.

    Read here rather than with `urlsplit(...).port`, which takes port 0 (and `port or default`
    then quietly made it the default) and refuses 65536 with a message about the whole URL.
    """
    written = netloc.rpartition("]")[2] if netloc.startswith("[") else netloc
    _, colon, text = written.rpartition(":")
    if not colon or not text:
        return DEFAULT_PORTS[scheme]
    if not (text.isascii() and text.isdigit()):
        raise UnsafeURL(f"the port '{text[:12]}' is not a number")
    digits = text.lstrip("0") or "0"
    if len(digits) > 5 or not 1 <= int(digits) <= 65535:
        raise UnsafeURL(f"the port {digits if len(digits) <= 12 else digits[:12] + '...'} is outside 1-65535")
    return int(digits)


def _split(url: str) -> tuple[str, str, int, str]:
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:
        raise UnsafeURL("the URL is not valid") from exc
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise UnsafeURL(f"the scheme '{scheme}' is not allowed; use http or https")
    if "@" in parts.netloc:
        raise UnsafeURL("URLs with credentials (user:password@) are not allowed; verify the signature instead")
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeURL("the URL has no host")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, _port(parts.netloc, scheme), path


def url_check(url: str) -> CheckedURL:
    """Parse `url`, resolve its host once, check every address; raise `UnsafeURL` if refused."""
    scheme, host, port, path = _split(url)
    allowed = _allowed_hosts()
    literal = _literal_address(host)
    addresses = [literal] if literal is not None else _resolve(host, port)
    if host not in allowed:
        for ip in addresses:
            reason = None if str(ip) in allowed else address_refusal(ip)
            if reason and literal is not None:
                raise UnsafeURL(f"{host} is {reason}; webhooks go to public addresses only")
            if reason:
                raise UnsafeURL(f"'{host}' resolves to {ip}, {reason}; webhooks go to public addresses only")
    address = addresses[0]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # the same host, reachable without IPv6
    return CheckedURL(scheme=scheme, host=host, port=port, path=path, address=str(address))


def validate_webhook_url(value: str) -> None:
    """A field validator (Django or DRF) for URLs that will receive webhooks."""
    if not value:
        return
    try:
        url_check(value)
    except UnsafeURL as exc:
        raise ValidationError(f"This URL cannot receive webhooks: {exc}.", code="unsafe_url") from exc
