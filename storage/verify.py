"""Verifiable history: the hashes each version records, and ``verify`` that checks them.

Each version records, when it is written (``Store._add_version``):

* ``raw_sha256``: SHA-256 of the raw body exactly as fetched (transfer-decoded bytes);
* ``text_sha256``: SHA-256 of the extracted text, UTF-8;
* ``number``: its place in the page's history (1 = 第1版), in id order;
* ``record_hash``: SHA-256 of ``record_bytes``, a canonical JSON serialization (keys
  sorted, no spaces, UTF-8, ``ensure_ascii=False``) of ``format``, ``url``, ``version``
  (the number), ``fetched_at`` (UTC, ISO 8601 with microseconds), ``raw_sha256``,
  ``text_sha256``, ``meta`` (the extracted metadata) and ``previous`` (the record hash
  of the page's previous version, ``""`` for the first).  Format ``monitor-record-2``
  (``RECORD_FORMAT_2``, every version stored since) adds ``title`` and ``attachments``
  (each entry's ``name``, ``url`` and ``sha256``, page order); versions sealed before it
  keep ``monitor-record-1`` (``RECORD_FORMAT``), never re-sealed.  ``verify`` tells a
  row's format by recomputing: a hash matches under one format only, the format's name
  being in the hashed bytes (``record_scheme``).

So each record hash covers every earlier one of its page: a hash chain.  ``url`` is the
URL the version was fetched from (``versions.url``), not ``pages.url``, which follows a
page that moved or whose address the admin edited: a record never changes after it is
written.

``verify`` re-reads every stored body (decompressing delta chains) and text (through
``Store.texts``, however text is stored), recomputes the hashes and the chain, and
reports each version that no longer matches: a changed body or text, a changed hash,
time or metadata (the chain breaks there), a number missing from the sequence (a
deleted version), or a version that checks or changes name but that no longer exists.
A body or paragraph list that cannot be read at all (damaged bytes, or a column
overwritten with TEXT, which SQLite keeps as written) is such a version too: reported,
and the other versions still checked.  So is metadata that is no longer a JSON object, a
paragraph that is no longer text, and a row SQLite cannot hand back at all (a BLOB column
turned into non-UTF-8 TEXT): the body and metadata are read as stored bytes
(``CAST … AS BLOB``) and judged per row; if a batch still fails, its versions are read one
by one.  Messages are Chinese, the technical detail (hashes, the driver's words) after.
Attachment files are checked on their own: each stored file listed by a version checked
is decompressed and re-hashed against the SHA-256 it is stored under (once a run), and a
changed, unreadable or missing file is reported for every version listing it.  The
attachment list (names, URLs, the SHA-256 each entry names) and the title are part of
format-2 records only; ``content_hash``, headers and check times of none (README says so).
It reads a hundred pages at a time (four queries), so memory stays that many pages'.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import LargeBinary, Row, Text, bindparam, cast, select

from monitor.errors import StorageError
from storage import rawcodec, tables
from storage.instant import Instant, canonical_time  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from storage.repository import Store

RECORD_FORMAT = "monitor-record-1"  # versions sealed before format 2 (and migration 0007)
RECORD_FORMAT_2 = "monitor-record-2"  # + title and the attachment list: new versions


# The tables read, as Core (``storage.tables``): ``body_damage`` and the record hashes
# are used by ``monitor show``/``history``/``export``, which import no ORM.
_S, _P, _V, _F = tables.sources.c, tables.pages.c, tables.versions.c, tables.files.c
_CK, _CH = tables.checks.c, tables.changes.c


# --- the hashes ----------------------------------------------------------------------


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def body_damage(raw: bytes, recorded: str, *, number: int, version_id: int) -> str | None:
    """Why a version's body as read is not the one recorded (Chinese first, the hashes
    after), or ``None`` when it is: said by everything that hands a body out (the API,
    ``show --raw``, ``export``), which never passes damaged bytes off as the record."""
    now = sha256_hex(raw)
    if now == recorded:
        return None
    return (f"第{number}版（version {version_id}）的原始内容与记录的 SHA-256 不符，"
            f"存储已被改动或损坏，运行 monitor verify 查看（记录 {recorded}，现为 {now}）")


def text_sha256(text: str) -> str:
    return sha256_hex(text.encode("utf-8"))


def record_bytes(*, url: str, number: int, fetched_at: datetime, raw_sha256: str,
                 text_sha256: str, meta: dict[str, Any], previous: str,
                 scheme: str = RECORD_FORMAT, title: str = "",
                 attachments: Sequence[Mapping[str, Any]] = ()) -> bytes:
    """The canonical serialization a record hash is taken of (see the module doc);
    ``scheme`` ``RECORD_FORMAT_2`` adds the title and the attachment list."""
    record: dict[str, Any] = {
        "format": scheme, "url": url, "version": number,
        "fetched_at": canonical_time(fetched_at), "raw_sha256": raw_sha256,
        "text_sha256": text_sha256, "meta": meta, "previous": previous}
    if scheme == RECORD_FORMAT_2:
        record["title"], record["attachments"] = title, record_attachments(attachments)
    return json.dumps(record, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")


def record_attachments(entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A version's attachment list as its record covers it: name, URL and the SHA-256
    of the file (``null``: none could be fetched), in page order."""
    return [{"name": str(e.get("name") or ""), "url": str(e.get("url") or ""),
             "sha256": e.get("sha256") or None} for e in entries]


def record_hash(**fields: Any) -> str:
    return sha256_hex(record_bytes(**fields))


def record_scheme(stored: str, *, title: str, attachments: Sequence[Mapping[str, Any]] | None,
                  **fields: Any) -> str | None:
    """The format a stored record hash was taken in, or ``None``: it matches neither.
    A hash matches under one format only (the format's name is in the hashed bytes),
    so a version sealed as 2 cannot pass as 1 with its title or attachments changed."""
    if attachments is not None and stored == record_hash(
            **fields, scheme=RECORD_FORMAT_2, title=title, attachments=attachments):
        return RECORD_FORMAT_2
    return RECORD_FORMAT if stored == record_hash(**fields) else None


_LAST_LINK = (select(_V.number, _V.record_hash)
              .where(_V.page_id == bindparam("page_id"))
              .order_by(_V.id.desc()).limit(1))


def next_link(s: Session, page_id: int) -> tuple[int, str]:
    """The number and the previous record hash of a page's next version (inside the
    ``Store``'s write session, under the page's lock)."""
    return link_after(s.connection().execute(_LAST_LINK, {"page_id": page_id}).first())


def link_after(newest: Any) -> tuple[int, str]:
    """``next_link`` from the page's newest version as read (a row with its ``number``
    and ``record_hash``; None: the page has none yet)."""
    return (int(newest.number) + 1, newest.record_hash) if newest is not None else (1, "")


# --- verify --------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing that no longer matches; ``what`` is said to people (Chinese)."""

    source: str
    page_id: int
    url: str
    version_id: int | None
    number: int | None
    what: str
    detail: str = ""


@dataclass
class Report:
    pages: int = 0
    versions: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Row:
    id: int
    number: int
    url: str
    fetched_at: datetime
    meta: dict[str, Any]
    bad_meta: str | None
    raw_sha256: str
    text_sha256: str
    record_hash: str
    raw_codec: str
    raw_base_id: int | None
    raw_body: bytes
    attachments: list[tuple[str, str]] = field(default_factory=list)  # (name, sha256)
    entries: list[dict[str, Any]] | None = None  # versions.attachments as stored
    title: str = ""
    unreadable: str | None = None  # the row itself could not be read: why


def verify(store: Store, names: Sequence[str] = (), *, batch: int = 100) -> Report:
    """Check every version of the sources named (all when none): see the module doc.

    Pages are read ``batch`` at a time: their versions (raw bytes included), texts and
    the version ids their checks and changes name, in four queries."""
    report = Report()
    pages = _pages(store, names)
    files = _Files(store)
    for start in range(0, len(pages), batch):
        chunk = pages[start:start + batch]
        rows, referenced, texts = _load(store, [p.id or 0 for _, p in chunk])
        files.load({sha for page in rows.values() for r in page for _, sha in r.attachments})
        for source, page in chunk:
            report.pages += 1
            _PageCheck(source, page, report, texts, files).run(
                rows.get(page.id or 0, []), referenced.get(page.id or 0, set()))
    return report


class _Files:
    """Each stored attachment file re-hashed once per run: ``sha256 → what is wrong``
    (``None``: its bytes still hash to the SHA-256 it is stored under)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.state: dict[str, str | None] = {}

    def load(self, shas: set[str], group: int = 16) -> None:
        wanted = sorted(shas - set(self.state))
        for i in range(0, len(wanted), group):  # a few files' bytes in memory at once
            part = wanted[i:i + group]
            with self.store.reading() as s:
                found = dict(s.execute(select(_F.sha256,
                                              cast(_F.body, LargeBinary))
                                       .where(_F.sha256.in_(part))).all())
            for sha in part:
                self.state[sha] = _file_problem(sha, found.get(sha))


def _file_problem(sha: str, body: bytes | None) -> str | None:
    if body is None:
        return "附件文件已不存在"
    try:
        now = sha256_hex(rawcodec.decompress(bytes(body)))
    except StorageError as exc:
        return f"附件文件无法读取（存储的字节已损坏） — {exc.detail or exc}"
    if now != sha:
        return f"附件文件的内容与记录的 SHA-256 不符 — 记录 {sha}，现为 {now}"
    return None


def _pages(store: Store, names: Sequence[str]) -> list[tuple[str, Row[Any]]]:
    """The pages of the sources named, and the pages named by URL (as ``history`` and
    ``show`` accept a document's URL); all pages when nothing is named."""
    with store.reading() as s:
        sources = {r.id: r.name for r in s.execute(select(tables.sources))}
        wanted = set(names)
        urls = wanted - set(sources.values())
        by_url = {p.url: p for p in s.execute(select(tables.pages).where(_P.url.in_(urls)))}
        if unknown := sorted(urls - set(by_url)):
            raise KeyError(f"没有这个来源或页面 no source or page: {', '.join(unknown)}")
        stmt = select(tables.pages).order_by(_P.id)
        if wanted:
            ids = [sid for sid, name in sources.items() if name in wanted]
            stmt = stmt.where(_P.source_id.in_(ids)
                              | _P.id.in_([p.id for p in by_url.values()]))
        return [(sources.get(p.source_id, ""), p) for p in s.execute(stmt)]


def _load(store: Store, page_ids: list[int]
          ) -> tuple[dict[int, list[_Row]], dict[int, set[int]],
                     dict[int, str | StorageError]]:
    rows: dict[int, list[_Row]] = {}
    referenced: dict[int, set[int]] = {}
    for pid, row in _version_rows(store, page_ids):
        rows.setdefault(pid, []).append(row)
    with store.reading() as s:
        for pid, vid in s.execute(select(_CK.page_id, _CK.version_id).where(
                _CK.page_id.in_(page_ids), _CK.version_id.is_not(None))
                .distinct()):
            referenced.setdefault(pid, set()).add(int(vid or 0))
        for pid, old, new in s.execute(select(_CH.page_id, _CH.old_version_id,
                                              _CH.new_version_id)
                                       .where(_CH.page_id.in_(page_ids))):
            referenced.setdefault(pid, set()).update(int(v) for v in (old, new) if v)
        for pid, last in s.execute(select(_P.id, _P.last_version_id)
                                   .where(_P.id.in_(page_ids))):
            if last:
                referenced.setdefault(pid or 0, set()).add(int(last))
    ids = [r.id for page in rows.values() for r in page if r.unreadable is None]
    return rows, referenced, _texts(store, ids)


def _columns(store: Store) -> tuple[Any, ...]:
    """The version columns verify reads, the body and metadata as they are stored rather
    than as the model decodes them: SQLite keeps whatever was written (TEXT that is not
    UTF-8 in a BLOB column fails the driver's read of the whole result; ``'not json'``
    in a JSON column fails SQLAlchemy's), so both come as bytes and are judged per row."""
    sqlite = store.engine.dialect.name == "sqlite"
    return (_V.page_id, _V.id, _V.number, _V.url, _V.fetched_at,
            cast(_V.meta, LargeBinary if sqlite else Text), _V.raw_sha256,
            _V.text_sha256, _V.record_hash, _V.raw_codec,
            _V.raw_base_id, cast(_V.raw_body, LargeBinary),
            cast(_V.attachments, LargeBinary if sqlite else Text), _V.title)


def _version_rows(store: Store, page_ids: list[int]) -> list[tuple[int, _Row]]:
    """The pages' versions in id order; if the batch cannot be read (a damaged column
    SQLite hands back as undecodable text), each version on its own, a version whose row
    cannot be read at all kept as ``unreadable`` so it is named, not lost."""
    stmt = select(*_columns(store)).where(_V.page_id.in_(page_ids))
    try:
        with store.reading() as s:
            return [(pid, _row(*f)) for pid, *f in s.execute(stmt.order_by(_V.id))]
    except StorageError:
        pass
    out: list[tuple[int, _Row]] = []
    with store.reading() as s:
        keys = s.execute(select(_V.page_id, _V.id, _V.number)
                         .where(_V.page_id.in_(page_ids))
                         .order_by(_V.id)).all()
    for pid, vid, number in keys:
        try:
            with store.reading() as s:
                _, *f = s.execute(stmt.where(_V.id == vid)).one()
            out.append((pid, _row(*f)))
        except StorageError as exc:
            out.append((pid, _Row(vid or 0, number, "", datetime.min, {}, None, "", "", "",
                                  None, b"", unreadable=exc.detail or str(exc))))
    return out


def _row(vid: int, number: int, url: str, fetched_at: datetime, meta: bytes | str | None,
         raw_sha256: str, text_sha256: str, record: str, codec: str, base: int | None,
         body: bytes, attachments: bytes | str | None, title: str) -> _Row:
    entries = _entries(attachments)
    return _Row(vid, number, url, fetched_at, *_meta(meta), raw_sha256, text_sha256,
                record, codec, base, bytes(body),
                [(str(e.get("name") or e.get("url") or ""), str(e["sha256"]))
                 for e in entries or () if e.get("sha256")],
                entries=entries, title=title)


def _entries(stored: bytes | str | None) -> list[dict[str, Any]] | None:
    """A version's attachment list (``versions.attachments``), or ``None``: unreadable
    (then a format-2 record cannot match); none stored (NULL) is an empty list."""
    try:
        raw = stored.decode("utf-8") if isinstance(stored, bytes) else stored
        entries = json.loads(raw) if raw else []
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        return None
    return entries


def _meta(stored: bytes | str | None) -> tuple[dict[str, Any], str | None]:
    """The metadata as a dict, or why it is not one."""
    try:
        raw = stored.decode("utf-8") if isinstance(stored, bytes) else stored
        meta = json.loads(raw) if raw is not None else None
    except (UnicodeDecodeError, ValueError):
        return {}, f"not JSON: {stored!r:.60}"
    if not isinstance(meta, dict):
        return {}, f"not a JSON object: {raw!r:.60}"
    return meta, None


def _texts(store: Store, ids: list[int]) -> dict[int, str | StorageError]:
    """Each version's text, or why it cannot be read: all at once, else (one damaged
    paragraph list fails the whole read) one by one, so the others are still checked."""
    try:
        return dict(store.texts(ids))
    except StorageError:
        pass
    out: dict[int, str | StorageError] = {}
    for vid in ids:
        try:
            out.update(store.texts([vid]))
        except StorageError as exc:
            out[vid] = exc
    return out


class _PageCheck:
    def __init__(self, source: str, page: Row[Any], report: Report,
                 texts: dict[int, str | StorageError], files: _Files) -> None:
        self.source, self.page, self.report, self.texts = source, page, report, texts
        self.files = files
        self.raws: dict[int, bytes] = {}
        self.bad: dict[int, int] = {}  # id → number of versions whose body did not match

    def problem(self, row: _Row | None, what: str, detail: str = "", *,
                vid: int | None = None, number: int | None = None) -> None:
        self.report.problems.append(Problem(
            self.source, self.page.id or 0, self.page.url,
            row.id if row else vid, row.number if row else number, what, detail))

    def run(self, rows: list[_Row], referenced: set[int]) -> None:
        self.report.versions += len(rows)
        present = {r.id for r in rows}
        for vid in sorted(referenced - present):
            self.problem(None, "版本已不存在，但检查或变化记录引用它", f"版本 id {vid}", vid=vid)
        previous: str | None = ""
        expected_number = 1
        for row in rows:
            for missing in range(expected_number, row.number):
                self.problem(None, f"第{missing}版缺失（已被删除）",
                             f"版本号从 {expected_number - 1} 跳到 {row.number}",
                             number=missing)
            expected_number = max(expected_number, row.number + 1)
            if row.unreadable is not None:
                self.bad[row.id] = row.number
                self.problem(row, "此版本的记录无法读取（存储的字段已损坏）", row.unreadable)
                previous = None  # its record hash is unknown: the next link is unchecked
                continue
            self._body(row)
            self._text(row)
            self._files(row)
            if row.bad_meta is not None:
                self.problem(row, "元数据已损坏（存储的不是 JSON 对象），记录哈希无法重算",
                             row.bad_meta)
            elif previous is not None:
                self._chain(row, previous)
            previous = row.record_hash

    def _body(self, row: _Row) -> None:
        if not isinstance(row.raw_body, bytes | bytearray | memoryview):
            self._bad_body(row, "原始内容无法读取：存储的不是字节（已被改写为文本）",
                           f"{type(row.raw_body).__name__} {str(row.raw_body)[:40]!r}")
            return
        try:
            raw = self._raw(row)
        except StorageError as exc:
            self._bad_body(row, "原始内容无法读取（存储的字节已损坏或其差分基础缺失）",
                           exc.detail or str(exc))
            return
        self.raws[row.id] = raw
        if sha256_hex(raw) != row.raw_sha256:
            self._bad_body(row, "原始内容与记录的 SHA-256 不符",
                           f"记录 {row.raw_sha256}，现为 {sha256_hex(raw)}")

    def _bad_body(self, row: _Row, what: str, detail: str) -> None:
        """A body stored as a delta decodes only against its base's true bytes: when the
        base is what failed, say so rather than blame this version's own bytes."""
        if row.raw_base_id in self.bad:
            what = f"原始内容无法还原：它的差分基础第{self.bad[row.raw_base_id]}版已不符"
        elif row.raw_base_id and row.raw_codec != "zstd" and row.raw_base_id not in self.raws:
            what = f"原始内容无法还原：它的差分基础（version {row.raw_base_id}）已不存在"
        self.bad[row.id] = row.number
        self.problem(row, what, detail)

    def _raw(self, row: _Row) -> bytes:
        if row.raw_codec == "zstd" or row.raw_base_id is None:
            return rawcodec.decompress(row.raw_body)
        base = self.raws.get(row.raw_base_id)
        if base is None:
            raise StorageError(f"差分基础 version {row.raw_base_id} 缺失或无法读取")
        return rawcodec.decompress(row.raw_body, base)

    def _files(self, row: _Row) -> None:
        for name, sha in row.attachments:
            if problem := self.files.state.get(sha):
                what, _, detail = problem.partition(" — ")
                self.problem(row, f"{what}：附件「{name}」", f"sha256 {sha}; {detail}"
                             if detail else f"sha256 {sha}")

    def _text(self, row: _Row) -> None:
        text = self.texts.get(row.id, "")
        if isinstance(text, StorageError):
            self.problem(row, "正文无法读取（存储的段落列表已损坏）", text.detail or str(text))
            return
        if text_sha256(text) != row.text_sha256:
            self.problem(row, "正文与记录的 SHA-256 不符",
                         f"记录 {row.text_sha256}，现为 {text_sha256(text)}")

    def _chain(self, row: _Row, previous: str) -> None:
        fields = {"url": row.url, "number": row.number, "fetched_at": row.fetched_at,
                  "raw_sha256": row.raw_sha256, "text_sha256": row.text_sha256,
                  "meta": dict(row.meta), "previous": previous}
        if record_scheme(row.record_hash, title=row.title, attachments=row.entries,
                         **fields) is None:
            self.problem(row, "记录哈希链断开：此版本的记录或它之前的版本被改动或删除",
                         f"记录 {row.record_hash}，{_recomputed(row, fields)}")


def _recomputed(row: _Row, fields: dict[str, Any]) -> str:
    """A broken record hash recomputed in each format it could have been sealed in (a
    broken one says neither; versions stored since format 2 are sealed in it), newest
    first: ``按格式 2 重算 …，按格式 1 重算 …``."""
    one = f"按格式 1（{RECORD_FORMAT}）重算 {record_hash(**fields)}"
    if row.entries is None:  # no attachment list to seal: format 1 only
        return one
    two = record_hash(**fields, scheme=RECORD_FORMAT_2, title=row.title,
                      attachments=row.entries)
    return f"按格式 2（{RECORD_FORMAT_2}）重算 {two}，{one}"
