"""robots.txt: fetched once per site and day, parsed with protego.

The cache does not fetch by itself: the caller hands ``allowed`` a function that downloads
``robots.txt`` (the fetcher passes its own guarded, rate-limited request path, so the
SSRF guard and the per-host spacing apply to robots.txt too).

What an answer means (RFC 9309, with Google's stricter reading of 401/403):

* 2xx: the rules in the file.
* 401, 403: everything disallowed; the site refuses robots outright.
* any other 4xx (404, 410...): no rules, everything allowed.
* 5xx, network error, timeout, refused address: allowed.  RFC 9309 says to assume
  "disallow all", but a flaky robots.txt would then silence a watched page for good; a
  monitor fetches one page every few hours, so we choose conservative but not blocking,
  and ask again after ``error_ttl`` instead of a day.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

from monitor.errors import MonitorError

# robots.txt URL -> (status, body).  Raises MonitorError when there is no answer.
RobotsFetch = Callable[[str], Awaitable[tuple[int, bytes]]]
Rules = Protego | bool  # True: everything allowed, False: everything disallowed

DAY = 86_400.0


@dataclass(frozen=True)
class _Entry:
    rules: Rules
    expires: float  # time.monotonic()


class RobotsCache:
    """Per-site (scheme, host, port) cache of parsed robots.txt files."""

    def __init__(self, *, ttl: float = DAY, error_ttl: float = 3_600.0) -> None:
        self.ttl, self.error_ttl = ttl, error_ttl
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def allowed(self, url: str, user_agent: str, fetch: RobotsFetch) -> bool:
        """May ``user_agent`` fetch ``url``?  Downloads robots.txt with ``fetch`` if needed."""
        rules = await self._rules(_origin(url), fetch)
        if isinstance(rules, bool):
            return rules
        return rules.can_fetch(url, user_agent)

    async def _rules(self, origin: str, fetch: RobotsFetch) -> Rules:
        cached = self._fresh(origin)
        if cached is not None:
            return cached.rules
        # Checks of several pages of one site overlap; download its robots.txt once.
        async with self._locks.setdefault(origin, asyncio.Lock()):
            cached = self._fresh(origin)
            if cached is None:
                rules, ttl = await self._download(origin + "/robots.txt", fetch)
                cached = self._entries[origin] = _Entry(rules, time.monotonic() + ttl)
        return cached.rules

    def _fresh(self, origin: str) -> _Entry | None:
        entry = self._entries.get(origin)
        return entry if entry is not None and entry.expires > time.monotonic() else None

    async def _download(self, robots_url: str, fetch: RobotsFetch) -> tuple[Rules, float]:
        try:
            status, body = await fetch(robots_url)
        except MonitorError:  # no answer, or one we could not read: robots.txt is optional
            return True, self.error_ttl
        if 200 <= status < 300:
            return Protego.parse(body.decode("utf-8", errors="replace")), self.ttl
        if status in (401, 403):
            return False, self.ttl
        if 400 <= status < 500 and status != 429:
            return True, self.ttl
        return True, self.error_ttl  # 429, 5xx, an unfollowed 3xx: unreachable for now


def _origin(url: str) -> str:
    parts = urlsplit(url)
    host_port = parts.netloc.rpartition("@")[2]  # never send user:password to robots.txt
    return f"{parts.scheme.lower()}://{host_port.lower()}"
