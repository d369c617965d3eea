"""The fetch stage against real HTTP servers on 127.0.0.1 (tests/sites.py).

No test talks to anything but loopback.  Where a test needs a host name to look public,
a resolver double answers with a documentation address (203.0.113.x) that is never
connected to: the connection itself goes to ``localhost``.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import re
import socket
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.config import load_config
from monitor.errors import (
    BlockedURLError,
    DecodeError,
    FetchError,
    GoneError,
    HostBackingOffError,
    HTTPStatusError,
    NetworkError,
    RobotsDisallowedError,
    TimeoutError_,
    TooLargeError,
    TooManyRedirectsError,
)
from monitor.fetch import Fetcher
from monitor.fetch.lanes import shared_ssl_context
from monitor.fetch.politeness import HostLimiter, retry_after
from monitor.fetch.robots import RobotsCache
from monitor.pipeline import Checker
from monitor.settings import Settings
from monitor.types import Outcome
from storage import Store
from tests.conftest import write_sources
from tests.sites import Request, Response, Site

HTML = "text/html; charset=utf-8"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"allow_private_network": True, "host_delay": 0,
                              "retry_backoff": 0.01, "respect_robots": False}
    return Settings(**{**values, **overrides})


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(make_settings()) as f:
        yield f


class PublicDNS:
    """Claims every name in ``names`` is the public 203.0.113.7; fails for anything else."""

    def __init__(self, *names: str) -> None:
        self.names = set(names)
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        if host not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return ["203.0.113.7"]


def sequence(*responses: Response) -> Any:
    """A route answering with each response in turn, then the last one forever."""
    state = {"n": 0}

    def answer(req: Request) -> Response:
        i = min(state["n"], len(responses) - 1)
        state["n"] += 1
        return responses[i]

    return answer


def localhost_url(site: Site, path: str) -> str:
    return site.url(path).replace("127.0.0.1", "localhost")


# --- plain fetches and charsets ------------------------------------------------------


async def test_plain_fetch(site: Site, fetcher: Fetcher) -> None:
    url = site.route("/notice", Response(
        "<title>通知</title><p>第一条</p>",
        headers={"Content-Type": HTML, "ETag": '"v1"', "X-Session-Secret": "abc"}))
    before = datetime.now(UTC)
    result = await fetcher.fetch(url)
    assert (result.status, result.final_url, result.charset) == (200, url, "utf-8")
    assert "第一条" in result.text and result.body == "<title>通知</title><p>第一条</p>".encode()
    assert result.etag == '"v1"' and not result.not_modified and result.redirects == ()
    assert result.headers["content-type"] == HTML and "x-session-secret" not in result.headers
    assert result.fetched_at is not None and before <= result.fetched_at <= datetime.now(UTC)
    sent = site.requests[-1].headers
    assert sent["user-agent"] == make_settings().user_agent
    assert "if-none-match" not in sent


async def test_gbk_page_labelled_gb2312_without_charset_header(site: Site,
                                                                fetcher: Fetcher) -> None:
    body = '<meta charset="gb2312"><p>朱镕基 张喆</p>'.encode("gbk")
    url = site.route("/gbk", Response(body, headers={"Content-Type": "text/html"}))
    result = await fetcher.fetch(url)
    assert "朱镕基" in result.text and "张喆" in result.text
    assert result.charset == "gb18030" and result.body == body


async def test_header_charset(site: Site, fetcher: Fetcher) -> None:
    url = site.route("/h", Response("<p>政务公开 镕</p>", charset="gbk",
                                    headers={"Content-Type": "text/html; charset=GBK"}))
    result = await fetcher.fetch(url)
    assert "政务公开 镕" in result.text and result.charset == "gb18030"


async def test_forced_encoding_from_the_source(site: Site, fetcher: Fetcher) -> None:
    url = site.route("/f", Response("<p>镕</p>", charset="gbk",
                                    headers={"Content-Type": "text/html; charset=utf-8"}))
    assert (await fetcher.fetch(url, encoding="gbk")).text == "<p>镕</p>"


# --- conditional GET and statuses ----------------------------------------------------


async def test_conditional_get_returns_not_modified(site: Site, fetcher: Fetcher) -> None:
    def answer(req: Request) -> Response:
        if req.headers.get("if-none-match") == '"v7"':
            return Response(status=304, headers={"ETag": '"v7"'})
        return Response("<p>正文</p>", headers={"Content-Type": HTML, "ETag": '"v7"',
                                              "Last-Modified": "Mon, 02 Mar 2026 08:00:00 GMT"})

    url = site.route("/c", answer)
    first = await fetcher.fetch(url)
    second = await fetcher.fetch(url, etag=first.etag, last_modified=first.last_modified)
    assert site.hits("/c") == 2
    assert (second.status, second.not_modified, second.body) == (304, True, b"")
    assert second.etag == '"v7"' and second.last_modified == first.last_modified
    sent = site.requests[-1].headers
    assert sent["if-none-match"] == '"v7"'
    assert sent["if-modified-since"] == "Mon, 02 Mar 2026 08:00:00 GMT"


async def test_changed_page_without_etag_does_not_echo_the_old_one(site: Site,
                                                                   fetcher: Fetcher) -> None:
    url = site.route("/c", Response("<p>新版本</p>", headers={"Content-Type": HTML}))
    result = await fetcher.fetch(url, etag='"old"', last_modified="Mon, 02 Mar 2026 08:00:00 GMT")
    assert result.status == 200 and not result.not_modified
    assert result.etag is None and result.last_modified is None


@pytest.mark.parametrize("status", [404, 410])
async def test_missing_page_is_gone_and_not_retried(site: Site, fetcher: Fetcher,
                                                    status: int) -> None:
    url = site.route("/gone", Response("没有找到", status=status))
    with pytest.raises(GoneError) as err:
        await fetcher.fetch(url)
    assert err.value.status == status and site.hits("/gone") == 1


async def test_server_error_then_success_is_retried(site: Site, fetcher: Fetcher) -> None:
    url = site.route("/flaky", sequence(Response("oops", status=500),
                                        Response("<p>好了</p>", headers={"Content-Type": HTML})))
    result = await fetcher.fetch(url)
    assert result.status == 200 and "好了" in result.text and site.hits("/flaky") == 2


async def test_429_retry_after_is_waited_for(site: Site, fetcher: Fetcher) -> None:
    url = site.route("/busy", sequence(Response("slow down", status=429,
                                                headers={"Retry-After": "1"}),
                                       Response("<p>ok</p>", headers={"Content-Type": HTML})))
    t0 = time.monotonic()
    result = await fetcher.fetch(url)
    assert result.status == 200 and site.hits("/busy") == 2
    assert time.monotonic() - t0 >= 0.95


async def test_retry_after_is_capped(site: Site) -> None:
    url = site.route("/busy", sequence(Response("", status=503, headers={"Retry-After": "3600"}),
                                       Response("<p>ok</p>", headers={"Content-Type": HTML})))
    t0 = time.monotonic()
    async with Fetcher(make_settings(max_retry_after=0.2)) as f:
        assert (await f.fetch(url)).status == 200
    assert 0.15 <= time.monotonic() - t0 < 1.0


async def test_retry_after_beyond_the_deadline_gives_up_at_once(site: Site) -> None:
    url = site.route("/busy", Response("", status=429, headers={"Retry-After": "30"}))
    t0 = time.monotonic()
    async with Fetcher(make_settings(fetch_deadline=5)) as f:
        with pytest.raises(HTTPStatusError) as err:
            await f.fetch(url)
    assert err.value.status == 429 and site.hits("/busy") == 1
    assert time.monotonic() - t0 < 1.0


async def test_persistent_503_fails_after_the_retries(site: Site, fetcher: Fetcher) -> None:
    url = site.route("/down", Response("维护中", status=503))
    with pytest.raises(HTTPStatusError) as err:
        await fetcher.fetch(url)
    assert err.value.status == 503 and not isinstance(err.value, GoneError)
    assert site.hits("/down") == 1 + fetcher.settings.retries


async def test_other_client_errors_are_not_retried(site: Site, fetcher: Fetcher) -> None:
    url = site.route("/forbidden", Response("禁止访问", status=403))
    with pytest.raises(HTTPStatusError) as err:
        await fetcher.fetch(url)
    assert err.value.status == 403 and site.hits("/forbidden") == 1


async def test_connection_refused_is_a_network_error(fetcher: Fetcher) -> None:
    with socket.socket() as s:  # a port nobody listens on once the socket is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NetworkError, match="network error"):
        await fetcher.fetch(f"http://127.0.0.1:{port}/")


# --- deadlines and size caps --------------------------------------------------------------


async def test_slow_drip_hits_the_wall_clock_deadline(site: Site) -> None:
    # 100 KiB at 1 KiB per 50 ms: 5 s, while no single read ever waits long.
    url = site.route("/drip", Response(b"x" * 100_000, drip=0.05))
    settings = make_settings(fetch_deadline=0.5, read_timeout=10)
    t0 = time.monotonic()
    async with Fetcher(settings) as f:
        with pytest.raises(TimeoutError_, match=re.escape("0.5 s")):
            await f.fetch(url)
    assert time.monotonic() - t0 < settings.fetch_deadline + 1


async def test_gzip_bomb_stops_at_the_decoded_size_cap(site: Site) -> None:
    bomb = gzip.compress(bytes(50_000_000), compresslevel=9)  # ~50 KB on the wire
    # Dripped 1 KiB per 20 ms: reading everything would take about a second.
    url = site.route("/bomb", Response(bomb, drip=0.02, headers={
        "Content-Type": "text/html", "Content-Encoding": "gzip"}))
    t0 = time.monotonic()
    async with Fetcher(make_settings(max_body_bytes=1_000_000)) as f:
        with pytest.raises(TooLargeError, match="after decoding"):
            await f.fetch(url)
    assert time.monotonic() - t0 < 0.5


async def test_small_gzip_body_is_decoded(site: Site, fetcher: Fetcher) -> None:
    url = site.route("/z", Response("<p>压缩</p>", gzip=True, headers={"Content-Type": HTML}))
    result = await fetcher.fetch(url)
    assert result.text == "<p>压缩</p>" and result.headers["content-encoding"] == "gzip"


async def test_stacked_encodings_are_refused(site: Site, fetcher: Fetcher) -> None:
    # "gzip, gzip" multiplies a bomb's ratio; nothing legitimate sends it.
    twice = gzip.compress(gzip.compress(b"<p>x</p>"))
    url = site.route("/zz", Response(twice, headers={"Content-Encoding": "gzip, gzip"}))
    with pytest.raises(DecodeError, match="unsupported Content-Encoding"):
        await fetcher.fetch(url)


async def test_declared_oversize_body_is_refused_before_reading(site: Site) -> None:
    # 5 s between 1 KiB chunks: reading the body before refusing it would take 10 s.
    url = site.route("/big", Response(b"x" * 3_000, drip=5.0))
    t0 = time.monotonic()
    async with Fetcher(make_settings(max_body_bytes=1_000)) as f:
        with pytest.raises(TooLargeError, match="3,000 bytes"):
            await f.fetch(url)
    assert time.monotonic() - t0 < 4


# --- redirects and the SSRF guard ---------------------------------------------------------


async def test_redirects_are_followed_and_recorded(site: Site, fetcher: Fetcher) -> None:
    site.route("/old", Response(status=301, headers={"Location": "/mid"}))
    site.route("/mid", Response(status=302, headers={"Location": site.url("/new#top")}))
    site.route("/new", Response("<p>新地址</p>", headers={"Content-Type": HTML}))
    result = await fetcher.fetch(site.url("/old"))
    assert result.final_url == site.url("/new") and "新地址" in result.text
    assert result.redirects == ((301, site.url("/mid")), (302, site.url("/new")))
    assert result.permanent_redirect


async def test_redirect_loop(site: Site) -> None:
    site.route("/a", Response(status=302, headers={"Location": "/b"}))
    site.route("/b", Response(status=302, headers={"Location": "/a"}))
    async with Fetcher(make_settings(max_redirects=3)) as f:
        with pytest.raises(TooManyRedirectsError, match="more than 3 redirects"):
            await f.fetch(site.url("/a"))
    assert site.hits("/a") + site.hits("/b") == 4


async def test_loopback_is_refused_without_the_allowance(site: Site) -> None:
    url = site.route("/", "<p>secret</p>")
    async with Fetcher(make_settings(allow_private_network=False)) as f:
        with pytest.raises(BlockedURLError, match=re.escape("127.0.0.1")):
            await f.fetch(url)
        assert (await f.fetch(url, allow_private=True)).status == 200
    assert site.hits("/") == 1


async def test_redirect_from_a_public_host_into_loopback_is_refused(site: Site) -> None:
    # The resolver double makes "localhost" look public to the guard; verify_peer=False
    # stops the guard from noticing that the connection really went to loopback, so the
    # first hop is allowed and only the check of the redirect target can stop the fetch.
    site.route("/start", Response(status=302, headers={"Location": site.url("/internal")}))
    site.route("/internal", "<p>metadata</p>")
    dns = PublicDNS("localhost")
    settings = make_settings(allow_private_network=False)
    async with Fetcher(settings, resolver=dns, verify_peer=False) as f:
        with pytest.raises(BlockedURLError, match=re.escape("127.0.0.1")):
            await f.fetch(localhost_url(site, "/start"))
    assert site.hits("/start") == 1 and site.hits("/internal") == 0
    assert dns.asked == ["localhost"]


class LoopbackDNS:
    """Answers ``table``'s loopback address for a name; records every question."""

    def __init__(self, **table: str) -> None:
        self.table = table
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        return [self.table[host]]


async def test_a_host_resolved_once_costs_no_lookup_on_any_connection_within_the_ttl(
        site: Site) -> None:
    site.route("/kept", "<p>保持连接</p>")
    site.route("/closed", Response("<p>关闭连接</p>", headers={"Connection": "close"}))
    dns = LoopbackDNS(localhost="127.0.0.1")
    async with Fetcher(make_settings(), resolver=dns) as f:
        now = [time.monotonic()]
        f.guard.clock = lambda: now[0]
        for path in ("/kept", "/kept", "/closed", "/kept"):  # a new connection after /closed
            assert (await f.fetch(localhost_url(site, path))).status == 200
        assert dns.asked == ["localhost"]
        now[0] += f.guard.ttl + 1
        await f.fetch(localhost_url(site, "/kept"))
        assert dns.asked == ["localhost", "localhost"]


async def test_connections_go_to_the_address_the_guard_resolved(site: Site) -> None:
    # "localhost" is 127.0.0.1 for the system; the guard's DNS says 127.0.0.2, then
    # 127.0.0.3 (a rebinding): a connection goes where the guard's answer of its time
    # said, and a kept-alive one never moves.
    second = Site(host="127.0.0.2")
    third = Site(host="127.0.0.3", port=second.server.server_address[1])
    try:
        for n, s in ((2, second), (3, third)):
            s.route("/kept", f"<p>第{n}台</p>")
            s.route("/closed", Response(f"<p>第{n}台</p>", headers={"Connection": "close"}))
        url = second.url("/kept").replace("127.0.0.2", "localhost")
        dns = LoopbackDNS(localhost="127.0.0.2")
        async with Fetcher(make_settings(), resolver=dns) as f:
            now = [time.monotonic()]
            f.guard.clock = lambda: now[0]
            assert "第2台" in (await f.fetch(url)).text
            dns.table["localhost"] = "127.0.0.3"
            now[0] += f.guard.ttl + 1
            assert "第2台" in (await f.fetch(url.replace("/kept", "/closed"))).text
            assert "第3台" in (await f.fetch(url)).text  # a new connection: the new answer
        assert dns.asked == ["localhost", "localhost"]
        assert second.hits("/kept") == 1 and third.hits("/kept") == 1
    finally:
        second.close()
        third.close()


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/notice.txt"])
async def test_non_http_schemes_are_refused(fetcher: Fetcher, url: str) -> None:
    with pytest.raises(BlockedURLError, match="only http and https"):
        await fetcher.fetch(url)


async def test_redirect_to_a_file_url_is_refused(site: Site, fetcher: Fetcher) -> None:
    url = site.route("/r", Response(status=302, headers={"Location": "file:///etc/passwd"}))
    with pytest.raises(BlockedURLError, match="only http and https"):
        await fetcher.fetch(url)


async def test_dns_failure_is_a_network_error(site: Site) -> None:
    dns = PublicDNS()  # knows no name at all
    async with Fetcher(make_settings(allow_private_network=False), resolver=dns) as f:
        with pytest.raises(NetworkError, match=re.escape("cannot resolve www.example.gov.cn")):
            await f.fetch("http://www.example.gov.cn/notice.html")
    assert dns.asked[0] == "www.example.gov.cn"


# --- robots.txt ------------------------------------------------------------------------------


async def test_robots_disallow_is_honoured_and_can_be_overridden(site: Site) -> None:
    site.route("/robots.txt", Response("User-agent: *\nDisallow: /private/\n",
                                       headers={"Content-Type": "text/plain"}))
    page = site.route("/private/notice", "<p>内部</p>")
    public = site.route("/public", "<p>公开</p>")
    async with Fetcher(make_settings(respect_robots=True)) as f:
        with pytest.raises(RobotsDisallowedError):
            await f.fetch(page)
        assert site.hits("/private/notice") == 0
        assert (await f.fetch(public)).status == 200
        assert (await f.fetch(page, robots=False)).status == 200
    assert site.hits("/robots.txt") == 1  # cached for the site


async def test_robots_disallow_applies_to_redirect_targets(site: Site) -> None:
    site.route("/robots.txt", Response("User-agent: *\nDisallow: /private/\n"))
    site.route("/go", Response(status=302, headers={"Location": "/private/x"}))
    async with Fetcher(make_settings()) as f:
        with pytest.raises(RobotsDisallowedError):
            await f.fetch(site.url("/go"), robots=True)
    assert site.hits("/private/x") == 0


@pytest.mark.parametrize(("status", "allowed"), [
    (200, False), (401, False), (403, False), (404, True), (410, True), (500, True),
])
async def test_robots_status_rules(site: Site, status: int, allowed: bool) -> None:
    site.route("/robots.txt", Response("User-agent: *\nDisallow: /\n", status=status))
    url = site.route("/page", "<p>正文</p>")
    async with Fetcher(make_settings(respect_robots=True, retries=0)) as f:
        if allowed:
            assert (await f.fetch(url)).status == 200
        else:
            with pytest.raises(RobotsDisallowedError):
                await f.fetch(url)


async def test_unanswered_robots_txt_allows_and_is_not_asked_again_at_once(site: Site) -> None:
    # Promises 100 kB, sends a few bytes: the read times out, as on a hung server.
    site.route("/robots.txt", Response("User-agent: *\nDisallow: /\n",
                                       headers={"Content-Length": "100000"}))
    url = site.route("/page", "<p>正文</p>")
    settings = make_settings(respect_robots=True, read_timeout=0.2, retries=0)
    async with Fetcher(settings) as f:
        assert (await f.fetch(url)).status == 200
        assert (await f.fetch(url)).status == 200
    assert site.hits("/robots.txt") == 1 and site.hits("/page") == 2


async def test_robots_cache_expires() -> None:
    asked: list[str] = []

    async def download(robots_url: str) -> tuple[int, bytes]:
        asked.append(robots_url)
        return 200, b"User-agent: monitor\nDisallow: /secret\n"

    cache = RobotsCache(ttl=0.05)
    url = "https://www.gov.cn/secret/a.html"
    assert not await cache.allowed(url, "monitor/0.1 (+https://x)", download)
    assert await cache.allowed("https://www.gov.cn/open.html", "monitor/0.1", download)
    assert await cache.allowed(url, "OtherBot/2.0", download)
    assert asked == ["https://www.gov.cn/robots.txt"]
    await asyncio.sleep(0.06)
    await cache.allowed(url, "monitor/0.1", download)
    assert len(asked) == 2


# --- politeness ------------------------------------------------------------------------------


def timed(times: list[float], response: Response) -> Any:
    def answer(req: Request) -> Response:
        times.append(time.monotonic())
        return response

    return answer


async def test_requests_to_one_host_are_spaced_by_host_delay(site: Site) -> None:
    times: list[float] = []
    url = site.route("/p", timed(times, Response("<p>x</p>")))
    async with Fetcher(make_settings(host_delay=0.3)) as f:
        await asyncio.gather(f.fetch(url), f.fetch(url), f.fetch(url))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 3 and min(gaps) >= 0.28


async def test_shared_limiter_spaces_requests_of_two_fetchers(site: Site) -> None:
    times: list[float] = []
    url = site.route("/p", timed(times, Response("<p>x</p>")))
    settings = make_settings(host_delay=0.3)
    limiter = HostLimiter(settings.delay_for)
    async with Fetcher(settings, limiter=limiter) as a, Fetcher(settings, limiter=limiter) as b:
        await asyncio.gather(a.fetch(url), b.fetch(url))
    assert times[1] - times[0] >= 0.28


async def test_different_hosts_are_not_serialized(site: Site) -> None:
    # Arrival times at the server, not the wall clock of the whole run: one host after the
    # other would put the second request at least host_delay (3 s) after the first.
    times: list[float] = []
    site.route("/slow", timed(times, Response("<p>x</p>", delay=0.3)))
    async with Fetcher(make_settings(host_delay=3.0)) as f:
        await asyncio.gather(f.fetch(site.url("/slow")), f.fetch(localhost_url(site, "/slow")))
    assert len(times) == 2 and abs(times[1] - times[0]) < 1.5


def ok(body: str = "<p>x</p>") -> Response:
    return Response(body, headers={"Content-Type": HTML})


async def test_429_backs_off_the_host_for_later_fetches_of_other_sources(site: Site) -> None:
    # Source A's fetch gives up at once (no retries left); source B on the same host must
    # still not be asked before the Retry-After ends, while another host goes on.
    times: dict[str, list[float]] = {"a": [], "b": [], "c": []}
    a = site.route("/a", timed(times["a"], Response("slow down", status=429,
                                                    headers={"Retry-After": "2"})))
    b = site.route("/b", timed(times["b"], ok()))
    site.route("/c", timed(times["c"], ok()))
    async with Fetcher(make_settings(retries=0)) as f:
        with pytest.raises(HTTPStatusError) as err:
            await f.fetch(a)
        assert err.value.status == 429
        other, same = await asyncio.gather(f.fetch(localhost_url(site, "/c")), f.fetch(b))
    assert (len(times["a"]), len(times["b"]), len(times["c"])) == (1, 1, 1)
    assert same.status == 200 and times["b"][0] - times["a"][0] >= 1.9
    assert other.status == 200 and times["c"][0] - times["a"][0] < 0.5  # another host


async def test_fetch_fails_fast_while_its_host_backs_off_past_the_deadline(site: Site) -> None:
    a = site.route("/a", Response("", status=429, headers={"Retry-After": "30"}))
    b = site.route("/b", ok())
    async with Fetcher(make_settings(fetch_deadline=3)) as f:
        with pytest.raises(HTTPStatusError):
            await f.fetch(a)  # 30 s > the deadline: not retried
        t0 = time.monotonic()
        with pytest.raises(HostBackingOffError,
                           match=r"backing off until \d\d:\d\d:\d\d") as err:
            await f.fetch(b)
        assert (await f.fetch(localhost_url(site, "/b"))).status == 200  # other host
    assert time.monotonic() - t0 < 0.5 and site.hits("/a") == 1 and site.hits("/b") == 1
    assert "Retry-After" in str(err.value) and err.value.status is None


async def test_back_off_without_retry_after_doubles_and_resets_on_success(site: Site) -> None:
    times: list[float] = []
    busy = site.route("/busy", timed(times, Response("", status=503)))
    fine = site.route("/fine", timed(times, ok()))
    async with Fetcher(make_settings(retries=0, retry_backoff=0.3)) as f:
        for url in (busy, busy, fine, fine):
            try:
                await f.fetch(url)
            except HTTPStatusError:
                pass
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 4 and gaps[0] >= 0.28 and gaps[1] >= 0.58  # 0.3 s, then 0.6 s
    assert gaps[2] < 0.25  # the 200 ended the back-off: host_delay (0) again


async def test_a_backing_off_host_is_a_failed_check_not_a_crash(site: Site,
                                                                 tmp_path: Path) -> None:
    site.route("/a", Response("", status=429, headers={"Retry-After": "30"}))
    site.route("/b", ok("<title>B</title>" + "<p>关于进一步做好政务公开工作的通知正文。</p>" * 20))
    config = load_config(write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "a"
        url = "{site.url('/a')}"

        [[sources]]
        name = "b"
        url = "{site.url('/b')}"
        """, settings="fetch_deadline = 3\n"))
    store = Store(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        async with Fetcher(config.settings) as f:
            checker = Checker(config, store, f)
            first = await checker.check(config.source("a"))
            second = await checker.check(config.source("b"))
    finally:
        store.close()
    assert (first.outcome, first.status) == (Outcome.ERROR, 429)
    assert second.outcome is Outcome.ERROR and "backing off until" in (second.error or "")
    assert second.error_kind == "backoff"  # what the summary table and status show
    assert site.hits("/b") == 0


async def test_defer_pushes_the_next_slot_back() -> None:
    limiter = HostLimiter(lambda host: 0.0)
    limiter.defer("www.gov.cn", 0.2)
    limiter.defer("www.gov.cn", 0.05)  # a shorter back-off never brings the slot forward
    t0 = time.monotonic()
    async with limiter.slot("WWW.gov.cn"):
        waited = time.monotonic() - t0
    async with limiter.slot("other.gov.cn"):
        pass
    assert 0.18 <= waited and time.monotonic() - t0 < 0.4


def test_retry_after_values() -> None:
    now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    in_30s = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after("7", 120) == 7
    assert retry_after("3600", 120) == 120
    assert retry_after(in_30s, 120, now=now) == 30
    assert retry_after(format_datetime(now - timedelta(hours=1), usegmt=True), 120,
                       now=now) == 0
    assert retry_after("soon", 120) is None and retry_after(None, 120) is None


async def test_the_ca_bundle_is_loaded_for_the_first_https_request_only(site: Site) -> None:
    """Certificates are verified against httpx's CA bundle (certifi), loaded when an
    https request is first made: a process fetching only http:// pages never reads it
    (~20 ms of every start of monitor check)."""
    url = site.route("/", "<p>plain</p>")
    async with Fetcher(make_settings(allow_private_network=True)) as f:
        assert (await f.fetch(url)).status == 200
        context = f._trust.context
        assert context.cert_store_stats()["x509_ca"] == 0
        with pytest.raises(FetchError):  # TLS to a plain HTTP server
            await f.fetch(url.replace("http://", "https://"))
        assert context.cert_store_stats() == shared_ssl_context().cert_store_stats()
        assert context.cert_store_stats()["x509_ca"] > 50
        assert (await f.fetch(url)).status == 200  # http on the same lanes still works
