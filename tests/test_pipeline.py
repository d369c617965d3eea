"""The check pipeline (``monitor.pipeline.Checker``) end to end, on SQLite and PostgreSQL.

Every test drives ``Checker.check`` against a real HTTP server on 127.0.0.1
(tests/sites.py) serving realistic CMS pages built from the seed texts (tests/pages.py),
and asserts what a user would see afterwards: the outcome of the check, the versions in
``store.history``, the check rows, the page's state, the change records and the alert
drafts in the outbox.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlmodel import col, select

from monitor.config import Config, SourceConfig, load_config
from monitor.fetch import Fetcher
from monitor.pipeline import Checker
from monitor.types import CheckResult, Outcome
from storage import Store
from storage.alerts_repo import AlertRecord, AlertsRepo
from storage.models import Change, Check, Version
from storage.records import PageState, VersionInfo
from tests.conftest import write_sources
from tests.pages import seed, seed_page
from tests.sites import Request, Response, Site

NAME = "hn-0192"
PATH = "/art/2021/6/24/art_1234_0192.html"
ANALYST = "analyst@example.org"
ADMIN = "admin@example.org"
HTML = {"Content-Type": "text/html; charset=utf-8"}
CORPUS = Path(__file__).parent / "fixtures" / "corpus"

EDIT = ("头雁效应", "引领效应")  # a real edit of two characters in seed 000's body
INDEX_NO = "430S00/2021-08026431"  # seed 000's 索引号, only in its metadata table
TITLE = seed(0).title


def html(body: bytes | str, status: int = 200, **headers: str) -> Response:
    return Response(body, status=status, headers={**HTML, **headers})


def noisy(n: int = 0, **kw: object) -> bytes:
    """Seed page ``n`` with every noise knob turned: same text, different bytes."""
    return seed_page(n, counter=98765, today="2027年1月5日", token="9f3e77d2c1ab4e60",
                     indent="\t", fullwidth=True, wrap=17, votes=(12, 3),
                     neighbours=("关于印发2022年工作要点的通知", "关于开展质量月活动的通知"),
                     **kw)  # type: ignore[arg-type]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Env:
    """One configured source on the test site, a store, and ways to look at the result."""

    config: Config
    store: Store
    site: Site
    extra_sites: list[Site] = field(default_factory=list)

    @property
    def source(self) -> SourceConfig:
        return self.config.source(NAME)

    async def check(self) -> CheckResult:
        async with Fetcher(self.config.settings) as fetcher:
            return await Checker(self.config, self.store, fetcher).check(self.source)

    def serve(self, response: Response | Callable[[Request], Response], path: str = PATH) -> None:
        self.site.route(path, response)

    def versions(self) -> list[VersionInfo]:
        return self.store.history(NAME)

    def page(self) -> PageState:
        return self.store.page_state(self.source)

    def checks(self) -> list[Check]:
        with self.store.session() as s:
            return list(s.exec(select(Check).order_by(col(Check.id))))

    def changes(self, kind: str | None = None) -> list[Change]:
        with self.store.session() as s:
            rows = list(s.exec(select(Change).order_by(col(Change.id))))
        return [c for c in rows if kind is None or c.kind == kind]

    def alerts(self, event: str | None = None) -> list[AlertRecord]:
        rows = sorted(AlertsRepo(self.store).list(), key=lambda a: a.id)
        return [a for a in rows if event is None or a.event == event]


@pytest.fixture
def make_env(tmp_path: Path, store: Store, site: Site) -> Iterator[Callable[..., Env]]:
    """``make_env(source_lines=..., settings=...)``: one source, one watcher (the analyst)."""
    made: list[Env] = []

    def make(*, source_lines: str = "", settings: str = "") -> Env:
        body = "\n".join([
            "[[sources]]", f'name = "{NAME}"', f'url = "{site.url(PATH)}"',
            'tags = ["hunan"]', source_lines, "",
            "[[watchers]]", f'email = "{ANALYST}"', 'sources = ["hn-*"]', ""])
        path = write_sources(tmp_path / "sources.toml", body, settings=settings)
        env = Env(load_config(path, env={}), store, site)
        made.append(env)
        return env

    yield make
    for env in made:
        for extra in env.extra_sites:
            extra.close()


# --- 1. baseline, unchanged, noise ---------------------------------------------------------


async def test_first_fetch_is_a_silent_baseline_and_the_same_bytes_are_unchanged(
        make_env: Callable[..., Env]) -> None:
    env = make_env()
    env.serve(html(seed_page(0)))

    first = await env.check()
    assert first.outcome is Outcome.NEW and first.status == 200
    assert first.change_kind is None and first.alerts == 0
    [v] = env.versions()
    stored = env.store.version(v.id)
    assert stored.title == TITLE
    assert "湘工信提案函〔2021〕254号" in stored.text and "头雁效应" in stored.text
    assert "点击" not in stored.text and "当前位置" not in stored.text
    assert stored.metadata["索引号"] == INDEX_NO
    assert env.store.raw_body(v.id) == seed_page(0)
    assert env.changes() == [] and env.alerts() == []  # a baseline is never an alert

    again = await env.check()
    assert again.outcome is Outcome.UNCHANGED and again.version_id is None
    assert [x.id for x in env.versions()] == [v.id]
    checks = env.checks()
    assert [c.outcome for c in checks] == ["new", "unchanged"]
    assert checks[0].version_id == v.id and checks[1].version_id is None
    assert checks[1].raw_sha256 == sha256(seed_page(0)) and checks[1].http_status == 200
    assert env.changes() == [] and env.alerts() == []
    assert env.page().status == "ok"


@pytest.mark.parametrize("n", range(4))
async def test_noise_only_variant_is_an_unchanged_check_not_a_version(
        make_env: Callable[..., Env], n: int) -> None:
    env = make_env()
    env.serve(html(seed_page(n)))
    assert (await env.check()).outcome is Outcome.NEW
    env.serve(html(noisy(n)))

    result = await env.check()

    assert result.outcome is Outcome.UNCHANGED, result.summary
    assert len(env.versions()) == 1
    last = env.checks()[-1]
    assert last.outcome == "unchanged" and last.version_id is None
    # The different bytes are on record, on the check row.
    assert last.raw_sha256 == sha256(noisy(n)) != sha256(seed_page(n))
    assert env.changes() == [] and env.alerts() == []


# --- 2. real changes -----------------------------------------------------------------------


async def test_an_edit_is_a_second_version_with_the_edited_characters_in_the_change(
        make_env: Callable[..., Env]) -> None:
    env = make_env()
    env.serve(html(seed_page(0)))
    await env.check()
    env.serve(html(seed_page(0, edit=EDIT, counter=124)))

    result = await env.check()

    assert result.outcome is Outcome.CHANGED and result.change_kind == "changed"
    v1, v2 = env.versions()
    assert result.version_id == v2.id and v2.change_kind == "changed"
    assert "第" in (v2.change_summary or "") and "段修改" in (v2.change_summary or "")
    new_text = env.store.version(v2.id).text
    assert "引领效应" in new_text and "头雁效应" not in new_text
    [ch] = env.changes()
    assert (ch.old_version_id, ch.new_version_id) == (v1.id, v2.id)
    assert ch.stats["added"] == 2 and ch.stats["removed"] == 2
    assert ch.stats["paragraphs_modified"] == 1
    assert "引领" in ch.patch and "头雁" in ch.patch
    [alert] = env.alerts()
    assert (alert.event, alert.recipient, alert.change_id) == ("change", ANALYST, ch.id)
    assert result.alerts == 1


def _meta_edit() -> bytes:
    return seed_page(0).replace(INDEX_NO.encode(), b"430S00/2021-08029999")


def _title_edit() -> bytes:
    return seed_page(0).replace(TITLE.encode(), (TITLE + "（更正）").encode())


@pytest.mark.parametrize(("edited", "kind", "words"), [
    (_meta_edit, "metadata_changed", ["索引号", "430S00/2021-08029999"]),
    (_title_edit, "title_changed", ["标题", "（更正）"]),
], ids=["metadata", "title"])
async def test_metadata_and_title_edits_are_their_own_kinds(
        make_env: Callable[..., Env], edited: Callable[[], bytes], kind: str,
        words: list[str]) -> None:
    env = make_env()
    env.serve(html(seed_page(0)))
    await env.check()
    env.serve(html(edited()))

    result = await env.check()

    assert result.outcome is Outcome.CHANGED and result.change_kind == kind
    v1, v2 = env.versions()
    assert v2.change_kind == kind
    assert all(w in (result.summary or "") for w in words), result.summary
    old, new = env.store.version(v1.id), env.store.version(v2.id)
    assert new.text == old.text  # the body did not change
    if kind == "metadata_changed":
        assert new.metadata["索引号"] == "430S00/2021-08029999"
        assert env.changes()[0].details["metadata"]["索引号"] == [INDEX_NO,
                                                                   "430S00/2021-08029999"]
    else:
        assert new.title == TITLE + "（更正）" and old.title == TITLE
    assert [a.event for a in env.alerts()] == ["change"]


def counted_byline(views: int, widget: str = "") -> bytes:
    """Seed 000's article with its byline inside it: a view counter (and a widget) right
    after the date, as many CMS templates put them."""
    paragraphs = "".join(f"<p>{p}</p>" for p in seed(0).paragraphs)
    return (f"<html><head><meta charset='utf-8'><title>{TITLE}</title></head><body>"
            f"<div class='article'><h1>{TITLE}</h1>"
            f"<p>发布时间：2021-06-24 阅读次数：{views}次{widget}</p>{paragraphs}</div>"
            "</body></html>").encode()


@pytest.mark.parametrize("widget", ["", " 【字体：大 中 小】"])
async def test_a_moving_view_counter_after_the_date_is_never_a_metadata_change(
        make_env: Callable[..., Env], widget: str) -> None:
    env = make_env()
    env.serve(html(counted_byline(98765, widget)))
    assert (await env.check()).outcome is Outcome.NEW
    [v] = env.versions()
    assert env.store.version(v.id).metadata["发布日期"] == "2021-06-24"

    for views in (98766, 60911):
        env.serve(html(counted_byline(views, widget)))
        result = await env.check()
        assert result.outcome is Outcome.UNCHANGED, result.summary

    assert len(env.versions()) == 1
    assert env.changes() == [] and env.alerts() == []


def clocked(line: str) -> bytes:
    """Seed 000 with ``line`` as the first paragraph of its content (div.v_news_content),
    where some templates put their counter and a live clock."""
    return seed_page(0).replace(b'<div class="v_news_content">',
                                f'<div class="v_news_content"><p>{line}</p>'.encode())


@pytest.mark.parametrize("label", ["当前时间：", "现在时间：", "北京时间 "])
async def test_a_live_clock_inside_the_content_is_noise_not_a_change(
        make_env: Callable[..., Env], label: str) -> None:
    env = make_env(source_lines='content = "div.v_news_content"')
    env.serve(html(clocked(f"浏览次数：1240 次 | {label}2026年12月7日 02:40:05")))
    assert (await env.check()).outcome is Outcome.NEW
    for views, now in ((1241, "02:41:30"), (1302, "03:05:12")):
        env.serve(html(clocked(f"浏览次数：{views} 次 | {label}2026年12月7日 {now}")))
        result = await env.check()
        assert result.outcome is Outcome.UNCHANGED, result.summary
    [v] = env.versions()
    text = env.store.version(v.id).text
    assert "02:40" not in text and "浏览次数" not in text
    assert text.splitlines()[0] == seed(0).paragraphs[0].strip()  # no "|" left of it
    assert env.changes() == [] and env.alerts() == []


async def test_a_cut_counter_leaves_no_separator_and_a_dated_field_stays(
        make_env: Callable[..., Env]) -> None:
    # 发布时间 with a time of day is the document's, not a clock: it stays, and so does a
    # news sentence opening with 北京时间
    env = make_env(source_lines='content = "div.v_news_content"')
    env.serve(html(clocked("北京时间2026年12月7日，我厅召开专题会议。</p>"
                           "<p>浏览次数：1240 次 | 发布时间：2026年12月7日 02:40:05")))
    assert (await env.check()).outcome is Outcome.NEW
    [v] = env.versions()
    first, second = env.store.version(v.id).text.splitlines()[:2]
    assert (first, second) == ("北京时间2026年12月7日，我厅召开专题会议。",
                               "发布时间：2026年12月7日 02:40:05")


def colonless_counter(views: int) -> bytes:
    """Seed 000's article with a byline whose 发布机构 is followed by a view counter
    written without a colon, as some CMS templates do."""
    paragraphs = "".join(f"<p>{p}</p>" for p in seed(0).paragraphs)
    return (f"<html><head><meta charset='utf-8'><title>{TITLE}</title></head><body>"
            f"<div class='article'><h1>{TITLE}</h1>"
            f"<p>发布机构：湖南省工业和信息化厅 浏览次数 {views}</p>{paragraphs}</div>"
            "</body></html>").encode()


async def test_a_view_counter_without_a_colon_is_never_a_metadata_change(
        make_env: Callable[..., Env]) -> None:
    env = make_env()
    env.serve(html(colonless_counter(98765)))
    assert (await env.check()).outcome is Outcome.NEW
    [v] = env.versions()
    assert env.store.version(v.id).metadata["发布机构"] == "湖南省工业和信息化厅"

    env.serve(html(colonless_counter(98766)))
    assert (await env.check()).outcome is Outcome.UNCHANGED

    # a version an earlier release stored with the counter in the value: the same value
    with env.store.session() as s:
        version = s.exec(select(Version)).one()
        version.meta = {**version.meta, "发布机构": "湖南省工业和信息化厅浏览次数 98765"}
        s.add(version)
        s.commit()
    env.serve(html(colonless_counter(98767)))
    result = await env.check()
    assert result.outcome is Outcome.UNCHANGED, result.summary
    assert len(env.versions()) == 1 and env.changes() == [] and env.alerts() == []


@pytest.mark.parametrize("number", ["武经信提案函［２０２１］１７号", "武经信提案函[2021]17号",
                                    "武经信提案函（2021）17号", "武经信提案函【２０２１】17号"])
async def test_a_document_number_in_any_bracket_and_width_is_the_wenhao_search_finds(
        make_env: Callable[..., Env], number: str) -> None:
    from storage.search import Search

    paragraphs = "".join(f"<p>{p}</p>" for p in seed(0).paragraphs[1:])
    env = make_env()
    env.serve(html(f"<html><head><meta charset='utf-8'><title>{TITLE}</title></head><body>"
                   f"<div class='article'><h1>{TITLE}</h1><p>{number}</p>{paragraphs}</div>"
                   "</body></html>"))
    assert (await env.check()).outcome is Outcome.NEW
    [v] = env.versions()
    assert env.store.version(v.id).metadata["文号"] == number  # as written on the page

    for query in ("〔2021〕17号", "武经信提案函［２０２１］１７号", "(2021)17号"):
        found = Search(env.store).search(query, field="文号")
        assert [(h.version_id, h.field) for h in found.hits] == [(v.id, "文号")], query


# --- 3. conditional GET --------------------------------------------------------------------


async def test_a_304_answer_to_a_conditional_get_is_unchanged(
        make_env: Callable[..., Env]) -> None:
    env = make_env()
    lm = "Thu, 24 Jun 2021 01:46:00 GMT"
    current = {"etag": '"v1"', "body": seed_page(0)}

    def answer(req: Request) -> Response:
        if req.headers.get("if-none-match") == current["etag"]:
            return Response(b"", status=304, headers={"ETag": str(current["etag"])})
        return html(current["body"], ETag=str(current["etag"]), **{"Last-Modified": lm})

    env.serve(answer)
    assert (await env.check()).outcome is Outcome.NEW
    for _ in range(2):  # the validators survive a 304
        result = await env.check()
        assert result.outcome is Outcome.UNCHANGED and result.status == 304
    sent = [r.headers for r in env.site.requests if r.path == PATH]
    assert "if-none-match" not in sent[0]
    assert [h.get("if-none-match") for h in sent[1:]] == ['"v1"', '"v1"']
    assert sent[1]["if-modified-since"] == lm
    assert len(env.versions()) == 1
    assert [(c.outcome, c.http_status) for c in env.checks()] == [
        ("new", 200), ("unchanged", 304), ("unchanged", 304)]

    # The page changes: a full answer with a new ETag is a new version, and the next
    # request carries the new validator.
    current.update(etag='"v2"', body=seed_page(0, edit=EDIT))
    result = await env.check()
    assert result.outcome is Outcome.CHANGED and result.change_kind == "changed"
    assert (await env.check()).status == 304
    assert env.site.requests[-1].headers["if-none-match"] == '"v2"'
    assert len(env.versions()) == 2


async def test_a_full_answer_without_validators_drops_the_old_ones(
        make_env: Callable[..., Env]) -> None:
    env = make_env()
    env.serve(html(seed_page(0), ETag='"v1"'))
    assert (await env.check()).outcome is Outcome.NEW
    env.serve(html(seed_page(0, edit=EDIT)))  # the server stopped sending an ETag
    assert (await env.check()).outcome is Outcome.CHANGED
    await env.check()
    sent = [r.headers.get("if-none-match") for r in env.site.requests if r.path == PATH]
    # a stale ETag would let a server answer 304 for a page that changed since
    assert sent == [None, '"v1"', None]


async def test_every_check_logs_its_fields_for_json_logs(
        make_env: Callable[..., Env], capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from monitor.logging import setup_logging

    setup_logging(json_lines=True)  # as `monitor run --log-json`
    try:
        env = make_env()
        await _baseline(env)
        env.serve(html("<h1>500</h1>", status=500))
        await env.check()
    finally:
        setup_logging()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    checks = [c for c in lines if c["message"].startswith("check ")]
    assert [(c["source"], c["outcome"], c["status"], c["level"]) for c in checks] == [
        (NAME, "new", 200, "INFO"), (NAME, "error", 500, "WARNING")]
    assert checks[1]["error_kind"] == "http_status" and checks[1]["duration"] >= 0


async def test_an_unexpected_error_costs_one_check_not_the_job(
        make_env: Callable[..., Env], monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.pipeline

    env = make_env()
    await _baseline(env)

    def broken(*args: object, **kw: object) -> object:
        raise RuntimeError("a bug in extraction")

    monkeypatch.setattr(monitor.pipeline, "extract", broken)
    # new bytes (a moved counter): the very same bytes would not be read again
    env.serve(html(seed_page(0, counter=9876)))
    result = await env.check()  # returns, does not raise
    assert result.outcome is Outcome.ERROR and result.error_kind == "internal"
    assert "a bug in extraction" in (result.error or "")
    assert env.checks()[-1].error_kind == "internal" and len(env.versions()) == 1


# --- 4. failures ---------------------------------------------------------------------------


def _corpus(path: str) -> bytes:
    return (CORPUS / path).read_bytes()


# name → (source lines, the bad answer, error kind).  ``None`` as the answer: the server
# is down (connection refused).
FAILURES: dict[str, tuple[str, Callable[[], Response] | None, str]] = {
    "http-500": ("", lambda: html("<h1>500 Internal Server Error</h1>", status=500),
                 "http_status"),
    "waf-beijing-antibot": ("", lambda: Response(
        _corpus("cn-gov/bjjs-zjw-beijing__antibot-redirect-gbk__20190524.html"),
        headers={"Content-Type": "text/html"}), "challenge"),
    "waf-erddap-error": ("", lambda: html(_corpus(
        "peers/wmp-snapshot-quality/erddap-0.0/d5c25818-b39d-4928-8d8f-8011fba84f95.body")),
        "challenge"),
    "unrendered-template": ("", lambda: html(
        _corpus("cn-gov/bjjs-zjw-beijing__fwjy-stats__20200326.html")), "challenge"),
    "home-made-captcha": ("", lambda: html(
        "<html><head><title>访问验证</title></head><body><p>您的访问过于频繁，请完成下方验证"
        "后继续访问</p><div class='captcha'><img src='/captcha.jpg'><input name='code' "
        "placeholder='请输入验证码'><button>提交</button></div></body></html>"), "challenge"),
    "empty-body": ("", lambda: html(b""), "empty"),
    "selector-matches-nothing": (
        'content = ["div.v_news_content"]',
        lambda: html(seed_page(0).replace(b"v_news_content", b"article-body")), "selector"),
    "connection-refused": ("", None, "network"),
}


async def _fail(env: Env, case: str) -> CheckResult:
    """One check while the site answers badly in the way of ``case``."""
    _, bad, _ = FAILURES[case]
    if bad is not None:
        env.serve(bad())
        return await env.check()
    port = env.site.server.server_address[1]
    env.site.close()
    result = await env.check()
    revived = Site(port=int(port))
    revived.routes = env.site.routes
    env.extra_sites.append(revived)
    env.site = revived
    return result


async def _baseline(env: Env) -> int:
    env.serve(html(seed_page(0)))
    result = await env.check()
    assert result.outcome is Outcome.NEW
    return result.version_id or 0


@pytest.mark.parametrize("case", FAILURES)
async def test_every_failure_is_a_failed_check_and_an_identical_recovery_is_silent(
        make_env: Callable[..., Env], case: str) -> None:
    lines, bad, kind = FAILURES[case]
    env = make_env(source_lines=lines)
    v1 = await _baseline(env)
    for streak in (1, 2):
        result = await _fail(env, case)
        assert result.outcome is Outcome.ERROR and result.error_kind == kind, result.error
        assert result.version_id is None and result.change_kind is None
        assert [v.id for v in env.versions()] == [v1]
        last = env.checks()[-1]
        assert (last.outcome, last.error_kind, last.version_id) == ("error", kind, None)
        if bad is not None:  # what the server answered is on the failed check
            answer = bad()
            assert last.http_status == answer.status
            if kind != "http_status":  # a body that was read but is not the page
                assert last.bytes == len(answer.payload())
        assert env.page().status == "failing" and env.page().failure_streak == streak
    assert env.alerts() == []  # below trouble_after (3) nobody hears of it

    env.serve(html(noisy(0)))
    result = await env.check()

    assert result.outcome is Outcome.UNCHANGED
    assert [v.id for v in env.versions()] == [v1]
    assert env.changes() == [] and env.alerts() == []
    page = env.page()
    assert (page.status, page.failure_streak) == ("ok", 0)
    assert page.last is not None and page.last.id == v1


@pytest.mark.parametrize("case", FAILURES)
async def test_after_a_failure_the_next_version_is_compared_with_the_last_good_one(
        make_env: Callable[..., Env], case: str) -> None:
    lines, _, _ = FAILURES[case]
    env = make_env(source_lines=lines)
    v1 = await _baseline(env)
    assert (await _fail(env, case)).outcome is Outcome.ERROR

    env.serve(html(seed_page(0, edit=EDIT)))
    result = await env.check()

    assert result.outcome is Outcome.CHANGED and result.change_kind == "changed"
    [ch] = env.changes()
    assert ch.old_version_id == v1 and ch.new_version_id == result.version_id
    assert ch.stats["paragraphs_modified"] == 1 and ch.stats["added"] == 2
    assert [a.event for a in env.alerts()] == ["change"]


async def test_500_is_retried_before_the_check_fails(make_env: Callable[..., Env]) -> None:
    env = make_env(settings="retries = 2")
    await _baseline(env)
    env.serve(html("busy", status=503))
    before = env.site.hits(PATH)

    result = await env.check()

    assert result.outcome is Outcome.ERROR and result.status == 503
    assert env.site.hits(PATH) - before == 3  # the first try and two retries
    assert len(env.checks()) == 2  # one failed check, not three


async def test_a_page_that_fails_before_its_first_version_starts_with_a_baseline(
        make_env: Callable[..., Env]) -> None:
    env = make_env()
    env.serve(html(b""))
    assert (await env.check()).outcome is Outcome.ERROR
    assert env.versions() == []

    env.serve(html(seed_page(0)))
    result = await env.check()

    assert result.outcome is Outcome.NEW and result.change_kind is None
    assert len(env.versions()) == 1 and env.changes() == [] and env.alerts() == []


# --- 5. gone, restored, moved --------------------------------------------------------------


async def test_two_404s_are_gone_once_and_the_page_coming_back_is_restored(
        make_env: Callable[..., Env]) -> None:
    env = make_env()
    v1 = await _baseline(env)
    env.serve(html("<h1>404 Not Found</h1>", status=404))

    first = await env.check()
    assert first.outcome is Outcome.ERROR and first.error_kind == "gone"
    assert first.change_kind is None and env.changes() == []
    assert env.page().status == "failing"
    # what the log and `monitor status` say: not "gone" before it counts as gone
    assert (first.error or "").endswith(
        ": HTTP 404, not found (1 of 2 in a row before the page counts as gone)"), first.error
    assert "is gone" not in (first.error or "")

    second = await env.check()
    assert second.outcome is Outcome.ERROR and second.change_kind == "gone"
    assert (second.error or "").endswith("HTTP 404, not found (2 in a row: the page counts "
                                         "as gone)"), second.error
    [gone] = env.changes()
    assert gone.kind == "gone" and gone.old_version_id == v1
    assert env.page().status == "gone"
    assert [(a.event, a.change_id) for a in env.alerts("change")] == [("change", gone.id)]

    third = await env.check()
    assert third.outcome is Outcome.ERROR and third.change_kind is None
    assert len(env.changes("gone")) == 1 and len(env.alerts("change")) == 1
    assert env.page().status == "gone"

    env.serve(html(noisy(0)))
    back = await env.check()
    assert back.change_kind == "restored"
    [restored] = env.changes("restored")
    assert env.page().status == "ok"
    assert [a.change_id for a in env.alerts("change")] == [gone.id, restored.id]
    # back with the text it had: the same version, not a duplicate of it
    assert [v.id for v in env.versions()] == [v1]
    assert restored.old_version_id == v1 and restored.new_version_id is None

    again = await env.check()  # and from then on it is an ordinary page
    assert again.outcome is Outcome.UNCHANGED and again.change_kind is None
    assert len(env.changes()) == 2
    # "gone" and "restored" told the watchers: no trouble / recovered on top of them
    assert [a.event for a in env.alerts()] == ["change", "change"]


async def test_a_gone_page_coming_back_is_read_whole_so_an_edit_made_meanwhile_is_seen(
        make_env: Callable[..., Env]) -> None:
    # A page put back edited with its old modification time (a restore from backup,
    # `cp -p`, `rsync -t`) would answer 304 to the validators kept from before it went:
    # a gone page is asked without them, so its return and the edit are both told.
    env = make_env()
    stamp = "Wed, 02 Dec 2026 08:00:00 GMT"
    env.serve(html(seed_page(0), **{"Last-Modified": stamp}))
    v1 = (await env.check()).version_id
    env.serve(html("<h1>404 Not Found</h1>", status=404))
    await env.check()
    await env.check()
    [gone] = env.changes("gone")
    edited = seed_page(0, edit=lambda ps: [*ps, "恢复后新增：此答复已撤回。"])
    asked: list[bool] = []

    def conditional(req: Request) -> Response:
        asked.append("if-modified-since" in req.headers)
        if req.headers.get("if-modified-since") == stamp:
            return Response(b"", status=304, headers={"Last-Modified": stamp})
        return html(edited, **{"Last-Modified": stamp})

    env.serve(conditional)
    back = await env.check()
    assert asked == [False] and back.status == 200 and back.outcome is Outcome.CHANGED
    [restored] = env.changes("restored")
    assert restored.old_version_id == v1
    v2 = back.version_id
    assert v2 is not None and v2 != v1
    assert "此答复已撤回" in env.store.version_text(v2)
    assert env.page().status == "ok"
    # one alert for the return with its edit (页面已恢复, the edit in its diff), not two
    # with the same diff: the edit's change is recorded, nobody told of it twice
    assert [a.change_id for a in env.alerts("change")] == [gone.id, restored.id]
    again = await env.check()  # asked conditionally again once it is back
    assert asked[-1] is True and again.outcome is Outcome.UNCHANGED and again.status == 304


SOFT_404 = {  # a CMS's "page not found", answered with 200
    "small": lambda: ("<html><head><title>404 页面不存在</title></head><body><h2>抱歉，您访问的"
                      "页面不存在或已被删除！</h2><a href='/'>返回首页</a></body></html>").encode(),
    "in the site's template": lambda: seed_page(0, edit=lambda ps: ["该信息已删除"]).replace(
        TITLE.encode(), "信息不存在或已撤销".encode()),
}


@pytest.mark.parametrize("case", SOFT_404)
async def test_a_not_found_page_served_with_200_is_gone_never_a_version(
        make_env: Callable[..., Env], case: str) -> None:
    env = make_env()
    v1 = await _baseline(env)
    env.serve(html(SOFT_404[case]()))

    first = await env.check()
    assert first.outcome is Outcome.ERROR and first.error_kind == "gone", first.error
    assert "the page says it does not exist" in (first.error or "")
    assert first.status == 200 and first.change_kind is None and env.changes() == []
    assert env.page().status == "failing"

    second = await env.check()  # gone_after = 2
    assert second.outcome is Outcome.ERROR and second.change_kind == "gone"
    [gone] = env.changes()
    assert gone.kind == "gone" and gone.old_version_id == v1
    assert env.page().status == "gone"
    assert [(c.outcome, c.error_kind, c.http_status, c.version_id) for c in env.checks()[1:]] \
        == [("error", "gone", 200, None)] * 2
    third = await env.check()
    assert third.change_kind is None and len(env.changes("gone")) == 1
    assert [v.id for v in env.versions()] == [v1]  # the "not found" page never became one

    env.serve(html(noisy(0)))
    back = await env.check()
    assert back.change_kind == "restored"
    [restored] = env.changes("restored")
    assert restored.old_version_id == v1 and restored.new_version_id is None
    assert [v.id for v in env.versions()] == [v1] and env.page().status == "ok"
    assert [a.change_id for a in env.alerts("change")] == [gone.id, restored.id]


async def test_gone_needs_gone_after_consecutive_404s(make_env: Callable[..., Env]) -> None:
    env = make_env(settings="gone_after = 3")
    await _baseline(env)
    not_found = html("<h1>404 Not Found</h1>", status=404)
    env.serve(not_found)
    await env.check()
    await env.check()
    env.serve(html("busy", status=500))  # a server error breaks the run of 404s
    await env.check()
    env.serve(not_found)
    await env.check()
    await env.check()
    assert env.changes() == [] and env.page().status == "failing"

    result = await env.check()  # the third 404 in a row

    assert result.change_kind == "gone" and len(env.changes("gone")) == 1


async def test_an_article_redirected_to_the_home_page_is_gone(
        make_env: Callable[..., Env]) -> None:
    env = make_env()
    await _baseline(env)
    home = seed_page(3).replace(b"v_news_content", b"portal-news")  # some portal page
    env.serve(html(home), "/index.html")
    env.serve(Response(b"", status=302, headers={"Location": "/index.html"}))

    first = await env.check()
    assert first.outcome is Outcome.ERROR and first.error_kind == "gone"
    second = await env.check()

    assert second.change_kind == "gone"
    assert len(env.versions()) == 1  # the home page never became a version of the article
    assert env.page().status == "gone"


async def test_a_permanent_redirect_with_the_same_text_is_moved_once(
        make_env: Callable[..., Env]) -> None:
    env = make_env()
    await _baseline(env)
    new_path = "/art/2021/6/24/art_5678_0192.html"
    env.serve(html(noisy(0)), new_path)
    env.serve(Response(b"", status=301, headers={"Location": new_path}))

    result = await env.check()

    assert result.change_kind == "moved"
    [moved] = env.changes()
    assert moved.details == {"from": env.site.url(PATH), "to": env.site.url(new_path)}
    page = env.page()
    assert (page.url, page.status) == (env.site.url(new_path), "moved")
    assert len(env.versions()) == 1  # same text at a new address: the same version
    assert [a.change_id for a in env.alerts("change")] == [moved.id]

    for _ in range(2):  # the old address still redirects: nothing new to say
        again = await env.check()
        assert again.outcome is Outcome.UNCHANGED and again.change_kind is None
    assert len(env.changes()) == 1 and len(env.alerts()) == 1


async def test_a_move_answered_304_to_the_old_addresses_validators_is_seen_at_once(
        make_env: Callable[..., Env]) -> None:
    """old.html → 301 → new.html, and new.html answers 304 to the validators old.html
    gave: that 304 is about another address, not "unchanged"; the move is seen on the
    first redirected check (the new address read again without validators)."""
    env = make_env()
    env.serve(html(seed_page(0), ETag='"v1"'))
    assert (await env.check()).outcome is Outcome.NEW
    new_path = "/art/2021/6/24/art_5678_0192.html"
    asked: list[bool] = []

    def new_page(req: Request) -> Response:
        conditional = any(k.lower() == "if-none-match" for k in req.headers)
        asked.append(conditional)
        return Response(b"", status=304) if conditional else html(seed_page(0), ETag='"v1"')

    env.serve(new_page, new_path)
    env.serve(Response(b"", status=301, headers={"Location": new_path}))

    result = await env.check()

    assert result.change_kind == "moved"
    assert asked == [True, False]  # the 304, then the page itself
    assert env.page().url == env.site.url(new_path)
    again = await env.check()  # now the validators are the new address's: a 304 holds
    assert again.outcome is Outcome.UNCHANGED and again.change_kind is None
    assert asked == [True, False, True] and len(env.changes()) == 1


async def test_a_source_whose_address_always_redirected_is_never_moved(
        make_env: Callable[..., Env]) -> None:
    env = make_env()
    new_path = "/art/2021/6/24/art_5678_0192.html"
    env.serve(html(seed_page(0)), new_path)
    env.serve(Response(b"", status=301, headers={"Location": new_path}))
    assert (await env.check()).outcome is Outcome.NEW  # the baseline is at the new address

    for _ in range(2):
        result = await env.check()
        assert result.outcome is Outcome.UNCHANGED and result.change_kind is None
    assert len(env.versions()) == 1 and env.changes() == [] and env.alerts() == []


# --- 6. trouble alerts ---------------------------------------------------------------------


async def test_a_failure_streak_alerts_the_admin_once_and_recovery_once(
        make_env: Callable[..., Env]) -> None:
    env = make_env(settings=f'admin_email = "{ADMIN}"\nretries = 0')
    await _baseline(env)
    env.serve(html("busy", status=500))
    for n in range(1, 6):
        await env.check()
        assert len(env.alerts("trouble")) == (0 if n < 3 else 1), n
    [trouble] = env.alerts("trouble")
    assert trouble.recipient == ADMIN and trouble.watcher == "admin"
    assert trouble.payload["source"] == NAME and "500" in trouble.payload["detail"]
    assert env.alerts("recovered") == []

    env.serve(html(seed_page(0)))
    assert (await env.check()).outcome is Outcome.UNCHANGED
    await env.check()
    [recovered] = env.alerts("recovered")
    assert recovered.recipient == ADMIN
    assert [a.recipient for a in env.alerts()] == [ADMIN, ADMIN]  # watchers heard nothing

    # A second streak is a new trouble, alerted again.
    env.serve(html("busy", status=500))
    for _ in range(3):
        await env.check()
    assert len(env.alerts("trouble")) == 2


async def test_a_recovery_that_brings_a_change_alerts_both(
        make_env: Callable[..., Env]) -> None:
    env = make_env(settings=f'admin_email = "{ADMIN}"\nretries = 0')
    await _baseline(env)
    env.serve(html("busy", status=500))
    for _ in range(3):
        await env.check()
    env.serve(html(seed_page(0, edit=EDIT)))

    result = await env.check()

    assert result.outcome is Outcome.CHANGED and result.change_kind == "changed"
    assert sorted((a.event, a.recipient) for a in env.alerts()) == [
        ("change", ANALYST), ("recovered", ADMIN), ("trouble", ADMIN)]
    assert result.alerts == 2  # this check queued the change and the recovery


async def test_changes_confined_to_ignore_and_ignore_text_do_not_alert(
        make_env: Callable[..., Env]) -> None:
    env = make_env(source_lines="ignore = ['div.editor']\n"
                                "ignore_text = ['本页更新时间：\\S+']")

    def variant(stamp: str, editor: str) -> bytes:
        extra = f"<p>本页更新时间：{stamp}</p><div class='editor'>责任编辑：{editor}</div>"
        return seed_page(0).replace("湘工信提案函〔2021〕254号".encode(),
                                    f"湘工信提案函〔2021〕254号{extra}".encode(), 1)

    env.serve(html(variant("2026-12-01", "张三")))
    assert (await env.check()).outcome is Outcome.NEW
    text = env.store.version(env.versions()[0].id).text
    assert "本页更新时间" not in text and "责任编辑" not in text
    env.serve(html(variant("2026-12-02", "李四")))  # only what the admin said to ignore
    assert (await env.check()).outcome is Outcome.UNCHANGED
    env.serve(html(variant("2026-12-03", "李四").replace("头雁效应".encode(), "引领效应".encode())))
    assert (await env.check()).change_kind == "changed"  # a real edit still counts
    assert len(env.versions()) == 2 and len(env.alerts("change")) == 1
