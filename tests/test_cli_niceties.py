"""The small things users expect: a progress bar on `monitor check` on a terminal and
nothing of it in a pipe; shell completion through click's own mechanism."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_sources
from tests.pages import seed_page
from tests.sites import Response, Site

# what is being checked, the bar, done/total, time elapsed
BAR = re.compile(r"(checking|page-\d)\s+━+ \d/3 0:00:\d\d")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _sources(tmp_path: Path, site: Site) -> Path:
    body = ""
    for n in range(3):
        # A moment per page, so that the bar is drawn while the checks run.
        url = site.route(f"/p{n}.html", Response(seed_page(n), delay=0.6, headers={
            "Content-Type": "text/html; charset=utf-8"}))
        body += f'[[sources]]\nname = "page-{n}"\nurl = "{url}"\n\n'
    return write_sources(tmp_path / "sources.toml", body, settings=f"""
        database_url = "sqlite:///{tmp_path}/m.db"
        outbox_dir = "{tmp_path}/outbox"
        """)


def _check(sources: Path, *, terminal: bool) -> str:
    cmd = [sys.executable, "-m", "monitor", "check", "--no-deliver", "--sources", str(sources)]
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm"}
    if not terminal:
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120,
                              check=True).stdout
    main, child = os.openpty()
    proc = subprocess.Popen(cmd, stdout=child, stderr=child, env=env)
    os.close(child)
    out = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    assert proc.wait(timeout=120) == 0
    return out.decode("utf-8", "replace")


def test_check_shows_progress_on_a_terminal_and_not_in_a_pipe(tmp_path: Path) -> None:
    site = Site()
    try:
        sources = _sources(tmp_path, site)
        on_terminal = _check(sources, terminal=True)
        piped = _check(sources, terminal=False)
    finally:
        site.close()
    assert BAR.search(ANSI.sub("", on_terminal)), on_terminal
    assert "check summary" in on_terminal
    assert not BAR.search(piped) and "/3" not in piped and "\x1b[" not in piped
    assert "3 unchanged" in piped  # the second pass: every page as it was


def test_shell_completion_completes_commands_and_options(tmp_path: Path) -> None:
    def complete(words: str, cword: int) -> str:
        env = {**os.environ, "_MONITOR_COMPLETE": "bash_complete", "COMP_WORDS": words,
               "COMP_CWORD": str(cword)}
        return subprocess.run(
            [sys.executable, "-c", "from monitor.cli import cli; cli(prog_name='monitor')"],
            env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path).stdout

    assert "plain,demo" in complete("monitor de", 1)
    (tmp_path / "sources.toml").write_text(
        '[[sources]]\nname = "hn-replies"\nurl = "https://example.org/a"\n\n'
        '[[sources]]\nname = "hb-plan"\nurl = "https://example.org/b"\n', encoding="utf-8")
    assert complete("monitor history hn", 2).split() == ["plain,hn-replies"]
    assert set(complete("monitor check --source h", 3).split()) == {
        "plain,hn-replies", "plain,hb-plan"}
    assert complete("monitor verify hb", 2).split() == ["plain,hb-plan"]
    assert "plain,import" in complete("monitor sources im", 2)
    assert "plain,--no-test" in complete("monitor sources import x.yaml --no", 4)
    script = subprocess.run(
        [sys.executable, "-c", "from monitor.cli import cli; cli(prog_name='monitor')"],
        env={**os.environ, "_MONITOR_COMPLETE": "bash_source"}, capture_output=True,
        text=True, timeout=60).stdout
    assert "complete -o nosort -F _monitor_completion monitor" in script


def test_piped_output_keeps_each_row_and_message_on_one_line(tmp_path: Path) -> None:
    """grep on `sources list` finds a whole URL; the schedule reads as it was written."""
    long_path = "/".join(["zwgk", "jytabl", "zxwyta", "2026nian"] * 6) + "/t20260318_123456.html"
    url = f"http://127.0.0.1:9/{long_path}"
    sources = write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "a-rather-long-source-name-for-the-national-committee-replies"
        url = "{url}"
        interval = "6h"
        [[sources]]
        name = "weekly"
        url = "http://127.0.0.1:9/w.html"
        interval = "2w"
        """)
    env = {**os.environ, "COLUMNS": "80"}
    out = subprocess.run([sys.executable, "-m", "monitor", "sources", "list", "--sources",
                          str(sources)], capture_output=True, text=True, env=env, timeout=60,
                         check=True).stdout
    row = next(line for line in out.splitlines() if "a-rather-long" in line)
    assert url in row and "every 6h" in row, out
    assert any("every 2w" in line for line in out.splitlines()), out
    deep = tmp_path / ("d" * 60) / ("e" * 60)  # a message longer than 80 columns
    deep.mkdir(parents=True)
    (deep / "sources.toml").write_text(sources.read_text(encoding="utf-8"), encoding="utf-8")
    checked = subprocess.run([sys.executable, "-m", "monitor", "sources", "validate",
                              "--sources", str(deep / "sources.toml")], capture_output=True,
                             text=True, env=env, timeout=60, check=True)
    file = deep / "sources.toml"
    assert f"{file}：有效，2 个来源，0 个接收人（{file}: ok — 2 sources, 0 watchers）\n" in \
        checked.stdout, checked.stdout


def test_sources_list_piped_is_the_table_rich_gives(tmp_path: Path) -> None:
    """Piped, `sources list` writes its lines without rich's layout (10,000 sources: ~4 s
    of rich), and they are rich's own, wide characters and a disabled source included."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from monitor.cli.common import print_table
    from monitor.config import load_config

    sources = write_sources(tmp_path / "sources.toml", """
        [[sources]]
        name = "hb-plan"
        url = "http://127.0.0.1:9/plan.html"
        content = ["div.v_news_content", "#zoom"]
        tags = ["湖北", "规划"]
        interval = "6h"
        [[sources]]
        name = "off"
        url = "http://127.0.0.1:9/off.html"
        enabled = false
        cron = "0 8 * * *"
        """)
    out = subprocess.run([sys.executable, "-m", "monitor", "sources", "list", "--sources",
                          str(sources)], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    table = Table(title=Text(str(sources)))
    for col in ("名称", "网址", "检查频率", "正文选择器", "标签"):  # headers in Chinese only
        table.add_column(col, overflow="fold")
    # cells Chinese first, the English words in brackets
    table.add_row("hb-plan", "http://127.0.0.1:9/plan.html", "每 6h（every 6h）",
                  "div.v_news_content, #zoom", "湖北, 规划")
    table.add_row("off", "http://127.0.0.1:9/off.html",
                  "cron 0 8 * * *，已暂停（cron 0 8 * * * (disabled)）", "自动识别（auto）", "")
    console = Console(file=io.StringIO(), width=80)
    print_table(table, console)
    assert out == console.file.getvalue()
    assert [s.name for s in load_config(sources).sources] == ["hb-plan", "off"]


def test_check_lists_results_in_the_order_of_the_file(tmp_path: Path) -> None:
    site = Site()
    try:
        names = ["p2", "p10", "p1", "a"]
        urls = [site.route(f"/{n}.html", seed_page(i)) for i, n in enumerate(names)]
        body = "".join(f'[[sources]]\nname = "{n}"\nurl = "{u}"\n\n'
                       for n, u in zip(names, urls, strict=True))
        sources = write_sources(tmp_path / "sources.toml", body, settings=f"""
            database_url = "sqlite:///{tmp_path}/m.db"
            outbox_dir = "{tmp_path}/outbox"
            """)
        cmd = [sys.executable, "-m", "monitor", "check", "--no-deliver", "--sources",
               str(sources)]
        table = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                               check=True).stdout
        listed = subprocess.run([*cmd, "--json"], capture_output=True, text=True,
                                timeout=120, check=True).stdout
    finally:
        site.close()
    rows = [line.split("│")[1].strip() for line in table.splitlines() if line.count("│") > 3]
    assert [r for r in rows if r in names] == names, table
    assert [r["source"] for r in json.loads(listed)["results"]] == names


def test_json_is_json_dumps_text_for_every_shape() -> None:
    """``--json`` is written by ``indented_json`` (flat objects by the C encoder): the
    same text as ``json.dumps(…, ensure_ascii=False, indent=2)``, for a check's results
    and for every shape and scalar a command prints, or left to ``json.dumps``."""
    from datetime import UTC, datetime
    from enum import IntEnum

    from monitor.cli.common import indented_json, to_jsonable
    from monitor.types import CheckResult, Outcome

    class Code(IntEnum):
        GONE = 410

    class Ratio(float):
        pass

    results = [CheckResult(f"源{i}", Outcome.UNCHANGED, status=304, duration=i / 7,
                           released=True) for i in range(3)]
    results.append(CheckResult("e", Outcome.ERROR, error_kind="http",
                               error='say "bye",\n\x01 }{ ] 中文\u2028', document="https://a/b"))
    shapes = [
        to_jsonable({"results": results, "alerts": None}),
        [], {}, [[]], [{}], {"a": []}, {"a": {}}, 0, -1, 2**80, 1.5, -0.0, 1e300, 1e-300,
        float("nan"), float("inf"), -float("inf"), True, False, None, "", "中\n\t\"\\",
        {"a": {"b": {"c": [1, [2, [3, {"d": None}]]]}}, "e": [{"f": "g"}, [], {}]},
        [1, "x", None, {"k": 1.25}, [True]],
        {"键": "值", "": 0, "\x00": "\x1f"},
        {1: "int key", "s": 2},  # keys json.dumps converts: left to it
        (1, 2), {"t": (3, 4)},  # tuples: left to it as well
        to_jsonable({"when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "raw": b"\xff"}),
        {"outcome": Outcome.CHANGED, "code": Code.GONE, "ratio": Ratio(0.1)},  # subclasses
        [Outcome.NEW, Code.GONE, Ratio(2.5), {"k": Outcome.ERROR}],
        ["s1", "中\n", ""], [1, 2.5, None, True, Outcome.NEW], {"names": ["a", "b"]},
    ]
    for data in shapes:
        assert indented_json(data) == json.dumps(data, ensure_ascii=False, indent=2), data


def test_columns_are_written_as_json_dumps_writes_their_rows() -> None:
    """``Columns`` (``monitor status --json``'s rows, column by column): each column by
    one call of the C encoder, split at NULs, the keys laid between.  The text is
    ``json.dumps(…, ensure_ascii=False, indent=2)`` of the rows, the datetimes as
    ``to_jsonable`` writes them, whatever the strings hold (a NUL, a newline, the very
    text between two objects), at any depth; a column of anything else is written row
    by row, one that does not fit is left to ``json.dumps``."""
    from datetime import UTC, datetime, timedelta, timezone

    from monitor.cli.common import Columns, indented_json, to_jsonable
    from monitor.types import Outcome

    at = datetime(2026, 5, 1, 2, 3, 4, 56789, tzinfo=UTC)
    columns = {
        "source": ["s0", "源一", 'say "hi"', "\x00nul\x00", '},\n      {"x": 1}\n', "\u2028"],
        "at": [at, None, at.replace(microsecond=0), datetime(999, 1, 2, tzinfo=UTC),
               at.astimezone(timezone(timedelta(hours=8))), at.replace(tzinfo=None)],
        "utc": [at, None, at.replace(microsecond=0), at, None, datetime(9999, 12, 31, 23, 59,
                                                                         59, tzinfo=UTC)],
        "n": [0, -1, 2**70, None, True, False],
        "x": [1.5, float("nan"), float("inf"), -0.0, 1e300, None],
        "kind": [Outcome.NEW, "page", None, Outcome.ERROR, "", "文档"],
        "none": [None] * 6,
    }
    table = Columns(list(columns), list(columns.values()))
    rows = to_jsonable([dict(zip(columns, row, strict=True))
                        for row in zip(*columns.values(), strict=True)])
    for data, expected in [
            (table, rows),
            ({"sources": table, "after": 1}, {"sources": rows, "after": 1}),
            ([{"deeper": [table]}], [{"deeper": [rows]}]),
            (Columns(["a"], [["only"]]), [{"a": "only"}]),
            (Columns(["a", "b"], [[], []]), []),
            (Columns(["a", "b"], [[[1, 2], {"c": at}], [None, "x"]]),  # not scalars
             [{"a": [1, 2], "b": None}, {"a": {"c": to_jsonable(at)}, "b": "x"}]),
            (Columns(["a", "a2"], [[b"raw"], [1]]), [{"a": "raw", "a2": 1}]),  # bytes
            (Columns([1], [["int key"]]), [{"1": "int key"}])]:  # left to json.dumps
        assert indented_json(to_jsonable(data)) == \
            json.dumps(expected, ensure_ascii=False, indent=2), data
    with pytest.raises(ValueError):  # columns of different lengths: json.dumps says so
        indented_json(Columns(["a", "b"], [[1], [1, 2]]))


def test_a_pass_with_nothing_to_check_says_so_without_an_empty_table(tmp_path: Path) -> None:
    """``--source 'p*'`` when every such source is paused: one line, no table of none."""
    write_sources(tmp_path / "sources.toml", '[[sources]]\nname = "p1"\n'
                  'url = "http://127.0.0.1:9/p1.html"\nenabled = false\n')
    for args, said in (([], "没有要检查的来源；提醒：已发送 0，待重试 0，已放弃 0（nothing to "
                             "check; alerts: 0 sent, 0 retrying, 0 dead）"),
                       (["--no-deliver"], "没有要检查的来源（nothing to check）")):
        run = subprocess.run([sys.executable, "-m", "monitor", "check", "--source", "p*",
                              *args], cwd=tmp_path, capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == said
