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
from typing import TYPE_CHECKING

import httpx

from monitor.errors import FetchError
from monitor.fetch.http import Access, HttpFetcher, host_limiter, proxy_for
from monitor.types import FetchResult

if TYPE_CHECKING:
    from monitor.config import SourceConfig

__all__ = ["RENDERED", "Access", "Fetcher", "access_of", "fetched_with", "host_limiter",
           "proxy_for"]
RENDERED = "x-monitor-rendered"  # on a version's headers: the body is a browser's DOM


class Fetcher(HttpFetcher):
    """The HTTP fetcher, plus a headless browser started when a source first needs it."""

    async def fetch_source(self, source: SourceConfig, *, etag: str | None = None,
                           last_modified: str | None = None) -> FetchResult:
        """Fetch ``source.url`` the way the source says.  Raises FetchError."""
        access = access_of(source)
        allow_private = source.allow_private_network or None
        return await self.fetch(source.url, etag=etag, last_modified=last_modified,
                                allow_private=allow_private, robots=source.robots,
                                encoding=source.encoding, access=access)


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
