"""Writers of one SQLite database taking turns, across threads and processes.

SQLite lets one writer at a time in; one that finds the write lock taken sleeps in
SQLite's busy handler (1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms…) however soon the
lock is free.  With ten checks in flight in a process, or two ``monitor check`` workers
(``monitor.parallel``) each storing first versions of 15 ms, those sleeps and not the
writes set the rate: measured, two workers used one core between them.

So a write transaction first takes its turn here: a lock of the process (threads), then,
for the outermost one, an exclusive ``flock`` on a file beside the database
(``<database>-writers``): the kernel wakes the next process as soon as the last one lets
go, and a process that dies lets go with it.  SQLite still keeps apart any writer that
does not take turns (an older release, the ``sqlite3`` shell): its busy timeout applies
as before.  The file is opened again in a forked child (a ``flock`` belongs to an open
file, which a child shares with its parent: they would not exclude each other).  Where
the file cannot be made (a read-only directory: then SQLite cannot write either), turns
are taken within the process only.  An in-memory database has no file: turns within the
process.

The wait for the file has no time limit, as a write lock held by a live process has
none in SQLite's own terms either once a writer is inside: what it waits for is the
other process's transaction, which ends (or the process does).
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path


class WriterTurns:
    """A re-entrant context manager: the turn to write (see the module docstring)."""

    def __init__(self, database: Path | None) -> None:
        self._path = None if database is None else Path(f"{database}-writers")
        self._fd: int | None = None
        self._fresh()

    def _fresh(self) -> None:
        """This process's own state: a forked child starts with no turn and its own file
        (a fork in the middle of a parent's turn copies the parent's lock as held)."""
        self._lock = threading.RLock()
        self._depth, self._held, self._pid = 0, False, os.getpid()
        self._fd = None

    def __enter__(self) -> WriterTurns:
        if self._pid != os.getpid():
            if self._fd is not None:  # the parent's open file: let this process's copy go
                os.close(self._fd)
            self._fresh()
        self._lock.acquire()
        if self._depth == 0:
            self._held = self._take_file()
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._held:
            self._held = False
            fcntl.flock(self._fd, fcntl.LOCK_UN)  # type: ignore[arg-type]
        self._lock.release()

    def _take_file(self) -> bool:
        fd = self._file()
        if fd is None:
            return False
        fcntl.flock(fd, fcntl.LOCK_EX)
        return True

    def _file(self) -> int | None:
        if self._path is None or self._fd is not None:
            return self._fd
        try:  # first use in this process (a forked child opens its own)
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:
            self._path = None  # turns within the process only (see the module docstring)
        return self._fd
