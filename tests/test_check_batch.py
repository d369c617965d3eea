"""``monitor check`` over many pages in batches (``monitor.batch``): leases and states
taken many at a time, plain checks committed in groups (``Store.commit_checks``).

What a user sees must not change: two passes over the same pages at once store each
first version once and every check; a record of a group that lost the race to another
check is made again from the page as it is now, and the rest of its group is stored.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from monitor import batch
from monitor.batch import GroupCommit
from monitor.cli.check import run_checks
from monitor.config import Config, load_config
from monitor.errors import StorageError
from monitor.fetch import Fetcher
from monitor.pipeline import Checker
from monitor.types import Outcome
from storage import Store
from storage.models import Check, Page, Version, utcnow
from storage.records import CheckRecord, LeaseEnd, PageState
from storage.schedule import Schedule
from tests.conftest import write_sources
from tests.sites import Response, Site
from tests.test_daemon_run import ROOT, monitor_cmd, page

N = 50


def serve(site: Site, n: int, delay: float = 0.0) -> None:
    for i in range(n):
        site.route(f"/p{i}.html", Response(page(f"第{i}号提案"), delay=delay,
                                           headers={"Content-Type": "text/html; charset=utf-8"}))


def sources_file(tmp_path: Path, site: Site, n: int) -> Path:
    return write_sources(tmp_path / "sources.toml", "".join(
        f'[[sources]]\nname = "p{i}"\nurl = "{site.url(f"/p{i}.html")}"\n\n'
        for i in range(n)), settings="concurrency = 6\n")


def checks_by_page(store: Store) -> Counter[int]:
    with store.session() as s:
        return Counter(c.page_id for c in s.exec(select(Check)))


def test_two_monitor_checks_over_the_same_pages_store_each_first_version_once(
        tmp_path: Path, site: Site, db_url: str) -> None:
    serve(site, N, delay=0.01)
    path = sources_file(tmp_path, site, N)
    Store(db_url).close()  # migrated once, before the processes start (each syncs)
    env = dict(os.environ, MONITOR_DATABASE_URL=db_url)
    cmd = monitor_cmd("check", "--sources", str(path), "--json", "--no-deliver")
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-2000:] for _, e in outs]
    results = [r for out, _ in outs for r in json.loads(out)["results"]]

    outcomes = Counter(r["outcome"] for r in results)
    assert outcomes["new"] == N  # each page's first version: stored by one of the two
    assert outcomes["new"] + outcomes["unchanged"] + outcomes["superseded"] == 2 * N
    store = Store(db_url, migrate=False)
    try:
        with store.session() as s:
            versions = Counter(v.page_id for v in s.exec(select(Version)))
            pages = list(s.exec(select(Page)))
        assert len(versions) == N and set(versions.values()) == {1}
        assert checks_by_page(store) == Counter({p.id: 2 for p in pages})  # every check
        assert all(p.lease_owner is None for p in pages)  # every lease given back
    finally:
        store.close()


@pytest.fixture
def config(tmp_path: Path, site: Site) -> Config:
    serve(site, 3)
    return load_config(sources_file(tmp_path, site, 3), env={})


async def first_pass(config: Config, store: Store) -> set[Outcome]:
    store.sync_sources(config.sources)
    return {r.outcome for r in await run_checks(config, store, config.sources,
                                                progress=False)}


async def check_all(config: Config, store: Store, states: dict[str, PageState] | None = None,
                    ) -> list[Outcome]:
    async with Fetcher(config.settings) as fetcher:
        checker = Checker(config, store, fetcher, commits=GroupCommit(store, 3))
        done = await asyncio.gather(*(checker.check(s, state=(states or {}).get(s.name))
                                      for s in config.sources))
        return [r.outcome for r in done]


async def test_a_group_with_a_record_another_check_outran_stores_the_rest_and_redoes_it(
        config: Config, store: Store, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert await first_pass(config, store) == {Outcome.NEW}
    pages = {s.name: store.resolve_page(s.name)[1].id or 0 for s in config.sources}
    stale = store.page_states(list(pages.values()))
    # another process checks p1 meanwhile: the states read above are behind for it
    other = Store(db_url, migrate=False)
    try:
        assert await check_all(config, other) == [Outcome.UNCHANGED] * 3
    finally:
        other.close()
    groups: list[list[str]] = []
    commit_checks = store.commit_checks

    def spy(records: list[CheckRecord]) -> list:  # type: ignore[type-arg]
        out = commit_checks(records)
        groups.append([r.outcome for r in out])
        return out

    monkeypatch.setattr(store, "commit_checks", spy)
    monkeypatch.setattr(batch, "WINDOW", 5.0)  # a group waits until it is full (3)
    states = {name: stale[page_id] for name, page_id in pages.items()}
    assert await check_all(config, store, states) == [Outcome.UNCHANGED] * 3
    # every record of the first group conflicted (the other process checked every page);
    # each was made again from the page as it is now and stored
    assert groups == [["conflict"] * 3, ["unchanged"] * 3]
    assert checks_by_page(store) == Counter({i: 3 for i in pages.values()})


def plain(state: PageState, **kw: object) -> CheckRecord:
    at = utcnow()
    fields: dict[str, object] = dict(
        page_id=state.page_id, expected_last_version_id=state.last.id if state.last else None,
        expected_revision=state.revision, started_at=at, duration=0.01, outcome="unchanged",
        http_status=200, observed_at=at)
    return CheckRecord(**{**fields, **kw})  # type: ignore[arg-type]


async def test_commit_checks_tests_each_record_and_ends_each_lease(
        config: Config, store: Store) -> None:
    await first_pass(config, store)
    schedule = Schedule(store, "pass-1:1", 600)
    ids = sorted(store.resolve_page(s.name)[1].id or 0 for s in config.sources)
    assert schedule.take_many(ids, utcnow()) == set(ids)
    assert Schedule(store, "pass-2:2", 600).take_many(ids, utcnow()) == set()  # all held
    a, b, c = (store.page_states(ids)[i] for i in ids)
    store.commit_check(plain(b))  # another check of b was stored after b's state was read
    late = plain(b, observed_at=utcnow() - timedelta(minutes=1))  # and fetched before it
    lease = LeaseEnd("pass-1:1")
    out = store.commit_checks([plain(c, lease=lease), plain(b, lease=lease), late,
                               plain(a, lease=lease)])
    assert [r.outcome for r in out] == ["unchanged", "conflict", "superseded", "unchanged"]
    assert [r.released for r in out] == [True, None, None, True]
    # b: its first check, the other one, and the late fetch on record as superseded
    assert checks_by_page(store) == Counter({a.page_id: 2, b.page_id: 3, c.page_id: 2})
    # the conflict left b's lease held (its check is made again and ends it then)
    assert Schedule(store, "pass-2:2", 600).take_many(ids, utcnow()) == {a.page_id, c.page_id}


async def test_a_group_that_fails_is_stored_one_record_at_a_time(
        config: Config, store: Store) -> None:
    await first_pass(config, store)
    ids = sorted(store.resolve_page(s.name)[1].id or 0 for s in config.sources)
    states = store.page_states(ids)
    gone = plain(states[ids[0]], page_id=max(ids) + 1000)
    group = GroupCommit(store, 3)
    got = await asyncio.gather(group.commit(plain(states[ids[0]])), group.commit(gone),
                               group.commit(plain(states[ids[2]])), return_exceptions=True)
    assert [getattr(r, "outcome", None) for r in got] == ["unchanged", None, "unchanged"]
    assert isinstance(got[1], StorageError)
    assert checks_by_page(store) == Counter({ids[0]: 2, ids[1]: 1, ids[2]: 2})


async def test_pages_waiting_in_a_batch_stay_leased_past_the_lease_time(
        tmp_path: Path, site: Site, store: Store) -> None:
    serve(site, 6, delay=0.5)  # six slow pages checked one at a time: ~3 s
    config = load_config(write_sources(tmp_path / "sources.toml", "".join(
        f'[[sources]]\nname = "p{i}"\nurl = "{site.url(f"/p{i}.html")}"\n\n'
        for i in range(6)), settings="concurrency = 1\nlease_seconds = 1\n"), env={})
    store.sync_sources(config.sources)
    last = Schedule(store, "replica:1", 60).ensure_pages(config.sources)["p5"].page_id
    other = Schedule(store, "replica:1", 60)
    passing = asyncio.create_task(run_checks(config, store, config.sources, progress=False))
    await asyncio.sleep(2.0)  # twice the lease: the last page still waits for its turn
    assert not passing.done()
    assert not await asyncio.to_thread(other.take, last, utcnow())  # renewed: still ours
    assert {r.outcome for r in await passing} == {Outcome.NEW}
    assert await asyncio.to_thread(other.take, last, utcnow())  # and given back after
