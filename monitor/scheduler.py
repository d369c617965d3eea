"""When each source is checked: its *plan* and its slots.

An ``interval`` source fires on a fixed grid: ``ANCHOR + offset + k × interval`` in
``settings.timezone``.  The offset is a stable hash of the source's name spread over
``jitter × interval``, and every replica computes the same grid: they all fire a source
at the same moment and the database claim (``storage.schedule``) lets one win.
APScheduler's own ``jitter`` is not used: it is random per process and accumulates.

``jitter`` is 1 by default: the slots of 10,000 sources with ``10m`` are spread over the
whole 10 minutes, 17 checks a second, and each host's share evenly too (the load
``monitor.capacity`` assumes).  It was 0.1: the same sources all fell in the first
minute of every interval, 167 checks a second, then nothing for nine minutes; the
daemon fell behind by minutes at a load it can carry, and a host saw its 200 pages
asked in a burst rather than one every three seconds.  A source with an interval does
not ask for a time of day (``cron`` does), so nothing is lost by the spread: a ``1d``
source still fires at the same time every day, its own.  The hash is uniform, not an
even grid of ranks: a source added or removed moves no other source's slot.

A ``cron`` source fires exactly at its cron times.  After a check, the page's
``next_check_at`` is the plan's next slot, so a slot is checked once, whoever fires it.
A claim needs ``next_check_at <= now`` with no tolerance: a run that waited in a queue
until just before the next slot must not take that slot early (the page would be fetched
twice within one period); a replica whose clock is behind merely loses claims.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import SourceConfig
from monitor.settings import Settings

# Midnight local time: a "1d" source fires at the same time of day on every replica.
ANCHOR = datetime(2024, 1, 1)


@dataclass(frozen=True)
class Plan:
    """The schedule of one source; equal plans need no rescheduling."""

    cron: str | None
    seconds: float
    timezone: str
    offset: float
    skip: float = 0.0  # seconds passed over before the next slot (monitor.follow.unlisted_plan)

    def trigger(self) -> BaseTrigger:
        tz = ZoneInfo(self.timezone)
        if self.cron:
            return CronTrigger.from_crontab(self.cron, timezone=tz)
        start = ANCHOR.replace(tzinfo=tz) + timedelta(seconds=self.offset)
        return IntervalTrigger(seconds=self.seconds, start_date=start, timezone=tz)

    def missed(self, due_at: datetime, now: datetime, cap: int = 1000) -> int:
        """Slots after ``due_at`` that passed by ``now``: runs skipped because this one
        started late (its host was behind)."""
        if not self.cron:
            return min(cap, int((now - due_at).total_seconds() // self.seconds))
        n, at = 0, self.next_after(due_at)
        while at <= now and n < cap:
            n, at = n + 1, self.next_after(at)
        return n

    def next_after(self, at: datetime) -> datetime:
        """The first slot strictly after ``at`` (and ``skip`` seconds more)."""
        at += timedelta(seconds=self.skip, microseconds=1)
        nxt = self.trigger().get_next_fire_time(None, at)
        if nxt is None:  # a cron that never fires again cannot pass validation
            raise ValueError(f"no slot after {at}")
        return nxt


def spread(name: str, seconds: float, jitter: float) -> float:
    """A stable offset in [0, jitter × seconds) derived from the source's name."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return round(seconds * jitter * fraction, 3)


def plan_for(source: SourceConfig, settings: Settings) -> Plan:
    if source.cron:
        return Plan(cron=source.cron, seconds=0.0, timezone=settings.timezone, offset=0.0)
    assert source.interval is not None, "config gives every source an interval or a cron"
    seconds = source.interval.total_seconds()
    return Plan(cron=None, seconds=seconds, timezone=settings.timezone,
                offset=spread(source.name, seconds, settings.jitter))


def plans(sources: tuple[SourceConfig, ...], settings: Settings) -> dict[str, Plan]:
    return {s.name: plan_for(s, settings) for s in sources if s.enabled}


@dataclass
class JobChanges:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rescheduled: list[str] = field(default_factory=list)

    # sources still in the file whose job went or came back with ``enabled``
    paused: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.rescheduled or self.paused
                    or self.resumed)

    def enabled_apart(self, disabled: set[str], were_disabled: set[str]) -> JobChanges:
        """A job gone because its source was paused (``enabled = false``, or the admin
        page's pause) is said ``paused``, not ``removed`` (its source is still in the
        file); one back because it was resumed, ``resumed``."""
        self.paused = [n for n in self.removed if n in disabled]
        self.resumed = [n for n in self.added if n in were_disabled]
        self.removed = [n for n in self.removed if n not in disabled]
        self.added = [n for n in self.added if n not in were_disabled]
        return self

    def describe(self) -> str:
        parts = [f"{what} {', '.join(names)}" for what, names in (
            ("added", self.added), ("removed", self.removed), ("paused", self.paused),
            ("resumed", self.resumed), ("rescheduled", self.rescheduled)) if names]
        return "; ".join(parts) or "no schedule change"


class SourcePlans:
    """The plans of the enabled sources, kept in step with the sources file.

    No timer per source: the database's ``next_check_at`` says when each page is due
    and the daemon's dispatcher (``monitor.daemon``) starts what is due.  An
    APScheduler job per source cost ~1 KB and a timer each; 10,000 of them fired
    thousands of coroutines that then queued behind their host.
    """

    def __init__(self) -> None:
        self.plans: dict[str, Plan] = {}

    def sync(self, wanted: dict[str, Plan]) -> JobChanges:
        changes = JobChanges()
        changes.removed = sorted(set(self.plans) - set(wanted))
        for name, plan in sorted(wanted.items()):
            old = self.plans.get(name)
            if old is None:
                changes.added.append(name)
            elif old != plan:
                changes.rescheduled.append(name)
        self.plans = dict(wanted)
        return changes
