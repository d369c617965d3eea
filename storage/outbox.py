"""Outbox rows: written inside the check's transaction, read by the delivery loop."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, select

from storage.models import Alert, utcnow
from storage.records import AlertDraft


def insert_alerts(s: Session, page_id: int, drafts: Sequence[AlertDraft],
                  change_ids: Sequence[int]) -> list[int]:
    """Insert drafts whose ``dedupe_key`` is new; an existing key is never queued twice
    (a ``replace_pending`` draft moves a still-pending row of its key to its change)."""
    ids = []
    for d in drafts:
        change_id = change_ids[d.change_index] if d.change_index is not None else None
        key = d.dedupe_key.format(change_id=change_id)
        existing = s.exec(select(Alert).where(Alert.dedupe_key == key)).first()
        if existing is not None:
            if d.replace_pending and existing.status == "pending":
                existing.change_id = change_id  # a condensed alert tells the newest state
                s.add(existing)
            continue
        row = Alert(dedupe_key=key, event=d.event, change_id=change_id, page_id=page_id,
                    watcher=d.watcher, channel=d.channel, recipient=d.recipient,
                    payload=dict(d.payload), next_attempt_at=d.hold_until or utcnow())
        s.add(row)
        s.flush()
        ids.append(row.id or 0)
    return ids
