"""Running the due checks: queues per host, claims, politeness and the concurrency cap.

The daemon's dispatcher ``submit``s each source when it is due.  Order of waits for one
run, each for a reason:

1. **the host's queue** (``host_concurrency`` checks at a time per host in this daemon,
   one by default): a name in a heap, not a task; a task is made only when the
   host has a free slot, so 10,000 due sources on one host cost 10,000 list entries,
   not 10,000 coroutines.  Then the host's minimum
   delay or its back-off after a 429/503 (``HostLimiter.wait_time``), so a check never
   holds a slot of the global cap while it only waits for its host: ten slow sources on
   one host cannot starve the rest;
2. **the global cap** (``settings.concurrency``);
3. **the claim** in the database, only now: a replica takes a page when it can fetch it
   at once, so replicas share the work by how fast they go (a replica that claimed
   early would queue pages the others could fetch), and a lost claim (not due, or
   another replica has it) costs one ``UPDATE`` and one read of the holder: a holder
   that is a process of this machine which has ended (a ``monitor check`` killed with
   ``kill -9``, ``monitor.holder.ended_here``) loses the page at once
   (``Schedule.claim_from``), as ``monitor check`` takes it over, instead of blocking its
   slot until the lease runs out.

Both queues (a host's, the cap's) hand out *earliest deadline first*, not first come:
a slot's deadline is its time; a page never checked (a new source, the first pass of
10,000) has its submission plus ``FIRST_CHECK_GRACE`` (or its interval, if shorter).  So
the checks on schedule go first and the first pass takes the capacity left over, until
its pages are that old; first come, a first pass of 10,000 pages at ~30 checks a second
held back every slot that came due meanwhile (a lag of minutes), and after it the
backlog of those slots still took minutes to clear.  The cap's queue follows the same
order, or a host's first-pass check waiting for it would go ahead of another host's
slot.

Sources in a queue, or started and not yet claimed, are the *backlog*: ``backlog()``
counts them and ``lag()`` says how long the oldest has waited since its slot (the
gauges ``monitor_due_backlog`` and ``monitor_scheduler_lag_seconds``).  A gauge of the
lag of checks that *started* alone reads 0 while thousands wait behind a slow host.

The check's own commit ends the lease and sets ``next_check_at`` to the plan's next
slot (``LeaseEnd``: one transaction a check less than a release of its own, ~1 ms of
CPU on PostgreSQL); a check that committed nothing (the database failed) gives its
lease back in a transaction of its own.  A shutdown cancels queued runs at once and
running checks after the grace time; a cancelled check has not committed (the store
writes a check in one transaction at the end), so nothing partial is left, and its
lease is given back by ``release_all``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from loguru import logger

from monitor.config import SourceConfig
from monitor.fetch.politeness import HostLimiter
from monitor.health import DbHealth
from monitor.holder import ended_here
from monitor.metrics import Metrics
from monitor.pipeline import Checker
from monitor.scheduler import Plan
from monitor.types import CheckResult
from storage.instant import utcnow
from storage.records import LeaseEnd
from storage.schedule import Claim, Schedule


@dataclass(frozen=True)
class Target:
    """What a run needs, looked up when it starts (the file may have changed since)."""

    source: SourceConfig
    page_id: int
    plan: Plan
    checker: Checker
    document: bool = False  # a listing's document: ``source`` is its follow settings


Resolve = Callable[[str], Target | None]
LEASE_LOST = ("{}: the lease ran out during the check; another replica may have checked it "
              "too (raise lease_seconds?)")
FIRST_CHECK_GRACE = 600.0  # seconds a page never checked yields to slots (see above)


class Gate:
    """A semaphore whose waiters get in by the deadline they give, earliest first."""

    def __init__(self, n: int) -> None:
        self.free = n
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @asynccontextmanager
    async def slot(self, deadline: float) -> AsyncIterator[None]:
        await self._acquire(deadline)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, deadline: float) -> None:
        if self.free > 0 and not self._waiting:
            self.free -= 1
            return
        fut = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (deadline, next(self._order), fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._release()  # handed the slot as it was cancelled: pass it on
            raise  # a cancelled waiter stays in the heap; _release skips it

    def _release(self) -> None:
        while self._waiting:
            fut = heapq.heappop(self._waiting)[2]
            if not fut.done():
                fut.set_result(None)
                return
        self.free += 1


class CheckRunner:
    def __init__(self, schedule: Schedule, limiter: HostLimiter, concurrency: int,
                 metrics: Metrics, resolve: Resolve, db: DbHealth | None = None) -> None:
        self.schedule, self.limiter, self.metrics = schedule, limiter, metrics
        self.db = db or DbHealth()  # every database step reports here (``monitor.health``)
        self.resolve = resolve
        self.gate = Gate(concurrency)
        # host -> (deadline, order, source) of the sources waiting for a slot of it: a heap
        self.queues: dict[str, list[tuple[float, int, str]]] = {}
        self.deadline: dict[str, float] = {}  # source -> its deadline, while queued
        self._order = itertools.count()
        self.busy: dict[str, int] = {}  # host -> tasks holding one of its slots
        self.waiting: dict[str, datetime] = {}  # due, not started: source -> due since
        self.tasks: dict[str, asyncio.Task[None]] = {}  # holding a host slot, by source
        self.claimed: dict[str, int] = {}  # source -> page id, while we hold its lease
        self.running: dict[str, int] = {}  # the subset whose check runs now
        self.stopping = False
        self.started = utcnow()
        self.last_lag = 0.0  # how late the latest check started
        self.last_result_at: datetime | None = None
        self.on_alerts: Callable[[], None] = lambda: None
        self.on_documents: Callable[[], None] = lambda: None
        self.on_released: Callable[[str, datetime], None] = lambda name, at: None  # next slot
        self._lease_thread = ThreadPoolExecutor(1, thread_name_prefix="leases")

    # --- the queues ----------------------------------------------------------------

    def submit(self, name: str, due_at: datetime | None = None) -> bool:
        """Queue a due source behind its host; False if already queued or running.

        ``due_at``: its slot (None: due now, as a page never checked).  Only the checks
        that hold a slot of their host are tasks; the rest wait as names in a queue.
        """
        if self.stopping or name in self.waiting or name in self.tasks:
            return False
        target = self.resolve(name)
        if target is None:
            return False
        host = (urlsplit(target.source.url).hostname or "").lower()
        now = utcnow()
        self.waiting[name] = min(now, max(due_at or now, self.started))
        if due_at is not None:
            deadline = due_at.timestamp()
        else:  # never checked: the slots of the others first, for a while
            grace = target.plan.seconds or FIRST_CHECK_GRACE  # a cron plan has none
            deadline = now.timestamp() + min(grace, FIRST_CHECK_GRACE)
        self.deadline[name] = deadline
        heapq.heappush(self.queues.setdefault(host, []), (deadline, next(self._order), name))
        self._pump(host)
        return True

    def backlog(self) -> int:
        """Sources due and not started (queued behind a host or the cap, or not yet
        claimed)."""
        return len(self.waiting)

    def lag(self) -> float:
        """Seconds the oldest due source has waited to start, or, when none waits, how
        late the latest check started.  A due slot from before this daemon started
        counts from the start: catching up after downtime is not lag."""
        if not self.waiting:
            return self.last_lag
        return max(0.0, (utcnow() - min(self.waiting.values())).total_seconds())

    def _pump(self, host: str) -> None:
        queue = self.queues.get(host)
        limit = self._limit(host)
        while queue and self.busy.get(host, 0) < limit and not self.stopping:
            name = heapq.heappop(queue)[2]
            self.busy[host] = self.busy.get(host, 0) + 1
            self.tasks[name] = asyncio.create_task(self._run(name, host))
        if not queue:
            self.queues.pop(host, None)

    def _limit(self, host: str) -> int:
        return self.limiter.limit_for(host)  # the same limit as the fetcher's

    async def _run(self, name: str, host: str) -> None:
        try:
            await self._queue(name, host)
        except asyncio.CancelledError:
            pass  # our own shutdown cancelled it: end the task quietly (see _check)
        finally:
            self.tasks.pop(name, None)
            self.waiting.pop(name, None)
            self.deadline.pop(name, None)
            self.claimed.pop(name, None)
            self.running.pop(name, None)
            self.busy[host] -= 1
            if not self.busy[host]:
                del self.busy[host]
            self._pump(host)

    async def _queue(self, name: str, host: str) -> None:
        await asyncio.sleep(self.limiter.wait_time(host))
        async with self.gate.slot(self.deadline.get(name, 0.0)):
            target = self.resolve(name)  # removed or changed while queued?
            if target is None or self.stopping:
                return
            claim = await self._claim(name, target)
            if claim is None:
                return
            self.waiting.pop(name, None)
            self.claimed[name] = target.page_id
            self._record_lag(claim, target)
            ends: list[datetime] = []
            result = await self._check(name, target, self._lease_end(target, claim, ends))
        # In the order they happened: the check's commit, then the release.  Reported the
        # other way round, a release failing as the database goes away was followed by
        # the commit's earlier success, read as "database back after 0 s".
        self._stored(name, result, claim.at)
        if result.released is None:  # nothing committed: the lease goes back on its own
            await self._release(name, target, claim)
        elif result.released:
            self.on_released(name, ends[-1])
        else:
            logger.warning(LEASE_LOST, name)
        self.metrics.observe(result)
        self.last_result_at = utcnow()
        if result.alerts:
            self.on_alerts()
        if result.documents_added:
            self.on_documents()  # fetch the new documents now, not at the next sweep

    def _lease_end(self, target: Target, claim: Claim,
                   ends: list[datetime]) -> Callable[[], LeaseEnd]:
        """The lease's end for the check's commit: its next slot after the commit (a slot
        that passed during a slow check is not run again), noted in ``ends``."""
        def end() -> LeaseEnd:
            ends.append(_next_slot(target, claim))
            return LeaseEnd(self.schedule.owner, ends[-1])
        return end

    async def _release(self, name: str, target: Target, claim: Claim) -> None:
        next_at = _next_slot(target, claim)
        with self.db.guard(f"{name}: cannot release the claim (its lease runs out by itself)",
                           write=False):
            if await asyncio.to_thread(self.schedule.release, target.page_id, next_at):
                self.db.ok(small=True)
                self.on_released(name, next_at)
            else:
                logger.warning(LEASE_LOST, name)

    async def _claim(self, name: str, target: Target) -> Claim | None:
        with self.db.guard(f"{name}: cannot claim the check", write=False):
            claim = await asyncio.to_thread(self._claim_or_take_over, name, target.page_id)
            if claim is None:  # no row written: proves nothing about writes
                logger.debug("{}: not due, or another replica has it", name)
            else:
                self.db.ok(small=True)
            return claim
        self.db.check_attempt(stored=False)
        return None

    def _claim_or_take_over(self, name: str, page_id: int) -> Claim | None:
        """The claim; lost to a holder of this machine that has ended, the claim from it."""
        now = utcnow()
        claim = self.schedule.claim(page_id, now)
        if claim is not None:
            return claim
        owner, _ = self.schedule.holder(page_id)
        if not owner or owner == self.schedule.owner or not ended_here(owner):
            return None
        claim = self.schedule.claim_from(page_id, owner, now)
        if claim is not None:
            logger.info("{}: took over the lease of {}, which has ended", name, owner)
        return claim

    def _stored(self, name: str, result: CheckResult, began: datetime) -> None:
        """Tell the health whether the check reached the database."""
        if result.error_kind == "storage":  # the pipeline logged it already
            self.db.failed(f"{name}: could not store the check", result.error or "",
                           logged=True)
            self.db.check_attempt(stored=False)
        else:
            self.db.ok(began=began)
            self.db.check_attempt(stored=True)

    async def _check(self, name: str, target: Target,
                     lease: Callable[[], LeaseEnd]) -> CheckResult:
        self.running[name] = target.page_id
        self.metrics.running.inc()
        with logger.contextualize(source=name):  # JSON logs: "source" on every line
            try:
                page = target.page_id if target.document else None
                return await target.checker.check(target.source, page_id=page, lease=lease)
            except asyncio.CancelledError:
                # Cancelled before the check's single commit: nothing of it is stored.
                logger.warning("check of {} abandoned at shutdown (nothing stored)", name)
                raise
            finally:
                self.metrics.running.dec()
                self.running.pop(name, None)

    def _record_lag(self, claim: Claim, target: Target) -> None:
        # A catch-up after downtime is not scheduler lag: only slots since we started.
        if claim.due_at is None:
            return  # a first check: no slot to be late for
        lag = max(0.0, (claim.at - max(claim.due_at, self.started)).total_seconds())
        self.last_lag = lag
        self.metrics.start_lag.observe(lag)
        if claim.due_at >= self.started and (missed := target.plan.missed(claim.due_at,
                                                                            claim.at)):
            self.metrics.skipped_runs(missed)

    async def renew(self) -> None:
        """Extend the leases of our checks (a slow host must not lose them).

        On a thread of its own: behind a burst of claims in the shared pool, a renewal
        could come after the lease ran out, and another replica would check the page too.
        """
        ids = list(self.claimed.values())
        if ids:
            loop = asyncio.get_running_loop()
            with self.db.guard("cannot renew the leases of running checks", write=False):
                if await loop.run_in_executor(self._lease_thread, self.schedule.renew, ids,
                                              utcnow()):
                    self.db.ok(small=True)

    def close(self) -> None:
        self._lease_thread.shutdown(wait=False)

    async def stop(self, grace: float) -> None:
        """Take no new checks; let running ones finish within ``grace`` s, then cancel."""
        self.stopping = True
        self.queues.clear()
        queued = [t for n, t in self.tasks.items() if n not in self.running]
        running = [t for n, t in self.tasks.items() if n in self.running]
        for t in queued:
            t.cancel()
        if running:
            logger.info("waiting up to {:g}s for {} running checks", grace, len(running))
            _, late = await asyncio.wait(running, timeout=grace)
            for t in late:
                t.cancel()
        await asyncio.gather(*queued, *running, return_exceptions=True)

    def cancel_running(self) -> None:
        for t in self.tasks.values():
            t.cancel()


def _next_slot(target: Target, claim: Claim) -> datetime:
    """The page's next slot once its check ends (a slot that passed during a slow check is
    not run again)."""
    return target.plan.next_after(max(utcnow(), claim.at))
