"""Writers of one SQLite database take turns across processes (``storage.turns``): a
``monitor check`` worker forked from the parent waits for the parent's (or a sibling's)
write instead of sleeping in SQLite's busy handler, and never writes at the same time."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from storage import Store
from storage.turns import WriterTurns

ROOT = Path(__file__).resolve().parent.parent


def _child_takes_turn(turns: WriterTurns, report: int) -> None:
    """In a forked child: take the turn, write the time it came, exit."""
    try:
        with turns:
            os.write(report, f"{time.monotonic():.6f}".encode())
    finally:
        os._exit(0)


def test_a_forked_process_waits_for_the_turn_it_inherited_the_file_of(tmp_path: Path) -> None:
    turns = WriterTurns(tmp_path / "monitor.db")
    with turns:  # the file is opened here, before the fork: the child must open its own
        pass
    read, write = os.pipe()
    with turns:
        pid = os.fork()
        if pid == 0:
            _child_takes_turn(turns, write)
        time.sleep(0.3)
        released = time.monotonic()
    os.waitpid(pid, 0)
    came = float(os.read(read, 64))
    assert came >= released  # the child wrote only after the parent's turn ended


def test_turns_nest_within_a_thread_and_the_file_is_let_go_after_the_outermost(
        tmp_path: Path) -> None:
    turns = WriterTurns(tmp_path / "monitor.db")
    read, write = os.pipe()
    with turns, turns:  # a transaction inside a write: no deadlock
        pass
    pid = os.fork()
    if pid == 0:
        _child_takes_turn(turns, write)
    os.waitpid(pid, 0)
    assert os.read(read, 64)  # the child got the turn: nothing was left held


def test_a_database_in_a_missing_folder_still_writes_within_the_process(tmp_path: Path) -> None:
    turns = WriterTurns(tmp_path / "gone" / "monitor.db")
    with turns:
        pass
    assert not (tmp_path / "gone").exists()


def test_two_processes_storing_through_one_store_lose_nothing(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/monitor.db")
    store.close()  # no connection shared with the children
    pids = []
    for k in range(2):
        pid = os.fork()
        if pid == 0:
            try:
                for i in range(40):
                    with store.transaction() as c:
                        c.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (k INT, i INT)")
                        c.exec_driver_sql("INSERT INTO t VALUES (?, ?)", (k, i))
            finally:
                os._exit(0)
        pids.append(pid)
    for pid in pids:
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    with store.transaction() as c:
        rows = c.exec_driver_sql("SELECT k, count(*) FROM t GROUP BY k").all()
    assert sorted(tuple(r) for r in rows) == [(0, 40), (1, 40)]
    assert (tmp_path / "monitor.db-writers").exists()


def test_a_write_session_takes_the_turn_with_the_orm_already_imported(tmp_path: Path) -> None:
    """The first write session of a process (a worker's first version or change) imports
    SQLModel and the models (~0.1 s) before its turn, not while the sibling worker
    waits for the turn."""
    url = f"sqlite:///{tmp_path}/monitor.db"
    Store(url).close()  # made and migrated here: the child opens it at head, ORM-free
    script = f"""
import sys
from storage import Store, turns
store = Store({url!r})
assert "storage.models" not in sys.modules, "the store opened at head without the ORM"
seen = []
enter = turns.WriterTurns.__enter__
def watched(self):
    seen.append(sorted(m for m in ("sqlmodel", "storage.models", "storage.files")
                       if m in sys.modules))
    return enter(self)
turns.WriterTurns.__enter__ = watched
with store.write_session() as s:
    s.connection()
print(seen[0])
"""
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "['sqlmodel', 'storage.files', 'storage.models']"
