"""The fetch stage: one URL in, one ``FetchResult`` out, or a ``FetchError``.

Layers, innermost first:

* ``_exchange``: one HTTP request.  SSRF guard, the host's politeness slot, the body
  streamed and inflated under the size cap.  httpx errors become monitor errors there,
  through ``_translated``, the one mapping.
* ``_with_retries``: connection errors, timeouts, 5xx and 429 are retried with exponential
  back-off or the server's Retry-After; the host as a whole is deferred meanwhile.  A 429
  or 503 also backs the host off in the ``HostLimiter`` beyond this fetch (Retry-After,
  else a per-host exponential back-off, reset by a normal answer), so the next fetches of
  any source wait for it, or fail at once with "host backing off until …" when it ends
  after their deadline (a ``FetchError``: a failed check).
* ``_follow``: redirects, followed by hand so that every hop passes the guard and
  robots.txt, and is recorded.
* ``HttpFetcher.fetch``: the wall-clock deadline over all of that (httpx's own timeouts only
  measure inactivity, so a server dripping one byte a second would never trip them),
  then the final status becomes a result or an error, and the body becomes text.  Its wall
  time, successful or not, goes to ``on_fetched`` (the daemon's fetch-duration histogram).

The deadline (``fetch_deadline``, a ``_Budget``) measures the *site*, not the queue in
front of it.  Its clock stops while the fetch waits for its host's slot
(``HostLimiter.slot``: another page of the host holding it, ``host_delay`` after another
request, a back-off): a page queued behind a hanging page of its host was otherwise
failed as "no complete answer" although its request had hardly been sent, and the
healthy page was blamed (and counted towards the admin's 来源检查失败).  So the clock
starts when the host's slot is granted and the first request goes out, and runs for
everything the fetch itself does: its requests and bodies, robots.txt, redirects, and
the waits between its own retries (``_Budget.retry_in``).  The queue needs no bound of
its own: whoever is ahead in it holds the slot for at most its own deadline, and
``monitor check`` runs ``concurrency`` checks at a time (the daemon queues a check
behind its host before it starts, ``monitor.runner``), so a check waits at most for
the checks ahead of it, each bounded.  A back-off that ends after the time the fetch
still has fails at once, as before ("host … backing off until …").

Proxies, headers, cookies (``Access``, what a source adds to its requests):

* Each request borrows a *lane* (``monitor.fetch.lanes``): a one-connection httpx client
  of its origin and proxy (``None``: direct), kept open for the next request to that
  origin; httpx's own pool costs more CPU than the request with many requests to one
  host.  The proxy of a request is the source's, else ``settings.proxy``, else
  ``HTTPS_PROXY``/``HTTP_PROXY`` from the environment; ``NO_PROXY`` exempts hosts from
  the last two.  ``"direct"`` switches proxies off.  Nothing else is taken from the
  environment (no netrc).  A fetcher reads those variables once, when it is made.
* The guard still judges the *target* (its DNS answer) before every request; the peer
  check is skipped through a proxy, since the peer is then the proxy the admin chose.
  A direct lane connects only to the addresses the guard judged (``netguard.Pin``,
  its ``PinnedBackend``), and the guard keeps a host's answer ``DNS_TTL`` seconds: a
  fetch of a host resolved within that time asks DNS nothing.
* No cookie jar is shared: cookies a server sets live for one fetch (its redirects), and
  the source's own cookie (``cookies_env``) is sent only to the host of its URL, so one
  source's login never reaches another source's pages.
"""

from __future__ import annotations

import asyncio
import functools
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType
from typing import TYPE_CHECKING, Self

import httpx

from monitor.errors import (
    BlockedURLError,
    DecodeError,
    FetchError,
    GoneError,
    HostBackingOffError,
    HTTPStatusError,
    MonitorError,
    NetworkError,
    RobotsDisallowedError,
    TimeoutError_,
    TooLargeError,
    TooManyRedirectsError,
)
from monitor.extract.document import sniff
from monitor.fetch.encoding import decode_declared, decode_html
from monitor.fetch.lanes import Lanes, Trust
from monitor.fetch.netguard import (
    BY_NAME,
    PIN,
    Guard,
    PinnedBackend,
    Resolver,
    ensure_peer_allowed,
    system_resolver,
)
from monitor.fetch.politeness import BackingOff, HostLimiter, retry_after
from monitor.fetch.robots import RobotsCache
from monitor.types import FetchResult

if TYPE_CHECKING:
    from monitor.settings import Settings

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
OVERLOAD_STATUSES = frozenset({429, 503})  # "slow down": the whole host is backed off
KEPT_HEADERS = frozenset({
    "content-type", "content-length", "content-encoding", "content-language",
    "content-disposition", "etag", "last-modified", "date", "expires", "age",
    "cache-control", "server", "location", "refresh", "retry-after", "via",
    # CDN / WAF fingerprints, used to recognise challenge pages
    "x-cache", "x-cache-lookup", "x-via", "x-powered-by", "cf-ray", "cf-mitigated",
})
# httpx maps each of these to the first matching monitor error; order matters (subclasses
# first).  Anything else httpx raises is a plain FetchError.
_HTTPX_ERRORS: tuple[tuple[type[Exception], type[FetchError], str], ...] = (
    (httpx.TimeoutException, TimeoutError_, "no data within the connect/read timeout"),
    (httpx.UnsupportedProtocol, BlockedURLError, "unsupported URL scheme"),
    (httpx.InvalidURL, BlockedURLError, "invalid URL"),
    (httpx.RemoteProtocolError, NetworkError, "the server broke the HTTP protocol"),
    (httpx.TransportError, NetworkError, "network error"),
)
# bodies up to this size are decoded on the event loop when a declared charset decodes
# them cleanly (``decoded``): at most a few decodes of half a MiB, ~1 ms in the worst case
INLINE_DECODE_BYTES = 512 * 1024
_INFLATE = {"gzip": zlib.MAX_WBITS | 32, "x-gzip": zlib.MAX_WBITS | 32,
            "deflate": zlib.MAX_WBITS | 32}  # | 32: accepts a gzip or a zlib header


DIRECT = "direct"  # proxy = "direct": no proxy, whatever the environment says


@dataclass(frozen=True)
class Access:
    """What a source adds to its requests: a proxy, headers, its own Cookie header."""

    proxy: str | None = None  # None: settings.proxy, else the environment's
    headers: tuple[tuple[str, str], ...] = ()
    cookie: str | None = None  # sent only to the host of ``cookie_host``
    cookie_host: str | None = None


class _Budget:
    """One fetch's ``fetch_deadline``: its clock stops while the fetch waits for its host.

    ``timer`` is the ``asyncio.timeout`` around the fetch; ``paused`` holds it while the
    host's slot is awaited and moves it (and ``end``) on by the time waited, less the
    part that was this fetch's own retry delay (``retry_in``), which counts."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds  # time.monotonic() the fetch must end by
        self.timer: asyncio.Timeout | None = None
        # when its first request was sent, its host's slot granted: capture began
        self.sent_at: datetime | None = None
        self._own_until = 0.0  # the end of the fetch's own retry delay

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def retry_in(self, delay: float) -> None:
        """The fetch's next attempt waits ``delay`` s: that wait is its own, it counts."""
        self._own_until = time.monotonic() + delay

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No deadline while the block waits for the host's slot (see the module doc)."""
        stopped = time.monotonic()
        self._move(None)
        try:
            yield
        finally:
            now = time.monotonic()
            self.end += now - max(stopped, min(self._own_until, now))
            self._move(asyncio.get_running_loop().time() + self.remaining())

    def _move(self, when: float | None) -> None:
        if self.timer is not None and not self.timer.expired():
            self.timer.reschedule(when)


@dataclass(frozen=True)
class _Call:
    """What one ``fetch`` decided up front, carried through every hop and retry."""

    allow_private: bool
    robots: bool
    retries: int
    budget: _Budget  # fetch_deadline, shared by its redirects, retries and robots.txt
    access: Access = Access()
    jar: httpx.Cookies = field(default_factory=httpx.Cookies)  # this fetch's cookies only
    capture: bool = True  # the page's own requests (not its robots.txt): budget.sent_at

    @property
    def deadline(self) -> float:
        """time.monotonic() the fetch must end by, were its host's slot free now."""
        return self.budget.end

    def remaining(self) -> float:
        return self.budget.remaining()


@dataclass(frozen=True)
class _Reply:
    url: str
    status: int
    headers: httpx.Headers
    body: bytes


class _KeepsNone(httpx.Cookies):
    """A lane's own cookies: none, ever (a fetch's cookies live in its ``_Call.jar``).
    httpx files every response's Set-Cookie into its client's jar, building a urllib
    request and response for ``http.cookiejar`` even when there is none (~0.25 M
    instructions a response, 9% of a 304's fetch: bench/README.md); a jar whose policy
    allows no domain refuses them all, so nothing is filed at all."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class HttpFetcher:
    """``async with HttpFetcher(settings) as f: result = await f.fetch(url)``.

    Owns its lanes (one-connection httpx clients) and a robots.txt cache.  Pass the daemon's
    ``HostLimiter`` so that every fetcher spaces requests to a host together.  ``resolver``
    replaces DNS for the SSRF guard and for direct connections (tests simulate DNS with
    it).  ``verify_peer=False`` connects by name, unpinned, and skips the check of the
    address actually connected to; only for tests whose resolver double claims a
    loopback test server is public.  ``on_fetched`` is called with the
    seconds each ``fetch`` took, whether it returned or raised a ``MonitorError``.
    """

    def __init__(self, settings: Settings, *, resolver: Resolver | None = None,
                 limiter: HostLimiter | None = None, verify_peer: bool = True,
                 on_fetched: Callable[[float], None] | None = None) -> None:
        self.settings = settings
        self.limiter = limiter or host_limiter(settings)
        self._on_fetched = on_fetched
        self.robots = RobotsCache()
        self._resolver = resolver or system_resolver
        self.guard = Guard(self._resolver)
        self._verify_peer = verify_peer
        self._trust = Trust()  # the CA bundle loaded for the first https request
        # read once: urllib walks the whole environment at every call
        self._env_proxies = urllib.request.getproxies_environment()
        # idle connections kept open: as many as httpx's pool allows connections (100),
        # so the pages of a hundred hosts do not open a new connection every time
        self._lanes = Lanes(self._new_client, max_idle=max(100, settings.concurrency))

    def _new_client(self, proxy: str | None, limits: httpx.Limits) -> httpx.AsyncClient:
        s = self.settings
        client = httpx.AsyncClient(
            follow_redirects=False, proxy=proxy, limits=limits, verify=self._trust.context,
            transport=None if proxy else self._pinned_transport(limits),
            trust_env=False,  # proxies are chosen by proxy_for; never netrc
            cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),  # keeps nothing
            timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
            headers={
                "User-Agent": s.user_agent,
                "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
                "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5",
                # Only what _Inflater can cap; httpx would otherwise offer br and zstd.
                "Accept-Encoding": "gzip",
            },
        )
        # httpx's attribute behind ``client.cookies`` (0.28); were it renamed, httpx would
        # file cookies into the jar above, which keeps none: the same, only slower
        client._cookies = _KeepsNone(client.cookies.jar)
        return client

    def _pinned_transport(self, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
        """httpx's transport, its pool connecting through ``PinnedBackend``."""
        transport = httpx.AsyncHTTPTransport(verify=self._trust.context, limits=limits)
        # httpcore's pool reads this attribute for every connection it opens (1.0); were
        # it renamed, the assignment below would fail loudly, never go unpinned quietly
        pool = transport._pool
        if not hasattr(pool, "_network_backend"):
            raise RuntimeError("httpcore's pool has no _network_backend: cannot pin")
        pool._network_backend = PinnedBackend(self.guard)
        return transport

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._lanes.aclose()

    async def fetch(self, url: str, *, etag: str | None = None,
                    last_modified: str | None = None, allow_private: bool | None = None,
                    robots: bool | None = None, encoding: str | None = None,
                    access: Access = Access(), same_as: str | None = None) -> FetchResult:
        """GET ``url``.  ``None`` options fall back to the settings.  Raises FetchError.

        ``same_as``: the SHA-256 of a body whose text the caller has already (the last
        version's raw bytes, ``pipeline.reusable_reading``).  A 200 without redirects
        with exactly those bytes is returned with its text not decoded
        (``decoded=False``): charset detection and decoding, in a thread, were most of
        the CPU of an unchanged check without validators beyond HTTP itself."""
        started = time.monotonic()
        try:
            result = await self._get(url, etag, last_modified, allow_private, robots, encoding,
                                     access, same_as)
        except MonitorError:
            self._timed(started)
            raise
        self._timed(started)
        return result

    def _timed(self, started: float) -> None:
        if self._on_fetched is not None:
            self._on_fetched(time.monotonic() - started)

    async def _get(self, url: str, etag: str | None, last_modified: str | None,
                   allow_private: bool | None, robots: bool | None,
                   encoding: str | None, access: Access,
                   same_as: str | None = None) -> FetchResult:
        s = self.settings
        started = time.monotonic()
        call = _Call(
            allow_private=s.allow_private_network if allow_private is None else allow_private,
            robots=s.respect_robots if robots is None else robots,
            retries=s.retries, budget=_Budget(s.fetch_deadline), access=access)
        headers = {**dict(access.headers), **_conditional(etag, last_modified)}
        try:
            async with asyncio.timeout(s.fetch_deadline) as call.budget.timer:
                reply, hops = await self._follow(url, headers, call)
        except TimeoutError:
            raise TimeoutError_(
                f"{url}: no complete answer within {s.fetch_deadline:g} s "
                "(fetch_deadline)") from None
        result = FetchResult(
            url=url, final_url=reply.url, status=reply.status, headers=_kept(reply.headers),
            etag=reply.headers.get("etag"), last_modified=reply.headers.get("last-modified"),
            elapsed=time.monotonic() - started, redirects=tuple(hops),
            fetched_at=call.budget.sent_at or datetime.now(UTC))
        if reply.status == 304 and (etag or last_modified):
            # A 304 need not repeat the validators; the ones we sent are still valid.
            return replace(result, not_modified=True, etag=result.etag or etag,
                           last_modified=result.last_modified or last_modified)
        if (same_as is not None and reply.status == 200 and not hops and reply.body
                and _format(reply) is None):
            read = replace(result, body=reply.body, decoded=False)
            return read if read.sha256 == same_as else await decoded(read, encoding)
        return await _finish(result, reply, encoding)

    async def robots_allow(self, url: str, allow_private: bool, robots: bool | None,
                           access: Access = Access()) -> None:
        """Raise ``RobotsDisallowedError`` when robots.txt (if honoured) disallows ``url``;
        for a fetch made by other means (the browser)."""
        s = self.settings
        call = _Call(allow_private=allow_private,
                     robots=s.respect_robots if robots is None else robots, retries=0,
                     budget=_Budget(s.fetch_deadline), access=access)
        try:
            async with asyncio.timeout(s.fetch_deadline) as call.budget.timer:
                await self._check_robots(url, call)
        except TimeoutError:
            raise TimeoutError_(f"{url}: no robots.txt within {s.fetch_deadline:g} s") from None

    # --- redirects and robots.txt ---------------------------------------------------

    async def _follow(self, url: str, headers: dict[str, str],
                      call: _Call) -> tuple[_Reply, list[tuple[int, str]]]:
        hops: list[tuple[int, str]] = []
        while True:
            # Before robots.txt: a refused download would be cached as "no rules".
            with self._backing_off(url):
                self.limiter.check(_host(url), call.deadline)
            await self._check_robots(url, call)
            reply = await self._with_retries(url, headers, call)
            target = _redirect_target(reply)
            if target is None:
                return reply, hops
            if len(hops) >= self.settings.max_redirects:
                chain = " → ".join([u for _, u in hops[-3:]] + [target])
                raise TooManyRedirectsError(
                    f"more than {self.settings.max_redirects} redirects (… → {chain})",
                    status=reply.status)
            hops.append((reply.status, target))
            url = target

    async def _check_robots(self, url: str, call: _Call) -> None:
        if not call.robots:
            return

        async def download(robots_url: str) -> tuple[int, bytes]:
            # Same guard, slot and deadline as the page; no retries: robots.txt is optional.
            reply, _ = await self._follow(robots_url, {}, replace(
                call, robots=False, retries=0, capture=False))
            return reply.status, reply.body

        if not await self.robots.allowed(url, self.settings.user_agent, download):
            raise RobotsDisallowedError(
                f"{url}: robots.txt disallows it (set robots = false on the source to "
                "fetch it anyway)")

    # --- retries --------------------------------------------------------------------

    async def _with_retries(self, url: str, headers: dict[str, str], call: _Call) -> _Reply:
        attempt = 0
        while True:
            outcome = await self._attempt(url, headers, call)
            backoff = self._note_answer(url, outcome)
            delay = self._retry_delay(outcome, attempt, call, backoff)
            if delay is None:
                if isinstance(outcome, FetchError):
                    raise outcome
                return outcome
            # The whole host waits, not only this request: it said it is overloaded.
            self.limiter.defer(_host(url), delay)
            call.budget.retry_in(delay)  # this wait is the fetch's own: it counts
            attempt += 1

    async def _attempt(self, url: str, headers: dict[str, str],
                       call: _Call) -> _Reply | NetworkError | TimeoutError_:
        try:
            return await self._exchange(url, headers, call)
        except (NetworkError, TimeoutError_) as exc:
            return exc

    def _note_answer(self, url: str, outcome: _Reply | FetchError) -> float | None:
        """Tell the limiter how the host answered; the seconds of a new back-off, if any."""
        if not isinstance(outcome, _Reply):
            return None
        if outcome.status in OVERLOAD_STATUSES:
            return self.limiter.overloaded(_host(url), self._retry_after(outcome),
                                           f"HTTP {outcome.status}")
        if not _retryable_status(outcome.status):
            self.limiter.answered(_host(url))
        return None

    def _retry_after(self, reply: _Reply) -> float | None:
        return retry_after(reply.headers.get("retry-after"), self.settings.max_retry_after)

    def _retry_delay(self, outcome: _Reply | FetchError, attempt: int, call: _Call,
                     backoff: float | None) -> float | None:
        """Seconds to wait before the next attempt, or None to stop here."""
        if attempt >= call.retries:
            return None
        delay = backoff
        if isinstance(outcome, _Reply):
            if not _retryable_status(outcome.status):
                return None
            delay = self._retry_after(outcome) if delay is None else delay
        if delay is None:
            delay = self.settings.retry_backoff * 2 ** attempt
        # Waiting past the deadline would only turn a clear answer into a timeout.
        return delay if delay < call.remaining() else None

    # --- one request ----------------------------------------------------------------

    async def _exchange(self, url: str, headers: dict[str, str], call: _Call) -> _Reply:
        pin = await self.guard.check(url, allow_private=call.allow_private)
        proxy = proxy_for(url, call.access.proxy, self.settings.proxy, self._env_proxies)
        if proxy is not None or not self._verify_peer:
            pin = BY_NAME
        token = PIN.set(pin)
        try:
            return await self._send(url, headers, call, proxy)
        finally:
            PIN.reset(token)

    async def _send(self, url: str, headers: dict[str, str], call: _Call,
                    proxy: str | None) -> _Reply:
        with _translated(url), self._backing_off(url):
            target = parsed(url)
            self._trust.need(target, proxy)
            # queued for the host (budget.paused): not the site's time
            async with (self.limiter.slot(target.host, call.deadline, call.budget.paused),
                        self._lanes.lend(target, proxy) as client):
                request = client.build_request("GET", target, headers=headers)
                _add_cookies(request, call)
                # The instant capture began (WARC-Date's meaning), not when the fetch was
                # queued for its host: checks of one page are put in order by it, so a
                # slow answer to an earlier request never counts as newer.
                if call.capture and call.budget.sent_at is None:
                    call.budget.sent_at = datetime.now(UTC)
                response = await client.send(request, stream=True)
                try:
                    # the peer's address is asked of the socket only when it is judged
                    if self._verify_peer and proxy is None and not call.allow_private:
                        ensure_peer_allowed(url, _peer(response), allow_private=False)
                    if "set-cookie" in response.headers or "set-cookie2" in response.headers:
                        call.jar.extract_cookies(response)  # costly even with none set
                    body = await _read_body(response, self.settings.max_body_bytes)
                finally:
                    await response.aclose()
        return _Reply(str(response.url), response.status_code, response.headers, body)

    @contextmanager
    def _backing_off(self, url: str) -> Iterator[None]:
        """The limiter's ``BackingOff`` as a FetchError: a failed check, no request sent."""
        try:
            yield
        except BackingOff as exc:
            raise HostBackingOffError(
                f"{url}: {exc}; it ends after this fetch's deadline "
                f"({self.settings.fetch_deadline:g} s), so the host was not asked") from None


def proxy_for(url: str, chosen: str | None, default: str | None,
              env: dict[str, str] | None = None) -> str | None:
    """The proxy a request to ``url`` goes through, or None for a direct connection.

    The source's own proxy wins; then ``settings.proxy``; then the environment's
    ``HTTPS_PROXY``/``HTTP_PROXY`` (or ``ALL_PROXY``).  ``NO_PROXY`` exempts a host from the
    last two; ``"direct"`` anywhere in that order means no proxy.  ``env``: those
    variables as ``urllib.request.getproxies_environment`` read them (None: read now)."""
    if chosen:
        return None if chosen == DIRECT else chosen
    if env is None:
        env = urllib.request.getproxies_environment()
    if urllib.request.proxy_bypass_environment(parsed(url).host, env):
        return None
    if default:
        return None if default == DIRECT else default
    return env.get(parsed(url).scheme) or env.get("all") or None


@functools.lru_cache(maxsize=4096)
def parsed(url: str) -> httpx.URL:
    """``httpx.URL(url)``, remembered: one fetch asks for its URL's host or scheme five
    times (politeness, proxy, lane, cookies), and httpx parses it anew each time."""
    return httpx.URL(url)


def _add_cookies(request: httpx.Request, call: _Call) -> None:
    """This fetch's cookies, and the source's own Cookie header on its own host only."""
    own = call.access.cookie if request.url.host == call.access.cookie_host else None
    if call.jar.jar:  # costly even with no cookies to send
        call.jar.set_cookie_header(request)
    got = request.headers.get("cookie")
    if own:
        request.headers["Cookie"] = f"{own}; {got}" if got else own


def host_limiter(settings: Settings) -> HostLimiter:
    """The limiter of ``settings``: host spacing, and back-off like the retries'."""
    return HostLimiter(settings.delay_for, backoff=settings.retry_backoff,
                       max_backoff=settings.max_retry_after,
                       limit_for=settings.concurrency_for)


@contextmanager
def _translated(url: str) -> Iterator[None]:
    """The one place httpx exceptions become monitor errors."""
    try:
        yield
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL is no HTTPError
        raise _monitor_error(url, exc) from exc


def _monitor_error(url: str, exc: Exception) -> FetchError:
    detail = str(exc) or type(exc).__name__
    for httpx_type, error_type, what in _HTTPX_ERRORS:
        if isinstance(exc, httpx_type):
            return error_type(f"{url}: {what}: {detail}", detail=type(exc).__name__)
    return FetchError(f"{url}: {detail}", detail=type(exc).__name__)


def _peer(response: httpx.Response) -> str | None:
    """The IP address the response came from (httpcore's network_stream extension)."""
    stream = response.extensions.get("network_stream")
    address = stream.get_extra_info("server_addr") if stream is not None else None
    return str(address[0]) if address else None


async def _read_body(response: httpx.Response, limit: int) -> bytes:
    coding = response.headers.get("content-encoding", "")
    declared = response.headers.get("content-length", "")
    if not coding and declared.isdigit() and int(declared) > limit:
        raise TooLargeError(f"{response.url}: body of {int(declared):,} bytes is larger than "
                            f"max_body_bytes ({limit:,})")
    inflater = _Inflater(coding, limit)
    async for chunk in response.aiter_raw():
        inflater.feed(chunk)
    return inflater.finish()


class _Inflater:
    """Undoes Content-Encoding under a cap on the *decoded* size.

    httpx inflates a whole network read at once (64 KiB of gzip can become 64 MB, and
    ``gzip, gzip`` far more); here no step may produce more than the room left, so a
    gzip bomb stops after about ``limit`` bytes of output.
    """

    def __init__(self, coding: str, limit: int) -> None:
        codings = [c.strip().lower() for c in coding.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in _INFLATE):
            raise DecodeError(f"unsupported Content-Encoding {coding!r}")
        self._zlib = zlib.decompressobj(_INFLATE[codings[0]]) if codings else None
        self._limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        self._fed = False

    def feed(self, data: bytes) -> None:
        if self._zlib is not None and data:
            self._fed = True
            data = self._inflate(data, max_length=self._limit - self._size + 1)
        self._keep(data)

    def finish(self) -> bytes:
        if self._zlib is not None and self._fed:
            self._keep(self._inflate(b"", flush=True))
            if not self._zlib.eof:
                raise NetworkError("compressed body ended early (transfer cut short)")
        return b"".join(self._parts)

    def _inflate(self, data: bytes, *, max_length: int = 0, flush: bool = False) -> bytes:
        assert self._zlib is not None
        try:
            return self._zlib.flush() if flush else self._zlib.decompress(data, max_length)
        except zlib.error as exc:
            raise DecodeError(f"body is not valid gzip/deflate data: {exc}") from None

    def _keep(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._limit:
            raise TooLargeError(
                f"body larger than max_body_bytes ({self._limit:,} bytes after decoding)")
        self._parts.append(data)


# --- small pure helpers -------------------------------------------------------------------


def _retryable_status(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


def _redirect_target(reply: _Reply) -> str | None:
    location = reply.headers.get("location")
    if reply.status not in REDIRECT_STATUSES or not location:
        return None
    with _translated(reply.url):
        target = httpx.URL(reply.url).join(location.strip())
    return str(target.copy_with(fragment=None))


def _conditional(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _host(url: str) -> str:
    return parsed(url).host


def _kept(headers: httpx.Headers) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k in KEPT_HEADERS}


async def _finish(result: FetchResult, reply: _Reply, encoding: str | None) -> FetchResult:
    """The final status as a result or an error; the body as text."""
    status = reply.status
    if status in (404, 410):
        raise GoneError(f"{reply.url}: HTTP {status}, not found", status=status)
    if not 200 <= status < 300:
        raise HTTPStatusError(f"{reply.url}: HTTP {status}", status=status)
    # A file (PDF, Word, OFD…) is never decoded as text: its extractor reads the bytes.
    fmt = _format(reply)
    if fmt is not None:
        return replace(result, body=reply.body, document=fmt)
    return await decoded(replace(result, body=reply.body, decoded=False), encoding)


def _format(reply: _Reply) -> str | None:
    """A file's format (pdf, docx…), None for a page (``sniff``)."""
    return sniff(reply.body, reply.headers.get("content-type"), reply.url)


async def decoded(result: FetchResult, encoding: str | None) -> FetchResult:
    """``result`` with its body's text (``FetchResult.decoded``); the same if it has it."""
    if result.decoded:
        return result
    content_type = result.headers.get("content-type")
    # A declared charset that decodes the page cleanly (most pages) is one bytes.decode,
    # ~0.5 µs a KiB: done here, a thread hop (~26 µs, and the GIL passed back and forth)
    # would cost more.  Charset detection, or a large page, is CPU work: in a thread.
    got = (decode_declared(result.body, content_type, encoding)
           if len(result.body) <= INLINE_DECODE_BYTES else None)
    text, charset = got or await asyncio.to_thread(
        decode_html, result.body, content_type, encoding)
    done = replace(result, text=text, charset=charset, decoded=True)
    if "sha256" in result.__dict__:  # the same body: its hash, taken already, kept
        done.__dict__["sha256"] = result.sha256
    return done
