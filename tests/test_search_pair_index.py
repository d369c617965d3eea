"""PostgreSQL searches one GIN index of folded character pairs and stores no folded copy
of the text (migration 0017, ``storage/search.py``): a database at 0016 is converted,
and every kind of term finds what it found before — two characters, a 文号 in another
bracket or width form, a phrase across deleted separators, an English word in another
case — on SQLite (where 0017 changes nothing) and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from monitor.config import SourceConfig
from storage import Store
from storage.search import Search
from tests.test_archive_data import T0, Built, store_version
from tests.test_search_fold import _downgrade

WENHAO = "湘工信提案函〔2021〕204号"
PLAN = SourceConfig(name="plan", url="http://127.0.0.1:9/plan.html")
REPLY = SourceConfig(name="reply", url="http://127.0.0.1:9/reply.html")
OTHER = SourceConfig(name="other", url="http://127.0.0.1:9/other.html")
QUERIES = {
    "算力": ["plan"],  # two characters
    "答复": ["other", "reply"],
    "湘工信提案函[2021]204号": ["reply"],  # another bracket form of the 文号
    "湘工信提案函（2021）２０４号": ["reply"],  # and full-width digits
    "1204号": ["other"],  # the bracket keeps the year and the number apart
    "人工智能产业": ["plan"],  # the text has 人工智能、产业: the separator folds away
    "GPU集群": ["plan"],  # the text has ＧＰＵ集群 (full width)
    "gpu": ["plan"],
    "第2版": ["plan"],  # only in the newer version
    "湖北 算力": ["plan"],  # two terms
    "不存在的短语": [],
    "算": ["plan"],  # one character: a scan as typed
}


def _build(store: Store) -> None:
    store.sync_sources([PLAN, REPLY, OTHER])
    built = Built()
    store_version(store, PLAN, "湖北省人工智能规划",
                  "发展人工智能、产业。\n建设ＧＰＵ集群，提升算力。", T0, built)
    store_version(store, PLAN, "湖北省人工智能规划", "发展人工智能、产业（第2版）。\n"
                  "建设ＧＰＵ集群，提升算力。", T0 + timedelta(days=1), built)
    store_version(store, REPLY, "提案答复", f"关于第204号提案的答复。\n文号：{WENHAO}", T0, built,
                  meta={"文号": WENHAO})
    store_version(store, OTHER, "第1204号建议的答复", "关于第1204号建议的答复。", T0, built)


def _found(store: Store) -> dict[str, list[str]]:
    return {q: sorted({h.source for h in Search(store).search(q, group=True).hits})
            for q in QUERIES}


def _schema(store: Store) -> tuple[list[str], list[str]]:
    """PostgreSQL: the columns of ``paragraphs`` and the definitions of its GIN indexes."""
    with store.engine.connect() as c:
        columns = list(c.execute(text(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'paragraphs' ORDER BY ordinal_position")).scalars())
        gin = list(c.execute(text(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'paragraphs' "
            "AND indexdef LIKE '%USING gin%' ORDER BY indexname")).scalars())
    return columns, gin


def test_every_kind_of_term_is_found(store: Store) -> None:
    _build(store)
    assert _found(store) == QUERIES


def test_migration_0017_keeps_what_search_finds(db_url: str) -> None:
    store = Store(db_url)
    _build(store)
    postgres = not store.is_sqlite
    _downgrade(store, "0016")  # as the releases before stored it
    old = Store(db_url, migrate=False)
    try:
        if postgres:  # the folded copy and its two indexes
            columns, gin = _schema(old)
            assert "folded" in columns and len(gin) == 2
    finally:
        old.close()
    store = Store(db_url)  # migrates to head
    try:
        assert _found(store) == QUERIES
        if postgres:  # one index of the text's folded pairs, no copy of the text
            columns, gin = _schema(store)
            assert columns == ["id", "page_id", "digest", "field", "text"]
            assert len(gin) == 1 and "monitor_bigrams(monitor_fold(text))" in gin[0]
        built = Built()  # what is stored after the migration is found too
        store_version(store, REPLY, "提案答复", f"第二次答复。\n文号：{WENHAO}\n算力",
                      T0 + timedelta(days=2), built, meta={"文号": WENHAO})
        assert [h.source for h in Search(store).search("第二次 [2021]204号").hits] == ["reply"]
        assert sorted({h.source for h in Search(store).search("算力").hits}) == [
            "plan", "reply"]
    finally:
        store.close()
