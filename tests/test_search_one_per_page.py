"""A version is one hit, and a page one grouped hit, whether the query is in its text, in
an attachment or in both (``storage/search.py``): the counts an archivist cites
("N versions (M pages)", "also in N earlier versions", ``total``/``earlier`` in the
API, "共 M 个页面（N 个版本）" on the web) count each matching version once, and a page
whose text and attachment both match is listed once, in its text, the attachment named
after it ("（附件「x.pdf」中也有）").  SQLite and PostgreSQL; the page-by-page walk of a
broad term (``storage/search_walk.py``) gives the same."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.config import SourceConfig
from monitor.types import AttachmentFile
from monitor.web.app import create_app
from storage import Store
from storage.search import Search, SearchResults
from tests.conftest import write_sources
from tests.test_archive_data import T0, Built, store_version
from tests.test_web_api import make_config

NUMBER = "国函〔2018〕159号"
QUERY = "国函(2018)159号"  # typed in another bracket form: folded on both sides
A, B, C, D = (SourceConfig(name=n, url=f"http://127.0.0.1:9/{n}.html")
              for n in ("xiongan-plan", "jl-notice", "hn-reply", "plan-pdf"))


def _pdf(name: str, text: str) -> AttachmentFile:
    body = f"%PDF-1.4 {name} {text}".encode()
    return AttachmentFile(url=f"http://127.0.0.1:9/files/{name}", name=name,
                          sha256=hashlib.sha256(body).hexdigest(), fmt="pdf",
                          size=len(body), body=body, title="", text=text)


REPLY = _pdf("批复.pdf", f"国务院关于河北雄安新区总体规划的批复\n{NUMBER}")
OTHER = _pdf("说明.pdf", f"规划说明：依据{NUMBER}。")
PLAIN = _pdf("附表.pdf", "附表：项目清单")


def _build(store: Store) -> Built:
    """A: the number in the text of versions 1–3, in its PDF from version 2 (the
    tester's case: 3 versions, not 6).  B: in the PDF of version 2 only, in the text of
    version 3.  C: in the text of version 1, only in the PDF of version 2 (the newest
    match is an attachment).  D: one version, two PDFs with it, not its text."""
    store.sync_sources([A, B, C, D])
    built = Built()

    def put(src: SourceConfig, v: int, text: str, *files: AttachmentFile) -> None:
        at = T0 + timedelta(days=v, hours=[A, B, C, D].index(src))
        store_version(store, src, f"{src.name}标题", text, at, built, files=files)

    put(A, 0, f"河北雄安新区规划（{NUMBER}）。")
    put(A, 1, f"河北雄安新区规划（{NUMBER}）。附件：批复", REPLY)
    put(A, 2, f"河北雄安新区规划（{NUMBER}）。附件：批复、附表", REPLY, PLAIN)
    put(B, 0, "通知正文。")
    put(B, 1, "通知正文。附件：批复", REPLY)
    put(B, 2, f"通知正文，依据{NUMBER}。", PLAIN)
    put(C, 0, f"答复：见{NUMBER}。")
    put(C, 1, "答复：见附件。", OTHER)
    put(D, 9, "规划文件见附件。", REPLY, OTHER)
    return built


def _rows(found: SearchResults) -> list[tuple[str, int, str, tuple[str, ...], int]]:
    return [(h.source, h.number, h.field, h.also_in, h.earlier) for h in found.hits]


GROUPED = [("plan-pdf", 1, "attachment", ("说明.pdf",), 0),
           ("jl-notice", 3, "text", (), 1),
           ("xiongan-plan", 3, "text", ("批复.pdf",), 2),
           ("hn-reply", 2, "attachment", (), 1)]
VERSIONS = 3 + 2 + 2 + 1


def test_a_page_is_one_hit_and_a_version_counted_once(store: Store) -> None:
    built = _build(store)
    found = Search(store).search(QUERY, group=True)
    assert (found.total, found.versions, found.total_is_lower_bound) == (4, VERSIONS, False)
    assert [h.source for h in found.hits] == [s for s, *_ in GROUPED]  # each once
    assert _rows(found) == GROUPED
    [a] = [h for h in found.hits if h.source == "xiongan-plan"]
    assert a.version_id == built.versions["xiongan-plan"][2] and a.attachment is None
    assert "<mark>国函〔2018〕159号</mark>" in a.passage.html()  # the text's passage
    [d] = [h for h in found.hits if h.source == "plan-pdf"]
    assert d.attachment is not None and d.attachment["name"] == "批复.pdf"
    # every version once, each where it matched first
    every = Search(store).search(QUERY)
    assert (every.total, every.versions) == (VERSIONS, VERSIONS)
    assert len({h.version_id for h in every.hits}) == VERSIONS
    assert _rows(every) == [
        ("plan-pdf", 1, "attachment", ("说明.pdf",), 0),
        ("jl-notice", 3, "text", (), 0), ("xiongan-plan", 3, "text", ("批复.pdf",), 0),
        ("hn-reply", 2, "attachment", (), 0),
        ("jl-notice", 2, "attachment", (), 0), ("xiongan-plan", 2, "text", ("批复.pdf",), 0),
        ("hn-reply", 1, "text", (), 0), ("xiongan-plan", 1, "text", (), 0)]
    # paging on keeps the same exact totals and never shows a page twice
    pages = [Search(store).search(QUERY, group=True, limit=1, offset=i) for i in range(4)]
    assert [_rows(p)[0] for p in pages] == GROUPED
    assert {(p.total, p.versions) for p in pages} == {(4, VERSIONS)}
    # narrowed to attachments, a page is still one hit, counted by its versions with one
    files = Search(store).search(QUERY, group=True, field="attachment")
    assert [(h.source, h.number, h.earlier) for h in files.hits] == [
        ("plan-pdf", 1, 0), ("xiongan-plan", 3, 1), ("hn-reply", 2, 0), ("jl-notice", 2, 0)]
    assert (files.total, files.versions) == (4, 5)


@pytest.mark.parametrize("broad", [0, 1])
def test_walking_pages_counts_the_same(db_url: str, broad: int) -> None:
    """The broad-term walk (``storage/search_walk.py``) merges attachment hits the same
    way as looking every term up in the whole archive."""
    store = Store(db_url)
    try:
        _build(store)
        exact, walking = Search(store), Search(store, broad=broad, first_pages=1)
        for query in (QUERY, "规划", f"规划 {QUERY}", "附件"):
            for limit, offset in ((20, 0), (1, 0), (1, 1), (2, 2)):
                want = exact.search(query, group=True, limit=limit, offset=offset)
                got = walking.search(query, group=True, limit=limit, offset=offset)
                where = (query, limit, offset)
                assert len({h.page_id for h in want.hits}) == len(want.hits), where
                assert [(h.version_id, h.passage.html()) for h in got.hits] == [
                    (h.version_id, h.passage.html()) for h in want.hits], where
                assert _rows(got) == _rows(want), where
                if not got.total_is_lower_bound:
                    assert (got.total, got.versions) == (want.total, want.versions), where
                else:
                    assert got.total <= want.total and got.versions <= want.versions, where
        assert _rows(exact.search(QUERY, group=True)) == GROUPED
    finally:
        store.close()


def test_the_cli_prints_each_page_once_with_exact_counts(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _build(store)
    monkeypatch.setenv("MONITOR_DATABASE_URL", store.url)
    sources = str(write_sources(tmp_path / "sources.toml", ""))
    out = CliRunner().invoke(cli, ["search", QUERY, "--sources", sources],
                             catch_exceptions=False).output
    first = out.split("\n")[0]
    assert first.startswith(f"{VERSIONS} 个版本（4 个页面）含有「{QUERY}」"), out
    assert f"（{VERSIONS} versions (4 pages) contain '{QUERY}'" in first, out
    assert out.count("xiongan-plan · ") == 1 and out.count("plan-pdf · ") == 1, out
    plan = out[out.index("xiongan-plan · 第3版"):out.index("hn-reply · ")]
    assert "附件「" not in plan.split("\n")[2]  # shown in its text
    assert "（附件「批复.pdf」中也有）" in plan and "also in 2 earlier versions" in plan
    assert "also in 5" not in out
    pdf = out[out.index("plan-pdf · 第1版"):out.index("jl-notice · ")]
    assert "附件「批复.pdf」" in pdf and "（附件「说明.pdf」中也有）" in pdf
    every = CliRunner().invoke(cli, ["search", QUERY, "--all-versions", "--sources",
                                     sources], catch_exceptions=False).output
    first = every.split("\n")[0]
    assert first.startswith(f"{VERSIONS} 个版本含有「{QUERY}」"), every
    assert f"（{VERSIONS} versions contain '{QUERY}'" in first, every
    assert every.count("xiongan-plan · 第3版") == 1


async def test_the_api_and_the_web_page_count_each_page_once(store: Store) -> None:
    _build(store)
    app = create_app(make_config(), store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://127.0.0.1") as client:
        api = (await client.get("/api/search", params={"q": QUERY, "group": "true"})).json()
        every = (await client.get("/api/search", params={"q": QUERY})).json()
        web = (await client.get("/search", params={"q": QUERY})).text
    assert (api["total"], api["versions"]) == (4, VERSIONS)
    assert len({h["page_id"] for h in api["hits"]}) == len(api["hits"]) == 4
    assert [(h["source"], h["field"], h["also_in"], h["earlier"]) for h in api["hits"]] == [
        (s, f, list(a), e) for s, _, f, a, e in GROUPED]
    assert (every["total"], len({h["version_id"] for h in every["hits"]})) == (
        VERSIONS, VERSIONS)
    assert f"共 4 个页面（{VERSIONS} 个版本）" in web
    assert web.count("另有 2 个较早版本也包含") == 1 and "另有 5 个" not in web
    assert "（附件「批复.pdf」中也有）" in web and "（附件「说明.pdf」中也有）" in web
