"""``monitor sources import``: a peer's configuration in one command.

The sample files in tests/fixtures/import/ are written by hand in each peer's documented
format (urlwatch's urls.yaml jobs and filters; changedetection.io's url-watches.json
datastore, also inside its backup zip; a CSV; a list).  The mapping is checked through
the sources file the command writes (parsed as the daemon parses it, comments kept) and
the report it prints; the test fetch against real loopback pages."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from click.testing import CliRunner, Result

from monitor.cli import cli
from monitor.config import load_config
from tests.pages import seed_page
from tests.sites import Site

SAMPLES = Path(__file__).parent / "fixtures" / "import"
HEAD = """# our sources: keep this comment
[settings]
allow_private_network = true
host_delay = 0

# the plan we already watch
[[sources]]
name = "existing"
url = "https://kyc.whxy.edu.cn/info/1131/3782.htm"

# who is told
[[watchers]]
email = "a@example.org"
sources = ["*"]
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["sources", "import", *args], catch_exceptions=False)


def sources_file(tmp_path: Path, text: str = HEAD) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


def by_url(path: Path) -> dict[str, object]:
    return {s.url: s for s in load_config(path).sources}


def test_urlwatch_jobs_map_filters_and_say_what_they_could_not(tmp_path: Path) -> None:
    path = sources_file(tmp_path, HEAD.replace("kyc.whxy.edu.cn", "example.org"))
    got = run(str(SAMPLES / "urls.yaml"), "--no-test", "--sources", str(path))
    assert got.exit_code == 1, got.output  # the command job is not a page
    s = by_url(path)
    plan = s["https://kyc.whxy.edu.cn/info/1131/3782.htm"]
    assert plan.title == "湖北省新一代人工智能发展总体规划"
    assert plan.content == ("div.v_news_content",) and plan.ignore == ("span.counter",)
    assert plan.ignore_text == (r"点击[:：]\s*\d+",)
    column = s["https://gxt.hunan.gov.cn/gxt/xxgk_71033/jytabl/index.html"]
    assert column.name == "hn-gxt-jytabl" and column.content == ("ul.list",)  # old form
    wuhan = s["https://www.wuhan.gov.cn/zwgk/xxgk/jytabl/"]
    assert wuhan.content == () and wuhan.name == "wuhan-xxgk-jytabl"
    dg = s["http://www.dg.gov.cn/zwgk/zdlyxxgk/jyta/index.html"]
    assert dg.content == ("#zoom",) and dict(dg.headers) == {
        "Referer": "https://www.dg.gov.cn/"}
    assert dg.ignore_text == ()  # re.sub with a replacement is not "ignore"
    assert s["https://www.gov.cn/zhengce/jiedu/"].fetch == "browser"
    out = " ".join(got.output.split())
    for unmapped in ("xpath", "'repl': 'DATE'", "grep", "a command job",
                     "ignore_connection_errors"):
        assert unmapped in out, unmapped
    assert "5 of 6 imported" in out
    text = path.read_text(encoding="utf-8")
    assert "# our sources: keep this comment" in text and "# who is told" in text
    assert text.index("# who is told") > text.rindex("[[sources]]")  # watchers stay last


def test_changedetection_backup_json_and_zip(tmp_path: Path) -> None:
    backup = tmp_path / "changedetection-backup-20261201.zip"
    with zipfile.ZipFile(backup, "w") as z:
        z.write(SAMPLES / "url-watches.json", "url-watches.json")
    for n, sample in enumerate([SAMPLES / "url-watches.json", backup]):
        (tmp_path / str(n)).mkdir()
        path = sources_file(tmp_path / str(n))
        got = run(str(sample), "--no-test", "--sources", str(path))
        assert got.exit_code == 0, got.output
        s = by_url(path)
        reply = s["https://gxt.hunan.gov.cn/gxt/xxgk_71033/jytabl/202106/"
                  "t20210624_19690632.html"]
        assert reply.title == "对省政协十二届四次会议第0192号提案的答复"
        assert reply.tags == ("hunan", "reply")  # tag uuids → their titles
        assert reply.content == ("div.v_news_content",)
        assert reply.ignore == (".share", "#visit-count")
        assert reply.interval.total_seconds() == 86400
        ignored = reply.ignore_text
        assert any(re.fullmatch(r, "本页浏览次数：1234") for r in ignored)
        assert any(re.fullmatch(r, "访问量：99") for r in ignored)
        assert not any(re.search(r, "现答复如下：") for r in ignored)
        wuhan = s["https://www.wuhan.gov.cn/zwgk/xxgk/jytabl/"]
        assert not wuhan.enabled and wuhan.tags == ("wuhan", "reply")  # paused; old "tag"
        assert wuhan.interval.total_seconds() == 90 * 60 and wuhan.content == ()
        assert s["https://www.gov.cn/zhengce/jiedu/"].fetch == "browser"
        out = " ".join(got.output.split())
        assert "xpath://div" in out and "trigger_text" in out and "3 of 3 imported" in out


def test_list_and_csv_import_each_url_once(tmp_path: Path) -> None:
    path = sources_file(tmp_path)
    got = run(str(SAMPLES / "urls.txt"), "--no-test", "--sources", str(path))
    assert got.exit_code == 1  # the second copy of the Wuhan URL
    out = " ".join(got.output.split())
    assert "2 of 3 imported" in out
    # the report reads in the file's order: Hunan, then Wuhan imported, then its copy
    hunan = out.index("gxt.hunan.gov.cn")
    wuhan = out.index("已导入（imported）", out.index("wuhan"))  # Chinese first
    assert hunan < wuhan < out.index("already watched as")
    got = run(str(SAMPLES / "urls.csv"), "--no-test", "--sources", str(path))
    out = " ".join(got.output.split())
    assert "already watched as existing" in out and "already watched as" in out
    assert ("未导入：此网址已在监控中（来源 existing）；技术细节：not imported: already "
            "watched") in out
    assert "column owner" in out
    s = by_url(path)
    assert len(s) == 3  # existing + the two of the list; the CSV's are both in already


def test_csv_columns(tmp_path: Path) -> None:
    path = sources_file(tmp_path, HEAD.replace("kyc.whxy.edu.cn", "example.org"))
    assert run(str(SAMPLES / "urls.csv"), "--no-test", "--sources", str(path)).exit_code == 0
    plan = by_url(path)["https://kyc.whxy.edu.cn/info/1131/3782.htm"]
    assert plan.content == ("div.v_news_content",) and plan.tags == ("hubei", "plan")
    assert plan.interval.total_seconds() == 86400 and plan.title.startswith("湖北省")


def test_each_source_is_fetched_first_and_a_broken_one_is_not_imported(
        tmp_path: Path) -> None:
    site = Site()
    try:
        good = site.route("/reply.html", seed_page(0))
        gone = site.url("/gone.html")  # 404
        listed = tmp_path / "urls.txt"
        listed.write_text(f"{good}\n{gone}\n", encoding="utf-8")
        path = sources_file(tmp_path)
        got = run(str(listed), "--sources", str(path))
        assert site.hits("/reply.html") == 1 and site.hits("/gone.html") >= 1
    finally:
        site.close()
    assert got.exit_code == 1
    out = " ".join(got.output.split())
    assert "not imported" in out and "404" in out and "1 of 2 imported" in out
    assert set(by_url(path)) == {"https://kyc.whxy.edu.cn/info/1131/3782.htm", good}
    # Chinese first, as `sources add` says it, then the English detail
    [row] = [line for line in got.output.splitlines() if "gone.html" in line]
    assert (f"未导入：页面已删除或不存在（HTTP 404）；技术细节：not imported: gone: {gone}: "
            "HTTP 404") in row


def test_a_broken_file_changes_nothing(tmp_path: Path) -> None:
    path = sources_file(tmp_path)
    bad = tmp_path / "urls.yaml"
    bad.write_text("url: https://a.example/\nfilter: [css: {\n", encoding="utf-8")
    got = CliRunner().invoke(cli, ["sources", "import", str(bad), "--sources", str(path)])
    assert got.exit_code == 2
    assert "不是有效的 YAML" in got.output
    assert path.read_text(encoding="utf-8") == HEAD


def test_urlwatch_post_jobs_are_refused_and_secrets_never_written(tmp_path: Path) -> None:
    yaml = tmp_path / "urls.yaml"
    yaml.write_text(
        "name: 表单查询\nurl: https://example.org/search\nmethod: POST\ndata: q=答复\n---\n"
        "name: 登录后的页面\nurl: https://example.org/member.html\nmax_tries: 3\n"
        "user_visible_url: https://example.org/m\n"
        "headers:\n  Cookie: sid=s3cret-cookie\n  Referer: https://example.org/\n"
        "cookies:\n  token: s3cret-token\n", encoding="utf-8")
    path = sources_file(tmp_path, HEAD.replace("kyc.whxy.edu.cn", "example.com"))
    got = run(str(yaml), "--no-test", "--sources", str(path))
    assert got.exit_code == 1  # the POST job is not imported
    out = " ".join(got.output.split())
    assert "表单查询" in out and "GET only" in out
    s = by_url(path)
    assert "https://example.org/search" not in s
    member = s["https://example.org/member.html"]
    assert dict(member.headers) == {"Referer": "https://example.org/"}
    written = path.read_text(encoding="utf-8")
    assert "s3cret" not in written and "s3cret" not in got.output
    for key in ("max_tries", "user_visible_url", "header Cookie", "cookies token"):
        assert key in out, key
