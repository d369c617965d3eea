"""Politeness towards the watched servers: few requests at a time per host, spaced out.

Government sites are often small servers behind touchy firewalls; hammering one gets the
daemon's address banned.  ``HostLimiter.slot(host)`` is held for the whole request
(body included) and the next request to the host starts no earlier than ``delay_for(host)``
seconds after the previous one ended.  With ``limit_for(host)`` > 1 (the
``host_concurrency`` setting) that many requests may run at once, and each also starts
no earlier than ``delay_for(host)`` after the previous start.  ``defer`` pushes a host's
next slot back for a retry.  Different hosts never wait for each other.

A host that says it is overloaded (429 or 503, see ``overloaded``) is *backed off*: no
request of any source starts on it for its ``Retry-After`` (already capped by the caller,
see ``retry_after``) or, without one, for ``backoff * 2 ** (n - 1)`` seconds after its
n-th overload answer in a row (at most ``max_backoff``).  The back-off outlives the fetch
that caused it; the count restarts at the host's next normal answer (``answered``).  A
caller whose deadline ends before the back-off does gets ``BackingOff`` at once instead of
waiting in vain.  All of this lives in one process: replicas each keep their own.  The
time a fetch waits for its slot is not part of its ``fetch_deadline`` (``slot``'s
``waiting``; the decision is explained in ``monitor.fetch.http``).
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


class BackingOff(Exception):  # not a MonitorError: monitor.fetch translates it
    """The host's back-off ends after the caller's deadline."""

    def __init__(self, host: str, until: datetime, reason: str) -> None:
        super().__init__(f"host {host} backing off until {until:%H:%M:%S} UTC ({reason})")
        self.host, self.until, self.reason = host, until, reason


@dataclass
class _BackOff:
    strikes: int  # overload answers in a row
    until: float  # time.monotonic() the back-off ends
    reason: str  # what the host said, for the error message


class HostLimiter:
    """Shared by every fetch of a daemon, so the spacing and back-offs hold across sources."""

    def __init__(self, delay_for: Callable[[str], float], *, backoff: float = 1.0,
                 max_backoff: float = 120.0,
                 limit_for: Callable[[str], int] = lambda host: 1) -> None:
        self._delay_for, self.limit_for = delay_for, limit_for
        self._backoff, self._max_backoff = backoff, max_backoff
        self._locks: dict[str, asyncio.Semaphore] = {}
        self._next: dict[str, float] = {}  # host -> time.monotonic() of its next free slot
        self._backoffs: dict[str, _BackOff] = {}

    @asynccontextmanager
    async def slot(self, host: str, deadline: float | None = None,
                   waiting: Callable[[], AbstractContextManager[None]] = nullcontext,
                   ) -> AsyncIterator[None]:
        """Wait for the host's turn, then hold it until the block ends.

        ``deadline`` (``time.monotonic()``): raise ``BackingOff`` rather than wait for a
        back-off that ends after it.  ``waiting()`` is entered around the wait, only when
        there is one (the fetch stops its deadline's clock there, ``monitor.fetch.http``).
        """
        key = host.lower()
        self.check(key, deadline)
        limit = self.limit_for(key)
        lock = self._locks.setdefault(key, asyncio.Semaphore(limit))
        if lock.locked() or self.wait_time(key) > 0:
            with waiting():
                await self._take(lock, key, deadline)
        else:  # free: taken without suspending
            await self._take(lock, key, deadline)
        try:
            if limit > 1:  # the next one starts a delay after this start, too
                self._push(key, self._delay_for(key))
            yield
        finally:
            self._push(key, self._delay_for(key))
            lock.release()

    async def _take(self, lock: asyncio.Semaphore, key: str, deadline: float | None) -> None:
        await lock.acquire()
        try:
            await self._wait_until_free(key, deadline)
        except BaseException:
            lock.release()
            raise

    def defer(self, host: str, seconds: float) -> None:
        """Let no request start on ``host`` for ``seconds`` (never brings a slot forward)."""
        self._push(host.lower(), seconds)

    def overloaded(self, host: str, retry_after: float | None, said: str) -> float:
        """``host`` answered 429/503 (``said``): back it off; returns the seconds."""
        key = host.lower()
        prev = self._backoffs.get(key)
        strikes = prev.strikes + 1 if prev else 1
        if retry_after is not None:
            seconds, why = retry_after, f"{said} with Retry-After: {retry_after:g} s"
        else:
            seconds = min(self._backoff * 2 ** (strikes - 1), self._max_backoff)
            why = f"{said}, {strikes} in a row, no Retry-After: {seconds:g} s"
        until = max(prev.until if prev else 0.0, time.monotonic() + seconds)
        self._backoffs[key] = _BackOff(strikes, until, why)
        self._push(key, seconds)
        return seconds

    def answered(self, host: str) -> None:
        """``host`` answered normally: the next overload starts a fresh back-off."""
        self._backoffs.pop(host.lower(), None)

    def check(self, host: str, deadline: float | None) -> None:
        """Raise ``BackingOff`` if ``host``'s back-off ends after ``deadline``."""
        b = self._backoffs.get(host.lower())
        if deadline is None or b is None or b.until <= deadline:
            return
        until = datetime.now(UTC) + timedelta(seconds=b.until - time.monotonic())
        raise BackingOff(host.lower(), until, b.reason)

    def wait_time(self, host: str) -> float:
        """Seconds until ``host`` may be asked again, ignoring a request in progress."""
        return max(0.0, self._next.get(host.lower(), 0.0) - time.monotonic())

    async def _wait_until_free(self, key: str, deadline: float | None) -> None:
        # A loop, not one sleep: a back-off may push the slot back while we sleep.
        self.check(key, deadline)
        wait = self.wait_time(key)
        while wait > 0:
            await asyncio.sleep(wait)
            self.check(key, deadline)
            wait = self.wait_time(key)

    def _push(self, key: str, seconds: float) -> None:
        self._next[key] = max(self._next.get(key, 0.0), time.monotonic() + seconds)


def retry_after(value: str | None, cap: float, *, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or HTTP-date), at most ``cap``.

    None when the header is missing or unreadable; a date in the past means 0.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # "-0000" in the date: UTC by RFC 5322
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), cap)
