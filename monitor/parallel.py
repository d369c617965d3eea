"""Parallel ``monitor check``: one pass over many sources split across worker processes.

Why.  A check costs milliseconds of Python CPU (extraction, normalization, HTTP, the
database).  When the pages answer promptly, one process is bound to one core while the
others idle (issue 12: ~380 unchanged checks/s, one core of two busy).  Threads would not
help (the GIL); processes do.

How many (``check_workers``, or ``monitor check --workers N`` for one run).  ``auto``:
one per usable core, but at most one per ``SOURCES_PER_WORKER`` sources (a worker costs
some tens of milliseconds to start: its own database connections, fetcher and event
loop, which 50 unchanged checks repay several times over), never more than
``concurrency`` (each worker gets at least one of its checks) nor than the parts the
sources can be cut into.  One worker, one source, or no ``os.fork``: the pass runs in
this process, exactly as before.  The daemon and the web UI's 立即检查 are unaffected.

Who checks what.  Politeness is per host and lives in a process (``HostLimiter``:
``host_concurrency``, ``host_delay``, Retry-After back-offs; the robots.txt cache), so all
of a host's sources go to one worker; the parts are balanced by number of sources (the
largest host first, each to the least loaded worker).  A host is shared only when it
has more sources than a worker's share *and* sharing cannot break its limits:
``host_delay`` 0 (a spacing two processes could not keep) and ``host_concurrency`` ≥ 2,
which is then divided between at most that many workers (each ≥ 1, the sum the setting,
in each worker's ``host_concurrencies``); robots.txt is then read once per worker and a
Retry-After heard by one worker is not heard by the other (each backs off on its own
answers).  ``concurrency`` is divided between the workers in the same way (sum = the
setting).  Sources fetched by the browser all go to one worker (one Chromium at a time,
``browser_concurrency`` as set); a ``fetch = "auto"`` source that meets a challenge starts
its worker's own browser.  A listing's due documents are checked by the listing's worker
right after it, as in one process; a document on another host than its listing escapes
that host's politeness in another worker, one request at a time (documents live on their
listing's site almost always).  Documents asked for by URL (``--source URL``) go to the
first worker.  A worker diffs a rewrite in one process of its own (``monitor.diff``
starts two per process otherwise), so the diff processes are as many as the workers.

In the file's order (``IN_ORDER``).  A part lists its sources as sources.toml does, not
group by group as they were dealt: a worker checks its ``concurrency`` at a time in its
part's order, and a host's politeness lets ``host_concurrency`` (1 by default) of them
fetch at once.  Dealt host by host, a worker's running checks were mostly of one host,
all but one waiting for its slot while its other hosts idled: one request in flight per
worker, the wait for each answer no longer overlapped with another check's work (issue
12: 1,000 unchanged pages on 50 hosts, two workers of five checks).  In the file's order
a worker's hosts alternate as they do in one process.

Processes.  The parent loads the configuration, syncs the sources and makes their pages,
then forks the workers (``fork``: imports, configuration and the map of the sources'
pages are paid once; a worker does not ask the database for its pages again).  At that
moment it has no thread and no open database connection: its pool is emptied first
(``Store.close``; the engine connects again on its next use), so no socket or SQLite
handle is shared with a child.  Each worker uses the ``Store`` it inherited, whose engine
opens the worker's own connections (its dialect already set up: a new engine would set
it up again; two workers cost 0.27 s more CPU than one process on 100 PostgreSQL sources
with new engines, 0.18 s with the inherited one), and runs ``run_checks`` over its part
with its own fetcher and event loop; it sends each source's
results (the source's and its documents') over a pipe as they come (those finished within
``TELL_EVERY`` of each other in one message), then the results of the documents asked for.
The parent draws the progress bar from those, prints the same table or JSON as before,
and delivers the alerts once, after every worker has reported all (see "Ending").  All
workers take leases under the parent's name (``holder.WORKER``), the process the user
started.

Ending (``ENDING``).  A worker's last message (``done``) comes before its process has
ended: its store closed (SQLite's last connection checkpoints the write-ahead log), its
memory given back to the system.  The parent does not wait for that before it orders the
results and writes the table or ``--json``: the workers that reported everything are
joined once that output is written (``Pass.join``, by ``monitor check``; else by
multiprocessing at exit), so the two overlap instead of adding up (issue 12: both are
serial, tens of ms on a 1 s pass of 1,000 unchanged pages).  What was reported is
complete either way; a worker that fails after its ``done`` changes nothing, as before.
Test hook: ``MONITOR_TEST_WORKER_HOLD`` (a path) makes a worker wait, after its ``done``,
until that file exists (tests/test_check_workers.py).

Failures.  A worker that ends without its list (killed, crashed) loses nothing silently:
each of its sources it did not report becomes an error result ("worker process ended
unexpectedly", with the signal or exit code) and ``monitor check`` exits 1.  Checks it
committed are in the database — a source is reported once its listing's documents are
checked too, so its own check may be stored already; the message says so (``UNREPORTED``)
rather than guess (a check row names no process: one stored meanwhile by the daemon
would look the same).  The leases it held (a batch takes a few dozen ahead) are given
back by the parent once every worker has ended.
Ctrl-C: a terminal's reaches every worker (one process group); the parent also tells
them to stop (``STOP``), gives them ``STOP_GRACE`` seconds to unwind (their leases given
back; it reads their pipes meanwhile, so none is stuck writing its last report), then
kills them — at once on a second Ctrl-C; once all have ended it gives back what is still
held under its name (a worker killed after the grace, on a loaded machine), and
``monitor check`` says what was stored (exit 130).
A parent that dies (``kill -9``, a cron timeout's SIGTERM) sends its workers ``STOP``
through the kernel (Linux ``PR_SET_PDEATHSIG``): they stop the same way.  ``STOP`` is a
signal of their own (SIGUSR1), with its own handler (the pass's task cancelled, as
Ctrl-C cancels it), not SIGINT: ``monitor check &`` from a shell script inherits SIGINT
ignored (a worker leaves it so), and workers told to stop by SIGINT then checked on, unheard,
after their parent's death — while the next pass took over their leases.
Ctrl-C while the workers start.  SIGINT and ``STOP`` are blocked in the parent from
before the first fork until the last (a fork's child starts with them blocked, and
unblocks them once its own handlers are set).  Unblocked, a Ctrl-C landing inside
``os.fork`` raised KeyboardInterrupt in an at-fork hook, where Python prints it
("Exception ignored in: <function _releaseLock …>") and drops it: the parent never
heard the Ctrl-C, and the lock that hook was to release (logging's) stayed held: the
first thread to log after the pass (SQLAlchemy's, in the alerts' delivery) waited on it
for ever, and so did the parent, childless, deaf to more Ctrl-Cs (``asyncio.run`` waits
for its threads).  A worker's KeyboardInterrupt landing while
``asyncio.run`` made its loop left a half-made loop and a traceback.  A worker's
handlers (SIGINT, ``STOP``) now only note the stop and cancel the pass's task once it
runs (``_Stop``); nothing is raised at an arbitrary point.  Test hook:
``MONITOR_TEST_FORK_PAUSE`` (seconds) makes each fork pause that long in both processes
(``os.register_at_fork``), to send a Ctrl-C inside the fork (tests/test_check_workers.py).
"""

from __future__ import annotations

import asyncio
import gc
import math
import multiprocessing
import os
import selectors
import signal
import sys
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field, replace
from importlib import import_module
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from monitor.config import Config, SourceConfig
from monitor.errors import MonitorError
from monitor.types import CheckResult, Outcome

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from rich.progress import Progress

    from monitor.settings import Settings
    from storage import Store
    from storage.schedule import PageRef

SOURCES_PER_WORKER = 50  # "auto": no more workers than one per this many sources
STOP_GRACE = 10.0  # seconds interrupted workers get to give their leases back
TELL_EVERY = 0.02  # seconds a worker's finished sources wait to be told together
LOST = "worker process ended unexpectedly"
UNREPORTED = ("before reporting this source; its check may have been stored "
              "(see `monitor history`)")
BROWSER = "\0browser"  # the group key every browser-fetched source joins
PR_SET_PDEATHSIG = 1  # linux/prctl.h
STOP = signal.SIGUSR1  # "stop now, leases given back": the parent's death, or its Ctrl-C
HELD = {signal.SIGINT, STOP}  # blocked while the workers are forked (see the docstring)
FORK_PAUSE = "MONITOR_TEST_FORK_PAUSE"  # test hook: seconds each fork pauses
HOLD = "MONITOR_TEST_WORKER_HOLD"  # test hook: a file a worker waits for after "done"
T = TypeVar("T")

Document = tuple[SourceConfig, int, str]
Run = Callable[..., Coroutine[Any, Any, list[CheckResult]]]  # cli.check.run_checks
Bar = Callable[[int], AbstractContextManager["Progress"]]


@dataclass
class Part:
    """One worker's share of a pass."""

    sources: list[SourceConfig] = field(default_factory=list)
    host_limits: dict[str, int] = field(default_factory=dict)  # shared hosts: its share
    concurrency: int = 1
    documents: list[Document] = field(default_factory=list)

    def config(self, config: Config) -> Config:
        s = config.settings
        return replace(config, settings=s.model_copy(update={
            "concurrency": self.concurrency,
            "host_concurrencies": {**s.host_concurrencies, **self.host_limits}}))


@dataclass
class Pass:
    results: list[CheckResult]
    lost: int = 0  # workers that ended without reporting all their sources
    ending: list[BaseProcess] = field(default_factory=list)  # reported all, not yet reaped

    def join(self) -> None:
        """Wait for the workers that had reported everything when the pass returned
        (``ENDING``): the caller does so once its output is written."""
        for process in self.ending:
            process.join()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def workers_for(setting: int | str, sources: int, concurrency: int) -> int:
    """The number of workers a pass of ``sources`` sources gets (1: this process)."""
    if not hasattr(os, "fork"):
        return 1
    wanted = (min(usable_cores(), sources // SOURCES_PER_WORKER) if setting == "auto"
              else int(setting))
    return max(1, min(wanted, concurrency, sources))


def partition(sources: Sequence[SourceConfig], n: int, settings: Settings) -> list[Part]:
    """Cut ``sources`` into at most ``n`` non-empty parts (see the module docstring).

    Groups that stay whole go first, the largest to the least loaded part; then each
    host that may be shared is poured, page by page, into its least loaded parts (at
    most as many as its ``host_concurrency``), which evens out what the whole ones left."""
    share = math.ceil(len(sources) / max(n, 1))
    parts = [Part() for _ in range(n)]
    shared: list[tuple[str, list[SourceConfig]]] = []
    for hosts, members in sorted(_groups(sources), key=lambda g: -len(g[1])):
        host = next(iter(hosts)) if len(hosts) == 1 and BROWSER not in hosts else None
        if host is not None and _shareable(host, len(members), share, settings):
            shared.append((host, members))
        else:
            _least(parts).sources.extend(members)
    for host, members in shared:
        _pour(host, members, parts, settings.concurrency_for(host), share)
    parts = [p for p in parts if p.sources]
    place = {src.name: i for i, src in enumerate(sources)}
    for part in parts:  # in the file's order, not host by host (``IN_ORDER``)
        part.sources.sort(key=lambda src: place[src.name])
    for i, part in enumerate(parts):
        part.concurrency = settings.concurrency // len(parts) + (i < settings.concurrency
                                                                   % len(parts))
    return parts


def _least(parts: list[Part]) -> Part:
    return min(parts, key=lambda p: len(p.sources))


def _shareable(host: str, size: int, share: int, settings: Settings) -> bool:
    return size > share and settings.delay_for(host) == 0 and settings.concurrency_for(host) > 1


def _pour(host: str, members: list[SourceConfig], parts: list[Part], limit: int,
          share: int) -> None:
    """Share one host between the least loaded parts; its limit divided between them
    (each ≥ 1, the sum ``limit``, the larger shares to those with more of its pages)."""
    pieces = min(len(parts), limit, math.ceil(len(members) / share))
    chosen = sorted(parts, key=lambda p: len(p.sources))[:pieces]
    count = dict.fromkeys(range(pieces), 0)
    for src in members:
        i = min(count, key=lambda k: len(chosen[k].sources))
        chosen[i].sources.append(src)
        count[i] += 1
    ranked = sorted((i for i in count if count[i]), key=lambda i: -count[i])
    for rank, i in enumerate(ranked):
        chosen[i].host_limits[host] = limit // len(ranked) + (rank < limit % len(ranked))


def _groups(sources: Sequence[SourceConfig]) -> list[tuple[set[str], list[SourceConfig]]]:
    """Sources that must share a worker: one host's, and all the browser's (a union of
    the two where a host has both kinds)."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    host = {src.name: _host(src.url) for src in sources}  # each URL split once
    for src in sources:
        if src.fetch == "browser":
            parent[root(host[src.name])] = root(BROWSER)
    groups: dict[str, tuple[set[str], list[SourceConfig]]] = {}
    for src in sources:
        hosts, members = groups.setdefault(root(host[src.name]), (set(), []))
        hosts.add(host[src.name])
        hosts.update([BROWSER] if src.fetch == "browser" else [])
        members.append(src)
    return list(groups.values())


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def check_pass(config: Config, store: Store, sources: list[SourceConfig], *, run: Run,
               workers: int | str, bar: Bar | None,
               documents: Sequence[Document] = ()) -> Pass:
    """Check ``sources`` (and the ``documents`` asked for) with ``run`` (``run_checks``),
    in this process or split across worker processes."""
    n = workers_for(workers, len(sources), config.settings.concurrency)
    parts = partition(sources, n, config.settings) if n > 1 else []
    if len(parts) < 2:
        return Pass(asyncio.run(_waits_stopped(store, run(
            config, store, sources, progress=bar is not None, documents=documents))))
    parts[0].documents = list(documents)
    from loguru import logger

    from monitor.holder import WORKER

    # made once, here: each worker finds its sources' pages in this map (no query)
    pages = store.schedule(WORKER, config.settings.lease_seconds).ensure_pages(sources)
    store.close()  # no pooled connection crosses the fork; each process connects anew
    _import_shared()
    logger.info("checking {} sources in {} worker processes", len(sources), len(parts))
    return _Pool(config, store, run, parts, pages).run(bar, len(sources))


# What every worker imports on its first request and no worker gets from the parent:
# httpx imports its transport (httpcore, h11, anyio's asyncio backend; ~35 ms of CPU)
# when its first client is made, ``_stop_with`` needs ctypes and ``_work`` sets
# ``monitor.diff``'s pool size (~4 ms).
SHARED = ("httpcore", "h11", "anyio._backends._asyncio", "anyio.to_thread", "sniffio",
          "concurrent.futures.thread", "ctypes", "monitor.diff")


def _import_shared() -> None:
    """``SHARED``, imported once here before the fork rather than once in each worker:
    the same wait before the first request (the workers would import them side by side),
    one import's CPU less per worker beyond the first."""
    for name in SHARED:
        with suppress(ImportError):  # another httpx may not use one of them
            import_module(name)


@dataclass
class _Worker:
    part: Part
    process: BaseProcess
    conn: Connection
    reported: dict[str, list[CheckResult]] = field(default_factory=dict)
    final: list[CheckResult] | None = None  # "done": the results not reported by source
    failure: str | None = None

    def results(self) -> list[CheckResult]:
        if self.final is not None:  # as ``run`` returned them: the asked documents first
            return self.final + [r for s in self.part.sources
                                 for r in self.reported.get(s.name, ())]
        why = (f"{self.failure}; {UNREPORTED}" if self.failure
               else f"{LOST} ({_how(self.process.exitcode)}) {UNREPORTED}")
        got = [r for rs in self.reported.values() for r in rs]
        lost = [CheckResult(s.name, Outcome.ERROR, error_kind="worker", error=why)
                for s in self.part.sources if s.name not in self.reported]
        asked = [CheckResult(s.name, Outcome.ERROR, error_kind="worker", error=why,
                             document=url) for s, _, url in self.part.documents]
        return asked + got + lost


def _how(code: int | None) -> str:
    if code is not None and code < 0:
        with suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


class _Pool:
    def __init__(self, config: Config, store: Store, run: Run, parts: list[Part],
                 pages: Mapping[str, PageRef]) -> None:
        self.config, self.store, self.checks, self.parts = config, store, run, parts
        self.pages = pages  # inherited by the workers (fork), not sent
        self.workers: list[_Worker] = []

    def run(self, bar: Bar | None, total: int) -> Pass:
        sys.stdout.flush()  # else a child would write the parent's buffer again at exit
        sys.stderr.flush()
        try:
            try:
                self._fork()
                with _bar(bar, total) as progress:
                    self._collect(progress, progress.add_task("checking", total=total))
            except KeyboardInterrupt:  # Ctrl-C: the workers stop, as they can
                self.store.stop_waiting()  # and the leases' give-back waits for no lock
                self._interrupt()
                raise
        except BaseException:  # a second Ctrl-C, or a bug: none of the workers is waited for
            for w in self.workers:
                _kill(w.process)
            # every worker has ended: what is still held under this process's name is
            # no live check's (one killed after STOP_GRACE, a give-back that failed)
            self._give_back_leases()
            raise
        finally:
            for w in self.workers:
                if w.final is None:  # the others are ending: see ``ENDING``
                    w.process.join()
        lost = sum(w.final is None for w in self.workers)
        if lost:
            self._give_back_leases()
        return Pass([r for w in self.workers for r in w.results()], lost,
                    [w.process for w in self.workers if w.final is not None])

    def _fork(self) -> None:
        """Every worker started, SIGINT and ``STOP`` held meanwhile (a Ctrl-C among the
        forks is raised once they are done).  The objects made so far (modules,
        configuration) stay out of the children's collections: a collection that walked
        them would copy every page they are on."""
        _test_pause()
        held = signal.pthread_sigmask(signal.SIG_BLOCK, HELD)
        gc.freeze()
        try:
            for part in self.parts:  # all forks before the bar's refresh thread starts
                self.workers.append(self._start(part))
        finally:
            gc.unfreeze()  # the children have their copies; this one collects again
            signal.pthread_sigmask(signal.SIG_SETMASK, held)  # a Ctrl-C held: raised here

    def _give_back_leases(self) -> None:
        """The leases a dead worker held (a batch takes a few dozen ahead of its checks),
        given back: every worker has ended, and they all held leases under this process's
        name, so none of those is a live check's.  Without it the next pass waits on each
        of them in turn until it runs out (``lease_seconds``)."""
        from monitor.errors import reported
        from monitor.holder import WORKER

        with reported("cannot give back the leases of a worker that died (they run out)"):
            self.store.schedule(WORKER, self.config.settings.lease_seconds).release_all()

    def _start(self, part: Part) -> _Worker:
        ctx = multiprocessing.get_context("fork")
        receive, send = ctx.Pipe(duplex=False)
        process = ctx.Process(target=_work, name=f"monitor check worker {len(self.workers)}",
                              args=(self.config, self.store, self.checks, part, send,
                                    os.getpid(), self.pages))
        process.start()
        send.close()  # the child's end: EOF here once the child is gone
        return _Worker(part, process, receive)

    def _collect(self, progress: Progress | NoBar, task: Any,
                 until: float | None = None) -> None:
        """Read every worker's messages until its pipe closes; reap each one as it ends
        (then its pipe holds all it will ever send), or, in a pass not interrupted,
        stop watching it once it has reported everything (``ENDING``); ``until``: a
        ``time.monotonic()`` to give up at (an interrupted pass's grace: every worker
        is waited for, as before).  One selector for the whole pass:
        ``multiprocessing.connection.wait`` would make and fill a new one for each of
        the ~1,000 messages of a pass (~30 µs each, while the workers need the
        cores)."""
        with selectors.DefaultSelector() as ready:
            for w in self.workers:
                if not w.conn.closed:
                    ready.register(w.conn, selectors.EVENT_READ, w)
                if w.process.exitcode is None:  # not reaped yet
                    ready.register(w.process.sentinel, selectors.EVENT_READ, w)
            while ready.get_map():
                left = None if until is None else until - time.monotonic()
                if left is not None and left <= 0:
                    return
                for key, _ in ready.select(left):
                    if key.fd not in ready.get_map():  # its worker was dropped by an
                        continue  # earlier key of this wake-up (its pipe, its end)
                    w = key.data
                    if key.fileobj is w.conn:
                        if not w.conn.closed and not self._receive(w, progress, task):
                            self._drop(ready, w)
                        elif w.final is not None and until is None:  # ``ENDING``
                            self._drop(ready, w)
                            with suppress(KeyError):
                                ready.unregister(w.process.sentinel)
                        continue
                    ready.unregister(key.fileobj)
                    w.process.join()
                    while not w.conn.closed and w.conn.poll() and self._receive(w, progress,
                                                                                task):
                        pass
                    self._drop(ready, w)

    @staticmethod
    def _drop(ready: selectors.BaseSelector, w: _Worker) -> None:
        if not w.conn.closed:
            ready.unregister(w.conn)
            w.conn.close()

    @staticmethod
    def _receive(w: _Worker, progress: Progress | NoBar, task: Any) -> bool:
        """One message of ``w``'s (its pipe is readable); False when there is none to
        come."""
        try:
            kind, *rest = w.conn.recv()
        except (EOFError, OSError):
            return False
        if kind == "sources":
            for name, results in rest[0]:
                w.reported[name] = results
                progress.update(task, advance=1, description=name)
        elif kind == "done":
            w.final = rest[0]
        else:
            w.failure = rest[0]
        return True

    def _interrupt(self) -> None:
        """Workers still running get ``STOP`` and ``STOP_GRACE`` seconds, their pipes read
        meanwhile (a worker writing its last report to a full pipe would wait for ever),
        then SIGKILL (a loaded machine can take longer than the grace to unwind: its
        leases are given back by the caller).  A second Ctrl-C ends the wait."""
        for w in self.workers:
            if w.process.exitcode is None:
                with suppress(ProcessLookupError):
                    os.kill(w.process.pid or 0, STOP)
        self._collect(NoBar(), 0, until=time.monotonic() + STOP_GRACE)
        for w in self.workers:
            _kill(w.process)


def _kill(process: BaseProcess) -> None:
    if process.is_alive():
        process.kill()
    process.join()


def _test_pause() -> None:
    """The test hook ``MONITOR_TEST_FORK_PAUSE``: each fork pauses, in the parent and in
    the child, inside ``os.fork`` (its at-fork hooks), where a Ctrl-C used to be lost."""
    pause = float(os.environ.get(FORK_PAUSE) or 0)
    if pause > 0:
        os.register_at_fork(after_in_parent=lambda: time.sleep(pause),
                            after_in_child=lambda: time.sleep(pause))


def _test_hold() -> None:
    """The test hook ``MONITOR_TEST_WORKER_HOLD``: a worker that has reported everything
    waits for that file before it ends (its parent must not wait for it to write)."""
    path = os.environ.get(HOLD)
    while path and not os.path.exists(path):
        time.sleep(0.05)


def _bar(bar: Bar | None, total: int) -> AbstractContextManager[Progress | NoBar]:
    return NoBar() if bar is None else bar(total)


class NoBar:
    """What a pass asks of a progress bar, when none is shown (``--json``, a pipe): no
    rich.progress to import (~25 ms of the parent's CPU while its workers check)."""

    def __enter__(self) -> NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def update(self, *args: Any, **kwargs: Any) -> None:
        pass


class _Stop:
    """A worker's handler of SIGINT and ``STOP``: the stop noted, and the pass's task
    cancelled once it runs (``_stoppable``), as Ctrl-C cancels it in one process (the
    leases given back on the way out); a second signal changes nothing.  It never raises:
    KeyboardInterrupt raised wherever the worker was (making its event loop, closing it)
    left half-made objects and tracebacks.  Installed before the signals the worker was
    forked with blocked are let in (``HELD``)."""

    def __init__(self) -> None:
        self.heard = False
        self.task: asyncio.Task[list[CheckResult]] | None = None

    def __call__(self, signum: int, frame: object) -> None:
        self.heard = True
        task = self.task
        if task is not None and not task.done() and not task.cancelling():
            task.cancel()
            task.get_loop().call_soon_threadsafe(_nothing)  # the loop may be in select()

    def install(self) -> None:
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # ``monitor check &``
            signal.signal(signal.SIGINT, self)
        signal.signal(STOP, self)  # whatever the parent left it as
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD)  # a stop sent meanwhile: heard now


def _nothing() -> None:
    pass


def _stop_with(parent: int) -> None:
    """Linux: ``STOP`` when the parent dies, be it ``kill -9`` or a cron job's timeout; a
    worker would otherwise check on, unheard."""
    with suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, STOP)
    if os.getppid() != parent:  # it died before that
        raise SystemExit(130)


async def _stoppable(work: Callable[[], Coroutine[Any, Any, list[CheckResult]]],
                     stop: _Stop) -> list[CheckResult]:
    """``work()``, cancelled on ``STOP`` or Ctrl-C (``stop``), be it heard before the
    loop ran: then it is never made (a made coroutine, wrapped in another, would be left
    unawaited however the wrapper is closed)."""
    stop.task = asyncio.current_task()
    if stop.heard:
        raise asyncio.CancelledError
    return await work()


async def _waits_stopped(store: Store, work: Coroutine[Any, Any, T]) -> T:
    """``work``; when the pass is cancelled (Ctrl-C, ``STOP``), the store's waits for
    SQLite's write lock stop first (``Store.stop_waiting``), then ``work`` is: a step
    waiting in a thread for a lock another process holds gives up within a tenth of a
    second instead of its busy timeout (which ``asyncio.run`` waited out, joining its
    threads), and so do the give-backs of the unwinding (the leases run out, or are
    taken over from this ended process: ``monitor.holder``).  ``work`` runs shielded so
    the stop comes before any of its cleanup."""
    inner = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(inner)
    except asyncio.CancelledError:
        store.stop_waiting()
        inner.cancel()
        with suppress(asyncio.CancelledError):  # its other errors come out, as before
            await inner
        raise


class _Told:
    """A worker's finished sources, told to the parent ``TELL_EVERY`` s after the first
    of them is done, together: one message for the ~10 sources an unchanged pass
    finishes meanwhile, not one each (a message costs both processes a few tens of µs:
    pickling, a write, a select and a read).  A worker killed in between leaves those
    sources unreported, said so in their results (``UNREPORTED``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.waiting: list[tuple[str, list[CheckResult]]] = []
        self.ids: set[int] = set()  # the results told (or waiting to be)
        self.timer: asyncio.TimerHandle | None = None

    def done(self, src: SourceConfig, results: list[CheckResult]) -> None:
        self.waiting.append((src.name, results))
        self.ids.update(map(id, results))
        if self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(TELL_EVERY, self.send)

    def send(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.waiting:
            waiting, self.waiting = self.waiting, []
            self.conn.send(("sources", waiting))


def _work(config: Config, store: Store, run: Run, part: Part, conn: Connection,
          parent: int, pages: Mapping[str, PageRef]) -> None:
    """A worker process: check ``part``, telling the parent each source as it is done."""
    stop = _Stop()
    stop.install()
    from monitor import diff

    diff.WORKERS = 1  # a rewrite's diff process per worker, not two (monitor.diff)

    told = _Told(conn)
    try:
        _stop_with(parent)
        results = asyncio.run(_stoppable(lambda: _waits_stopped(store, run(
            part.config(config), store, part.sources, progress=False,
            documents=part.documents, on_done=told.done, pages=pages)), stop))
        told.send()
        # the rest only (the documents asked for): the parent has the others already
        conn.send(("done", [r for r in results if id(r) not in told.ids]))
        _test_hold()
    except (KeyboardInterrupt, asyncio.CancelledError):
        with suppress(OSError):
            told.send()  # what it finished before the stop
        raise SystemExit(130) from None  # the parent stopped us: no traceback
    except Exception as exc:
        with suppress(OSError):
            told.send()
            conn.send(("failed", f"{LOST}: {type(exc).__name__}: {exc}"))
        if isinstance(exc, MonitorError):  # told in the results, as in one process
            raise SystemExit(1) from None
        raise  # a bug: its traceback on stderr
    finally:
        diff.shutdown_diff_workers()
        store.close()
