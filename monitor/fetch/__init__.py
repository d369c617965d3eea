"""The fetch stage: one page in, one ``FetchResult`` out, or a ``FetchError``.

* ``http`` — the plain HTTP fetcher (httpx): deadline, retries, redirects, body cap,
  proxies, a source's headers and cookie.
* ``browser`` — headless Chromium through Playwright, for pages built by JavaScript.
* ``netguard`` — the SSRF guard: private addresses and non-http schemes refused.
* ``politeness`` — host spacing, per-host concurrency and back-off (``HostLimiter``).
* ``robots`` — the robots.txt cache.
* ``encoding`` — bytes to text: declared charsets first, detection only as a fallback.

The face is ``Fetcher.fetch_source(source)``: the source says how (``fetch = "http"`` or
``"browser"``), which proxy, headers and cookie; the pipeline does not care which fetcher
answered.  ``Fetcher.fetch(url)`` is the plain HTTP fetch.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import httpx

from monitor.errors import FetchError, GoneError, HTTPStatusError, MonitorError
from monitor.fetch.browser import RENDERED, Browser, Visit
from monitor.fetch.http import Access, HttpFetcher, host_limiter, proxy_for
from monitor.fetch.netguard import ensure_allowed
from monitor.settings import Settings
from monitor.types import FetchResult

if TYPE_CHECKING:
    from monitor.config import SourceConfig

__all__ = ["RENDERED", "Access", "Fetcher", "access_of", "fetched_with", "host_limiter",
           "proxy_for"]


class Fetcher(HttpFetcher):
    """The HTTP fetcher, plus a headless browser started when a source first needs it."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.browser = Browser(settings, resolver=kwargs.get("resolver"))

    async def aclose(self) -> None:
        await self.browser.aclose()
        await super().aclose()

    async def fetch_source(self, source: SourceConfig, *, etag: str | None = None,
                           last_modified: str | None = None) -> FetchResult:
        """Fetch ``source.url`` the way the source says.  Raises FetchError."""
        access = access_of(source)
        allow_private = source.allow_private_network or None
        if source.fetch == "browser":
            return await self.render(source, access)
        return await self.fetch(source.url, etag=etag, last_modified=last_modified,
                                allow_private=allow_private, robots=source.robots,
                                encoding=source.encoding, access=access)

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
                  cookie_host=httpx.URL(source.url).host)


def fetched_with(result: FetchResult) -> str:
    """Which fetcher got ``result``: "browser" (rendered DOM) or "http"."""
    return result.headers.get(RENDERED) or "http"


def _checked(result: FetchResult) -> FetchResult:
    """A rendered page's final status as an error, like the HTTP fetcher's."""
    if result.status in (404, 410):
        raise GoneError(f"{result.final_url}: HTTP {result.status}, the page is gone",
                        status=result.status)
    if not 200 <= result.status < 300:
        raise HTTPStatusError(f"{result.final_url}: HTTP {result.status} (in the browser)",
                              status=result.status, size=len(result.body))
    return result
