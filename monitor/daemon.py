"""``monitor run``: keep every source checked on schedule until SIGTERM/SIGINT.

One asyncio event loop runs everything: the *dispatcher* (below) starts due checks,
``monitor.runner`` runs them, an APScheduler ``AsyncIOScheduler`` fires the few service
jobs (the sources-file watcher, lease renewal, alert delivery, metrics refresh), and
blocking database calls go through ``asyncio.to_thread``.

The dispatcher: the database's ``pages.next_check_at`` is the schedule (the plans in
``monitor.scheduler`` only compute it), so there is no timer per source.  Each *look*
reads the pages whose slot falls in the next ``LOOKAHEAD`` seconds (and those due
since the last look): a page already due goes to the runner's host queues at once, one
to come gets a timer (``loop.call_later``) that hands it over at its slot.  The next
look comes when the window is half spent (``LOOK_EVERY``), or later when the earliest
slot beyond the window is further away, never later than the sweep period.  So 10,000
sources spread over 10 minutes (17 a second) cost one indexed query a second, and each
check is handed over at its slot, not at the next poll.  A check that sets its page's
next slot inside the window already read (a short interval) arms its own timer
(``wake_by``).  Every ``lease_seconds / 2`` (1–30 s), and when woken (start, reload, a
listing found documents), a look is a *full sweep*: every page due by the window's end
whose lease is free, including pages never checked, a page a killed replica held (its
lease expired), a slot missed while the daemon was down (one catch-up check, not one
per missed run), and the due documents of listings.  Every look also reads the due pages
leased by processes of this machine (``held_on``): one that has ended (a killed
``monitor check``) loses its page to the runner's claim at once, not when its lease
runs out.  10,000 sources cost a dictionary
entry and a ``Plan`` each, not an APScheduler job and a coroutine each; a timer exists
only for the few pages of the window.

Several replicas on PostgreSQL: each sees every due page; only the one that wins the
page's claim checks it (``storage.schedule``).

Stopping (SIGTERM/SIGINT) is bounded whatever the database does.  Running checks get
``shutdown_grace`` seconds, then are cancelled; but a step already in a thread (a claim,
a commit, a page being read) cannot be cancelled, and one blocked there (the database
locked by another process, a stalled connection, a heavily loaded machine) used to hold
the stop for as long as it stayed blocked: giving the leases back waited for the same
lock, and ``asyncio.run`` joins every thread of the default executor at exit.  So each
of the stop's own database steps waits at most ``STOP_WAIT`` seconds (leases and alerts
not given back run out by themselves), the daemon's threads are its own executor, and
those still busy ``STOP_WAIT`` seconds after the rest has stopped are left: they are
named in the log (not waited for) and ``monitor run`` exits without joining them
(``Daemon.abandoned``).  What they were doing is lost as a cancelled check's is: each
commit is one transaction.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from loguru import logger
from sqlalchemy.engine import make_url

from alerts.delivery import Deliverer
from monitor import capacity
from monitor.config import Config, SourceConfig
from monitor.diff import shutdown_diff_workers
from monitor.errors import MonitorError, StorageError, reported
from monitor.fetch import Fetcher, host_limiter
from monitor.follow import unlisted_plan
from monitor.health import DbHealth
from monitor.holder import HOST, WORKER
from monitor.logging import setup_logging
from monitor.metrics import Metrics, MetricsServer
from monitor.pipeline import Checker
from monitor.reload import Reloader, followed_warnings, parse_sources
from monitor.runner import CheckRunner, Target
from monitor.scheduler import Plan, SourcePlans, plan_for, plans
from monitor.watch import WATCH_EVERY, SourcesWatcher
from storage import Store
from storage.models import Alert, utcnow
from storage.schedule import PageRef, Schedule, single_daemon

DELIVER_EVERY = 30.0  # seconds between two runs of alert delivery (retries, digests)
SKIPS_EVERY = 300.0  # seconds between two summaries of skipped runs
METRICS_EVERY = 15.0  # seconds between two counts of the outbox for the gauges
DISPATCH_TICK = 0.2  # seconds: the shortest gap between two looks at the due pages
LOOKAHEAD = 2.0  # seconds: a look reads the slots this far ahead and arms timers for them
LOOK_EVERY = 1.0  # seconds between two looks while slots keep coming (< LOOKAHEAD)
TIMER_MARGIN = 0.005  # seconds a timer fires after its slot
# A look since the last one also takes pages due this long before it: a check released
# while the last look ran, with its next slot already passed, is not left to the sweep.
DISPATCH_OVERLAP = timedelta(seconds=5)
# seconds the stop waits, after the running checks (``shutdown_grace``), for each of its
# own database steps (giving leases and alerts back) and for work left in threads
STOP_WAIT = 5.0
T = TypeVar("T")


def retried(fn: Callable[[], T], what: str, attempts: int = 5) -> T:
    """Start-up steps that race with other replicas (migrations, the sources table)."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except StorageError as exc:
            if attempt == attempts:
                raise
            logger.warning("{} failed ({}), retrying", what, exc)
            time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


class Daemon:
    def __init__(self, sources: Path, *, log_json: bool = False) -> None:
        self.path, self.log_json = sources, log_json
        self.stop_event = asyncio.Event()
        self.force: Callable[[], None] = lambda: None  # a second signal: stop right now
        self.abandoned = 0  # threads still busy when it stopped: not waited for

    async def run(self) -> int:
        threads = ThreadPoolExecutor(thread_name_prefix="monitor")  # see the module doc
        asyncio.get_running_loop().set_default_executor(threads)
        try:
            await self._run()
        finally:
            self.abandoned = await _let_go(threads, STOP_WAIT)
        logger.info("monitor stopped")
        await logger.complete()
        return 0

    async def _run(self) -> None:
        watcher = SourcesWatcher(self.path)
        config = parse_sources(self.path, watcher.initial)
        setup_logging(json_lines=self.log_json or config.settings.log_json)
        metrics = Metrics()
        _route_std_logging()
        self._install_signals()
        url = config.settings.database_url
        with single_daemon(url):
            store = await asyncio.to_thread(retried, lambda: Store(url), "opening the database")
            try:
                async with Fetcher(config.settings, limiter=host_limiter(config.settings),
                                   on_fetched=metrics.observe_fetch) as fetcher:
                    running = _Running(config, store, fetcher, metrics, watcher,
                                       self.stop_event)
                    self.force = running.runner.cancel_running
                    await running.serve()
            finally:
                store.close()

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.stop_event.is_set():
            logger.warning("{} again: abandoning the running checks now", sig.name)
            self.force()
            return
        logger.info("{} received: stopping (no new checks)", sig.name)
        self.stop_event.set()


class _Running:
    """The daemon's state between start and stop."""

    def __init__(self, config: Config, store: Store, fetcher: Fetcher, metrics: Metrics,
                 watcher: SourcesWatcher, stop_event: asyncio.Event) -> None:
        s = config.settings
        self.config, self.store, self.fetcher = config, store, fetcher
        self.stop_event = stop_event
        self.checker = Checker(config, store, fetcher)
        self.deliverer = Deliverer(config, store)  # refuse to start with broken channels
        if s.web_enabled:
            from monitor.web.app import check_bind  # FastAPI only when the UI is on

            check_bind(s.web_host, s.web_token)  # nor with a UI open beyond loopback
        self.schedule = Schedule(store, WORKER, s.lease_seconds)
        self.metrics = metrics  # the fetcher reports fetch times to it too
        self.db = DbHealth(window=s.health_window, max_share=s.health_failure_share)
        self.scheduler = AsyncIOScheduler(timezone=s.timezone, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        self.jobs = SourcePlans()
        self.runner = CheckRunner(self.schedule, fetcher.limiter, s.concurrency, self.metrics,
                                  self.target, self.db)
        self.metrics.follow(self.runner.backlog, self.runner.lag)
        self._wake = asyncio.Event()  # set: look at the due pages now
        self._full = True  # the next look is a full sweep
        self._horizon: datetime | None = None  # the end of the window read last
        self._wake_at: datetime | None = None  # when the dispatcher looks next
        self._armed: dict[str, asyncio.TimerHandle] = {}  # slots to come in the window
        self.runner.on_released = self.wake_by
        self._dispatcher: asyncio.Task[None] | None = None
        self.runner.on_alerts = self.wake_delivery
        self.runner.on_documents = self.wake_sweep
        self.reloader = Reloader(watcher, store, lambda: self.config, self.apply,
                                 self.wake_delivery, self.db)
        self.pages: dict[str, int] = {}
        self.by_page: dict[int, str] = {}  # page id -> source, of the scheduled sources
        self.sources: dict[str, SourceConfig] = {}  # the scheduled sources, by name
        # key -> source, page, URL, when it was taken off its listing (None: listed)
        self.documents: dict[str, tuple[str, int, str, datetime | None]] = {}
        self._warned: dict[str, capacity.HostLoad] = {}  # hosts said to be behind
        self._delivering = False
        self._again = False  # alerts queued while delivering: another round after it
        self._config_warned: set[str] = set()  # configuration warnings said
        self._delivery: asyncio.Task[object] | None = None  # the delivery running now
        self._delivery_by: Deliverer | None = None  # and its deliverer (or the last one)

    # --- lifecycle -----------------------------------------------------------------

    async def serve(self) -> None:
        await self.apply(self.config)
        self._add_service_jobs()
        self.scheduler.start()
        server = await self._start_metrics()
        web = self._start_web()
        logger.info("monitor running as {}: {} sources, {}", WORKER, len(self.jobs.plans),
                    make_url(self.store.url).render_as_string(hide_password=True))
        self._dispatcher = asyncio.create_task(self.dispatch_forever())  # sweeps at once
        self._dispatcher.add_done_callback(_dispatcher_ended)
        await self.stop_event.wait()
        await self._shutdown(server, web)

    def _add_service_jobs(self) -> None:
        lease = self.config.settings.lease_seconds
        add = self.scheduler.add_job
        add(self.reloader.poll, "interval", seconds=WATCH_EVERY, id="watch-sources")
        add(self.runner.renew, "interval", seconds=max(0.5, lease / 3), id="renew-leases")
        add(self.summarize_skips, "interval", seconds=SKIPS_EVERY, id="skips")
        add(self.deliver, "interval", seconds=DELIVER_EVERY, id="deliver",
            next_run_time=utcnow())
        if self.config.settings.metrics_port:
            add(self.count_alerts, "interval", seconds=METRICS_EVERY, id="count-alerts",
                next_run_time=utcnow())

    async def _shutdown(self, server: MetricsServer | None, web: asyncio.Task[None] | None,
                        ) -> None:
        self.scheduler.pause()
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            await asyncio.gather(self._dispatcher, return_exceptions=True)
        for timer in self._armed.values():
            timer.cancel()
        self._armed.clear()
        grace = self.config.settings.shutdown_grace
        await asyncio.gather(self.runner.stop(grace), self._stop_delivery(grace))
        self.scheduler.shutdown(wait=False)
        self.runner.close()
        await _bounded(shutdown_diff_workers, "stopping the diff workers")
        with reported("could not give back the leases (they expire by themselves)"):
            if released := await _bounded(self.schedule.release_all, "giving back the "
                                          "leases (they expire by themselves)"):
                logger.info("gave back {} leases", released)
        if server is not None:
            await server.close()
        if web is not None:
            web.cancel()
            await asyncio.gather(web, return_exceptions=True)

    # --- configuration -------------------------------------------------------------

    async def apply(self, config: Config) -> list[str]:
        """Make the database and the jobs match ``config``; returns what changed.

        Raises ``ConfigError`` (alert channels) before changing anything.
        """
        deliverer = Deliverer(config, self.store)
        followed = await asyncio.to_thread(followed_warnings, config, self.store)
        self._warn(deliverer.warnings + followed)
        report = await asyncio.to_thread(
            retried, lambda: self.store.sync_sources(config.sources, config.digest),
            "syncing sources")
        enabled = [s for s in config.sources if s.enabled]
        refs = await asyncio.to_thread(
            retried, lambda: self.schedule.ensure_pages(enabled), "creating pages")
        wanted = plans(config.sources, config.settings)
        await asyncio.to_thread(self.schedule.align, _earlier(refs, wanted))
        self.pages = {n: r.page_id for n, r in refs.items()}
        self.by_page = {r.page_id: n for n, r in refs.items() if n in wanted}
        # by name: Config.source() reads the list, 10,000 compares for each look-up
        self.sources = {s.name: s for s in config.sources if s.name in wanted}
        were_disabled = {s.name for s in self.config.sources if not s.enabled}
        self.config, self.deliverer = config, deliverer
        self.checker = Checker(config, self.store, self.fetcher)
        changes = self.jobs.sync(wanted).enabled_apart(
            {s.name for s in config.sources if not s.enabled}, were_disabled)
        self.wake_sweep()  # new sources are due at once, shortened intervals maybe too
        self.metrics.sources.set(len(wanted))
        self._warn_capacity(config)
        await asyncio.to_thread(_give_back_heap)
        said = {*changes.added, *changes.paused, *changes.resumed}
        updated = [n for n in report["updated"] if n not in said]  # not twice
        updated = [f"updated {', '.join(updated)}"] if updated else []
        return ([changes.describe()] if changes else []) + updated

    def _warn(self, warnings: list[str]) -> None:
        """Each warning of the configuration once, not again at every reload."""
        for warning in warnings:
            if warning not in self._config_warned:
                logger.warning("{}: {}", self.reloader.watcher.path, warning)
        self._config_warned = set(warnings)

    def _warn_capacity(self, config: Config) -> None:
        """Once per host (and again only if its load changes): sources it cannot keep up."""
        for load in capacity.behind(config.sources, config.settings):
            if self._warned.get(load.host) != load:
                self._warned[load.host] = load
                logger.warning("{}", load.describe())

    def target(self, name: str) -> Target | None:
        if name in self.documents:
            return self._document_target(*self.documents[name])
        plan, page_id = self.jobs.plans.get(name), self.pages.get(name)
        if plan is None or page_id is None:
            return None  # removed or disabled since the job fired
        return Target(self.sources[name], page_id, plan, self.checker)

    def _document_target(self, name: str, page_id: int, url: str,
                         unlisted_at: datetime | None) -> Target | None:
        if name not in self.jobs.plans:
            return None  # its listing was removed or disabled
        source = self.sources[name]
        if not source.is_listing:
            return None  # no longer a listing: its documents stay archived
        doc = source.document(url)
        plan = unlisted_plan(plan_for(doc, self.config.settings), unlisted_at, utcnow())
        return Target(doc, page_id, plan, self.checker, document=True)

    # --- jobs ----------------------------------------------------------------------

    async def dispatch_forever(self) -> None:
        """Hand due pages to the runner until shutdown (see the module docstring)."""
        period = min(30.0, max(1.0, self.config.settings.lease_seconds / 2))
        last_full = 0.0
        while not self.runner.stopping:
            full = (self._full or self._horizon is None
                    or time.monotonic() - last_full >= period)
            self._wake.clear()
            self._full = False
            now = utcnow()
            until = now + timedelta(seconds=LOOKAHEAD)
            if full:
                last_full = time.monotonic()
            after = None if full else self._horizon - DISPATCH_OVERLAP  # type: ignore[operator]
            next_at = await self.dispatch(now, after, until)
            self._horizon = until
            delay = period - (time.monotonic() - last_full)
            if next_at is not None:  # look again by the time it enters the window
                delay = min(delay, max(LOOK_EVERY, (next_at - utcnow()).total_seconds()
                                       - LOOKAHEAD))
            delay = max(DISPATCH_TICK, delay)
            self._wake_at = utcnow() + timedelta(seconds=delay)
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass

    async def dispatch(self, now: datetime, after: datetime | None,
                       until: datetime | None = None) -> datetime | None:
        """Submit the pages due by ``now`` and arm timers for those due by ``until``
        (since ``after``; all when None); returns the next slot after ``until``."""
        until = until or now

        def look() -> tuple[list[tuple[int, datetime | None]], datetime | None]:
            return (self.schedule.due_pages(now, after, until, held_on=HOST),
                    self.schedule.next_due(until))

        with self.db.guard("cannot look for due checks", write=False):
            rows, next_at = await asyncio.to_thread(look)
            for page_id, due_at in rows:
                if (name := self.by_page.get(page_id)) is not None:
                    self._hand_over(name, due_at)
            if after is None:
                await self._dispatch_documents(now)
            return next_at
        return None

    def _hand_over(self, name: str, due_at: datetime | None) -> None:
        """To the runner now if due, else at its slot (once per source)."""
        wait = (due_at - utcnow()).total_seconds() if due_at is not None else 0.0
        if wait <= 0:
            self.runner.submit(name, due_at)
        elif name not in self._armed and not self.runner.stopping:
            # a hair after the slot: a claim a microsecond early would find it not due
            self._armed[name] = asyncio.get_running_loop().call_later(
                wait + TIMER_MARGIN, self._fire, name, due_at)

    def _fire(self, name: str, due_at: datetime) -> None:
        self._armed.pop(name, None)
        self.runner.submit(name, due_at)

    async def _dispatch_documents(self, now: datetime) -> None:
        """The due documents of listings: scheduled by the database alone."""
        listings = [i for i, n in self.by_page.items() if self.sources[n].is_listing]
        if not listings:
            return
        for parent, page_id, url, off in await asyncio.to_thread(
                self.schedule.due_documents, listings, now, HOST):
            key = f"{self.by_page[parent]}#{page_id}"
            self.documents[key] = (self.by_page[parent], page_id, url, off)
            self.runner.submit(key)

    def wake_sweep(self) -> None:
        """A listing found documents: start their checks now."""
        if not self.runner.stopping:
            self._full = True
            self._wake.set()

    def wake_by(self, name: str, at: datetime) -> None:
        """A check set its page's next slot: inside the window already read, no look
        will see it, so it gets its timer now; before the next look, that look comes now."""
        if self._horizon is not None and at <= self._horizon:
            self._hand_over(name, at)
        elif self._wake_at is not None and at < self._wake_at:
            self._wake.set()

    async def _stop_delivery(self, grace: float) -> None:
        """Sends in flight finish within ``grace``; every row not sent goes back at once."""
        task = self._delivery
        deliverer = self._delivery_by or self.deliverer  # a reload may have replaced it
        deliverer.stop()
        if task is not None and not task.done():
            logger.info("waiting up to {:g}s for alerts being sent", grace)
            _, late = await asyncio.wait([task], timeout=grace)
            for t in late:
                t.cancel()
            await asyncio.gather(task, return_exceptions=True)
        with reported("could not give back the alerts being sent (their lease runs out)"):
            if released := await _bounded(deliverer.release_held, "giving back the alerts "
                                          "being sent (their lease runs out)"):
                logger.info("gave back {} alerts not sent", released)

    async def deliver(self) -> None:
        """Deliver the due alerts; alerts queued while it ran (``wake_delivery``) get
        another round right after it, not at the next tick."""
        if self.runner.stopping:
            return
        self._delivering, self._delivery = True, asyncio.current_task()
        try:
            self._again = True
            while self._again and not self.runner.stopping:
                self._again = False
                if not await self._deliver_round():
                    return  # cut short at shutdown: _stop_delivery gives the rows back
        finally:
            self._delivering, self._delivery = False, None

    async def _deliver_round(self) -> bool:
        """One ``deliver_due``, logged; False when shutdown cancelled it."""
        deliverer = self._delivery_by = self.deliverer
        report = None
        try:
            with self.db.guard("alert delivery failed", write=False):  # once per outage
                report = await deliverer.deliver_due()
        except MonitorError as exc:
            logger.error("alert delivery failed: {}", exc)
        except asyncio.CancelledError:
            return False
        if report and (report.sent or report.retrying or report.dead or report.released):
            self.db.ok(small=True)  # rows were claimed: a write went through
            back = f", {report.released} given back" if report.released else ""
            logger.info("alerts: {}{}", report.describe(), back)
        return True

    def wake_delivery(self) -> None:
        """A check queued alerts: deliver now rather than at the next 30 s tick (right
        after the delivery running now, which may have claimed its rows before)."""
        if self.runner.stopping:
            return
        if self._delivering:
            self._again = True
        else:
            self.scheduler.modify_job("deliver", next_run_time=utcnow())

    async def summarize_skips(self) -> None:
        """One line instead of APScheduler's warning per skipped run."""
        n, self.metrics.skips_since_summary = self.metrics.skips_since_summary, 0
        if n:
            logger.info("{} scheduled runs skipped in the last {:g} min: the previous run of "
                        "the source was still queued or running (a host behind its "
                        "schedule?)", n, SKIPS_EVERY / 60)

    async def count_alerts(self) -> None:
        def counts() -> dict[str, int]:
            n = {st: self.store.count(Alert, status=st)
                 for st in ("pending", "sending", "sent", "dead")}
            return {"pending": n["pending"] + n["sending"], "sent": n["sent"], "dead": n["dead"]}

        with self.db.guard("cannot count alerts for the metrics", write=False):
            self.metrics.set_alerts(await asyncio.to_thread(counts))

    # --- metrics, health, web UI ---------------------------------------------------

    async def _start_metrics(self) -> MetricsServer | None:
        port = self.config.settings.metrics_port
        if not port:
            return None
        server = MetricsServer(self.metrics, self.health)
        await server.start(port)
        return server

    def health(self) -> tuple[bool, dict[str, object]]:
        """``/healthz``: unhealthy (503) when checks cannot be stored, degraded (200) when
        the sources file is refused or missing (see ``monitor.health``)."""
        reasons = self.db.problems()
        if (not self.scheduler.running or self.runner.stopping
                or (self._dispatcher is not None and self._dispatcher.done())):
            reasons.append("stopping")
        config = self.reloader.describe()
        if config["state"] != "ok":
            reasons.append(f"sources file {config['state']}: {config['error']}")
        ok = not reasons or reasons == [r for r in reasons if r.startswith("sources file")]
        last = self.runner.last_result_at
        return ok, {"status": "ok" if not reasons else "degraded" if ok else "unhealthy",
                    "reasons": reasons, "worker": WORKER, "sources": len(self.jobs.plans),
                    "running_checks": len(self.runner.running),
                    "due_backlog": self.runner.backlog(),
                    "last_check_at": last.isoformat() if last else None,
                    "database": self.db.describe(), "config": config,
                    "config_error": self.reloader.error}

    def _start_web(self) -> asyncio.Task[None] | None:
        s = self.config.settings
        if not s.web_enabled:
            return None
        from monitor.web.app import serve  # FastAPI only when the UI is on

        task = asyncio.create_task(serve(self.config, self.store, s.web_host, s.web_port))
        task.add_done_callback(_web_ended)
        logger.info("web UI on http://{}:{}/", s.web_host, s.web_port)
        return task


def _earlier(refs: dict[str, PageRef], wanted: dict[str, Plan]) -> dict[int, datetime]:
    """The pages whose plan now has a slot before their ``next_check_at`` (an interval
    shortened), with that slot: only those need an ``UPDATE`` (not 10,000 at every
    start and reload)."""
    out = {}
    for name, plan in wanted.items():
        ref = refs[name]
        if ref.last_check_at is not None:
            at = plan.next_after(ref.last_check_at)
            if ref.next_check_at is None or at < ref.next_check_at:
                out[ref.page_id] = at
    return out


async def _bounded(fn: Callable[[], T], what: str, seconds: float = STOP_WAIT) -> T | None:
    """``fn()`` in a thread, waited for at most ``seconds`` (a step of the stop: see the
    module doc); None when it did not end by then (it is left to end by itself)."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(fn), seconds)
    except TimeoutError:
        logger.warning("{}: not done after {:g} s (the database locked or not answering?): "
                       "not waited for", what, seconds)
        return None


async def _let_go(threads: ThreadPoolExecutor, seconds: float) -> int:
    """The daemon's executor shut down: its threads still busy after ``seconds`` (a step
    blocked in the database) are left, and named; how many.  ``asyncio.run`` gets an idle
    executor to join instead, and ``monitor run`` exits without them."""
    threads.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + seconds
    while (busy := _busy_threads()) and time.monotonic() < deadline:  # noqa: ASYNC110
        # (polled: a thread's end sets no event the loop could wait for)
        await asyncio.sleep(0.05)
    if busy:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(1))
        logger.warning("{} threads still busy {:g} s after the stop ({}; a database step "
                       "blocked?): not waited for", len(busy), seconds,
                       ", ".join(t.name for t in busy))
    return len(busy)


def _busy_threads() -> list[threading.Thread]:
    """The daemon's own executors' threads still alive (its default executor's, the
    runner's lease renewal): an exit would join them.  Others (the web UI's AnyIO
    workers) end with the event loop as before."""
    return [t for t in threading.enumerate()
            if t.name.startswith(("monitor_", "leases_")) and t.is_alive()]


def _give_back_heap() -> None:
    """Syncing 10,000 sources frees ~40 MB that glibc keeps in its heap; hand it back
    (``malloc_trim``).  Nothing happens where there is no glibc."""
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _dispatcher_ended(task: asyncio.Task[None]) -> None:
    # Only a bug ends it before shutdown: say so loudly, /healthz says "stopping".
    if not task.cancelled() and task.exception() is not None:
        logger.opt(exception=task.exception()).critical("the dispatcher stopped: no more "
                                                        "checks start")


def _web_ended(task: asyncio.Task[None]) -> None:
    # The checks go on without the web UI; say why it stopped.
    if not task.cancelled() and task.exception() is not None:
        logger.error("the web UI stopped: {}", task.exception())


class _ToLoguru(logging.Handler):
    """APScheduler logs with the standard library: send its warnings through loguru.

    A service job run skipped because the previous one still runs (a slow alert
    delivery) is normal: debug, not a warning each time."""

    def emit(self, record: logging.LogRecord) -> None:
        skipped = "maximum number of running instances reached" in record.getMessage()
        logger.opt(depth=6, exception=record.exc_info).log(
            "DEBUG" if skipped else record.levelname, record.getMessage())


def _route_std_logging() -> None:
    log = logging.getLogger("apscheduler")
    log.handlers[:] = [_ToLoguru()]
    log.setLevel(logging.WARNING)  # not "Running job ..." for every run
    log.propagate = False
