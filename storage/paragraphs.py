"""Version text as shared paragraphs: each distinct line of a page stored (and indexed)
once, a version a compact list of paragraph ids.

A version's text is its lines (``text.split("\\n")``, so ``"\\n".join`` gives it back
byte for byte, blank lines and all).  Each distinct line of a page is a ``paragraphs``
row, keyed by ``(page_id, digest)`` where the digest is the first 16 bytes of SHA-256
over the field and the line; the version keeps the ordered ids in ``versions.lines``.
The title and each metadata value (索引号, 文号, 发布机构…) are paragraphs too, with
``field`` set to ``"title"`` or the metadata label, listed in ``versions.fields``: so
they are searchable, and a hit can name the field.  ``versions.title`` and
``versions.meta`` keep their plain copies for reading.

Per page rather than global: a page's lines are looked up among its own rows only (an
index range, not a global hash table), a page's storage stays its own, and a search hit
on a paragraph names its page directly.  CMS chrome shared between pages is mostly
removed by extraction before the text is stored, so a global table would save little.

Encoding of an id list (``encode``/``decode``): runs of consecutive ids, each as two
unsigned LEB128 varints, the zigzag-coded gap from the end of the previous run and the
run length minus one.  A first version's new lines get consecutive ids, so a version
that changed one line costs about ten bytes of ids, not a 4-byte id per line.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from sqlalchemy import Connection, bindparam, select
from sqlalchemy import text as sql

from monitor.errors import StorageError
from storage import compiled
from storage.fold import fold
from storage.tables import paragraphs as _table

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

BODY = ""  # the field of a line of the body text
TITLE = "title"
CHUNK = 500  # ids per IN (…) query


def digest(field: str, text: str) -> bytes:
    return hashlib.sha256(f"{field}\x00{text}".encode()).digest()[:16]


# --- id lists --------------------------------------------------------------------------

def _varint(n: int, out: bytearray) -> None:
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def encode(ids: Sequence[int]) -> bytes:
    out = bytearray()
    prev_end, i = 0, 0
    while i < len(ids):
        start, j = ids[i], i
        while j + 1 < len(ids) and ids[j + 1] == ids[j] + 1:
            j += 1
        gap = start - prev_end
        _varint(gap * 2 if gap >= 0 else -gap * 2 - 1, out)
        _varint(j - i, out)
        prev_end, i = ids[j], j + 1
    return bytes(out)


def runs(blob: bytes | None) -> list[tuple[int, int]]:
    """The id list as ``(first, last)`` runs, without expanding it.  The last few
    lists decoded are kept (``_runs_kept``): a changed check decodes its last version's
    line list for the text (``text_of``), then again with its field list for the spans
    it closes and the fields it may keep (``Store._prepare``)."""
    if blob is not None and not isinstance(blob, bytes | bytearray | memoryview):
        raise StorageError("a stored paragraph list is not bytes",
                           detail=f"{type(blob).__name__} {str(blob)[:40]!r}")
    if type(blob) is bytes:
        return list(_runs_kept(blob))
    return _runs(blob)


@functools.lru_cache(maxsize=64)
def _runs_kept(blob: bytes) -> tuple[tuple[int, int], ...]:
    return tuple(_runs(blob))


def _runs(blob: bytes | bytearray | memoryview | None) -> list[tuple[int, int]]:
    nums, n, shift = [], 0, 0
    for byte in blob or b"":
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            nums.append(n)
            n, shift = 0, 0
    if len(nums) % 2:
        raise StorageError("a stored paragraph list is damaged", detail=repr(blob[:40]))
    out, prev_end = [], 0
    for k in range(0, len(nums), 2):
        z, run = nums[k], nums[k + 1]
        start = prev_end + (z // 2 if z % 2 == 0 else -(z + 1) // 2)
        prev_end = start + run
        out.append((start, prev_end))
    return out


def decode(blob: bytes | None) -> list[int]:
    ids: list[int] = []
    for start, end in runs(blob):
        ids.extend(range(start, end + 1))
    return ids


# --- writing ---------------------------------------------------------------------------

def lines_of(text: str) -> list[tuple[str, str]]:
    return [(BODY, line) for line in text.split("\n")]


def fields_of(title: str, meta: dict[str, str]) -> list[tuple[str, str]]:
    return [(TITLE, title), *((str(k), str(v)) for k, v in meta.items())]


def _core(s: Session | Connection) -> Connection:
    """The session's connection: these are column statements, and the ORM's own
    execution path would cost more than the statement (a changed check runs several)."""
    return s if isinstance(s, Connection) else s.connection()


# Built once: building a statement costs more than running it on a small table.
_P = _table.c
_KNOWN = select(_P.digest, _P.id).where(
    _P.page_id == bindparam("page_id"), _P.digest.in_(bindparam("keys", expanding=True)))
_TEXTS = select(_P.id, _P.field, _P.text).where(_P.id.in_(bindparam("ids", expanding=True)))


def store(s: Session | Connection, page_id: int, items: Sequence[tuple[str, str]],
          known: dict[str, int] | None = None, *, empty: bool = False) -> list[int]:
    """The ids of ``items`` (field, text) on the page, inserting the ones it lacks (in
    order, so a new version's new lines get consecutive ids).  ``known``: body lines
    of the page already known, text → id (``LinesRead``: those of its last version, as
    the diff read them): found there, a line needs no digest and no lookup.  ``empty``:
    the page has no paragraphs yet (no version: they are only ever written with one),
    so none is looked up (were it wrong, the insert would fail on the unique key).

    ``plan`` then ``write``: ``Store`` makes the plan before the writers' turn and
    writes it under the lock while the page is as the plan read it."""
    c = _core(s)
    return write(c, page_id, plan(c, page_id, items, known, empty=empty))


@dataclass(frozen=True)
class Plan:
    """What ``store`` reads and computes before it writes (``plan``): the items, the
    known lines' ids, the others' digests and the ids the page has for them, and the
    ones it lacks, in order, with their folded text and bigram words (SQLite's index).
    Good while the page's paragraphs are the ones read: a paragraph row never changes
    and is only ever added with a version of its page, under the page's lock."""

    items: tuple[tuple[str, str], ...]
    known: dict[str, int] | None
    keys: list[bytes]  # the digests of the items not known, in order
    found: dict[bytes, int]
    new: dict[bytes, tuple[str, str]]
    folded: list[str] | None  # SQLite: of ``new``, in order (``index``)
    grams: list[str] | None  # SQLite with ``paragraphs_bigrams``: of ``folded``


def plan(c: Connection, page_id: int, items: Sequence[tuple[str, str]],
         known: dict[str, int] | None = None, *, empty: bool = False) -> Plan:
    """``store``'s reads and computations (see ``Plan``); it writes nothing."""
    rest = ([item for item in items if item[0] != BODY or item[1] not in known] if known
            else list(items))
    keys = [digest(f, t) for f, t in rest]
    # ``empty`` spares the look-up of a page's first lines (none known: no version yet)
    found = {} if (empty and not known) or not keys else _known(c, page_id, set(keys))
    new: dict[bytes, tuple[str, str]] = {}
    for key, item in zip(keys, rest, strict=True):
        if key not in found and key not in new:
            new[key] = item
    folded = grams = None
    if new and c.dialect.name == "sqlite":
        folded = [fold(t) for _, t in new.values()]
        grams = [bigrams(f) for f in folded] if _has_bigrams(c) else None
    return Plan(tuple(items), known or None, keys, found, new, folded, grams)


def write(c: Connection, page_id: int, p: Plan) -> list[int]:
    """The ids of ``p.items``, inserting (and indexing) the paragraphs the page lacked
    when the plan was made."""
    found = p.found
    if p.new:
        found = {**found, **_insert(c, page_id, p.new)}
        _index(c, [found[key] for key in p.new], p.folded, p.grams)
    if p.known is None:
        return [found[k] for k in p.keys]
    known, ids = p.known, iter(found[k] for k in p.keys)
    return [known[t] if f == BODY and t in known else next(ids) for f, t in p.items]


class LinesRead:
    """The body lines of the last few versions whose text was read (``text_of``), by
    version id: text → paragraph id.  A changed check reads its page's last version
    for the diff, then stores the new version: most of its lines are those, and their
    ids are known without a digest or a lookup (``store(known=…)``).  A paragraph row
    never changes, so the ids stay right while the version is its page's last one
    (``Store`` asks for the page's last version under the page's lock); an entry is
    taken once, and only ``SIZE`` are kept (the checks in flight)."""

    SIZE = 32

    def __init__(self) -> None:
        self._by_version: OrderedDict[int, dict[str, int]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, version_id: int, lines: dict[str, int]) -> None:
        with self._lock:
            self._by_version[version_id] = lines
            self._by_version.move_to_end(version_id)
            while len(self._by_version) > self.SIZE:
                self._by_version.popitem(last=False)

    def take(self, version_id: int | None) -> dict[str, int] | None:
        if version_id is None:
            return None
        with self._lock:
            return self._by_version.pop(version_id, None)


# SQLite: plain multi-row statements through the driver.  SQLAlchemy inserts rows one
# statement each when their RETURNING order is asked for (``sort_by_parameter_order``)
# and builds a parameter dict per row of an executemany: that was most of the cost of
# storing a first version's ~150 paragraphs.  One ``INSERT … VALUES (…), (…)`` gives
# its rows rowids in the order of its VALUES (each the largest so far plus one), so the
# ids are the same consecutive ones; RETURNING's order does not matter, rows are
# matched by digest.
_SQLITE_ROWS = 200  # rows per INSERT: 800 parameters, under SQLite's old limit of 999


def _insert(c: Connection, page_id: int, new: dict[bytes, tuple[str, str]]
            ) -> dict[bytes, int]:
    """Insert the new paragraphs in order; their ids by digest."""
    if c.dialect.name != "sqlite":
        rows = c.execute(_PG_INSERT, {"page_id": page_id, "digests": list(new),
                                      "fields": [field for field, _ in new.values()],
                                      "texts": [text for _, text in new.values()]})
        return {bytes(d): i for i, d in rows}
    out: dict[bytes, int] = {}
    items = list(new.items())
    for i in range(0, len(items), _SQLITE_ROWS):
        chunk = items[i:i + _SQLITE_ROWS]
        params = [v for key, (field, text) in chunk for v in (page_id, key, field, text)]
        out.update({d: pid for pid, d in compiled.rows(c, _sqlite_insert(len(chunk)),
                                                         tuple(params))})
    return out


# PostgreSQL: one statement of three arrays, the same text whatever the number of rows
# (an ``executemany`` or a ``VALUES`` list of ~150 rows was parsed anew by the driver
# for each first version); rows are inserted in the arrays' order.
_PG_INSERT = sql(
    "INSERT INTO paragraphs (page_id, digest, field, text)"
    " SELECT :page_id, d, f, t FROM unnest(CAST(:digests AS BYTEA[]),"
    " CAST(:fields AS TEXT[]), CAST(:texts AS TEXT[])) WITH ORDINALITY AS u(d, f, t, n)"
    " ORDER BY n RETURNING id, digest")


def _sqlite_insert(n: int) -> str:
    return ("INSERT INTO paragraphs (page_id, digest, field, text) VALUES "
            + ", ".join(["(?, ?, ?, ?)"] * n) + " RETURNING id, digest")


def index(s: Session | Connection, rows: Sequence[tuple[int, str]]) -> None:
    """SQLite: add new paragraphs' folded text to ``paragraphs_fts`` (contentless FTS5
    trigram, migration 0006; fed from here, not by a trigger, since the folding is
    Python) and their two-character pieces to ``paragraphs_bigrams`` (0010, once it
    exists: 0006 converts through here before).  PostgreSQL folds into its generated
    column ``folded`` by itself.

    FTS5 keeps what it is given in memory and writes it out as a new segment (then
    merges segments as they pile up, ``automerge``) at the next statement that opens a
    statement journal (its ``xSavepoint``: a multi-row insert, an insert checked by a
    foreign key…) or at the commit: that work, ~2–3 ms of a first version's store,
    lands on whatever statement comes next (the "first insert" cost).  Indexing a
    version's lines and fields in one call makes one segment a transaction, not two,
    and ~0.35 ms less work, but more index bytes per changed version after 100 rounds
    (``bench.bench_storage --seed 3``: 1,974 against 1,589 B): not done.

    Merge policy: FTS5's own defaults (``automerge`` 4, ``crisismerge`` 16), decided
    with numbers (bench/README.md, "The search index's merge policy"): a changed
    check's index work in the steady state is a small segment per table, ~1.25 M
    instructions (~0.13–0.15 ms) a commit whatever the policy (automerge 0, 4, 8, 16
    within 3%); the 4.35 M measured inside the writers' turn were the merging of the
    first versions' segments just written.  A larger ``automerge`` merges less in all
    (a first version's index work 7.4–8.0 → 5.9 ms with 16, 1,000 pages) but leaves
    that merging to the next changed checks (0.15 → 0.30 ms each, a round) and up to
    15 segments a level for every search; ``optimize`` rewrites the whole index; and
    leaving the merging to a quiet moment (no merge in a commit) makes each commit
    dearer, not cheaper (0.17 against 0.13 ms: every flush rewrites the list of
    segments, which grows) and a search's index look-up twice as slow.  None is worth
    a migration of the tables' settings."""
    c = _core(s)
    if not rows or c.dialect.name != "sqlite":
        return
    folded = [fold(t) for _, t in rows]
    _index(c, [pid for pid, _ in rows], folded,
           [bigrams(f) for f in folded] if _has_bigrams(c) else None)


def _index(c: Connection, ids: Sequence[int], folded: Sequence[str] | None,
           grams: Sequence[str] | None) -> None:
    """``index`` of paragraphs whose folded text (and bigram words, None: no such
    table) is made already (``plan``); ``folded`` None: not SQLite."""
    if folded is None:
        return
    compiled.run_many(c, "INSERT INTO paragraphs_fts(rowid, folded) VALUES (?, ?)",
                      list(zip(ids, folded, strict=True)))
    if grams is not None:
        compiled.run_many(c, "INSERT INTO paragraphs_bigrams(rowid, grams) VALUES (?, ?)",
                          list(zip(ids, grams, strict=True)))


def bigrams(folded: str) -> str:
    """The two-character pieces of a folded text as ASCII words (each character's code
    point in hex, ``x`` between: 算力 → ``7b97x529b``), for an FTS5 table whose
    tokenizer splits on spaces: the trigram index cannot answer a two-character term
    (``storage/search.py``).  Each distinct word once, in the order of its first pair."""
    hexes = map(_HEX.__getitem__, folded)  # C loops only: map, pairwise, join, fromkeys
    return " ".join(dict.fromkeys(map("x".join, pairwise(hexes))))


class _Hexes(dict[str, str]):
    """A character's code point in hex, remembered (at most one entry a distinct
    character): formatting two per pair of every new paragraph was ~16 ms of a first
    version's 40 KB page (half of its store stage).  Mapping every character to its hex
    and joining neighbours, all in C, is 14% faster than formatting the distinct pairs
    in a Python loop (2.3 against 2.7 ms a bench page's 16,600 characters)."""

    def __missing__(self, ch: str) -> str:
        out = self[ch] = f"{ord(ch):x}"
        return out


_HEX = _Hexes()


def _has_bigrams(c: Connection) -> bool:
    if not c.info.get("bigrams"):
        c.info["bigrams"] = c.execute(sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'paragraphs_bigrams'")).first() is not None
    return bool(c.info["bigrams"])


def _known(c: Connection, page_id: int, keys: set[bytes]) -> dict[bytes, int]:
    out: dict[bytes, int] = {}
    wanted = list(keys)
    sqlite = c.dialect.name == "sqlite"
    for i in range(0, len(wanted), CHUNK):
        part = wanted[i:i + CHUNK]
        if sqlite:  # the driver's own statement: an expanding IN costs more to build
            rows = compiled.rows(
                c, "SELECT digest, id FROM paragraphs WHERE page_id = ? AND digest IN ("
                + ", ".join("?" * len(part)) + ")", (page_id, *part))
        else:
            rows = c.execute(_KNOWN, {"page_id": page_id, "keys": part})
        out.update({d: pid for d, pid in rows})
    return out


# --- reading ---------------------------------------------------------------------------

def texts(s: Session | Connection, ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """``id → (field, text)`` of the paragraphs asked for."""
    c, wanted = _core(s), sorted(set(ids))
    out: dict[int, tuple[str, str]] = {}
    sqlite = c.dialect.name == "sqlite"
    for i in range(0, len(wanted), CHUNK):
        part = wanted[i:i + CHUNK]
        rows = compiled.rows(  # as in _known
            c, "SELECT id, field, text FROM paragraphs WHERE id IN ("
            + ", ".join("?" * len(part)) + ")", tuple(part)
        ) if sqlite else c.execute(_TEXTS, {"ids": part})
        out.update({pid: (field, text) for pid, field, text in rows})
    return out


RUNS = 50  # a version's id list in at most this many runs is read by range


def _rows_of_runs(c: Connection, spans: Sequence[tuple[int, int]]) -> list[tuple[int, str, str]]:
    """The ``(id, field, text)`` rows of the ids of these runs, each run an id range
    (``BETWEEN``): a version's lines are a few runs, and two bounds a run cost less to
    bind and to look up than an ``IN`` list of every id."""
    if not spans:
        return []
    if c.dialect.name == "sqlite":
        return compiled.rows(
            c, "SELECT id, field, text FROM paragraphs WHERE "
            + " OR ".join(["id BETWEEN ? AND ?"] * len(spans)),
            tuple(bound for span in spans for bound in span))
    return [tuple(row) for row in c.execute(sql(  # type: ignore[misc]
        "SELECT id, field, text FROM paragraphs WHERE " + " OR ".join(
            f"id BETWEEN :a{k} AND :b{k}" for k in range(len(spans)))),
        {f"{ab}{k}": bound for k, span in enumerate(spans)
         for ab, bound in zip("ab", span, strict=True)})]


def join(ids: Sequence[int], found: dict[int, tuple[str, str]], version_id: int) -> str:
    try:
        return "\n".join(found[i][1] for i in ids)
    except KeyError as exc:
        raise StorageError(f"version {version_id}: paragraph {exc.args[0]} is missing") from None
    except TypeError:  # SQLite keeps whatever is written: bytes where text should be
        bad = next(i for i in ids if not isinstance(found[i][1], str))
        raise StorageError(f"version {version_id}: paragraph {bad} is not text",
                           detail=f"paragraph {bad}: {found[bad][1]!r:.60}") from None


def text_of(s: Session | Connection, version_id: int, lines: bytes | None,
            remember: LinesRead | None = None) -> str:
    """A version's text from its id list (``lines``).  ``remember``: its body lines'
    ids are kept there, text → id (``LinesRead``), taken from the rows read (a page has
    one paragraph of a field and text, so the rows of the version's ids are the map)."""
    spans = runs(lines)
    ids = [i for first, last in spans for i in range(first, last + 1)]
    if len(spans) <= RUNS:
        rows = _rows_of_runs(_core(s), spans)
    else:
        rows = [(pid, field, text) for pid, (field, text) in texts(s, ids).items()]
    text = _join_texts(ids, {pid: text for pid, _, text in rows}, version_id)
    if remember is not None:
        remember.put(version_id, {text: pid for pid, field, text in rows if field == BODY})
    return text


def _join_texts(ids: Sequence[int], text_by: dict[int, str], version_id: int) -> str:
    """``join`` of an id → text map."""
    try:
        return "\n".join(map(text_by.__getitem__, ids))
    except KeyError as exc:
        raise StorageError(f"version {version_id}: paragraph {exc.args[0]} is missing") from None
    except TypeError:  # SQLite keeps whatever is written: bytes where text should be
        bad = next(i for i in ids if not isinstance(text_by[i], str))
        raise StorageError(f"version {version_id}: paragraph {bad} is not text",
                           detail=f"paragraph {bad}: {text_by[bad]!r:.60}") from None


def texts_of(s: Session | Connection, versions: Sequence[tuple[int, bytes | None]]
             ) -> dict[int, str]:
    """The texts of several versions, reading each shared paragraph once."""
    lists = {vid: decode(blob) for vid, blob in versions}
    found = texts(s, (i for ids in lists.values() for i in ids))
    return {vid: join(ids, found, vid) for vid, ids in lists.items()}
