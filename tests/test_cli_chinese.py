"""What the commands print for people is Chinese first (a hands-on tester met English-only
lines): the summary lines with their English after, in brackets, for grep; ``status``'s
result column; ``diff``'s usage errors; the versions' names, taken back by ``show --at``
and ``diff --from/--to``; the web UI's not-found page (a SQLite file that cannot be opened:
tests/test_db_unreachable.py).

Real parts: a loopback site, SQLite, the CLI through click's runner, the web app over
httpx."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from storage import Store
from tests.conftest import write_sources
from tests.sites import Response, Site
from tests.test_archive_data import PLAN, REPLY, T0, Built, store_version
from tests.test_cli_spine import _wide, flat, html, run, source  # noqa: F401 (_wide: autouse)

PAGE = ('<html><head><meta charset="utf-8"><title>关于公布提案办理结果的通知</title></head>'
        '<body><div class="content"><p>根据有关规定，现将办理结果公布如下。</p><p>特此通知。'
        '</p></div></body></html>')


@pytest.fixture
def db(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MONITOR_DATABASE_URL", sqlite_url)
    return sqlite_url


def _checked(site: Site, tmp_path: Path) -> Path:
    """A page that fetches and one that answers 500, checked once."""
    ok = site.route("/notice", html(PAGE.encode()))
    broken = site.route("/broken", Response("服务器内部错误", status=500, headers={
        "Content-Type": "text/plain; charset=utf-8"}))
    sources = write_sources(tmp_path / "sources.toml", source("n", ok) + source("b", broken))
    return sources


# --- 1. summary lines ---------------------------------------------------------------------


def test_check_and_status_say_their_lines_chinese_first(site: Site, tmp_path: Path,
                                                        db: str) -> None:
    sources = _checked(site, tmp_path)
    checked = run("check", "--sources", str(sources))
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.splitlines()[-1] == (
        "首次收录 1，出错 1；提醒：已发送 0，待重试 0，已放弃 0（1 new, 1 error; alerts: 0 sent, "
        "0 retrying, 0 dead）"), checked.stdout
    kept = run("check", "--no-deliver", "--sources", str(sources))
    assert kept.stdout.splitlines()[-1] == "无变化 1，出错 1（1 unchanged, 1 error）", kept.stdout

    status = run("status", "--sources", str(sources))  # piped: one line a row
    assert status.exit_code == 0, status.output
    lines = status.stdout.splitlines()
    assert lines[0].startswith("健康：") and "（health: " in lines[0], lines[0]
    assert "最近一小时 4 次检查中 2 次失败" in lines[0]
    assert lines[1].startswith("来源 — 时间为 ") and "（sources — times in " in lines[1]
    table = [[c.strip() for c in line.split("│")] for line in lines if line.startswith("│")]
    result = {cells[1]: cells[4] for cells in table}
    # the status column: the page's status Chinese first, its word in brackets
    assert {cells[1]: cells[2] for cells in table}["n"] == "正常（ok）", table
    # the result column: the outcome's words, then the English; a failure as check says it
    assert result["n"] == "无变化（unchanged (200)）", result
    assert result["b"] == f"出错：网站返回错误状态（HTTP 500）：{site.url('/broken')}: HTTP 500"
    # --json keeps its fields and their English lines exactly
    as_json = json.loads(run("status", "--json", "--sources", str(sources)).stdout)
    assert as_json["health"]["line"].startswith("health: ")
    assert {s["source"]: s["last_outcome"] for s in as_json["sources"]} == {
        "n": "unchanged", "b": "error"}


def test_export_alerts_and_validate_lines(site: Site, tmp_path: Path, db: str) -> None:
    sources = _checked(site, tmp_path)
    assert run("check", "--sources", str(sources)).exit_code == 0
    out = tmp_path / "a.jsonl"
    exported = run("export", "--jsonl", str(out), "--sources", str(sources))
    assert exported.exit_code == 0, exported.output
    size = out.stat().st_size
    assert exported.stderr.splitlines()[-1] == (
        f"已导出 1 个版本到 {out}（{size:,} 字节）（exported 1 versions to {out} "
        f"({size:,} bytes)）")
    none = run("alerts", "list", "--pending", "--sources", str(sources))
    assert none.stdout.strip() == "没有待发的提醒（no pending alerts）", none.stdout
    assert run("alerts", "list", "--sources", str(sources)).stdout.strip() == \
        "没有提醒（no alerts）"
    delivered = run("alerts", "deliver", "--sources", str(sources))
    assert delivered.stdout.strip() == (
        "提醒：已发送 0，待重试 0，已放弃 0（0 sent, 0 retrying, 0 dead）"), delivered.stdout
    retried = run("alerts", "retry", "--sources", str(sources))
    assert retried.exit_code == 2 and "Usage:" not in retried.output
    assert retried.stderr.startswith("输入有误：请写要重试的提醒 id"), retried.stderr
    valid = run("sources", "validate", "--sources", str(sources))
    assert valid.stdout.strip() == (f"{sources}：有效，2 个来源，0 个接收人（{sources}: ok — 2 "
                                    "sources, 0 watchers）"), valid.stdout
    found = run("search", "特此通知", "--sources", str(sources))
    assert found.stdout.splitlines()[0] == (
        "1 个版本（1 个页面）含有「特此通知」，下面列出 1 个，最新的在前（1 version (1 page) "
        "contains '特此通知' (showing 1, newest first)）"), found.stdout


# --- 3. diff's usage errors -----------------------------------------------------------------


def _two_versions(db_url: str, tmp_path: Path) -> tuple[Path, list[int], int]:
    """REPLY with two versions, PLAN with one (its id given last); an empty sources file."""
    store = Store(db_url)
    built = Built()
    try:
        store.sync_sources([PLAN, REPLY])
        store_version(store, REPLY, "答复", "办理中。", T0, built)
        plan = store_version(store, PLAN, "规划", "总体要求。", T0, built)
        store_version(store, REPLY, "答复", "已办结。", T0.replace(day=20), built)
    finally:
        store.close()
    return write_sources(tmp_path / "sources.toml", ""), built.versions[REPLY.name], plan


USAGE = (([], "输入有误：缺少参数：请写两个版本的 id"),
         (["1", "2", "3"], "输入有误：参数过多：请写两个版本的 id"),
         (["hn-reply", "x"], "输入有误：两个参数应是两个版本的 id，如 monitor diff 41 57"),
         (["hn-reply", "--to", "2026-05-01"], "输入有误：--to 需要同时写 --from"),
         (["hn-reply", "--from", "2099-01-01"], "输入有误：--from 2099-01-01 是将来的时间"),
         (["hn-reply", "--from", "2026-05-20", "--to", "2026-05-02"],
          "输入有误：--to 2026-05-02 早于 --from 2026-05-20"),
         (["hn-reply", "--from", "第2版", "--to", "第1版"],
          "输入有误：--to 第1版 早于 --from 第2版"),
         (["hn-reply", "--context", "many"], "输入有误：--context 的取值无效"),
         (["hn-reply", "--nosuch"], "输入有误：没有选项 --nosuch"),
         (["hn-reply", "--from"], "输入有误：选项 --from 写法有误"),
         (["hn-reply", "--from", "soon"], "输入有误：日期无效：'soon'"))


def test_diff_usage_errors_are_chinese_first_exit_2(sqlite_url: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_DATABASE_URL", sqlite_url)
    sources, _, _ = _two_versions(sqlite_url, tmp_path)
    for args, said in USAGE:
        out = run("diff", "--sources", str(sources), *args)  # a bare --from last
        assert out.exit_code == 2, (args, out.output)
        assert "Usage:" not in out.output, (args, out.output)
        assert out.stderr.startswith(said), (args, out.stderr)
        assert "\n技术细节：bad input: " in out.stderr, (args, out.stderr)


# --- 4. versions by the names the commands print ------------------------------------------


def test_version_names_printed_are_taken_back(sqlite_url: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_DATABASE_URL", sqlite_url)
    sources, (v1, v2), plan = _two_versions(sqlite_url, tmp_path)
    first = run("show", "hn-reply", "--at", "第1版", "--sources", str(sources))
    assert first.exit_code == 0, first.output
    head = first.stdout.splitlines()[2]
    assert head.startswith(f"第1版（id {v1}） · 抓取于 "), head
    assert "办理中。" in first.stdout
    name = head.split(" · ")[0]  # 第1版（id N）, as printed
    for at in (name, f"#{v1}", f"id {v1}", str(v1)):
        again = run("show", "hn-reply", "--at", at, "--sources", str(sources))
        assert again.exit_code == 0 and again.stdout == first.stdout, (at, again.output)
    # show's name, the not-found sentence's and diff's heading all go into diff
    diff = run("diff", "hn-reply", "--from", name, "--to", "第2版", "--sources", str(sources))
    assert diff.exit_code == 0, diff.output
    assert f"第1版 #{v1} (" in diff.stdout and f"第2版 #{v2} (" in diff.stdout
    assert "已办结" in diff.stdout and "办理中" in diff.stdout, diff.stdout
    heading = diff.stdout.splitlines()[0].split("  ", 1)[1]  # 第1版 #N (…) → 第2版 #M (…)
    old, new = heading.split(" → ")
    again = run("diff", "hn-reply", "--from", old, "--to", new, "--sources", str(sources))
    assert again.stdout == diff.stdout, again.output
    by_ids = run("diff", name, f"第2版（id {v2}）", "--sources", str(sources))
    assert by_ids.exit_code == 0 and by_ids.stdout == diff.stdout, by_ids.output
    before = run("show", "hn-reply", "--at", "2026-01-01", "--sources", str(sources))
    told = before.stderr.split("它的", 1)[1].split("抓取于", 1)[0]  # 第1版（id N）
    assert told == name, before.stderr
    # what names nothing: not found (3); a number and an id that disagree: bad input (2)
    for at, code, said in (("第3版", 3, "未找到：hn-reply 没有第3版"),
                           (f"#{plan}", 3, f"未找到：id {plan} 的版本不是 hn-reply 的版本（它是 "
                                          "hb-ai-plan 的第1版）"),
                           (f"第2版（id {v1}）", 2, f"输入有误：第2版（id {v1}） 前后不一致："
                                                 f"id {v1} 是 hn-reply 的第1版，不是第2版")):
        out = run("show", "hn-reply", "--at", at, "--sources", str(sources))
        assert out.exit_code == code and out.stderr.startswith(said), (at, out.stderr)


# --- 6. the web UI's not-found page --------------------------------------------------------


async def test_the_web_not_found_page_is_chinese(store: Store) -> None:
    from monitor.web.app import create_app
    from tests.test_web_api import make_config

    app = create_app(make_config(), store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://127.0.0.1") as client:
        nowhere = await client.get("/no/such/page")
        assert nowhere.status_code == 404 and "text/html" in nowhere.headers["content-type"]
        assert "<h1>404 未找到</h1>" in nowhere.text
        assert "没有这个页面：请核对网址，或从来源列表进入（Not Found）" in nowhere.text
        unknown = await client.get("/sources/nosuch")
        assert unknown.status_code == 404 and "<h1>404 未找到</h1>" in unknown.text
        assert "所请求的来源、页面或版本不存在" in unknown.text and "nosuch" in unknown.text
        # the API's JSON is as it was: programs read it
        api = await client.get("/api/sources/nosuch")
        assert api.status_code == 404 and api.json()["detail"].startswith("not found: ")


# --- 4. the tables' headers -----------------------------------------------------------------


def _headers(output: str) -> list[list[str]]:
    """Each table's header cells (rich's heavy ``┃`` line), in the order printed."""
    return [[c.strip() for c in line.split("┃")[1:-1]] for line in output.splitlines()
            if line.startswith("┃")]


def test_tables_head_their_columns_in_chinese(site: Site, tmp_path: Path, db: str) -> None:
    """A column's header is a label: Chinese only (README "What the commands print");
    programs read ``--json``, whose keys keep their English names."""
    sources = _checked(site, tmp_path)
    checked = run("check", "--sources", str(sources))
    assert _headers(checked.stdout) == [["来源", "结果", "HTTP 状态", "说明", "用时"]]
    history = run("history", "n", "--sources", str(sources))
    assert _headers(history.stdout) == [["版本", "id", "抓取时间", "哈希", "标题", "字数", "变化",
                                         "最后确认"]], history.stdout
    listed = run("sources", "list", "--sources", str(sources))
    assert _headers(listed.stdout) == [["名称", "网址", "检查频率", "正文选择器", "标签"]]
    assert "url" in json.loads(run("sources", "list", "--json", "--sources",
                                   str(sources)).stdout)[0]


# --- 5. errors raised without Chinese words of their own -----------------------------------


def test_an_error_without_its_own_chinese_is_still_said_chinese_first(
        tmp_path: Path, sqlite_url: str) -> None:
    """``monitor serve`` on a port another program holds: the error has English words
    only (``the web UI could not listen on …``); the line says 错误 and a Chinese sentence
    first, the English after as the technical detail, never an English line alone."""
    import os
    import socket
    import subprocess
    import sys

    sources = write_sources(tmp_path / "sources.toml", source("a", "http://127.0.0.1:9/a"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "monitor", "serve", "--host", "127.0.0.1", "--port",
             str(port), "--sources", str(sources)], capture_output=True, text=True,
            timeout=120, env={**os.environ, "MONITOR_DATABASE_URL": sqlite_url},
            cwd=Path(__file__).resolve().parent.parent)
    assert out.returncode == 1, out.stderr
    assert out.stderr.splitlines()[-2:] == [
        "错误：命令未能完成，原因见下面的技术细节",
        f"技术细节：error: the web UI could not listen on 127.0.0.1:{port}"], out.stderr
