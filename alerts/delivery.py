"""The outbox delivery loop: claim due rows, compose, send, record the outcome.

* Rows are claimed under a lease (``settings.lease_seconds``, see ``storage.alerts_repo``)
  so several daemons never send one row twice; a row left ``sending`` by a killed process
  is taken back when its lease runs out: at most one duplicate, with the same Message-ID.
* A temporary failure is retried after ``alert_retry_base * 2^(attempts-1)`` seconds
  (±10 % jitter, at most ``MAX_BACKOFF``); after ``alert_max_attempts`` attempts, or on a
  permanent failure, the row is dead with the reason in ``last_error``
  (``monitor alerts retry`` revives it).
* Each row (or digest group) is sent on its own, a few at a time: one failing recipient
  never holds back the others.  Each gets a message of its own (its address alone in
  ``To``, its own footer and Message-ID); what a change's messages say alike is composed
  once per claim round (``Composer.sharing``, see ``alerts.compose``).
* A channel whose rate limit has no room yet (DingTalk robots, ``alerts.ratelimit``)
  raises ``DeliveryDeferred``: the row goes back to ``pending``, due when there is room,
  its attempt not counted (queued, neither failed nor dropped).
* Digest rows (``payload.mode == "digest"``) become due at their digest time; the due rows
  of one recipient and channel go out together as one message.
* At shutdown (``stop``), no new rows are claimed and claimed rows whose send has not
  begun go back to ``pending`` at once; sends in flight may finish (the daemon waits up
  to ``shutdown_grace``).  What is still held after that (a send cut short) is given back
  by ``release_held``, so no row waits for its lease after a restart (a cut send may
  go once more, with the same Message-ID, as after a crash).
* A command run by hand (``monitor check``, ``monitor alerts deliver``) delivers through
  ``deliver_stoppably``: SIGINT (Ctrl-C) or SIGTERM is that same stop, so the rows it
  had claimed go back to ``pending`` at once instead of staying ``sending`` for their
  lease (5 minutes) while the next run skips them.  Sends in flight finish (each within
  its channel's timeout) and are marked sent; a second signal cuts them short, and the
  rows of the sends it cut stay ``sending`` until their lease ends (the message may
  have gone: given back, it would go twice), every other claimed row is given back.
  The first signal also stops the store's waits for SQLite's write lock
  (``Store.stop_waiting``, ``storage.db``): a step waiting for a lock another process
  holds (a ``sqlite3`` shell, a stuck tool) gives up ``STOP_GRACE`` (2 s) later instead
  of after the busy timeout (30 s), and the command ends.  A lock held only a moment
  (the daemon or another ``monitor check`` committing) is let go within that grace, so
  nothing is lost.  Held longer: a claim not yet made claims nothing; rows not given
  back stay ``sending`` until their lease ends, then go once (``DeliveryReport.stuck``);
  a message the server accepted whose mark could not be written goes once more when its
  lease ends, with the same Message-ID (``DeliveryReport.unmarked``) — both told.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from loguru import logger

from alerts.base import Channel, Target, redact
from alerts.message import Message
from alerts.registry import CHANNELS, channel_name, check_alerting
from monitor.config import Config
from monitor.errors import DeliveryDeferred, DeliveryError, MonitorError, StorageError
from storage import Store
from storage.alerts_repo import AlertRecord, AlertsRepo
from storage.instant import utcnow

if TYPE_CHECKING:
    from alerts.compose import Composer

MAX_BACKOFF = timedelta(hours=6)
CONCURRENCY = 4  # sends in flight at once
MAX_ROUNDS = 20  # claim rounds per deliver_due, so a flood cannot keep it busy forever
# A send may take this long (SMTP and webhook timeouts are 30 s and 20 s): a row whose
# turn comes later than this before its lease ends is given back, not sent, so no other
# daemon can take it over while it is still being sent.
SEND_MARGIN = timedelta(seconds=90)


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    released: int = 0  # given back unsent (lease too short, or shutdown)
    deferred: int = 0  # given back until a rate limit has room (counted in released too)
    unmarked: int = 0  # sent, but the mark not written (the database locked): sent again
    stuck: int = 0  # stopped, not given back (the database locked): ``sending``, leased
    errors: list[str] = field(default_factory=list)

    def describe(self) -> str:
        queued = f", {self.deferred} queued" if self.deferred else ""
        return f"{self.sent} sent, {self.retrying} retrying, {self.dead} dead{queued}"


def backoff(base: float, attempts: int, rng: Callable[[], float] = random.random) -> timedelta:
    """Delay before the next try after ``attempts`` failed ones (the first: ``base``)."""
    delay = min(base * 2 ** max(0, attempts - 1), MAX_BACKOFF.total_seconds())
    return timedelta(seconds=delay * (0.9 + 0.2 * rng()))


class Deliverer:
    """Delivers due outbox rows.  Raises ``ChannelConfigError`` at construction when a
    channel is misconfigured, so the daemon and ``monitor check`` say so at once;
    ``warnings`` lists the watchers that cannot be reached (see ``check_alerting``)."""

    def __init__(self, config: Config, store: Store, *, env: Mapping[str, str] | None = None,
                 clock: Callable[[], datetime] = utcnow,
                 lease_seconds: float | None = None) -> None:
        self.config, self.settings = config, config.settings
        self.env = os.environ if env is None else env
        self.check()
        self.store, self.repo = store, AlertsRepo(store)
        self.clock = clock
        self.lease = timedelta(seconds=lease_seconds or self.settings.lease_seconds)
        self._channels: dict[str, Channel] = {}
        self.stopping = False
        self.held: dict[int, datetime] = {}  # claimed rows not yet settled: id -> lease
        self.cut: set[int] = set()  # held rows whose send was cancelled mid-way
        self.cutting = False  # a second signal cuts the sends in flight (deliver_stoppably)
        self.stopped_by: str | None = None  # the signal that stopped deliver_stoppably
        self._stopped: asyncio.Event | None = None  # set by stop (see _turn)

    @cached_property
    def composer(self) -> Composer:
        """Made on the first alert to send: a ``monitor check`` that queued none loads
        no templates (jinja2) or diff rendering."""
        from alerts.compose import Composer

        return Composer(self.settings, self.repo)

    def stop(self) -> None:
        """Claim nothing more; batches not yet sending are given back (see module doc),
        those waiting for a send slot at once."""
        self.stopping = True
        if self._stopped is not None:
            self._stopped.set()

    def release_held(self, *, unsent_only: bool = False) -> int:
        """Give back every row still claimed, unsent (after a cut-short shutdown);
        ``unsent_only``: not those whose send was cut mid-way (they may have gone out)."""
        n = 0
        for lease in set(self.held.values()):
            ids = [i for i, held in self.held.items() if held == lease
                   and not (unsent_only and i in self.cut)]
            n += self.repo.release(ids, lease, self.clock()) if ids else 0
            for i in ids:  # given back: a later failure leaves only the others held
                del self.held[i]
        self.held.clear()
        return n

    def check(self) -> None:
        self.warnings = check_alerting(self.config, self.env)

    async def deliver_due(self, limit: int = 100,
                          report: DeliveryReport | None = None) -> DeliveryReport:
        report = DeliveryReport() if report is None else report
        self._stopped = None  # made again in this loop (an Event belongs to one)
        for _ in range(MAX_ROUNDS):
            if self.stopping:
                break
            now = self.clock()
            try:
                rows = await asyncio.to_thread(self.repo.claim_due, now, now + self.lease,
                                               limit)
            except StorageError:
                if not self.stopping:
                    raise
                break  # stopped waiting for the write lock: nothing was claimed
            self.held.update((r.id, now + self.lease) for r in rows)
            if not rows:
                break
            gate = asyncio.Semaphore(CONCURRENCY)
            with self.composer.sharing():  # a change composed once for its recipients
                await asyncio.gather(*(self._guarded(batch, report, gate)
                                       for batch in group(rows)))
            if len(rows) < limit:
                break
        return report

    async def _guarded(self, batch: list[AlertRecord], report: DeliveryReport,
                       gate: asyncio.Semaphore) -> None:
        if not await self._turn(gate):  # stopped while waiting: given back at once
            await self._give_back(batch, report)
            return
        try:
            if self.stopping or self.clock() > _lease(batch) - min(SEND_MARGIN, self.lease / 2):
                await self._give_back(batch, report)
                return
            try:
                message = await self._send(batch)
            except asyncio.CancelledError:  # it may have gone: release_held(unsent_only)
                self.cut.update(r.id for r in batch)
                raise
            except Exception as exc:
                if self.cutting:  # the channel's error of a cut send: it may have gone
                    self.cut.update(r.id for r in batch)  # (never retried at once)
                    raise asyncio.CancelledError from exc
                await self._send_failed(batch, exc, report)
                return
        finally:
            gate.release()
        await self._sent(batch, message, report)

    async def _send_failed(self, batch: list[AlertRecord], exc: Exception,
                           report: DeliveryReport) -> None:
        """A send that failed: deferred (a rate limit), or retried, then dead; a bug must
        not stop the other rows."""
        if isinstance(exc, DeliveryDeferred):
            await self._deferred(batch, exc, report)
            return
        if not isinstance(exc, DeliveryError):
            logger.opt(exception=exc).error("alert {}: unexpected error", batch[0].id)
            exc = DeliveryError(f"internal error: {exc!r}")
        await self._failed(batch, exc, report)

    async def _turn(self, gate: asyncio.Semaphore) -> bool:
        """A send slot taken (True), or the deliverer stopped first (False): a batch
        waiting for a slot is not held until a send in flight ends, however long."""
        if self.stopping:
            return False
        take = asyncio.ensure_future(gate.acquire())
        stopped = asyncio.ensure_future(self._stop_event().wait())
        try:
            await asyncio.wait((take, stopped), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not take.done():
                take.cancel()
            await asyncio.wait((take,))  # a slot taken as it was cancelled is let go
        taken = not take.cancelled() and take.exception() is None
        if taken and self.stopping:
            gate.release()
            return False
        return taken

    def _stop_event(self) -> asyncio.Event:
        """Set by ``stop``: made in the running loop, set at once if stopped already."""
        if self._stopped is None:
            self._stopped = asyncio.Event()
            if self.stopping:
                self._stopped.set()
        return self._stopped

    async def _give_back(self, batch: list[AlertRecord], report: DeliveryReport) -> None:
        try:
            await asyncio.to_thread(self.repo.release, [r.id for r in batch], _lease(batch),
                                    self.clock())
        except StorageError:
            if not self.stopping:
                raise
            return  # stopped waiting for the write lock: still held (``release_held``)
        self._settled(batch)
        report.released += len(batch)

    async def _send(self, batch: list[AlertRecord]) -> Message:
        first = batch[0]
        try:
            message = await asyncio.to_thread(self.composer.compose, batch)
        except KeyError as exc:
            raise DeliveryError(f"nothing to send: {exc.args[0]} no longer exists",
                                permanent=True) from exc
        except DeliveryError:
            raise
        except MonitorError as exc:  # e.g. the database is away: try again later
            raise DeliveryError(f"cannot compose: {exc}") from exc
        target = Target(first.recipient, first.payload.get("secret_env"), first.watcher)
        await self._channel(first).send(message, target)
        return message

    def _channel(self, row: AlertRecord) -> Channel:
        name = channel_name(self.settings, row.channel, row.payload.get("format"))
        if name not in self._channels:
            if name not in CHANNELS:
                raise DeliveryError(f"no channel {name!r}", permanent=True)
            self._channels[name] = CHANNELS[name](self.settings, self.env)
        return self._channels[name]

    def _settled(self, batch: list[AlertRecord]) -> None:
        for r in batch:
            self.held.pop(r.id, None)

    async def _sent(self, batch: list[AlertRecord], message: Message,
                    report: DeliveryReport) -> None:
        ids = [r.id for r in batch]
        self._settled(batch)  # sent: never given back, even if marking it fails
        try:
            await asyncio.to_thread(self.repo.mark_sent, ids, _lease(batch), message.message_id,
                                    self.clock())
        except MonitorError as exc:
            # Sent but not recorded: the lease runs out and the row goes once more, with
            # the same Message-ID, which is the most this design ever duplicates.
            logger.error("alerts {} sent but not marked: {}", ids, exc)
            report.unmarked += len(batch)
        report.sent += len(batch)
        logger.info("alert {} sent to {} ({})", ids, redact(batch[0].recipient),
                    message.message_id)

    async def _deferred(self, batch: list[AlertRecord], exc: DeliveryDeferred,
                        report: DeliveryReport) -> None:
        due = self.clock() + timedelta(seconds=exc.delay)
        await asyncio.to_thread(self.repo.release, [r.id for r in batch], _lease(batch), due)
        self._settled(batch)
        report.released += len(batch)
        report.deferred += len(batch)
        logger.info("alerts {} to {} queued until {}: {}", [r.id for r in batch],
                    redact(batch[0].recipient), due.isoformat(timespec="seconds"), exc)

    async def _failed(self, batch: list[AlertRecord], exc: DeliveryError,
                      report: DeliveryReport) -> None:
        ids, to = [r.id for r in batch], redact(batch[0].recipient)
        self._settled(batch)
        attempts = max(r.attempts for r in batch)
        reason = f"{exc} (attempt {attempts})"
        report.errors.append(f"alert {ids[0]} to {to}: {reason}")
        if exc.permanent or attempts >= self.settings.alert_max_attempts:
            await asyncio.to_thread(self.repo.mark_dead, ids, _lease(batch), reason,
                                    self.clock())
            report.dead += len(batch)
            logger.error("alert {} to {} is dead: {}", ids, to, reason)
            return
        retry_at = self.clock() + backoff(self.settings.alert_retry_base, attempts)
        await asyncio.to_thread(self.repo.mark_retry, ids, _lease(batch), reason, retry_at)
        report.retrying += len(batch)
        logger.warning("alert {} to {} failed, retry at {}: {}", ids, to,
                       retry_at.isoformat(timespec="seconds"), reason)


async def deliver_stoppably(deliverer: Deliverer, limit: int = 100) -> DeliveryReport:
    """``deliver_due`` stopped by SIGINT or SIGTERM as the daemon stops it (see the
    module doc): the first signal claims nothing more and gives back the rows not yet
    sending, the second cuts the sends in flight short; either way every claimed row
    not sent (nor cut mid-send) is ``pending`` again on return.  ``deliverer.stopped_by``
    names the signal."""
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    assert task is not None
    report = DeliveryReport()

    def on_signal(sig: signal.Signals) -> None:
        if deliverer.stopping:
            logger.warning("{} again: cutting the sends in flight short", sig.name)
            deliverer.cutting = True
            task.cancel()
            return
        deliverer.stopped_by = sig.name
        logger.warning("{} received: claiming no more alerts, giving back those not "
                       "yet sending ({} again cuts the sends in flight short)",
                       sig.name, sig.name)
        deliverer.stop()
        # a step waiting for SQLite's write lock held by another process gives up within
        # STOP_GRACE (storage.db), not after its busy timeout
        deliverer.store.stop_waiting()

    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        await deliverer.deliver_due(limit, report)
    except asyncio.CancelledError:
        if deliverer.stopped_by is None:
            raise
        task.uncancel()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        if deliverer.held:
            await _release_held(deliverer, report)
    return report


async def _release_held(deliverer: Deliverer, report: DeliveryReport) -> None:
    """The claimed rows not sent given back; those the database, locked by another
    process past the stop, would not take back stay ``sending`` until their lease ends
    (counted in ``report.stuck``: the next run sends them then, once)."""
    try:
        report.released += await asyncio.to_thread(deliverer.release_held, unsent_only=True)
    except StorageError as exc:
        if deliverer.stopped_by is None:
            raise
        report.stuck += len([i for i in deliverer.held if i not in deliverer.cut])
        logger.error("alerts not given back (their lease runs out): {}", exc)


def _lease(batch: list[AlertRecord]) -> datetime:
    lease = batch[0].lease
    assert lease is not None, "only claimed rows are delivered"
    return lease


def group(rows: list[AlertRecord]) -> list[list[AlertRecord]]:
    """One batch per row, except digest rows: one batch per (channel, recipient, format)."""
    batches: list[list[AlertRecord]] = []
    digests: dict[tuple[str, str, str], list[AlertRecord]] = {}
    for r in rows:
        if r.event == "change" and r.payload.get("mode") == "digest":
            key = (r.channel, r.recipient, str(r.payload.get("format")))
            digests.setdefault(key, []).append(r)
        else:
            batches.append([r])
    return batches + list(digests.values())
