"""Bad input an admin sends: how ``sources.toml`` is read, checked and warned about.

Real CLI runs (click's runner, and ``monitor run`` as a subprocess where the daemon's
live reload is what matters) on files written the way editors write them."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import write_sources
from tests.pages import seed_page
from tests.sites import Response, Site
from tests.test_cli_spine import flat, run, source
from tests.test_daemon_run import Daemons, wait_until

HTML = {"Content-Type": "text/html; charset=utf-8"}


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Daemons]:
    ds = Daemons(tmp_path)
    yield ds
    ds.kill_all()


def one_source(site: Site, name: str = "hn-reply", extra: str = "") -> str:
    return source(name, site.route(f"/{name}", Response(seed_page(0), headers=HTML)), extra)


# --- 5. the file's encoding --------------------------------------------------------------


def test_a_file_saved_with_a_bom_is_read_by_validate_and_check(site: Site,
                                                               tmp_path: Path) -> None:
    path = write_sources(tmp_path / "sources.toml", one_source(site))
    path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())  # what Notepad saves
    validate = run("sources", "validate", "--sources", str(path))
    assert validate.exit_code == 0, validate.output
    assert flat(validate.stdout) == f"{path}: ok — 1 sources, 0 watchers"
    check = run("check", "--sources", str(path))
    assert check.exit_code == 0, check.output
    assert "1 new" in check.stdout and site.hits("/hn-reply") == 1


GBK_LINE = 'title = "湖南省答复"\n'


def gbk_file(site: Site, tmp_path: Path) -> tuple[Path, int, int]:
    """A sources file whose one non-ASCII line is GBK: (path, byte offset, line)."""
    path = write_sources(tmp_path / "sources.toml", one_source(site))
    text = path.read_text(encoding="utf-8") + GBK_LINE
    path.write_bytes(text.encode("gbk"))
    offset = len(text.encode("gbk")) - len(GBK_LINE.encode("gbk")) + len('title = "')
    return path, offset, text.count("\n")


@pytest.mark.parametrize("command", [["sources", "validate"], ["check"]])
def test_a_gbk_file_is_a_configuration_error_saying_where_and_what(
        site: Site, tmp_path: Path, command: list[str]) -> None:
    path, offset, line = gbk_file(site, tmp_path)
    result = run(*command, "--sources", str(path))
    assert result.exit_code == 2, result.output
    assert flat(result.stderr) == (
        f"configuration error: {path}: not UTF-8 (byte {offset}, line {line}, column 10); "
        "it looks like GBK/GB18030: save it as UTF-8")
    assert site.hits("/hn-reply") == 0


def test_run_starts_on_a_bom_file_and_refuses_a_gbk_edit_naming_file_and_line(
        site: Site, tmp_path: Path, daemons: Daemons) -> None:
    path = write_sources(tmp_path / "sources.toml", one_source(site, extra='interval = "1s"'))
    good = codecs.BOM_UTF8 + path.read_bytes()
    path.write_bytes(good)
    d = daemons.start(path)
    wait_until(lambda: site.hits("/hn-reply") >= 1, 60, "the first check")
    _, offset, line = gbk_file(site, tmp_path)  # the same source, saved as GBK
    d.wait_for("edit rejected", 30)
    assert f"not UTF-8 (byte {offset}, line {line}, column 10)" in d.text()
    before = site.hits("/hn-reply")
    wait_until(lambda: site.hits("/hn-reply") > before, 30, "checks go on")
    path.write_bytes(good)
    d.wait_for("is valid again", 30)
    assert d.stop() == 0


# --- 3. one page configured twice ------------------------------------------------------


@pytest.mark.parametrize(("first", "second"), [
    ("http://127.0.0.1:1/hn/reply.html", "http://127.0.0.1:1/hn/reply.html#frag"),
    ("http://127.0.0.1:1/hn/", "http://127.0.0.1:1/hn"),
    ("http://gov.example.cn:80/x", "http://gov.example.cn/x"),
    ("https://gov.example.cn/x", "https://gov.example.cn:443/x"),
    ("https://GOV.Example.cn/x", "https://gov.example.cn/x"),
    ("https://gov.example.cn", "https://gov.example.cn/"),
])
def test_one_page_twice_is_refused_naming_both_sources(tmp_path: Path, first: str,
                                                       second: str) -> None:
    path = write_sources(tmp_path / "sources.toml",
                         source("hn-a", first) + source("hn-b", second))
    result = run("sources", "validate", "--sources", str(path))
    assert result.exit_code == 2, result.output
    assert flat(result.stderr) == (
        f"configuration error: {path}: source 'hn-b': key 'url': has the same page as "
        f"source 'hn-a' ({first}); keep one of them")


@pytest.mark.parametrize(("first", "second"), [
    ("http://127.0.0.1:1/x?id=1", "http://127.0.0.1:1/x?id=2"),
    ("http://127.0.0.1:1/x", "http://127.0.0.1:2/x"),
    ("http://gov.example.cn/x", "https://gov.example.cn/x"),
    ("http://gov.example.cn/X", "http://gov.example.cn/x"),
])
def test_different_pages_stay_two_sources(tmp_path: Path, first: str, second: str) -> None:
    path = write_sources(tmp_path / "sources.toml",
                         source("hn-a", first) + source("hn-b", second))
    result = run("sources", "validate", "--sources", str(path))
    assert result.exit_code == 0, result.output
