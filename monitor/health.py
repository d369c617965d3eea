"""What the daemon knows about its own health: database writes, outages, the config.

``/healthz`` must tell the truth when nothing can be stored (a full disk, PostgreSQL
stopped), so it is built from what happened, not from "the scheduler runs":

* **Database writes.**  Every write of the daemon's jobs (a claim, a check's commit, a
  release, a lease renewal, an alert claim, a reload's sync) reports success or failure
  here.  Two rules make the daemon *unhealthy* (HTTP 503):

  - *failing*: a write failed and none succeeded since, and that is ``MIN_FAILURES`` (3)
    failures or ``FAILING_GRACE`` (30 s) old (a full disk, a database that went away; a
    single source whose lease could not be released is not tried again for a while), as
    long as the last failure is less than ``health_window`` old (an idle daemon with 6 h
    intervals is not unhealthy for 6 h over one failed write);
  - *failure share*: over the last ``settings.health_window`` seconds (300), at least
    ``settings.health_failure_share`` (0.5) of the check attempts could not be stored,
    with at least ``MIN_FAILURES`` failures (a database that fails every other write).

  Only a write that changed a row counts as a success: on a full disk the reads, and an
  ``UPDATE`` that matches nothing, go on working while every real write fails, and that
  must not look like a recovery.
* **Outages.**  A connection-level error (SQLAlchemy ``OperationalError`` and kin: the
  server is down, the connection dropped, the disk is full) starts an *outage*: one
  ERROR line "database unreachable since …" however many jobs fail during it, and one
  line "database back after N s" at the first check stored again (or a reload's
  sync).  The small writes around a check (a claim, a release, a lease renewal, an
  alert claim) do not end an outage: on a nearly full SQLite disk they still fit in the
  WAL's free frames while every check's commit fails, and "back" after each of them
  would flap the log and ``/healthz``.  Outside an outage they count as successes.
  Other storage errors (a constraint, a bug) are logged each time, as before.
* **Config.**  A refused reload, or a sources file that is missing or unreadable, makes
  the daemon *degraded*: still HTTP 200, because it keeps checking with the last good
  configuration and a restart would not start at all with the broken file.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from loguru import logger
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from monitor.errors import StorageError
from storage.instant import utcnow

MIN_FAILURES = 3
FAILING_GRACE = 30.0  # seconds
_OUTAGE_CAUSES = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)
_OUTAGE_WORDS = ("OperationalError", "InterfaceError", "DisconnectionError")


def is_outage(exc: BaseException | str) -> bool:
    """Whether a storage error means the database is away (not one bad statement)."""
    if isinstance(exc, str):  # a check result keeps only the message
        return any(w in exc for w in _OUTAGE_WORDS)
    return isinstance(exc.__cause__, _OUTAGE_CAUSES) or is_outage(str(exc))


@dataclass
class DbHealth:
    window: float = 300.0
    max_share: float = 0.5
    failing_since: datetime | None = None  # first failed write with no success since
    failures: int = 0  # failed writes since then
    outage_since: datetime | None = None  # the same, for connection-level errors
    last_error: str | None = None
    last_failure_at: datetime | None = None
    last_stored_at: datetime | None = None  # a check committed
    attempts: deque[tuple[float, bool]] = field(default_factory=deque)

    # --- reports -------------------------------------------------------------------

    def ok(self, *, small: bool = False, began: datetime | None = None) -> None:
        """A write succeeded; a ``small`` one (claim, release, lease, alert claim) does
        not end an outage (see the module doc), nor does a check that ``began`` before
        the outage did (its commit may have gone through just before it)."""
        if self.outage_since is not None and (
                small or (began is not None and began < self.outage_since)):
            return
        if self.outage_since is not None:
            took = (utcnow() - self.outage_since).total_seconds()
            logger.warning("database back after {:.0f} s ({} failed operations meanwhile)",
                           took, self.failures)
        self.failing_since = self.outage_since = None
        self.failures = 0

    def failed(self, what: str, exc: BaseException | str, *, logged: bool = False) -> None:
        """A write (or a read, ``what`` says) failed; logs it unless an outage is on or
        the caller ``logged`` it already."""
        self.failures += 1
        self.last_failure_at = utcnow()
        self.failing_since = self.failing_since or self.last_failure_at
        self.last_error = f"{what}: {exc}"
        if not is_outage(exc):
            if not logged:
                logger.error("{}: {}", what, exc)
        elif self.outage_since is None:
            self.outage_since = self.failing_since
            logger.error("database unreachable since {} (further errors are not logged "
                         "until it is back): {}: {}",
                         self.outage_since.isoformat(timespec="seconds"), what, exc)

    def check_attempt(self, stored: bool) -> None:
        """A check was attempted: claimed and committed (True), or not storable."""
        now = time.monotonic()
        self.attempts.append((now, stored))
        while self.attempts and self.attempts[0][0] < now - self.window:
            self.attempts.popleft()
        if stored:
            self.last_stored_at = utcnow()

    @contextmanager
    def guard(self, what: str, *, write: bool = True) -> Iterator[None]:
        """Run a database step of a job: a ``StorageError`` is reported, not raised."""
        try:
            yield
        except StorageError as exc:
            self.failed(what, exc)
            return
        if write:
            self.ok()

    # --- verdict -------------------------------------------------------------------

    def problems(self) -> list[str]:
        """Why the database side is unhealthy (empty: it is not)."""
        out = []
        if self._failing():
            out.append(f"database writes failing since "
                       f"{self.failing_since.isoformat(timespec='seconds')} "
                       f"({self.failures} failures; last: {self.last_error})")
        failed, total = self.share()
        if failed >= MIN_FAILURES and failed >= self.max_share * total:
            out.append(f"{failed} of {total} checks in the last {self.window:g} s could not "
                       "be stored")
        return out

    def _failing(self) -> bool:
        if self.failing_since is None or self.last_failure_at is None:
            return False
        now = utcnow()
        if (now - self.last_failure_at).total_seconds() > self.window:
            return False
        return (self.failures >= MIN_FAILURES
                or (now - self.failing_since).total_seconds() >= FAILING_GRACE)

    def share(self) -> tuple[int, int]:
        cutoff = time.monotonic() - self.window
        recent = [stored for at, stored in self.attempts if at >= cutoff]
        return sum(not s for s in recent), len(recent)

    def describe(self) -> dict[str, object]:
        failed, total = self.share()
        return {"last_stored_at": _iso(self.last_stored_at),
                "failing_since": _iso(self.failing_since),
                "unreachable_since": _iso(self.outage_since),
                "recent_checks": total, "recent_store_failures": failed,
                "window_seconds": self.window, "last_error": self.last_error}


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None
