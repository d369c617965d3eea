"""The fetch stage: one page in, one ``FetchResult`` out, or a ``FetchError``.

* ``http`` — the plain HTTP fetcher (httpx): deadline, retries, redirects, body cap,
  proxies, a source's headers and cookie.
* ``browser`` — headless Chromium through Playwright, for pages built by JavaScript.
* ``netguard`` — the SSRF guard: private addresses and non-http schemes refused.
* ``politeness`` — host spacing, per-host concurrency and back-off (``HostLimiter``).
* ``robots`` — the robots.txt cache.
* ``encoding`` — bytes to text: declared charsets first, detection only as a fallback.

The face is ``Fetcher.fetch_source(source)``: the source says how (``fetch = "http"``,
``"browser"`` or ``"auto"``), which proxy, headers and cookie; the pipeline does not care
which fetcher answered.  ``Fetcher.fetch(url)`` is the plain HTTP fetch.

``fetch = "auto"`` is plain HTTP first.  An answer that is a JavaScript challenge (HTTP
412 or 521, the statuses of 瑞数 and 加速乐 gateways, or a 2xx block page with a script,
as ``monitor.challenge`` recognises it) is fetched again with the browser, and so is
every "auto" source on that host for ``REMEMBER_SCRIPTED`` seconds (per process): the
gateway is a property of the host, and asking it over HTTP each time costs a request
that cannot succeed.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import httpx
from loguru import logger

from monitor.errors import FetchError, GoneError, HTTPStatusError, MonitorError
from monitor.fetch.browser import RENDERED, Browser, Visit
from monitor.fetch.http import Access, HttpFetcher, host_limiter, parsed, proxy_for
from monitor.fetch.netguard import ensure_allowed
from monitor.types import FetchResult

if TYPE_CHECKING:
    from monitor.config import SourceConfig
    from monitor.settings import Settings

# Answers of anti-bot gateways whose script computes a cookie and reloads (瑞数 412,
# 加速乐 521): with fetch = "auto" the browser is tried on them.
CHALLENGE_STATUSES = frozenset({412, 521})
REMEMBER_SCRIPTED = 6 * 3600.0  # seconds a host found scripted stays with the browser

__all__ = ["RENDERED", "Access", "Fetcher", "access_of", "fetched_with", "host_limiter",
           "proxy_for"]


class Fetcher(HttpFetcher):
    """The HTTP fetcher, plus a headless browser started when a source first needs it."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.browser = Browser(settings, resolver=kwargs.get("resolver"))
        self._scripted: dict[str, float] = {}  # host -> until when "auto" uses the browser

    async def aclose(self) -> None:
        await self.browser.aclose()
        await super().aclose()

    async def fetch_source(self, source: SourceConfig, *, etag: str | None = None,
                           last_modified: str | None = None,
                           same_as: str | None = None) -> FetchResult:
        """Fetch ``source.url`` the way the source says.  Raises FetchError.  ``same_as``:
        see ``HttpFetcher.fetch`` (for ``fetch = "http"`` only: "auto" reads every
        answer's text for a challenge's script)."""
        access = access_of(source)
        allow_private = source.allow_private_network or None
        if source.fetch == "browser" or (source.fetch == "auto" and self._remembered(source)):
            return await self.render(source, access)
        try:
            result = await self.fetch(source.url, etag=etag, last_modified=last_modified,
                                      allow_private=allow_private, robots=source.robots,
                                      encoding=source.encoding, access=access,
                                      same_as=same_as if source.fetch == "http" else None)
        except HTTPStatusError as exc:
            if source.fetch != "auto" or exc.status not in CHALLENGE_STATUSES:
                raise
            return await self._challenged(source, access, f"HTTP {exc.status}")
        if source.fetch == "auto" and (reason := _script_challenge(result)):
            return await self._challenged(source, access, reason)
        return result

    async def _challenged(self, source: SourceConfig, access: Access,
                          reason: str) -> FetchResult:
        """fetch = "auto" met a JavaScript challenge: the browser, now and for a while."""
        host = httpx.URL(source.url).host
        if host not in self._scripted:
            logger.info("{}: {} answers with a JavaScript challenge ({}); fetching it with "
                        "the browser for {:g} h", source.name, host, reason,
                        REMEMBER_SCRIPTED / 3600)
        self._scripted[host] = time.monotonic() + REMEMBER_SCRIPTED
        return await self.render(source, access)

    def _remembered(self, source: SourceConfig) -> bool:
        until = self._scripted.get(parsed(source.url).host)
        return until is not None and until > time.monotonic()

    async def render(self, source: SourceConfig, access: Access) -> FetchResult:
        """The page as the browser renders it, under the host's politeness and robots.txt."""
        s = self.settings
        allow = s.allow_private_network or source.allow_private_network
        visit = Visit(source.url, allow, access, source.wait_for)
        started = time.monotonic()
        try:
            await ensure_allowed(source.url, allow_private=allow, resolver=self._resolver)
            await self.robots_allow(source.url, allow, source.robots, access)
            with self._backing_off(source.url):
                async with self.limiter.slot(httpx.URL(source.url).host,
                                             started + s.fetch_deadline):
                    result = await self.browser.render(visit)
        except MonitorError:
            self._timed(started)
            raise
        self._timed(started)
        return _checked(result)


def access_of(source: SourceConfig) -> Access:
    """The source's proxy, headers and cookie (read from ``cookies_env`` now)."""
    cookie = None
    if source.cookies_env:
        cookie = os.environ.get(source.cookies_env)
        if not cookie:
            raise FetchError(f"{source.url}: cookies_env {source.cookies_env} is not set "
                             "(the page needs its Cookie header from that variable)")
    return Access(proxy=source.proxy, headers=source.headers, cookie=cookie,
                  cookie_host=parsed(source.url).host)


def fetched_with(result: FetchResult) -> str:
    """Which fetcher got ``result``: "browser" (rendered DOM) or "http"."""
    return result.headers.get(RENDERED) or "http"


def _script_challenge(result: FetchResult) -> str | None:
    """Why a 2xx answer is a challenge a browser may pass: a block page with a script."""
    from monitor.challenge import detect_challenge

    if result.document is not None or "<script" not in result.text.lower():
        return None
    return detect_challenge(result.text, status=result.status, headers=result.headers)


def _checked(result: FetchResult) -> FetchResult:
    """A rendered page's final status as an error, like the HTTP fetcher's."""
    if result.status in (404, 410):
        raise GoneError(f"{result.final_url}: HTTP {result.status}, not found",
                        status=result.status)
    if not 200 <= result.status < 300:
        raise HTTPStatusError(f"{result.final_url}: HTTP {result.status} (in the browser)",
                              status=result.status, size=len(result.body))
    return result
