"""Scheduling state in the database: who checks which page when.

Several daemons may share one PostgreSQL database.  Each runs every source's job, and a
job only checks its page if it wins the page's *claim*: one conditional ``UPDATE`` that
succeeds only while the page is due (``next_check_at`` passed, or never set) and nobody
holds a live lease.  Row locking (PostgreSQL) or the single writer (SQLite) makes the
``UPDATE`` atomic, so one replica wins and the others see zero rows.  The winner checks,
then ``release`` clears the lease and moves ``next_check_at`` to the next slot.  A
replica killed with ``kill -9`` never releases: its lease expires and any replica's
next claim takes the page over.  A lease held by a process of the daemon's own machine
that has ended (a killed ``monitor check``; judged by ``monitor.holder.ended_here``) is
not waited out: the due-page looks include the leases held on this host (``held_on``),
and the daemon claims such a page from its dead holder (``claim_from``: one ``UPDATE``
conditioned on that holder's name, so two daemons never both win it and a holder that
renewed or released meanwhile keeps its page).

Also here: the SQLite single-daemon guard (``flock``) and the rows of ``monitor status``.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import Update
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Select

from monitor.errors import AlreadyRunningError, StorageError
from storage import db
from storage.glance import RecentChecks, SourceStatus
from storage.records import PageRef, SourceSpec
from storage.repository import Store
from storage.tables import checks, pages, sources

if TYPE_CHECKING:
    from sqlmodel import Session

    from storage.models import Page

P = pages.c
_ref, _ref_source = pages.alias("ref"), sources.alias("ref_source")
# a document another active listing lists too (its reference row: storage/documents.py)
_LISTED_ELSEWHERE = (select(_ref.c.id).join(_ref_source, _ref_source.c.id == _ref.c.source_id)
                     .where(_ref.c.same_as == P.id, _ref.c.kind == "reference",
                            _ref.c.listed, _ref_source.c.active).exists())


@dataclass(frozen=True)
class Claim:
    page_id: int
    due_at: datetime | None  # the next_check_at this claim consumed (None: first check)
    at: datetime  # when it was taken


class Schedule:
    """Claims and leases of one daemon (``owner``), on top of a ``Store``."""

    def __init__(self, store: Store, owner: str, lease_seconds: float) -> None:
        self.store, self.owner = store, owner
        self.lease = timedelta(seconds=lease_seconds)

    # --- pages ---------------------------------------------------------------------

    def ensure_pages(self, sources: Sequence[SourceSpec]) -> dict[str, PageRef]:
        """The main page of each source, created when missing (sources must be synced)."""
        for _ in range(3):
            refs = self._ensure_pages(sources)
            if refs is not None:
                return refs
        raise StorageError("could not create the pages of the sources (conflicts)")

    def _ensure_pages(self, specs: Sequence[SourceSpec]) -> dict[str, PageRef] | None:
        # Columns, not ORM rows, and two queries for all sources, not two per source:
        # 10,000 sources start in seconds, and leave ~50 MB less behind in the heap.
        with self.store.reading() as c:
            ids = {name: int(i) for i, name in c.execute(
                _SOURCE_IDS, {"names": [src.name for src in specs]})}
            mains = self._main_pages(c, list(ids.values()))
            new = [{"source_id": ids[src.name], "url": src.url} for src in specs
                   if src.name in ids and ids[src.name] not in mains]
            if new:
                try:
                    c.execute(insert(pages), new)
                    c.commit()
                except IntegrityError:  # another replica created one first: read again
                    return None
                mains = self._main_pages(c, list(ids.values()))
            return {name: PageRef(name, *mains[i]) if i in mains else self._ref(name, None)
                    for name, i in ids.items()}

    @staticmethod
    def _main_pages(c: Connection, source_ids: list[int],
                    ) -> dict[int, tuple[int, datetime | None, datetime | None]]:
        """(page id, last check, next check) of each source's main page (the choice of
        ``_main_page``), by source id."""
        out: dict[int, tuple[int, datetime | None, datetime | None]] = {}
        for page_id, source_id, last, nxt in c.execute(_MAIN_PAGES, {"ids": source_ids}):
            out.setdefault(int(source_id), (int(page_id), last, nxt))
        return out

    @staticmethod
    def _main_page(s: Session, source_id: int) -> Page | None:
        # Same choice as Store._main_page: the source's first page of kind "page".
        from sqlmodel import select

        from storage.models import Page

        return s.exec(select(Page).where(P.source_id == source_id, P.kind == "page")
                      .order_by(P.id)).first()

    @staticmethod
    def _ref(name: str, page: Page | None) -> PageRef:
        if page is None:
            raise StorageError(f"source {name!r} has no page")
        return PageRef(name, page.id or 0, page.last_check_at, page.next_check_at)

    def align(self, next_at: dict[int, datetime]) -> None:
        """Bring ``next_check_at`` forward to the given times (never push it back).

        Used when a schedule is (re)read: a page whose interval was shortened from 1d to
        1h is checked on the new schedule at once, not a day later.
        """
        if not next_at:
            return
        with self.store.session() as s:
            for page_id, at in next_at.items():
                s.execute(update(pages).where(
                    P.id == page_id,
                    or_(P.next_check_at.is_(None), P.next_check_at > at),
                    P.last_check_at.is_not(None),
                ).values(next_check_at=at))
            s.commit()

    # --- claims and leases ---------------------------------------------------------

    def claim(self, page_id: int, now: datetime) -> Claim | None:
        """Take the page for one check if it is due and not leased; None if we lost."""
        with self.store.transaction() as c:
            row = c.execute(_CLAIM, {  # returns next_check_at, untouched: the due time
                "id_": page_id, "now_": now, "lease_owner": self.owner,
                "lease_expires": now + self.lease}).first()
            return Claim(page_id, row[0], now) if row is not None else None

    def claim_from(self, page_id: int, owner: str, now: datetime) -> Claim | None:
        """``claim``, from a lease holder known to have ended (``monitor.runner``): the
        page taken if it is due and ``owner`` still holds it, however long its lease
        still runs; None if someone else holds it by now (or it is not due)."""
        with self.store.transaction() as c:
            row = c.execute(_CLAIM_FROM, {
                "id_": page_id, "now_": now, "from_": owner, "lease_owner": self.owner,
                "lease_expires": now + self.lease}).first()
            return Claim(page_id, row[0], now) if row is not None else None

    def release(self, page_id: int, next_at: datetime) -> bool:
        """End our lease after a check; the page is due again at ``next_at``.

        False if the lease was no longer ours (it expired and another replica took the
        page): then nothing changes.
        """
        with self.store.transaction() as c:
            result = c.execute(_END_LEASE, {"id_": page_id, "owner_": self.owner,
                                            "next_check_at": next_at})
            return _rowcount(result) == 1

    def take(self, page_id: int, now: datetime) -> bool:
        """Take the page for a check started by hand, due or not, if nobody holds it.

        ``monitor check`` uses this: it never checks a page while a replica (or another
        ``monitor check``) does, and leaves ``next_check_at`` to the daemon.
        """
        with self.store.transaction() as c:
            row = c.execute(_TAKE, {"id_": page_id, "now_": now, "lease_owner": self.owner,
                                    "lease_expires": now + self.lease}).first()
            return row is not None

    def take_many(self, page_ids: Sequence[int], now: datetime) -> set[int]:
        """``take`` for many pages in one transaction: the ids taken (the others are held
        by someone, or locked by a transaction now: the caller takes them one by one).

        PostgreSQL locks the rows in id order and skips the ones another transaction has
        locked (``SKIP LOCKED``): two processes taking overlapping batches never wait for
        each other, so never deadlock.  SQLite has one writer.
        """
        if not page_ids:
            return set()
        stmt = _TAKE_MANY if self.store.is_sqlite else _TAKE_MANY_LOCKED
        with self.store.transaction() as c:
            return {int(i) for i, in c.execute(stmt, {
                "ids": sorted(set(page_ids)), "now_": now, "owner_": self.owner,
                "expires_": now + self.lease})}

    def take_from(self, page_id: int, owner: str, now: datetime) -> bool:
        """Take the page's lease from ``owner``, a holder known to be gone (its process
        has ended: ``monitor.exclusive``); False when someone else holds it by now."""
        with self.store.transaction() as c:
            row = c.execute(_TAKE_FROM, {"id_": page_id, "from_": owner,
                                         "lease_owner": self.owner,
                                         "lease_expires": now + self.lease}).first()
            return row is not None

    def give_back(self, page_id: int) -> None:
        """End a lease taken with ``take``; the schedule is left as it was."""
        with self.store.transaction() as c:
            c.execute(_END_LEASE, {"id_": page_id, "owner_": self.owner})

    def holder(self, page_id: int) -> tuple[str | None, datetime | None]:
        """Who holds the page's lease, and until when."""
        from storage.models import Page

        with self.store.session() as s:
            page = s.get(Page, page_id)
            return (page.lease_owner, page.lease_expires) if page else (None, None)

    def release_all(self) -> int:
        """At shutdown: give back every lease we hold, so others need not wait for expiry."""
        with self.store.transaction() as c:
            return _rowcount(c.execute(_RELEASE_ALL, {"owner_": self.owner}))

    def renew(self, page_ids: Sequence[int], now: datetime) -> int:
        """Extend our leases of checks still running (a slow host must not lose them)."""
        if not page_ids:
            return 0
        with self.store.transaction() as c:
            return _rowcount(c.execute(_RENEW, {"ids": list(page_ids), "owner_": self.owner,
                                                "expires_": now + self.lease}))

    def align_documents(self, listing_id: int,
                        next_after: Callable[[datetime], datetime]) -> int:
        """Bring the documents' next checks forward to their follow plan (never back):
        after ``[sources.follow] interval`` is shortened, they are due on the new plan
        instead of the old one.  Returns how many moved."""
        from sqlmodel import select

        from storage.models import Page

        with self.store.session() as s:
            docs = s.exec(select(Page).where(P.parent_id == listing_id, P.listed,
                                             P.last_check_at.is_not(None))).all()
            moved = 0
            for page in docs:
                at = next_after(page.last_check_at)  # type: ignore[arg-type]
                if page.next_check_at is not None and at < page.next_check_at:
                    page.next_check_at = at
                    s.add(page)
                    moved += 1
            s.commit()
            return moved

    def due_documents(self, listing_ids: Sequence[int], now: datetime,
                      held_on: str | None = None
                      ) -> list[tuple[int, int, str, datetime | None]]:
        """(listing page id, page id, URL, when it was taken off its listing or None) of
        the documents of these listings that are due and free (or leased by a process of
        host ``held_on``: see ``due_pages``), oldest first (a document never checked comes
        first).  A document taken off its listing (unlisted) is still checked, on a slower
        plan (``monitor.follow.unlisted_plan``), until its page is gone: its deletion is
        recorded and told (页面已删除) like any page's; then it rests, unless the listing
        lists it again.  A document another active listing lists too (its ``reference``
        row, ``storage/documents.py``) counts as listed while either lists it; the
        references themselves are never checked."""
        if not listing_ids:
            return []
        listed = or_(P.listed, _LISTED_ELSEWHERE)
        with self.store.session() as s:
            rows = s.execute(select(P.parent_id, P.id, P.url, listed, P.unlisted_at).where(
                P.parent_id.in_(list(listing_ids)), P.kind == "document",
                or_(listed, P.status != "gone"),
                _due(now), _free(now, held_on)).order_by(P.next_check_at.is_not(None),
                                                        P.next_check_at, P.id))
            return [(int(p or 0), int(i or 0), u, None if listed else _aware(off) or now)
                    for p, i, u, listed, off in rows]

    def due_pages(self, now: datetime, after: datetime | None = None,
                  until: datetime | None = None,
                  held_on: str | None = None) -> list[tuple[int, datetime | None]]:
        """(page id, due time) of the sources' main pages due by ``until`` (default
        ``now``) and free now, oldest first (never checked first).  With ``after``: only
        those whose slot came after it (an index range; the dispatcher's look between two
        full sweeps).  With ``held_on`` (a host name): also those leased by a process of
        that host, which may have ended (the caller's claim finds out: ``claim_from``).

        No list of ids in the query (10,000 bound parameters on every look): the caller
        keeps the pages it schedules.
        """
        until = until or now
        due = (P.next_check_at > after) & (P.next_check_at <= until) \
            if after is not None else _due(until)
        with self.store.session() as s:
            rows = s.execute(select(P.id, P.next_check_at).where(
                P.kind == "page", due, _free(now, held_on))
                .order_by(P.next_check_at.is_not(None), P.next_check_at))
            return [(int(i), _aware(at)) for i, at in rows]

    def next_due(self, now: datetime) -> datetime | None:
        """The earliest slot of any main page after ``now`` (when to look again)."""
        with self.store.session() as s:
            at = s.execute(select(func.min(P.next_check_at)).where(
                P.kind == "page", P.next_check_at > now)).scalar()
            return _aware(at)

    def due(self, page_ids: Sequence[int], now: datetime) -> list[int]:
        """Pages among ``page_ids`` that are due and free (missed slots, dead replicas)."""
        if not page_ids:
            return []
        with self.store.session() as s:
            return list(s.execute(select(P.id).where(
                P.id.in_(list(page_ids)), _due(now), _free(now))).scalars())

    # --- status ------------------------------------------------------------------

    def stored_since(self, since: datetime) -> dict[str, int]:
        """The checks this owner's process (and its ``monitor check`` workers, which
        store under its name) stored since ``since``, counted by outcome: what an
        interrupted pass had stored (a check row says who stored it, ``checks.worker``;
        ``since`` keeps out an earlier process of the same id)."""
        with self.store.session() as s:
            rows = s.execute(select(checks.c.outcome, func.count())
                             .where(checks.c.started_at >= since,
                                    checks.c.worker == self.owner)
                             .group_by(checks.c.outcome)).all()
        return {outcome: int(n) for outcome, n in rows}

    def recent_checks(self, since: datetime) -> RecentChecks:
        """The newest check row and the failure share of the checks since ``since``."""
        with self.store.session() as s:
            newest = s.execute(select(checks.c.started_at).order_by(checks.c.id.desc())
                               .limit(1)).scalar()
            rows = s.execute(select(checks.c.outcome, func.count())
                             .where(checks.c.started_at >= since)
                             .group_by(checks.c.outcome)).all()
        n = {outcome: int(k) for outcome, k in rows}
        return RecentChecks(since, _aware(newest), sum(n.values()), n.get("error", 0))

    def status(self, sources: Sequence[SourceSpec]) -> list[SourceStatus]:
        """The state of the sources' main pages, in the given order."""
        from sqlmodel import select

        from storage.models import SourceRow

        with self.store.session() as s:
            out = []
            for src in sources:
                row = s.exec(select(SourceRow).where(SourceRow.name == src.name)).first()
                page = self._main_page(s, row.id or 0) if row else None
                out.append(_status(s, src, page))
            return out


def _aware(at: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; they are UTC."""
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(P.next_check_at.is_(None), P.next_check_at <= now)


def _free(now: datetime, held_on: str | None = None) -> ColumnElement[bool]:
    """No live lease; with ``held_on``, or a lease of a process of that host."""
    free = or_(P.lease_owner.is_(None), P.lease_expires <= now)
    if held_on is None:
        return free
    return or_(free, P.lease_owner.startswith(f"{held_on}:", autoescape=True))


# The leases of ``monitor check``, built once (two a check: building costs more than running).
_TAKE = (update(pages).where(P.id == bindparam("id_"), or_(
    P.lease_owner.is_(None), P.lease_expires <= bindparam("now_")))
    .returning(P.id))
_TAKE_FROM = (update(pages).where(P.id == bindparam("id_"),
                                 P.lease_owner == bindparam("from_"))
              .returning(P.id))
# ``take_many``: the free pages among ``ids``; on PostgreSQL locked in id order, skipping
# those another transaction has locked.  ``renew`` and ``release_all``: our leases.
_FREE_NOW = or_(P.lease_owner.is_(None), P.lease_expires <= bindparam("now_"))
_TAKE_TARGET = select(P.id).where(P.id.in_(bindparam("ids", expanding=True)), _FREE_NOW)


def _take_many(target: Select[Any]) -> Update:
    return (update(pages).where(P.id.in_(target.scalar_subquery()), _FREE_NOW)
            .values(lease_owner=bindparam("owner_"), lease_expires=bindparam("expires_"))
            .returning(P.id))


_TAKE_MANY = _take_many(_TAKE_TARGET)
_TAKE_MANY_LOCKED = _take_many(_TAKE_TARGET.order_by(P.id).with_for_update(skip_locked=True))
_RENEW = (update(pages).where(P.id.in_(bindparam("ids", expanding=True)),
                             P.lease_owner == bindparam("owner_"))
          .values(lease_expires=bindparam("expires_")))
_RELEASE_ALL = (update(pages).where(P.lease_owner == bindparam("owner_"))
                .values(lease_owner=None, lease_expires=None))
# The daemon's: claim a due page, release it with its next slot.
# Store._main_page's choice for many sources (Schedule.ensure_pages).
_SOURCE_IDS = select(sources.c.id, sources.c.name).where(
    sources.c.name.in_(bindparam("names", expanding=True)))
_MAIN_PAGES = (select(P.id, P.source_id, P.last_check_at, P.next_check_at)
               .where(P.source_id.in_(bindparam("ids", expanding=True)), P.kind == "page")
               .order_by(P.id))
_DUE_NOW = or_(P.next_check_at.is_(None), P.next_check_at <= bindparam("now_"))
_CLAIM = (update(pages).where(
    P.id == bindparam("id_"), _DUE_NOW,
    or_(P.lease_owner.is_(None), P.lease_expires <= bindparam("now_")))
    .returning(P.next_check_at))
_CLAIM_FROM = (update(pages).where(P.id == bindparam("id_"), _DUE_NOW,
                                  P.lease_owner == bindparam("from_"))
               .returning(P.next_check_at))
# Our lease ended: after the daemon's check (release, with the next slot) or a lease
# taken by ``take`` given back (give_back, the schedule left as it was).
_END_LEASE = (update(pages).where(P.id == bindparam("id_"),
                                 P.lease_owner == bindparam("owner_"))
              .values(lease_owner=None, lease_expires=None))


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _status(s: Session, src: SourceSpec, page: Page | None) -> SourceStatus:
    from sqlmodel import col, select

    from storage.models import Check, Version

    name = src.name
    if page is None:  # never checked, not even synced
        return SourceStatus(name, src.url, "new", None, None, None, None, None, None, 0, 0, None)
    last = s.exec(select(Check).where(Check.page_id == page.id)
                  .order_by(col(Check.id).desc())).first()
    versions = s.exec(select(func.count()).select_from(Version)
                      .where(Version.page_id == page.id)).one()
    gone = s.exec(select(func.count()).select_from(pages)
                  .where(P.parent_id == page.id, P.status == "gone")).one()
    return SourceStatus(
        source=name, url=page.url, status=page.status, last_check_at=page.last_check_at,
        last_outcome=last.outcome if last else None,
        last_http_status=last.http_status if last else None,
        last_error=last.error if last else None, next_check_at=page.next_check_at,
        last_change_at=page.last_change_at, failure_streak=page.failure_streak,
        versions=int(versions), lease_owner=page.lease_owner,
        lease_expires=_aware(page.lease_expires), documents_gone=int(gone))


# --- the SQLite single-daemon guard ------------------------------------------------


@contextmanager
def single_daemon(url: str) -> Iterator[None]:
    """Refuse a second daemon on the same SQLite file (a no-op for PostgreSQL).

    ``flock`` on ``<db>.lock``: the kernel drops it when the process dies, even by
    ``kill -9``, so a crash never leaves a stale lock behind.
    """
    path = db.sqlite_path(url)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = Path(f"{path}.lock")
    with open(lock_path, "a+") as handle:
        _flock(handle, lock_path)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield


def _flock(handle: IO[str], lock_path: Path) -> None:
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        pid = handle.read().strip() or "?"
        raise AlreadyRunningError(
            f"another monitor daemon (pid {pid}) is already running on this SQLite "
            f"database ({lock_path} is locked). SQLite allows one daemon; use PostgreSQL "
            "to run several replicas.") from None
