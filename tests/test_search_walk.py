"""Grouped search with a broad term (``storage/search_walk.py``): the pages visited
newest first, the broad term looked up in them only, stop once the pages shown are
certain.  The same hits, order, "also in N earlier versions", fields and passages as
looking every term up in the whole archive, under every filter and page of results; a
total counted from the visited pages only is flagged as a lower bound, and says so in
the API and on the web page."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.config import SourceConfig
from monitor.web import pages
from monitor.web.app import create_app
from storage import Store, search_walk
from storage.search import Search, SearchResults
from tests.conftest import write_sources
from tests.test_archive_data import T0, Built, store_version
from tests.test_web_api import make_config

PAGES, VERSIONS = 6, 5
SOURCES = [SourceConfig(name=f"p{i}", url=f"http://127.0.0.1:9/p{i}.html",
                        tags=("even" if i % 2 == 0 else "odd",)) for i in range(PAGES)]


def _text(i: int, v: int) -> str:
    lines = ["总体要求"]
    if (i + v) % 3:  # the phrase leaves some versions and comes back
        lines.append("推动人工智能产业发展。")
    lines.append(f"第{v}次修订")
    if v % 2 == i % 2:
        lines.append("建设算力设施。")
    return "\n".join(lines)


def _build(store: Store) -> Built:
    """Six pages × five versions, their fetch times interleaved (so a page whose newest
    version lacks the phrase ranks by an older one, behind other pages' newest)."""
    store.sync_sources(SOURCES)
    built = Built()
    for v in range(VERSIONS):
        for i, src in enumerate(SOURCES):
            at = T0 + timedelta(hours=10 * v + (i * 7) % PAGES)
            title = "人工智能产业规划" if i == 4 else "通知"
            store_version(store, src, title, _text(i, v), at, built,
                          meta={"文号": f"湘政发〔2026〕{i}号"})
    return built


QUERIES = [
    ("人工智能产业", {}),
    ("人工智能产业 第2次修订", {}),
    ("第2次修订 人工智能产业", {}),
    ("人工智能产业 湘政发(2026)3号", {}),
    ("算力", {}),
    ("算力 人工智能产业", {}),
    ("通知 算力", {}),
    ("人工智能产业", {"source": "p3"}),
    ("人工智能产业", {"tag": "even"}),
    ("人工智能产业", {"field": "text"}),
    ("人工智能产业", {"field": "title"}),
    ("湘政发(2026)", {"field": "文号"}),
    ("人工智能产业", {"since": T0 + timedelta(hours=12), "until": T0 + timedelta(hours=33)}),
    ("算力", {"until": T0 + timedelta(hours=25)}),
    ("没有的词组", {}),
]


def _shown(found: SearchResults) -> list[tuple[int, int, str, str, str]]:
    return [(h.version_id, h.earlier, h.field, h.passage.html(), h.title.html())
            for h in found.hits]


@pytest.mark.parametrize("broad", [0, 3, 8])
def test_walking_pages_shows_what_looking_everything_up_shows(db_url: str, broad: int) -> None:
    store = Store(db_url)
    try:
        _build(store)
        exact, walking = Search(store), Search(store, broad=broad, first_pages=1)
        lower_bounds = 0
        for query, filters in QUERIES:
            for limit, offset in ((20, 0), (1, 0), (1, 1), (2, 2), (1, 4), (2, 5)):
                want = exact.search(query, group=True, limit=limit, offset=offset,
                                    **filters)  # type: ignore[arg-type]
                got = walking.search(query, group=True, limit=limit, offset=offset,
                                     **filters)  # type: ignore[arg-type]
                where = (query, filters, limit, offset)
                assert not want.total_is_lower_bound, where
                assert _shown(got) == _shown(want), where
                if got.total_is_lower_bound:  # a lower bound, with a page to page on to
                    lower_bounds += 1
                    assert offset + limit < got.total <= want.total, where
                    assert got.versions <= want.versions, where
                else:
                    assert (got.total, got.versions) == (want.total, want.versions), where
        # the small chunks stop before the last page whenever a term was walked
        assert lower_bounds > 0 if broad < 8 else lower_bounds >= 0
    finally:
        store.close()


def test_the_exact_results_are_those_of_every_version(db_url: str) -> None:
    """The reference the walk is compared with counts what the versions hold."""
    store = Store(db_url)
    try:
        built = _build(store)
        found = Search(store).search("人工智能产业 第2次修订", group=True)
        with_both = [i for i in range(PAGES) if (i + 2) % 3 or i == 4]  # p4: its title
        assert found.total == len(with_both) and found.versions == len(with_both)
        assert {h.source for h in found.hits} == {f"p{i}" for i in with_both}
        assert all(h.version_id == built.versions[h.source][2] for h in found.hits)
        phrase = Search(store).search("人工智能产业", group=True)
        # p4 has it in its title in every version; the others in 3 or 4 of 5 texts
        counts = {h.source: h.earlier + 1 for h in phrase.hits}
        assert counts == {f"p{i}": 5 if i == 4 else sum(1 for v in range(VERSIONS)
                                                         if (i + v) % 3)
                          for i in range(PAGES)}
        # p2's newest version lacks the phrase: it ranks by its fourth version
        assert next(h for h in phrase.hits if h.source == "p2").version_id == \
            built.versions["p2"][3]
    finally:
        store.close()


async def test_a_lower_bound_total_is_labelled(db_url: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(db_url)
    try:
        _build(store)
        exact = Search(store).search("总体要求", group=True, limit=1)
        assert not exact.total_is_lower_bound and exact.total == PAGES
        monkeypatch.setattr(search_walk, "BROAD", 0)  # every term walked, in small chunks
        monkeypatch.setattr(search_walk, "FIRST_PAGES", 1)
        monkeypatch.setattr(pages, "PER_PAGE", 1)
        found = Search(store).search("总体要求", group=True, limit=1)
        assert found.total_is_lower_bound and 1 < found.total < PAGES
        assert _shown(found) == _shown(exact)
        app = create_app(make_config(), store)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://127.0.0.1") as client:
            api = (await client.get("/api/search", params={
                "q": "总体要求", "group": "true", "limit": 1})).json()
            web = (await client.get("/search", params={"q": "总体要求"})).text
            last = (await client.get("/search", params={"q": "总体要求",
                                                        "page": PAGES})).text
    finally:
        store.close()
    assert api["total_is_lower_bound"] is True and api["total"] == found.total
    assert f"至少 {found.total} 个页面（至少 {found.versions} 个版本）" in web
    assert "page=2" in web  # there is more to page on to
    assert f"共 {PAGES} 个页面" in last and "至少" not in last  # every page visited
    assert "page=7" not in last
    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    out = CliRunner().invoke(cli, ["search", "总体要求", "--limit", "1", "--sources",
                                   str(write_sources(tmp_path / "sources.toml", ""))],
                             catch_exceptions=False)
    assert out.output.startswith(f"至少 {found.versions} 个版本（至少 {found.total} 个页面）"
                                 "含有「总体要求」"), out.output
    assert (f"（at least {found.versions} versions (at least {found.total} pages) contain "
            "'总体要求'") in out.output
