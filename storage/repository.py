"""``Store``: the small interface the pipeline, the daemon and the CLI use.

Every method opens and closes its own session; nothing outside ``storage`` sees one.
Methods are synchronous (SQLAlchemy's sync engine); async callers run them with
``asyncio.to_thread`` so a slow database never blocks the event loop.

On SQLite the write transactions (``commit_check``, ``transaction``…) take turns before
SQLite's own lock, across the threads and the processes that use ``Store``
(``storage.turns``): a writer that finds SQLite's write lock taken sleeps in SQLite's busy
handler (1, 2, 5, 10… ms) however soon it is free, and with ten checks in flight, or two
``monitor check`` workers, those sleeps, not the writes, set the rate.  A turn wakes the
next writer as soon as the last one commits; writers that take no turns are still kept
apart by SQLite (``busy_timeout``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    LargeBinary,
    Row,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    update,
)
from sqlalchemy import select as sa_select
from sqlalchemy import text as sql_text
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from monitor.errors import DatabaseUnreachableError, StorageError
from monitor.session_ids import without_session
from storage import compiled, db, paragraphs, rawcodec
from storage.glance import unreachable
from storage.instant import utcnow
from storage.records import (
    CheckRecord,
    CommitResult,
    NewVersion,
    PageState,
    SourceSpec,
    StoredFile,
    VersionFull,
    VersionInfo,
)
from storage.rows import LockedPage, Write, page_updates, state_of, written
from storage.tables import alerts, changes, checks, pages, sources, sync_state, versions
from storage.turns import WriterTurns

if TYPE_CHECKING:
    from sqlmodel import Session

    from storage.models import Page, SourceRow
    from storage.schedule import Schedule

HASH_HISTORY = 4
CHANGES_LOCK = 0x6368616E676573  # "changes": see Store._changes_in_id_order
OUT_OF_RANGE = "22003"  # SQLSTATE numeric_value_out_of_range


P, S, V = pages.c, sources.c, versions.c


def _newest(column: Any, table: Any) -> Any:
    """The newest row's ``column`` of the page (a scalar subquery of ``_STATE``)."""
    return (sa_select(column).where(table.c.page_id == P.id)
            .order_by(table.c.id.desc()).limit(1).scalar_subquery())


_child = pages.alias("child")
# A document told as 新文档 before its text could be read (no version yet): its first
# reading owes the watchers the text (``monitor.documents``).  Looked up for such pages only.
_TEXT_OWED = case((and_(P.kind == "document", P.last_version_id.is_(None), ~P.announce),
                   exists().where(changes.c.page_id == P.id,
                                  changes.c.kind == "document_added")), else_=False)
# Another listing lists this document too (storage/documents.py): its watchers are told
# as well.  Looked up for documents only.
_SHARED = case((P.kind == "document", exists().where(_child.c.same_as == P.id,
                                                     _child.c.kind == "reference")),
               else_=False)
# A page, its source and what its newest change and check say: one query (page_state).
_STATE = sa_select(
    P.id, P.source_id, P.url, P.etag, P.last_modified, P.failure_streak,
    P.gone_streak, P.status, P.revision, P.observed_at, P.kind,
    P.announce, P.list_title, P.list_date, S.name, S.updated_at,
    P.settings_read_at, P.read_rules,
    _newest(changes.c.kind, changes).label("change_kind"),
    _newest(checks.c.error_kind, checks).label("error_kind"),
    sa_select(func.count()).select_from(_child)
    .where(_child.c.parent_id == P.id, _child.c.listed).scalar_subquery().label("listed"),
    _TEXT_OWED.label("text_owed"),
    _SHARED.label("shared"),
).join(sources, S.id == P.source_id)
_STATE_OF_SOURCE = (_STATE.where(S.name == bindparam("name"), P.kind == "page")
                    .order_by(P.id).limit(1))  # the main page: Store._main_page
_STATE_OF_PAGE = _STATE.where(P.id == bindparam("id"))
# The newest versions' small columns: the last one's, and the hashes of those before
# (with its paragraph id list, a few bytes: reading its text is then one query).
_LAST_VERSIONS = (sa_select(V.id, V.content_hash, V.title, V.meta,
                            V.raw_sha256, V.fetched_at, V.url,
                            V.attachments, V.line_ids)
                  .where(V.page_id == bindparam("page_id"))
                  .order_by(V.id.desc()).limit(HASH_HISTORY + 1))

# The same for many pages at once (Store.page_states): the newest versions' ids by page
# (a window over ids only), then their small columns.
_NEWEST_IDS = sa_select(V.id, func.row_number().over(
    partition_by=V.page_id, order_by=V.id.desc()).label("n")).where(
    V.page_id.in_(bindparam("page_ids", expanding=True))).subquery()
_LAST_VERSIONS_OF = (sa_select(V.page_id, *_LAST_VERSIONS.selected_columns)
                     .join(_NEWEST_IDS, _NEWEST_IDS.c.id == V.id)
                     .where(_NEWEST_IDS.c.n <= HASH_HISTORY + 1)
                     .order_by(V.page_id, V.id.desc()))
_STATES_OF_PAGES = _STATE.where(P.id.in_(bindparam("page_ids", expanding=True)))

_RAW = sa_select(V.id, V.raw_body, V.raw_codec, V.raw_base_id,
                 V.raw_chain, V.line_ids, V.field_ids
                 ).where(V.id == bindparam("id"))
# A page's newest version, what a new one needs of it (Store._add_version): a _RAW row
# with its number and record hash, and its title and metadata (the fields it lists).
_NEWEST = (sa_select(*_RAW.selected_columns, V.number, V.record_hash, V.title, V.meta)
           .where(V.page_id == bindparam("page_id"))
           .order_by(V.id.desc()).limit(1))
# The bodies a delta is made from, the base of the one asked for first (Store._raw): a
# delta chain read in one query, not one a link.  ``depth`` stops at ``CHAIN_READ``
# links (a chain is at most rawcodec.DELTA_CHAIN_MAX long; a longer one is read a link at
# a time, as a chain that loops would be).
CHAIN_READ = 64
_RAW_CHAIN_SQL = (
    "WITH RECURSIVE chain(id, raw_body, raw_codec, raw_base_id, depth) AS ("
    " SELECT id, raw_body, raw_codec, raw_base_id, 1 FROM versions WHERE id = {id}"
    " UNION ALL"
    " SELECT v.id, v.raw_body, v.raw_codec, v.raw_base_id, chain.depth + 1"
    " FROM versions v JOIN chain ON v.id = chain.raw_base_id"
    " WHERE chain.raw_codec <> 'zstd' AND chain.depth < {depth})"
    " SELECT id, raw_body, raw_codec, raw_base_id FROM chain ORDER BY depth")
_RAW_CHAIN = sql_text(_RAW_CHAIN_SQL.format(id=":id", depth=":depth")).columns(
    id=Integer, raw_body=LargeBinary, raw_codec=String, raw_base_id=Integer)
# SQLite: the same through the driver (``compiled.rows``), its rows plain tuples.
_RAW_CHAIN_DRIVER = _RAW_CHAIN_SQL.format(id="?", depth="?")

# What a commit locks and tests of its page (Store.commit_checks, and commit_check's
# session with documents): built once, as a check runs them every time.  ``LockedPage``.
_LOCK_PAGE = sa_select(P.id, P.revision, P.observed_at, P.lease_owner,
                       P.last_version_id).where(P.id == bindparam("id"))
_LOCK_PAGE_FOR_UPDATE = _LOCK_PAGE.with_for_update()
# A group commit's pages, locked in id order: see Store.commit_checks.
_LOCK_MANY = (sa_select(*_LOCK_PAGE.selected_columns)
              .where(P.id.in_(bindparam("ids", expanding=True)))
              .order_by(P.id))
_LOCK_MANY_FOR_UPDATE = _LOCK_MANY.with_for_update()
_INSERT_CHECK = insert(checks).returning(checks.c.id)
_INSERT_CHECKS = insert(checks).returning(checks.c.id, sort_by_parameter_order=True)
_INSERT_VERSION = insert(versions).returning(V.id)
_INSERT_CHANGE = insert(changes).returning(changes.c.id)
_UPDATE_PAGE = update(pages).where(P.id == bindparam("page_id_"))
_LINES = sa_select(V.line_ids).where(V.id == bindparam("id"))
# What Store._prepare reads first: the revision it guards the rest with, and the page's
# newest version (its ``_NEWEST`` row), in one statement (one snapshot, one round trip;
# ``_PAGE_AT`` and ``_NEWEST`` read apart are what tests/test_fast_paths.py compares it to).
_PAGE_AT = sa_select(P.revision, P.last_version_id).where(P.id == bindparam("id"))
_last = versions.alias("last")
_PAGE_AND_NEWEST = (sa_select(P.revision, P.last_version_id, *_NEWEST.selected_columns)
                    .select_from(pages.outerjoin(versions, V.id == sa_select(_last.c.id)
                                                 .where(_last.c.page_id == P.id)
                                                 .order_by(_last.c.id.desc()).limit(1)
                                                 .scalar_subquery()))
                    .where(P.id == bindparam("id")))
# Store.sync_sources: every source's row, then the changes as executemany.
_SOURCES = sa_select(S.id, S.name, S.url, S.tags, S.config, S.active)
_UPDATE_SOURCE = update(sources).where(S.id == bindparam("id_"))
_DEACTIVATE_SOURCE = _UPDATE_SOURCE.values(active=False)
_SYNCED = sa_select(sync_state.c.digest).where(sync_state.c.name == "sources")
# Alerts waiting in the outbox (``monitor check --no-deliver`` says how many).
_PENDING_ALERTS = sa_select(func.count()).select_from(alerts).where(alerts.c.status == "pending")
_SYNC_DIGEST = update(sync_state).where(sync_state.c.name == "sources")


class _ChainRow(NamedTuple):
    """A row of ``_RAW_CHAIN`` read through the driver."""

    id: int
    raw_body: Any  # bytes as stored (SQLite keeps whatever type was written)
    raw_codec: str
    raw_base_id: int | None


def _whole(version: Any) -> bool:
    """A raw body stored whole (not a delta of another version's)."""
    return bool(version.raw_codec == "zstd" or version.raw_base_id is None)


def _load_orm() -> None:
    """Import what a version's commit imports on first use (SQLModel, the table models,
    ``storage.files``): ~0.1 s of CPU, once per process.  Imported inside the writers'
    turn, it held the turn that long, and every other writer of the database (the
    sibling ``monitor check`` worker's first commits) waited for it: measured, the
    largest item of a changed pass's time inside the turn (bench/README.md, "One host and
    many hosts").  Called before the turn by ``write_session`` and, for a record with a
    version, by ``commit_checks`` (``Store._ready``); an unchanged pass imports none of
    it."""
    from storage import files, models  # noqa: F401  (models: SQLModel and the ORM)


def _raw_row(c: Connection, version_id: int) -> Any:
    """What reading a version's raw body needs (its row of ``_RAW``), or None."""
    return c.execute(_RAW, {"id": version_id}).first()


class _NewestRow(NamedTuple):
    """A ``_NEWEST`` row read through the driver (``_page_and_newest``)."""

    id: int
    raw_body: Any
    raw_codec: str
    raw_base_id: int | None
    raw_chain: int
    line_ids: Any
    field_ids: Any
    number: int
    record_hash: str
    title: str
    meta: Any


def _page_and_newest(c: Connection, page_id: int) -> tuple[int | None, int | None, Any]:
    """The page's revision and last version id (None, None: no such page) and its
    newest version's ``_NEWEST`` row (None: none), read together (``_PAGE_AND_NEWEST``).
    On SQLite through the driver, each value through the result processor SQLAlchemy's
    result would apply (``meta``: JSON), as ``compiled`` writes through the driver."""
    if c.dialect.name != "sqlite":
        row = c.execute(_PAGE_AND_NEWEST, {"id": page_id}).first()
        if row is None:
            return None, None, None
        return row[0], row[1], None if row[2] is None else _NewestRow(*row[2:])
    sql, args, procs = _driver_form(c)
    got = compiled.rows(c, sql, tuple(page_id if a is _ID else a for a in args))
    if not got:
        return None, None, None
    row = got[0]
    if row[2] is None:
        return row[0], row[1], None
    return row[0], row[1], _NewestRow(*(v if p is None else p(v)
                                        for v, p in zip(row[2:], procs, strict=True)))


_DRIVER_FORM: dict[str, tuple[str, tuple[Any, ...], list[Any]]] = {}
_ID = object()  # the place of the page id among the statement's arguments


def _driver_form(c: Connection) -> tuple[str, tuple[Any, ...], list[Any]]:
    """``_PAGE_AND_NEWEST`` compiled for SQLite's driver (``?`` marks), its arguments
    (the page id's place ``_ID``; the others, the ``LIMIT``'s, as compiled) and the
    result processors of its ``_NEWEST`` columns (None: the value as the driver gives
    it)."""
    try:
        return _DRIVER_FORM["sqlite"]
    except KeyError:
        cp = _PAGE_AND_NEWEST.compile(dialect=c.dialect)
        assert cp.positiontup is not None
        values = cp.construct_params({"id": 0})
        args = tuple(_ID if name == "id" else values[name] for name in cp.positiontup)
        procs = [col.type._cached_result_processor(c.dialect, None)
                 for col in _NEWEST.selected_columns]
        out = _DRIVER_FORM["sqlite"] = (cp.string, args, procs)
        return out


def _previous(c: Connection, newest: Any, last_version_id: int | None) -> Any:
    """The version a new one follows (the delta's base, the spans it closes): the page's
    ``last_version_id``, read again only when it is not the ``newest`` row already read."""
    if newest is not None and newest.id == last_version_id:
        return newest
    return _raw_row(c, last_version_id) if last_version_id else None


@dataclass(frozen=True)
class _Ready:
    """A new version's work done before the writers' turn (``Store._prepare``), so that
    the other writers do not wait for it: its raw body compressed against ``base`` (the
    ``_base_key`` of the page's last version as read then), its digests, and its record
    hash chained to ``link``.  Under the lock each part is taken only if what it was made
    from is still what the lock finds; the bytes stored are the same either way.

    And what was read of the page at ``revision`` (read first): its newest and last
    versions' rows, the plan of its new lines and fields (``paragraphs.Plan``: digests,
    the ids the page has, folded text and bigram words of the ones it lacks; or the
    field ids of the last version, ``Store._same_fields``) and the paragraphs the last
    version lists (the spans it closes).  A page's versions, paragraphs and spans are
    only ever written by a ``commit_check`` of the page, which moves its revision on:
    found at the same revision under the lock, they are still what was read, and none
    is read again while the other writers wait."""

    base: tuple[int, int] | None
    raw: tuple[bytes, str, int | None, int]  # blob, codec, base id, chain (``_compress``)
    link: tuple[int, str]
    raw_sha256: str
    text_sha256: str
    record_hash: str
    revision: int | None = None  # None: the page was not found (nothing read is taken)
    newest: Any = None
    previous: Any = None
    lines: paragraphs.Plan | None = None
    fields: paragraphs.Plan | list[int] | None = None
    before: frozenset[int] = frozenset()


def _base_key(previous: Any) -> tuple[int, int] | None:
    """What a delta was made against: the base version's id and its chain length."""
    return None if previous is None else (int(previous.id), int(previous.raw_chain))


def _record_hash(new: NewVersion, link: tuple[int, str], raw_sha256: str,
                 text_sha256: str) -> str:
    """The version's record hash (verify.py), following ``link`` (its number, the
    record hash before)."""
    from storage import verify

    return verify.record_hash(
        url=new.url, number=link[0], fetched_at=new.fetched_at, raw_sha256=raw_sha256,
        text_sha256=text_sha256, meta=dict(new.metadata), previous=link[1],
        scheme=verify.RECORD_FORMAT_2, title=new.title, attachments=new.attachments or [])


# SQLite's words for a file it cannot open (a directory that is not writable or does not
# exist, a path that is a directory): a connection never made, as on PostgreSQL
UNOPENABLE = "unable to open database file"


class Store:
    def __init__(self, url: str, *, migrate: bool = True, waits: db.LockWaits | None = None,
                 writer: WriterTurns | None = None) -> None:
        """``waits``, ``writer``: another opener's of the same SQLite database, shared
        (``storage.quick.QuickStore`` opening its ``Store``)."""
        self.url = db.normalize_url(url)
        # SQLite: how its statements wait for the write lock
        self._waits = waits or db.LockWaits()
        self.engine: Engine = db.create(self.url, self._waits)
        # SQLite: writers take turns here, across threads and processes (storage.turns)
        self._writer = writer or (WriterTurns(db.sqlite_path(self.url)) if self.is_sqlite
                                  else nullcontext())
        self._lines_read = paragraphs.LinesRead()
        if migrate:
            with self._translated():
                db.migrate(self.engine)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def close(self) -> None:
        self.engine.dispose()

    def schedule(self, owner: str, lease_seconds: float) -> Schedule:
        """The leases and slots of this store's pages, held under ``owner``
        (``storage.schedule``; ``storage.quick.QuickStore`` gives its own)."""
        from storage.schedule import Schedule

        return Schedule(self, owner, lease_seconds)

    def stop_waiting(self) -> None:
        """Ctrl-C: SQLite statements waiting for the write lock held by another process,
        in any thread, give up within ``storage.sqlite.BUSY_STEP`` (``StorageError``, nothing
        written), and so do those that find it held later; those that find it free still
        run (``storage.db``).  Safe in a signal handler.  PostgreSQL: nothing changes."""
        self._waits.stop()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose database errors come out as ``StorageError``.  (SQLModel and
        the models are imported by the first session: an unchanged check opens none.)"""
        from sqlmodel import Session

        with self._translated(), Session(self.engine, expire_on_commit=False) as s:
            yield s

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except OverflowError:  # SQLite: an id beyond 64 bits, so no row has it
            raise KeyError("no such id") from None
        except SQLAlchemyError as exc:
            if isinstance(exc, DataError) and getattr(exc.orig, "sqlstate", "") == OUT_OF_RANGE:
                raise KeyError("no such id") from None  # the same on PostgreSQL
            said = f"database error: {exc.__class__.__name__}: {str(exc).splitlines()[0]}"
            orig = getattr(exc, "orig", None)
            if unreachable(orig) or UNOPENABLE in str(orig):
                raise DatabaseUnreachableError(said, self.url) from exc
            raise StorageError(said) from exc

    # --- sources -------------------------------------------------------------------

    def sync_sources(self, sources: Sequence[SourceSpec], digest: str = ""
                     ) -> dict[str, list[str]]:
        """Make the ``sources`` table match the file; removed sources become inactive.

        ``digest`` names ``sources`` (``Config.digest``: the file's bytes, the settings a
        source reads and the code, hashed): when the last sync was of the same digest
        the table already matches, and nothing is read or written but that one row.
        Every sync writes its digest in its own transaction, an empty one when it has
        none (a config parsed from text: a reload, the admin page), so a later sync of
        an older file's digest cannot skip over a table another sync changed since.

        Two processes syncing the same new sources at once (two ``monitor check`` started
        together): the one that commits second finds the names taken, reads the table
        again and syncs against it (up to three tries)."""
        for _ in range(2):
            try:
                return self._sync_sources(sources, digest)
            except StorageError as exc:
                if not isinstance(exc.__cause__, IntegrityError):
                    raise
        return self._sync_sources(sources, digest)

    def _sync_sources(self, specs: Sequence[SourceSpec], digest: str
                      ) -> dict[str, list[str]]:
        report: dict[str, list[str]] = {"added": [], "updated": [], "deactivated": []}
        by_name = {spec.name: spec for spec in specs}
        added: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
        with self._translated(), self.engine.connect() as c:
            synced = c.execute(_SYNCED).scalar()
            if digest and synced == digest:
                c.rollback()
                return report
            rows = {r.name: r for r in c.execute(_SOURCES)}
            for name, cfg in by_name.items():
                config = cfg.config_dict()
                tags = list(cfg.all_tags)  # a listing's documents' tags too: search, UI
                row = rows.get(name)
                if row is None:
                    added.append({"name": name, "url": cfg.url, "tags": tags, "config": config})
                    report["added"].append(name)
                elif (row.url, row.tags, row.config, row.active) != (cfg.url, tags, config,
                                                                      True):
                    updated.append({"id_": row.id, "url": cfg.url, "tags": tags,
                                    "config": config, "active": True, "updated_at": utcnow()})
                    report["updated"].append(name)
            dropped = [row for name, row in rows.items() if name not in by_name and row.active]
            gone = [{"id_": row.id} for row in dropped]
            report["deactivated"] += [row.name for row in dropped]
            for stmt, params in ((insert(sources), added), (_UPDATE_SOURCE, updated),
                                 (_DEACTIVATE_SOURCE, gone)):
                if params:
                    c.execute(stmt, params)
            if gone:  # their documents another listing lists: that listing's now
                from storage import handover

                if not self.is_sqlite:  # apart from listings' syncs (storage/documents.py)
                    c.exec_driver_sql(f"SELECT pg_advisory_xact_lock({CHANGES_LOCK})")
                if handed := handover.hand_over(c, [row.id for row in dropped]):
                    report["handed_over"] = handed
            if synced is None:  # the first sync since migration 0015
                c.execute(insert(sync_state), {"name": "sources", "digest": digest})
            elif synced != digest:
                c.execute(_SYNC_DIGEST, {"digest": digest, "synced_at": utcnow()})
            c.commit()
        return report

    def stored_sources(self) -> list[tuple[str, str, dict[str, Any]]]:
        """The active sources as last synced, in the order they were added: (name, URL,
        settings as ``config_dict`` gave them) — what ``monitor status`` lists when the
        sources file does not load."""
        with self._translated(), self.engine.connect() as c:
            return [(r.name, r.url, dict(r.config)) for r in c.execute(_SOURCES.order_by(S.id))
                    if r.active]

    def page_state(self, source: SourceSpec) -> PageState:
        """The state of a source's main page, creating the rows on first use.

        The usual case (the rows exist, the URL is the file's) is two column queries on
        one connection and writes nothing: the page with its source and three scalar
        subqueries, then the newest versions' small columns.
        """
        with self._translated(), self.engine.connect() as c:
            row = c.execute(_STATE_OF_SOURCE, {"name": source.name}).first()
            if row is not None and (row.url == source.url or row.status == "moved"):
                return self._state(c, row)
        from sqlmodel import select

        from storage.models import SourceRow

        with self.session() as s:  # first check, or the admin edited the URL
            src = s.exec(select(SourceRow).where(SourceRow.name == source.name)).first()
            if src is None:
                src = SourceRow(name=source.name, url=source.url, tags=list(source.all_tags),
                                config=source.config_dict())
                s.add(src)
                s.flush()
            page = self._main_page(s, src, source.url)
            s.commit()
            page_id = page.id
        with self._translated(), self.engine.connect() as c:
            return self._state(c, c.execute(_STATE_OF_PAGE, {"id": page_id}).one())

    def document_state(self, page_id: int) -> PageState:
        """The state of a document page (found by a listing)."""
        with self._translated(), self.engine.connect() as c:
            row = c.execute(_STATE_OF_PAGE, {"id": page_id}).first()
            if row is None:
                raise KeyError(f"page {page_id}")
            return self._state(c, row)

    def listed_documents(self, listing_id: int) -> dict[str, tuple[str, str]]:
        """{url: (title, date)} of a listing's documents as it last listed them."""
        with self._translated(), self.engine.connect() as c:
            rows = c.execute(sa_select(pages.c.url, pages.c.list_title, pages.c.list_date)
                             .where(pages.c.parent_id == listing_id)).all()
        return {url: (title or "", date or "") for url, title, date in rows}

    def page_states(self, page_ids: Sequence[int]) -> dict[int, PageState]:
        """The states of many pages, by page id, in two queries (``monitor check`` reads
        a batch of pages at once); ids with no page are left out.  Unlike ``page_state``
        it never writes: a main page whose source URL was edited in the file still has
        its old URL here (the caller asks ``page_state`` for that one)."""
        if not page_ids:
            return {}
        ids = list(page_ids)
        with self._translated(), self.engine.connect() as c:
            rows = c.execute(_STATES_OF_PAGES, {"page_ids": ids}).all()
            versions: dict[int, list[Any]] = {}
            for v in c.execute(_LAST_VERSIONS_OF, {"page_ids": ids}):
                versions.setdefault(v[0], []).append(v[1:])
        return {row.id: self._state_of(row, versions.get(row.id, [])) for row in rows}

    def _main_page(self, s: Session, src: SourceRow, url: str) -> Page:
        from sqlmodel import col, select

        from storage.models import Page

        page = s.exec(select(Page).where(Page.source_id == src.id, Page.kind == "page")
                      .order_by(col(Page.id))).first()
        if page is None:
            page = Page(source_id=src.id or 0, url=url)
            s.add(page)
            s.flush()
        elif page.url != url and page.status != "moved":
            page.url = url  # the admin edited the URL: keep the history on the same page
            s.add(page)
        return page

    def _state(self, c: Connection, row: Any) -> PageState:
        # Hashes and the newest version's small columns only: its text is read when the
        # pipeline asks for it (a changed page), its raw body never.
        return self._state_of(row, c.execute(_LAST_VERSIONS, {"page_id": row.id}).all())

    def _state_of(self, row: Any, versions: Sequence[Any]) -> PageState:
        return state_of(row, versions, self._text_of_lines)

    # --- the write path of a check -------------------------------------------------

    def commit_check(self, rec: CheckRecord) -> CommitResult:
        """Write a check, its version, changes and outbox alerts in one transaction.

        Checks of one page commit in order, whoever runs them (replicas, ``monitor
        check``, the daemon).  Under the page's write lock (``BEGIN IMMEDIATE`` on
        SQLite, ``SELECT … FOR UPDATE`` on PostgreSQL) the page must still be at the
        revision the record was made from:

        * it is: the check is written and the page's revision moves on;
        * another check was stored meanwhile and fetched *later* than this one: this
          fetch is stale and is kept as a ``superseded`` check row only (no version,
          change or alert; the page is untouched), so an older fetch never becomes the
          newest version;
        * another check was stored meanwhile but fetched earlier: nothing is written and
          the result has ``conflict``; the caller makes the record again from the page as
          it is now (without fetching again) and commits that.  So a change row's old
          version is always the page's real previous version, and the same content is
          never stored twice in a row.

        A record with a ``lease`` (the daemon's claim, ``monitor check``'s lease) also ends
        that lease, if it is still its owner's, in the same transaction: one write
        transaction a check fewer.  ``CommitResult.released`` says whether it ended.

        A record without ``documents`` is ``commit_checks`` of a group of one (Core
        statements on one connection, no ORM session); a listing's record with its
        documents is written in an ORM session (``storage.documents`` works on ``Page``
        objects), through the same revision test and writes (``_write``).
        """
        if rec.documents is None:
            return self.commit_checks([rec])[0]
        ready = self._ready(rec)
        with self.write_session() as s:
            c = s.connection()
            self._changes_in_id_order(c)  # also keeps two listings' syncs apart
            page = self._lock_page(c, rec.page_id)  # (storage/documents.py)
            w = self._write(c, rec, page, ready)
            if w.row is None:
                return w.result(0)
            check_id = compiled.insert_id(c, _INSERT_CHECK, w.row)
            if w.values:
                compiled.execute(c, _UPDATE_PAGE, {"page_id_": page.id, **w.values})
            docs = None
            if w.outcome != "superseded" and rec.outcome != "error":
                from storage import documents
                from storage.models import Page

                docs = documents.sync(s, s.get_one(Page, page.id), rec.documents,
                                      baseline=page.last_version_id is None,
                                      complete=rec.documents_complete,
                                      max_documents=rec.max_documents, now=utcnow())
            s.commit()
            return replace(w.result(check_id), documents=docs)

    def commit_checks(self, records: Sequence[CheckRecord]) -> list[CommitResult]:
        """``commit_check`` of many records in ONE transaction: a group commit.  Records
        with a version, changes or alerts join it as well as plain ones (a check row
        only); a record with ``documents`` does not (``ValueError``: it commits alone, in
        ``commit_check``'s ORM session, as ``storage.documents`` needs one).

        What each record gets is what ``commit_check`` gives it alone:

        * its own revision test, against the page as the records before it in the group
          left it: a conflict writes nothing for that record and leaves the others stored;
          a stale fetch is a ``superseded`` check row; two records of one page behave as
          if committed one after the other.  Its result is at the record's place;
        * its lease ended in the same transaction (if still its owner's);
        * its version's work done before the writers' turn (``_prepare``, every record's
          before the turn is taken), used under the lock only where the page is still as
          read;
        * change ids visible in id order on PostgreSQL: the group takes
          ``_changes_in_id_order``'s lock once, before its page locks, when any record
          has changes (that lock is always taken before page locks: ``commit_check``
          with documents and ``sync_sources`` take it first too, so no two of them wait
          for each other the other way round);
        * the pages are locked in id order (one statement), so two group commits over the
          same pages wait for each other, never deadlock;
        * its results are returned only after the commit.

        Writes: each record's version, paragraphs, spans, changes and alerts in the
        records' order (a later record reads what an earlier one wrote: its alert's
        ``dedupe_key``, a file both attach); then the check rows in one insert and the
        pages in one update a set of columns (two records of one page merged in order).
        The ids are those the records committed one by one in that order get.  Any error
        stores none of them (the caller may commit them one by one to find the culprit).
        """
        if any(rec.documents is not None for rec in records):
            raise ValueError("commit_checks takes records without documents")
        if not records:
            return []
        ready = [self._ready(rec) for rec in records]  # before the turn
        with self._writer, self._translated(), self.engine.connect() as c:
            if self.is_sqlite:
                c.exec_driver_sql("BEGIN IMMEDIATE")
            if any(rec.changes for rec in records):
                self._changes_in_id_order(c)
            pages = self._lock_pages(c, {rec.page_id for rec in records})
            writes = []
            for rec, prepared in zip(records, ready, strict=True):
                if rec.page_id not in pages:
                    raise StorageError(f"page {rec.page_id} does not exist")
                w = self._write(c, rec, pages[rec.page_id], prepared)
                pages[rec.page_id] = w.page
                writes.append(w)
            check_ids = iter(_insert_checks(c, [w.row for w in writes if w.row is not None]))
            _update_pages(c, writes)
            c.commit()
        return [w.result(next(check_ids) if w.row is not None else 0) for w in writes]

    def _ready(self, rec: CheckRecord) -> _Ready | None:
        """A record's version work done before the writers' turn (``_prepare``); and the
        modules its writes import (``_load_orm``), imported before the turn too."""
        if rec.version is None or rec.outcome == "superseded":
            return None
        _load_orm()
        return self._prepare(rec.page_id, rec.version)

    def _write(self, c: Connection, rec: CheckRecord, page: LockedPage, ready: _Ready | None
               ) -> Write:
        """A record's revision test against its locked ``page`` and, when it passes, its
        version, changes and alerts written; its check row and the page's new values
        are returned for the caller to write (``Write``)."""
        def add() -> tuple[int | None, list[int], list[int]]:
            version_id = (None if rec.version is None
                          else self._add_version(c, page, rec.version, ready))
            change_ids = self._add_changes(c, rec, version_id)
            return version_id, change_ids, self._add_alerts(c, rec, change_ids)

        return written(rec, page, add)

    def _lock_pages(self, c: Connection, ids: set[int]) -> dict[int, LockedPage]:
        """The pages' rows (``LockedPage``), locked for this transaction in id order
        (PostgreSQL: ``FOR UPDATE``; SQLite: the ``BEGIN IMMEDIATE`` before); missing
        ones left out."""
        if len(ids) == 1:
            lock = _LOCK_PAGE if self.is_sqlite else _LOCK_PAGE_FOR_UPDATE
            rows = c.execute(lock, {"id": next(iter(ids))}).all()
        else:
            lock = _LOCK_MANY if self.is_sqlite else _LOCK_MANY_FOR_UPDATE
            rows = c.execute(lock, {"ids": sorted(ids)}).all()
        return {row[0]: LockedPage(*row) for row in rows}

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A Core connection in a transaction, committed at the end of the block; its
        database errors come out as ``StorageError`` (small column statements, such as
        the leases of ``storage.schedule``)."""
        with self._writer, self._translated(), self.engine.begin() as c:
            yield c

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A Core connection (no transaction begun, no writer's turn taken) whose database
        errors come out as ``StorageError``: column reads, and writes whose conflicts the
        caller handles (``Schedule.ensure_pages``)."""
        with self._translated(), self.engine.connect() as c:
            yield c

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """A session that holds the database's write lock from its first statement.

        SQLite: ``BEGIN IMMEDIATE``, so what the transaction reads cannot be changed by
        another process before it writes (a deferred transaction would read a snapshot,
        then fail with "database is locked" when it tries to write after another
        writer).  PostgreSQL: an ordinary transaction; callers lock the rows they need.

        The ORM is imported, the session made and its connection taken from the pool
        before the turn is taken (``_load_orm``), and the session closed (its connection
        given back) after the turn is given back: the other writers do not wait for
        that.  A block that does not commit rolls back before it gives the turn back.
        """
        _load_orm()
        with self.session() as s:
            c = s.connection()  # no statement yet: SQLite's lock waits for BEGIN
            with self._writer:
                if self.is_sqlite:
                    c.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield s
                finally:
                    if s.in_transaction():  # not committed (a conflict, an error)
                        s.rollback()

    def _changes_in_id_order(self, c: Connection) -> None:
        """Change rows become visible in id order (the ``/api/changes?since=`` cursor).

        On PostgreSQL two transactions can take change ids 10 and 11 and commit 11
        first: a reader that saw 11 and asks for ``since=11`` would never see 10.  A
        transaction that may write changes takes this lock (released at its commit)
        before it takes an id, so ids are committed in order.  SQLite has one writer.
        Taken before any page lock (``commit_checks``: one order for every holder).
        """
        if not self.is_sqlite:
            c.exec_driver_sql(f"SELECT pg_advisory_xact_lock({CHANGES_LOCK})")

    def _lock_page(self, c: Connection, page_id: int) -> LockedPage:
        """The page's row (``LockedPage``), locked for this transaction (PostgreSQL: ``FOR
        UPDATE``; SQLite: the write session's ``BEGIN IMMEDIATE``)."""
        page = self._lock_pages(c, {page_id}).get(page_id)
        if page is None:
            raise StorageError(f"page {page_id} does not exist")
        return page

    def _prepare(self, page_id: int, new: NewVersion) -> _Ready | None:
        """What ``_add_version`` computes and reads for the new version, before the
        writers' turn is taken (``_Ready``): read from the page as it is now, without a
        lock (its revision first), and used under the lock only if it is still the
        page's (the same revision; else each part is tested as it was made)."""
        from storage import spans, verify

        try:
            with self._translated(), self.engine.connect() as c:
                revision, last_id, newest = _page_and_newest(c, page_id)
                previous = _previous(c, newest, last_id)
                raw = self._compress(c, previous, new.raw)
                lines = paragraphs.plan(c, page_id, paragraphs.lines_of(new.text),
                                        self._lines_read.take(last_id), empty=newest is None)
                items = paragraphs.fields_of(new.title, new.metadata)
                same = self._same_fields(newest if previous is newest else None, items)
                fields = same if same is not None else paragraphs.plan(c, page_id, items)
        except StorageError:  # a base that cannot be read: said, if it still is, under the lock
            return None
        raw_sha256, text_sha256 = new.raw_sha256_of_raw(), verify.text_sha256(new.text)
        link = verify.link_after(newest)
        before = (spans.ids_of(previous.line_ids, previous.field_ids) if previous
                  else set())
        return _Ready(_base_key(previous), raw, link, raw_sha256, text_sha256,
                      _record_hash(new, link, raw_sha256, text_sha256), revision,
                      newest, previous, lines, fields, frozenset(before))

    def _add_version(self, c: Connection, page: Any, new: NewVersion,
                     ready: _Ready | None = None) -> int:
        """Insert the version (``page``: its ``_lock_page`` row).  The page's newest
        version is read once, for its raw body (the delta's base), its paragraph ids
        (the spans it closes) and its number and record hash (the chain).  ``ready``:
        the same computed before the lock (``_prepare``): all of it taken when the page
        is still at the revision it was read at; else each part where what it was made
        from is still the page's newest version (the rest is computed again here)."""
        from storage import files, spans, verify

        fresh = ready is not None and ready.revision == page.revision
        if fresh:
            newest, previous = ready.newest, ready.previous  # type: ignore[union-attr]
        else:
            newest = c.execute(_NEWEST, {"page_id": page.id}).first()
            previous = _previous(c, newest, page.last_version_id)
        blob, codec, base_id, chain = (
            ready.raw if ready is not None and ready.base == _base_key(previous)
            else self._compress(c, previous, new.raw))
        if fresh:
            lines, fields = self._write_prepared(c, page.id, ready, new)  # type: ignore[arg-type]
            before = set(ready.before)  # type: ignore[union-attr]
        else:
            lines = paragraphs.store(c, page.id, paragraphs.lines_of(new.text),
                                     known=self._lines_read.take(page.last_version_id),
                                     empty=newest is None)
            fields = self._fields(c, page.id, newest if previous is newest else None,
                                  paragraphs.fields_of(new.title, new.metadata))
            before = (spans.ids_of(previous.line_ids, previous.field_ids) if previous
                      else set())
        row = {
            "page_id": page.id, "fetched_at": new.fetched_at,
            "content_hash": new.content_hash, "title": new.title,
            "line_ids": paragraphs.encode(lines), "field_ids": paragraphs.encode(fields),
            "text_len": len(new.text), "meta": new.metadata, "raw_body": blob,
            "raw_codec": codec, "raw_base_id": base_id, "raw_chain": chain,
            "raw_size": len(new.raw),
            "raw_sha256": ready.raw_sha256 if ready else new.raw_sha256_of_raw(),
            "http_status": new.http_status, "headers": new.headers, "url": new.url,
            "charset": new.charset, "attachments": new.attachments,
        }
        self._seal(row, new, verify.link_after(newest), ready)
        spans.track(c, page.id, row["number"], before, {*lines, *fields})
        files.add(c, new.files)
        return compiled.insert_id(c, _INSERT_VERSION, row)

    @staticmethod
    def _write_prepared(c: Connection, page_id: int, ready: _Ready, new: NewVersion
                        ) -> tuple[list[int], list[int]]:
        """The new version's line and field ids from plans made before the lock (the
        page unchanged since).  Lines are written first, as ``_add_version`` does;
        fields planned to be inserted with the same digest as a new line (a metadata
        label of ``""``) are looked up again after it."""
        lines_plan, fields_plan = ready.lines, ready.fields
        assert lines_plan is not None and fields_plan is not None
        lines = paragraphs.write(c, page_id, lines_plan)
        if isinstance(fields_plan, list):
            return lines, fields_plan
        if fields_plan.new.keys() & lines_plan.new.keys():
            items = paragraphs.fields_of(new.title, new.metadata)
            return lines, paragraphs.store(c, page_id, items)
        return lines, paragraphs.write(c, page_id, fields_plan)

    def _fields(self, c: Connection, page_id: int, last: Any, items: list[tuple[str, str]]
                ) -> list[int]:
        """The paragraph ids of a version's title and metadata (``items``): those of
        its last version when they are the same fields (``_same_fields``), else stored
        (``paragraphs.store``)."""
        same = self._same_fields(last, items)
        return same if same is not None else paragraphs.store(c, page_id, items)

    def _same_fields(self, last: Any, items: list[tuple[str, str]]) -> list[int] | None:
        """The field ids of the page's last version (``last``: its ``_NEWEST`` row) when
        they are the same fields, as they mostly are (a paragraph row never changes, so
        its ids are the ones a look-up would find); else None."""
        if (last is not None and last.field_ids is not None
                and paragraphs.fields_of(last.title, dict(last.meta or {})) == items):
            ids = paragraphs.decode(last.field_ids)
            if len(ids) == len(items):
                return ids
        return None

    def _seal(self, row: dict[str, Any], new: NewVersion, link: tuple[int, str],
              ready: _Ready | None = None) -> None:
        """The version's evidence: text hash, number and chained record hash (verify.py);
        ``link``: the number and record hash it follows (``verify.link_after``); the
        record hash of ``ready`` when it was made for the same link."""
        from storage import verify

        row["number"], _ = link
        row["text_sha256"] = ready.text_sha256 if ready else verify.text_sha256(new.text)
        row["record_hash"] = (ready.record_hash if ready is not None and ready.link == link
                              else _record_hash(new, link, row["raw_sha256"],
                                                row["text_sha256"]))

    def _compress(self, c: Connection, base: Any, raw: bytes
                  ) -> tuple[bytes, str, int | None, int]:
        """The raw body compressed against ``base`` (a ``_RAW`` row: the page's last
        version), or alone when there is none or its delta chain is long enough."""
        if base is None or base.raw_chain + 1 >= rawcodec.DELTA_CHAIN_MAX:
            return rawcodec.compress(raw), "zstd", None, 0
        base_raw = self._raw(c, base)
        return rawcodec.compress(raw, base_raw), "zstd-delta", base.id, base.raw_chain + 1

    def _raw(self, c: Connection, version: Any) -> bytes:
        """A version's raw body (``version``: a ``_RAW`` row), through its delta chain:
        the chain's rows in one query (``_RAW_CHAIN``; on SQLite through the driver),
        decompressed from its full copy in one call (``rawcodec.decompress_chain``)."""
        if _whole(version):
            return rawcodec.decompress(version.raw_body)
        chain = [version, *self._chain_rows(c, version.raw_base_id)]
        last = chain[-1]
        if _whole(last):
            return rawcodec.decompress_chain([row.raw_body for row in reversed(chain)])
        if len(chain) - 1 < CHAIN_READ:  # the query found no row for its base
            raise StorageError(f"version {last.id}: delta base {last.raw_base_id} missing")
        raw = self._raw_link_by_link(c, last)
        for row in reversed(chain[:-1]):
            raw = rawcodec.decompress(row.raw_body, raw)
        return raw

    def _chain_rows(self, c: Connection, base_id: int) -> list[Any]:
        """``_RAW_CHAIN``'s rows from ``base_id`` (id, raw_body, raw_codec, raw_base_id)."""
        if self.is_sqlite:
            return [_ChainRow(*row) for row in compiled.rows(
                c, _RAW_CHAIN_DRIVER, (base_id, CHAIN_READ))]
        return list(c.execute(_RAW_CHAIN, {"id": base_id, "depth": CHAIN_READ}))

    def _raw_link_by_link(self, c: Connection, version: Any) -> bytes:
        """``_raw`` of a chain longer than ``CHAIN_READ``, a query a link."""
        if _whole(version):
            return rawcodec.decompress(version.raw_body)
        base = _raw_row(c, version.raw_base_id)
        if base is None:
            raise StorageError(f"version {version.id}: delta base {version.raw_base_id} missing")
        return rawcodec.decompress(version.raw_body, self._raw_link_by_link(c, base))

    def _add_changes(self, c: Connection, rec: CheckRecord, version_id: int | None
                     ) -> list[int]:
        if not rec.changes:
            return []
        now = utcnow()
        return [compiled.insert_id(c, _INSERT_CHANGE, {
            "page_id": rec.page_id, "old_version_id": rec.expected_last_version_id,
            "new_version_id": version_id, "kind": str(ch.kind), "summary": ch.summary,
            "stats": dict(ch.stats), "details": dict(ch.details), "patch": ch.patch,
            "alert": ch.alert, "created_at": now}) for ch in rec.changes]

    def _add_alerts(self, c: Connection, rec: CheckRecord, change_ids: list[int]
                    ) -> list[int]:
        if not rec.alerts:
            return []
        from storage.outbox import insert_alerts

        return insert_alerts(c, rec.page_id, rec.alerts, change_ids)

    # --- reading -------------------------------------------------------------------

    def resolve_page(self, name_or_url: str) -> tuple[Row[Any], Row[Any]]:
        """A source's main page by source name, or any page by URL (rows of ``sources``
        and ``pages``: the read commands import no ORM, ``storage.archive``); a URL with a
        session id (``;jsessionid=…``) is the page without it (``monitor.session_ids``)."""
        with self.reading() as c:
            src = c.execute(sa_select(sources).where(S.name == name_or_url)).first()
            if src is not None:
                page = c.execute(sa_select(pages).where(P.source_id == src.id)
                                 .order_by(P.id)).first()
                if page is not None:
                    return src, page
            # a document two listings list: its page, not the other's reference to it;
            # one a listing took over from a removed one: the page checked now
            page = c.execute(sa_select(pages).join(sources, S.id == P.source_id)
                             .where(P.url.in_({name_or_url, without_session(name_or_url)}))
                             .order_by(S.active.desc(), P.kind == "reference", P.id)).first()
            if page is not None:
                return c.execute(sa_select(sources).where(S.id == page.source_id)).one(), page
        raise KeyError(name_or_url)

    def history(self, name_or_url: str) -> list[VersionInfo]:
        src, page = self.resolve_page(name_or_url)
        with self.reading() as c:
            found = c.execute(sa_select(*_INFO).where(V.page_id == page.id)
                              .order_by(V.id)).all()
            by_version = {ch.new_version_id: ch for ch in c.execute(
                sa_select(changes.c.new_version_id, changes.c.kind, changes.c.summary)
                .where(changes.c.page_id == page.id).order_by(changes.c.id))}
            return [_info(v, src.name, by_version.get(v.id)) for v in found]

    def version(self, version_id: int) -> VersionFull:
        from storage import files, verify

        with self.reading() as c:
            v = c.execute(sa_select(versions).where(V.id == version_id)).first()
            if v is None:
                raise KeyError(version_id)
            src = c.execute(sa_select(S.name).join(pages, P.source_id == S.id)
                            .where(P.id == v.page_id)).scalar()
            entries = v.attachments or []
            stored = files.infos(c, (str(a.get("sha256") or "") for a in entries))
            text = paragraphs.text_of(c, v.id or 0, v.line_ids)
            previous = c.execute(sa_select(V.record_hash).where(
                V.page_id == v.page_id, V.number == v.number - 1)).scalar()
            full = _full(v, text, src or "", files.listed(entries, stored))
            scheme = verify.record_scheme(
                v.record_hash, title=v.title, attachments=entries, url=v.url,
                number=v.number, fetched_at=v.fetched_at, raw_sha256=v.raw_sha256,
                text_sha256=v.text_sha256, meta=dict(v.meta), previous=previous or "")
            return replace(full, previous_record_hash=previous or "",
                           record_format=scheme or "")

    def version_text(self, version_id: int) -> str:
        """A version's extracted text, exactly as it was stored (``KeyError``: no such
        version).  The text lives as shared paragraphs (``storage/paragraphs.py``)."""
        with self._translated(), self.engine.connect() as c:
            lines = c.execute(_LINES, {"id": version_id}).first()
            if lines is None:
                raise KeyError(version_id)
            return paragraphs.text_of(c, version_id, lines[0], remember=self._lines_read)

    def _text_of_lines(self, version_id: int, lines: bytes | None) -> str:
        """``version_text`` of a version whose id list is known (``LastVersion``)."""
        with self._translated(), self.engine.connect() as c:
            return paragraphs.text_of(c, version_id, lines, remember=self._lines_read)

    def version_at(self, name_or_url: str, at: datetime) -> VersionFull:
        """The version that was current at ``at`` (the last one fetched at or before)."""
        _, page = self.resolve_page(name_or_url)
        with self.reading() as c:
            vid = c.execute(sa_select(V.id).where(V.page_id == page.id, V.fetched_at <= at)
                            .order_by(V.fetched_at.desc(), V.id.desc())).scalar()
        if vid is None:
            raise KeyError(f"{name_or_url} had no version at {at.isoformat()}")
        return self.version(vid)

    def latest_version(self, name_or_url: str) -> VersionFull:
        _, page = self.resolve_page(name_or_url)
        if page.last_version_id is None:
            raise KeyError(f"{name_or_url} has no version yet")
        return self.version(page.last_version_id)

    def texts(self, version_ids: Sequence[int]) -> dict[int, str]:
        """The extracted text of many versions at once, by id (``monitor verify``): the
        same text ``version()`` gives, for when one query a version is too slow."""
        with self.reading() as c:
            rows = c.execute(sa_select(V.id, V.line_ids).where(V.id.in_(version_ids))).all()
            return paragraphs.texts_of(c, [(vid or 0, blob) for vid, blob in rows])

    def raw_body(self, version_id: int) -> bytes:
        with self._translated(), self.engine.connect() as c:
            v = _raw_row(c, version_id)
            if v is None:
                raise KeyError(version_id)
            return self._raw(c, v)

    def file(self, sha256: str, *, body: bool = True) -> StoredFile:
        """A stored attachment file by its SHA-256 (with its original bytes)."""
        from storage import files

        with self.reading() as c:
            found = files.infos(c, [sha256], body=body)
        if sha256 not in found:
            raise KeyError(sha256)
        return found[sha256]

    def stored_files(self, shas: Sequence[str]) -> dict[str, StoredFile]:
        """Stored attachment files by SHA-256, without their bytes; unknown ones left out."""
        from storage import files

        with self.reading() as c:
            return files.infos(c, shas)

    def pending_alerts(self) -> int:
        """The alerts waiting in the outbox."""
        with self._translated(), self.engine.connect() as c:
            return int(c.execute(_PENDING_ALERTS).scalar_one())

    def count(self, model: type, **where: object) -> int:
        from sqlmodel import select

        with self.session() as s:
            stmt = select(func.count()).select_from(model)
            for key, value in where.items():
                stmt = stmt.where(getattr(model, key) == value)
            return int(s.exec(stmt).one())


def _insert_checks(c: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """The check rows inserted in order (one statement); their ids."""
    if len(rows) == 1:  # the driver's cursor (storage.compiled): a single commit
        return [compiled.insert_id(c, _INSERT_CHECK, rows[0])]
    return list(c.execute(_INSERT_CHECKS, rows).scalars().all()) if rows else []


def _update_pages(c: Connection, writes: Sequence[Write]) -> None:
    """The pages' new values (``rows.page_updates``), one ``executemany`` for each set of
    columns."""
    for params in page_updates(writes):
        if len(params) == 1:
            compiled.execute(c, _UPDATE_PAGE, params[0])
        else:
            c.execute(_UPDATE_PAGE, params)


# What ``Store.history`` reads of each version (not its bodies).
_INFO = (V.id, V.page_id, V.url, V.fetched_at, V.content_hash, V.title, V.text_len,
         V.raw_size, V.number)


def _info(v: Row[Any], source: str, change: Row[Any] | None) -> VersionInfo:
    return VersionInfo(id=v.id or 0, page_id=v.page_id, source=source, url=v.url,
                       fetched_at=v.fetched_at, content_hash=v.content_hash, title=v.title,
                       size=v.text_len, raw_size=v.raw_size,
                       change_kind=change.kind if change else None,
                       change_summary=change.summary if change else None,
                       number=v.number)


def _full(v: Row[Any], text: str, source: str, attachments: list[dict[str, Any]]
          ) -> VersionFull:
    return VersionFull(id=v.id or 0, page_id=v.page_id, source=source, url=v.url,
                       fetched_at=v.fetched_at, content_hash=v.content_hash, title=v.title,
                       text=text, metadata=dict(v.meta), http_status=v.http_status,
                       headers=dict(v.headers), charset=v.charset, raw_size=v.raw_size,
                       raw_sha256=v.raw_sha256, attachments=tuple(attachments),
                       number=v.number, text_sha256=v.text_sha256, record_hash=v.record_hash)
