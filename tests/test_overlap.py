"""Two checks of one page at once (two replicas, the daemon and ``monitor check``).

Each test runs two ``Checker``s with stores of their own (as two processes have) against
a real HTTP server whose answers the test holds back, so the order of the requests and
the order of the commits are chosen, not left to chance.  What a user reads afterwards
must be the page's true history: an older fetch never becomes the newest version, a
change is always diffed against the version before it, the same text is never stored
twice in a row and each change is one alert.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import col, select

from monitor.config import Config, load_config
from monitor.fetch import Fetcher
from monitor.pipeline import Checker
from monitor.types import CheckResult, Outcome
from storage import Store
from storage.models import Alert, Change, Check
from tests.conftest import write_sources
from tests.sites import Request, Response, Site

NAME = "hn-0192"


def reply(n: int) -> str:
    """The reply page in its ``n``-th state: its amount changes with n."""
    paras = "".join(f"<p>关于第0192号提案的答复，第{i}段：已安排专项资金{n}万元用于建设。</p>"
                    for i in range(6))
    return (f"<html><head><title>答复</title></head><body><div class='article'>{paras}"
            "</div></body></html>")


@dataclass
class Held:
    """Answers in the order of the requests; each can be held until the test lets go."""

    bodies: list[int]
    held: set[int]

    def __post_init__(self) -> None:
        self.arrived = [threading.Event() for _ in self.bodies]
        self.release = [threading.Event() for _ in self.bodies]
        self.lock, self.count = threading.Lock(), 0

    def __call__(self, req: Request) -> Response:
        with self.lock:
            k, self.count = self.count, self.count + 1
        self.arrived[k].set()
        if k in self.held:
            self.release[k].wait(30)
        return Response(reply(self.bodies[k]),
                        headers={"Content-Type": "text/html; charset=utf-8"})


@pytest.fixture
def config(tmp_path: Path, site: Site) -> Config:
    path = write_sources(tmp_path / "sources.toml", "\n".join([
        "[[sources]]", f'name = "{NAME}"', f'url = "{site.url("/reply.html")}"', "",
        "[[watchers]]", 'email = "analyst@example.org"', 'sources = ["hn-*"]', ""]),
    )
    return load_config(path, env={})


@pytest.fixture
def second_store(db_url: str, store: Store) -> Iterator[Store]:
    other = Store(db_url, migrate=False)  # another process's connection pool
    yield other
    other.close()


async def check(config: Config, store: Store) -> CheckResult:
    async with Fetcher(config.settings) as fetcher:
        return await Checker(config, store, fetcher).check(config.source(NAME))


async def race(config: Config, a: Store, b: Store, server: Held,
               first_done: str) -> tuple[CheckResult, CheckResult]:
    """A sends its request first, B second; ``first_done`` names the one stored first."""
    loop = asyncio.get_running_loop()
    base = server.count
    ta = asyncio.create_task(check(config, a))
    await loop.run_in_executor(None, server.arrived[base].wait, 30)
    tb = asyncio.create_task(check(config, b))
    await loop.run_in_executor(None, server.arrived[base + 1].wait, 30)
    first, then = (ta, base + 1) if first_done == "A" else (tb, base)
    await first
    server.release[then].set()
    return await ta, await tb


def texts(store: Store) -> list[str]:
    return [store.version(v.id).text.split("已安排专项资金")[1][:6]
            for v in store.history(NAME)]


def changes(store: Store) -> list[tuple[int | None, int | None]]:
    with store.session() as s:
        return [(c.old_version_id, c.new_version_id)
                for c in s.exec(select(Change).order_by(col(Change.id)))]


async def test_a_slow_answer_to_an_earlier_request_never_becomes_the_newest_version(
        config: Config, store: Store, second_store: Store, site: Site) -> None:
    # The page goes 41 -> 42 -> 43.  A asked when it said 42 but its answer came late;
    # B asked later, saw 43 and was stored first.
    server = Held([41, 42, 43, 43], held={1})
    site.route("/reply.html", server)
    assert (await check(config, store)).outcome is Outcome.NEW

    a, b = await race(config, store, second_store, server, first_done="B")

    assert b.outcome is Outcome.CHANGED and a.outcome is Outcome.SUPERSEDED
    assert texts(store) == ["41万元用于", "43万元用于"]  # never 41 -> 43 -> 42
    [v41, v43] = [v.id for v in store.history(NAME)]
    assert changes(store) == [(v41, v43)]
    assert store.count(Alert) == 1  # one change, one alert: no false 内容来回变化
    assert (await check(config, store)).outcome is Outcome.UNCHANGED
    assert store.count(Check, outcome="superseded") == 1  # A's fetch is on record


@pytest.mark.parametrize("b_sees", [42, 43])
async def test_a_later_fetch_stored_second_is_compared_with_what_the_first_stored(
        config: Config, store: Store, second_store: Store, site: Site, b_sees: int) -> None:
    server = Held([41, 42, b_sees, b_sees], held={2})
    site.route("/reply.html", server)
    assert (await check(config, store)).outcome is Outcome.NEW

    a, b = await race(config, store, second_store, server, first_done="A")

    assert a.outcome is Outcome.CHANGED
    ids = [v.id for v in store.history(NAME)]
    if b_sees == 42:  # the same new text: stored once, told once
        assert b.outcome is Outcome.UNCHANGED
        assert texts(store) == ["41万元用于", "42万元用于"]
        assert changes(store) == [(ids[0], ids[1])]
    else:  # a newer text: diffed against 42, the page's real previous version
        assert b.outcome is Outcome.CHANGED
        assert texts(store) == ["41万元用于", "42万元用于", "43万元用于"]
        assert changes(store) == [(ids[0], ids[1]), (ids[1], ids[2])]
    assert store.count(Alert) == len(changes(store))
    assert (await check(config, store)).outcome is Outcome.UNCHANGED
