"""Following a listing's documents: checking the ones that are due.

A listing's documents are pages of its source, scheduled on the ``[sources.follow]``
interval through ``pages.next_check_at`` (no scheduler job each: a column may list
hundreds).  ``check_due`` checks those that are due, one after another (they are
usually on the listing's host, whose politeness the fetcher keeps anyway), each under
its page's claim, so two processes never check one document at once; after each check
the document is due again one follow interval later.

A document taken off its listing (*unlisted*) is checked only so that its deletion is
recorded and told (页面已删除); a column that archives its old items would otherwise keep
hundreds of them at the full follow cadence for ever.  So it slows down as it stays off
(``unlisted_plan``): after each check it waits about the follow interval times the
largest power of two, at most ``UNLISTED_SLOWEST`` (16), that is no more than half the
time it has been off its listing (the plan's next slot after that many intervals less
one: the slots stay those of the follow plan).  Off for less than two intervals it keeps
the interval; then 2×, 4×, 8×, 16× (a 1d follow interval: checked on about days 1, 2, 4,
8, 16, then every 16 days).
A deletion is still found, within 16 intervals; a document listed again is back at the
interval at once.  Follow plans with a ``cron`` keep their times (the admin chose them).
``monitor status`` and the timelines count and show unlisted documents as before.

``monitor check`` calls it right after a listing's check (so a new document is fetched,
and told with its text, in the same pass); the daemon calls it from its sweep.
``monitor.scheduler`` (with APScheduler's triggers, ~10 ms to import) is imported when a
listing's documents are scheduled: a check of plain pages never loads it.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from loguru import logger

from monitor.config import SourceConfig
from monitor.errors import reported
from monitor.pipeline import Checker
from monitor.types import CheckResult
from storage.instant import utcnow

if TYPE_CHECKING:
    from monitor.scheduler import Plan
    from storage.schedule import Schedule

UNLISTED_SLOWEST = 16  # an unlisted document waits at most this many follow intervals


async def check_due(checker: Checker, schedule: Schedule, source: SourceConfig,
                    listing_page_id: int) -> list[CheckResult]:
    """Check every document of ``source`` that is due; their results."""
    if not source.is_listing:
        return []
    from monitor.scheduler import plan_for

    plan = plan_for(source.document(source.url), checker.config.settings)
    with reported(f"{source.name}: cannot look for due documents"):
        await asyncio.to_thread(schedule.align_documents, listing_page_id, plan.next_after)
        due = await asyncio.to_thread(schedule.due_documents, [listing_page_id], utcnow())
        return [r for _, page_id, url, off in due
                if (r := await check_one(checker, schedule, source, page_id, url,
                                         unlisted_at=off))]
    return []


def unlisted_plan(plan: Plan, unlisted_at: datetime | None, now: datetime) -> Plan:
    """The follow ``plan`` of a document taken off its listing at ``unlisted_at`` (None:
    listed), as of ``now``: its next slot passes over the intervals the module doc says."""
    if unlisted_at is None or plan.cron or plan.seconds <= 0:
        return plan
    off, factor = (now - unlisted_at).total_seconds(), 1
    while factor < UNLISTED_SLOWEST and off >= 2 * factor * plan.seconds:
        factor *= 2
    return replace(plan, skip=(factor - 1) * plan.seconds)


async def check_one(checker: Checker, schedule: Schedule, source: SourceConfig,
                    page_id: int, url: str, *, now: bool = False,
                    unlisted_at: datetime | None = None) -> CheckResult | None:
    """One document under its claim; None when it is not due (unless ``now``: asked
    for by name) or someone else has it.  ``unlisted_at``: when it was taken off its
    listing (it is then due again later: ``unlisted_plan``)."""
    doc = source.document(url)
    take = schedule.take if now else schedule.claim
    if not await asyncio.to_thread(take, page_id, utcnow()):
        return None
    try:
        with logger.contextualize(source=source.name, document=url):
            return await checker.check(doc, page_id=page_id)
    finally:
        from monitor.scheduler import plan_for

        at = utcnow()
        next_at = unlisted_plan(plan_for(doc, checker.config.settings), unlisted_at,
                                at).next_after(at)
        with reported(f"{source.name}: cannot release document {url}"):
            await asyncio.to_thread(schedule.release, page_id, next_at)
