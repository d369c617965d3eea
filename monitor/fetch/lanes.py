"""Connections lent to one request at a time: one-connection httpx clients, per origin.

``HttpFetcher`` (and the benchmark's bare limit) send each request through a *lane*: an
httpx client whose pool holds one connection, borrowed by that request alone and given
back when its response is closed.  Idle lanes are kept per origin (scheme, host, port)
and proxy, so a host's connections stay open between requests (HTTP/1.1 keep-alive).
At most ``max_idle`` lanes are kept idle (httpx's ``max_keepalive_connections`` for its
pool): a request to an origin without an idle lane then takes the least recently used
lane of another origin (same proxy), whose connection httpcore closes before it opens
the new one; a client is made only while fewer than ``max_idle`` are idle.  So pages
spread over more hosts than that cost a new connection each, not a new client each.

Why not one client with a pool of many connections: httpcore's pool (1.0) offers a freed
connection to every request waiting for its origin at once; all but one find it taken
and wait again (``ConnectionNotAvailable``), and each offer asks every connection of the
pool whether its socket is readable.  Ten requests to one host cost more CPU in that
bookkeeping than in HTTP itself (bench/README.md: one host, ~1 ms a request).  A lane
has one user and one connection, so none of that happens; httpcore still judges that
connection (expired, closed by the server) before reusing it.

``quiet_sniffio`` belongs here too: httpcore asks ``import sniffio`` every time it sets up
a lock (several times a request).  anyio no longer installs sniffio, and a failed import
is not remembered: each one searches every ``sys.path`` entry again (~0.3 ms).  Marking
it missing once makes the answer immediate; httpcore then takes asyncio, which is ours.
"""

from __future__ import annotations

import importlib.util
import ssl
import sys
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx

Key = tuple[str | None, str, str, int | None]  # proxy, scheme, host, port


def quiet_sniffio() -> None:
    """Remember that sniffio is not installed (see the module docstring)."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]  # import raises at once


def shared_ssl_context() -> ssl.SSLContext:
    """httpx's default verification, made once for every lane (loading the CA bundle
    costs tens of milliseconds; httpx would do it for every client)."""
    return httpx.create_ssl_context(trust_env=False)


class Trust:
    """One verifying SSL context for every lane, as ``shared_ssl_context`` makes it, its
    CA bundle (certifi's, as httpx's) loaded by ``need`` before the first request that
    may use TLS: an https URL, or any request through a proxy.  A process that fetches
    only ``http://`` pages never loads it (~20 ms).  Until then the context trusts no
    certificate: a TLS connection made without ``need`` fails verification, it is
    never left unverified.  Lanes hold the context itself, so loading it once serves
    every client, made before or after."""

    def __init__(self) -> None:
        # what ssl.create_default_context gives before loading CAs: hostname checked,
        # certificate required
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._loaded = False

    def need(self, url: httpx.URL, proxy: str | None) -> None:
        if not self._loaded and (url.scheme != "http" or proxy is not None):
            import certifi

            self.context.load_verify_locations(cafile=certifi.where())
            self._loaded = True


class Lanes:
    """``async with lanes.lend(url, proxy) as client: …`` — ``make(proxy)`` builds a
    client (its limits are set here to one connection)."""

    def __init__(self, make: Callable[[str | None, httpx.Limits], httpx.AsyncClient],
                 max_idle: int = 20) -> None:
        quiet_sniffio()
        self._make = make
        self.max_idle = max_idle
        self._idle: dict[Key, list[httpx.AsyncClient]] = {}
        self._lru: OrderedDict[httpx.AsyncClient, Key] = OrderedDict()
        self._lent: set[httpx.AsyncClient] = set()

    @asynccontextmanager
    async def lend(self, url: httpx.URL, proxy: str | None) -> AsyncIterator[httpx.AsyncClient]:
        key = (proxy, url.scheme, url.host, url.port)
        client = self._take(key)
        self._lent.add(client)
        try:
            yield client
        finally:
            self._lent.discard(client)
            await self._give_back(key, client)

    def _take(self, key: Key) -> httpx.AsyncClient:
        idle = self._idle.get(key)
        if idle:
            return self._unidle(idle[-1])
        if len(self._lru) >= self.max_idle:
            # another origin's lane, least recently used first: httpcore closes its
            # connection when this request needs one to its own origin
            for client, other in self._lru.items():
                if other[0] == key[0]:  # through the same proxy (or none)
                    return self._unidle(client)
        return self._make(key[0], httpx.Limits(max_connections=1, max_keepalive_connections=1))

    def _unidle(self, client: httpx.AsyncClient) -> httpx.AsyncClient:
        key = self._lru.pop(client)
        idle = self._idle[key]
        idle.remove(client)
        if not idle:
            del self._idle[key]
        return client

    async def _give_back(self, key: Key, client: httpx.AsyncClient) -> None:
        # after the response is closed: its connection is idle again, or closed by httpcore
        self._idle.setdefault(key, []).append(client)
        self._lru[client] = key
        while len(self._lru) > self.max_idle:
            await self._unidle(next(iter(self._lru))).aclose()

    @property
    def idle(self) -> int:
        return len(self._lru)

    async def aclose(self) -> None:
        clients = [*self._lru, *self._lent]
        self._idle.clear()
        self._lru.clear()
        self._lent.clear()
        for client in clients:
            await client.aclose()
