"""Full-text search for Chinese on SQLite (FTS5 trigram + LIKE) and PostgreSQL (pg_trgm)."""

from __future__ import annotations

from datetime import timedelta

from storage import Store
from storage.search import Search, passage
from tests.test_archive_data import HOSTILE, T0, build_archive


def test_a_six_character_phrase_finds_every_version_containing_it(store: Store) -> None:
    built = build_archive(store)
    found = Search(store).search("人工智能产业")
    assert found.method == ("fts5" if store.is_sqlite else "pg_trgm")
    assert [h.version_id for h in found.hits] == built.versions["hb-ai-plan"][::-1]
    hit = found.hits[0]
    assert hit.source == "hb-ai-plan" and hit.fetched_at == T0 + timedelta(days=19)
    assert hit.passage.html() == (
        "…到2030年，全省<mark>人工智能产业</mark>核心规模达到1200亿元。…")
    assert hit.title.html() == "湖北省<mark>人工智能产业</mark>发展规划（2026—2030年）"
    assert Search(store).search("人工智能产业规划").total == 0


def test_a_two_character_phrase_falls_back_and_still_highlights(store: Store) -> None:
    built = build_archive(store)
    found = Search(store).search("财政")
    assert found.method == ("fts5" if store.is_sqlite else "pg_trgm")  # SQLite: bigrams
    assert [h.version_id for h in found.hits] == built.versions["hb-ai-plan"][:0:-1]
    assert found.hits[0].passage.html() == "…加强<mark>财政</mark>资金支持。"
    assert found.total == 2
    # folded like a longer term: brackets and full-width forms are the same
    bracketed = Search(store).search("〔财政〕")
    assert [h.version_id for h in bracketed.hits] == [h.version_id for h in found.hits]
    assert bracketed.hits[0].passage.html() == "…加强<mark>财政</mark>资金支持。"
    assert Search(store).search("财务").total == 0
    one = Search(store).search("财")  # one character: matched as typed, a scan
    assert one.method == ("like" if store.is_sqlite else "pg_trgm") and one.total == 2


def test_terms_are_anded_and_filters_narrow_by_source_tag_and_date(store: Store) -> None:
    built = build_archive(store)
    search = Search(store)
    both = search.search("算力 1000亿元")  # a short and a long term: version 1 only
    assert [h.version_id for h in both.hits] == built.versions["hb-ai-plan"][:1]
    assert both.hits[0].passage.spans  # each term is marked
    assert search.search("答复", source="hn-reply").total == 2  # title of both versions
    assert search.search("答复", source="hb-ai-plan").total == 0
    assert search.search("答复", tag="hunan").total == 2
    late = search.search("答复", since=T0 + timedelta(days=5))
    assert [h.version_id for h in late.hits] == built.versions["hn-reply"][1:]
    assert search.search("答复", until=T0 + timedelta(days=5)).total == 1


def test_query_syntax_and_like_wildcards_are_taken_literally(store: Store) -> None:
    build_archive(store)
    search = Search(store)
    assert search.search('"><img').total == 2  # quotes never reach FTS5 as syntax
    assert search.search("%").total == 0 and search.search("_").total == 0
    assert search.search("NEAR(a b)").total == 0
    hit = search.search("window.pwned").hits[0]
    assert "&lt;script&gt;" in hit.passage.html() and "<script>" not in hit.passage.html()
    assert HOSTILE in hit.passage.text


def test_passage_stays_in_its_paragraph_and_marks_every_occurrence() -> None:
    body = "第一段。\n" + "甲" * 100 + "目标目标" + "乙" * 100 + "\n第三段。"
    p = passage(body, ["目标"])
    assert p.text.startswith("甲") and p.text.endswith("乙") and "\n" not in p.text
    assert len(p.spans) == 2 and p.cut_before and p.cut_after
    assert [t for t, hit in p.segments() if hit] == ["目标", "目标"]
    assert passage("短文", ["标题里"]).text == "短文"


def test_a_query_with_a_control_character_or_without_words_is_bad_input(
        store: Store) -> None:
    """A NUL used to break SQLite's FTS5 query ("unterminated string"), match every row
    in a SQLite LIKE and be refused by PostgreSQL: now it never reaches either."""
    import pytest

    from monitor.errors import BadInputError

    build_archive(store)
    search = Search(store)
    for query in ("x\x00y", "\x00", "答\x00", "a\x01b", "人工智能\x7f", "\udcff"):
        with pytest.raises(BadInputError, match=r"control character U\+"):
            search.search(query)
    for query in ("", "   ", "\t\n"):
        with pytest.raises(BadInputError, match="no words"):
            search.search(query)
    with pytest.raises(BadInputError, match="the source"):
        search.search("答复", source="hn-reply\x00")
    # Tab and newline are whitespace between terms, not bad input.
    assert search.search("人工智能\t产业\n规划").total == 3


def test_hits_group_by_page_newest_first_and_page_through(store: Store) -> None:
    built = build_archive(store)
    search = Search(store)
    plan = built.versions["hb-ai-plan"]
    grouped = search.search("人工智能产业", group=True)
    assert (grouped.total, grouped.versions, grouped.grouped) == (1, 3, True)
    [hit] = grouped.hits
    assert hit.version_id == plan[-1] and hit.earlier == 2  # "also in 2 earlier versions"
    assert search.search("人工智能产业", group=True, offset=1).hits == []
    middle = search.search("人工智能产业", limit=1, offset=1)
    assert [h.version_id for h in middle.hits] == [plan[1]] and middle.total == 3
    assert search.search("恶意", group=True).hits[0].earlier == 1


def test_a_field_filter_keeps_matches_in_that_field_only(store: Store) -> None:
    built = build_archive(store)
    search = Search(store)
    by_number = search.search("鄂政发(2026)5号", field="文号")
    assert [h.version_id for h in by_number.hits] == built.versions["hb-ai-plan"][::-1]
    assert {h.field for h in by_number.hits} == {"文号"}
    assert by_number.hits[0].passage.html() == "文号：<mark>鄂政发〔2026〕5号</mark>"
    assert search.search("鄂政发(2026)5号", field="text").total == 0
    titled = search.search("人工智能产业", field="title")
    assert titled.total == 3 and {h.field for h in titled.hits} == {"title"}
    assert search.search("人工智能产业", field="attachment").total == 0
