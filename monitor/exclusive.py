"""One check of a page at a time, across processes, for checks started by hand.

The daemon claims a page only when it is due (``monitor.runner``, ``storage.schedule``).
``monitor check`` checks whatever it is asked to, but first takes the same lease in the
database, so it never checks a page while a replica, the daemon or another ``monitor
check`` does: it waits for the holder to finish (polling every ``POLL`` s), and after
``wait`` seconds reports the page busy, naming the holder.  It says once (a warning in
the log, on stderr) that it waits and for whom, so a pass that seems to hang is
explained; both messages give the lease's end in ``settings.timezone``, like every
other time shown.  While it holds the lease it renews it, so a slow host never lets the
daemon start the same page.

The check gives the lease back in its own commit (``Lease.end`` → ``CheckRecord.lease``,
the schedule left as it was): one write transaction fewer per check; ``exclusive`` gives
it back itself only when no commit did (the check failed to store, or was never made).

The lease is the first line of defence; ``Store.commit_check`` is the second: even a
check whose lease ran out commits in order (see its docstring).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from loguru import logger

from monitor.errors import PageBusyError, reported
from monitor.holder import ended_here
from monitor.types import exact_time
from storage.instant import utcnow
from storage.records import LeaseEnd

if TYPE_CHECKING:
    from storage.schedule import Schedule

POLL = 0.25  # seconds between two tries to take a page someone else checks


@dataclass
class Lease:
    """The lease ``exclusive`` holds.  ``Checker.check(…, lease=lease.end)`` ends it in the
    check's commit; the caller then sets ``given_back`` from ``CheckResult.released``."""

    owner: str
    given_back: bool = False

    def end(self) -> LeaseEnd:
        return LeaseEnd(self.owner)


@asynccontextmanager
async def exclusive(schedule: Schedule, page_id: int, *, name: str, wait: float,
                    timezone: str = "Asia/Shanghai") -> AsyncIterator[Lease]:
    """Hold page ``page_id``'s lease for the block; raises ``PageBusyError`` after ``wait``
    (times in messages are shown in ``timezone``)."""
    await _take(schedule, page_id, name, wait, timezone)
    lease = Lease(schedule.owner)
    renewing = asyncio.create_task(_renew(schedule, page_id))
    try:
        yield lease
    finally:
        renewing.cancel()
        with suppress(asyncio.CancelledError):
            await renewing
        if not lease.given_back:
            with reported(f"{name}: cannot give the lease back (it runs out by itself)"):
                await asyncio.to_thread(schedule.give_back, page_id)


async def _take(schedule: Schedule, page_id: int, name: str, wait: float,
                timezone: str) -> None:
    deadline = time.monotonic() + wait
    told = retried = False
    while not await asyncio.to_thread(schedule.take, page_id, utcnow()):
        owner, until = await asyncio.to_thread(schedule.holder, page_id)
        if owner is None and not retried:  # its lease ended between the two reads
            retried = True  # taken again at once, the first time (not in a loop)
            continue
        if owner and ended_here(owner) and await asyncio.to_thread(
                schedule.take_from, page_id, owner, utcnow()):
            return
        holder = owner or "another process"
        lease = f", whose lease runs until {_until(until, timezone)}" if until else ""
        if time.monotonic() >= deadline:
            raise PageBusyError(f"{name} is being checked by {holder}{lease}; "
                                f"waited {wait:g} s")
        if not told:
            told = True
            logger.warning("{}：另一进程正在检查此页，等它查完再查（waiting for {}{}; at most "
                           "{:g} s）", name, holder, lease, wait)
        await asyncio.sleep(POLL)


def _until(at: datetime | None, timezone: str) -> str:
    """A lease's end as every time is shown: in ``timezone``, to the second, with its
    offset (SQLite gives it back without one: it is UTC)."""
    if at is None:
        return "?"
    return exact_time(at if at.tzinfo else at.replace(tzinfo=UTC), timezone)


async def _renew(schedule: Schedule, page_id: int) -> None:
    await keep_renewed(schedule, lambda: [page_id], "cannot renew the lease of a running check")


async def keep_renewed(schedule: Schedule, page_ids: Callable[[], Sequence[int]],
                       what: str) -> None:
    """Renew the leases of ``page_ids()`` every third of the lease time, until cancelled
    (a slow host must not lose them); a failed round is logged as ``what``."""
    every = max(0.5, schedule.lease.total_seconds() / 3)
    while True:
        await asyncio.sleep(every)
        with reported(what):
            await asyncio.to_thread(schedule.renew, page_ids(), utcnow())
