"""The spine of the command line — ``check``, ``history``, ``show``, ``sources validate``
and ``sources test`` — through click's runner, against real HTTP servers on 127.0.0.1.

Everything asserted is what a user sees: exit codes, the rows of the summary tables, the
messages of errors, the JSON a script reads, the exact bytes ``show --raw`` writes.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from rich.console import Console

from storage import Store
from storage.models import Check, Version
from tests.conftest import write_sources
from tests.pages import GBK_ONLY_LINE, seed, seed_page
from tests.sites import Response, Site

SHANGHAI = ZoneInfo("Asia/Shanghai")
REPO = Path(__file__).resolve().parents[1]
EDIT = ("头雁效应", "引领效应")  # a real change of seed 0's body
HOSTILE_1 = "[/] 关于[red]紧急[/red]通知[bold]"
HOSTILE_2 = "[/red][/] 更正[red]x"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich folds table cells at 80 columns when not on a terminal: give rows room.

    The consoles may have been made (and read COLUMNS) by another test in this worker."""
    from monitor.cli import common

    monkeypatch.setenv("COLUMNS", "250")
    for console in (common.console, common.err_console):
        monkeypatch.setattr(console, "_width", 250)


def run(*args: str) -> Result:
    """Invoke ``monitor ARGS``; an exception other than a clean exit fails the test with
    its traceback (a user must never see one)."""
    from monitor.cli import cli

    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def rows(output: str) -> dict[str, list[str]]:
    """The body rows of a rich table, keyed by their first cell."""
    out: dict[str, list[str]] = {}
    for line in output.splitlines():
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip().strip("│").split("│")]
            out.setdefault(cells[0], cells)
    return out


def flat(text: str) -> str:
    """Whitespace collapsed, so a message wrapped by rich still reads as one line."""
    return " ".join(text.split())


def refused_url() -> str:
    """A URL on a port nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/x"


def html(body: bytes, charset: str = "utf-8") -> Response:
    return Response(body, headers={"Content-Type": f"text/html; charset={charset}"})


def titled(n: int, title: str) -> bytes:
    """Seed ``n``'s page with another title in <title> and the heading (body unchanged)."""
    s = seed(n)
    page = seed_page(n).decode("utf-8")
    for before in (f"<title>{s.title}_", f'<h1 class="article-title">{s.title}</h1>'):
        assert before in page
        page = page.replace(before, before.replace(s.title, title))
    return page.encode("utf-8")


def source(name: str, url: str, extra: str = "") -> str:
    return f'\n[[sources]]\nname = "{name}"\nurl = "{url}"\n{extra}\n'


# --- check -----------------------------------------------------------------------------


def test_check_summarises_every_source_and_survives_failing_ones(site: Site,
                                                                  tmp_path: Path) -> None:
    site.route("/hn", html(seed_page(0)))
    gbk = seed_page(1, encoding="gb2312")
    site.route("/wh", html(gbk, "gb2312"))
    site.route("/broken", Response("服务器内部错误", status=500,
                                   headers={"Content-Type": "text/plain; charset=utf-8"}))
    sources = write_sources(tmp_path / "sources.toml", "".join([
        source("hn-reply", site.url("/hn")),
        source("wh-gbk", site.url("/wh")),
        source("broken", site.url("/broken")),
        source("refused", refused_url()),
        source("bad-selector", site.url("/hn?copy=1"), 'content = "div[id=main-text]"'),
    ]))

    first = run("check", "--sources", str(sources))
    assert first.exit_code == 0, first.output  # every source was checked: not a failure
    table = rows(first.stdout)
    assert set(table) == {"hn-reply", "wh-gbk", "broken", "refused", "bad-selector"}
    assert table["hn-reply"][1:3] == ["首次收录（new）", "200"]
    assert table["wh-gbk"][1:3] == ["首次收录（new）", "200"]
    assert table["broken"][1:3] == ["出错（error）", "500"]
    assert table["broken"][3] == f"网站返回错误状态（HTTP 500）：{site.url('/broken')}: HTTP 500"
    assert table["refused"][1:3] == ["出错（error）", "—"]
    assert table["refused"][3].startswith("无法连接网站（network）：")
    assert "connect" in table["refused"][3].lower()  # why: nobody answered
    assert table["bad-selector"][1] == "出错（error）"
    # The selector is shown as written, not eaten as a rich style tag.
    assert table["bad-selector"][3] == ("页面上找不到指定的正文区域（selector）：the content "
                                        "selector 'div[id=main-text]' matched nothing on "
                                        "the page")
    assert "2 new, 3 error" in first.stdout
    # A failed check never makes a version.
    broken = json.loads(run("history", "broken", "--json", "--sources", str(sources)).stdout)
    assert broken["versions"] == []
    assert [e["kind"] for e in broken["events"]] == ["failing"]  # but the failure is there

    # Same content, different noise (counter, date, session token): unchanged.
    site.route("/hn", html(seed_page(0, counter=4567, today="2027年1月5日", token="9f3e")))
    second = run("check", "--sources", str(sources))
    assert second.exit_code == 0, second.output
    table = rows(second.stdout)
    assert table["hn-reply"][1] == table["wh-gbk"][1] == "无变化（unchanged）"
    assert "2 unchanged, 3 error" in second.stdout

    # A real edit of the body: changed, with a summary a watcher understands.
    site.route("/hn", html(seed_page(0, edit=EDIT)))
    third = run("check", "--sources", str(sources))
    assert third.exit_code == 0, third.output
    table = rows(third.stdout)
    assert table["hn-reply"][1:3] == ["有变化（changed）", "200"]
    assert "段" in table["hn-reply"][3]  # e.g. "第4段修改"
    assert table["wh-gbk"][1] == "无变化（unchanged）"
    assert "1 changed, 1 unchanged, 3 error" in third.stdout

    # --json: the same results for a program, one object per source.
    site.route("/hn", html(seed_page(0)))
    as_json = run("check", "--json", "--sources", str(sources))
    assert as_json.exit_code == 0, as_json.output
    got = {r["source"]: r for r in json.loads(as_json.stdout)["results"]}
    assert got["hn-reply"]["outcome"] == "changed" and got["hn-reply"]["version_id"]
    assert got["wh-gbk"]["outcome"] == "unchanged"
    assert got["broken"]["outcome"] == "error" and got["broken"]["status"] == 500
    assert got["broken"]["error_kind"] == "http_status"

    # --source NAME checks that one only (and a glob picks by name).
    hits = {p: site.hits(p) for p in ("/hn", "/wh", "/broken")}
    only = run("check", "--source", "wh-gbk", "--sources", str(sources))
    assert only.exit_code == 0, only.output
    assert list(rows(only.stdout)) == ["wh-gbk"]
    assert "1 unchanged" in only.stdout and "error" not in only.stdout
    assert site.hits("/wh") == hits["/wh"] + 1
    assert (site.hits("/hn"), site.hits("/broken")) == (hits["/hn"], hits["/broken"])
    assert set(rows(run("check", "--source", "hn-*", "--sources",
                        str(sources)).stdout)) == {"hn-reply"}

    unknown = run("check", "--source", "nope", "--sources", str(sources))
    assert unknown.exit_code == 3  # not found: the argument, not the file, is wrong
    assert "no source named 'nope'" in flat(unknown.stderr)
    assert str(sources) in flat(unknown.stderr)


BAD_FILES = {
    "unknown-key": (source("hn-reply", "{url}", 'contnet = "div.v_news_content"'),
                    ["source 'hn-reply'", "key 'contnet'", "unknown key"]),
    "bad-regex": (source("hn-reply", "{url}", "ignore_text = ['点击[:：']"),
                  ["source 'hn-reply'", "key 'ignore_text'", "not a valid regex"]),
    "bad-interval": (source("hn-reply", "{url}", 'interval = "6 hours"'),
                     ["source 'hn-reply'", "key 'interval'"]),
    "bad-selector": (source("hn-reply", "{url}", 'content = "div[["'),
                     ["source 'hn-reply'", "key 'content'", "not a valid CSS selector"]),
    "duplicate-name": (source("hn-reply", "{url}") + source("hn-reply", "{url}?b"),
                       ["source 'hn-reply'", "key 'name'", "duplicate name"]),
    "not-toml": ('\n[[sources]]\nname = "hn-reply\n', ["not valid TOML"]),
    # The message quotes "[[sources]]": it must survive rich's markup parser.
    "sources-not-array": ('\n[sources]\nname = "hn-reply"\n',
                          ["key 'sources'", "must be an array of tables: [[sources]]"]),
}


def test_check_table_says_each_error_in_chinese_first(site: Site, tmp_path: Path) -> None:
    """An error cell is the sentence of ``monitor.zh`` (the one alerts use), with the HTTP
    status or the kind code, then the English message as the technical detail."""
    site.route("/gone", Response("没有了", status=404))
    sources = write_sources(tmp_path / "sources.toml", source("gone", site.url("/gone")))
    table = rows(run("check", "--sources", str(sources)).stdout)
    assert table["gone"][3].startswith(
        f"页面已删除或不存在（HTTP 404）：{site.url('/gone')}: HTTP 404, not found")

    # a private address, refused before any connection
    blocked = tmp_path / "blocked.toml"
    blocked.write_text('[settings]\nallow_private_network = false\n'
                       + source("lan", "http://127.0.0.1:9/x"), encoding="utf-8")
    out = run("check", "--sources", str(blocked))
    assert out.exit_code == 0, out.output
    cell = rows(out.stdout)["lan"][3]
    assert cell.startswith("此网址不允许抓取（blocked）：") and "127.0.0.1" in cell, cell


@pytest.mark.parametrize("command", [["check"], ["sources", "validate"]],
                         ids=["check", "validate"])
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_configuration_error_exits_2_naming_file_source_and_key(
        site: Site, tmp_path: Path, command: list[str], case: str) -> None:
    url = site.route("/hn", html(seed_page(0)))
    body, expected = BAD_FILES[case]
    sources = write_sources(tmp_path / "sources.toml", body.replace("{url}", url))
    result = run(*command, "--sources", str(sources))
    assert result.exit_code == 2, result.output
    message = flat(result.stderr)
    assert message.startswith("配置错误："), message  # Chinese first, as the mail
    assert f"技术细节：configuration error: {sources}" in message, message
    for part in expected:
        assert part in message, message
    assert "Traceback" not in result.output
    assert site.hits("/hn") == 0  # nothing was fetched
    assert not (tmp_path / "data" / "monitor.db").exists()  # nor stored


def test_missing_sources_file_is_a_configuration_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    for command in (["check"], ["sources", "validate"], ["history", "x"]):
        result = run(*command, "--sources", str(missing))
        assert result.exit_code == 2
        assert flat(result.stderr) == (f"配置错误：{missing}：找不到文件 技术细节："
                                       f"configuration error: {missing}: file not found")


# --- history and show ------------------------------------------------------------------


def test_history_and_show_by_id_name_and_date(site: Site, tmp_path: Path, db_url: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The database named by ``[settings] database_url`` (SQLite, then PostgreSQL); the
    page is GBK labelled gb2312, with characters GB2312 does not have."""
    monkeypatch.delenv("MONITOR_DATABASE_URL")
    v1_bytes, v2_bytes = seed_page(0, encoding="gb2312"), seed_page(0, encoding="gb2312",
                                                                    edit=EDIT)
    url = site.route("/hn", html(v1_bytes, "gb2312"))
    sources = write_sources(tmp_path / "sources.toml", source("hn-reply", url),
                            settings=f'database_url = "{db_url}"')
    assert run("check", "--sources", str(sources)).exit_code == 0
    site.route("/hn", html(v2_bytes, "gb2312"))
    assert "changed" in run("check", "--sources", str(sources)).stdout
    assert not (tmp_path / "data").exists()  # not the environment's database

    listed = run("history", "hn-reply", "--json", "--sources", str(sources))
    assert listed.exit_code == 0, listed.output
    v1, v2 = json.loads(listed.stdout)["versions"]
    title = seed(0).title
    assert (v1["title"], v2["title"]) == (title, title)
    page = json.loads(listed.stdout)["page"]  # its own title; no listing's (a plain page)
    assert (page["title"], page["list_title"]) == (title, "") and title
    assert v1["change_kind"] is None and v2["change_kind"] == "changed"
    assert v2["id"] > v1["id"] and v1["content_hash"] != v2["content_hash"]
    assert all(re.fullmatch(r"[0-9a-f]{64}", v["content_hash"]) for v in (v1, v2))
    assert v1["source"] == "hn-reply" and v1["url"] == url
    by_url = run("history", url, "--json", "--sources", str(sources))
    assert json.loads(by_url.stdout)["versions"] == [v1, v2]

    table = run("history", "hn-reply", "--sources", str(sources))
    assert table.exit_code == 0
    assert "history of hn-reply" in table.stdout
    got = rows(table.stdout)  # by 第N版; the global id beside it
    assert list(got) == ["第1版", "第2版"]
    assert [got["第1版"][1], got["第2版"][1]] == [str(v1["id"]), str(v2["id"])]
    assert got["第1版"][3:5] == [v1["content_hash"][:12], title]
    assert got["第1版"][6] == "首次收录"
    assert got["第2版"][3] == v2["content_hash"][:12]
    assert got["第2版"][6].startswith("正文修改: 第")
    at1 = datetime.fromisoformat(v1["fetched_at"])
    assert got["第1版"][2] == at1.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S +08:00")
    assert list(rows(run("history", url, "--sources", str(sources)).stdout)) == list(got)
    gone = run("history", "nope", "--sources", str(sources))
    assert gone.exit_code == 3 and flat(gone.stderr) == (
        "未找到：没有名为 nope 的来源：monitor status 列出所有来源 技术细节：not found: no "
        "source named 'nope' and no page at that URL")

    # show ID: title, URL, metadata, the text of that version.
    shown = run("show", str(v1["id"]), "--sources", str(sources))
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[:2] == [title, url]
    assert lines[2].startswith(f"第1版（id {v1['id']}） · 抓取于 ")
    assert lines[2].endswith(v1["content_hash"][:12])
    assert "  文号: 湘工信提案函〔2021〕254号" in lines
    assert "头雁效应" in shown.stdout and "引领效应" not in shown.stdout
    assert GBK_ONLY_LINE.replace(" ", "") in shown.stdout.replace(" ", "")  # 喆, 镕
    # show NAME: the latest version.
    latest = run("show", "hn-reply", "--sources", str(sources)).stdout
    assert f"第2版（id {v2['id']}） ·" in latest and "引领效应" in latest

    # --at: the version current then.  Between the two fetches, given with an offset or
    # as a naive time in settings.timezone (Asia/Shanghai); a bare date means its end.
    at2 = datetime.fromisoformat(v2["fetched_at"])
    assert at2 > at1
    between = (at1 + (at2 - at1) / 2).astimezone(SHANGHAI)
    for when in (between.isoformat(), between.replace(tzinfo=None).isoformat()):
        got_at = json.loads(run("show", "hn-reply", "--at", when, "--json",
                                "--sources", str(sources)).stdout)
        assert got_at["id"] == v1["id"], when
    day = at2.astimezone(SHANGHAI).date().isoformat()
    assert json.loads(run("show", url, "--at", day, "--json",
                          "--sources", str(sources)).stdout)["id"] == v2["id"]
    after = (at2 + timedelta(seconds=1)).isoformat()
    assert json.loads(run("show", "hn-reply", "--at", after, "--json",
                          "--sources", str(sources)).stdout)["id"] == v2["id"]
    # Before the first version: a clear error, not a traceback.
    before = (at1.astimezone(SHANGHAI).date() - timedelta(days=1)).isoformat()
    early = run("show", "hn-reply", "--at", before, "--sources", str(sources))
    assert early.exit_code == 3
    assert flat(early.stderr).startswith(f"未找到：{before} 时 hn-reply 还没有版本")
    assert (f"not found: no version of hn-reply before the end of {before} (Asia/Shanghai)"
            in flat(early.stderr))
    assert "Traceback" not in early.output
    bad_date = run("show", "hn-reply", "--at", "yesterday", "--sources", str(sources))
    assert bad_date.exit_code == 2 and "not a date like 2024-05-01" in bad_date.output

    # --json: a script reads the version.
    data = json.loads(run("show", str(v1["id"]), "--json", "--sources", str(sources)).stdout)
    assert (data["id"], data["source"], data["url"], data["title"]) == (v1["id"], "hn-reply",
                                                                        url, title)
    assert data["content_hash"] == v1["content_hash"] and data["http_status"] == 200
    assert data["metadata"]["文号"] == "湘工信提案函〔2021〕254号"
    assert "头雁效应" in data["text"] and "喆" in data["text"]
    # The text printed is the text stored, not broken at 80 columns when piped.
    monkeypatch.setenv("COLUMNS", "80")
    plain = run("show", str(v1["id"]), "--sources", str(sources)).stdout
    assert plain.split("\n\n", 1)[1] == data["text"] + "\n"
    assert max(map(len, data["text"].splitlines())) > 80
    monkeypatch.setenv("COLUMNS", "250")

    # --raw: the exact bytes fetched, GBK and all (v1 is stored as a delta of v2's chain).
    for args, expected in (([str(v1["id"])], v1_bytes), (["hn-reply"], v2_bytes),
                           (["hn-reply", "--at", between.isoformat()], v1_bytes)):
        raw = run("show", *args, "--raw", "--sources", str(sources))
        assert raw.exit_code == 0
        assert raw.stdout_bytes == expected, args
    assert "喆".encode("gbk") in v1_bytes and b"charset=gb2312" in v1_bytes

    missing = run("show", "999999", "--sources", str(sources))
    assert missing.exit_code == 3 and flat(missing.stderr) == (
        "未找到：没有 id 为 999999 的版本（版本的 id 见 monitor history 来源名） "
        "技术细节：not found: no version with id 999999")


def test_show_of_a_source_without_versions_says_so(site: Site, tmp_path: Path) -> None:
    url = site.route("/broken", Response("no", status=500))
    sources = write_sources(tmp_path / "sources.toml", source("broken", url))
    assert run("check", "--sources", str(sources)).exit_code == 0
    result = run("show", "broken", "--sources", str(sources))
    assert result.exit_code == 3
    assert flat(result.stderr) == ("未找到：broken 还没有任何版本（页面检查成功后才有：monitor "
                                   "status 看它的检查情况） 技术细节：not found: broken has no "
                                   "version yet")


# --- sources validate / test -----------------------------------------------------------


def test_validate_the_shipped_file_and_a_good_one(tmp_path: Path) -> None:
    shipped = REPO / "sources.toml"
    count = len(tomllib.loads(shipped.read_text(encoding="utf-8"))["sources"])
    result = run("sources", "validate", "--sources", str(shipped))
    assert result.exit_code == 0, result.output
    assert flat(result.stdout).startswith(f"{shipped}：有效，{count} 个来源，")
    assert f"（{shipped}: ok — {count} sources, " in flat(result.stdout)

    good = write_sources(tmp_path / "sources.toml", "".join([
        source("hn-reply", "http://127.0.0.1:1/a",
               'content = "div.v_news_content"\nignore = [".share", "#hits"]\n'
               "ignore_text = ['点击[:：]\\s*\\d*']\ninterval = \"6h\"\ntags = [\"hunan\"]"),
        source("wh-reply", "http://127.0.0.1:1/b", 'cron = "0 8 * * *"'),
    ]) + '\n[[watchers]]\nemail = "analyst@example.org"\nsources = ["hn-*"]\n')
    result = run("sources", "validate", "--sources", str(good))
    assert result.exit_code == 0, result.output
    assert flat(result.stdout) == (f"{good}：有效，2 个来源，1 个接收人（{good}: ok — 2 sources, "
                                   "1 watcher）")


def test_sources_test_shows_what_would_be_stored_and_stores_nothing(
        site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # as when piped: lines must not be broken
    url = site.route("/hn", html(seed_page(0)))
    gbk_url = site.route("/wh", html(seed_page(1, encoding="gb2312"), "gb2312"))
    broken = site.route("/broken", Response("no", status=500))
    sources = write_sources(tmp_path / "sources.toml",
                            source("hn-reply", url) + source("broken", broken))

    typo = run("sources", "test", "hn-replyy", "--sources", str(sources))
    assert typo.exit_code == 3 and "未找到：没有名为 hn-replyy 的来源" in flat(typo.stderr)

    result = run("sources", "test", "hn-reply", "--sources", str(sources))
    assert result.exit_code == 0, result.output
    out = result.stdout
    lines = out.splitlines()
    assert lines[0] == seed(0).title
    # the fetch, Chinese first, then the English line (for grep) in brackets
    size = len(seed_page(0))
    assert lines[1] == (f"{url} · HTTP 200 · 编码 utf-8 · {size:,} 字节 · 直接请求（未用浏览器）"
                        f"（HTTP 200 · utf-8 · {size} bytes · fetched with http）")
    meta = rows(out)
    assert meta["索引号"] == ["索引号", "430S00/2021-08026431"]
    assert meta["文号"] == ["文号", "湘工信提案函〔2021〕254号"]
    text_at = lines.index("正文（text）")
    noise_at = lines.index("已去除的干扰内容（noise removed）")
    text = "\n".join(lines[text_at + 1:noise_at])
    assert text.startswith("湘工信提案函〔2021〕254号\n向淑晃委员:")
    assert "头雁效应" in text and "点击" not in text and "当前位置" not in text
    assert "  - view counter: 点击: 123" in lines[noise_at:]
    assert any(ln.startswith("  - breadcrumb: 当前位置") for ln in lines[noise_at:])

    data = json.loads(run("sources", "test", "hn-reply", "--json",
                          "--sources", str(sources)).stdout)
    assert data["title"] == seed(0).title and data["status"] == 200
    assert data["metadata"]["文号"] == "湘工信提案函〔2021〕254号"
    assert data["text"] == text
    assert "view counter: 点击: 123" in data["removed"]

    # A URL that is not in the file is tried as is (here GBK labelled gb2312).
    adhoc = run("sources", "test", gbk_url, "--sources", str(sources))
    assert adhoc.exit_code == 0, adhoc.output
    assert adhoc.stdout.splitlines()[0] == seed(1).title
    assert "gb18030" in adhoc.stdout.splitlines()[1]

    failed = run("sources", "test", "broken", "--sources", str(sources))
    assert failed.exit_code == 1
    assert flat(failed.stderr) == ("失败：网站返回错误状态（HTTP 500） "
                                   f"技术细节：error: {broken}: HTTP 500")

    # Nothing was stored: no database was even created (history says there is none and
    # makes none); an archive made now holds no version and no check.
    db = tmp_path / "data" / "monitor.db"
    assert not db.exists()
    history = run("history", "hn-reply", "--sources", str(sources))
    assert history.exit_code == 3 and flat(history.stderr).startswith("没有存档：")
    assert not db.exists()
    store = Store(os.environ["MONITOR_DATABASE_URL"])
    try:
        assert (store.count(Version), store.count(Check)) == (0, 0)
    finally:
        store.close()


# --- rich markup in page- and error-derived text ---------------------------------------


def test_titles_and_errors_with_rich_markup_are_printed_literally(
        site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = site.route("/dg", html(titled(2, HOSTILE_1)))
    bad = site.route("/hn", html(seed_page(0)))
    sources = write_sources(tmp_path / "sources.toml", source("dg-hostile", url)
                            + source("bad-selector", bad, 'content = "div[id=main-text]"'))

    first = run("check", "--sources", str(sources))
    assert first.exit_code == 0, first.output
    assert rows(first.stdout)["dg-hostile"][1] == "首次收录（new）"
    assert "'div[id=main-text]'" in rows(first.stdout)["bad-selector"][3]

    site.route("/dg", html(titled(2, HOSTILE_2)))
    second = run("check", "--sources", str(sources))
    assert second.exit_code == 0, second.output
    row = rows(second.stdout)["dg-hostile"]
    assert row[1] == "有变化（changed）"
    assert f"标题：{HOSTILE_1} → {HOSTILE_2}" in row[3]

    history = run("history", "dg-hostile", "--sources", str(sources))
    assert history.exit_code == 0, history.output
    v1, v2 = rows(history.stdout).values()
    assert (v1[4], v2[4]) == (HOSTILE_1, HOSTILE_2)
    assert v1[6] == "首次收录"
    assert f"标题：{HOSTILE_1} → {HOSTILE_2}" in v2[6]

    shown = run("show", "dg-hostile", "--sources", str(sources))
    assert shown.stdout.splitlines()[0] == HOSTILE_2
    tried = run("sources", "test", "dg-hostile", "--sources", str(sources))
    assert tried.exit_code == 0 and tried.stdout.splitlines()[0] == HOSTILE_2
    status = run("status", "--sources", str(sources))
    assert status.exit_code == 0, status.output
    assert "'div[id=main-text]'" in rows(status.stdout)["bad-selector"][3]
    listed = run("sources", "list", "--sources", str(sources))
    assert rows(listed.stdout)["bad-selector"][3] == "div[id=main-text]"

    # An argument echoed back in an error is not markup either.
    for target in ("[/]", "[red]x"):
        missing = run("history", target, "--sources", str(sources))
        assert missing.exit_code == 3
        assert flat(missing.stderr).startswith(f"未找到：没有名为 {target} 的来源"), missing.stderr

    # On a terminal: the tags are still text, and nothing turned red.
    import monitor.cli.history as history_cli

    screen = io.StringIO()
    monkeypatch.setattr(history_cli, "console", Console(
        file=screen, force_terminal=True, width=250, color_system="standard"))
    assert run("history", "dg-hostile", "--sources", str(sources)).exit_code == 0
    assert "\x1b[31m" not in screen.getvalue()
    plain = ANSI.sub("", screen.getvalue())
    assert HOSTILE_1 in plain and HOSTILE_2 in plain
