"""A per-robot limit of N messages in any window of W seconds, shared by every delivery
of the process (DingTalk and WeCom robots: 20 a minute each, ``dingtalk_rate``/
``dingtalk_window``, ``wecom_rate``/``wecom_window``).

Sends to one robot take turns (``turn``): a send may start only W seconds after the
N-th send before it *finished*.  A send arrives at the robot after it starts and before
it finishes, so no window of W seconds ever holds more than N arrivals, however late
the event loop or the network made an earlier send.  Counting reservations instead
would not hold: a send that starts late lands in the next send's window.

A turn less than ``W / 4`` away is waited for in place (the row stays claimed).  One
further away is not waited for: the channel raises ``DeliveryDeferred`` and the row goes
back to the outbox, due when the robot has room, its attempt not counted: queued, never
dropped, and no claim is held for minutes (a lease must outlive its send).  A send that
failed still counts (the robot may have counted it).

Turns are per event loop (an ``asyncio.Lock`` belongs to one loop); the times are
shared by the whole process under a thread lock.  Across several daemons (replicas on
one database) each process counts its own sends, so a robot may get up to N per window
from each; DingTalk then answers errcode 130101 ("sending too fast"), a temporary
failure retried with back-off.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from monitor.errors import DeliveryDeferred


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.finished: dict[str, deque[float]] = {}  # per robot: when its sends ended
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                               dict[str, asyncio.Lock]] = (
            weakref.WeakKeyDictionary())

    def delay(self, key: str, rate: int, window: float) -> float:
        """Seconds before the next send to ``key`` may start; ``DeliveryDeferred`` when
        that is more than a quarter of the window."""
        with self.lock:
            now = self.clock()
            done = self.finished.setdefault(key, deque())
            while done and done[0] <= now - window:
                done.popleft()  # out of every window still to come
            wait = 0.0 if len(done) < rate else done[-rate] + window - now
        if wait > window / 4:
            raise DeliveryDeferred(f"rate limit: {rate} messages per {window:g}s, "
                                   f"next room in {wait:.0f}s", delay=wait)
        return max(0.0, wait)

    def record(self, key: str) -> None:
        with self.lock:
            self.finished.setdefault(key, deque()).append(self.clock())

    @asynccontextmanager
    async def turn(self, key: str, rate: int, window: float) -> AsyncIterator[None]:
        """Wait for room, run the send (the ``async with`` body), count it."""
        async with self._turn_lock(key):
            wait = self.delay(key, rate, window)
            if wait:
                await asyncio.sleep(wait)
            try:
                yield
            finally:
                self.record(key)

    def _turn_lock(self, key: str) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self.lock:
            return self._turns.setdefault(loop, {}).setdefault(key, asyncio.Lock())


# One per process: every Deliverer (daemon, monitor check, monitor alerts retry) shares it.
ROBOTS = RateLimiter()
