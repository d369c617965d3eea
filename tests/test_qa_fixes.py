"""Defects found by a hands-on pass (QA1), each as the user met it.

Real parts: loopback HTTP servers (tests.sites), SQLite and PostgreSQL, the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_sources
from tests.sites import Site
from tests.test_cli_spine import _wide, flat, html, run, source  # noqa: F401 (_wide: autouse)


@pytest.fixture
def db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The archive, on SQLite and on PostgreSQL (the environment wins over the file)."""
    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    return db_url


# --- 1. a notice whose substance is its attachment ---------------------------------------

NOTICE = ('<html><head><meta charset="utf-8"><title>关于公布2024年度提案办理结果的通知'
          '</title></head><body><div class="content"><p>详见附件。</p><p>附件：'
          '<a href="/att.ofd">办理结果.ofd</a></p></div></body></html>')
BLANK = ('<html><head><meta charset="utf-8"><title>关于公布2024年度提案办理结果的通知'
         '</title></head><body><div class="content"><p>请稍候</p></div></body></html>')


def test_an_attachment_only_notice_is_archived(site: Site, tmp_path: Path,
                                               db: str) -> None:
    url = site.route("/notice", html(NOTICE.encode()))
    sources = write_sources(tmp_path / "sources.toml", source("n", url))
    tried = run("sources", "test", "n", "--sources", str(sources))
    assert tried.exit_code == 0, tried.output
    assert tried.stdout.splitlines()[0] == "关于公布2024年度提案办理结果的通知"
    assert "办理结果.ofd" in tried.stdout
    checked = run("check", "--sources", str(sources))
    assert checked.exit_code == 0, checked.output
    history = run("history", "n", "--sources", str(sources))
    assert "第1版" in history.stdout and "首次收录" in history.stdout


def test_a_near_empty_page_is_refused_in_chinese_with_the_way_out(
        site: Site, tmp_path: Path, db: str) -> None:
    url = site.route("/blank", html(BLANK.encode()))
    sources = write_sources(tmp_path / "sources.toml", source("b", url))
    tried = run("sources", "test", "b", "--sources", str(sources))
    assert tried.exit_code == 1
    said = flat(tried.stderr)
    assert said.startswith("失败：网站返回的页面几乎是空的，不是原页面"), said
    assert "accept_challenge_like = true" in said
    assert "技术细节：error: not the page: near-empty body" in said
    run("check", "--sources", str(sources))
    history = flat(run("history", "b", "--sources", str(sources)).stdout)
    assert "网站返回的页面几乎是空的" in history and "验证页" not in history


def test_validate_reports_every_access_problem_of_a_source(tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text('[[sources]]\nname = "a"\nurl = "http://127.0.0.1:1/inner.html"\n'
                       'headers = { Cookie = "JSESSIONID=x" }\n'
                       'proxy = "http://u:pw@127.0.0.1:3128"\ninterval = "30 分钟"\n'
                       'cookies_env = "not a name"\n', encoding="utf-8")
    result = run("sources", "validate", "--sources", str(sources))
    assert result.exit_code == 2
    keys = [line.split("key '")[1].split("'")[0] for line in result.stderr.splitlines()
            if line.startswith("技术细节：")]
    assert keys == ["headers.Cookie", "proxy", "interval", "cookies_env"], result.stderr


# --- 4. a read-only command where there is no archive -----------------------------------

READERS = (["status"], ["history", "a"], ["show", "a"], ["search", "实施方案"],
           ["alerts", "list"], ["export", "--jsonl", "-"], ["verify"], ["diff", "a"])


def test_reading_where_there_is_no_archive_says_so_and_creates_none(
        site: Site, tmp_path: Path) -> None:
    db = tmp_path / "data" / "monitor.db"  # the tests' MONITOR_DATABASE_URL
    sources = write_sources(tmp_path / "sources.toml", source("a", site.url("/a")))
    for args in READERS:
        out = run(*args, "--sources", str(sources))
        assert out.exit_code == 3, (args, out.output)
        said = flat(out.stderr)
        assert said.startswith(f"没有存档：数据库 {db} 不存在"), (args, said)
        assert "环境变量 MONITOR_DATABASE_URL" in said and str(sources) in said, said
        assert not db.exists(), args
    # broken too: both are named, the file's problem first
    sources.write_text(sources.read_text(encoding="utf-8") + "\noops = [\n", encoding="utf-8")
    out = run("status", "--sources", str(sources))
    assert out.exit_code == 3 and not db.exists()
    said = flat(out.stderr)
    assert said.startswith("配置错误：") and f"没有存档：数据库 {db} 不存在" in said, said
    # what checks pages still makes the archive
    sources.write_text(sources.read_text(encoding="utf-8").replace("oops = [", ""),
                       encoding="utf-8")
    site.route("/a", html(NOTICE.encode()))
    assert run("check", "--sources", str(sources)).exit_code == 0
    assert db.exists()
    assert run("status", "--sources", str(sources)).exit_code == 0


# --- 5, 6. an export of nothing; a date that is none ------------------------------------


def test_an_export_of_nothing_says_so_and_writes_no_file(site: Site, tmp_path: Path,
                                                         db: str) -> None:
    url = site.route("/notice", html(NOTICE.encode()))
    sources = write_sources(tmp_path / "sources.toml", source("n", url))
    assert run("check", "--sources", str(sources)).exit_code == 0
    warc = tmp_path / "none.warc.gz"
    out = run("export", "--from", "2099-01-01", "--warc", str(warc), "--sources", str(sources))
    assert out.exit_code == 3 and not warc.exists()
    said = flat(out.stderr)
    assert said.startswith("未找到：没有可导出的版本：--from 2099-01-01中没有任何版本，"
                           "未写入文件"), said
    assert "no versions to export" in said
    whole = run("export", "--warc", str(warc), "--sources", str(sources))
    assert whole.exit_code == 0 and warc.exists()


def test_a_date_that_is_none_is_bad_input_in_chinese(site: Site, tmp_path: Path,
                                                    db: str) -> None:
    url = site.route("/notice", html(NOTICE.encode()))
    sources = write_sources(tmp_path / "sources.toml", source("n", url))
    assert run("check", "--sources", str(sources)).exit_code == 0
    for args in (["diff", "n", "--from", "2026-13-01"], ["show", "n", "--at", "2026-02-30"],
                 ["search", "通知", "--from", "2026-13-01"],
                 ["export", "--jsonl", "-", "--to", "2026-1-1"]):
        out = run(*args, "--sources", str(sources))
        assert out.exit_code == 2, (args, out.output)
        said = flat(out.stderr)
        assert "Usage:" not in said and "日期无效：" in said, (args, said)
        assert said.startswith("输入有误：日期无效"), said
        assert "技术细节：bad input: " in said and "is not a date like" in said
