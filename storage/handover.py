"""A removed listing's shared documents handed to the other listing that lists them.

Two listings that list one document share its page (``storage.documents``: the first to
find it owns it, the other keeps a ``reference`` row, ``pages.same_as``).  When the owner
leaves the file, ``Store.sync_sources`` hands each such page over in the transaction
that makes the owner inactive.  Core tables only: a sync (every ``monitor check``) loads
no ORM (``tests/test_cli_startup.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, update
from sqlalchemy import select as sa_select

from storage.tables import pages, sources

if TYPE_CHECKING:
    from sqlalchemy import Connection


def hand_over(c: Connection, removed: Sequence[int]) -> list[str]:
    """The documents of the ``removed`` sources that another active listing lists too
    (its ``reference`` row) go to that listing now, at the sync that removes them: the
    same page (its versions, changes and plan: one history that goes on, no 首次收录
    again), with that listing's title, date and listed state; the reference row is
    deleted.  Done at the sync, not at that listing's next read of its column, which
    may be a 304 for weeks (nothing would check the document meanwhile).  The first
    reference (oldest row) takes it; a third listing's reference stays a reference.
    Returns the URLs handed over.  Runs in ``Store.sync_sources``'s transaction, after
    the removed sources are made inactive."""
    if not removed:
        return []
    p, ref, rs = pages.c, pages.alias("ref"), sources.alias("ref_source")
    rows = c.execute(sa_select(p.id, p.url, ref.c.id.label("ref_id"), ref.c.source_id,
                               ref.c.parent_id, ref.c.list_title, ref.c.list_date,
                               ref.c.listed, ref.c.unlisted_at)
                     .join(ref, ref.c.same_as == p.id).join(rs, rs.c.id == ref.c.source_id)
                     .where(p.source_id.in_(list(removed)), p.kind == "document",
                            ref.c.kind == "reference", rs.c.active)
                     .order_by(p.id, ref.c.id)).all()
    taken: dict[int, Any] = {}
    for row in rows:
        taken.setdefault(row.id, row)
    for doc_id, row in taken.items():
        c.execute(delete(pages).where(p.id == row.ref_id))
        c.execute(update(pages).where(p.id == doc_id).values(
            source_id=row.source_id, parent_id=row.parent_id, list_title=row.list_title,
            list_date=row.list_date, listed=row.listed, unlisted_at=row.unlisted_at,
            announce=False))
    return [row.url for row in taken.values()]
