"""Read-side queries of the archive: the sources overview, a page's timeline, recent
changes (for feeds) and a streaming walk over versions with their raw bytes (for export).

A page's timeline is its versions (each with its number 第N版, when it was first seen
and when a check last **confirmed** it unchanged: the newest successful check before
the next version, so "the page said X from … to …" reads off it) and its events
(``events``), derived from what the checks and changes tables already hold:

* a change row without a version of its own (页面已删除, 已恢复 or 已迁移 when the
  content stayed the same, at the start of the page's check that wrote it, as checks
  are stamped — ``_event_time``; 已从栏目移除, written by the listing's check, at the
  time it was written);
* each failure streak: its first failed check (``failing``, with the count and the first
  error, in Chinese: ``monitor.zh``) and the successful check that ended it
  (``recovered``); a streak still running has no end yet.  A gone page's 404s are a
  streak too, ended by its restoration: that check's 页面已恢复 carries the count, and
  no 恢复访问 is added for the same moment.

``Archive`` wraps a ``Store`` (its engine and error translation) like ``AlertsRepo``; it
never writes.  Full-text search lives in ``storage/search.py``.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, func, or_, select

from monitor.errors import StorageError
from monitor.session_ids import without_session
from monitor.types import SETTINGS_ONLY, UPGRADE_ONLY, reread_cause, sortable_date
from monitor.zh import describe
from storage import paragraphs, rawcodec, tables
from storage.repository import Store
from storage.verify import Instant, body_damage

# The tables read, as Core (``storage.tables``): rows, not ORM objects — these reads
# import neither SQLModel nor the ORM (``monitor show``, ``history``, ``diff``, ``export``).
_S, _P, _V = tables.sources.c, tables.pages.c, tables.versions.c
_CK, _CH = tables.checks.c, tables.changes.c


@dataclass(frozen=True)
class SourceSummary:
    name: str
    url: str
    tags: list[str]
    active: bool
    page_id: int | None
    title: str
    status: str
    versions: int
    failure_streak: int
    last_check_at: Instant | None = None
    last_outcome: str | None = None
    last_error: str | None = None
    last_change_at: Instant | None = None
    last_change_kind: str | None = None
    paused: bool = False  # enabled = false in the file (as last synced): not checked


@dataclass(frozen=True)
class PageInfo:
    id: int
    source: str
    tags: list[str]
    url: str
    kind: str
    status: str
    versions: int
    last_version_id: int | None
    title: str = ""  # a document's title in its listing
    list_date: str = ""
    listed: bool = True  # false: no longer on its listing
    last_check_at: Instant | None = None
    unlisted_at: Instant | None = None  # when it was taken off its listing
    active: bool = True  # false: its source was removed from sources.toml (history kept)
    # a document: the listings that list it, its own first (two when another listing
    # lists it too: one page, one history, storage/documents.py)
    listings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ChangeBrief:
    id: int
    kind: str
    summary: str
    stats: dict[str, int]


@dataclass(frozen=True)
class TimelineEntry:
    id: int
    fetched_at: Instant  # first seen
    title: str
    content_hash: str
    size: int  # characters of extracted text
    raw_size: int  # bytes as fetched
    http_status: int
    previous_id: int | None
    changes: list[ChangeBrief] = field(default_factory=list)
    number: int = 0  # 第N版 of the page
    last_confirmed: Instant | None = None  # newest check that found it unchanged


@dataclass(frozen=True)
class PageEvent:
    """Something that happened to a page besides a new version (see the module doc)."""

    at: Instant
    kind: str  # a change kind (gone, restored, moved, unlisted…), failing or recovered
    summary: str
    change_id: int | None = None
    failures: int = 0  # failing/recovered: checks failed in the streak
    until: Instant | None = None  # failing: when the streak ended (None: still failing)


@dataclass(frozen=True)
class GonePeriod:
    """A stretch when the page was gone (``_gone_periods``): from the first failed check
    of the streak that recorded 页面已删除 to the check that found the page again."""

    since: Instant  # the streak's first failed check
    recorded: Instant  # the check that recorded 页面已删除
    until: Instant | None  # the check that found it back (None: still gone)
    reason: str  # the first failure, in Chinese (monitor.zh)
    version_id: int | None  # the version current when it went


@dataclass(frozen=True)
class ChangeEntry:
    id: int
    kind: str
    summary: str
    stats: dict[str, int]
    created_at: Instant
    source: str
    tags: list[str]
    page_id: int
    page_url: str
    title: str
    old_version_id: int | None
    new_version_id: int | None


@dataclass(frozen=True)
class ArchivedVersion:
    """One version with everything an export writes, raw bytes included."""

    id: int
    source: str
    page_id: int
    page_url: str
    url: str
    fetched_at: Instant
    title: str
    text: str
    metadata: dict[str, str]
    content_hash: str
    http_status: int
    headers: dict[str, str]
    charset: str | None
    raw: bytes
    raw_sha256: str
    change_kinds: list[str]
    attachments: list[dict[str, Any]] = field(default_factory=list)  # versions.attachments
    # evidence (storage/verify.py): 第N版, the text's hash, the record hash and the one
    # it chains to (the page's previous version's; "" for its first)
    number: int = 0
    text_sha256: str = ""
    record_hash: str = ""
    previous_hash: str = ""
    last_confirmed: Instant | None = None  # newest check that found it unchanged
    # when checks read it as the page's current version: (from, to) spans, split by
    # the gone periods while it was current (``gone``), never spanning one
    confirmed: list[tuple[Instant, Instant]] = field(default_factory=list)
    gone: list[GonePeriod] = field(default_factory=list)
    # why ``raw`` is not the body recorded (changed or unreadable in storage), or None
    damage: str | None = None


class Archive:
    """Read-only queries over a ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- sources and pages ---------------------------------------------------------

    def sources(self, tag: str | None = None) -> list[SourceSummary]:
        """Every source (active first, then by name) with its main page's state."""
        with self.store.reading() as s:
            sources = [r for r in s.execute(select(tables.sources)) if not tag or tag in r.tags]
            pages = _main_pages(s, [r.id or 0 for r in sources])
            page_ids = [p.id or 0 for p in pages.values()]
            checks = _last_checks(s, page_ids)
            kinds = _last_change_kinds(s, page_ids)
            counts = _version_counts(s, page_ids)
            titles = _titles(s, [p.last_version_id for p in pages.values()])
            out = [_summary(r, pages.get(r.id or 0), checks, kinds, counts, titles)
                   for r in sources]
        return sorted(out, key=lambda x: (not x.active, x.name))

    def tags(self) -> list[str]:
        with self.store.reading() as s:
            return sorted({t for tags in s.execute(select(_S.tags)).scalars() for t in tags})

    def pages(self, source: str) -> list[PageInfo]:
        """The pages of a source (name or URL), main page first."""
        with self.store.reading() as s:
            src = source_row(s, source)
            rows = s.execute(select(tables.pages).where(_P.source_id == src.id)
                             .order_by(_P.kind != "page", _P.id)).all()
            # a listing's documents newest first, by the date the list shows
            rows = sorted(rows, key=lambda p: (p.kind != "page", _newest_first(p)))
            return _listed_pages(s, src, rows)

    def page(self, page_id: int) -> PageInfo:
        with self.store.reading() as s:
            page = s.execute(select(tables.pages).where(_P.id == page_id)).first()
            if page is None:
                raise KeyError(f"page {page_id}")
            src = s.execute(select(tables.sources).where(_S.id == page.source_id)).one()
            return _listed_pages(s, src, [page])[0]

    def timeline(self, page_id: int) -> list[TimelineEntry]:
        """A page's versions, oldest first, each with the changes that produced it, its
        number and when it was last confirmed."""
        with self.store.reading() as s:
            versions = s.execute(select(_V.id, _V.fetched_at, _V.title,
                                        _V.content_hash, _V.text_len,
                                        _V.raw_size, _V.http_status, _V.number)
                                 .where(_V.page_id == page_id).order_by(_V.id)).all()
            changes = s.execute(select(tables.changes).where(_CH.page_id == page_id)
                                .order_by(_CH.id)).all()
            checks = _checks(s, page_id)
        by_version: dict[int | None, list[ChangeBrief]] = {}
        for c in changes:
            by_version.setdefault(c.new_version_id, []).append(
                ChangeBrief(c.id or 0, c.kind, c.summary, dict(c.stats)))
        confirmed = _confirmations(checks)
        out, previous = [], None
        for vid, at, title, chash, size, raw_size, status, number in versions:
            last = max(_utc(at), confirmed.get(vid or 0, _utc(at)))
            out.append(TimelineEntry(vid, at, title, chash, int(size or 0), raw_size, status,
                                     previous, by_version.get(vid, []), number, last))
            previous = vid
        return out

    def events(self, page_id: int) -> list[PageEvent]:
        """What happened to a page besides its versions, oldest first (module doc)."""
        with self.store.reading() as s:
            changes = s.execute(select(tables.changes).where(_CH.page_id == page_id,
                                                             _CH.new_version_id.is_(None))
                                .order_by(_CH.id)).all()
            checks = _checks(s, page_id)
        starts = [c[0] for c in checks]
        out = [PageEvent(_event_time(c, starts), c.kind, c.summary, c.id) for c in changes]
        out = _merged(out, _streaks(checks), starts)
        return sorted(out, key=lambda e: e.at)

    def gone_periods(self, page_id: int) -> list[GonePeriod]:
        """When the page was gone, oldest first (``_gone_periods``)."""
        with self.store.reading() as s:
            checks = _checks(s, page_id)
            gone = _gone_changes(s, {page_id}).get(page_id, [])
            return _gone_periods(checks, _gone_times(checks, gone))

    def gone_at(self, page_id: int, at: datetime) -> GonePeriod | None:
        """The gone period ``at`` falls in (the page was not there then), or None."""
        at = _utc(at)
        return next((p for p in self.gone_periods(page_id) if p.since <= at
                     and (p.until is None or at < p.until)), None)

    def first_version(self, page_id: int) -> tuple[int, datetime, int] | None:
        """The id, fetch time and number (第N版, as ``history`` counts) of a page's
        earliest version (None: it has none)."""
        with self.store.reading() as s:
            row = s.execute(select(_V.id, _V.fetched_at, _V.number)
                            .where(_V.page_id == page_id)
                            .order_by(_V.fetched_at, _V.id)).first()
        return (int(row[0] or 0), row[1], int(row[2] or 0)) if row else None

    def last_change(self, name_or_url: str) -> tuple[int, int]:
        """(old, new) version ids of a page's last change; else its last two versions."""
        _, page = self.store.resolve_page(name_or_url)
        with self.store.reading() as s:
            pair = s.execute(select(_CH.old_version_id, _CH.new_version_id)
                             .where(_CH.page_id == page.id,
                                    _CH.old_version_id.is_not(None),
                                    _CH.new_version_id.is_not(None))
                             .order_by(_CH.id.desc())).first()
            if pair is not None:
                return int(pair[0] or 0), int(pair[1] or 0)
            ids = s.execute(select(_V.id).where(_V.page_id == page.id)
                            .order_by(_V.id.desc()).limit(2)).scalars().all()
        if len(ids) < 2:
            raise KeyError(f"{name_or_url} has fewer than two versions")
        return int(ids[1] or 0), int(ids[0] or 0)

    def reread(self, old_id: int, new_id: int) -> dict[str, Any] | None:
        """The old version as the change ``old_id`` → ``new_id`` read it, when that change
        was found after its source's settings changed: ``details["reread"]`` (title,
        text, metadata: ``monitor.pipeline.Checker._settings_apart``); None otherwise (no
        such change, or one against the version as stored)."""
        with self.store.reading() as s:
            rows = s.execute(select(_CH.details).where(_CH.old_version_id == old_id,
                                                       _CH.new_version_id == new_id)
                             .order_by(_CH.id)).scalars().all()
        found = (d.get("reread") for d in rows if isinstance(d, dict))
        return next((r for r in found if isinstance(r, dict)), None)

    def reread_cause(self, old_id: int, new_id: int) -> str | None:
        """Why a page was read differently between two of its versions, or None:
        "settings" when its source's settings (``content``, ``ignore_text``…) were edited
        (a change between them the settings alone made, ``SETTINGS_ONLY``, or one with
        the old side read again, ``details["reread"]``), "rules" when only an upgrade's
        reading rules were (``UPGRADE_ONLY``, or a re-read whose ``cause`` is "rules").
        ``monitor diff`` compares the versions as stored, that part too, and says which.
        Versions of two pages: None."""
        low, high = sorted((old_id, new_id))
        with self.store.reading() as s:
            pages = s.execute(select(_V.page_id)
                              .where(_V.id.in_((low, high)))).scalars().all()
            if len(pages) != len({low, high}) or len(set(pages)) != 1:
                return False
            rows = s.execute(select(_CH.summary, _CH.details)
                             .where(_CH.page_id == pages[0],
                                    _CH.old_version_id >= low,
                                    _CH.new_version_id <= high)).all()
        causes = {_cause(summary, details) for summary, details in rows} - {None}
        return "settings" if "settings" in causes else causes.pop() if causes else None

    # --- changes (feeds) -----------------------------------------------------------

    def changes(self, *, source: str | None = None, tag: str | None = None,
                limit: int = 50, news: bool = False) -> list[ChangeEntry]:
        """The newest changes, optionally of one source or of the sources with a tag;
        ``news``: only those a watcher is told (feeds), not what is only recorded (a
        listing's own item lines, an item taken off a column)."""
        with self.store.reading() as s:
            stmt = (select(tables.changes).join(tables.pages, _P.id == _CH.page_id)
                    .join(tables.sources, _S.id == _P.source_id))
            if news:
                stmt = stmt.where(_CH.alert)
            if source:
                stmt = stmt.where(_S.id == source_row(s, source).id)
            if tag:
                stmt = stmt.where(_S.id.in_(tagged_ids(s, tag)))
            rows = s.execute(stmt.order_by(_CH.created_at.desc(), _CH.id.desc())
                          .limit(limit)).all()
            return _change_entries(s, rows)

    def changes_page(self, *, since: int | None = None, before: int | None = None,
                     limit: int = 50, oldest_first: bool = True, source: str | None = None,
                     tag: str | None = None) -> list[ChangeEntry]:
        """Changes by id, a cursor for pollers: ids above ``since`` and below ``before``,
        oldest or newest first.  Ids become visible in order (``Store.commit_check``), so
        asking again with ``since`` = the largest id seen misses and repeats nothing."""
        with self.store.reading() as s:
            stmt = (select(tables.changes).join(tables.pages, _P.id == _CH.page_id)
                    .join(tables.sources, _S.id == _P.source_id))
            if since is not None:
                stmt = stmt.where(_CH.id > since)
            if before is not None:
                stmt = stmt.where(_CH.id < before)
            if source:
                stmt = stmt.where(_S.id == source_row(s, source).id)
            if tag:
                stmt = stmt.where(_S.id.in_(tagged_ids(s, tag)))
            order = _CH.id if oldest_first else _CH.id.desc()
            rows = s.execute(stmt.order_by(order).limit(limit)).all()
            return _change_entries(s, rows)

    # --- export --------------------------------------------------------------------

    def count_versions(self, *, source: str | None = None, since: datetime | None = None,
                       until: datetime | None = None) -> int:
        with self.store.reading() as s:
            return len(_version_ids(s, source, since, until))

    def iter_versions(self, *, source: str | None = None, since: datetime | None = None,
                      until: datetime | None = None, batch: int = 64
                      ) -> Iterator[ArchivedVersion]:
        """Versions in fetch order with their raw bytes, read ``batch`` at a time.

        The previous raw body of each page is kept, so a delta-compressed version is
        decoded against it instead of walking its chain back to a full copy.
        """
        with self.store.reading() as s:
            ids = _version_ids(s, source, since, until)
        last_raw: dict[int, tuple[int, bytes]] = {}
        confirmed: dict[int, _Spans] = {}  # version id → its confirmations, by page read
        for start in range(0, len(ids), batch):
            yield from self._load(ids[start:start + batch], last_raw, confirmed)

    def _load(self, ids: Sequence[int], last_raw: dict[int, tuple[int, bytes]],
              confirmed: dict[int, _Spans]) -> list[ArchivedVersion]:
        with self.store.reading() as s:
            versions = s.execute(select(tables.versions).where(_V.id.in_(ids))).all()
            pages, srcs = _pages_and_sources(s, {v.page_id for v in versions})
            rows = [(v, pages[v.page_id], srcs[pages[v.page_id].source_id]) for v in versions]
            kinds = _change_kinds(s, ids)
            previous = _previous_hashes(s, [r[0] for r in rows])
            unread = {r[0].page_id for r in rows if r[0].id not in confirmed}
            gone = _gone_changes(s, unread)  # one query for the batch: most have none
            for pid in unread:
                checks = _checks(s, pid)
                confirmed.update(_spans(checks, _gone_times(checks, gone.get(pid, []))))
            texts = paragraphs.texts_of(s, [(v.id or 0, v.line_ids) for v, _, _ in rows])
        order = {vid: i for i, vid in enumerate(ids)}
        out = []
        for v, page, src in sorted(rows, key=lambda r: order[r[0].id or 0]):
            raw, damage = self._checked_raw(v, last_raw.get(v.page_id))
            last_raw[v.page_id] = (v.id or 0, raw)
            spans, gone = confirmed.get(v.id or 0, ([], []))
            spans = _from_fetch(_utc(v.fetched_at), spans)
            out.append(replace(_archived(v, page, src, texts[v.id or 0], raw,
                                         kinds.get(v.id or 0, [])),
                               previous_hash=previous.get(v.id or 0, ""), damage=damage,
                               last_confirmed=spans[-1][1], confirmed=spans, gone=gone))
        return out

    def _checked_raw(self, v: Row[Any], previous: tuple[int, bytes] | None
                     ) -> tuple[bytes, str | None]:
        """The body, and why it is not the one recorded: an export writes what it can
        and says which versions failed (an unreadable body is exported empty)."""
        try:
            raw = self._raw(v, previous)
        except StorageError as exc:
            return b"", (f"第{v.number}版（version {v.id}）的原始内容无法读取（存储的字节"
                         f"已损坏），运行 monitor verify 查看（{exc}）")
        return raw, body_damage(raw, v.raw_sha256, number=v.number, version_id=v.id or 0)

    def _raw(self, v: Row[Any], previous: tuple[int, bytes] | None) -> bytes:
        if v.raw_codec == "zstd" or v.raw_base_id is None:
            return rawcodec.decompress(v.raw_body)
        if previous is not None and previous[0] == v.raw_base_id:
            return rawcodec.decompress(v.raw_body, previous[1])
        return self.store.raw_body(v.id or 0)


# --- helpers (inside a session) -------------------------------------------------------

CONFIRMING = ("new", "changed", "unchanged")  # a check that read the page as it was
_Check = tuple[datetime, str, str, int | None]  # started_at, outcome, error, version_id


def _checks(s: Connection, page_id: int) -> list[_Check]:
    """The page's checks in time order; a failure's words are Chinese (``monitor.zh``:
    the sentence of its kind — for a body refused as not the page, the one its reason
    picks — the HTTP status or kind code after), not the English message kept for
    admins."""
    return [(_utc(at), outcome,
             describe(kind, status, error or "") if outcome == "error" else "", vid)
            for at, outcome, kind, status, error, vid in s.execute(
                select(_CK.started_at, _CK.outcome, _CK.error_kind, _CK.http_status,
                       _CK.error, _CK.version_id)
                .where(_CK.page_id == page_id)
                .order_by(_CK.started_at, _CK.id))]


def _confirmations(checks: list[_Check]) -> dict[int, datetime]:
    """The newest check that read each version as the page's current one: a successful
    check that stored no new version confirms the version current before it."""
    out: dict[int, datetime] = {}
    current: int | None = None
    for at, outcome, _, vid in checks:
        if vid is not None:
            current = vid
        elif outcome in CONFIRMING and current is not None:
            out[current] = at
    return out


_Spans = tuple[list[tuple[datetime, datetime]], list[GonePeriod]]


def _gone_changes(s: Connection, page_ids: set[int]) -> dict[int, list[Row[Any]]]:
    """The 页面已删除 changes of the pages, by page."""
    out: dict[int, list[Row[Any]]] = {}
    for c in s.execute(select(tables.changes).where(_CH.page_id.in_(page_ids),
                                                    _CH.kind == "gone",
                                                    _CH.new_version_id.is_(None))):
        out.setdefault(c.page_id, []).append(c)
    return out


def _gone_times(checks: list[_Check], changes: list[Row[Any]]) -> list[datetime]:
    """When the page's 页面已删除 were recorded, on the timeline's clock."""
    starts = [c[0] for c in checks]
    return [_event_time(c, starts) for c in changes]


def _gone_periods(checks: list[_Check], gone_times: list[datetime]) -> list[GonePeriod]:
    """The failure streaks during which 页面已删除 was recorded: the page answered
    404 (or "not found") from the streak's first check, not only from the check that
    reached ``gone_after``, so the period starts there; it ends at the check that read
    the page again (页面已恢复, or a new version), or is still running."""
    out: list[GonePeriod] = []
    current: int | None = None
    version_at: dict[datetime, int | None] = {}  # check start → the version current
    for at, _, _, vid in checks:
        current = vid if vid is not None else current
        version_at[at] = current
    for streak in _streaks(checks):
        if streak.kind != "failing":
            continue
        end = streak.until
        recorded = [t for t in gone_times if streak.at <= t and (end is None or t <= end)]
        if recorded:
            out.append(GonePeriod(streak.at, min(recorded), end, streak.summary,
                                  version_at.get(streak.at)))
    return out


def _spans(checks: list[_Check], gone_times: list[datetime]) -> dict[int, _Spans]:
    """Each version's confirmations as (from, to) spans of the checks that read it as
    the page's current one, a span closed by a gone period (reopened by the check that
    found the page back), and the gone periods while it was current."""
    periods = _gone_periods(checks, gone_times)
    out: dict[int, _Spans] = {}
    current: int | None = None
    open_span = False
    for at, outcome, _, vid in checks:
        if vid is not None:
            current, open_span = vid, False
        if current is None:
            continue
        spans = out.setdefault(current, ([], []))[0]
        if outcome in CONFIRMING or vid is not None:
            if open_span:
                spans[-1] = (spans[-1][0], at)
            else:
                spans.append((at, at))
                open_span = True
        elif any(p.since <= at and (p.until is None or at < p.until) for p in periods):
            open_span = False
    for p in periods:
        if p.version_id is not None:
            out.setdefault(p.version_id, ([], []))[1].append(p)
    return out


def _from_fetch(fetched: datetime, spans: list[tuple[datetime, datetime]]
                ) -> list[tuple[datetime, datetime]]:
    """The spans with the first one starting at the version's fetch (its check started
    a moment before it) and none ending before that."""
    if not spans:
        return [(fetched, fetched)]
    out = [(max(a, fetched), max(b, fetched)) for a, b in spans]
    out[0] = (fetched, out[0][1])
    return out


# Versionless changes written by a check of the page itself (not 已从栏目移除: the
# listing's check writes that one).
_OWN_CHECK = frozenset({"gone", "restored", "moved"})


def _event_time(change: Row[Any], starts: list[datetime]) -> datetime:
    """When a versionless change happened, on the timeline's clock: the start of the
    page's check that wrote it, as every check and version is stamped (its fetch),
    not ``created_at``, the commit after the fetch — else 页面已恢复 reads a second
    after the 404 streak it ended (whose end is that same check's start).  The writer
    is the page's newest check started before the change's commit: checks of a page
    do not overlap (its lease) and commit in order (``Store.commit_check``).

    The row's ``created_at`` is left as it is, on purpose: it is when the change was
    recorded, and the changes feed and ``/api/changes`` walk changes in the order they
    became visible — a stamp moved back to the fetch would put a change before ones
    committed earlier.  So the fix is here, in the display, for the timeline only."""
    at = _utc(change.created_at)
    if change.kind not in _OWN_CHECK:
        return at
    i = bisect.bisect_right(starts, at) - 1
    return starts[i] if i >= 0 else at


def _streaks(checks: list[_Check]) -> list[PageEvent]:
    """Each run of failed checks: where it started and the check that ended it."""
    out: list[PageEvent] = []
    start: _Check | None = None
    count = 0
    for check in checks:
        at, outcome = check[0], check[1]
        if outcome == "error":
            start, count = start or check, count + 1
        elif outcome in CONFIRMING and start is not None:
            out += [PageEvent(start[0], "failing", start[2], failures=count, until=at),
                    PageEvent(at, "recovered", f"连续失败 {count} 次后恢复", failures=count)]
            start, count = None, 0
    if start is not None:
        out.append(PageEvent(start[0], "failing", start[2], failures=count))
    return out


def _merged(changes: list[PageEvent], streaks: list[PageEvent],
            check_times: list[datetime]) -> list[PageEvent]:
    """The change events and the streaks, a gone page's return told once: the check
    that ended its streak of 404s also wrote 页面已恢复, so that change carries the count
    and the streak's 恢复访问 of the same check is left out."""
    out = list(changes)
    for event in streaks:
        restored = None
        if event.kind == "recovered":
            later = [t for t in check_times if t > event.at]
            end = later[0] if later else datetime.max.replace(tzinfo=UTC)
            restored = next((i for i, c in enumerate(out) if c.kind == "restored"
                             and event.at <= c.at < end), None)
        if restored is None:
            out.append(event)
        else:
            out[restored] = replace(out[restored], failures=event.failures)
    return out


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def source_row(s: Connection, name_or_url: str) -> Row[Any]:
    src = s.execute(select(tables.sources).where(_S.name == name_or_url)).first()
    src = src or s.execute(select(tables.sources).where(  # as Store.resolve_page
        _S.url.in_({name_or_url, without_session(name_or_url)}))).first()
    if src is None:
        raise KeyError(f"no source {name_or_url!r}")
    return src


def tagged_ids(s: Connection, tag: str) -> list[int]:
    # Tags are a JSON list: filtered here, portable across SQLite and PostgreSQL, and
    # cheap (one row per source).
    return [sid or 0 for sid, tags in s.execute(select(_S.id, _S.tags))
            if tag in tags]


def _main_pages(s: Connection, source_ids: list[int]) -> dict[int, Row[Any]]:
    """The main page of each source: its first ``kind == "page"`` row, else its first."""
    out: dict[int, Row[Any]] = {}
    rows = s.execute(select(tables.pages).where(_P.source_id.in_(source_ids))
                     .order_by(_P.kind != "page", _P.id)).all()
    for p in rows:
        out.setdefault(p.source_id, p)
    return out


def _last_checks(s: Connection, page_ids: list[int]) -> dict[int, Row[Any]]:
    newest = (select(func.max(_CK.id)).where(_CK.page_id.in_(page_ids))
              .group_by(_CK.page_id))
    rows = s.execute(select(tables.checks).where(_CK.id.in_(newest))).all()
    return {c.page_id: c for c in rows}


def _last_change_kinds(s: Connection, page_ids: list[int]) -> dict[int, str]:
    newest = (select(func.max(_CH.id)).where(_CH.page_id.in_(page_ids))
              .group_by(_CH.page_id))
    rows = s.execute(select(_CH.page_id, _CH.kind).where(_CH.id.in_(newest))).all()
    return dict(rows)


def _version_counts(s: Connection, page_ids: list[int]) -> dict[int, int]:
    rows = s.execute(select(_V.page_id, func.count()).where(_V.page_id.in_(page_ids))
                     .group_by(_V.page_id)).all()
    return {pid: int(n) for pid, n in rows}


def _titles(s: Connection, version_ids: Sequence[int | None]) -> dict[int, str]:
    ids = [v for v in version_ids if v]
    if not ids:
        return {}
    return {vid or 0: t for vid, t in s.execute(select(_V.id, _V.title)
                                                .where(_V.id.in_(ids)))}


def _change_kinds(s: Connection, version_ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for vid, kind in s.execute(select(_CH.new_version_id, _CH.kind)
                               .where(_CH.new_version_id.in_(version_ids))
                               .order_by(_CH.id)):
        out.setdefault(vid or 0, []).append(kind)
    return out


def _previous_hashes(s: Connection, versions: Sequence[Row[Any]]) -> dict[int, str]:
    """The record hash each version chains to: its page's previous version's."""
    pages = {v.page_id for v in versions}
    numbers = {v.number - 1 for v in versions if v.number > 1}
    if not numbers:
        return {}
    found = {(pid, n): h for pid, n, h in s.execute(
        select(_V.page_id, _V.number, _V.record_hash)
        .where(_V.page_id.in_(pages), _V.number.in_(numbers)))}
    return {v.id or 0: found.get((v.page_id, v.number - 1), "") for v in versions}


def _version_ids(s: Connection, source: str | None, since: datetime | None,
                 until: datetime | None) -> list[int]:
    stmt = select(_V.id).join(tables.pages, _P.id == _V.page_id)
    if source:
        stmt = stmt.where(_P.source_id == source_row(s, source).id)
    if since:
        stmt = stmt.where(_V.fetched_at >= since)
    if until:
        stmt = stmt.where(_V.fetched_at <= until)
    return [vid or 0 for vid in s.execute(stmt.order_by(_V.fetched_at, _V.id)).scalars()]


def _summary(src: Row[Any], page: Row[Any] | None, checks: dict[int, Row[Any]],
             kinds: dict[int, str], counts: dict[int, int],
             titles: dict[int, str]) -> SourceSummary:
    pid = page.id if page else None
    check = checks.get(pid or 0)
    title = titles.get(page.last_version_id or 0, "") if page else ""
    return SourceSummary(
        name=src.name, url=page.url if page else src.url, tags=list(src.tags),
        active=src.active, page_id=pid, title=title or str(src.config.get("title") or ""),
        status=page.status if page else "new", versions=counts.get(pid or 0, 0),
        failure_streak=page.failure_streak if page else 0,
        last_check_at=check.started_at if check else None,
        last_outcome=check.outcome if check else None,
        last_error=check.error if check else None,
        last_change_at=page.last_change_at if page else None,
        last_change_kind=kinds.get(pid or 0), paused=src.config.get("enabled") is False)


def _newest_first(p: Row[Any]) -> tuple[tuple[int, ...], int]:
    date = sortable_date(p.list_date or "") or ()
    return tuple(-x for x in date), -(p.id or 0)


def _listed_pages(s: Connection, src: Row[Any], rows: Sequence[Row[Any]]) -> list[PageInfo]:
    """``PageInfo`` of a source's pages.  A document another listing found first (a
    ``reference`` row) stands as that document (its page, versions and status: one
    history) with this listing's title, date and listed state; every document names the
    listings that list it."""
    owners = {p.id: p for p in s.execute(select(tables.pages).where(_P.id.in_(
        [r.same_as for r in rows if r.kind == "reference"])))}
    shown = [(owners.get(r.same_as, r) if r.kind == "reference" else r, r) for r in rows]
    counts = _version_counts(s, [p.id or 0 for p, _ in shown])
    names = _listings(s, [p for p, _ in shown if p.kind == "document"])
    return [replace(_page_info(p, src, counts), title=r.list_title or "",
                    list_date=r.list_date or "", listed=r.listed,
                    unlisted_at=r.unlisted_at, listings=names.get(p.id or 0, []))
            if r is not p else _page_info(p, src, counts, names.get(p.id or 0, []))
            for p, r in shown]


def _listings(s: Connection, docs: Sequence[Row[Any]]) -> dict[int, list[str]]:
    """Document page id → the names of the listings that list it, its own first.  A
    listing removed from the file is not named (it lists nothing any more), though the
    page's own listing is, removed or not (its history is shown under that name)."""
    if not docs:
        return {}
    ids = [p.id or 0 for p in docs]
    rows = s.execute(select(_P.id, _P.same_as, _S.name)
                     .join(tables.sources, _S.id == _P.source_id)
                     .where(or_(_P.id.in_(ids), and_(_P.same_as.in_(ids),
                                                     _S.active.is_(True))))
                     .order_by(_P.same_as.is_not(None), _P.id))
    out: dict[int, list[str]] = {}
    for page_id, same_as, name in rows:
        names = out.setdefault(same_as or page_id or 0, [])
        if name not in names:
            names.append(name)
    return out


def _page_info(p: Row[Any], src: Row[Any], counts: dict[int, int],
               listings: list[str] | None = None) -> PageInfo:
    return PageInfo(id=p.id or 0, source=src.name, tags=list(src.tags), url=p.url,
                    kind=p.kind, status=p.status, versions=counts.get(p.id or 0, 0),
                    last_version_id=p.last_version_id, title=p.list_title or "",
                    list_date=p.list_date or "", listed=p.listed,
                    last_check_at=p.last_check_at, unlisted_at=p.unlisted_at,
                    active=src.active, listings=listings or [])


def _change_entries(s: Connection, rows: Sequence[Row[Any]]) -> list[ChangeEntry]:
    """The changes (rows of ``changes``) with their pages, sources and titles."""
    pages, srcs = _pages_and_sources(s, {c.page_id for c in rows})
    titles = _titles(s, [c.new_version_id or c.old_version_id for c in rows])
    return [_change_entry(c, pages[c.page_id], srcs[pages[c.page_id].source_id], titles)
            for c in rows]


def _pages_and_sources(s: Connection, page_ids: set[int]
                       ) -> tuple[dict[int, Row[Any]], dict[int, Row[Any]]]:
    """The pages by id, and their sources by id."""
    pages = {p.id: p for p in s.execute(select(tables.pages).where(_P.id.in_(page_ids)))}
    ids = {p.source_id for p in pages.values()}
    return pages, {r.id: r for r in s.execute(select(tables.sources).where(_S.id.in_(ids)))}


def _change_entry(c: Row[Any], p: Row[Any], src: Row[Any], titles: dict[int, str]) -> ChangeEntry:
    title = titles.get(c.new_version_id or c.old_version_id or 0, "")
    return ChangeEntry(id=c.id or 0, kind=c.kind, summary=c.summary, stats=dict(c.stats),
                       created_at=c.created_at, source=src.name, tags=list(src.tags),
                       page_id=p.id or 0, page_url=p.url, title=title,
                       old_version_id=c.old_version_id, new_version_id=c.new_version_id)


def _archived(v: Row[Any], page: Row[Any], src: Row[Any], text: str, raw: bytes,
              kinds: list[str]) -> ArchivedVersion:
    return ArchivedVersion(
        id=v.id or 0, source=src.name, page_id=page.id or 0, page_url=page.url,
        url=v.url or page.url, fetched_at=v.fetched_at, title=v.title, text=text,
        metadata=dict(v.meta), content_hash=v.content_hash, http_status=v.http_status,
        headers=dict(v.headers), charset=v.charset, raw=raw, raw_sha256=v.raw_sha256,
        change_kinds=kinds, attachments=list(v.attachments or []), number=v.number,
        text_sha256=v.text_sha256, record_hash=v.record_hash)


def _cause(summary: str, details: object) -> str | None:
    """What made a change's page read differently (``Archive.reread_cause``), or None."""
    if summary.startswith(SETTINGS_ONLY):
        return "settings"
    if summary.startswith(UPGRADE_ONLY):
        return "rules"
    return reread_cause(details)
