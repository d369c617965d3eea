"""``monitor search``, ``export``, ``diff`` and ``serve`` through the real command line."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rich.console import Console
from warcio.archiveiterator import ArchiveIterator

from storage import Store
from tests.conftest import write_sources
from tests.test_archive_data import Built, build_archive

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def archive(tmp_path: Path) -> tuple[Path, Built]:
    """A sources file whose database (the test's MONITOR_DATABASE_URL) holds the archive."""
    store = Store(os.environ["MONITOR_DATABASE_URL"])
    try:
        built = build_archive(store)
    finally:
        store.close()
    return write_sources(tmp_path / "sources.toml", ""), built


def run(*args: str) -> Result:
    from monitor.cli import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_search_of_brackets_or_punctuation_alone_is_refused(
        archive: tuple[Path, Built]) -> None:
    """Brackets or punctuation alone fold to separators, found in nearly every text:
    refused as an empty query is, not a list of everything."""
    sources, _ = archive
    for query in ("〔〕", "()", "【】", "（ ）", "，"):
        out = run("search", query, "--sources", str(sources))
        assert out.exit_code == 2 and out.stdout == "", (query, out.stdout)
        assert out.stderr.startswith(f"输入有误：搜索词「{query}」只有括号或标点，没有可搜索的"
                                     "文字（括号和标点在检索时只作分隔）：请输入至少一个字或"
                                     "数字\n技术细节：bad input: "), out.stderr
    # beside a real term, such a term is dropped: the same hits as the term alone
    alone = run("search", "人工智能", "--sources", str(sources)).stdout
    assert run("search", "人工智能 （）", "--sources", str(sources)).stdout == alone.replace(
        "'人工智能'", "'人工智能 （）'").replace("「人工智能」", "「人工智能 （）」")


def test_search_prints_highlighted_passages_or_json(archive: tuple[Path, Built]) -> None:
    sources, built = archive
    out = run("search", "人工智能产业", "--sources", str(sources))
    assert out.exit_code == 0, out.output
    assert out.output.startswith("3 个版本（1 个页面）含有「人工智能产业」，下面列出 1 个，"
                                 "最新的在前（3 versions (1 page) contain '人工智能产业' "
                                 "(showing 1, newest first)）\n")
    assert "hb-ai-plan · 第3版 · 2026-05-20 10:00" in out.output
    assert "also in 2 earlier versions" in out.output and "第2版 ·" not in out.output
    every = run("search", "人工智能产业", "--all-versions", "--limit", "1", "--page", "2",
                "--sources", str(sources))
    assert every.output.startswith("3 个版本含有「人工智能产业」") and "第2版 ·" in every.output
    assert "（3 versions contain '人工智能产业'" in every.output
    # a hit is read by its page's number, not by the global id (the JSON keeps that)
    reply = built.versions["hn-reply"][1]
    assert reply != 2
    answered = run("search", "充电设施", "--sources", str(sources)).output
    assert "hn-reply · 第2版 · " in answered and f"version {reply}" not in answered
    assert answered.startswith("1 个版本（1 个页面）含有「充电设施」")
    assert "（1 version (1 page) contains '充电设施'" in answered
    as_json = json.loads(run("search", "充电设施", "--json", "--sources", str(sources)).output)
    assert [(h["version_id"], h["number"]) for h in as_json["hits"]] == [(reply, 2)]
    by_number = run("search", "鄂政发[2026]5号", "--field", "文号", "--sources", str(sources))
    assert "in 文号" in by_number.output and "文号：鄂政发〔2026〕5号" in by_number.output
    assert "…到2030年，全省人工智能产业核心规模达到1200亿元。…" in out.output
    found = json.loads(run("search", "财政", "--source", "hb-ai-plan", "--from", "2026-05-15",
                           "--json", "--sources", str(sources)).output)
    assert [h["version_id"] for h in found["hits"]] == built.versions["hb-ai-plan"][2:]
    assert found["method"] in ("fts5", "pg_trgm")
    assert found["hits"][0]["passage"]["spans"] == [[2, 4]]
    missing = CliRunner().invoke(_cli(), ["search", "x", "--source", "nope", "--sources",
                                          str(sources)])
    assert missing.exit_code == 3 and "nope" in missing.output


def _cli():  # type: ignore[no-untyped-def]
    from monitor.cli import cli

    return cli


def test_export_warc_and_jsonl(archive: tuple[Path, Built], tmp_path: Path) -> None:
    sources, built = archive
    warc = tmp_path / "out.warc.gz"
    out = run("export", "--source", "hn-reply", "--warc", str(warc), "--sources", str(sources))
    assert out.exit_code == 0 and "exported 2 versions" in out.output
    again = run("export", "--source", "hn-reply", "--warc", str(warc), "--sources",
                str(sources))
    assert again.exit_code == 2 and f"{warc} 已存在，未覆盖（清单或签名" in again.output
    assert "already exists" in again.output and "--force" in again.output
    assert "Usage:" not in again.output and again.output.startswith(str(warc))
    before = warc.read_bytes()
    forced = run("export", "--source", "hn-reply", "--warc", str(warc), "--force",
                 "--sources", str(sources))
    assert forced.exit_code == 0 and warc.read_bytes() != before  # new record ids
    with warc.open("rb") as fh:
        records = [(r.rec_type, r.content_stream().read()) for r in ArchiveIterator(fh)]
    assert [t for t, _ in records] == ["warcinfo"] + ["request", "response", "metadata"] * 2
    assert records[2][1] == built.raw[built.versions["hn-reply"][0]]
    jsonl = tmp_path / "out.jsonl"
    run("export", "--to", "2026-05-02", "--jsonl", str(jsonl), "--sources", str(sources))
    lines = [json.loads(x) for x in jsonl.read_text(encoding="utf-8").splitlines()]
    assert {x["source"] for x in lines} == {"hb-ai-plan", "bj-housing"}
    both = CliRunner().invoke(_cli(), ["export", "--warc", "a", "--jsonl", "b",
                                       "--sources", str(sources)])
    assert both.exit_code == 2 and "exactly one" in both.output

    # JSON lines to a pipe; an unwritable path is one clear line, not a traceback
    piped = run("export", "--source", "hn-reply", "--jsonl", "-", "--sources", str(sources))
    assert piped.exit_code == 0 and not (Path.cwd() / "-").exists()
    assert [json.loads(x)["version_id"] for x in piped.stdout.splitlines()] == \
        built.versions["hn-reply"]
    assert "to standard output" in piped.stderr
    missing = tmp_path / "no" / "such" / "dir" / "x.jsonl"
    bad = CliRunner().invoke(_cli(), ["export", "--jsonl", str(missing), "--sources",
                                      str(sources)])
    assert bad.exit_code == 1 and isinstance(bad.exception, SystemExit)  # not a crash
    assert f"error: {missing}: No such file or directory" in " ".join(bad.output.split())
    assert "Traceback" not in bad.output
    huge = CliRunner().invoke(_cli(), ["show", str(10**20), "--sources", str(sources)])
    assert huge.exit_code == 3 and huge.output.startswith("未找到：没有这个 id 的版本")


def test_diff_two_ids_dates_last_change_and_html(archive: tuple[Path, Built],
                                                 tmp_path: Path) -> None:
    sources, built = archive
    plan = built.versions["hb-ai-plan"]
    out = run("diff", str(plan[0]), str(plan[1]), "--sources", str(sources))
    assert out.exit_code == 0, out.output
    assert "[-1000-]{+1200+}亿元" in out.output and "\x1b[" not in out.output  # piped: plain
    assert out.output.splitlines()[0].startswith(f"hb-ai-plan  第1版 #{plan[0]} (")
    reply = built.versions["hn-reply"][0]
    across = run("diff", str(plan[0]), str(reply), "--sources", str(sources)).output
    assert across.startswith(f"注意：id {plan[0]} 是 hb-ai-plan（")  # said first, on stderr
    assert (f"warning: version {plan[0]} is of hb-ai-plan" in across
            and "two different pages compared" in across)
    head = next(line for line in across.splitlines() if not line.startswith("注意"))
    assert head.startswith(f"hb-ai-plan 第1版 #{plan[0]} (")
    assert f"→ hn-reply 第1版 #{reply} (" in head
    last = run("diff", "hb-ai-plan", "--sources", str(sources)).output
    assert f"#{plan[1]}" in last and f"#{plan[2]}" in last
    assert "发文日期: 2026-05-01 → 2026-05-20" in last
    dated = run("diff", "hb-ai-plan", "--from", "2026-05-01", "--to", "2026-05-15", "--json",
                "--sources", str(sources)).output
    data = json.loads(dated)
    assert (data["old"]["id"], data["new"]["id"]) == (plan[0], plan[1])
    assert data["stats"]["added"] == 18 and "{+加强财政资金支持。+}" in data["text"]
    page = tmp_path / "diff.html"
    run("diff", str(plan[1]), "--html", str(page), "--sources", str(sources))
    html = page.read_text(encoding="utf-8")
    assert "<ins" in html and "财政资金" in html and "<script" not in html
    # an existing file is refused as export refuses one (Chinese first), unless --force
    other = run("diff", str(plan[0]), str(plan[1]), "--html", str(page), "--sources",
                str(sources))
    assert other.exit_code == 2 and page.read_text(encoding="utf-8") == html
    assert f"{page} 已存在，未覆盖：加 --force 覆盖，或换一个文件名。({page} already exists" \
        in other.output
    assert "Usage:" not in other.output and other.output.startswith(str(page)), other.output
    forced = run("diff", str(plan[1]), str(plan[2]), "--html", str(page), "--force",
                 "--sources", str(sources))
    assert forced.exit_code == 0 and f"#{plan[2]}" in page.read_text(encoding="utf-8")
    assert f"#{plan[2]}" not in html
    evil = built.versions["evil-page"]
    hostile = tmp_path / "evil.html"
    run("diff", str(evil[0]), str(evil[1]), "--html", str(hostile), "--sources", str(sources))
    assert "<script>" not in hostile.read_text(encoding="utf-8")
    assert "&lt;script&gt;" in hostile.read_text(encoding="utf-8")


def test_diff_is_coloured_on_a_terminal(archive: tuple[Path, Built],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.cli.diff as diff_cli

    sources, built = archive
    screen = io.StringIO()
    monkeypatch.setattr(diff_cli, "console", Console(file=screen, force_terminal=True,
                                                     width=120, color_system="standard"))
    plan = built.versions["hb-ai-plan"]
    assert run("diff", str(plan[0]), str(plan[1]), "--sources", str(sources)).exit_code == 0
    assert "\x1b[" in screen.getvalue() and "亿元" in screen.getvalue()
    screen.truncate(0)
    run("diff", str(plan[0]), str(plan[1]), "--no-color", "--sources", str(sources))
    assert "\x1b[" not in screen.getvalue()


MARK = re.compile(r"\[-(.*?)-\]|\{\+(.*?)\+\}", re.S)


def _assert_plain_plan_diff(output: str) -> None:
    """``diff`` of the plan's first two versions as plain text: ``[-…-]{+…+}`` exactly
    around the changed number, whole (1000亿 → 1200亿), and the two added paragraphs."""
    assert "\x1b[" not in output
    assert [(d or None, i or None) for d, i in MARK.findall(output)] == [
        ("1000", None), (None, "1200"), (None, "第三章 保障措施"), (None, "加强财政资金支持。")]
    lines = output.splitlines()
    assert "~ 第2段 修改: 到2030年，全省人工智能产业核心规模达到[-1000-]{+1200+}亿元。" in lines
    assert "+ 第5段 新增: {+第三章 保障措施+}" in lines
    assert "+ 第6段 新增: {+加强财政资金支持。+}" in lines
    # The unchanged paragraphs around the edit are shown as they are, unmarked.
    for line in ("  第1段: 第一章 总体要求", "  第3段: 第二章 重点任务",
                 "  第4段: 建设算力基础设施，推动数据要素流通。"):
        assert line in lines, output
    assert "+18 / −1 字, 3 段落" in lines


def test_diff_no_color_on_a_terminal_marks_exactly_the_changed_characters(
        archive: tuple[Path, Built], monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.cli.diff as diff_cli

    sources, built = archive
    # A colour terminal on the runner's stdout: everything the user would see is output.
    monkeypatch.setattr(diff_cli, "console", Console(force_terminal=True, width=200,
                                                     color_system="standard"))
    plan = built.versions["hb-ai-plan"]
    coloured = run("diff", str(plan[0]), str(plan[1]), "--sources", str(sources))
    assert "\x1b[" in coloured.output and not MARK.search(coloured.output)  # the terminal
    out = run("diff", str(plan[0]), str(plan[1]), "--no-color", "--sources", str(sources))
    assert out.exit_code == 0, out.output
    _assert_plain_plan_diff(out.output)


def test_diff_piped_without_no_color_is_plain_with_markers(
        archive: tuple[Path, Built], monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.cli.diff as diff_cli

    sources, built = archive
    # Not a terminal (as the runner's stdout is), whatever FORCE_COLOR says.
    monkeypatch.setattr(diff_cli, "console", Console(force_terminal=False, width=200))
    plan = built.versions["hb-ai-plan"]
    out = run("diff", str(plan[0]), str(plan[1]), "--sources", str(sources))
    assert out.exit_code == 0, out.output
    _assert_plain_plan_diff(out.output)
    assert out.output.startswith(f"hb-ai-plan  第1版 #{plan[0]} (2026-05-01 10:00:00 +08:00) → "
                                 f"第2版 #{plan[1]} (2026-05-10 10:00:00 +08:00)\n")


def test_monitor_diff_in_a_real_process_shows_the_changed_amount_whole(
        archive: tuple[Path, Built]) -> None:
    sources, built = archive
    plan = built.versions["hb-ai-plan"]
    out = monitor("diff", str(plan[0]), str(plan[1]), "--sources", str(sources))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "~ 第2段 修改: 到2030年，全省人工智能产业核心规模达到[-1000-]{+1200+}亿元。" in lines
    assert "+18 / −1 字, 3 段落" in lines  # the stats: the characters that differ


def test_diff_of_a_first_version_and_serve_beyond_loopback_are_refused(
        archive: tuple[Path, Built]) -> None:
    sources, built = archive
    first = CliRunner().invoke(_cli(), ["diff", str(built.versions["hn-reply"][0]),
                                        "--sources", str(sources)])
    assert first.exit_code == 3 and "first" in first.output
    refused = CliRunner().invoke(_cli(), ["serve", "--host", "0.0.0.0", "--sources",
                                          str(sources)])
    assert refused.exit_code == 2 and "MONITOR_WEB_TOKEN" in refused.output


def monitor(*args: str) -> subprocess.CompletedProcess[str]:
    """The real ``monitor`` command in a subprocess, stdout and stderr to pipes."""
    return subprocess.run([sys.executable, "-m", "monitor", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_search_without_words_or_with_a_control_character_is_an_error(
        archive: tuple[Path, Built]) -> None:
    sources, _ = archive
    for query in ("", "   ", "答\x01复", "人工智能\x7f"):
        out = monitor("search", query, "--sources", str(sources))
        assert out.returncode == 2, (query, out.stdout, out.stderr)
        assert "versions contain" not in out.stdout
        assert out.stderr.startswith("输入有误："), out.stderr  # Chinese first, every one
        assert "技术细节：bad input: the search query" in out.stderr, out.stderr
    assert monitor("search", "答\x01复", "--sources", str(sources)).stderr.startswith(
        "输入有误：含有不可见的控制字符 U+0001：请删除后重试\n技术细节：bad input: ")
    assert monitor("search", " ", "--sources", str(sources)).stderr == (
        "输入有误：搜索词为空：请输入至少一个字或数字\n技术细节：bad input: the search query "
        "' ' has no words: give at least one\n")

    assert "control character U+0001" in monitor("search", "a\x01", "--sources",
                                                 str(sources)).stderr
    found = monitor("search", "答复", "--sources", str(sources))
    assert found.returncode == 0 and found.stdout.startswith("2 个版本（1 个页面）含有「答复」")
    assert "（2 versions (1 page) contain '答复' (showing " in found.stdout
    unknown = monitor("search", "答复", "--field", "wenhao", "--sources", str(sources))
    assert unknown.returncode == 2 and "没有这个检索字段" in unknown.stderr  # not "0 found"
    alias = monitor("search", "答复", "--field", "发文字号", "--sources", str(sources))
    assert alias.returncode == 0  # an alias of 文号 is 文号


def test_diff_dates_without_a_version_or_with_one_version_say_so(
        archive: tuple[Path, Built]) -> None:
    sources, built = archive
    plan = built.versions["hb-ai-plan"]
    future = monitor("diff", "hb-ai-plan", "--from", "2030-01-01", "--sources", str(sources))
    assert future.returncode == 2 and future.stdout == ""
    assert "--from 2030-01-01 is in the future" in future.stderr
    # --from before the first version: from the first version, said on stderr
    before = monitor("diff", "hb-ai-plan", "--from", "2020-01-01", "--sources", str(sources))
    assert before.returncode == 0, before.stderr
    assert before.stderr.strip() == (
        f"注意：--from 2020-01-01 时 hb-ai-plan 还没有任何版本，从第1版（id {plan[0]}，"
        "抓取于 2026-05-01 10:00:00 +08:00）开始比较。(no version of hb-ai-plan before the end "
        f"of 2020-01-01 (Asia/Shanghai): its first version (第1版, id {plan[0]}) is from "
        "2026-05-01 10:00; starting from it)")
    assert before.stdout.startswith(f"hb-ai-plan  第1版 #{plan[0]} ")
    assert f"→ 第3版 #{plan[2]} " in before.stdout.splitlines()[0]
    # versions on 05-01, 05-10 and 05-20: the 12th and the 14th both see the one of the 10th
    same = monitor("diff", "hb-ai-plan", "--from", "2026-05-12", "--to", "2026-05-14",
                   "--sources", str(sources))
    assert same.returncode == 0, same.stderr
    # the version as history counts it (第2版), its id after
    assert same.stdout == (f"hb-ai-plan：--from 2026-05-12 与 --to 2026-05-14 是同一版本，第2版"
                           f"（id {plan[1]}，抓取于 2026-05-10 10:00:00 +08:00），其间没有变化。"
                           "(hb-ai-plan: --from 2026-05-12 and --to 2026-05-14 are the same "
                           f"version, id {plan[1]} (fetched 2026-05-10 10:00:00 +08:00): "
                           "nothing changed in between)\n")
    data = json.loads(monitor("diff", "hb-ai-plan", "--from", "2026-05-12", "--to",
                              "2026-05-14", "--json", "--sources", str(sources)).stdout)
    assert data["same_version"] is True and data["old"]["id"] == data["new"]["id"] == plan[1]
    backwards = monitor("diff", "hb-ai-plan", "--from", "2026-05-15", "--to", "2026-05-01",
                        "--sources", str(sources))
    assert backwards.returncode == 2 and "--to 2026-05-01 is before --from" in backwards.stderr
    # The end of the --from day: the version fetched on 05-01 10:00 is "as of 05-01".
    day = json.loads(monitor("diff", "hb-ai-plan", "--from", "2026-05-01", "--to",
                             "2026-05-10", "--json", "--sources", str(sources)).stdout)
    assert (day["old"]["id"], day["new"]["id"], day["same_version"]) == (plan[0], plan[1], False)
    compact = json.loads(monitor("diff", "hb-ai-plan", "--from", "20260501", "--to",
                                 "20260510", "--json", "--sources", str(sources)).stdout)
    assert compact == day  # however the day is written


def test_diff_of_two_ids_newer_first_is_shown_oldest_first_and_says_so(
        archive: tuple[Path, Built]) -> None:
    sources, built = archive
    plan = built.versions["hb-ai-plan"]
    swapped = monitor("diff", str(plan[2]), str(plan[0]), "--sources", str(sources))
    assert swapped.returncode == 0, swapped.stderr
    assert swapped.stderr.startswith(f"注意：#{plan[2]}（2026-05-20 10:00:00 +08:00）比 "
                                     f"#{plan[0]}（2026-05-01 10:00:00 +08:00）新，"
                                     f"已按时间顺序比较：#{plan[0]} → #{plan[2]}。")
    in_order = monitor("diff", str(plan[0]), str(plan[2]), "--sources", str(sources))
    assert swapped.stdout == in_order.stdout and in_order.stderr == ""


def test_show_at_a_date_before_the_first_version_speaks_local_time(
        archive: tuple[Path, Built], tmp_path: Path) -> None:
    sources, built = archive
    first = built.versions["hb-ai-plan"][0]
    out = monitor("show", "hb-ai-plan", "--at", "2026-04-30T12:00", "--sources", str(sources))
    assert out.returncode == 3 and out.stdout == ""
    assert out.stderr.strip() == (
        f"未找到：2026-04-30T12:00 时 hb-ai-plan 还没有版本，它的第1版（id {first}）抓取于 "
        "2026-05-01 10:00\n技术细节：not found: no version of hb-ai-plan before "
        f"2026-04-30T12:00 (Asia/Shanghai): its first version (第1版, id {first}) is from "
        "2026-05-01 10:00")
    assert "+00:00" not in out.stderr and "T" not in out.stderr.split("(")[-1]
    berlin = write_sources(tmp_path / "berlin.toml", "", settings='timezone = "Europe/Berlin"')
    out = monitor("show", "hb-ai-plan", "--at", "2026-04-30", "--sources", str(berlin))
    assert out.returncode == 3
    assert ("no version of hb-ai-plan before the end of 2026-04-30 (Europe/Berlin): its "
            f"first version (第1版, id {first}) is from 2026-05-01 04:00") in out.stderr
    at_day = monitor("show", "hb-ai-plan", "--at", "2026-05-01", "--sources", str(sources))
    assert at_day.returncode == 0 and f"第1版（id {first}） · 抓取于 " in at_day.stdout
    compact = monitor("show", "hb-ai-plan", "--at", "20260501", "--sources", str(sources))
    assert (compact.returncode, compact.stdout) == (0, at_day.stdout)  # the same day


def test_history_piped_keeps_each_version_on_one_line(archive: tuple[Path, Built]) -> None:
    from tests.test_archive_data import PLAN_TITLE

    sources, built = archive
    out = monitor("history", "hb-ai-plan", "--sources", str(sources))
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if PLAN_TITLE in line]
    assert len(rows) == len(built.versions["hb-ai-plan"]), out.stdout
    assert "发文日期: 2026-05-01 → 2026-05-20" in rows[-1]  # the change, whole, on its row
