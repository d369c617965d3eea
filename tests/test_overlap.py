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
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from monitor.config import Config, SourceConfig, load_config
from monitor.fetch import Fetcher
from monitor.pipeline import Checker
from monitor.types import CheckResult, Outcome
from storage import Store
from storage.models import Alert, Change, Check, utcnow
from storage.schedule import Schedule
from tests.conftest import write_sources
from tests.sites import Request, Response, Site
from tests.test_daemon_run import ROOT, monitor_cmd

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


# --- monitor check and the daemon's lease ------------------------------------------------


def hold_lease(db_url: str, owner: str, seconds: float) -> Schedule:
    store = Store(db_url)
    src = SourceConfig(name=NAME, url="http://127.0.0.1/reply.html")
    store.sync_sources([src])
    schedule = Schedule(store, owner, seconds)
    [ref] = schedule.ensure_pages([src]).values()
    assert schedule.take(ref.page_id, utcnow())
    return schedule


def run_check(sources: Path, db_url: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MONITOR_DATABASE_URL=db_url)
    return subprocess.run(monitor_cmd("check", "--sources", str(sources), "--json"),
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_monitor_check_waits_for_the_replica_checking_the_page_and_then_checks_it(
        tmp_path: Path, site: Site, db_url: str) -> None:
    owners: list[str | None] = []
    path = write_sources(tmp_path / "sources.toml", "\n".join([
        "[[sources]]", f'name = "{NAME}"', f'url = "{site.url("/reply.html")}"', ""]))
    replica = hold_lease(db_url, "replica-1:4242", 60)
    page_id = replica.store.resolve_page(NAME)[1].id or 0

    def answer(req: Request) -> Response:  # who holds the page while it is fetched
        owners.append(replica.holder(page_id)[0])
        return Response(reply(1), headers={"Content-Type": "text/html; charset=utf-8"})

    site.route("/reply.html", answer)
    env = dict(os.environ, MONITOR_DATABASE_URL=db_url)
    check = subprocess.Popen(monitor_cmd("check", "--sources", str(path), "--json"),
                             cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    # it says, once, whom it waits for (a pass that seems to hang is explained); the
    # replica ends its check only then, however long this process took to start
    assert check.stderr is not None
    first = check.stderr.readline()
    while first and "waiting for" not in first:
        first = check.stderr.readline()
    assert f"{NAME}：另一进程正在检查此页" in first and "replica-1:4242" in first
    assert owners == []  # nothing fetched while the replica holds the page
    replica.give_back(page_id)
    out, err = check.communicate(timeout=60)
    assert check.returncode == 0, err
    assert json.loads(out)["results"][0]["outcome"] == "new"
    assert len(owners) == 1 and owners[0] not in (None, "replica-1:4242")  # its own lease
    assert replica.holder(page_id) == (None, None)  # and it gave the lease back
    assert "waiting for" not in err, err  # said once
    replica.store.close()


def test_monitor_check_reports_a_page_held_too_long_as_busy_naming_the_holder(
        tmp_path: Path, site: Site, db_url: str) -> None:
    site.route("/reply.html", reply(1))
    path = write_sources(tmp_path / "sources.toml", "\n".join([
        "[[sources]]", f'name = "{NAME}"', f'url = "{site.url("/reply.html")}"', ""]),
        settings='lease_seconds = 1\ntimezone = "Asia/Shanghai"\n')
    replica = hold_lease(db_url, "replica-1:4242", 60)
    page_id = replica.store.resolve_page(NAME)[1].id or 0
    until = replica.holder(page_id)[1]
    assert until is not None

    done = run_check(path, db_url)
    assert done.returncode == 0, done.stderr
    [result] = json.loads(done.stdout)["results"]
    assert result["outcome"] == "error" and result["error_kind"] == "busy"
    assert "replica-1:4242" in result["error"]
    # the lease's end in settings.timezone, as every time is shown (not in UTC)
    local = until.replace(tzinfo=until.tzinfo or UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    assert f"{local:%Y-%m-%d %H:%M:%S} +08:00" in result["error"], result["error"]
    assert "UTC" not in result["error"]
    assert site.hits("/reply.html") == 0  # nothing was fetched behind the replica's back
    replica.store.close()


def test_monitor_check_leaves_the_page_free_after_every_kind_of_check(
        tmp_path: Path, site: Site, db_url: str) -> None:
    # the lease ends in the check's own commit (new, unchanged, failed), or after it
    path = write_sources(tmp_path / "sources.toml", "\n".join([
        "[[sources]]", f'name = "{NAME}"', f'url = "{site.url("/reply.html")}"', ""]))
    site.route("/reply.html", Response(reply(1),
                                        headers={"Content-Type": "text/html; charset=utf-8"}))
    outcomes = []
    for answer in (None, None, Response("gone", status=500)):
        if answer is not None:
            site.route("/reply.html", answer)
        done = run_check(path, db_url)
        outcomes.append(json.loads(done.stdout)["results"][0]["outcome"])
        other = hold_lease(db_url, "replica-2:4343", 60)  # takes it at once: it is free
        page_id = other.store.resolve_page(NAME)[1].id or 0
        other.give_back(page_id)
        assert other.holder(page_id) == (None, None)
        other.store.close()
    assert outcomes == ["new", "unchanged", "error"]
