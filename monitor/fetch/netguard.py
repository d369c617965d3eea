"""Which URLs the fetcher may connect to: the guard against server-side request forgery.

A watched page (or a redirect it sends) must not make the daemon talk to the machine it
runs on, the office network behind it or a cloud metadata service.  ``Guard.check`` runs
before every request of the HTTP fetcher, redirects included, and returns a ``Pin``: the
addresses it judged.  ``PinnedBackend`` (httpcore's network backend of every direct lane)
then connects to those addresses and to nothing else, the name kept for the Host header
and for TLS (SNI, certificate verification): a name that resolves to a public address
for the check and to a private one for the connection (DNS rebinding) cannot happen,
there is no second lookup.  A connection with no pin, or a pin of another host, is
refused (fail closed).

Answers are kept ``DNS_TTL`` seconds per host (``Guard``): a fetch of a host resolved
within that time costs no lookup (no thread hop, no DNS query), on a kept-alive
connection or a new one.  getaddrinfo tells no record TTL, so the time is ours: 60 s,
short enough that a site moving to a new address is followed within a minute (a
connection that fails drops the host's answer, so the retry asks DNS again), long enough
that a host's pages checked together ask once.  A name that rebinds to a private
address is refused at the first lookup after its answer expired; a connection already
open stays on the address it was pinned to, which was judged.  Failures are not kept:
the next fetch asks again, with the same error as ever.

``allow_private`` (tests, intranet demos) switches the judging off, not the pinning: the
answer is kept and connected to all the same.  ``ensure_peer_allowed`` still judges the
address a response came from (cheap, asked of the socket): a lane's kept-alive
connection opened for a fetch with the allowance may serve a later fetch without it,
after the host's answer changed.  ``ensure_allowed``, the check with no answer kept, is
the browser's: Chromium resolves names itself, so nothing can be pinned there.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import socket
import time
import typing
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import idna

from monitor.errors import BlockedURLError, NetworkError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses the host resolves to, as text.  Raises OSError on failure.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

SCHEMES = ("http", "https")
DNS_TTL = 60.0  # seconds a host's checked answer is used without asking DNS again
_MAX_HOSTS = 4096  # answers kept; past that the expired ones go, then all
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


@dataclass(frozen=True)
class Pin:
    """The addresses ``host`` may be connected to (all judged), or ``by_name``: connect
    by name, unjudged (a proxy, tests whose DNS double lies)."""

    host: str
    addresses: tuple[str, ...] = ()
    by_name: bool = False


BY_NAME = Pin("", by_name=True)
# the pin of the request being sent: httpcore connects in the task that sends
PIN: contextvars.ContextVar[Pin | None] = contextvars.ContextVar("pin", default=None)


@dataclass(frozen=True)
class _Answer:
    expires: float
    forbidden: IPAddress | None  # the first forbidden address among them, judged once
    pin: Pin


class Guard:
    """The HTTP fetcher's guard: checks URLs, keeps each host's judged answer ``ttl``
    seconds (``clock``: ``time.monotonic``, replaced by tests)."""

    def __init__(self, resolver: Resolver = system_resolver, ttl: float = DNS_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.resolver = resolver
        self.ttl = ttl
        self.clock = clock
        self._answers: dict[str, _Answer] = {}

    async def check(self, url: str, *, allow_private: bool) -> Pin:
        """``BlockedURLError`` unless ``url`` is http(s) to a public address; the pin its
        connection must use.  DNS failure raises ``NetworkError``.  Every address the name
        resolves to must be public: the connection may use any of them.  With
        ``allow_private`` the answer is pinned all the same, only not judged."""
        scheme, host, port = _target(url)
        if scheme not in SCHEMES:
            raise BlockedURLError(f"{url}: only http and https URLs are fetched, not {scheme}:")
        answer = await self._answer(host, port)
        if answer.forbidden is not None and not allow_private:
            raise _forbidden(url, host, answer.forbidden)
        return answer.pin

    def forget(self, host: str) -> None:
        """Drop ``host``'s answer: its addresses did not take a connection."""
        self._answers.pop(host, None)

    async def _answer(self, host: str, port: int) -> _Answer:
        now = self.clock()
        answer = self._answers.get(host)
        if answer is not None and answer.expires > now:
            return answer
        literal = _ip_literal(host)
        addresses = [literal] if literal is not None else await _resolve(
            host, port, self.resolver)
        forbidden = next((ip for ip in addresses if is_forbidden_ip(ip)), None)
        pin = Pin(host, tuple(str(ip) for ip in addresses))
        answer = _Answer(now + self.ttl, forbidden, pin)
        if self.ttl > 0:
            self._keep(host, answer, now)
        return answer

    def _keep(self, host: str, answer: _Answer, now: float) -> None:
        if len(self._answers) >= _MAX_HOSTS:
            self._answers = {h: a for h, a in self._answers.items() if a.expires > now}
            if len(self._answers) >= _MAX_HOSTS:
                self._answers.clear()
        self._answers[host] = answer


async def ensure_allowed(url: str, *, allow_private: bool,
                         resolver: Resolver = system_resolver) -> None:
    """``Guard.check`` with nothing kept: the browser's check (it resolves by itself)."""
    scheme, _, _ = _target(url)
    if allow_private and scheme in SCHEMES:
        return  # nothing to judge, nothing to pin
    await Guard(resolver, ttl=0).check(url, allow_private=allow_private)


def _forbidden(url: str, host: str, ip: IPAddress) -> BlockedURLError:
    return BlockedURLError(
        f"{url}: {host} is {ip}, a loopback/private/link-local address "
        "(set allow_private_network to fetch it)")


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend that connects where ``PIN`` says (module docstring).
    Addresses are tried one after the other in the resolver's order (getaddrinfo's,
    RFC 6724), each with the connect timeout, not raced as anyio's happy eyeballs would
    race them: most hosts have one or two.  When none takes the connection, the host's
    answer is forgotten (``guard.forget``) and the last error raised."""

    def __init__(self, guard: Guard) -> None:
        self._guard = guard
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int,  # httpcore names it timeout
                          timeout: float | None = None,  # noqa: ASYNC109
                          local_address: str | None = None,
                          socket_options: typing.Iterable[typing.Any] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        pin = PIN.get()
        if pin is not None and pin.by_name:
            return await self._inner.connect_tcp(host, port, timeout, local_address,
                                                 socket_options)
        if pin is None or pin.host != host or not pin.addresses:
            raise httpcore.ConnectError(
                f"{host}: no address checked by the network guard for this connection")
        error: Exception | None = None
        for address in pin.addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address,
                                                     socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        self._guard.forget(host)
        assert error is not None
        raise error

    async def connect_unix_socket(self, path: str,
                                  timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: typing.Iterable[typing.Any] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


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
