"""``monitor check`` split across worker processes (``monitor.parallel``): the same
archive as one process, every host's politeness kept across the workers, and a worker
that dies reported, not waited for.  Real processes, real servers on several loopback
addresses (127.0.0.2, 127.0.0.3, …: one host each for the fetcher's politeness)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from monitor.config import SourceConfig
from monitor.holder import process_state
from monitor.parallel import partition, workers_for
from monitor.settings import Settings
from storage import Store
from storage.models import Check, Page, SourceRow, Version, utcnow
from tests.conftest import write_sources
from tests.sites import Request, Response, Site
from tests.test_daemon_run import ROOT, monitor_cmd, page, wait_until
from tests.test_listing_sources import NAME, Column

HTML = {"Content-Type": "text/html; charset=utf-8"}


class Host:
    """A site on its own loopback address that counts requests in flight and when each
    one started."""

    def __init__(self, address: str, delay: float = 0.0) -> None:
        self.site = Site(address)
        self.site.server.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
        self.address, self.delay = address, delay
        self.lock = threading.Lock()
        self.running = self.most = 0
        self.starts: list[float] = []
        self.texts: dict[str, str] = {}

    def add(self, path: str, title: str) -> str:
        self.texts[path] = title
        return self.site.route(path, self._answer)

    def _answer(self, req: Request) -> Response:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.starts.append(time.monotonic())
        time.sleep(self.delay)
        with self.lock:
            self.running -= 1
        return Response(page(self.texts[req.path]), headers=HTML)


@pytest.fixture
def hosts() -> Iterator[list[Host]]:
    made = [Host(f"127.0.0.{i}") for i in (2, 3, 4)]
    yield made
    for h in made:
        h.site.close()


def sources_file(tmp_path: Path, urls: dict[str, str], settings: str = "",
                 more: str = "") -> Path:
    body = "".join(f'[[sources]]\nname = "{n}"\nurl = "{u}"\n\n' for n, u in urls.items())
    body += more
    return write_sources(tmp_path / "sources.toml", body, settings="retries = 0\n" + settings)


def column_source(site: Site) -> str:
    """The listing of ``tests.test_listing_sources.Column`` on ``site``, as a source."""
    return f"""
[[sources]]
name = "{NAME}"
kind = "listing"
url = "{site.url('/col/index.html')}"
[sources.follow]
content = "div.article"
interval = "1d"
"""


def run_check(sources: Path, db_url: str, *args: str,
              outbox: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``monitor check``; alerts delivered (as .eml files) only given an ``outbox``."""
    env = dict(os.environ, MONITOR_DATABASE_URL=db_url)
    if outbox is not None:
        env["MONITOR_OUTBOX_DIR"] = str(outbox)
    deliver = [] if outbox else ["--no-deliver"]
    return subprocess.run(monitor_cmd("check", "--sources", str(sources), *deliver, *args),
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def archive(db_url: str) -> dict[str, tuple[list[str], list[str]]]:
    """Each source's check outcomes and version hashes, in order."""
    store = Store(db_url, migrate=False)
    try:
        with store.session() as s:
            names = {i: n for i, n in s.execute(select(Page.id, SourceRow.name).join(
                SourceRow, col(SourceRow.id) == Page.source_id))}
            out: dict[str, tuple[list[str], list[str]]] = {n: ([], []) for n in names.values()}
            for page_id, outcome in s.execute(select(Check.page_id, Check.outcome)
                                              .order_by(col(Check.id))):
                out[names[page_id]][0].append(outcome)
            for page_id, digest in s.execute(select(Version.page_id, Version.content_hash)
                                             .order_by(col(Version.id))):
                out[names[page_id]][1].append(digest)
            return out
    finally:
        store.close()


def test_two_workers_store_what_one_process_stores(tmp_path: Path, hosts: list[Host],
                                                   db_url: str) -> None:
    urls = {f"h{k}-{i}": h.add(f"/p{i}.html", f"{h.address}第{i}号通知")
            for k, h in enumerate(hosts) for i in range(5)}
    sources = sources_file(tmp_path, urls, more='[[watchers]]\nemail = "a@example.org"\n'
                           'sources = ["h*"]\n')
    one = f"sqlite:///{tmp_path / 'one.db'}"
    for rounds in range(2):
        split = run_check(sources, db_url, "--workers", "2", outbox=tmp_path / "split")
        alone = run_check(sources, one, "--workers", "1", outbox=tmp_path / "alone")
        assert split.returncode == alone.returncode == 0, split.stderr + alone.stderr
        assert "15 sources in 2 worker processes" in split.stderr
        assert "worker processes" not in alone.stderr
        assert split.stdout.splitlines()[-1] == alone.stdout.splitlines()[-1]
        if rounds == 0:
            for h in hosts:
                h.texts["/p1.html"] += "（已修订）"
    got, want = archive(db_url), archive(one)
    assert got == want
    assert got["h0-1"][0] == ["new", "changed"] and got["h0-2"][0] == ["new", "unchanged"]
    assert split.stdout.splitlines()[-1].startswith("有变化 3，无变化 12；提醒：已发送 3，")
    assert "（3 changed, 12 unchanged; alerts: 3 sent, " in split.stdout.splitlines()[-1]
    mails = [sorted(p.name for p in (tmp_path / d).rglob("*.eml")) for d in ("split", "alone")]
    assert len(mails[0]) == len(mails[1]) > 0  # delivered once, by the parent


def test_a_listings_documents_and_a_document_asked_for_are_checked_by_the_workers(
        tmp_path: Path, site: Site, hosts: list[Host], sqlite_url: str) -> None:
    column = Column(site, 3)
    column.serve_replies()
    pages = "".join(f'[[sources]]\nname = "h{k}"\nurl = "{h.add("/a.html", f"第{k}号")}"\n\n'
                    for k, h in enumerate(hosts))
    sources = write_sources(tmp_path / "sources.toml", pages + column_source(site))
    first = run_check(sources, sqlite_url, "--workers", "2", "--json")
    assert first.returncode == 0, first.stderr
    found = json.loads(first.stdout)["results"]
    assert sorted((r["source"], r["document"] or "") for r in found if r["source"] == NAME) \
        == [(NAME, "")] + [(NAME, site.url(f"/col/t2021{n:04d}_{n}.html")) for n in (100, 101, 102)]
    assert {r["outcome"] for r in found} == {"new"} and len(found) == 7

    doc = site.url("/col/t20210101_101.html")
    column.amended.add(101)
    asked = run_check(sources, sqlite_url, "--workers", "2", "--source", doc,
                      "--source", "h?")
    assert asked.returncode == 0, asked.stderr
    assert "3 sources in 2 worker processes" in asked.stderr
    assert asked.stdout.splitlines()[-1] == "有变化 1，无变化 3（1 changed, 3 unchanged）"
    assert f"{NAME} ↳ {doc}" in asked.stdout


def test_a_hosts_concurrency_is_shared_between_workers_not_multiplied(
        tmp_path: Path, hosts: list[Host], sqlite_url: str) -> None:
    big, small = hosts[0], hosts[1]
    big.delay = small.delay = 0.2
    urls = {f"big-{i}": big.add(f"/b{i}.html", f"大站第{i}号") for i in range(12)}
    urls |= {f"small-{i}": small.add(f"/s{i}.html", f"小站第{i}号") for i in range(2)}
    sources = sources_file(tmp_path, urls, "host_concurrency = 3\nconcurrency = 8\n")
    done = run_check(sources, sqlite_url, "--workers", "2", "--json")
    assert done.returncode == 0, done.stderr
    outcomes = [r["outcome"] for r in json.loads(done.stdout)["results"]]
    assert outcomes == ["new"] * 14
    assert big.most <= 3, f"{big.most} requests at once on a host allowed 3"
    assert big.most >= 2  # both workers had some of it: shared, and used


def test_the_results_are_printed_before_the_workers_have_ended(
        tmp_path: Path, hosts: list[Host], sqlite_url: str) -> None:
    """A worker's last steps after its report (its store closed, its process ended) are
    not waited for before the results are printed: the output and the workers' ends
    overlap (``monitor.parallel``, "Ending").  Here every worker waits, after reporting,
    for a file the test makes only once it has read the whole ``--json``."""
    urls = {f"h{k}-{i}": h.add(f"/p{i}.html", f"{h.address}第{i}号通知")
            for k, h in enumerate(hosts) for i in range(2)}
    sources = sources_file(tmp_path, urls)
    let_go = tmp_path / "let-go"
    env = dict(os.environ, MONITOR_DATABASE_URL=sqlite_url,
               MONITOR_TEST_WORKER_HOLD=str(let_go))
    proc = subprocess.Popen(monitor_cmd("check", "--sources", str(sources), "--no-deliver",
                                        "--json", "--workers", "2"),
                            cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    printed = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line == "}\n":  # the end of the JSON document
                printed.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert printed.wait(60), "no results printed while the workers were ending"
        assert proc.poll() is None  # the workers still wait: the output came first
        outcomes = [r["outcome"] for r in json.loads("".join(lines))["results"]]
        assert outcomes == ["new"] * 6
    finally:
        let_go.touch()
        proc.wait(60)
    assert proc.returncode == 0


def test_a_host_with_a_delay_stays_in_one_worker(tmp_path: Path, hosts: list[Host],
                                                 sqlite_url: str) -> None:
    slow, other = hosts[0], hosts[1]
    urls = {f"slow-{i}": slow.add(f"/d{i}.html", f"限速站第{i}号") for i in range(8)}
    urls |= {f"other-{i}": other.add(f"/o{i}.html", f"他站第{i}号") for i in range(2)}
    sources = sources_file(tmp_path, urls, "host_concurrency = 4\n"
                           f'host_delays = {{"{slow.address}" = 0.25}}\n')
    done = run_check(sources, sqlite_url, "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert "10 sources in 2 worker processes" in done.stderr
    assert done.stdout.splitlines()[-1] == "首次收录 10（10 new）"
    # Slots open a delay apart, but the first request of a run can leave late (its
    # connection is the process's first), so the first two starts seen here may be
    # close on a busy machine.  A host split between the two workers shows otherwise:
    # two spacings side by side, the 8 requests over ~3 delays instead of ≥ 6.
    starts = sorted(slow.starts)
    assert len(starts) == 8 and starts[-1] - starts[0] >= 6 * 0.24, starts


def children(pid: int) -> list[int]:
    """The processes ``pid`` started that are still running."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    found = [int(p) for p in path.read_text().split()] if path.exists() else []
    return [p for p in found if _state(p) != "Z"]


@pytest.fixture
def hanging(hosts: list[Host]) -> Iterator[tuple[Host, Host, threading.Event]]:
    """Host 0 answers at once; host 1's /hang.html answers only when the test ends."""
    release = threading.Event()
    fast, stuck = hosts[0], hosts[1]

    def hang(req: Request) -> Response:
        release.wait(60)
        return Response(page("迟到的页面"), headers=HTML)

    stuck.site.route("/hang.html", hang)
    yield fast, stuck, release
    release.set()


def _fast_and_stuck(tmp_path: Path, hanging: tuple[Host, Host, threading.Event],
                    database_url: str, *, stuck: bool = True
                    ) -> tuple[dict[str, str], Path, dict[str, str]]:
    """Three pages that answer at once (and one that hangs): their URLs by name, the
    sources file and the environment of a ``monitor check`` of them."""
    fast, hang, _ = hanging
    urls = {f"fast-{i}": fast.add(f"/f{i}.html", f"快站第{i}号") for i in range(3)}
    if stuck:
        urls["stuck"] = hang.site.url("/hang.html")
    sources = sources_file(tmp_path, urls, "fetch_deadline = 50\nread_timeout = 50\n")
    return urls, sources, dict(os.environ, MONITOR_DATABASE_URL=database_url)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_a_killed_worker_reports_its_sources_as_errors_and_the_pass_fails(
        tmp_path: Path, hanging: tuple[Host, Host, threading.Event], sqlite_url: str) -> None:
    urls, sources, env = _fast_and_stuck(tmp_path, hanging, sqlite_url)
    fast, stuck, _ = hanging
    proc = subprocess.Popen(monitor_cmd("check", "--sources", str(sources), "--no-deliver",
                                        "--json", "--workers", "2"), cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: stuck.site.hits("/hang.html") and len(fast.starts) == 3
                   and len(children(proc.pid)) == 1, what="the fast worker done, one stuck")
        started = time.monotonic()
        os.kill(children(proc.pid)[0], signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert time.monotonic() - started < 10  # reported, not waited for
    assert proc.returncode == 1, err
    assert "1 worker process(es) ended unexpectedly" in err
    results = {r["source"]: r for r in json.loads(out)["results"]}
    assert sorted(results) == sorted(urls)
    assert all(results[f"fast-{i}"]["outcome"] == "new" for i in range(3))
    assert results["stuck"]["outcome"] == "error"
    assert results["stuck"]["error"] == KILLED
    with Store(sqlite_url).session() as s:  # the dead worker's leases given back
        assert s.exec(select(Page).where(col(Page.lease_owner).is_not(None))).all() == []


KILLED = ("worker process ended unexpectedly (killed by SIGKILL) before reporting this "
          "source; its check may have been stored (see `monitor history`)")


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_a_source_stored_by_a_worker_killed_before_reporting_it_is_not_said_lost(
        tmp_path: Path, site: Site, hanging: tuple[Host, Host, threading.Event],
        sqlite_url: str) -> None:
    """A listing is reported once its documents are checked: a worker killed while one of
    them hangs has stored the listing's own check (new, with its version), so the error
    must not read as if nothing of it had been stored."""
    fast, _, release = hanging
    column = Column(site, 3)
    column.serve_replies()
    hang = "/col/t20210101_101.html"

    def late(req: Request) -> Response:
        release.wait(60)
        return Response(page("迟到的答复"), headers=HTML)

    site.route(hang, late)
    urls = {f"fast-{i}": fast.add(f"/f{i}.html", f"快站第{i}号") for i in range(3)}
    sources = sources_file(tmp_path, urls, "fetch_deadline = 50\nread_timeout = 50\n",
                           more=column_source(site))
    env = dict(os.environ, MONITOR_DATABASE_URL=sqlite_url)
    proc = subprocess.Popen(monitor_cmd("check", "--sources", str(sources), "--no-deliver",
                                        "--json", "--workers", "2"), cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: site.hits(hang) and len(fast.starts) == 3
                   and len(children(proc.pid)) == 1, what="the listing's worker alone, stuck")
        os.kill(children(proc.pid)[0], signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 1, err
    results = {r["source"]: r for r in json.loads(out)["results"]}
    assert results[NAME]["outcome"] == "error" and results[NAME]["error"] == KILLED
    with Store(sqlite_url).session() as s:  # stored: `monitor history` shows it
        stored = s.exec(select(Check.outcome).join(Page, col(Page.id) == Check.page_id)
                        .where(Page.url == site.url("/col/index.html"))).all()
    assert stored == ["new"]


def test_a_lease_left_by_a_killed_check_on_this_machine_is_taken_at_once(
        tmp_path: Path, hanging: tuple[Host, Host, threading.Event], sqlite_url: str) -> None:
    """``kill -9`` of a whole ``monitor check`` leaves the leases it held (a batch takes
    dozens ahead): the next pass takes those of a process that no longer exists at once,
    instead of waiting for each in turn until it runs out."""
    _, sources, env = _fast_and_stuck(tmp_path, hanging, sqlite_url, stuck=False)
    cmd = monitor_cmd("check", "--sources", str(sources), "--no-deliver", "--json",
                      "--workers", "1")
    subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, check=True, timeout=60)
    gone = subprocess.Popen(["true"])
    gone.wait()  # a process id of this machine that has ended
    store = Store(sqlite_url)
    with store.session() as s:
        for p in s.exec(select(Page)).all():
            p.lease_owner = f"{socket.gethostname()}:{gone.pid}"
            p.lease_expires = utcnow() + timedelta(hours=1)
            s.add(p)
        s.commit()
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert time.monotonic() - started < 30, done.stderr  # not 150 s a page
    results = json.loads(done.stdout)["results"]
    assert sorted(r["outcome"] for r in results) == ["unchanged"] * 3, done.stdout


def test_a_lease_of_a_live_process_or_another_machine_is_not_taken() -> None:
    from monitor.holder import ended_here

    gone = subprocess.Popen(["true"])
    gone.wait()
    assert ended_here(f"{socket.gethostname()}:{gone.pid}")
    assert not ended_here(f"{socket.gethostname()}:{os.getppid()}")  # alive
    assert not ended_here(f"{socket.gethostname()}:{os.getpid()}")  # this very process
    assert not ended_here(f"another-host-{socket.gethostname()}:{gone.pid}")
    assert not ended_here("monitor-status")


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_a_zombie_holder_has_ended_and_a_live_one_with_a_strange_name_has_not() -> None:
    """A process killed and not yet reaped (a parent that never waits, a slow PID 1)
    still answers ``kill(pid, 0)``: its leases must still be taken over at once.  A live
    process whose name holds ``) Z (`` is not mistaken for one."""
    from monitor.holder import ended_here

    here = socket.gethostname()
    odd = subprocess.Popen([sys.executable, "-c", "import time; open('/proc/self/comm', 'w')"
                            ".write('x) Z (y'); time.sleep(60)"])
    zombie = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        zombie.kill()  # and not waited for: <defunct> until the end of the test
        wait_until(lambda: _state(zombie.pid) == "Z", 10, "the zombie")
        wait_until(lambda: "Z (" in Path(f"/proc/{odd.pid}/comm").read_text(), 10, "the name")
        assert ended_here(f"{here}:{zombie.pid}")
        assert not ended_here(f"{here}:{odd.pid}")
    finally:
        odd.kill()
        odd.wait()
        zombie.wait()


# ``monitor check &`` in a shell script: SIGINT ignored, inherited through exec.
SIGINT_IGNORED = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                  "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])")


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize(("sig", "ignoring"), [(signal.SIGINT, False), (signal.SIGKILL, False),
                                               (signal.SIGKILL, True)])
def test_the_workers_stop_with_their_parent(tmp_path: Path, sig: signal.Signals,
                                            ignoring: bool,
                                            hanging: tuple[Host, Host, threading.Event],
                                            sqlite_url: str) -> None:
    """Ctrl-C (SIGINT to the parent alone, as ``kill -INT`` sends it), or the parent
    killed outright — even one started with SIGINT ignored, as ``monitor check &`` in a
    script is: no worker checks on, and the leases they held are given back."""
    _, sources, env = _fast_and_stuck(tmp_path, hanging, sqlite_url)
    _, stuck, _ = hanging
    cmd = monitor_cmd("check", "--sources", str(sources), "--no-deliver", "--workers", "2")
    if ignoring:
        cmd = [sys.executable, "-c", SIGINT_IGNORED, *cmd[1:]]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: stuck.site.hits("/hang.html") and children(proc.pid),
                   what="a worker waiting for the hanging page")
        workers = children(proc.pid)
        if ignoring:
            assert all(_sigint_ignored(w) for w in workers)
        os.kill(proc.pid, sig)
        proc.communicate(timeout=20)
        wait_until(lambda: all(_state(w) == "Z" for w in workers), timeout=5,
                   what="the workers gone")  # (or only not yet reaped)
    finally:
        proc.kill()
    assert proc.returncode != 0
    with Store(sqlite_url).session() as s:  # given back: the next pass need not wait
        assert s.exec(select(Page).where(col(Page.lease_owner).is_not(None))).all() == []


def _sigint_ignored(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return False


def _state(pid: int) -> str:
    """A process's state letter (Z for a zombie), "Z" for one gone."""
    return process_state(pid) or "Z"


def src(name: str, url: str, fetch: str = "http") -> SourceConfig:
    return SourceConfig(name=name, url=url, fetch=fetch)


def test_the_parts_keep_hosts_whole_unless_sharing_is_harmless() -> None:
    many = [src(f"a{i}", f"http://a.gov.cn/{i}") for i in range(60)]
    few = [src(f"b{i}", f"http://b.gov.cn/{i}") for i in range(20)]
    drawn = [src("c0", "http://c.gov.cn/"), src("b-shot", "http://b.gov.cn/x", "browser")]
    spaced = Settings(host_delay=2.0, host_concurrency=4, concurrency=9)
    parts = partition(many + few + drawn, 2, spaced)
    assert [len(p.sources) for p in parts] == [60, 22]  # a.gov.cn whole: it has a delay
    assert {s.name for s in parts[1].sources} >= {"b-shot", "b0"}  # the browser joins b
    assert [p.concurrency for p in parts] == [5, 4] and not any(p.host_limits for p in parts)

    quick = Settings(host_delay=0, host_concurrency=5, concurrency=10)
    parts = partition(many + few + drawn, 2, quick)
    assert [len(p.sources) for p in parts] == [41, 41]  # a.gov.cn evens them out
    assert sorted(p.host_limits["a.gov.cn"] for p in parts) == [2, 3]  # sum: the setting
    one_each = Settings(host_delay=0, host_concurrency=1, concurrency=10)
    assert [len(p.sources) for p in partition(many + few, 2, one_each)] == [60, 20]


def test_a_workers_sources_keep_the_files_order_not_host_by_host() -> None:
    """Each part lists its sources as the file does (``IN_ORDER``): a worker checks
    ``concurrency`` of them at a time in that order, so dealt host by host its first
    checks all waited for one host's ``host_concurrency`` while its other hosts idled."""
    spread = [src(f"p{i}", f"http://h{i % 4}.gov.cn/{i}") for i in range(12)]
    parts = partition(spread, 2, Settings(host_delay=0, host_concurrency=1, concurrency=4))
    place = {s.name: i for i, s in enumerate(spread)}
    for part in parts:
        assert [place[s.name] for s in part.sources] == sorted(place[s.name]
                                                               for s in part.sources)
    assert {len({_host_of(s) for s in p.sources[:2]}) for p in parts} == {2}


def _host_of(source: SourceConfig) -> str:
    return source.url.split("/")[2]


def test_a_worker_asks_its_hosts_side_by_side(tmp_path: Path, sqlite_url: str) -> None:
    """Two workers, each with two hosts of one request at a time (``host_concurrency``
    1) and two checks at a time: all four hosts are asked at once, as one process asks
    them.  Each request waits (at most ``GATE`` s) until four are in flight; the
    first ones must get there.  Dealt host by host, a worker's two first checks were on
    the same host: one request in flight per worker, two in all, until the gate gave up."""
    made = [Host(f"127.0.0.{i}") for i in (2, 3, 4, 5)]
    lock, full, opened = threading.Lock(), threading.Event(), threading.Event()
    flying = [0]
    try:
        for h in made:
            def gated(req: Request, h: Host = h) -> Response:
                with lock:
                    flying[0] += 1
                    if flying[0] >= 4:
                        full.set()
                if not opened.is_set():
                    full.wait(GATE)
                    opened.set()  # the first four (or the gate's end) let every later one by
                with lock:
                    flying[0] -= 1
                return Response(page(h.texts[req.path]), headers=HTML)
            for i in range(3):
                h.texts[f"/q{i}.html"] = f"{h.address}第{i}号"
                h.site.route(f"/q{i}.html", gated)
        urls = {f"q{i}-{k}": made[k].site.url(f"/q{i}.html") for i in range(3)
                for k in range(4)}  # the hosts alternate in the file
        sources = sources_file(tmp_path, urls, "host_concurrency = 1\nconcurrency = 4\n")
        done = run_check(sources, sqlite_url, "--workers", "2", "--json")
    finally:
        for h in made:
            h.site.close()
    assert done.returncode == 0, done.stderr
    assert [r["outcome"] for r in json.loads(done.stdout)["results"]] == ["new"] * 12
    assert full.is_set(), "never four requests at once: each worker asked one host at a time"


GATE = 10.0  # seconds the first requests wait for each other (workers may start late)


def test_auto_is_one_worker_per_core_and_per_fifty_sources(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.setattr("monitor.parallel.usable_cores", lambda: 4)
    assert workers_for("auto", 49, 8) == 1  # checked in this process, as before
    assert workers_for("auto", 120, 8) == 2
    assert workers_for("auto", 10_000, 8) == 4
    assert workers_for("auto", 10_000, 3) == 3  # each worker needs one of the checks
    assert workers_for(6, 4, 8) == 4


# A worker too slow to unwind within the grace (a loaded machine), made certain here
STOP_GRACE_NONE = ("import sys, runpy, monitor.parallel; monitor.parallel.STOP_GRACE = 0.0; "
                   "sys.argv = ['monitor', *sys.argv[1:]]; runpy.run_module('monitor', "
                   "run_name='__main__')")


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_a_worker_killed_after_the_grace_has_its_leases_given_back_by_the_parent(
        tmp_path: Path, hanging: tuple[Host, Host, threading.Event], sqlite_url: str) -> None:
    """Ctrl-C, and a worker that has not given its leases back when ``STOP_GRACE`` is
    over is killed: the parent gives them back once every worker has ended, so the next
    pass does not wait ``lease_seconds`` for the page it was checking."""
    _, sources, env = _fast_and_stuck(tmp_path, hanging, sqlite_url)
    _, stuck, _ = hanging
    cmd = [sys.executable, "-c", STOP_GRACE_NONE, "check", "--sources", str(sources),
           "--no-deliver", "--workers", "2"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: stuck.site.hits("/hang.html") and children(proc.pid),
                   what="a worker waiting for the hanging page")
        os.kill(proc.pid, signal.SIGINT)
        proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode != 0
    with Store(sqlite_url).session() as s:
        assert s.exec(select(Page).where(col(Page.lease_owner).is_not(None))).all() == []


def _report_and_exit(send: object) -> None:
    send.send(("done", []))  # type: ignore[attr-defined]
    os._exit(0)


def test_a_worker_that_reports_and_ends_in_one_breath_does_not_end_the_pass() -> None:
    """A worker's last message and its end seen by the same wake-up of the parent (a
    loaded machine: the parent got the core after both) — the pass ends as usual, every
    result kept.  It used to stop ``monitor check`` with ``未找到：… not found: 7 is not
    registered`` (exit 3), the checks stored but none printed (seen in the bench)."""
    import multiprocessing
    from multiprocessing.connection import wait

    from monitor.parallel import NoBar, Part, _Pool, _Worker

    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_report_and_exit, args=(send,))
    process.start()
    send.close()
    assert wait([process.sentinel], timeout=30)  # ended, not reaped: both are ready now
    assert receive.poll()
    pool = _Pool.__new__(_Pool)
    pool.workers = [_Worker(Part(), process, receive)]
    pool._collect(NoBar(), 0)
    assert pool.workers[0].final == []
    process.join()
    assert process.exitcode == 0
