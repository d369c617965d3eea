"""Politeness towards the watched servers: one request at a time per host, spaced out.

Government sites are often small servers behind touchy firewalls; hammering one gets the
daemon's address banned.  ``HostLimiter.slot(host)`` is held for the whole request
(body included) and the next request to the host starts no earlier than ``delay_for(host)``
seconds after the previous one ended.  ``defer`` pushes a host's next slot back, for a
``Retry-After`` (see ``retry_after``) or a retry back-off.  Different hosts never wait for
each other.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime


class HostLimiter:
    """Shared by every fetch of a daemon, so the spacing holds across sources."""

    def __init__(self, delay_for: Callable[[str], float]) -> None:
        self._delay_for = delay_for
        self._locks: dict[str, asyncio.Lock] = {}
        self._next: dict[str, float] = {}  # host -> time.monotonic() of its next free slot

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Wait for the host's turn, then hold it until the block ends."""
        key = host.lower()
        async with self._locks.setdefault(key, asyncio.Lock()):
            await self._wait_until_free(key)
            try:
                yield
            finally:
                self._push(key, self._delay_for(key))

    def defer(self, host: str, seconds: float) -> None:
        """Let no request start on ``host`` for ``seconds`` (never brings a slot forward)."""
        self._push(host.lower(), seconds)

    def wait_time(self, host: str) -> float:
        """Seconds until ``host`` may be asked again, ignoring a request in progress."""
        return max(0.0, self._next.get(host.lower(), 0.0) - time.monotonic())

    async def _wait_until_free(self, key: str) -> None:
        # A loop, not one sleep: ``defer`` may push the slot back while we sleep.
        wait = self.wait_time(key)
        while wait > 0:
            await asyncio.sleep(wait)
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
