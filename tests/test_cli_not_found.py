"""A name or date on the command line that names nothing is "not found" (exit 3), said
in Chinese first with the English detail after, and never blamed on the sources file:
``check --source nosuch`` and ``show NAME --at`` a date before the first version."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from storage import Store
from tests.conftest import write_sources
from tests.test_archive_data import PLAN, REPLY, T0, Built, one_reply_archive, store_version


def test_check_source_that_is_not_in_the_file(tmp_path: Path) -> None:
    sources = write_sources(tmp_path / "sources.toml", """
        [[sources]]
        name = "a"
        url = "http://127.0.0.1:9/a.html"
        """)
    out = CliRunner().invoke(cli, ["check", "--source", "nosuch", "--sources", str(sources)])
    assert out.exit_code == 3, out.output
    assert out.stderr.startswith(f"未找到：{sources} 中没有名为 nosuch 的来源（--source）")
    assert "技术细节：not found: no source named 'nosuch'" in out.stderr
    assert "配置错误" not in out.stderr


def test_show_at_a_date_before_the_first_version(tmp_path: Path, db_url: str,
                                                 monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    store = Store(db_url)
    try:
        store.sync_sources([PLAN, REPLY])
        store_version(store, PLAN, "规划", "总体要求。", T0, Built())  # id 1: REPLY's is 2
        vid = store_version(store, REPLY, "答复", "办理中。", T0, Built())
    finally:
        store.close()
    sources = write_sources(tmp_path / "sources.toml", "")
    out = CliRunner().invoke(cli, ["show", REPLY.name, "--at", "2026-01-01", "--sources",
                                   str(sources)])
    assert out.exit_code == 3, out.output
    # counted as history counts them (第1版), the database's id after
    assert out.stderr.startswith(f"未找到：2026-01-01 时 {REPLY.name} 还没有版本，它的第1版"
                                 f"（id {vid}）抓取于 2026-05-01 10:00"), out.stderr
    shown = CliRunner().invoke(cli, ["history", REPLY.name, "--sources", str(sources)])
    assert f"│ 第1版 │ {vid} " in shown.stdout, shown.stdout  # 版本 (the header) is no wider
    assert f"技术细节：not found: no version of {REPLY.name} before the end of 2026-01-01" in (
        out.stderr)


def test_show_history_and_diff_of_an_unknown_name(tmp_path: Path, db_url: str,
                                                   monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A name (or URL, or id) that names nothing: the same Chinese sentence with where to
    look, exit 3, whichever of the archive's commands was given it."""
    sources = one_reply_archive(db_url, tmp_path, monkeypatch)
    for command in (["show"], ["history"], ["diff"], ["show", "--at", "2026-06-01"],
                    ["diff", "--from", "2026-05-01"]):
        out = CliRunner().invoke(cli, [*command, "hn-replyy", "--sources", str(sources)])
        assert out.exit_code == 3, (command, out.output)
        assert out.stderr.startswith("未找到：没有名为 hn-replyy 的来源：monitor status 列出所有"
                                     "来源\n"), (command, out.stderr)
        assert "技术细节：not found: no source named 'hn-replyy'" in out.stderr
    url = "http://127.0.0.1:9/nosuch.html"
    out = CliRunner().invoke(cli, ["history", url, "--sources", str(sources)])
    assert out.exit_code == 3
    assert out.stderr.startswith(f"未找到：没有网址是 {url} 的来源或页面：请核对网址"), out.stderr
    for command in (["show", "99999"], ["diff", "99999"]):
        out = CliRunner().invoke(cli, [*command, "--sources", str(sources)])
        assert out.exit_code == 3
        assert out.stderr.startswith("未找到：没有 id 为 99999 的版本"), (command, out.stderr)


def test_a_key_error_inside_a_library_is_a_defect_not_a_missing_name() -> None:
    """Only a look-up of this program's that found nothing is 未找到 (exit 3): a
    ``KeyError`` raised inside the standard library or a dependency is a bug and keeps its
    traceback (``selectors``' "7 is not registered" once ended ``monitor check`` as
    未找到：所给的名称、网址或编号不存在, exit 3, its results unprinted)."""
    import selectors

    from monitor.cli.common import handle_errors

    @handle_errors
    def command() -> None:
        with selectors.DefaultSelector() as ready:
            ready.unregister(7)

    with pytest.raises(KeyError, match="not registered"):
        command()
