"""Outbox rows: written inside the check's transaction, read by the delivery loop.

Core statements on the transaction's connection (a session gives its own): a check's
commit (``Store.commit_checks``) opens no ORM session, and the rows are those an ORM
``Alert`` gives (the table's Python-side defaults are the model's: tests/test_storage.py;
tests/test_batch_commit.py compares the rows with the ORM's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Connection, bindparam, insert, select, update

from storage.instant import utcnow
from storage.records import AlertDraft
from storage.tables import alerts

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

_BY_KEY = select(alerts.c.id, alerts.c.status).where(alerts.c.dedupe_key == bindparam("key"))
_POINT = update(alerts).where(alerts.c.id == bindparam("id_"))
_INSERT = insert(alerts).returning(alerts.c.id)


def insert_alerts(s: Session | Connection, page_id: int | None, drafts: Sequence[AlertDraft],
                  change_ids: Sequence[int]) -> list[int]:
    """Insert drafts whose ``dedupe_key`` is new; an existing key is never queued twice
    (a ``replace_pending`` draft moves a still-pending row of its key to its change)."""
    if not drafts:
        return []
    c = s if isinstance(s, Connection) else s.connection()
    ids = []
    for d in drafts:
        change_id = change_ids[d.change_index] if d.change_index is not None else None
        key = d.dedupe_key.format(change_id=change_id)
        existing = c.execute(_BY_KEY, {"key": key}).first()
        if existing is not None:
            if d.replace_pending and existing.status == "pending":
                # a condensed alert tells the newest state
                c.execute(_POINT, {"id_": existing.id, "change_id": change_id})
            continue
        ids.append(int(c.execute(_INSERT, {
            "dedupe_key": key, "event": d.event, "change_id": change_id, "page_id": page_id,
            "watcher": d.watcher, "channel": d.channel, "recipient": d.recipient,
            "payload": dict(d.payload), "next_attempt_at": d.hold_until or utcnow(),
        }).scalar_one()))
    return ids
