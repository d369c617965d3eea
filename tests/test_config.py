"""sources.toml validation: every mistake names the file, the source and the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor import zh
from monitor.config import load_config, parse_config, parse_interval
from monitor.errors import ConfigError, NotFoundError

GOOD = """
[[sources]]
name = "hb-ai-plan"
url = "https://kyc.whxy.edu.cn/info/1131/3782.htm"
content = "div.v_news_content"
ignore = [".share", "#visit-count"]
ignore_text = ['点击[:：]\\s*\\d+']
interval = "6h"
tags = ["hubei", "plan"]

[[sources]]
name = "hn-replies"
url = "https://gxt.hunan.gov.cn/x.html"
cron = "0 8 * * *"

[[watchers]]
email = "analyst@example.org"
sources = ["hb-*"]
tags = ["plan"]
"""


def test_a_good_file_loads_with_its_schedules_and_watchers() -> None:
    cfg = parse_config(GOOD)
    plan, replies = cfg.sources
    assert plan.content == ("div.v_news_content",) and plan.interval == timedelta(hours=6)
    assert replies.cron == "0 8 * * *" and replies.interval is None
    assert [w.email for w in cfg.watchers_of(plan)] == ["analyst@example.org"]
    assert cfg.watchers_of(replies) == []


@pytest.mark.parametrize(("edit", "source", "key"), [
    (('interval = "6h"', 'interval = "6 hours"'), "hb-ai-plan", "interval"),
    (('content = "div.v_news_content"', 'content = "div[["'), "hb-ai-plan", "content"),
    (("ignore_text = ['点击[:：]\\s*\\d+']", "ignore_text = ['点击[']"), "hb-ai-plan",
     "ignore_text"),
    (('cron = "0 8 * * *"', 'cron = "0 25 * * *"'), "hn-replies", "cron"),
    (('tags = ["hubei", "plan"]', 'tags = ["hubei"]\nselector = "x"'), "hb-ai-plan", "selector"),
    (('url = "https://gxt.hunan.gov.cn/x.html"', 'url = "file:///etc/passwd"'), "hn-replies",
     "url"),
    (('name = "hn-replies"', 'name = "hb-ai-plan"'), "hb-ai-plan", "name"),
    (('url = "https://gxt.hunan.gov.cn/x.html"',
      'url = "https://kyc.whxy.edu.cn/info/1131/3782.htm"'), "hn-replies", "url"),
    (('interval = "6h"', 'interval = "99999999999w"'), "hb-ai-plan", "interval"),
    (('tags = ["hubei", "plan"]', 'encoding = "klingon"'), "hb-ai-plan", "encoding"),
    (('tags = ["hubei", "plan"]', 'encoding = "base64"'), "hb-ai-plan", "encoding"),
    (('url = "https://gxt.hunan.gov.cn/x.html"', 'url = "FILE:///etc/passwd"'), "hn-replies",
     "url"),
    (('tags = ["hubei", "plan"]', 'accept_challenge_like = "yes"'), "hb-ai-plan",
     "accept_challenge_like"),
])
def test_a_broken_edit_names_file_source_and_key(edit: tuple[str, str], source: str,
                                                  key: str, tmp_path: Path) -> None:
    assert edit[0] in GOOD, edit[0]
    path = tmp_path / "sources.toml"
    path.write_text(GOOD.replace(edit[0], edit[1], 1), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message and repr(source) in message and repr(key) in message


def test_accept_challenge_like_is_off_unless_a_source_or_its_documents_turn_it_on() -> None:
    cfg = parse_config(GOOD.replace('tags = ["hubei", "plan"]', "accept_challenge_like = true")
                       + '[[sources]]\nname = "bj-col"\nkind = "listing"\n'
                       'url = "https://zjw.beijing.gov.cn/col/index.html"\n'
                       "[sources.follow]\naccept_challenge_like = true\n")
    plan, replies, column = cfg.sources
    assert plan.accept_challenge_like and not replies.accept_challenge_like
    assert not column.accept_challenge_like
    assert column.document("https://zjw.beijing.gov.cn/col/t1.html").accept_challenge_like


def test_an_interval_is_capped_at_366_days_with_a_clear_message() -> None:
    assert parse_interval("366d") == timedelta(days=366)
    for huge in ("367d", "99999999999w", "9" * 400 + "s"):
        with pytest.raises(ValueError, match="longer than 366 days"):
            parse_interval(huge)


def test_a_forced_encoding_is_kept_as_written_when_python_knows_it() -> None:
    good = GOOD.replace('tags = ["hubei", "plan"]', 'encoding = "GB2312"')
    assert parse_config(good).sources[0].encoding == "GB2312"  # decoded as gb18030
    bad = GOOD.replace('tags = ["hubei", "plan"]', 'encoding = "klingon"')
    with pytest.raises(ConfigError, match="'klingon' is not a text encoding"):
        parse_config(bad)


def test_url_schemes_are_case_insensitive_and_normalised_to_lower_case() -> None:
    upper = GOOD.replace("https://gxt.hunan.gov.cn/x.html", "HTTP://127.0.0.1/x")
    assert parse_config(upper).sources[1].url == "http://127.0.0.1/x"
    twice = GOOD.replace("https://gxt.hunan.gov.cn/x.html",
                         "HTTPS://kyc.whxy.edu.cn/info/1131/3782.htm")
    with pytest.raises(ConfigError, match="same page as source 'hb-ai-plan'"):
        parse_config(twice)


@pytest.mark.parametrize(("edit", "key"), [
    (('sources = ["hb-*"]', 'sources = "hb-*"'), "sources"),
    (('tags = ["plan"]', 'tags = "hunan"'), "tags"),
    (('email = "analyst@example.org"', 'email = "analyst@example.org"\nmood = "x"'), "mood"),
])
def test_a_broken_watcher_names_the_watcher_and_the_key(edit: tuple[str, str], key: str) -> None:
    assert edit[0] in GOOD, edit[0]
    with pytest.raises(ConfigError) as err:
        parse_config(GOOD.replace(edit[0], edit[1]), path="w.toml")
    assert str(err.value).startswith(f"w.toml: watcher 'analyst@example.org': key {key!r}: ")
    assert err.value.watcher == "analyst@example.org" and err.value.source is None


def test_a_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[[sources]]\nname = 'x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"s\.toml: not valid TOML"):
        load_config(path)


def test_a_duplicate_name_names_both_lines_in_english_and_in_chinese() -> None:
    # the second hn-replies is on line 26 (indented: column 3), the first on line 12;
    # a name in a multi-line string or a watcher's list is no source's name
    again = ('\n[[sources]]\n  name = "hn-replies"  # copied\nurl = "https://gxt.hunan.gov.cn/y"'
             '\ntitle = """\nname = "hn-replies"\n"""\n')
    text = GOOD.replace('[[watchers]]', 'title = """\nname = "hn-replies"\n"""\n\n[[watchers]]'
                        ) + again
    lines = text.splitlines()
    assert lines[11] == 'name = "hn-replies"' and lines[25] == '  name = "hn-replies"  # copied'
    with pytest.raises(ConfigError) as err:
        parse_config(text, path="s.toml")
    assert str(err.value) == ("s.toml: source 'hn-replies': key 'name': duplicate name at "
                              "line 26, column 3 (first at line 12)")
    told = zh.config_problem(str(err.value), file="s.toml", source="hn-replies", key="name")
    assert told == ("s.toml，来源 hn-replies，键 name 第 26 行第 3 列："
                    "名称重复（第 12 行已有同名来源）")


def test_a_watcher_without_address_or_with_a_secret_in_the_file_is_refused() -> None:
    with pytest.raises(ConfigError, match="email and/or a webhook"):
        parse_config(GOOD + '\n[[watchers]]\nsources = ["*"]\n')
    bad = GOOD + '\n[[watchers]]\nwebhook = "https://h"\nwebhook_secret_env = "s3cr3t!"\n'
    with pytest.raises(ConfigError, match="environment variable"):
        parse_config(bad + 'sources = ["*"]\n')


def test_the_web_token_cannot_be_written_in_the_file() -> None:
    with pytest.raises(ConfigError, match="MONITOR_WEB_TOKEN"):
        parse_config('[settings]\nweb_token = "abc"\n')


def test_passwords_in_urls_cannot_be_written_in_the_file() -> None:
    for key, url in (("smtp_url", "smtp://alerts:hunter2@127.0.0.1:2525"),
                     ("database_url", "postgresql://monitor:s3cret@127.0.0.1/monitor")):
        with pytest.raises(ConfigError, match=rf"settings\.{key}.*MONITOR_{key.upper()}") as err:
            parse_config(f'[settings]\n{key} = "{url}"\n')
        assert "hunter2" not in str(err.value) and "s3cret" not in str(err.value)
    # without a password the address may live in the file; the environment adds it
    cfg = parse_config('[settings]\nsmtp_url = "smtp://127.0.0.1:2525"\n',
                       env={"MONITOR_SMTP_URL": "smtp://alerts:hunter2@127.0.0.1:2525"})
    assert cfg.settings.smtp_url == "smtp://alerts:hunter2@127.0.0.1:2525"
    assert parse_config('[settings]\ndatabase_url = "postgresql://monitor@db/m"\n',
                        env={}).settings.database_url == "postgresql://monitor@db/m"


def test_intervals() -> None:
    assert parse_interval("90s") == timedelta(seconds=90)
    assert parse_interval("1d") == timedelta(days=1)
    for bad in ("0s", "6", "h", "-1h", "1y"):
        with pytest.raises(ValueError):
            parse_interval(bad)


def test_select_by_glob_and_unknown_name() -> None:
    cfg = parse_config(GOOD)
    assert [s.name for s in cfg.select(["hb-*"])] == ["hb-ai-plan"]
    with pytest.raises(NotFoundError, match="no source named 'nope'"):
        cfg.select(["nope"])


def test_a_glob_selects_the_sources_being_checked_and_a_name_a_paused_one() -> None:
    """``--source 'p*'`` means the sources being checked: a paused one (``enabled =
    false``) is left out; named exactly (its name or URL) it is checked ("now")."""
    cfg = parse_config("".join(
        f'[[sources]]\nname = "p{i}"\nurl = "http://www.example.gov.cn/p{i}.html"\n'
        + ("enabled = false\n" if i == 2 else "") for i in range(1, 4)))
    assert [s.name for s in cfg.select(["p*"])] == ["p1", "p3"]
    assert [s.name for s in cfg.select(["p2"])] == ["p2"]
    assert [s.name for s in cfg.select(["http://www.example.gov.cn/p2.html"])] == ["p2"]
    assert [s.name for s in cfg.select(["p2*"])] == []  # found, and paused: nothing to do
    assert [s.name for s in cfg.select([])] == ["p1", "p3"]


def test_the_shipped_sources_file_is_valid() -> None:
    cfg = load_config(Path(__file__).parent.parent / "sources.toml")
    assert len(cfg.sources) >= 4
    assert all(s.url.startswith("http") for s in cfg.sources)


@pytest.mark.parametrize(("edit", "where"), [
    (("[[sources]]", '[settings]\ntimezone = "Mars/Olympus"\n\n[[sources]]'),
     "key 'settings.timezone'"),
    (("[[sources]]", "[settings]\nweb_enabled = true\nmetrics_port = 8080\n\n[[sources]]"),
     "key 'settings.web_port'"),
    (("[[sources]]", '[settings]\ncolour = "red"\n\n[[sources]]'),
     "key 'settings.colour': unknown key"),
    (("[[sources]]", '[settings]\nhost_dealy = 1\n\n[[sources]]'),
     "key 'settings.host_dealy': unknown key (did you mean 'host_delay'?)"),
    (("[[sources]]", "[[source]]"), "key 'source': unknown top-level table "
     "(did you mean 'sources'?)"),
    (('interval = "6h"', 'interval = "6h"\ncontnet = "div"'),
     "source 'hb-ai-plan': key 'contnet': unknown key (did you mean 'content'?)"),
    (('interval = "6h"', 'interval = "99999999999w"'), "source 'hb-ai-plan': key 'interval'"),
    (('tags = ["hubei", "plan"]', 'encoding = "klingon"'), "source 'hb-ai-plan': key 'encoding'"),
    (('tags = ["plan"]', 'tags = "hunan"'), "watcher 'analyst@example.org': key 'tags'"),
])
def test_sources_validate_exits_2_naming_file_and_key(
        edit: tuple[str, str], where: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from monitor.cli import cli, common

    monkeypatch.setattr(common.err_console, "_width", 250)  # one line, however long the path
    path = tmp_path / "sources.toml"
    path.write_text(GOOD.replace(edit[0], edit[1], 1), encoding="utf-8")
    result = CliRunner().invoke(cli, ["sources", "validate", "--sources", str(path)])
    assert result.exit_code == 2, (result.output, result.exception)
    message = " ".join(result.stderr.split())
    assert message.startswith("配置错误："), message
    assert f"技术细节：configuration error: {path}: {where}" in message, message
    assert "Traceback" not in result.output and "ok —" not in result.output


def told(err: ConfigError) -> list[str]:
    """What the admin's mail says of each problem found (``zh.config_problem``)."""
    return [zh.config_problem(str(p), file=p.file, source=p.source, key=p.key,
                              watcher=p.watcher) for p in err.problems]


def test_a_duplicate_key_is_named_with_both_lines() -> None:
    text = GOOD.replace('tags = ["hubei", "plan"]',
                        'tags = ["hubei", "plan"]\nignore_text = ["阅读次数"]')
    with pytest.raises(ConfigError) as err:
        parse_config(text, path="s.toml")
    assert "duplicate key 'ignore_text'" in str(err.value)  # the log's English too
    assert "(first at line 7)" in str(err.value)
    assert told(err.value) == [
        "s.toml，键 ignore_text 第 10 行：不是有效的 TOML 格式：键 ignore_text 重复"
        "（第 7 行已写过 ignore_text；同一个表里每个键只能写一次，请删除或合并其中一行）"]


def test_a_bad_interval_gives_its_line_value_reason_and_accepted_forms_apart() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(GOOD.replace('interval = "6h"', 'interval = "30 分钟"'), path="s.toml")
    [said] = told(err.value)
    assert said == ("s.toml，来源 hb-ai-plan，键 interval 第 8 行：取值无效；写的是：30 分钟；"
                    "原因：不是有效的时间间隔；可用的写法：数字加单位 s（秒）、m（分钟）、"
                    "h（小时）、d（天）、w（周），如 30m、6h、1d")
    assert "详见日志" not in said


def test_a_bad_regex_is_shown_as_written_with_its_reason_in_chinese() -> None:
    text = GOOD.replace("ignore_text = ['点击[:：]\\s*\\d+']", "ignore_text = ['点击[:：\\s*\\d+']")
    with pytest.raises(ConfigError) as err:
        parse_config(text, path="s.toml")
    [said] = told(err.value)
    assert said == ("s.toml，来源 hb-ai-plan，键 ignore_text 第 7 行：不是有效的正则表达式；"
                    "写的是：点击[:：\\s*\\d+；原因：字符集的 [ 没有对应的 ]，第 3 个字符处"
                    "（unterminated character set at position 2）")
    assert "\\\\" not in said and "\\\\" not in str(err.value)  # no doubled backslashes


def test_every_source_with_a_problem_is_reported_in_one_pass() -> None:
    text = (GOOD.replace('interval = "6h"', 'interval = "30 分钟"')
            .replace('cron = "0 8 * * *"', 'cron = "0 8 * * *"\nrobots = "yes"')
            + '\n[[sources]]\nname = "hb-x"\nurl = "ftp://x"\n')
    with pytest.raises(ConfigError) as err:
        parse_config(text, path="s.toml")
    said = told(err.value)
    assert len(said) == 3, said
    assert [p.source for p in err.value.problems] == ["hb-ai-plan", "hn-replies", "hb-x"]
    assert said[0].startswith("s.toml，来源 hb-ai-plan，键 interval 第 8 行：")
    assert said[1].startswith("s.toml，来源 hn-replies，键 robots 第 15 行：")
    assert said[2].startswith("s.toml，来源 hb-x，键 url 第 24 行：")


def test_the_sources_and_the_watchers_problems_are_told_together() -> None:
    text = (GOOD.replace('interval = "6h"', 'interval = "6 hours"')
            + '\n[[watchers]]\nemail = "b@example.org"\nsources = ["*"]\nmode = "weekly"\n')
    with pytest.raises(ConfigError) as err:
        parse_config(text, path="s.toml")
    said = told(err.value)
    assert len(said) == 2, said
    assert said[0].startswith("s.toml，来源 hb-ai-plan，键 interval 第 8 行：")
    assert said[1].startswith("s.toml，接收人 b@example.org，键 mode 第 24 行："), said[1]
