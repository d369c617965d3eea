"""Following a listing's documents: checking the ones that are due.

A listing's documents are pages of its source, scheduled on the ``[sources.follow]``
interval through ``pages.next_check_at`` (no scheduler job each: a column may list
hundreds).  ``check_due`` checks those that are due, one after another (they are
usually on the listing's host, whose politeness the fetcher keeps anyway), each under
its page's claim, so two processes never check one document at once; after each check
the document is due again one follow interval later.

``monitor check`` calls it right after a listing's check (so a new document is fetched,
and told with its text, in the same pass); the daemon calls it from its sweep.
``monitor.scheduler`` (with APScheduler's triggers, ~10 ms to import) is imported when a
listing's documents are scheduled: a check of plain pages never loads it.
"""

from __future__ import annotations

import asyncio

from loguru import logger

from monitor.config import SourceConfig
from monitor.errors import reported
from monitor.pipeline import Checker
from monitor.types import CheckResult
from storage.instant import utcnow
from storage.schedule import Schedule


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
        return [r for _, page_id, url in due
                if (r := await check_one(checker, schedule, source, page_id, url))]
    return []


async def check_one(checker: Checker, schedule: Schedule, source: SourceConfig,
                    page_id: int, url: str, *, now: bool = False) -> CheckResult | None:
    """One document under its claim; None when it is not due (unless ``now``: asked
    for by name) or someone else has it."""
    doc = source.document(url)
    take = schedule.take if now else schedule.claim
    if not await asyncio.to_thread(take, page_id, utcnow()):
        return None
    try:
        with logger.contextualize(source=source.name, document=url):
            return await checker.check(doc, page_id=page_id)
    finally:
        from monitor.scheduler import plan_for

        next_at = plan_for(doc, checker.config.settings).next_after(utcnow())
        with reported(f"{source.name}: cannot release document {url}"):
            await asyncio.to_thread(schedule.release, page_id, next_at)
