"""The administrator's side of ``sources.toml``: what ``monitor sources …`` and the
daemon's reload say about an edit, in the same words, and what they refuse."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tests.conftest import write_sources
from tests.sites import Site
from tests.test_daemon_run import Daemons, daemons  # noqa: F401  (a fixture)
from tests.test_listing_sources import NAME, Column


def _run(*args: str) -> tuple[int, str]:
    from monitor.cli import cli

    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


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
        tmp_path: Path, site: Site, daemons: Daemons) -> None:  # noqa: F811
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
    code, out = _run("sources", "add", site.url("/col/t20210102_102.html?other=1"),
                     "--name", "not-a-doc", "--sources", str(path))
    assert code == 0, out  # another query is another page

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
