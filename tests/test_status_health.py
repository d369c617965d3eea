"""``monitor status`` opens with what the database says about the daemon's health."""

from __future__ import annotations

import json
import socket
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from monitor.config import SourceConfig, load_config
from storage import Store, glance
from storage.models import Check, Page, utcnow
from storage.schedule import Schedule
from tests.conftest import write_sources
from tests.pages import seed_page
from tests.sites import Response, Site
from tests.test_daemon_run import ROOT, db_url, monitor_cmd


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(monitor_cmd(*args), cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def first_line(sources: Path) -> str:
    out = run("status", "--sources", str(sources))
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()[0]


def test_status_says_failing_when_most_checks_fail_and_stale_when_none_are_stored(
        tmp_path: Path, site: Site) -> None:
    site.route("/down.html", Response("服务器内部错误", status=500))
    sources = write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "down"
        url = "{site.url('/down.html')}"
        interval = "10m"
        """, settings="retries = 0\n")
    Store(db_url()).close()  # the archive `monitor run` makes before its first check
    assert first_line(sources) == "健康：尚无检查（health: no checks yet）"
    got = json.loads(run("status", "--json", "--sources", str(sources)).stdout)
    assert got["health"]["status"] == "no checks" and got["health"]["newest_check_at"] is None
    assert got["backlog"]["due_not_started"] == 1  # never checked
    assert got["backlog"]["line"] == "backlog: 1 sources due and not started"
    for _ in range(3):
        assert run("check", "--sources", str(sources)).returncode == 0
    line = first_line(sources)
    assert line.startswith("健康：失败过多 — 最新检查 "), line
    assert "秒前）；最近一小时 3 次检查中 3 次失败（health: failing — newest check " in line, line
    assert line.endswith(" s ago); 3 of 3 checks failed in the last hour）"), line
    health = json.loads(run("status", "--json", "--sources", str(sources)).stdout)["health"]
    assert (health["status"], health["problems"]) == ("failing", ["failing"])
    assert (health["checks_last_hour"], health["failed_last_hour"]) == (3, 3)
    assert health["newest_check_at"] and 0 <= health["newest_check_age_seconds"] < 120
    assert health["line"].startswith("health: failing — newest check ")

    store = Store(db_url(), migrate=False)
    try:  # nothing stored for two hours: more than twice the 10 min interval
        with store.session() as s:
            s.execute(update(Check).values(started_at=utcnow() - timedelta(hours=2)))
            s.commit()
    finally:
        store.close()
    line = first_line(sources)
    assert line.startswith("健康：停滞（检查结果久未更新） — "), line
    assert "（2 小时前）；最近一小时 0 次检查中 0 次失败（health: stale — " in line, line
    assert line.endswith("(2 h ago); 0 of 0 checks failed in the last hour）"), line


def test_status_read_through_the_driver_is_what_the_store_reads(
        tmp_path: Path, site: Site, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`monitor status` reads a database at head with sqlite3/psycopg alone; every
    field of every row is what Schedule (SQLAlchemy) reads, on SQLite and PostgreSQL."""
    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    site.route("/ok.html", seed_page(0))
    site.route("/down.html", Response("服务器内部错误", status=500))
    site.route("/gone.html", Response("not found", status=404))
    sources = write_sources(tmp_path / "sources.toml", "".join(f"""
        [[sources]]
        name = "{name}"
        url = "{site.url(f'/{name}.html')}"
        interval = "10m"
        """ for name in ("ok", "down", "gone")), settings="retries = 0\n")
    assert glance.status(db_url, [], utcnow()) is None  # no database yet: Store makes it
    assert run("check", "--sources", str(sources)).returncode == 0
    site.route("/ok.html", seed_page(0, counter=124))
    assert run("check", "--sources", str(sources), "--source", "ok").returncode == 0
    store = Store(db_url)
    try:
        with store.session() as s:  # a lease held, a slot set
            s.execute(update(Page).where(Page.url == site.url("/down.html"))
                      .values(lease_owner="host-1:42", lease_expires=utcnow()))
            s.execute(update(Page).where(Page.url == site.url("/ok.html"))
                      .values(next_check_at=utcnow() + timedelta(minutes=7)))
            s.commit()
        config = load_config(sources)
        wanted = [*config.sources, SourceConfig(name="never", url=site.url("/never.html"))]
        since = utcnow() - timedelta(hours=1)
        schedule = Schedule(store, "test", 300)
        expected = (schedule.status(wanted), schedule.recent_checks(since))
    finally:
        store.close()
    got = glance.status(db_url, wanted, since)
    assert got == expected
    rows, recent = got
    assert [r.status for r in rows] == ["ok", "failing", "failing", "new"]
    assert rows[0].versions >= 1 and rows[0].next_check_at and rows[1].lease_owner
    assert rows[1].lease_expires is not None
    assert recent.checks == 4 and recent.errors == 2 and recent.newest_check_at


def test_status_tells_a_running_check_from_a_lease_left_by_a_killed_one(
        tmp_path: Path, site: Site) -> None:
    """A `monitor check` killed with kill -9 leaves its leases: status must not say
    "running" for them (the stall would look like work), and counts them as backlog."""
    for name in ("live", "killed", "lapsed"):
        site.route(f"/{name}.html", seed_page(0))
    sources = write_sources(tmp_path / "sources.toml", "".join(f"""
        [[sources]]
        name = "{name}"
        url = "{site.url(f'/{name}.html')}"
        interval = "10m"
        """ for name in ("live", "killed", "lapsed")))
    Store(db_url()).close()  # the archive `monitor run` makes before its first check
    assert "backlog:" in run("status", "--sources", str(sources)).stdout  # never checked
    assert run("check", "--sources", str(sources)).returncode == 0
    # checked from cron, no daemon: no slot, so nothing is behind
    assert "backlog:" not in run("status", "--sources", str(sources)).stdout
    dead = subprocess.Popen(["true"])
    dead.wait()
    soon, past = utcnow() + timedelta(minutes=5), utcnow() - timedelta(minutes=1)
    store = Store(db_url(), migrate=False)
    try:
        with store.session() as s:
            for name, owner, until in (
                    ("live", "other-host:42", soon),
                    ("killed", f"{socket.gethostname()}:{dead.pid}", soon),
                    ("lapsed", "other-host:43", past)):
                s.execute(update(Page).where(Page.url == site.url(f"/{name}.html"))
                          .values(lease_owner=owner, lease_expires=until, next_check_at=past))
            s.commit()
    finally:
        store.close()
    out = run("status", "--sources", str(sources))
    assert out.returncode == 0, out.stderr
    rows = {line.split("│")[1].strip(): line for line in out.stdout.splitlines()
            if line.count("│") > 3 and "来源" not in line}
    assert "running on other-host:42" in rows["live"]
    assert f"held by {socket.gethostname()}:{dead.pid}, which has ended" in rows["killed"]
    assert "running" not in rows["killed"]
    assert "(lease of other-host:43 ran out)" in rows["lapsed"]
    assert "正在由 other-host:42 检查（running on" in rows["live"]  # Chinese first
    assert f"被已结束的进程 {socket.gethostname()}:{dead.pid} 占用" in rows["killed"]
    assert "，other-host:43 的租约已过期（" in rows["lapsed"]
    assert (f"leases: 1 sources held by ended processes ({socket.gethostname()}:{dead.pid});"
            " the next check takes them over") in out.stdout
    assert "backlog: 2 sources due and not started" in out.stdout  # killed + lapsed
    # Chinese first, the English after it
    assert (f"租约：1 个来源被已结束的进程（{socket.gethostname()}:{dead.pid}）占用；下次检查会"
            "接管（leases: 1 sources") in out.stdout
    assert "积压：2 个来源已到检查时间但尚未开始；最早的已过检查时间 " in out.stdout
    got = json.loads(run("status", "--json", "--sources", str(sources)).stdout)
    assert {r["source"]: r["lease"] for r in got["sources"]} == {
        "live": "running", "killed": "ended", "lapsed": "ran out"}
    # the lines above the table, as fields
    backlog = got["backlog"]
    assert (backlog["due_not_started"], backlog["sources"]) == (2, ["killed", "lapsed"])
    assert 55 <= backlog["oldest_slot_age_seconds"] < 600 and backlog["oldest_slot_at"]
    assert backlog["line"].startswith("backlog: 2 sources due and not started; the oldest")
    assert got["leases"] == {
        "ended": 1, "holders": [f"{socket.gethostname()}:{dead.pid}"],
        "line": f"leases: 1 sources held by ended processes ({socket.gethostname()}:"
                f"{dead.pid}); the next check takes them over"}
    assert got["health"]["status"] == "ok" and got["capacity"] == []


def test_status_of_thousands_of_sources_piped_answers_at_once_with_the_same_table(
        tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12: `monitor status | less` with 3,000 sources.  The rows are read in one
    statement (five a source cost seconds of round trips on PostgreSQL) and the table
    is written without rich's layout (~0.5 ms of CPU a row: 5 s for 10,000 sources),
    with the very lines rich gives (wide characters counted two columns).  Its speed is
    measured in bench/ (README "The daemon with 10,000 sources"), not asserted here."""
    from rich.console import Console

    from monitor.cli.status import status_table

    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    n = 3000
    sources = write_sources(tmp_path / "sources.toml", "".join(
        f'[[sources]]\nname = "s{i:05d}{"-long-name" * (i % 7)}"\n'
        f'url = "http://127.0.0.1:9/{i}.html"\ninterval = "10m"\n\n' for i in range(n)))
    config = load_config(sources)
    store = Store(db_url)
    try:
        store.sync_sources(config.sources)
        refs = Schedule(store, "test", 300).ensure_pages(config.sources)
        with store.session() as s:  # a checked page, a listing with two documents gone
            first = refs[config.sources[0].name].page_id
            s.execute(update(Page).where(Page.id == first).values(
                status="ok", next_check_at=utcnow() + timedelta(minutes=3)))
            for k in range(2):
                s.add(Page(source_id=1, url=f"http://127.0.0.1:9/doc{k}", kind="document",
                           parent_id=first, status="gone"))
            s.commit()
    finally:
        store.close()
    out = run("status", "--sources", str(sources))
    assert out.returncode == 0, out.stderr
    rows, _ = glance.status(db_url, config.sources, utcnow()) or ([], None)
    assert len(rows) == n and rows[0].documents_gone == 2
    table = Console(width=100_000, soft_wrap=True, file=None, record=True)
    with table.capture() as captured:
        table.print(status_table(rows, config.settings.timezone))
    lines = out.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("来源 — 时间为 "))
    assert "（sources — times in " in lines[at]
    assert lines[at:] == captured.get().splitlines()  # rich's own rendering, line for line
    assert len(lines[at:]) == n + 5 and "正常（ok），2 篇文档已删除" in lines[at + 4]
    # the headers in Chinese only, piped as on a terminal (README "What the commands print")
    assert [h.strip() for h in lines[at + 2].split("┃")[1:-1]] == [
        "来源", "状态", "上次检查", "结果", "下次检查", "上次变化", "连续失败", "版本数"]


def _checked_sources(tmp_path: Path, n: int, *, paused: int = 0,
                     states: dict[str, tuple[str, int]] | None = None) -> Path:
    """A file of ``n`` sources s00000… (the first ``paused`` with ``enabled = false``,
    never checked), the others checked ok just now, then each of ``states`` given its
    status and failure streak."""
    sources = write_sources(tmp_path / "sources.toml", "".join(
        f'[[sources]]\nname = "s{i:05d}"\nurl = "http://127.0.0.1:9/{i}.html"\n'
        f'interval = "10m"\n{"enabled = false" if i < paused else ""}\n\n'
        for i in range(n)))
    config = load_config(sources)
    store = Store(config.settings.database_url)
    try:
        store.sync_sources(config.sources)
        refs = Schedule(store, "test", 300).ensure_pages(config.sources)
        now = utcnow()
        with store.session() as s:
            s.execute(update(Page).where(Page.id.not_in(
                [refs[f"s{i:05d}"].page_id for i in range(paused)] or [0])).values(
                status="ok", last_check_at=now, next_check_at=now + timedelta(minutes=10)))
            for name, (state, streak) in (states or {}).items():
                s.execute(update(Page).where(Page.id == refs[name].page_id).values(
                    status=state, failure_streak=streak))
            s.commit()
    finally:
        store.close()
    return sources


def test_status_of_many_sources_on_a_terminal_shows_those_needing_attention(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From 50 sources a terminal gets a count by status and the rows needing someone,
    the most urgent first (the longest failure streak first); ``--all`` every row;
    piped, every row as before."""
    sources = _checked_sources(tmp_path, 60, states={
        "s00005": ("failing", 2), "s00010": ("failing", 7), "s00020": ("gone", 0)})
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich: a terminal
    monkeypatch.setenv("COLUMNS", "200")
    screen = [_plain(line) for line in run("status", "--sources", str(sources))
              .stdout.splitlines()]
    assert ("来源 60 个（正常 57，连续失败 2，已删除 1）；3 个需要处理，见下表；全部来源：monitor "
            "status --all（或 monitor status | less）（sources: 60 (57 ok, 2 failing, 1 gone); "
            "3 need attention, below; every source: monitor status --all (or monitor status | "
            "less)）") in screen
    names = [line.split()[1] for line in screen if line.startswith("│ s0")]
    assert names == ["s00010", "s00005", "s00020"]
    every = [_plain(line) for line in run("status", "--all", "--sources", str(sources))
             .stdout.splitlines()]
    assert len([line for line in every if line.startswith("│ s0")]) == 60
    monkeypatch.delenv("FORCE_COLOR")
    piped = run("status", "--sources", str(sources)).stdout.splitlines()
    assert len([line for line in piped if line.startswith("│ s0")]) == 60


def _plain(line: str) -> str:
    """A line of the terminal's output without its colours."""
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", line)


def test_the_summary_counts_paused_sources_as_paused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A paused source never checked is ``已暂停（new）`` in its row and ``paused`` in the
    summary's count, not ``new``."""
    sources = _checked_sources(tmp_path, 55, paused=2)
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich: a terminal
    monkeypatch.setenv("COLUMNS", "200")
    screen = [_plain(line) for line in run("status", "--sources", str(sources))
              .stdout.splitlines()]
    assert any(line.startswith("来源 55 个（正常 53，已暂停 2）") and
               "（sources: 55 (53 ok, 2 paused)" in line for line in screen), screen


def test_status_json_is_json_dumps_text_of_every_row_shape(
        tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12: `status --json` writes its 10,000 rows column by column (``Columns``),
    and must stay the text scripts read: ``json.dumps(…, ensure_ascii=False,
    indent=2)`` of each row's fields as ``to_jsonable`` gives them, then ``lease``, for
    rows of every shape: never checked (nulls), times (one on a whole second), Chinese
    and JSON's own characters in an error, each kind of lease, paused, documents gone."""
    from dataclasses import replace

    from monitor.cli.common import to_jsonable
    from monitor.cli.status import lease_of

    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    names = ("never", "ok", "down", "live", "killed", "lapsed", "paused", "listing")
    sources = write_sources(tmp_path / "sources.toml", "".join(
        f'[[sources]]\nname = "{name}"\nurl = "http://127.0.0.1:9/{name}.html"\n'
        f'interval = "10m"\n{"enabled = false" if name == "paused" else ""}\n\n'
        for name in names))
    config = load_config(sources)
    dead = subprocess.Popen(["true"])
    dead.wait()
    now = utcnow()
    soon, past = now + timedelta(minutes=5), now - timedelta(minutes=1)
    error = '连接超时 "quoted" \\ back},\n      {"source": "x"}\t\u2028 末尾'
    store = Store(db_url)
    try:
        store.sync_sources(config.sources)
        refs = Schedule(store, "test", 300).ensure_pages(
            [s for s in config.sources if s.name != "never"])
        page = {name: ref.page_id for name, ref in refs.items()}
        with store.session() as s:
            for name in ("ok", "down", "live", "killed", "lapsed", "paused", "listing"):
                s.execute(update(Page).where(Page.id == page[name]).values(
                    status="ok", last_check_at=past, last_change_at=now.replace(microsecond=0),
                    next_check_at=soon))
            s.add(Check(page_id=page["ok"], started_at=past, outcome="unchanged",
                        http_status=200))
            s.add(Check(page_id=page["down"], started_at=past, outcome="error", error=error))
            s.execute(update(Page).where(Page.id == page["down"]).values(
                status="failing", failure_streak=3, next_check_at=past))
            for name, owner, until in (("live", "主机-1:42", soon),
                                       ("killed", f"{socket.gethostname()}:{dead.pid}", soon),
                                       ("lapsed", "主机-2:43", past)):
                s.execute(update(Page).where(Page.id == page[name]).values(
                    lease_owner=owner, lease_expires=until, next_check_at=past))
            for k in range(2):
                s.add(Page(source_id=1, url=f"http://127.0.0.1:9/doc{k}", kind="document",
                           parent_id=page["listing"], status="gone"))
            s.commit()
        rows = [replace(r, paused=True) if r.source == "paused" else r
                for r in Schedule(store, "test", 300).status(config.sources)]
    finally:
        store.close()

    out = run("status", "--json", "--sources", str(sources))
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert out.stdout == json.dumps(got, ensure_ascii=False, indent=2) + "\n"
    at = utcnow()
    assert got["sources"] == [{**to_jsonable(r), "lease": lease_of(r, at)} for r in rows]
    shown = {r["source"]: r for r in got["sources"]}
    assert shown["never"]["last_check_at"] is None, shown
    assert shown["down"]["last_error"] == error, shown
    assert shown["ok"]["last_change_at"].endswith(".000000+00:00")  # on a whole second
    assert {n: shown[n]["lease"] for n in ("live", "killed", "lapsed")} == {
        "live": "running", "killed": "ended", "lapsed": "ran out"}
    assert shown["paused"]["paused"] is True and shown["listing"]["documents_gone"] == 2
    assert got["backlog"]["sources"] == ["never", "down", "killed", "lapsed"]
