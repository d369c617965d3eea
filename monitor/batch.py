"""``monitor check`` over many pages: leases and states taken in batches, checks
committed in groups.

Checked one at a time, a page cost three transactions and three thread hops besides
its fetch: its lease (``Schedule.take``), its state (``Store.page_state``) and its
commit (which ends the lease).  Over 1,000 unchanged pages that bookkeeping cost a
third of a check's CPU.  Here, two things are done for many pages at once:

* **ahead of the checks**, for a batch of pages in the sources' order, one thread hop
  takes the leases of the free ones (``Schedule.take_many``: one transaction) and reads
  their states (``Store.page_states``: two queries).  The checks then start from those
  states.  A page someone else holds is checked as before, on its own
  (``monitor.exclusive``: it waits for the holder, then reports it busy).  At most about
  two batches are held ahead of the running checks, and one task renews every lease
  still held, so a slow host never lets a lease run out; a check ends its page's lease
  in its commit, and what is left when the pass ends is given back then.
* **group commit** (``GroupCommit``): a record waits a few ms for others, and the group
  is written in ONE transaction (``Store.commit_checks``), each record through its own
  revision test: one thread hop, one ``BEGIN IMMEDIATE``, one lock statement, one check
  insert, one page update a set of columns and one commit for the lot.  Changed records
  join as well as unchanged ones: a version's rows (versions, paragraphs, spans, changes,
  alerts) are written record by record inside the group's transaction, and the B-tree
  pages they share (the tables' last leaves, the search index's segments) are written to
  the WAL once a group, not once a check.  Each version's work outside the lock
  (``Store._prepare``: its delta, digests, seal and paragraph plan) is done in the
  group's thread before the writers' turn is taken, as a single commit does it.  A
  listing's record with its ``documents`` commits alone (``Store.commit_check``): its
  documents are synced through ORM objects (``storage.documents``), and a listing is
  rare enough that grouping it is not worth a second path.  A group that fails is
  written again one record at a time, so a bad record fails alone.

Durability: a check's result is returned (and so printed and logged) only after the
transaction holding its row has committed.  A crash loses the records waiting for
their group, and none of them had been reported stored: what a crash a few ms earlier
would lose.  Correctness under overlapping checks is the same as for single checks:
the leases are the same rows, only taken many at a time, and every record passes the
same revision test as ``Store.commit_check`` (a conflict is made again from the page
as it is now; a stale fetch is stored as a superseded check row); two records of one
page in a group are tested in order, the second against the page as the first left it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, TypeVar

from monitor.config import SourceConfig
from monitor.errors import MonitorError, reported
from monitor.exclusive import keep_renewed
from storage.instant import utcnow
from storage.records import CheckRecord, CommitResult, PageState

if TYPE_CHECKING:
    from storage import Store
    from storage.schedule import Schedule

T = TypeVar("T")
WINDOW = 0.004  # seconds a record waits for others to join its group
CheckFn = Callable[[SourceConfig, PageState | None, bool], Awaitable[T]]


class GroupCommit:
    """Records (any but a listing's with documents) committed in groups of up to ``size``
    (``Store.commit_checks``): a group is written when it is full or ``WINDOW`` s after
    its first record came."""

    def __init__(self, store: Store, size: int) -> None:
        self.store, self.size = store, max(1, size)
        self.pending: list[tuple[CheckRecord, asyncio.Future[CommitResult]]] = []
        self.full = asyncio.Event()
        self.writer: asyncio.Task[None] | None = None

    async def commit(self, rec: CheckRecord) -> CommitResult:
        """Store ``rec`` (no ``documents``) with its group; returns once its group has
        committed."""
        done: asyncio.Future[CommitResult] = asyncio.get_running_loop().create_future()
        self.pending.append((rec, done))
        if len(self.pending) >= self.size:
            self.full.set()
        if self.writer is None:
            self.writer = asyncio.create_task(self._write())
        return await done

    async def _write(self) -> None:
        try:
            while self.pending:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self.full.wait(), WINDOW)
                group, self.pending = self.pending[:self.size], self.pending[self.size:]
                if len(self.pending) < self.size:
                    self.full.clear()
                await self._store(group)
        finally:
            self.writer = None

    async def _store(self, group: list[tuple[CheckRecord, asyncio.Future[CommitResult]]]
                     ) -> None:
        try:
            results = await asyncio.to_thread(self._commit, [rec for rec, _ in group])
        except Exception as exc:  # a bug: every check of the group reports it
            results = [exc] * len(group)
        for (_, done), res in zip(group, results, strict=True):
            if done.done():  # its check was cancelled meanwhile
                continue
            if isinstance(res, BaseException):
                done.set_exception(res)
            else:
                done.set_result(res)

    def _commit(self, records: list[CheckRecord]) -> list[CommitResult | MonitorError]:
        try:
            return list(self.store.commit_checks(records))
        except MonitorError:
            if len(records) == 1:
                raise
        out: list[CommitResult | MonitorError] = []
        for rec in records:  # one by one: the failing record fails alone
            try:
                out.append(self.store.commit_check(rec))
            except MonitorError as exc:
                out.append(exc)
        return out


class Leases:
    """The leases a pass took ahead of its checks; renewed together until given back."""

    def __init__(self, store: Store, schedule: Schedule) -> None:
        self.store, self.schedule = store, schedule
        self.held: set[int] = set()

    async def take(self, page_ids: Sequence[int]) -> tuple[set[int], dict[int, PageState]]:
        """Take the free pages among ``page_ids`` and read their states (one thread hop);
        the ids taken and the states read (none when reading failed)."""
        def both() -> tuple[set[int], dict[int, PageState]]:
            taken = self.schedule.take_many(page_ids, utcnow())
            with reported("cannot read a batch of pages (each check reads its own)"):
                return taken, self.store.page_states(sorted(taken))
            return taken, {}

        with reported("cannot take a batch of pages (each is taken on its own)"):
            taken, states = await asyncio.to_thread(both)
            self.held |= taken
            return taken, states
        return set(), {}

    def done(self, page_id: int) -> None:
        """The check of the page ended (its commit gave the lease back, or will not)."""
        self.held.discard(page_id)

    async def give_back(self, page_id: int) -> None:
        self.held.discard(page_id)
        with reported("cannot give a lease back (it runs out by itself)"):
            await asyncio.to_thread(self.schedule.give_back, page_id)

    @asynccontextmanager
    async def renewing(self) -> AsyncIterator[None]:
        """Renew the leases held while the block runs; give back what is left after."""
        task = asyncio.create_task(self._renew())
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
            left, self.held = sorted(self.held), set()
            with reported("cannot give leases back (they run out by themselves)"):
                if left:
                    await asyncio.to_thread(lambda: [self.schedule.give_back(i) for i in left])

    async def _renew(self) -> None:
        await keep_renewed(self.schedule, lambda: sorted(self.held),
                           "cannot renew the leases of a running pass")


async def each(leases: Leases, items: Sequence[tuple[SourceConfig, int]], check: CheckFn[T],
               concurrency: int) -> list[T]:
    """``check(source, state, held)`` of every (source, page id), ``concurrency`` at a
    time in order.  ``held``: the page's lease was taken in its batch, ``state`` read then
    (None if reading failed); not held: the page was busy, the check takes it alone."""
    size = max(16, 4 * concurrency)
    queue: asyncio.Queue[tuple[int, SourceConfig, PageState | None, bool] | None] = \
        asyncio.Queue(maxsize=size)
    results: list[tuple[int, T]] = []

    async def produce() -> None:
        for start in range(0, len(items), size):
            batch = items[start:start + size]
            taken, states = await leases.take([page_id for _, page_id in batch])
            for k, (src, page_id) in enumerate(batch, start):
                await queue.put((k, src, states.get(page_id), page_id in taken))
        for _ in range(concurrency):
            await queue.put(None)

    async def work() -> None:
        while (item := await queue.get()) is not None:
            k, src, state, held = item
            results.append((k, await check(src, state, held)))

    try:
        async with leases.renewing(), asyncio.TaskGroup() as tasks:
            tasks.create_task(produce())
            for _ in range(concurrency):
                tasks.create_task(work())
    except BaseExceptionGroup as failed:  # as gather did: the error itself (handle_errors)
        raise failed.exceptions[0] from None
    return [r for _, r in sorted(results, key=lambda kr: kr[0])]
