"""Which URLs the fetcher may connect to: the guard against server-side request forgery.

A watched page (or a redirect it sends) must not make the daemon talk to the machine it
runs on, the office network behind it or a cloud metadata service.  ``ensure_allowed``
runs before every request, redirects included; ``ensure_peer_allowed`` runs after the
connection is made, on the address actually connected to, so that a name that resolves
to a public address for our lookup and to a private one for the connection (DNS
rebinding) is still refused.  ``allow_private`` switches both off (tests, intranet demos).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

import idna

from monitor.errors import BlockedURLError, NetworkError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses the host resolves to, as text.  Raises OSError on failure.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Ranges the ipaddress properties below do not already cover.
_FORBIDDEN_V4 = tuple(ipaddress.IPv4Network(n) for n in (
    "0.0.0.0/8",  # "this network": 0.0.0.0 reaches the local host on Linux
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",  # RFC 1918
    "100.64.0.0/10",  # carrier-grade NAT, often the provider's own infrastructure
    "192.0.0.0/24",  # IETF protocol assignments
    "198.18.0.0/15",  # benchmarking, used as internal space by some networks
))
_FORBIDDEN_V6 = tuple(ipaddress.IPv6Network(n) for n in (
    "fc00::/7",  # unique local
    "fec0::/10",  # deprecated site-local, still routed inside some networks
    "100::/64",  # discard-only
))
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_forbidden_ip(ip: IPAddress) -> bool:
    """True for loopback, private, CGNAT, link-local, multicast, reserved... addresses.

    IPv6 addresses that carry an IPv4 address (mapped, NAT64, 6to4) are judged by the IPv4
    address, since that is where the packets end up.
    """
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return is_forbidden_ip(embedded)
    if (ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified
            or ip.is_reserved):
        return True
    networks = _FORBIDDEN_V4 if ip.version == 4 else _FORBIDDEN_V6
    return any(ip in net for net in networks)


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


async def system_resolver(host: str, port: int) -> list[str]:
    """The event loop's getaddrinfo: the same answer the connection will most likely get."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def ensure_allowed(url: str, *, allow_private: bool,
                         resolver: Resolver = system_resolver) -> None:
    """Raise ``BlockedURLError`` unless ``url`` is http(s) to a public address.

    DNS failure raises ``NetworkError``.  Every address the name resolves to must be
    public: the connection may use any of them.
    """
    scheme, host, port = _target(url)
    if scheme not in SCHEMES:
        raise BlockedURLError(f"{url}: only http and https URLs are fetched, not {scheme}:")
    if allow_private:
        return
    literal = _ip_literal(host)
    addresses = [literal] if literal is not None else await _resolve(host, port, resolver)
    for ip in addresses:
        if is_forbidden_ip(ip):
            raise BlockedURLError(
                f"{url}: {host} is {ip}, a loopback/private/link-local address "
                "(set allow_private_network to fetch it)")


def ensure_peer_allowed(url: str, peer: str | None, *, allow_private: bool) -> None:
    """Refuse a connection that ended on a forbidden address despite ``ensure_allowed``."""
    if allow_private:
        return
    ip = _ip_literal(peer or "")
    if ip is None:
        # Fail closed: not knowing where we are connected is no reason to trust it.
        raise BlockedURLError(f"{url}: cannot tell which address the connection went to")
    if is_forbidden_ip(ip):
        raise BlockedURLError(
            f"{url}: connected to {ip}, a loopback/private/link-local address "
            "(the name resolved differently for the connection: DNS rebinding?)")


def _target(url: str) -> tuple[str, str, int]:
    """(scheme, ASCII host, port); ``BlockedURLError`` for what is not a usable URL."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
        host = _ascii_host(parts.hostname or "")
    except (ValueError, idna.IDNAError) as exc:
        raise BlockedURLError(f"{url}: not a valid URL ({exc})") from None
    if scheme in SCHEMES and not host:
        raise BlockedURLError(f"{url}: no host name")
    return scheme, host, port


def _ascii_host(host: str) -> str:
    # httpx encodes names with the idna package (IDNA 2008); check the name it connects to.
    return host if host.isascii() else idna.encode(host, uts46=True).decode("ascii")


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def _resolve(host: str, port: int, resolver: Resolver) -> list[IPAddress]:
    try:
        answers = await resolver(host, port)
    except OSError as exc:  # socket.gaierror is an OSError
        raise NetworkError(f"cannot resolve {host}: {exc}") from None
    addresses = [ip for ip in (_ip_literal(a) for a in answers) if ip is not None]
    if not addresses:
        raise NetworkError(f"cannot resolve {host}: no address")
    return addresses
