"""Running the checks the scheduler fires: claims, politeness and the concurrency cap.

Order of waits for one run, each for a reason:

1. **the host's queue** (``host_concurrency`` checks at a time per host in this daemon,
   one by default), then its minimum
   delay or its back-off after a 429/503 (``HostLimiter.wait_time``), so a check never
   holds a slot of the global cap while it only waits for its host: ten slow sources on
   one host cannot starve the rest;
2. **the global cap** (``settings.concurrency``);
3. **the claim** in the database, only now: a replica takes a page when it can fetch it
   at once, so replicas share the work by how fast they go (a replica that claimed
   early would queue pages the others could fetch), and a lost claim (not due, or
   another replica has it) costs one ``UPDATE``.

After the check the lease is released and ``next_check_at`` set to the plan's next
slot.  A shutdown cancels queued runs at once and running checks after the grace time;
a cancelled check has not committed (the store writes a check in one transaction at the
end), so nothing partial is left, and its lease is given back by ``release_all``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from loguru import logger

from monitor.config import SourceConfig
from monitor.fetch.politeness import HostLimiter
from monitor.health import DbHealth
from monitor.metrics import Metrics
from monitor.pipeline import Checker
from monitor.scheduler import Plan
from monitor.types import CheckResult
from storage.models import utcnow
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


class CheckRunner:
    def __init__(self, schedule: Schedule, limiter: HostLimiter, concurrency: int,
                 metrics: Metrics, resolve: Resolve, db: DbHealth | None = None) -> None:
        self.schedule, self.limiter, self.metrics = schedule, limiter, metrics
        self.db = db or DbHealth()  # every database step reports here (``monitor.health``)
        self.resolve = resolve
        self.gate = asyncio.Semaphore(concurrency)
        self.hosts: dict[str, asyncio.Semaphore] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}  # queued or running, by source
        self.claimed: dict[str, int] = {}  # source -> page id, while we hold its lease
        self.running: dict[str, int] = {}  # the subset whose check runs now
        self.stopping = False
        self.started = utcnow()
        self.last_result_at: datetime | None = None
        self.on_alerts: Callable[[], None] = lambda: None
        self.on_documents: Callable[[], None] = lambda: None
        self._lease_thread = ThreadPoolExecutor(1, thread_name_prefix="leases")

    async def run(self, name: str) -> None:
        """One scheduled run of a source; returns at once if it is already queued here."""
        task = asyncio.current_task()
        if self.stopping or name in self.tasks or task is None:
            return
        self.tasks[name] = task
        try:
            await self._queue(name)
        except asyncio.CancelledError:
            pass  # our own shutdown cancelled it: end the task quietly (see _check)
        finally:
            self.tasks.pop(name, None)
            self.claimed.pop(name, None)
            self.running.pop(name, None)

    def _host(self, host: str) -> asyncio.Semaphore:
        if host not in self.hosts:  # the same limit as the fetcher's (HostLimiter)
            self.hosts[host] = asyncio.Semaphore(self.limiter.limit_for(host))
        return self.hosts[host]

    async def _queue(self, name: str) -> None:
        target = self.resolve(name)
        if target is None:
            return
        host = (urlsplit(target.source.url).hostname or "").lower()
        async with self._host(host):
            await asyncio.sleep(self.limiter.wait_time(host))
            async with self.gate:
                target = self.resolve(name)  # removed or changed while queued?
                if target is None or self.stopping:
                    return
                claim = await self._claim(name, target)
                if claim is None:
                    return
                self.claimed[name] = target.page_id
                self._record_lag(claim)
                result = await self._check(name, target)
        await self._release(name, target, claim)
        self._stored(name, result)
        self.metrics.observe(result)
        self.last_result_at = utcnow()
        if result.alerts:
            self.on_alerts()
        if result.documents_added:
            self.on_documents()  # fetch the new documents now, not at the next sweep

    async def _release(self, name: str, target: Target, claim: Claim) -> None:
        next_at = target.plan.next_after(max(utcnow(), claim.at))
        with self.db.guard(f"{name}: cannot release the claim (its lease runs out by itself)",
                           write=False):
            if await asyncio.to_thread(self.schedule.release, target.page_id, next_at):
                self.db.ok()
            else:
                logger.warning("{}: the lease ran out during the check; another replica may "
                               "have checked it too (raise lease_seconds?)", name)

    async def _claim(self, name: str, target: Target) -> Claim | None:
        with self.db.guard(f"{name}: cannot claim the check", write=False):
            claim = await asyncio.to_thread(self.schedule.claim, target.page_id, utcnow())
            if claim is None:  # no row written: proves nothing about writes
                logger.debug("{}: not due, or another replica has it", name)
            else:
                self.db.ok()
            return claim
        self.db.check_attempt(stored=False)
        return None

    def _stored(self, name: str, result: CheckResult) -> None:
        """Tell the health whether the check reached the database."""
        if result.error_kind == "storage":  # the pipeline logged it already
            self.db.failed(f"{name}: could not store the check", result.error or "",
                           logged=True)
            self.db.check_attempt(stored=False)
        else:
            self.db.ok()
            self.db.check_attempt(stored=True)

    async def _check(self, name: str, target: Target) -> CheckResult:
        self.running[name] = target.page_id
        self.metrics.running.inc()
        with logger.contextualize(source=name):  # JSON logs: "source" on every line
            try:
                page = target.page_id if target.document else None
                return await target.checker.check(target.source, page_id=page)
            except asyncio.CancelledError:
                # Cancelled before the check's single commit: nothing of it is stored.
                logger.warning("check of {} abandoned at shutdown (nothing stored)", name)
                raise
            finally:
                self.metrics.running.dec()
                self.running.pop(name, None)

    def _record_lag(self, claim: Claim) -> None:
        # A catch-up after downtime is not scheduler lag: only slots since we started.
        if claim.due_at is not None and claim.due_at >= self.started:
            self.metrics.lag.set(max(0.0, (utcnow() - claim.due_at).total_seconds()))

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
                    self.db.ok()

    def close(self) -> None:
        self._lease_thread.shutdown(wait=False)

    async def stop(self, grace: float) -> None:
        """Take no new checks; let running ones finish within ``grace`` s, then cancel."""
        self.stopping = True
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
