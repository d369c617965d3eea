"""Every dash is one for a searcher (``storage/fold.py``, revision 3): 2018-2035 typed
with a keyboard's hyphen finds a plan printing 2018—2035年 (em dash), 2018——2035 (two)
or an attachment printing 2021～2025, and the other way round, the highlight on the
characters as printed; 至 is a word, not folded.  PostgreSQL's ``monitor_fold`` folds
exactly as ``fold``; a database indexed by the folding before (0017) is refolded by
migration 0018 (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import text

from monitor.config import SourceConfig
from monitor.types import AttachmentFile
from storage import Store
from storage.fold import DASHES, MAPPING, fold, folding
from storage.search import Search
from tests.test_archive_data import T0, Built, store_version
from tests.test_search_fold import _downgrade

EM = SourceConfig(name="plan-em", url="http://127.0.0.1:9/em.html")
HYPHEN = SourceConfig(name="plan-hyphen", url="http://127.0.0.1:9/hyphen.html")
TWO = SourceConfig(name="plan-two", url="http://127.0.0.1:9/two.html")
ZHI = SourceConfig(name="plan-zhi", url="http://127.0.0.1:9/zhi.html")
FILE = SourceConfig(name="file-tilde", url="http://127.0.0.1:9/file.html")
# each query: the pages it finds; every form of a range finds every other
QUERIES = {
    "2018-2035": ["plan-em"],
    "2018—2035年": ["plan-em"],
    "2018–2035": ["plan-em"],
    "2018－2035": ["plan-em"],
    "（2018-2035年）": ["plan-em"],
    "2021-2025": ["file-tilde", "plan-hyphen"],
    "2021—2025": ["file-tilde", "plan-hyphen"],
    "2021~2025": ["file-tilde", "plan-hyphen"],
    "2021〜2025年": ["file-tilde", "plan-hyphen"],
    "2030-2035": ["plan-two"],  # the text has 2030——2035: a run of dashes is one
    "2030—2035": ["plan-two"],
    "2021至2025": ["plan-zhi"],  # 至 is a word: found as typed only
}


def _build(store: Store) -> None:
    store.sync_sources([EM, HYPHEN, TWO, ZHI, FILE])
    built = Built()
    store_version(store, EM, "国土空间总体规划", "《某市国土空间总体规划（2018—2035年）》公布。",
                  T0, built)
    store_version(store, HYPHEN, "发展规划", "某省发展规划(2021-2025年)印发。", T0, built)
    store_version(store, TWO, "远景目标", "远景目标期限：2030——2035年。", T0, built)
    store_version(store, ZHI, "实施计划", "实施期限为2021至2025年。", T0, built)
    body = b"%PDF-1.4 plan"
    pdf = AttachmentFile(url="http://127.0.0.1:9/files/plan.pdf", name="方案.pdf",
                         sha256=hashlib.sha256(body).hexdigest(), fmt="pdf", size=len(body),
                         body=body, title="实施方案", text="某县实施方案（2021～2025年）\n全文。")
    store_version(store, FILE, "附件", "附件：实施方案", T0 + timedelta(days=1), built,
                  files=(pdf,))


def _found(store: Store) -> dict[str, list[str]]:
    return {q: sorted({h.source for h in Search(store).search(q, group=True).hits})
            for q in QUERIES}


def _marked(store: Store, query: str, source: str) -> list[str]:
    """The characters of the passage a search highlights."""
    [hit] = Search(store).search(query, source=source).hits
    p = hit.passage
    return [p.text[a:b] for a, b in p.spans]


def test_every_dash_and_range_mark_folds_to_one() -> None:
    for dash in DASHES:
        assert fold(f"2018{dash}2035年") == "2018-2035年", repr(dash)
    assert fold("2030——2035") == fold("2030 - — 2035") == "2030-2035"
    assert fold("2021至2025") == "2021至2025"
    assert fold(fold("a——b～～c")) == fold("a——b～～c") == "a-b-c"  # its own fold


def test_a_hyphen_finds_a_dash_and_the_other_way_round(store: Store) -> None:
    _build(store)
    assert _found(store) == QUERIES
    # the highlight is on the characters as printed, the dashes included
    assert _marked(store, "2018-2035", "plan-em") == ["2018—2035"]
    assert _marked(store, "2030-2035年", "plan-two") == ["2030——2035年"]
    assert _marked(store, "2021—2025", "plan-hyphen") == ["2021-2025"]
    [hit] = Search(store).search("2021-2025", source="file-tilde").hits
    assert hit.field == "attachment"
    assert "<mark>2021～2025</mark>" in hit.passage.html()
    [hit] = Search(store).search("国土空间总体规划（2018-2035年）", source="plan-em").hits
    # brackets at a term's ends are dropped: the closing one is not marked
    assert "<mark>国土空间总体规划（2018—2035年</mark>）" in hit.passage.html()


@pytest.mark.postgres
def test_postgres_monitor_fold_folds_as_fold(pg_url: str) -> None:
    """The index's ``monitor_fold`` and the Python ``fold`` that checks its candidates
    are one mapping: every folded character, alone and between others, runs of dashes
    with separators between, and a whole text."""
    samples = [*MAPPING, *(f"a{c}b" for c in MAPPING),
               *(f"8{a}{b}2" for a in DASHES for b in DASHES),
               "2018 — — 2035", "——", "-", "a--b", "《规划（2018——2035年）》——全文，ＡＢＣ～～１",
               "".join(MAPPING), "湘工信提案函〔2021〕204号"]
    store = Store(pg_url)
    try:
        with store.engine.connect() as c:
            got = c.execute(text("SELECT monitor_fold(s) FROM unnest(CAST(:s AS text[])) "
                                 "WITH ORDINALITY AS u(s, n) ORDER BY n"),
                            {"s": samples}).scalars().all()
    finally:
        store.close()
    assert got == [fold(s) for s in samples]


def test_migration_0018_refolds_what_is_stored(db_url: str) -> None:
    store = Store(db_url)
    _build(store)
    postgres = not store.is_sqlite
    _downgrade(store, "0017")  # indexed as the release before folded: dashes as printed
    old = Store(db_url, migrate=False)
    try:  # the new folding looks 2018-2035 up in an index that holds 2018—2035
        assert _found(old)["2018-2035"] == []
        assert _found(old)["2021-2025"] == ["plan-hyphen"]
        if postgres:  # its monitor_fold is revision 2's again
            with old.engine.connect() as c:
                assert c.execute(text("SELECT monitor_fold('2030——2035～')")).scalar() == \
                    folding(2)("2030——2035～") == "2030——2035~"
    finally:
        old.close()
    store = Store(db_url)  # migrates to head: 0018 folds the stored text again
    try:
        assert _found(store) == QUERIES
        built = Built()  # what is stored after the migration is found too
        store_version(store, ZHI, "实施计划", "实施期限为2021―2025年。",
                      T0 + timedelta(days=2), built)
        assert sorted({h.source for h in Search(store).search("2021-2025年", group=True).hits}) \
            == ["file-tilde", "plan-hyphen", "plan-zhi"]
    finally:
        store.close()
