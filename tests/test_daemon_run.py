"""``monitor run`` as a real subprocess on SQLite, against a local test site.

Intervals are seconds instead of hours; assertions count requests at the server and
poll with generous timeouts (the machine is shared), never exact timings.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from sqlmodel import select

from storage import Store
from storage.models import Alert, Check, Page, SourceRow, Version
from tests.conftest import write_sources
from tests.sites import Response, Site

ROOT = Path(__file__).resolve().parent.parent


def page(title: str) -> str:
    body = "".join(f"<p>{title}的答复第{i}段：办理情况如下。</p>" for i in range(12))
    return f"<html><head><title>{title}</title></head><body><div>{body}</div></body></html>"


def wait_until(check: Callable[[], object], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what or check}")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def monitor_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "monitor", *args]


class Daemon:
    """One ``monitor run`` process; its log (stdout and stderr) goes to a file."""

    def __init__(self, sources: Path, log: Path, env: dict[str, str], *args: str) -> None:
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(monitor_cmd("run", "--sources", str(sources), *args),
                                         cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, needle: str, timeout: float = 60.0) -> None:
        wait_until(lambda: needle in self.text() or self.proc.poll() is not None, timeout,
                   f"{needle!r} in the log")
        assert needle in self.text(), f"daemon exited ({self.proc.poll()}):\n{self.text()}"

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, and the exit code.  The default ``timeout`` is above the daemon's own
        bound (``shutdown_grace``, 30 s by default, for a check running then, and at most
        ``STOP_WAIT`` for each later step: ``monitor.daemon``): past it, it hangs."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:  # say where it hung: the log's end
            self.proc.kill()
            self.proc.wait()
            tail = "\n".join(self.text().splitlines()[-40:])
            raise AssertionError(f"the daemon did not stop within {timeout:g} s of SIGTERM;"
                                 f" its log ends:\n{tail}") from None


class Daemons:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path, self.all = tmp_path, []  # type: ignore[var-annotated]

    def start(self, sources: Path, *args: str, db_url: str | None = None) -> Daemon:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if db_url:
            env["MONITOR_DATABASE_URL"] = db_url
        d = Daemon(sources, self.tmp_path / f"daemon{len(self.all)}.log", env, *args)
        self.all.append(d)
        return d

    def kill_all(self) -> None:
        for d in self.all:
            if d.proc.poll() is None:
                d.proc.kill()
                d.proc.wait()


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Daemons]:
    ds = Daemons(tmp_path)
    yield ds
    ds.kill_all()


def db_url() -> str:
    return os.environ["MONITOR_DATABASE_URL"]  # set per test by conftest


def count(model: type, **where: object) -> int:
    store = Store(db_url(), migrate=False)
    try:
        return store.count(model, **where)
    finally:
        store.close()


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def metric_values(port: int) -> dict[str, float]:
    """``/metrics`` as {'name{label="value"}': value}."""
    status, body = _get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    return {s.name + _labels(s.labels): s.value
            for family in text_string_to_metric_families(body.decode()) for s in family.samples}


def _labels(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else ""


OUTCOMES = ("new", "changed", "unchanged", "error")


def assert_metrics_add_up(port: int, fetches: Callable[[], int]) -> None:
    """Once no check runs: the counters equal the check and version rows, by outcome."""
    def settled() -> bool:
        m = metric_values(port)
        return (m["monitor_checks_running"] == 0 and count(Check) ==
                sum(m[f'monitor_checks_total{{outcome="{o}"}}'] for o in OUTCOMES))

    wait_until(settled, 30, "the metrics to count every stored check")
    m, checks = metric_values(port), count(Check)
    assert {o: m[f'monitor_checks_total{{outcome="{o}"}}'] for o in OUTCOMES} == {
        o: count(Check, outcome=o) for o in OUTCOMES}
    assert all(m[f'monitor_checks_total{{outcome="{o}"}}'] for o in OUTCOMES)  # each seen
    # One fetch per check (nothing here is retried; robots.txt is off).
    assert m["monitor_fetch_duration_seconds_count"] == fetches() == checks
    assert 0 < m["monitor_fetch_duration_seconds_sum"]
    assert m["monitor_check_duration_seconds_count"] == checks
    assert m["monitor_check_duration_seconds_sum"] > m["monitor_fetch_duration_seconds_sum"]
    assert m["monitor_versions_stored_total"] == count(Version) == 3
    lag = m["monitor_scheduler_lag_seconds"]
    assert math.isfinite(lag) and lag >= 0


def test_sources_are_checked_on_schedule_with_metrics_status_and_one_daemon_per_file(
        tmp_path: Path, site: Site, daemons: Daemons) -> None:
    site.route("/fast.html", page("快"))
    site.route("/slow.html", page("慢"))
    port, web_port = free_port(), free_port()

    def write(enabled: str = "true") -> Path:
        return write_sources(tmp_path / "sources.toml", f"""
            [[sources]]
            name = "fast"
            url = "{site.url('/fast.html')}"
            interval = "1s"
            enabled = {enabled}

            [[sources]]
            name = "slow"
            url = "{site.url('/slow.html')}"
            interval = "3s"
            enabled = {enabled}
            """, settings=f"metrics_port = {port}\nweb_enabled = true\nweb_port = {web_port}\n")

    sources = write()
    d = daemons.start(sources)
    wait_until(lambda: site.hits("/fast.html") and site.hits("/slow.html"), 60, "first checks")
    fast0, slow0, t0 = site.hits("/fast.html"), site.hits("/slow.html"), time.monotonic()

    second = subprocess.run(monitor_cmd("run", "--sources", str(sources)), cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert second.returncode == 1
    assert "already running" in second.stderr and "SQLite" in second.stderr

    time.sleep(7)
    elapsed = time.monotonic() - t0
    fast, slow = site.hits("/fast.html") - fast0, site.hits("/slow.html") - slow0
    assert elapsed * 0.5 <= fast <= elapsed + 1, (fast, elapsed)  # once per 1 s slot
    assert elapsed / 3 - 1 <= slow <= elapsed / 3 + 1, (slow, elapsed)

    status, body = _get(f"http://127.0.0.1:{port}/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, body = _get(f"http://127.0.0.1:{port}/metrics")
    text = body.decode()
    assert status == 200 and 'monitor_checks_total{outcome="new"} 2.0' in text
    assert 'monitor_alerts{status="dead"}' in text

    status, body = _get(f"http://127.0.0.1:{web_port}/")
    assert status == 200 and "fast" in body.decode()  # the web UI runs in the daemon

    out = subprocess.run(monitor_cmd("status", "--json", "--sources", str(sources)), cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    rows = {r["source"]: r for r in json.loads(out.stdout)["sources"]}
    assert rows["fast"]["last_outcome"] in ("new", "unchanged") and rows["fast"]["versions"] == 1
    assert rows["slow"]["next_check_at"] and rows["slow"]["failure_streak"] == 0

    # A change and a failure, then no more checks: the metrics must add up to the store.
    site.route("/fast.html", page("快改"))
    site.route("/slow.html", Response("禁止访问", status=403))  # 403: not retried
    wait_until(lambda: count(Check, outcome="changed") and count(Check, outcome="error"), 60,
               "a change and a failure")
    write(enabled="false")
    d.wait_for("reloaded: paused", 30)
    assert_metrics_add_up(port, fetches=lambda: site.hits("/fast.html") + site.hits("/slow.html"))

    assert d.stop() == 0
    assert "check fast" in d.text() and "status=200" in d.text()  # every check is logged


def _two_sources(tmp_path: Path, site: Site, names: list[str], extra: str = "") -> Path:
    body = "".join(f"""
        [[sources]]
        name = "{n}"
        url = "{site.url(f'/{n}.html')}"
        interval = "1s"
        {extra if n == names[0] else ""}
        """ for n in names)
    return write_sources(tmp_path / "sources.toml", body,
                         settings='admin_email = "admin@example.org"\n')


def test_edits_of_the_sources_file_apply_live_and_an_invalid_edit_keeps_the_old_jobs(
        tmp_path: Path, site: Site, daemons: Daemons) -> None:
    for n in ("a", "b", "c", "d"):
        site.route(f"/{n}.html", page(n))
    d = daemons.start(_two_sources(tmp_path, site, ["a", "b"]))
    wait_until(lambda: site.hits("/a.html") and site.hits("/b.html"), 60, "first checks")

    _two_sources(tmp_path, site, ["a", "c"])  # add c, remove b
    d.wait_for("reloaded: added c; removed b", 30)
    wait_until(lambda: site.hits("/c.html") >= 2, 30, "c checked")
    b_after = site.hits("/b.html")
    time.sleep(3)
    assert site.hits("/b.html") <= b_after + 1  # at most one check already in flight
    assert count(Version) == 3  # b's history stays

    _two_sources(tmp_path, site, ["a", "d"], extra='colour = "red"')  # unknown key in a
    d.wait_for("edit rejected", 30)
    log = d.text()
    assert "sources.toml" in log and "source 'a'" in log and "key 'colour'" in log
    a_before, c_before = site.hits("/a.html"), site.hits("/c.html")
    time.sleep(3)
    assert site.hits("/a.html") > a_before and site.hits("/c.html") > c_before  # old jobs
    assert site.hits("/d.html") == 0
    assert count(Alert, event="config") == 1  # the admin is told once
    wait_until(lambda: count(Alert, event="config", status="sent"), 30, "the alert sent")

    _two_sources(tmp_path, site, ["a", "c"])
    d.wait_for("is valid again", 30)

    sources = tmp_path / "sources.toml"
    kept = sources.read_bytes()
    sources.write_bytes(b"")  # an editor that crashed mid-write: every source gone
    d.wait_for("removes all 2 sources", 30)
    a_before = site.hits("/a.html")
    wait_until(lambda: site.hits("/a.html") > a_before, 30, "a still checked")
    sources.write_bytes(kept)
    d.wait_for("is valid again", 30)
    assert "restart it to apply" not in d.text()  # the settings are those it started with
    assert d.stop() == 0


def test_sigterm_during_a_slow_fetch_exits_0_and_stores_nothing_partial(
        tmp_path: Path, site: Site, daemons: Daemons) -> None:
    site.route("/slow.html", Response(page("慢"), delay=30,
                                      headers={"Content-Type": "text/html; charset=utf-8"}))
    sources = write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "slow"
        url = "{site.url('/slow.html')}"
        interval = "1h"
        """, settings="shutdown_grace = 1\n")
    d = daemons.start(sources, "--log-json")
    wait_until(lambda: site.hits("/slow.html"), 60, "the slow fetch to start")
    t0 = time.monotonic()
    assert d.stop(timeout=30) == 0
    assert time.monotonic() - t0 < 20  # did not wait for the 30 s answer
    records = [json.loads(line) for line in d.text().splitlines()]  # flat JSON lines
    messages = [r["message"] for r in records]
    assert "SIGTERM received: stopping (no new checks)" in messages
    abandoned = next(r for r in records if "abandoned at shutdown" in r["message"])
    assert abandoned["source"] == "slow" and abandoned["level"] == "WARNING"
    assert all(r["time"].endswith("+00:00") for r in records)
    assert messages[-1] == "monitor stopped"
    assert count(Version) == 0 and count(Check) == 0


def _status(sources: Path) -> dict[str, dict[str, object]]:
    out = subprocess.run(monitor_cmd("status", "--json", "--sources", str(sources)), cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return {r["source"]: r for r in json.loads(out.stdout)["sources"]}


def _utc(value: object) -> datetime:
    at = datetime.fromisoformat(str(value))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def test_on_start_a_source_checked_longer_ago_than_its_interval_gets_one_catch_up_check(
        tmp_path: Path, site: Site, daemons: Daemons) -> None:
    """Ten days down with a 1d interval is one check at start, not ten; a source checked
    just now waits for its next slot.  (The periodic sweep, every 30 s, would be later.)"""
    for name in ("stale", "fresh", "probe"):
        site.route(f"/{name}.html", page(name))

    def write(*names: str) -> Path:
        return write_sources(tmp_path / "sources.toml", "".join(f"""
            [[sources]]
            name = "{n}"
            url = "{site.url(f'/{n}.html')}"
            interval = "1d"
            """ for n in names))

    sources = write("stale", "fresh")
    done = subprocess.run(monitor_cmd("check", "--sources", str(sources)), cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    long_ago = datetime.now(UTC) - timedelta(days=10)
    store = Store(db_url(), migrate=False)
    try:
        with store.session() as s:
            [stale_page] = s.exec(select(Page).join(SourceRow).where(SourceRow.name == "stale"))
            s.execute(update(Page).where(Page.id == stale_page.id)
                      .values(last_check_at=long_ago, last_ok_at=long_ago))
            s.execute(update(Check).where(Check.page_id == stale_page.id)
                      .values(started_at=long_ago))
            s.commit()
    finally:
        store.close()
    before = _status(sources)
    assert _utc(before["stale"]["last_check_at"]) < long_ago + timedelta(minutes=1)
    assert _utc(before["fresh"]["last_check_at"]) > datetime.now(UTC) - timedelta(minutes=5)
    stale0, fresh0 = site.hits("/stale.html"), site.hits("/fresh.html")
    assert (stale0, fresh0) == (1, 1)

    d = daemons.start(sources)
    d.wait_for("monitor running as")
    wait_until(lambda: count(Check) >= 3, 25, "the catch-up check of stale")  # < 30 s sweep
    time.sleep(3)  # time for a second (wrong) catch-up or a check of fresh to show up
    assert (site.hits("/stale.html"), site.hits("/fresh.html")) == (stale0 + 1, fresh0)
    after = _status(sources)
    assert _utc(after["stale"]["last_check_at"]) > datetime.now(UTC) - timedelta(minutes=5)
    now = datetime.now(UTC)
    for name in ("stale", "fresh"):  # both wait for their next slot, within a day
        assert now < _utc(after[name]["next_check_at"]) <= now + timedelta(days=1), after[name]
    assert d.stop() == 0

    # Restarted at once: nothing is overdue any more, so nothing but the new source is
    # checked (its check shows the start-up sweep has run).
    d2 = daemons.start(write("stale", "fresh", "probe"))
    d2.wait_for("monitor running as")
    wait_until(lambda: count(Check) >= 4, 20, "the first check of probe")
    time.sleep(2)
    assert (site.hits("/stale.html"), site.hits("/fresh.html")) == (stale0 + 1, fresh0)
    assert site.hits("/probe.html") == 1
    assert d2.stop() == 0


def test_a_page_leased_by_an_ended_process_of_this_machine_is_checked_at_its_slot(
        tmp_path: Path, site: Site, daemons: Daemons) -> None:
    """A ``monitor check`` killed with ``kill -9`` leaves its leases (for ``lease_seconds``,
    5 min by default): the daemon takes over those of a process that has ended at the
    page's slot, as ``monitor check`` does; a live process's lease is still waited for."""
    for name in ("orphan", "busy"):
        site.route(f"/{name}.html", page(name))
    sources = write_sources(tmp_path / "sources.toml", "".join(f"""
        [[sources]]
        name = "{n}"
        url = "{site.url(f'/{n}.html')}"
        interval = "1h"
        """ for n in ("orphan", "busy")))
    done = subprocess.run(monitor_cmd("check", "--sources", str(sources)), cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    dead = subprocess.Popen(["true"])
    dead.wait()
    host, hour = socket.gethostname(), datetime.now(UTC) + timedelta(hours=1)
    slot = datetime.now(UTC) + timedelta(seconds=6)
    store = Store(db_url(), migrate=False)
    try:
        with store.session() as s:
            for name, pid, at in (("orphan", dead.pid, slot),
                                  ("busy", os.getpid(), datetime.now(UTC))):
                s.execute(update(Page).where(Page.url == site.url(f"/{name}.html")).values(
                    lease_owner=f"{host}:{pid}", lease_expires=hour, next_check_at=at))
            s.commit()
    finally:
        store.close()
    d = daemons.start(sources)
    d.wait_for("monitor running as")
    wait_until(lambda: site.hits("/orphan.html") == 2, 30, "orphan checked at its slot")
    late = (datetime.now(UTC) - slot).total_seconds()
    assert 0 <= late < 15, late  # at its slot, not when the lease runs out (1 h)
    assert f"orphan: took over the lease of {host}:{dead.pid}, which has ended" in d.text()
    time.sleep(2)
    assert site.hits("/busy.html") == 1  # its holder (this test) is alive: waited for
    assert d.stop() == 0


def test_the_daemon_checks_a_document_taken_off_its_listing_ever_more_rarely(
        tmp_path: Path, site: Site, daemons: Daemons) -> None:
    from tests.test_listing_sources import Column

    column = Column(site, 3)
    column.serve_replies()
    sources = write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "col"
        kind = "listing"
        url = "{site.url('/col/index.html')}"
        match = 't2021\\d{{4}}_\\d+\\.html$'
        interval = "1s"
        [sources.follow]
        content = "div.article"
        interval = "1s"
        """)
    off_path = "/col/t20210101_101.html"
    daemons.start(sources)
    wait_until(lambda: site.hits(off_path) >= 2, 60, "the documents checked")
    column.replies.remove(101)
    store = Store(db_url(), migrate=False)
    try:
        def doc() -> Page:
            with store.session() as s:
                return s.exec(select(Page).where(Page.url == site.url(off_path))).one()

        wait_until(lambda: not doc().listed, 60, "the document unlisted")
        with store.session() as s:  # off for a minute: 16 intervals of 1 s at most
            s.execute(update(Page).where(Page.url == site.url(off_path))
                      .values(unlisted_at=datetime.now(UTC) - timedelta(minutes=1)))
            s.commit()

        def gap() -> float:
            row = doc()
            if row.next_check_at is None or row.last_check_at is None:
                return 0.0
            return (row.next_check_at - row.last_check_at).total_seconds()

        # its next check (one dispatched before the update may still come at 1 s)
        wait_until(lambda: gap() >= 14, 60, "a check planning the next 16 intervals on")
        assert gap() <= 17  # 16 follow intervals, not more
        hits, listed = site.hits(off_path), site.hits("/col/t20210100_100.html")
        time.sleep(6)
        assert site.hits("/col/t20210100_100.html") > listed  # the listed: at its interval
        assert site.hits(off_path) == hits  # the unlisted: resting till its slot
    finally:
        store.close()
