"""The administrator's side of ``sources.toml``: what ``monitor sources …`` and the
daemon's reload say about an edit, in the same words, and what they refuse."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.config import load_config
from tests.conftest import write_sources
from tests.sites import Response, Site
from tests.test_daemon_run import Daemons, daemons, wait_until  # noqa: F401  (a fixture)
from tests.test_listing_sources import NAME, Column


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _run(*args: str) -> tuple[int, str]:
    from monitor.cli import cli

    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output + (repr(result.exception) if result.exception
                                              else "")


def _listing(tmp_path: Path, site: Site, extra: str = "") -> Path:
    return write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "{NAME}"
        kind = "listing"
        url = "{site.url('/col/index.html')}"
        match = 't2021\\d{{4}}_\\d+\\.html$'
        interval = "1h"
        [sources.follow]
        content = "div.article"
        interval = "1d"
        {extra}
        [[watchers]]
        email = "analyst@example.org"
        sources = ["*"]
        """)


def test_a_listing_s_document_is_not_added_as_a_source_and_the_daemon_warns(
        tmp_path: Path, site: Site, daemons: Daemons,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    column = Column(site, 3)
    column.serve_replies()
    path = _listing(tmp_path, site)
    code, out = _run("check", "--sources", str(path))
    assert code == 0, out
    doc = site.url("/col/t20210101_101.html")
    before = path.read_text(encoding="utf-8")

    code, out = _run("sources", "add", doc + "#top", "--name", "doc2", "--sources", str(path))
    assert code == 2 and out.startswith("未添加："), out
    assert f"此页面已是栏目来源 {NAME} 跟踪的文档" in out
    assert out.index("同一页面只能属于一个来源") < out.index("技术细节：")
    assert f"is already a document of listing source '{NAME}'" in out
    assert path.read_text(encoding="utf-8") == before
    code, out = _run("sources", "add", doc + ";jsessionid=0A1B", "--name", "doc2",
                     "--sources", str(path))  # a session id names no other page
    assert code == 2 and f"此页面已是栏目来源 {NAME} 跟踪的文档" in out, out
    assert path.read_text(encoding="utf-8") == before
    code, out = _run("sources", "add", site.url("/col/t20210102_102.html;jsessionid=9Z"
                                                  "?other=1"),
                     "--name", "not-a-doc", "--sources", str(path))
    assert code == 0, out  # another query is another page
    assert "jsessionid" not in path.read_text(encoding="utf-8")  # written without it
    status, page = asyncio.run(_admin_add(path, monkeypatch, "doc3", doc))
    assert status == 400 and f"此页面已是栏目来源 {NAME} 跟踪的文档" in page  # /admin too
    assert "doc3" not in path.read_text(encoding="utf-8")
    before = path.read_text(encoding="utf-8")

    # a file written before the rule (or by hand) still runs, with a warning
    path.write_text(before.replace("[[watchers]]", f'[[sources]]\nname = "doc2"\n'
                                   f'url = "{doc}"\n\n[[watchers]]'), encoding="utf-8")
    d = daemons.start(path)
    d.wait_for(f"source 'doc2': is already a document of listing source '{NAME}'", 60)
    assert d.proc.poll() is None
    assert d.stop() == 0


def test_validate_refuses_a_file_without_sources_as_a_running_daemon_would(
        tmp_path: Path, site: Site) -> None:
    path = write_sources(tmp_path / "sources.toml", """
        [[watchers]]
        email = "analyst@example.org"
        sources = ["*"]
        """)
    code, out = _run("sources", "validate", "--sources", str(path))
    assert code == 2, out
    assert out.startswith("配置错误：") and "没有任何来源" in out and "ok —" not in out
    assert out.index("没有任何来源") < out.index("技术细节：") < out.index("no [[sources]]")

    path.write_text(path.read_text(encoding="utf-8") + f"""
[[sources]]
name = "one"
url = "{site.url('/one.html')}"
""", encoding="utf-8")
    code, out = _run("sources", "validate", "--sources", str(path))
    assert code == 0 and f"{path}: ok — 1 source, 1 watcher" in out.replace("\n", ""), out


def _two(tmp_path: Path, site: Site, a: str = "", b: str = "") -> Path:
    return write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "a"
        url = "{site.url('/a.html')}"
        {a}
        interval = "1h"

        [[sources]]
        name = "b"
        url = "{site.url('/b.html')}"
        {b}
        interval = "1h"
        """, settings='admin_email = "admin@example.org"\n')


def test_every_problem_of_a_source_is_told_in_file_order(tmp_path: Path, site: Site) -> None:
    from monitor.errors import ConfigError

    path = _two(tmp_path, site, a="ignore_text = ['点击[:']").read_text(encoding="utf-8")
    path = path.replace('interval = "1h"', 'interval = "30 分钟"', 1)
    try:
        load_config(write_text(tmp_path / "s.toml", path), env={})
    except ConfigError as exc:
        found = [(p.source, p.key) for p in exc.problems]
        said = [str(p) for p in exc.problems]
    assert found == [("a", "ignore_text"), ("a", "interval")], said
    regex, interval = (path.splitlines().index(line) + 1 for line in (
        "ignore_text = ['点击[:']", 'interval = "30 分钟"'))
    assert f"(at line {regex})" in said[0] and f"(at line {interval})" in said[1]


def test_a_rejected_edit_logs_and_files_every_problem_as_the_mail_tells_them(
        tmp_path: Path, site: Site, daemons: Daemons) -> None:  # noqa: F811
    for n in ("a", "b"):
        site.route(f"/{n}.html", "<html><body><p>" + "正文。" * 30 + "</p></body></html>")
    path = _two(tmp_path, site)
    d = daemons.start(path)
    wait_until(lambda: site.hits("/a.html") and site.hits("/b.html"), 60, "first checks")
    broken = _two(tmp_path, site, b="ignore_text = ['点击[:']").read_text(encoding="utf-8")
    path.write_text(broken.replace('interval = "1h"', 'interval = "30 分钟"', 1),
                    encoding="utf-8")
    d.wait_for("problem 2 of 2", 30)
    log = d.text()
    assert "edit rejected (problem 1 of 2)" in log and "source 'a': key 'interval'" in log
    assert "source 'b': key 'ignore_text'" in log
    d.wait_for("([monitor] 配置错误：2 个问题)", 30)  # the admin's mail, written
    _two(tmp_path, site)  # `alerts list` reads the file too
    code, out = _run("alerts", "list", "--json", "--sources", str(path))
    assert code == 0, out
    [config] = [a for a in json.loads(out) if a["event"] == "config"]
    assert config["source"] == "a, b"


def test_toml_and_encoding_errors_keep_their_reason_in_chinese(tmp_path: Path) -> None:
    path = write_sources(tmp_path / "sources.toml", """
        [[sources]]
        name = "a
        url = "https://a.gov.cn/"
        """)
    code, out = _run("sources", "validate", "--sources", str(path))
    assert code == 2 and "ok —" not in out
    line = path.read_text(encoding="utf-8").splitlines().index('name = "a') + 1
    said, detail = " ".join(out.split()).split("技术细节：")
    assert said == (f"配置错误：{path} 第 {line} 行第 10 列：不是有效的 TOML 格式："
                    "字符串缺少结束的引号 ")
    assert "Illegal character" in detail

    path.write_bytes(path.read_text(encoding="utf-8").replace('name = "a', 'name = "a"\n'
                     'title = "湖南省答复"').encode("gbk"))
    code, out = _run("sources", "validate", "--sources", str(path))
    said, detail = " ".join(out.split()).split("技术细节：")
    assert code == 2 and "文件不是 UTF-8 编码，看起来是 GBK/GB18030 编码：请另存为 UTF-8" in said
    assert "it looks like GBK/GB18030: save it as UTF-8" in detail


def test_a_removed_source_s_page_says_it_is_no_longer_checked_as_the_index_does(
        tmp_path: Path, site: Site) -> None:
    for n in ("a", "b"):
        site.route(f"/{n}.html", "<html><body><p>" + "正文。" * 30 + "</p></body></html>")
    path = _two(tmp_path, site)
    code, out = _run("check", "--sources", str(path))
    assert code == 0, out
    text = path.read_text(encoding="utf-8")
    path.write_text(text[:text.index("[[sources]]\nname = \"b\"")], encoding="utf-8")
    code, out = _run("check", "--sources", str(path))  # b removed: inactive, history kept
    assert code == 0, out

    index, removed, kept = asyncio.run(_web(path, "/", "/sources/b", "/sources/a"))
    assert '<a href="/sources/b">b</a> <span class="badge">已停用</span>' in index
    head = removed.split("</p>")[0]
    assert "已停用" in head and "正常" not in head
    assert "正常" in kept.split("</p>")[0] and "已停用" not in kept


async def _web(path: Path, *urls: str) -> list[str]:
    import httpx

    from monitor.web.app import create_app
    from storage import Store

    store = Store(os.environ["MONITOR_DATABASE_URL"])
    try:
        app = create_app(load_config(path, env={}), store)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://127.0.0.1") as web:
            return [(await web.get(url)).text for url in urls]
    finally:
        store.close()


def test_sources_before_the_command_and_status_times_with_their_zone(
        tmp_path: Path, site: Site) -> None:
    for n in ("a", "b"):
        site.route(f"/{n}.html", "<html><body><p>" + "正文。" * 30 + "</p></body></html>")
    path = _two(tmp_path, site)
    code, out = _run("--sources", str(path), "sources", "validate")
    assert code == 0 and "ok — 2 sources, 0 watchers" in " ".join(out.split()), out
    code, out = _run("--sources", str(tmp_path / "nowhere.toml"), "check",
                     "--sources", str(path))
    assert code == 0, out  # the command's own --sources wins
    code, out = _run("--sources", str(path), "status")
    assert code == 0, out
    flat = " ".join(out.split())
    assert "sources — times in Asia/Shanghai (+08:00)" in flat, out
    assert re.search(r"newest check \d{4}-\d\d-\d\d \d\d:\d\d \+08:00 \(", flat), out
    code, out = _run("show", "--help")
    assert "both in settings.timezone" in " ".join(out.split())


async def _admin_add(path: Path, monkeypatch: pytest.MonkeyPatch, name: str, url: str
                     ) -> tuple[int, str]:
    import httpx

    from storage import Store
    from tests.test_web_admin import BASE, admin_app, sign_in

    store = Store(os.environ["MONITOR_DATABASE_URL"])
    try:
        app = admin_app(path, store, monkeypatch)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url=BASE) as client:
            csrf = await sign_in(client)
            r = await client.post("/admin/add", headers={"Origin": BASE}, data={
                "csrf": csrf, "action": "save", "name": name, "url": url})
            return r.status_code, r.text
    finally:
        store.close()


def test_every_problem_is_told_once_in_file_order_duplicates_and_watchers_too(
        tmp_path: Path) -> None:
    path = write_text(tmp_path / "dup.toml", """[[sources]]
name = "a"
url = "https://a.gov.cn/x.html"
interval = "5 minutes"

[[sources]]
name = "a"
url = "https://a.gov.cn/y.html"
content = "div[["

[[sources]]
name = "c"
url = "https://a.gov.cn/y.html"

[[watchers]]
email = "not an address"
mode = "sometimes"
""")
    code, out = _run("sources", "validate", "--sources", str(path))
    said = [line for line in out.splitlines() if line.startswith("配置错误：")]
    assert code == 2, out
    assert [re.search(r"第 (\d+) 行", line)[1] for line in said[:4]] == [  # type: ignore[index]
        "4", "7", "9", "13"], out
    assert "名称重复（第 2 行已有同名来源）" in said[1] and "同一页面（a）" in said[3]
    assert said[2].endswith("不是有效的 CSS 选择器；写的是：div[[")
    watcher = said[4:]  # every problem of the watcher, not only its first
    # sources, not written, is told at the table's [[watchers]], before its keys
    assert [re.split("[ ：]", w.split("，键 ")[1])[0] for w in watcher] == [
        "sources", "email", "mode"], out
    assert "没有指定提醒哪些来源" in watcher[0] and "取值无效" not in watcher[0]

    path.write_text('[[sources]]\nname = "a"\nurl = "https://a.gov.cn/x.html"\n\n'
                    '[[sources]]\nname = "b"\nurl = "https://a.gov.cn/x.html;jsessionid=A1"\n'
                    '\n[[watchers]]\nemail = "analyst@example.org"\nsources = ["*"]\n',
                    encoding="utf-8")
    code, out = _run("sources", "validate", "--sources", str(path))
    assert code == 2 and "同一页面（a）" in out, out  # a session id names no other page

    path.write_text('[[watchers]]\nemail = "analyst@example.org"\n', encoding="utf-8")
    code, out = _run("sources", "validate", "--sources", str(path))
    assert code == 2 and out.count("配置错误：") == 2, out
    assert "没有任何来源" in out and "没有指定提醒哪些来源" in out


def test_a_literal_string_left_open_is_told_at_its_line_not_the_end_of_the_file(
        tmp_path: Path) -> None:
    path = write_text(tmp_path / "sources.toml", "[[sources]]\nname = 'a\n"
                      'url = "https://a.gov.cn/"  # a comment\n')
    code, out = _run("sources", "validate", "--sources", str(path))
    said = " ".join(out.split()).split("技术细节：")[0]
    assert code == 2 and said == (f"配置错误：{path} 第 2 行第 8 列：不是有效的 TOML 格式："
                                  "字符串缺少结束的引号 "), out


def test_validate_warns_of_a_listing_s_document_and_a_gone_one_may_be_added(
        tmp_path: Path, site: Site) -> None:
    from sqlalchemy import update

    from storage import Store
    from storage.models import Page

    column = Column(site, 3)
    column.serve_replies()
    path = _listing(tmp_path, site)
    code, out = _run("check", "--sources", str(path))
    assert code == 0, out
    doc, gone = site.url("/col/t20210101_101.html"), site.url("/col/t20210100_100.html")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("[[watchers]]", f'[[sources]]\nname = "doc1"\nurl = "{doc}"'
                                 "\n\n[[watchers]]"), encoding="utf-8")
    code, out = _run("sources", "validate", "--sources", str(path))
    assert code == 0 and "ok — 2 sources" in " ".join(out.split()), out
    assert f"warning: source 'doc1': is already a document of listing source '{NAME}'" in \
        " ".join(out.split())
    assert (f"警告：来源 'doc1' 已是栏目来源 '{NAME}' 跟踪的文档（{doc}）："
            "同一页面只能属于一个来源") in " ".join(out.split())  # Chinese first

    # taken off the column and gone since: no longer followed, so not in the way
    store = Store(load_config(path).settings.database_url)
    with store.session() as s:
        s.execute(update(Page).where(Page.url == gone).values(listed=False, status="gone"))
        s.commit()
    store.close()
    code, out = _run("sources", "add", gone, "--name", "back", "--sources", str(path))
    assert code == 0 and "此页面已是栏目来源" not in out, out
    assert 'name = "back"' in path.read_text(encoding="utf-8")


def test_status_shows_where_a_long_error_is_cut(tmp_path: Path, site: Site) -> None:
    from tests.test_listing_sources import GBK, short_column

    site.route("/col/index.html", Response(short_column(""), headers=GBK))
    path = _listing(tmp_path, site)
    _run("check", "--sources", str(path))  # no document links: listing_broken, a long error
    code, out = _run("--sources", str(path), "status")
    assert code == 0, out
    [row] = [line for line in out.splitlines() if NAME in line]
    assert "│ 出错：栏目页没有找到文档链接" in row and "…" in row, out


def test_a_rejected_edit_tells_a_duplicate_beside_a_bad_value_in_file_order(
        tmp_path: Path, site: Site, daemons: Daemons) -> None:  # noqa: F811
    for n in ("a", "b"):
        site.route(f"/{n}.html", "<html><body><p>" + "正文。" * 30 + "</p></body></html>")
    path = _two(tmp_path, site)
    d = daemons.start(path)
    wait_until(lambda: site.hits("/a.html") and site.hits("/b.html"), 60, "first checks")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('interval = "1h"', 'interval = "5 minutes"', 1)
                    .replace('name = "b"', 'name = "a"') + f'\n[[sources]]\nname = "c"\n'
                    f'url = "{site.url("/b.html")}"\n', encoding="utf-8")
    d.wait_for("problem 3 of 3", 30)
    log = d.text()
    told = [log.index(f"(problem {n} of 3)") for n in (1, 2, 3)]
    assert told == sorted(told)
    first, second, third = (log[i:log.index("\n", i)] for i in told)
    assert "key 'interval'" in first and "key 'name': duplicate name" in second, log
    assert "source 'c': key 'url': has the same page as source 'a'" in third
    d.wait_for("([monitor] 配置错误：3 个问题)", 30)
