"""``fetch_deadline`` measures the site, not the queue for its host's slot.

Two pages of one host (127.0.0.3, ``host_concurrency`` 1): one never answers, the other
answers after a while.  The page queued behind the hanging one must be fetched and
judged by its own answer; only the hanging page is the timeout, and the message names
it.  Real loopback servers; short settings so a test takes a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import HTTPStatusError, TimeoutError_
from monitor.fetch import Fetcher
from monitor.settings import Settings
from tests.conftest import write_sources
from tests.sites import Request, Response, Site
from tests.test_daemon_run import ROOT, monitor_cmd, page

HTML = {"Content-Type": "text/html; charset=utf-8"}
DEADLINE = 2.0  # fetch_deadline of these tests
SLOW = 1.4  # the slow page's answer: within DEADLINE alone, past it behind the hang


class Hang:
    """Answers nothing until the test ends; ``asked`` is set at its first request."""

    def __init__(self) -> None:
        self.asked, self.done = threading.Event(), threading.Event()

    def __call__(self, req: Request) -> Response:
        self.asked.set()
        self.done.wait(30)
        return Response("too late", headers=HTML)


@pytest.fixture
def host3() -> Iterator[tuple[Site, Hang]]:
    """A server on 127.0.0.3: /hang.html never answers, /slow.html answers in SLOW s."""
    site, hang = Site("127.0.0.3"), Hang()
    site.route("/hang.html", hang)
    site.route("/slow.html", Response(page("发展改革委答复"), headers=HTML, delay=SLOW))
    yield site, hang
    hang.done.set()
    site.close()


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"allow_private_network": True, "host_delay": 0,
                              "host_concurrency": 1, "fetch_deadline": DEADLINE,
                              "read_timeout": 25, "retries": 0, "respect_robots": False}
    return Settings(**{**values, **overrides})


async def test_a_page_queued_behind_a_hanging_page_of_its_host_is_judged_by_its_answer(
        host3: tuple[Site, Hang]) -> None:
    site, hang = host3
    async with Fetcher(settings()) as f:
        hanging = asyncio.create_task(f.fetch(site.url("/hang.html")))
        assert await asyncio.to_thread(hang.asked.wait, 10)  # it holds the host's slot
        slow = asyncio.create_task(f.fetch(site.url("/slow.html")))
        with pytest.raises(TimeoutError_) as err:
            await hanging
        result = await slow
    assert "/hang.html" in str(err.value) and "fetch_deadline" in str(err.value)
    assert result.status == 200 and "发展改革委答复" in result.text
    assert site.hits("/slow.html") == 1


async def test_a_queued_page_is_dated_when_its_request_went_out(
        host3: tuple[Site, Hang]) -> None:
    """A version's ``fetched_at`` (the archive's 抓取时间, WARC-Date) is when its request
    was sent, not when the fetch was queued for its host: the page queued behind the
    hanging one (DEADLINE s) is dated after the hang was given up."""
    from datetime import UTC, datetime, timedelta

    site, hang = host3
    async with Fetcher(settings()) as f:
        hanging = asyncio.create_task(f.fetch(site.url("/hang.html")))
        assert await asyncio.to_thread(hang.asked.wait, 10)  # it holds the host's slot
        queued_at = datetime.now(UTC)
        slow = asyncio.create_task(f.fetch(site.url("/slow.html")))
        with pytest.raises(TimeoutError_):
            await hanging
        result = await slow
    assert result.status == 200 and result.fetched_at is not None
    assert result.fetched_at - queued_at > timedelta(seconds=DEADLINE / 2)


async def test_the_fetchs_own_wait_between_retries_still_counts(site: Site) -> None:
    # The clock stops only for the host's queue.  A fetch's own wait for its retry (here
    # a 503's Retry-After, 1 s of the 1.5 s) is part of its deadline: after it, too
    # little is left for another 1 s, so the third attempt is not made.
    url = site.route("/busy", Response("", status=503, headers={"Retry-After": "1"}))
    async with Fetcher(settings(retries=3, fetch_deadline=1.5)) as f:
        with pytest.raises(HTTPStatusError) as err:
            await f.fetch(url)
    assert err.value.status == 503 and site.hits("/busy") == 2


def test_monitor_check_blames_the_hanging_page_not_the_one_behind_it(
        tmp_path: Path, host3: tuple[Site, Hang]) -> None:
    site, _ = host3
    path = write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "hang"
        url = "{site.url('/hang.html')}"

        [[sources]]
        name = "slow"
        url = "{site.url('/slow.html')}"
        """, settings=f"retries = 0\nfetch_deadline = {DEADLINE}\nread_timeout = 25\n")
    env = dict(os.environ, MONITOR_DATABASE_URL=f"sqlite:///{tmp_path / 'm.db'}")
    out = subprocess.run(monitor_cmd("check", "--sources", str(path), "--json",
                                      "--no-deliver"),
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode in (0, 1), out.stderr[-2000:]
    results = {r["source"]: r for r in json.loads(out.stdout)["results"]}
    assert results["slow"]["outcome"] == "new", results["slow"]
    assert results["hang"]["outcome"] == "error", results["hang"]
    assert "/hang.html" in results["hang"]["error"]
    assert "fetch_deadline" in results["hang"]["error"]
