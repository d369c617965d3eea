"""Ctrl-C during ``monitor check`` split across worker processes (``monitor.parallel``):
at the risky moments (inside the forks, while a worker starts, while one hangs on a
page), the command ends — within a generous bound, a hang detector and no timing
assertion — says what it stored, exits 130, and leaves no lease held and no worker
behind.  Real processes, real loopback servers, SIGINT sent to the command's process
group as a terminal's Ctrl-C sends it.

``MONITOR_TEST_FORK_PAUSE`` (a test hook of ``monitor.parallel``) makes each fork pause
inside ``os.fork`` (its at-fork hooks), in the parent and in the child: the moment where
a Ctrl-C used to be dropped (the parent carried on, or hung; a worker printed a
traceback)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlmodel import col, select

from storage import Store
from storage.models import Check, Page
from tests.test_check_workers import (  # noqa: F401  (fixtures)
    STOP_GRACE_NONE,
    Host,
    _fast_and_stuck,
    children,
    hanging,
    hosts,
    sources_file,
)
from tests.test_daemon_run import ROOT, monitor_cmd, wait_until

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").exists(),
                                reason="needs Linux /proc")

HANG = 30  # seconds: a command that has not ended by then hangs
PAUSE = 2.0  # seconds each fork pauses (the test hook)
STORED = re.compile(r"interrupted: (\d+) check\(s\) stored before the stop, (\d+) changed, "
                    r"(\d+) new")


class Command:
    """``monitor check`` in its own process group (as a terminal runs it), its stderr in
    a file read while it runs."""

    def __init__(self, cmd: list[str], env: dict[str, str], err: Path) -> None:
        self.err = err
        with open(err, "wb") as f:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                         stderr=f, start_new_session=True)

    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8", errors="replace")

    def ctrl_c(self) -> None:
        os.killpg(self.proc.pid, signal.SIGINT)

    def ended(self) -> int:
        """The exit code; fails (and kills the group) when it does not end in ``HANG``."""
        try:
            return self.proc.wait(timeout=HANG)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"monitor check still running {HANG}s after Ctrl-C:\n"
                                 + self.stderr()) from None

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def no_process_left(self) -> None:
        """No worker outlives the command (its group empties; a zombie is reaped by init)."""
        def gone() -> bool:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return True
            return False

        wait_until(gone, timeout=10, what="every process of the command gone")


def told(err: str, db_url: str, before: int = 0) -> tuple[int, int, int]:
    """The checks, changes and first versions the note says were stored; asserted equal
    to what the database holds beyond the ``before`` checks of earlier runs (every check
    in it is one of these runs'), the note Chinese first."""
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert "never awaited" not in err and "Aborted!" not in err, err
    found = STORED.search(err)
    assert found, err
    assert err.index("已中断：") < err.index("技术细节：interrupted")
    with Store(db_url).session() as s:
        outcomes = s.exec(select(Check.outcome).order_by(col(Check.id))).all()[before:]
        held = s.exec(select(Page).where(col(Page.lease_owner).is_not(None))).all()
    assert held == [], "leases left held"
    said = int(found[1]), int(found[2]), int(found[3])
    assert said == (len(outcomes), outcomes.count("changed"), outcomes.count("new"))
    return said


@pytest.mark.parametrize("when", [0.5, 1.5], ids=["inside-the-first-fork",
                                                  "inside-the-second-fork"])
def test_a_ctrl_c_while_the_workers_start_stops_the_check(
        tmp_path: Path, when: float, sqlite_url: str,
        hanging: tuple[Host, Host, threading.Event]) -> None:  # noqa: F811
    """The reported hang: Ctrl-C just after ``checking … in 2 worker processes``.  Inside
    the first fork it was lost in the parent and the child alike (the pass went on, or
    hung on a lock the fork left held); inside the second, the first worker died of it
    unreported (exit 1, "Aborted!", a traceback) while the second checked everything."""
    one, other, _ = hanging
    urls = {f"{k}-{i}": h.add(f"/{k}{i}.html", f"{k}站第{i}号")
            for k, h in (("a", one), ("b", other)) for i in range(3)}
    sources = sources_file(tmp_path, urls)
    env = dict(os.environ, MONITOR_DATABASE_URL=sqlite_url,
               MONITOR_TEST_FORK_PAUSE=str(PAUSE))
    check = Command(monitor_cmd("check", "--sources", str(sources), "--workers", "2"), env,
                    tmp_path / "err")
    try:
        wait_until(lambda: "in 2 worker processes" in check.stderr(), what="the workers")
        time.sleep(when * PAUSE)
        check.ctrl_c()
        assert check.ended() == 130, check.stderr()
    finally:
        check.kill()
    check.no_process_left()
    told(check.stderr(), sqlite_url)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_ctrl_c_during_the_pass_says_what_it_stored(
        tmp_path: Path, workers: str, sqlite_url: str,
        hanging: tuple[Host, Host, threading.Event]) -> None:  # noqa: F811
    """Three pages changed and stored, one hanging: the note counts the three (their
    alerts go out at the next run) and the command exits 130, not 1 ("a worker process
    died")."""
    fast, stuck, _ = hanging
    urls, sources, env = _fast_and_stuck(tmp_path, hanging, sqlite_url)
    (tmp_path / "first").mkdir()
    first = sources_file(tmp_path / "first", {n: u for n, u in urls.items() if n != "stuck"})
    subprocess.run(monitor_cmd("check", "--sources", str(first), "--no-deliver"), cwd=ROOT,
                   env=env, capture_output=True, check=True, timeout=HANG)
    for path in list(fast.texts):
        fast.texts[path] += "（已修订）"
    check = Command(monitor_cmd("check", "--sources", str(sources), "--workers", workers),
                    env, tmp_path / "err")
    try:
        wait_until(lambda: stuck.site.hits("/hang.html") and len(fast.starts) == 6
                   and all(f"fast-{i} changed" in check.stderr() for i in range(3)),
                   what="three pages stored, one hanging")
        check.ctrl_c()
        assert check.ended() == 130, check.stderr()
    finally:
        check.kill()
    check.no_process_left()
    err = check.stderr()
    assert told(err, sqlite_url, before=3) == (3, 3, 0)
    assert "中断前已保存 3 次检查，其中 3 次发现变化" in err
    assert "monitor alerts deliver" in err


def test_a_second_ctrl_c_ends_the_wait_for_a_worker_that_does_not_stop(
        tmp_path: Path, sqlite_url: str,
        hanging: tuple[Host, Host, threading.Event]) -> None:  # noqa: F811
    """A worker that cannot unwind (frozen here with SIGSTOP; a stalled database in life)
    is waited for ``STOP_GRACE`` seconds (300 here): a second Ctrl-C kills it at once,
    and its leases are given back all the same."""
    fast, stuck, _ = hanging
    _, sources, env = _fast_and_stuck(tmp_path, hanging, sqlite_url)
    cmd = [sys.executable, "-c", STOP_GRACE_NONE.replace("0.0", "300.0"), "check",
           "--sources", str(sources), "--workers", "2"]
    check = Command(cmd, env, tmp_path / "err")
    try:
        wait_until(lambda: stuck.site.hits("/hang.html") and len(fast.starts) == 3
                   and children(check.proc.pid), what="a worker hanging")
        for worker in children(check.proc.pid):
            os.kill(worker, signal.SIGSTOP)
        os.kill(check.proc.pid, signal.SIGINT)
        time.sleep(1)
        assert check.proc.poll() is None  # waiting for the frozen workers
        os.kill(check.proc.pid, signal.SIGINT)
        assert check.ended() == 130, check.stderr()
    finally:
        check.kill()
    check.no_process_left()
    told(check.stderr(), sqlite_url)


def test_a_ctrl_c_while_the_command_still_loads_exits_130_not_aborted(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C in the first half second of `monitor check` lands while click loads the
    command's module: it said "Aborted!" and exited 1, the code of a worker that died."""
    from click.testing import CliRunner

    from monitor.cli import LazyGroup, cli

    def interrupted(self: LazyGroup, name: str) -> object:
        raise KeyboardInterrupt  # as SIGINT does, mid-import

    monkeypatch.setattr(LazyGroup, "_import", interrupted)
    monkeypatch.setattr(LazyGroup, "own_process", True)
    monkeypatch.delitem(cli.commands, "check", raising=False)
    out = CliRunner().invoke(cli, ["check"])
    assert out.exit_code == 130, out.output
    assert "已中断（Ctrl-C）" in out.output and "Aborted!" not in out.output


HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute("CREATE TABLE held_by_another (note TEXT)")
db.execute("INSERT INTO held_by_another VALUES ('另一个进程的数据')")
print("held", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
print("committed", flush=True)
"""


def opened(pid: int, path: Path) -> bool:
    """``pid`` or one of its children has ``path`` open."""
    for p in [pid, *children(pid)]:
        try:
            fds = list(Path(f"/proc/{p}/fd").iterdir())
        except OSError:  # ended meanwhile
            continue
        for fd in fds:
            try:
                if Path(os.readlink(fd)) == path:
                    return True
            except OSError:
                continue
    return False


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_ctrl_c_while_another_process_holds_the_write_lock_stops_the_check(
        tmp_path: Path, workers: str, sqlite_url: str,
        hosts: list[Host]) -> None:  # noqa: F811
    """Another process (a ``sqlite3`` shell, a stuck tool) holds SQLite's write lock:
    the check waits for it (its busy timeout: 600 s here) and a Ctrl-C used to be heard
    only when that wait ended.  Now the command stops at once — before the test's own
    bound, far shorter than the timeout — says what it stored (nothing: it never got the
    lock), exits 130 and leaves the other process's transaction whole: it commits after."""
    urls = {f"{k}-{i}": h.add(f"/{k}{i}.html", f"{k}站第{i}号")
            for k, h in (("a", hosts[0]), ("b", hosts[1])) for i in range(3)}
    sources = sources_file(tmp_path, urls)
    env = dict(os.environ, MONITOR_DATABASE_URL=sqlite_url, MONITOR_TEST_BUSY_TIMEOUT="600")
    subprocess.run(monitor_cmd("check", "--sources", str(sources), "--no-deliver"), cwd=ROOT,
                   env=env, capture_output=True, check=True, timeout=HANG)
    database = tmp_path / "monitor.db"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(database)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    check = None
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        check = Command(monitor_cmd("check", "--sources", str(sources), "--no-deliver",
                                    "--workers", workers), env, tmp_path / "err")
        # its first write's turn taken (storage.turns): it waits for SQLite's lock now
        wait_until(lambda: opened(check.proc.pid, Path(f"{database}-writers")),
                   what="the check at its first write")
        time.sleep(0.5)
        check.ctrl_c()
        assert check.ended() == 130, check.stderr()
        check.no_process_left()
        holder.stdin.write("commit\n")
        holder.stdin.flush()
        assert holder.stdout.readline() == "committed\n"
    finally:
        if check is not None:
            check.kill()
        holder.kill()
        holder.wait()
    assert told(check.stderr(), sqlite_url, before=6) == (0, 0, 0)
    import sqlite3

    with sqlite3.connect(database) as db:
        assert db.execute("SELECT note FROM held_by_another").fetchall() == [
            ("另一个进程的数据",)]
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
