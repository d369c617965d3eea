"""Grouped search answers from runs of version numbers per paragraph
(``storage/spans.py``, migration 0008): the newest matching version of each page and
the exact "also in N earlier versions", with a paragraph that leaves and comes back,
two terms in different versions, a date filter, and a database converted by 0008."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig

from storage import Store, db
from storage.models import ParagraphSpan
from storage.search import Search
from tests.test_archive_data import REPLY, T0, Built, store_version

# version: 1      2      3      4      5
# 头雁效应  yes    no     yes    yes    no
# 示范企业  no     yes    yes    no     no
# 文号      A      A      B      B      B
TEXTS = ["发挥头雁效应。\n其他内容。",
         "其他内容。\n培育示范企业。",
         "发挥头雁效应。\n培育示范企业。\n其他内容。",
         "发挥头雁效应。\n其他内容。",
         "其他内容。\n全部改写。"]
WENHAO = ["湘工信提案函〔2021〕254号"] * 2 + ["湘工信提案函〔2022〕17号"] * 3


def _build(store: Store) -> list[int]:
    store.sync_sources([REPLY])
    built = Built()
    pairs = enumerate(zip(TEXTS, WENHAO, strict=True))
    return [store_version(store, REPLY, "答复", text, T0 + timedelta(days=i), built,
                          meta={"文号": w}) for i, (text, w) in pairs]


def _grouped(store: Store, query: str, **filters: object) -> tuple[list[tuple[int, int]], int]:
    found = Search(store).search(query, group=True, **filters)  # type: ignore[arg-type]
    return [(h.version_id, h.earlier) for h in found.hits], found.versions


def test_newest_match_and_exact_earlier_count(db_url: str) -> None:
    store = Store(db_url)
    try:
        v = _build(store)
        assert _grouped(store, "头雁效应") == ([(v[3], 2)], 3)  # 1, 3, 4: left and came back
        assert _grouped(store, "示范企业") == ([(v[2], 1)], 2)
        assert _grouped(store, "头雁效应 示范企业") == ([(v[2], 0)], 1)  # only 3 has both
        assert _grouped(store, "湘工信提案函[2021]254号") == ([(v[1], 1)], 2)  # metadata
        assert _grouped(store, "全部改写") == ([(v[4], 0)], 1)
        day = timedelta(days=1)
        assert _grouped(store, "头雁效应", until=T0 + 2 * day) == ([(v[2], 1)], 2)
        assert _grouped(store, "头雁效应", since=T0 + day, until=T0 + 2 * day) == (
            [(v[2], 0)], 1)
        assert _grouped(store, "头雁效应", since=T0 + 4 * day) == ([], 0)
        # the same versions as the ungrouped search, which reads every version
        flat = Search(store).search("头雁效应", limit=50)
        assert sorted(h.version_id for h in flat.hits) == [v[0], v[2], v[3]]
        hit = Search(store).search("示范企业", group=True).hits[0]
        assert hit.field == "text" and "<mark>示范企业</mark>" in hit.passage.html()
    finally:
        store.close()


def _spans(store: Store) -> list[tuple[int, int, int, int | None]]:
    with store.session() as s:
        return sorted(tuple(r) for r in s.execute(sa.select(
            ParagraphSpan.paragraph_id, ParagraphSpan.page_id, ParagraphSpan.first_number,
            ParagraphSpan.last_number)))


def test_migration_0008_converts_what_is_stored(db_url: str) -> None:
    store = Store(db_url)
    _build(store)
    written = _spans(store)
    before = [_grouped(store, q) for q in ("头雁效应", "示范企业", "其他内容", "2022")]
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007")
        assert "paragraph_spans" not in sa.inspect(conn).get_table_names()
        columns = {c["name"] for c in sa.inspect(conn).get_columns("paragraphs")}
        assert "folded" not in columns
    store.close()
    store = Store(db_url)  # 0008 again, converting the five versions
    try:
        assert _spans(store) == written
        with store.engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("paragraphs")}
        assert "folded" not in columns  # PostgreSQL: stored by 0008, dropped by 0017
        assert (1, 5) in {(first, last or 5) for _, _, first, last in written}
        assert [_grouped(store, q) for q in ("头雁效应", "示范企业", "其他内容", "2022")] == before
    finally:
        store.close()


def test_migration_0010_indexes_the_pairs_of_what_is_stored(db_url: str) -> None:
    """SQLite's two-character index is built from the stored paragraphs, and dropped."""
    store = Store(db_url)
    _build(store)
    queries = ("雁效", "示范", "改写", "22", "效应 示范企业")
    before = [_grouped(store, q) for q in queries]
    assert before[0] == ([(v, 2) for v in [before[0][0][0][0]]], 3)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0009")
        assert "paragraphs_bigrams" not in sa.inspect(conn).get_table_names()
    store.close()
    store = Store(db_url)  # 0010 again, indexing the paragraphs stored
    try:
        with store.engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
        assert ("paragraphs_bigrams" in tables) is store.is_sqlite
        assert [_grouped(store, q) for q in queries] == before
        assert _grouped(store, "改写") == ([(before[2][0][0][0], 0)], 1)
    finally:
        store.close()
