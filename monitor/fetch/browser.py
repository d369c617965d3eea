"""The browser fetcher: a page rendered by headless Chromium, for pages built by script.

Playwright drives the system Chromium (``settings.chromium_path``, Debian's ``chromium``;
never a downloaded browser), or a browser already running elsewhere over CDP
(``settings.browser_cdp_url``).  Decisions:

* **One browser, shared**: started at the first browser source, at most
  ``browser_concurrency`` pages at once, each check in a fresh context (no cookies,
  storage or cache carried from one check, or one source, to the next).
* **A dead browser costs one check**: a browser that crashed or was killed fails the
  check that was using it (``BrowserError``); the next check starts a new one.
* **A browser is replaced after ``browser_max_pages`` pages**: a long-running Chromium
  keeps memory its pages leaked (caches, V8 heaps of renderers it reuses), so after that
  many pages the next check starts a fresh browser and the old one is closed as soon as
  its last page is done (pages loading in it are never cut off).  A browser over CDP is
  not ours to restart: it is only reconnected when the connection drops.
* **The network guard sees every request** the page makes (scripts, XHR, frames): a
  route handler aborts non-http schemes and private addresses unless the source allows
  them, before Chromium connects.  Chromium resolves names itself, so the guard's DNS
  answer and Chromium's could differ (rebinding); the plain fetcher's peer check has no
  equivalent here.  Images, fonts and media are not loaded; downloads are refused.
* **When is a page ready**: after the ``load`` event, the ``wait_for`` selector if the
  source names one, else network idle (at most ``IDLE_WAIT`` s: a page polling forever is
  taken as it is).  All of it is under ``fetch_deadline``, which starts when the page
  has its turn: the wait for the host's slot (``Fetcher.render``) and for one of the
  ``browser_concurrency`` pages is not the site's time (as for plain HTTP,
  ``monitor.fetch.http``), so a page queued behind one that never loads is not failed.
* **What is stored**: the rendered DOM as UTF-8 HTML, with the status of the last
  main-frame answer (a gateway's 412 followed by a script reload ends as the page's 200),
  marked ``x-monitor-rendered: browser`` in the version's headers (and so in WARC).
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from loguru import logger

from monitor.errors import BrowserError, TimeoutError_
from monitor.fetch.http import Access, proxy_for
from monitor.fetch.netguard import Resolver, ensure_allowed, system_resolver
from monitor.types import FetchResult

if TYPE_CHECKING:
    from monitor.settings import Settings

RENDERED = "x-monitor-rendered"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-dev-shm-usage", "--disable-extensions", "--mute-audio",
        "--js-flags=--max-old-space-size=512"]  # the page's memory bounded
BLOCKED_TYPES = frozenset({"image", "font", "media"})
IDLE_WAIT = 10.0  # seconds network idle is waited for after load
KEPT = ("server", "date", "last-modified", "etag", "content-language", "x-powered-by", "via")


@dataclass(frozen=True)
class Visit:
    """What one browser fetch needs to know about its source."""

    url: str
    allow_private: bool
    access: Access
    wait_for: str | None = None


@dataclass(eq=False)
class _Process:
    """One started (or connected) browser and the pages it has served."""

    browser: Any
    pages: int = 0  # pages begun in it
    loading: int = 0  # pages in it now


class Browser:
    """``await browser.render(visit)``; ``await browser.aclose()`` at the end."""

    def __init__(self, settings: Settings, *, resolver: Resolver | None = None) -> None:
        self.settings = settings
        self._resolver = resolver or system_resolver
        self._slots = asyncio.Semaphore(settings.browser_concurrency)
        self._lock = asyncio.Lock()
        self._pw: Any = None
        self._current: _Process | None = None
        self._retired: set[_Process] = set()  # replaced, closed when their last page ends

    async def aclose(self) -> None:
        async with self._lock:
            await self._stop()

    async def render(self, visit: Visit) -> FetchResult:
        """Load ``visit.url`` and return the rendered DOM.  Raises FetchError."""
        s = self.settings
        async with self._slots:  # waiting for a page of the browser is not the site's time
            sent_at, started = datetime.now(UTC), time.monotonic()
            try:
                async with asyncio.timeout(s.fetch_deadline):
                    status, headers, final, html = await self._load(visit, started)
            except TimeoutError:
                raise TimeoutError_(f"{visit.url}: the browser did not finish the page "
                                    f"within {s.fetch_deadline:g} s (fetch_deadline)") from None
        headers = {**headers, "content-type": "text/html; charset=utf-8", RENDERED: "browser"}
        return FetchResult(url=visit.url, final_url=final, status=status, headers=headers,
                           body=html.encode("utf-8"), text=html, charset="utf-8",
                           elapsed=time.monotonic() - started, fetched_at=sent_at)

    async def _load(self, visit: Visit, started: float) -> tuple[int, dict[str, str], str, str]:
        from playwright.async_api import Error

        process = await self._take()
        try:
            try:
                context = await process.browser.new_context(**self._context_options(visit))
            except Error as exc:
                raise BrowserError(f"{visit.url}: the browser failed: "
                                   f"{_first_line(exc)}") from None
            try:
                return await self._in_context(context, visit, started)
            except Error as exc:
                raise BrowserError(f"{visit.url}: {_first_line(exc)}") from None
            finally:
                await _quietly(context.close())
        finally:
            await self._give_back(process)

    async def _in_context(self, context: Any, visit: Visit,
                          started: float) -> tuple[int, dict[str, str], str, str]:
        await _add_cookie(context, visit)
        blocked: list[str] = []
        await context.route("**/*", lambda route: self._guard(route, visit, blocked))
        page = await context.new_page()
        answers: list[Any] = []
        page.on("response", lambda r: answers.append(r)
                if r.request.is_navigation_request() and r.frame == page.main_frame else None)
        await page.goto(visit.url, wait_until="load", timeout=0)
        await self._settle(page, visit, started)
        if blocked:
            logger.info("{}: the page's requests to {} were refused by the network guard",
                        visit.url, ", ".join(blocked[:3]))
        last = answers[-1] if answers else None
        status = last.status if last is not None else 200
        headers = {k: v for k, v in (last.headers if last else {}).items() if k in KEPT}
        return status, headers, page.url, await page.content()

    async def _settle(self, page: Any, visit: Visit, started: float) -> None:
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        left = self.settings.fetch_deadline - (time.monotonic() - started)
        if visit.wait_for:
            await page.wait_for_selector(visit.wait_for, state="attached",
                                         timeout=max(left, 0.001) * 1000)
            return
        try:
            await page.wait_for_load_state("networkidle",
                                           timeout=max(min(left, IDLE_WAIT), 0.001) * 1000)
        except PlaywrightTimeout:
            pass  # a page that keeps polling is taken as it is

    async def _guard(self, route: Any, visit: Visit, blocked: list[str]) -> None:
        """Every request of the page: media skipped, the network guard applied."""
        request = route.request
        if request.resource_type in BLOCKED_TYPES:
            await _quietly(route.abort("blockedbyclient"))
            return
        try:
            await ensure_allowed(request.url, allow_private=visit.allow_private,
                                 resolver=self._resolver)
        except Exception as exc:  # BlockedURLError, a resolver failure...: any doubt is no
            blocked.append(request.url)
            logger.debug("{}: refused {}: {}", visit.url, request.url, exc)
            await _quietly(route.abort("blockedbyclient"))
            return
        await _quietly(route.continue_())

    def _context_options(self, visit: Visit) -> dict[str, Any]:
        options: dict[str, Any] = {
            "user_agent": self.settings.user_agent, "locale": "zh-CN",
            "accept_downloads": False, "service_workers": "block",
            "extra_http_headers": dict(visit.access.headers)}
        proxy = proxy_for(visit.url, visit.access.proxy, self.settings.proxy)
        if proxy:
            options["proxy"] = _playwright_proxy(proxy)
        return options

    # --- the browser process ------------------------------------------------------

    async def _take(self) -> _Process:
        """The shared browser for one more page: started (again) when there is none, it
        died, or it has served ``browser_max_pages`` pages."""
        async with self._lock:
            current = self._current
            if current is not None and not current.browser.is_connected():
                logger.warning("the headless browser died; starting a new one")
                await self._drop(current)
            elif current is not None and self._worn(current):
                logger.info("the headless browser served {} pages (browser_max_pages); "
                            "starting a fresh one", current.pages)
                await self._drop(current)
            if self._current is None:
                self._current = _Process(await self._start())
            self._current.pages += 1
            self._current.loading += 1
            return self._current

    async def _give_back(self, process: _Process) -> None:
        """A page of ``process`` ended (or was cancelled at the deadline): no lock and no
        await before the count, so a cancelled check cannot leave a retired browser open;
        the close itself is shielded from that cancellation."""
        process.loading -= 1
        if process in self._retired and process.loading == 0:
            self._retired.discard(process)
            await _quietly(asyncio.shield(process.browser.close()))

    def _worn(self, process: _Process) -> bool:
        return (not self.settings.browser_cdp_url
                and process.pages >= self.settings.browser_max_pages)

    async def _drop(self, process: _Process) -> None:
        """No new page in ``process``; closed now, or when its last page ends."""
        self._current = None
        if process.loading and process.browser.is_connected():
            self._retired.add(process)
        else:
            await _quietly(process.browser.close())

    async def _start(self) -> Any:
        from playwright.async_api import Error, async_playwright

        s = self.settings
        _ensure_chromium(s)
        if self._pw is None:
            self._pw = await async_playwright().start()
        try:
            if s.browser_cdp_url:
                return await self._pw.chromium.connect_over_cdp(s.browser_cdp_url)
            return await self._pw.chromium.launch(
                executable_path=s.chromium_path, args=ARGS, headless=True)
        except Error as exc:
            if not self._retired:  # a driver in doubt is started afresh next time
                await self._stop()
            where = s.browser_cdp_url or s.chromium_path
            raise BrowserError(f"the headless browser ({where}) did not start: "
                               f"{_first_line(exc)}") from None

    async def _stop(self) -> None:
        for process in [*self._retired, *([self._current] if self._current else [])]:
            await _quietly(process.browser.close())
        if self._pw is not None:
            await _quietly(self._pw.stop())
        self._current, self._retired, self._pw = None, set(), None


def _ensure_chromium(s: Settings) -> None:
    if not s.browser_cdp_url and not os.path.exists(s.chromium_path):
        raise BrowserError(
            f'fetch = "browser" needs Chromium, not found at {s.chromium_path}: install the '
            "Debian package chromium (apt-get install chromium), or set chromium_path or "
            "MONITOR_BROWSER_CDP_URL")


def _playwright_proxy(proxy: str) -> dict[str, str]:
    parts = urlsplit(proxy)
    server = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    out = {"server": server}
    if parts.username:
        out["username"] = parts.username
        out["password"] = parts.password or ""
    return out


async def _add_cookie(context: Any, visit: Visit) -> None:
    """The source's Cookie header, as cookies of its own host only."""
    if not visit.access.cookie:
        return
    parts = urlsplit(visit.url)
    cookies = []
    for pair in visit.access.cookie.split(";"):
        name, eq, value = pair.strip().partition("=")
        if name and eq:
            cookies.append({"name": name, "value": value,
                            "url": f"{parts.scheme}://{parts.netloc}/"})
    if cookies:
        await context.add_cookies(cookies)


async def _quietly(awaitable: Any) -> None:
    """Close or abort something that may already be gone (a dead browser, a closed page)."""
    try:
        await awaitable
    except Exception as exc:
        logger.debug("browser cleanup: {}", _first_line(exc))


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
