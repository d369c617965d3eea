"""The outbox side of the ``alerts`` table: claiming due rows, recording outcomes, and the
reads the composer needs (a change with its two versions).

Claiming works the same on SQLite and PostgreSQL: a row is taken with a compare-and-set
``UPDATE`` (``status`` and ``next_attempt_at`` must still be what the claimer read), so
two daemons never both win a row.  On PostgreSQL the candidate ``SELECT`` also uses
``FOR UPDATE SKIP LOCKED`` so concurrent claimers do not even queue behind each other.

While a row is ``sending``, ``next_attempt_at`` holds the lease expiry instead of a retry
time: a process killed between sending and marking leaves a ``sending`` row whose lease
runs out, and the next claimer takes it back (at most one duplicate message, with the
same Message-ID).  The lease value doubles as the claim token: outcome updates only apply
when it is unchanged, so a process whose lease was taken over cannot overwrite the new
owner's result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, update
from sqlmodel import Session, col, select

from storage import files, paragraphs
from storage.models import Alert, Change, Page, SourceRow, Version, utcnow
from storage.records import AlertDraft, StoredFile
from storage.repository import Store

PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"


@dataclass(frozen=True)
class AlertRecord:
    """One outbox row as the delivery loop and the CLI see it."""

    id: int
    event: str
    channel: str
    recipient: str
    watcher: str
    status: str
    attempts: int
    next_attempt_at: datetime
    change_id: int | None = None
    page_id: int | None = None
    last_error: str | None = None
    message_id: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    sent_at: datetime | None = None
    lease: datetime | None = None  # set on claimed rows: the claim token
    source: str = ""  # the source the alert is about ("" for config alerts); set by list()


@dataclass(frozen=True)
class VersionText:
    id: int
    title: str
    text: str
    metadata: dict[str, str]
    url: str
    fetched_at: datetime
    number: int = 0  # its place among its page's versions: 1 for the first


@dataclass(frozen=True)
class ChangeView:
    """A change with what a message about it needs.  ``old`` is the version the change
    was computed against: the previous version, or, for a change found after the
    source's settings changed, that version read again with the new settings
    (``details["reread"]``, ``monitor.pipeline.Checker._settings_apart``), so the diff
    of the alert is the page's alone."""

    id: int
    kind: str
    summary: str
    stats: dict[str, int]
    details: dict[str, Any]
    created_at: datetime
    source: str
    source_title: str | None
    page_url: str
    old: VersionText | None
    new: VersionText | None
    # the stored files the change's attachments name (details["attachments"]), by SHA-256
    files: dict[str, StoredFile] = field(default_factory=dict)
    page_id: int = 0


class AlertsRepo:
    """Outbox queries on top of a ``Store`` (its engine and error translation)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- the delivery loop ---------------------------------------------------------

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[AlertRecord]:
        """Take up to ``limit`` due rows: pending ones whose time has come and ``sending``
        ones whose lease ran out.  Each claimed row counts as an attempt."""
        with self.store.session() as s:
            due = or_(col(Alert.status) == PENDING, col(Alert.status) == SENDING)
            stmt = (select(Alert).where(due, col(Alert.next_attempt_at) <= now)
                    .order_by(col(Alert.next_attempt_at), col(Alert.id)).limit(limit))
            if not self.store.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True)
            rows = list(s.exec(stmt))
            claimed = [r for r in rows if self._take(s, r, lease_until)]
            s.commit()
            return [_record(r, lease=lease_until) for r in claimed]

    def _take(self, s: Session, row: Alert, lease_until: datetime) -> bool:
        result = s.execute(
            update(Alert)
            .where(and_(col(Alert.id) == row.id, col(Alert.status) == row.status,
                        col(Alert.next_attempt_at) == row.next_attempt_at))
            .values(status=SENDING, next_attempt_at=lease_until, attempts=row.attempts + 1)
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        row.status, row.attempts = SENDING, row.attempts + 1
        return True

    def mark_sent(self, ids: Sequence[int], lease: datetime, message_id: str,
                  at: datetime | None = None) -> int:
        return self._finish(ids, lease, status=SENT, sent_at=at or utcnow(),
                            message_id=message_id, last_error=None)

    def mark_retry(self, ids: Sequence[int], lease: datetime, error: str,
                   retry_at: datetime) -> int:
        return self._finish(ids, lease, status=PENDING, next_attempt_at=retry_at,
                            last_error=error)

    def mark_dead(self, ids: Sequence[int], lease: datetime, error: str,
                  at: datetime | None = None) -> int:
        # next_attempt_at records when it died (it holds no retry time any more).
        return self._finish(ids, lease, status=DEAD, last_error=error,
                            next_attempt_at=at or utcnow())

    def release(self, ids: Sequence[int], lease: datetime, at: datetime) -> int:
        """Give claimed rows back unsent (due at ``at``), without counting the attempt."""
        return self._finish(ids, lease, status=PENDING, next_attempt_at=at,
                            attempts=col(Alert.attempts) - 1)

    def _finish(self, ids: Sequence[int], lease: datetime, **values: Any) -> int:
        """Apply an outcome to rows still held under ``lease`` (see the module doc)."""
        with self.store.session() as s:
            result = s.execute(
                update(Alert)
                .where(and_(col(Alert.id).in_(list(ids)), col(Alert.status) == SENDING,
                            col(Alert.next_attempt_at) == lease))
                .values(**values).execution_options(synchronize_session=False))
            s.commit()
            return int(result.rowcount)  # type: ignore[attr-defined]

    def next_due(self) -> datetime | None:
        """When the earliest pending (or leased) row becomes due; the daemon sleeps till then."""
        with self.store.session() as s:
            return s.exec(select(Alert.next_attempt_at)
                          .where(col(Alert.status).in_([PENDING, SENDING]))
                          .order_by(col(Alert.next_attempt_at))).first()

    # --- admin -------------------------------------------------------------------------

    def list(self, *, failed: bool = False, pending: bool = False,
             limit: int | None = 200) -> list[AlertRecord]:
        """Newest first (``limit`` None: every one).  ``failed``: dead rows and pending
        rows that already failed once; ``pending``: the rows not delivered yet that will
        be (pending, or being sent now); both: either."""
        with self.store.session() as s:
            stmt = (select(Alert, SourceRow.name)
                    .outerjoin(Page, col(Page.id) == Alert.page_id)
                    .outerjoin(SourceRow, col(SourceRow.id) == Page.source_id)
                    .order_by(col(Alert.id).desc()).limit(limit))
            wanted = [*([col(Alert.status) == DEAD, _WAITING] if failed else []),
                      *([col(Alert.status).in_([PENDING, SENDING])] if pending else [])]
            if wanted:
                stmt = stmt.where(or_(*wanted))
            return [_record(r, source=name or str((r.payload or {}).get("source") or ""))
                    for r, name in s.exec(stmt)]

    def retry(self, ids: Sequence[int] | None, now: datetime | None = None) -> list[int]:
        """Failed rows (the given ones, or all when ``ids`` is None) become due ``now``:
        pending rows that already failed keep their attempt count, dead ones are pending
        again with a fresh budget.  Sent, sending and never-tried rows are left alone.
        Returns the ids that are due now.

        Each is one compare-and-set ``UPDATE``: a row a deliverer claims meanwhile is
        ``sending`` and stays its claimer's."""
        now = now or utcnow()
        with self.store.session() as s:
            # Waiting rows first: a dead row revived below also matches _WAITING.
            moved = _due_now(s, ids, _WAITING, next_attempt_at=now)
            revived = _due_now(s, ids, col(Alert.status) == DEAD, status=PENDING, attempts=0,
                               next_attempt_at=now)
            s.commit()
            return sorted(moved + revived)

    def statuses(self, ids: Sequence[int]) -> dict[int, str]:
        """The status of each of ``ids`` that exists."""
        with self.store.session() as s:
            rows = s.exec(select(Alert.id, Alert.status).where(col(Alert.id).in_(list(ids))))
            return {int(i or 0): status for i, status in rows}

    def get(self, alert_id: int) -> AlertRecord:
        with self.store.session() as s:
            row = s.get(Alert, alert_id)
            if row is None:
                raise KeyError(f"alert {alert_id}")
            return _record(row)

    def enqueue(self, drafts: Sequence[AlertDraft], page_id: int | None = None) -> list[int]:
        """Queue alerts that belong to no check (e.g. a configuration error)."""
        from storage.outbox import insert_alerts

        with self.store.session() as s:
            ids = insert_alerts(s, page_id, drafts, [])  # type: ignore[arg-type]
            s.commit()
            return ids

    # --- reads for composing -----------------------------------------------------------

    def change_view(self, change_id: int) -> ChangeView:
        with self.store.session() as s:
            ch = s.get(Change, change_id)
            if ch is None:
                raise KeyError(f"change {change_id}")
            page = s.get(Page, ch.page_id)
            src = s.get(SourceRow, page.source_id) if page else None
            return ChangeView(
                id=ch.id or 0, kind=ch.kind, summary=ch.summary, stats=dict(ch.stats),
                details=dict(ch.details), created_at=ch.created_at,
                source=src.name if src else "", page_url=page.url if page else "",
                source_title=(src.config or {}).get("title") if src else None,
                old=_reread(_text(s, ch.old_version_id), ch.details),
                new=_text(s, ch.new_version_id),
                page_id=ch.page_id, files=files.infos(s, _shas(ch.details)))

    def version_number(self, version_id: int) -> int:
        """The per-page ordinal of a version ("第3版"): its page's versions up to it."""
        with self.store.session() as s:
            return _number(s, s.get(Version, version_id))


def _shas(details: dict[str, Any]) -> list[str]:
    """The SHA-256s of the files a change's attachments name."""
    return [str(a.get(k)) for a in details.get("attachments") or []
            for k in ("old_sha256", "new_sha256") if a.get(k)]


# A pending row that already failed: it waits for its next attempt.
_WAITING = and_(col(Alert.status) == PENDING, col(Alert.last_error).is_not(None))


def _due_now(s: Session, ids: Sequence[int] | None, where: Any, **values: Any) -> list[int]:
    stmt = update(Alert).where(where).values(**values).returning(col(Alert.id))
    if ids is not None:
        stmt = stmt.where(col(Alert.id).in_(list(ids)))
    return [int(i) for i in s.execute(stmt.execution_options(synchronize_session=False))
            .scalars()]


def _reread(old: VersionText | None, details: dict[str, Any]) -> VersionText | None:
    """The old version as the change read it (``ChangeView``)."""
    reread = details.get("reread")
    if old is None or not isinstance(reread, dict):
        return old
    return replace(old, title=str(reread.get("title", old.title)),
                   text=str(reread.get("text", old.text)),
                   metadata=dict(reread.get("metadata", old.metadata)))


def _text(s: Session, version_id: int | None) -> VersionText | None:
    v = s.get(Version, version_id) if version_id else None
    if v is None:
        return None
    text = paragraphs.text_of(s, v.id or 0, v.line_ids)
    return VersionText(id=v.id or 0, title=v.title, text=text, metadata=dict(v.meta),
                       url=v.url, fetched_at=v.fetched_at, number=_number(s, v))


def _number(s: Session, v: Version | None) -> int:
    """Versions get ids in the order a page's checks commit (``Store.commit_check``), so
    a version's place on its page is the count of the page's versions with id ≤ its id."""
    if v is None:
        return 0
    return int(s.exec(select(func.count()).select_from(Version).where(
        col(Version.page_id) == v.page_id, col(Version.id) <= v.id)).one())


def _record(r: Alert, lease: datetime | None = None, source: str = "") -> AlertRecord:
    return AlertRecord(
        id=r.id or 0, event=r.event, channel=r.channel, recipient=r.recipient,
        watcher=r.watcher, status=r.status, attempts=r.attempts,
        next_attempt_at=lease or r.next_attempt_at, change_id=r.change_id, page_id=r.page_id,
        last_error=r.last_error, message_id=r.message_id, payload=dict(r.payload or {}),
        created_at=r.created_at, sent_at=r.sent_at, lease=lease, source=source)
