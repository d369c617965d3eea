"""``monitor sources add/remove/list``: tomlkit edits that keep the admin's comments."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.errors import ConfigError
from monitor.sources_edit import add_source, remove_source
from tests.conftest import write_sources
from tests.sites import Site

FILE = """\
# monitor — the pages we watch.  Keep this header.

[settings]
timezone = "Asia/Shanghai"
host_delay = 5          # be gentle with small government servers

# Hubei's AI plan: watch for amended wording.
[[sources]]
name = "hb-plan"
url = "https://kyc.whxy.edu.cn/info/1131/3782.htm"
content = "div.v_news_content"   # the article body only
interval = "1d"

# Hunan replies to CPPCC proposals.
[[sources]]
name = "hn-replies"
url = "https://gxt.hunan.gov.cn/replies/"
interval = "6h"
# cron = "0 8 * * *"   (tried, too rare)

# Wuhan replies.
[[sources]]
name = "wh-replies"
url = "https://www.wuhan.gov.cn/replies/"

# Who is told.  Secrets never go in this file.
[[watchers]]
email = "analyst@example.org"
sources = ["*"]
"""
PATH = Path("sources.toml")


def _names(text: str) -> list[str]:
    return [s["name"] for s in tomllib.loads(text).get("sources", [])]


def test_remove_keeps_every_other_comment_and_drops_only_its_own() -> None:
    out = remove_source(FILE, "hn-replies", path=PATH)
    assert _names(out) == ["hb-plan", "wh-replies"]
    for kept in ("# monitor — the pages we watch.  Keep this header.",
                 "host_delay = 5          # be gentle with small government servers",
                 "# Hubei's AI plan: watch for amended wording.",
                 'content = "div.v_news_content"   # the article body only',
                 "# Wuhan replies.", "# Who is told.  Secrets never go in this file."):
        assert kept in out
    assert "Hunan" not in out and "tried, too rare" not in out
    assert "\n\n\n" not in out  # no hole left behind
    assert out == FILE.replace('''# Hunan replies to CPPCC proposals.
[[sources]]
name = "hn-replies"
url = "https://gxt.hunan.gov.cn/replies/"
interval = "6h"
# cron = "0 8 * * *"   (tried, too rare)

''', "")


def test_removing_the_last_source_keeps_the_watchers_comment_above_the_watchers() -> None:
    out = remove_source(FILE, "wh-replies", path=PATH)
    assert "# Wuhan replies." not in out
    assert 'interval = "6h"\n# cron = "0 8 * * *"   (tried, too rare)\n\n# Who is told.' in out
    first = remove_source(FILE, "hb-plan", path=PATH)
    assert "Hubei" not in first and "# Hunan replies to CPPCC proposals.\n[[sources]]" in first


def test_add_appends_after_the_last_source_and_before_the_watchers() -> None:
    entry = {"name": "gd-replies", "url": "https://gd.gov.cn/r/", "content": "div.main",
             "interval": "12h", "tags": ["guangdong", "reply"]}
    out = add_source(FILE, entry, path=PATH)
    assert _names(out) == ["hb-plan", "hn-replies", "wh-replies", "gd-replies"]
    assert out.startswith(FILE.split("# Who is told")[0])  # everything above unchanged
    assert out.endswith('''url = "https://www.wuhan.gov.cn/replies/"

[[sources]]
name = "gd-replies"
url = "https://gd.gov.cn/r/"
content = "div.main"
interval = "12h"
tags = ["guangdong", "reply"]

# Who is told.  Secrets never go in this file.
[[watchers]]
email = "analyst@example.org"
sources = ["*"]
''')


FOLLOWED = """\
[[sources]]
name = "hn-replies"
kind = "listing"
url = "https://gxt.hunan.gov.cn/replies/"
[sources.follow]
interval = "1d"

# Who is told.
[[watchers]]
email = "analyst@example.org"
sources = ["*"]
"""


def test_add_and_remove_keep_the_blank_line_before_the_watchers_after_a_follow_table() -> None:
    out = add_source(FOLLOWED, {"name": "gd", "url": "https://gd.gov.cn/r/"}, path=PATH)
    assert out == FOLLOWED.replace("\n# Who", '\n[[sources]]\nname = "gd"\n'
                                   'url = "https://gd.gov.cn/r/"\n\n# Who')
    assert remove_source(out, "gd", path=PATH) == FOLLOWED
    plain = FOLLOWED.replace("# Who is told.\n", "")  # no comment: a blank line all the same
    assert "\n\n[[watchers]]" in add_source(plain, {"name": "gd", "url": "https://gd.gov.cn/"},
                                             path=PATH)
    gone = remove_source(add_source(FOLLOWED, {"name": "gd", "url": "https://gd.gov.cn/"},
                                    path=PATH), "hn-replies", path=PATH)
    assert gone.endswith('url = "https://gd.gov.cn/"\n\n# Who is told.\n[[watchers]]\n'
                         'email = "analyst@example.org"\nsources = ["*"]\n')


def test_the_last_source_removed_keeps_a_blank_line_before_the_watchers_and_crlf_stays(
        ) -> None:
    plain = FOLLOWED.replace("# Who is told.\n", "")
    two = add_source(plain, {"name": "gd", "url": "https://gd.gov.cn/"}, path=PATH)
    assert remove_source(two, "gd", path=PATH) == plain  # not glued to [[watchers]]
    windows = FOLLOWED.replace("\n", "\r\n")  # Notepad's line ends
    added = add_source(windows, {"name": "gd", "url": "https://gd.gov.cn/"}, path=PATH)
    assert added.count("\n") == added.count("\r\n") and "gd.gov.cn" in added
    assert remove_source(added, "gd", path=PATH) == windows


def test_edits_that_would_make_the_file_invalid_are_refused() -> None:
    with pytest.raises(ConfigError, match="duplicate name"):
        add_source(FILE, {"name": "hb-plan", "url": "https://other.gov.cn/"}, path=PATH)
    with pytest.raises(ConfigError, match="interval"):
        add_source(FILE, {"name": "x", "url": "https://x.gov.cn/", "interval": "often"},
                   path=PATH)
    with pytest.raises(KeyError, match="nobody"):
        remove_source(FILE, "nobody", path=PATH)


def test_the_only_source_can_be_removed_and_added_back() -> None:
    text = "# header\n\n# the one\n[[sources]]\nname = \"a\"\nurl = \"https://a.gov.cn/\"\n"
    empty = remove_source(text, "a", path=PATH)
    assert empty.strip() == "# header"
    again = add_source(empty, {"name": "b", "url": "https://b.gov.cn/"}, path=PATH)
    assert again.startswith("# header\n") and _names(again) == ["b"]


PAGE = ("<html><head><title>关于第0192号提案的答复</title></head><body>"
        "<div class='article'><p>" + "答复内容。" * 40 + "</p></div></body></html>")


@pytest.fixture
def sources(tmp_path: Path, site: Site) -> Path:
    site.route("/ok.html", PAGE)
    return write_sources(tmp_path / "sources.toml", f"""
        # The first source: keep this comment.
        [[sources]]
        name = "first"
        url = "{site.url('/first.html')}"
        """)


def _run(*args: str) -> tuple[int, str]:
    from monitor.cli import cli

    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_a_listing_whose_links_match_nothing_is_told_to_fix_links(
        sources: Path, site: Site) -> None:
    site.route("/col.html", "<html><body><ul class='list'><li><a href='/a.html'>"
               "关于第0192号提案的答复</a></li></ul></body></html>")
    code, out = _run("sources", "add", site.url("/col.html"), "--name", "colD", "--kind",
                     "listing", "--links", "ul.nomatch a", "--sources", str(sources))
    assert code == 1 and "not added" in out
    assert "请修改网址或 --links" in out and "Fix the URL or --links" in out
    assert "--content" not in out


def test_cli_add_tests_the_page_first_and_refuses_a_selector_that_matches_nothing(
        sources: Path, site: Site) -> None:
    before = sources.read_text(encoding="utf-8")
    code, out = _run("sources", "add", site.url("/ok.html"), "--name", "bad-sel",
                     "--content", "div.nothing-here", "--sources", str(sources))
    assert code == 1 and "not added" in out and "--force" in out
    assert "请修改网址或 --content" in out and "Fix the URL or --content" in out
    assert sources.read_text(encoding="utf-8") == before
    code, out = _run("sources", "add", site.url("/missing.html"), "--name", "gone",
                     "--sources", str(sources))
    assert code == 1 and "404" in out
    code, out = _run("sources", "add", site.url("/missing.html"), "--name", "gone",
                     "--sources", str(sources), "--force")
    assert code == 0, out
    code, out = _run("sources", "add", site.url("/ok.html"), "--name", "good",
                     "--content", "div.article", "--interval", "1d", "--tags", "hunan, reply",
                     "--sources", str(sources))
    assert code == 0 and "test fetch ok" in out, out
    text = sources.read_text(encoding="utf-8")
    assert "# The first source: keep this comment." in text
    assert _names(text) == ["first", "gone", "good"]
    assert tomllib.loads(text)["sources"][2]["tags"] == ["hunan", "reply"]


def test_cli_refusals_say_in_chinese_first_then_the_detail(sources: Path) -> None:
    before = sources.read_text(encoding="utf-8")
    code, out = _run("sources", "add", "https://a.gov.cn/", "--name", "first",
                     "--sources", str(sources))
    assert code == 2 and out.startswith("未添加："), out
    assert "名称重复" in out and out.index("名称重复") < out.index("duplicate name")
    code, out = _run("sources", "add", "htp:/a.gov.cn", "--name", "x", "--sources", str(sources))
    assert code == 2 and out.startswith("未添加："), out
    assert "网址必须以 http:// 或 https:// 开头" in out
    assert out.index("开头") < out.index("技术细节：") < out.index("must be an http")
    code, out = _run("sources", "remove", "nobody", "--sources", str(sources))
    assert code == 3 and out.startswith("未删除：") and "nobody" in out
    assert sources.read_text(encoding="utf-8") == before


def test_cli_remove_and_list(sources: Path, site: Site) -> None:
    code, out = _run("sources", "list", "--json", "--sources", str(sources))
    assert code == 0 and [s["name"] for s in json.loads(out)] == ["first"]
    # the only source: refused as /admin refuses it (the file left would be refused by
    # validate and by a running daemon), pausing suggested, in Chinese first
    before = sources.read_text(encoding="utf-8")
    code, out = _run("sources", "remove", "first", "--sources", str(sources))
    assert code == 2 and out.startswith("未删除："), out
    assert "唯一的来源" in out and "enabled = false" in out and "取值无效" not in out
    assert out.index("暂停") < out.index("技术细节：") < out.index("is the only source")
    assert sources.read_text(encoding="utf-8") == before
    code, out = _run("sources", "add", site.url("/ok.html"), "--name", "second",
                     "--sources", str(sources))
    assert code == 0, out
    code, out = _run("sources", "remove", "first", "--sources", str(sources))
    assert code == 0 and "versions stay" in out
    assert "keep this comment" not in sources.read_text(encoding="utf-8")
    code, out = _run("sources", "remove", "first", "--sources", str(sources))
    assert code == 3 and "first" in out


TWO = ('{own}[[sources]]\nname = "a"\nurl = "https://a.gov.cn/"\n\n'
       '# Wuhan replies.\n[[sources]]\nname = "b"\nurl = "https://b.gov.cn/"\n\n'
       '[[watchers]]\nemail = "analyst@example.org"\nsources = ["*"]\n')


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("own", ["", "# a's own comment\n"], ids=["bare", "commented"])
def test_removing_the_first_source_leaves_no_blank_first_line(
        tmp_path: Path, newline: str, own: str) -> None:
    path = tmp_path / "sources.toml"
    path.write_bytes(TWO.format(own=own).replace("\n", newline).encode())
    code, out = _run("sources", "remove", "a", "--sources", str(path))
    assert code == 0, out
    want = TWO.format(own="").split("\n\n", 1)[1]  # the file as if "a" was never there
    assert path.read_bytes().decode() == want.replace("\n", newline)


WATCHED = """\
[[sources]]
name = "colA"
url = "https://a.gov.cn/"

[[sources]]
name = "colB"
url = "https://b.gov.cn/"

[[watchers]]
email = "b@example.org"
sources = ["colA", "colB"]  # both columns

[[watchers]]
email = "all@example.org"
sources = ["col*"]

[[watchers]]
email = "only@example.org"
sources = ["colB"]
"""


def test_a_removed_source_goes_from_the_watchers_that_follow_others_too(
        tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(WATCHED, encoding="utf-8")
    code, out = _run("sources", "remove", "colB", "--sources", str(path))
    assert code == 0, out
    assert "b@example.org" in out  # said: taken from that watcher's sources
    assert "only@example.org" in out and "请修改或删除该接收人" in out  # kept: all it follows
    text = path.read_text(encoding="utf-8")
    assert 'sources = ["colA"]  # both columns' in text  # the comment kept
    assert 'sources = ["col*"]' in text and 'sources = ["colB"]' in text
    watchers = tomllib.loads(text)["watchers"]
    assert [w["sources"] for w in watchers] == [["colA"], ["col*"], ["colB"]]
    code, out = _run("sources", "list", "--sources", str(path))
    assert code == 0 and "b@example.org" not in out  # no warning about that watcher
