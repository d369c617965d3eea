"""Connections lent to one request at a time: one-connection httpx clients, per origin.

``HttpFetcher`` (and the benchmark's bare limit) send each request through a *lane*: an
httpx client whose pool holds one connection, borrowed by that request alone and given
back when its response is closed.  Idle lanes are kept per origin (scheme, host, port)
and proxy, so a host's connections stay open between requests (HTTP/1.1 keep-alive);
beyond ``max_idle`` idle lanes in all the least recently used is closed, as httpx's
``max_keepalive_connections`` did for its pool.

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
        if not idle:
            return self._make(key[0], httpx.Limits(max_connections=1,
                                                   max_keepalive_connections=1))
        client = idle.pop()
        if not idle:
            del self._idle[key]
        del self._lru[client]
        return client

    async def _give_back(self, key: Key, client: httpx.AsyncClient) -> None:
        # after the response is closed: its connection is idle again, or closed by httpcore
        self._idle.setdefault(key, []).append(client)
        self._lru[client] = key
        while len(self._lru) > self.max_idle:
            old, old_key = self._lru.popitem(last=False)
            rest = self._idle[old_key]
            rest.remove(old)
            if not rest:
                del self._idle[old_key]
            await old.aclose()

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
