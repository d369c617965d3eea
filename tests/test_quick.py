"""``storage.quick``: ``monitor check --no-deliver`` over unchanged pages of a SQLite
archive runs without SQLAlchemy, and writes exactly what ``Store`` writes.

Each comparison makes one archive, copies it, applies the same calls through ``Store``
on one copy and through ``QuickStore`` on the other, and compares every row and column
of the tables they touch, and what the calls returned.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.config import SourceConfig
from monitor.configcache import CACHE_FROM
from storage import Store, outbox, quick_gen, repository, rows
from storage.quick import QuickStore, open_quick
from storage.records import CheckRecord, LeaseEnd, PageState
from storage.schedule import Schedule
from tests.conftest import write_sources
from tests.pages import seed_page
from tests.sites import Site
from tests.test_batch_commit import _round

AT = datetime(2026, 12, 1, tzinfo=UTC)
NOW = AT + timedelta(days=3)
SOURCES = [SourceConfig(name=f"p{i}", url=f"http://www.example.gov.cn/p{i}.html")
           for i in range(4)]


def test_the_generated_statements_are_what_the_store_compiles_now() -> None:
    """``storage/quick_sql.py`` is what ``python -m storage.quick_gen`` writes from the
    ``Store``'s and ``Schedule``'s statements today: an edited statement fails here until
    the file is written again, so the two paths never send different SQL."""
    assert quick_gen.OUT.read_text(encoding="utf-8") == quick_gen.source()


@pytest.fixture
def archives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """Two copies of an archive of four pages with a first version each; the clock of
    the commits fixed."""
    for module in (rows, repository, outbox):
        monkeypatch.setattr(module, "utcnow", lambda: NOW)
    first = tmp_path / "a.db"
    store = Store(f"sqlite:///{first}")
    store.sync_sources(SOURCES, "digest-1")
    Schedule(store, "h:1", 600).ensure_pages(SOURCES)
    store.commit_checks(_round(store, SOURCES, 0))
    store.close()
    shutil.copy(first, tmp_path / "b.db")
    return f"sqlite:///{first}", f"sqlite:///{tmp_path / 'b.db'}"


def _table(url: str, name: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return conn.execute(f"SELECT * FROM {name} ORDER BY id").fetchall()
    finally:
        conn.close()


def _plain_records(states: list[PageState]) -> list[CheckRecord]:
    """What an unchanged pass commits: unchanged checks (one with new validators and
    the lease's next slot, one of a page whose status moves), a failed fetch ending its
    lease, a stale fetch (superseded), and a second record of page 0 made from the same
    state (a conflict)."""
    def rec(st: PageState, **kw: Any) -> CheckRecord:
        fields: dict[str, Any] = dict(
            page_id=st.page_id, expected_last_version_id=st.last.id if st.last else None,
            expected_revision=st.revision, started_at=NOW, duration=0.25,
            outcome="unchanged", http_status=304, worker="h:1",
            observed_at=NOW + timedelta(minutes=st.page_id))
        return CheckRecord(**{**fields, **kw})

    s0, s1, s2, s3 = states
    return [
        rec(s0, etag='"new"', last_modified="Tue, 01 Dec 2026 08:00:00 GMT",
            lease=LeaseEnd("h:1", next_check_at=NOW + timedelta(hours=6)),
            settings_read_at=NOW, read_rules=3),
        rec(s1, http_status=200, bytes=41_000, raw_sha256="ab" * 32, page_status="ok"),
        rec(s2, outcome="error", http_status=503, error_kind="http", error="服务器暂时不可用",
            failure_streak=2, lease=LeaseEnd("h:1")),
        rec(s3, observed_at=AT - timedelta(days=9), outcome="superseded"),
        rec(s0, duration=0.5),  # made from s0 again: page 0 has moved on, a conflict
    ]


def _pass(store: Any) -> dict[str, Any]:
    """An unchanged pass's calls on ``store`` (a ``Store`` or a ``QuickStore``)."""
    schedule = store.schedule("h:1", 600)
    refs = schedule.ensure_pages(SOURCES)
    ids = [refs[s.name].page_id for s in SOURCES]
    taken = schedule.take_many(ids, NOW)
    states = store.page_states(ids)
    texts = {i: s.last.read_text() for i, s in states.items() if s.last}
    bare = {i: replace(s, last=replace(s.last, read_text=None) if s.last else None)
            for i, s in states.items()}
    results = store.commit_checks(_plain_records([states[i] for i in ids]))
    renewed = schedule.renew(ids, NOW + timedelta(minutes=1))
    schedule.give_back(ids[1])
    taken_again = schedule.take_many(ids, NOW + timedelta(minutes=2))
    released = schedule.release_all()
    synced = store.sync_sources(SOURCES, "digest-1")
    return {"refs": refs, "taken": taken, "states": bare, "texts": texts, "results": results,
            "renewed": renewed, "taken_again": taken_again, "released": released,
            "synced": synced}


def test_an_unchanged_pass_writes_what_the_store_writes(archives: tuple[str, str]) -> None:
    """Leases, states, check rows and page updates (new validators, the next slot, a
    page's status, a failure streak, a lease ended, a stale fetch, a conflict) come out
    of ``QuickStore`` byte for byte as out of ``Store``: every column of the pages and
    the checks, and every value returned, the last version's text included."""
    url_a, url_b = archives
    store = Store(url_a)
    try:
        by_store = _pass(store)
    finally:
        store.close()
    quick = open_quick(url_b)
    assert isinstance(quick, QuickStore)
    try:
        by_quick = _pass(quick)
        assert quick._store is not None  # the text was read through the Store, on demand
    finally:
        quick.close()
    assert by_quick == by_store
    assert [r.outcome for r in by_quick["results"]] == [
        "unchanged", "unchanged", "error", "superseded", "conflict"]
    for table in ("pages", "checks", "sources", "versions"):
        assert _table(url_b, table) == _table(url_a, table)


def test_a_pass_with_a_changed_page_hands_it_to_the_store(
        archives: tuple[str, str]) -> None:
    """A group holding a record with a version (a changed page) is the ``Store``'s
    whole: the version, its change and the unchanged check beside it are stored as
    ``Store`` stores them."""
    url_a, url_b = archives
    results = []
    for url, opened in ((url_a, Store), (url_b, open_quick)):
        store: Any = opened(url)
        try:
            changed = _round(store, SOURCES, 1)[:2]
            results.append([(r.outcome, r.version_id) for r in store.commit_checks(changed)])
        finally:
            store.close()
    assert results[0] == results[1] == [("changed", 5), ("changed", 6)]
    for table in ("pages", "checks", "versions", "changes"):
        assert _table(url_b, table) == _table(url_a, table)


def test_a_source_added_to_the_file_is_synced_and_given_its_page(
        archives: tuple[str, str]) -> None:
    """A source added to the file since the last sync (another digest): the ``Store``
    syncs it and makes its page; the pages already there keep their ids."""
    _, url = archives
    quick = open_quick(url)
    assert quick is not None
    added = [*SOURCES, SourceConfig(name="p9", url="http://www.example.gov.cn/p9.html")]
    try:
        assert quick.sync_sources(added, "digest-2")["added"] == ["p9"]
        refs = quick.schedule("h:1", 600).ensure_pages(added)
    finally:
        quick.close()
    assert [refs[s.name].page_id for s in added] == [1, 2, 3, 4, 5]
    assert _table(url, "pages")[-1][2] == "http://www.example.gov.cn/p9.html"


def test_only_a_sqlite_archive_at_the_newest_schema_is_opened_quickly(
        tmp_path: Path, archives: tuple[str, str]) -> None:
    """A file not made yet, an in-memory database, PostgreSQL, or a schema behind the
    code: ``Store`` opens those (it creates or migrates), never ``QuickStore``."""
    url, _ = archives
    assert open_quick(f"sqlite:///{tmp_path / 'none.db'}") is None
    assert open_quick("sqlite:///:memory:") is None
    assert open_quick("postgresql://postgres@127.0.0.1:5432/test") is None
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    conn.execute("UPDATE alembic_version SET version_num = '0001'")
    conn.commit()
    conn.close()
    assert open_quick(url) is None
    foreign = tmp_path / "other.db"
    sqlite3.connect(foreign).close()  # a SQLite file that is not an archive
    assert open_quick(f"sqlite:///{foreign}") is None


EXIT_REPORT = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps({m: m in sys.modules for m in
                                          ("sqlalchemy", "pydantic", "sqlmodel")})))
from monitor.cli import main
sys.argv = ["monitor", *sys.argv[1:]]
main()
"""


# Any process of the command that opens the Store (a worker too) leaves its pid in a file.
OPENED = """
import os, sys
from storage import quick
opening = quick.QuickStore.store.fget
def store(self):
    if self._store is None:
        with open({marker!r}, "a") as f:
            f.write(f"{{os.getpid()}}\\n")
    return opening(self)
quick.QuickStore.store = property(store)
from monitor.cli import main
sys.argv = ["monitor", *sys.argv[1:]]
main()
"""


def test_monitor_check_of_unchanged_pages_loads_no_sqlalchemy(
        tmp_path: Path, site: Site) -> None:
    """``monitor check --no-deliver`` of a SQLite archive: a pass of unchanged pages
    imports neither SQLAlchemy nor pydantic; one with a changed page stores and tells
    the change as before (the ``Store`` opened for it), and ``monitor history`` lists
    both versions."""
    for i in range(3):
        site.route(f"/p{i}.html", seed_page(i))
    # a file the size of a few hundred sources: its validated settings are kept
    # (monitor.configcache), so no pydantic is needed to read them again
    padding = "# 来源说明\n" * (CACHE_FROM // 10)
    write_sources(tmp_path / "sources.toml", padding + "".join(
        f'[[sources]]\nname = "p{i}"\nurl = "{site.url(f"/p{i}.html")}"\n\n' for i in range(3)),
        settings=f'database_url = "sqlite:///{tmp_path}/m.db"\n')

    def check() -> tuple[dict[str, str], dict[str, bool]]:
        run = subprocess.run([sys.executable, "-c", EXIT_REPORT, "check", "--no-deliver",
                              "--json"], cwd=tmp_path, text=True, capture_output=True,
                             timeout=120)
        assert run.returncode == 0, run.stderr
        *out, loaded = run.stdout.strip().splitlines()
        results = json.loads("\n".join(out))["results"]
        return {r["source"]: r["outcome"] for r in results}, json.loads(loaded)

    assert check()[0] == {"p0": "new", "p1": "new", "p2": "new"}
    outcomes, loaded = check()
    assert outcomes == {"p0": "unchanged", "p1": "unchanged", "p2": "unchanged"}
    assert loaded == {"sqlalchemy": False, "pydantic": False, "sqlmodel": False}
    table = subprocess.run([sys.executable, "-c", EXIT_REPORT, "check", "--no-deliver"],
                           cwd=tmp_path, text=True, capture_output=True, timeout=120)
    assert "无变化 3（3 unchanged）" in table.stdout, table.stderr  # for a person: a table
    assert json.loads(table.stdout.strip().splitlines()[-1])["sqlalchemy"] is False
    # split over two worker processes: neither opens the Store for unchanged pages
    opened = tmp_path / "store-opened"
    split = subprocess.run([sys.executable, "-c", OPENED.format(marker=str(opened)), "check",
                            "--no-deliver", "--json", "--workers", "2"], cwd=tmp_path,
                           text=True, capture_output=True, timeout=120)
    assert split.returncode == 0, split.stderr
    assert {r["outcome"] for r in json.loads(split.stdout)["results"]} == {"unchanged"}
    assert not opened.exists(), opened.read_text()
    site.route("/p1.html", seed_page(1, edit=lambda ps: [*ps, "补充答复：新增一句说明。"]))
    outcomes, loaded = check()
    assert outcomes == {"p0": "unchanged", "p1": "changed", "p2": "unchanged"}
    assert loaded["sqlalchemy"]
    history = subprocess.run([sys.executable, "-m", "monitor", "history", "p1"],
                             cwd=tmp_path, text=True, capture_output=True, timeout=60)
    assert history.returncode == 0, history.stderr
    assert "第2版" in history.stdout
