"""Read-only commands and what they show of the configuration: a paused source stays
in ``monitor status`` and the web index, marked 已暂停; a broken sources.toml does not
blind them (they warn and read the database); the refusals of ``sources add`` and
``diff --html``."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from click.testing import CliRunner, Result

from monitor.config import load_config
from tests.conftest import write_sources
from tests.sites import Site

BODY = "<html><body><p>" + "关于印发实施方案的通知。" * 20 + "</p></body></html>"


def run(*args: str) -> Result:
    from monitor.cli import cli

    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def two(tmp_path: Path, site: Site, *, b_paused: bool = False) -> Path:
    for n in ("a", "b"):
        site.route(f"/{n}.html", BODY)
    body = "".join(f'[[sources]]\nname = "{n}"\nurl = "{site.url(f"/{n}.html")}"\n'
                   + ('enabled = false\n' if n == "b" and b_paused else "") for n in "ab")
    return write_sources(tmp_path / "sources.toml", body)


async def _index(path: Path) -> str:
    import httpx

    from monitor.web.app import create_app
    from storage import Store

    store = Store(os.environ["MONITOR_DATABASE_URL"])
    try:
        app = create_app(load_config(path, env={}), store)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://127.0.0.1") as web:
            return (await web.get("/")).text
    finally:
        store.close()


def test_a_paused_source_stays_in_status_and_the_web_index_marked_paused(
        tmp_path: Path, site: Site) -> None:
    path = two(tmp_path, site)
    assert run("check", "--sources", str(path)).exit_code == 0
    two(tmp_path, site, b_paused=True)
    assert run("check", "--sources", str(path)).exit_code == 0  # syncs enabled = false
    out = run("status", "--sources", str(path))
    assert out.exit_code == 0, out.output
    [row] = [line for line in out.stdout.splitlines() if line.startswith("│ b ")]
    assert "已暂停" in row, out.stdout
    [other] = [line for line in out.stdout.splitlines() if line.startswith("│ a ")]
    assert "已暂停" not in other
    got = json.loads(run("status", "--json", "--sources", str(path)).stdout)
    by_name = {r["source"]: r for r in got["sources"]}
    assert by_name["b"]["paused"] is True and by_name["a"]["paused"] is False
    assert got["backlog"] is None  # a paused source is due for nothing
    page = asyncio.run(_index(path))
    row_b = page.split('href="/sources/b"')[1].split("</tr>")[0]
    assert "已暂停" in row_b and "已暂停" not in page.split('href="/sources/a"')[1].split(
        "</tr>")[0]


def test_a_broken_sources_file_blinds_no_read_only_command(tmp_path: Path, site: Site) -> None:
    """The daemon runs on its last good configuration; admins and archivists still read
    the archive: a warning (the problems in Chinese), then the command's answer."""
    path = two(tmp_path, site, b_paused=True)
    assert run("check", "--sources", str(path)).exit_code == 0
    good = path.read_text(encoding="utf-8")
    broken = {"a bad source": good + '\n[[sources]]\nname = "吉林"\nurl = "ftp://x"\n',
              "bad TOML": good + "\noops = [\n"}
    for what, text in broken.items():
        path.write_text(text, encoding="utf-8")
        for args in (["status"], ["history", "a"], ["show", "a"], ["search", "实施方案"],
                     ["alerts", "list"], ["export", "--jsonl", "-"], ["verify"]):
            out = run(*args, "--sources", str(path))
            assert out.exit_code == 0, (what, args, out.output)
            assert out.stderr.startswith("警告：配置文件有误，此命令只读取数据库"), out.stderr
            assert "配置错误：" in out.stderr and "技术细节：" in out.stderr, out.stderr
        status = run("status", "--json", "--sources", str(path))
        rows = {r["source"]: r["paused"] for r in json.loads(status.stdout)["sources"]}
        assert rows == {"a": False, "b": True}, (what, rows)  # the database's sources
        assert "第1版" in run("history", "a", "--sources", str(path)).stdout
        # what writes the file or checks pages still refuses
        for args in (["check"], ["sources", "validate"],
                     ["sources", "add", site.url("/a.html"), "--name", "c"]):
            out = run(*args, "--sources", str(path))
            assert out.exit_code == 2 and out.stderr.startswith(("配置错误：", "未添加：")), (
                args, out.output)
            assert "警告" not in out.stderr, out.stderr


def test_a_broken_file_naming_another_database_is_read_from_that_database(
        tmp_path: Path, site: Site, monkeypatch) -> None:
    """The database is the file's even when the file does not parse: not the default."""
    path = two(tmp_path, site)
    db = tmp_path / "elsewhere.db"
    monkeypatch.delenv("MONITOR_DATABASE_URL")
    text = path.read_text(encoding="utf-8").replace(
        "[settings]\n", f'[settings]\ndatabase_url = "sqlite:///{db}"\n')
    path.write_text(text, encoding="utf-8")
    assert run("check", "--sources", str(path)).exit_code == 0
    path.write_text(text + '\nignore_text = ["点击\\d+"]\n', encoding="utf-8")
    out = run("status", "--json", "--sources", str(path))
    assert out.exit_code == 0, out.output
    assert [r["source"] for r in json.loads(out.stdout)["sources"]] == ["a", "b"]
    assert str(db) in out.stderr and "数据库和时区取自文件" in out.stderr, out.stderr


def test_sources_add_adds_a_listing_and_suggests_it_for_a_column_page(
        tmp_path: Path, site: Site) -> None:
    import tomllib

    from tests.test_listing_sources import Column

    Column(site, 12).serve_replies()
    path = two(tmp_path, site)
    column = site.url("/col/index.html")
    out = run("sources", "add", column, "--name", "col", "--sources", str(path))
    assert out.exit_code == 0, out.output
    assert "这个页面是栏目页（10 篇文档）" in out.stdout and "--kind listing" in out.stdout
    assert run("sources", "remove", "col", "--sources", str(path)).exit_code == 0
    out = run("sources", "add", column, "--name", "col", "--kind", "listing",
              "--links", "ul.list a", "--sources", str(path))
    assert out.exit_code == 0, out.output
    assert "10 documents to track" in out.stdout and "栏目页" not in out.stdout
    added = tomllib.loads(path.read_text(encoding="utf-8"))["sources"][-1]
    assert added == {"name": "col", "url": column, "kind": "listing", "links": "ul.list a"}


def test_sources_add_exit_codes_say_refused_before_fetching_or_failed_the_test(
        tmp_path: Path, site: Site) -> None:
    """2: the file would be invalid (nothing fetched); 1: a valid source whose test fetch
    failed (--force adds it); 0: added."""
    path = two(tmp_path, site)
    refused = run("sources", "add", site.url("/a2.html"), "--name", "吉林", "--sources",
                  str(path))
    assert refused.exit_code == 2 and "名称无效；写的是：吉林" in refused.stderr
    links = run("sources", "add", site.url("/a.html"), "--name", "c", "--links", "a",
                "--sources", str(path))
    assert links.exit_code == 2 and "links 只用于栏目来源" in links.stderr
    failed = run("sources", "add", site.url("/missing.html"), "--name", "m", "--sources",
                 str(path))
    assert failed.exit_code == 1 and failed.stderr.startswith("未添加："), failed.output
    assert "m" not in {s.name for s in load_config(path, env={}).sources}


def test_a_chinese_name_goes_in_title(tmp_path: Path, site: Site) -> None:
    path = two(tmp_path, site)
    site.route("/jl.html", BODY)
    out = run("sources", "add", site.url("/jl.html"), "--name", "jilin", "--title", "吉林",
              "--sources", str(path))
    assert out.exit_code == 0, out.output
    assert load_config(path, env={}).source("jilin").title == "吉林"
