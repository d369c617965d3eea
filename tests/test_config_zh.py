"""Every validator of sources.toml and [settings] says, in Chinese, the key, the value
written and what is accepted (``zh.config_problem``): a bad input → the phrases its
Chinese message must have.  None may fall back to the bare 取值无效 / 取值格式不对."""

from __future__ import annotations

import re

import pytest

from monitor import zh
from monitor.config import parse_config
from monitor.errors import ConfigError

SOURCE = '[[sources]]\nname = "a"\nurl = "http://example.gov.cn/a.html"\n'
BARE = re.compile(r"取值无效(?:$|（)|取值格式不对")  # the fallbacks: no reason, no value
WATCHER = '[[watchers]]\nname = "w"\nemail = "w@example.org"\nsources = ["a"]\n'


def said(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_config(text, path="s.toml", env=env or {})
    return [zh.config_problem(str(p), file=p.file, source=p.source, key=p.key,
                              watcher=p.watcher) for p in err.value.problems]


SOURCES = [  # (lines added to a source, phrases of its Chinese message)
    ('conten = "div.b"', ["未知的键 conten（是否想写 content？）"]),
    ('colour = "red"', ["未知的键 colour（"]),
    ('cron = "0 25 * * *"', ["写的是：0 25 * * *", "第 2 个字段（小时）", "25", "0–23"]),
    ('cron = "61 8 * * *"', ["第 1 个字段（分钟）", "0–59"]),
    ('cron = "0 8 * *"', ["应有 5 个字段，写了 4 个"]),
    ("cron = 8", ["应为字符串", "写的是：8"]),
    ('encoding = "gbk2"', ["不是 Python 认识的文字编码", "写的是：gbk2", "gb18030"]),
    ('fetch = "chrome"', ["取值只能是 http、browser、auto 之一", "写的是：chrome"]),
    ('kind = "list"', ["取值只能是 page、listing、feed 之一", "写的是：list"]),
    ('links = "a"', ["links 只用于栏目来源", 'kind = "listing"']),
    ('enabled = "no"', ["应为 true 或 false", "写的是：'no'"]),
    ("title = 3", ["应为字符串", "写的是：3"]),
    ("tags = [1]", ["应为字符串或非空字符串的列表", "写的是：[1]"]),
    ('proxy = "ftp://p"', ["不是有效的代理地址", "写的是：ftp://p", "direct"]),
    ('proxy = "http://u:pw@p:3128"', ["代理地址中含有密码", "MONITOR_PROXY"]),
    ("headers = { Cookie = \"x\" }", ["登录凭据", "cookies_env"]),
    ("headers = 3", ["应为请求头名称与字符串的表"]),
    ('cookies_env = "sid=1"', ["应写环境变量的名称", "写的是：sid=1"]),
    ('kind = "listing"\nmax_pages = 0', ["应为 1 到 50 之间的整数", "写的是：0"]),
    ('kind = "listing"\npage_url = "p.html"', ["应含有 {n}", "写的是：p.html"]),
    ('kind = "listing"\nfollow = 3', ["应为一个表：[sources.follow]"]),
    ('kind = "listing"\nnext_page = "a"\npage_url = "i_{n}.html"',
     ["next_page 和 page_url 只能写一个"]),
]


@pytest.mark.parametrize(("lines", "phrases"), SOURCES)
def test_a_bad_source_key_is_told_in_chinese_with_its_value(lines: str, phrases: list[str]
                                                            ) -> None:
    [one] = said(SOURCE + lines + "\n" + WATCHER)
    for phrase in phrases:
        assert phrase in one, one
    assert not BARE.search(one), one


def test_a_chinese_name_is_refused_saying_which_characters_a_name_may_have() -> None:
    [one] = said(SOURCE.replace('"a"', '"吉林"') + WATCHER.replace('["a"]', '["*"]'))
    assert "名称无效；写的是：吉林" in one and "英文字母（A–Z、a–z）、数字（0–9）" in one
    assert "title" in one, one  # where a Chinese name goes


def test_interval_and_a_bad_cron_are_both_told() -> None:
    told = said(SOURCE + 'interval = "6h"\ncron = "0 25 * * *"\n' + WATCHER)
    assert len(told) == 2, told
    assert "interval 和 cron 只能写一个" in told[0] and "0–23" in told[1], told


WATCHERS = [  # (a watcher's table, phrases)
    ('email = "not-an-email"', ["不是有效的电子邮件地址", "写的是：not-an-email"]),
    ('mode = "weekly"', ["取值只能是 immediate、digest 之一", "写的是：weekly"]),
    ('digest_at = "8am"', ["一天中的时刻", "写的是：8am"]),
    ('webhook_format = "qq"', ["取值只能是 generic、", "写的是：qq"]),
    ('webhook_env = "https://x"', ["应写环境变量的名称"]),
    ('webhook = "https://oapi.dingtalk.com/robot/send?access_token=abc"',
     ["网址中含有密钥（access_token=…）", "webhook_env = "]),
    ('kinds = ["reply_add"]', ["未知的变化类型 'reply_add'", "reply_added", "可用的类型："]),
]


@pytest.mark.parametrize(("line", "phrases"), WATCHERS)
def test_a_bad_watcher_key_is_told_in_chinese(line: str, phrases: list[str]) -> None:
    told = said(SOURCE + WATCHER.replace('email = "w@example.org"\n', "") + line + "\n"
                + ('email = "w@example.org"\n' if "email" not in line else ""))
    one = told[-1]
    for phrase in phrases:
        assert phrase in one, told
    assert not BARE.search(one), one


SETTINGS = [  # (a [settings] line, phrases)
    ('web_token = "abc"', ["web_token 是密钥，不能写在配置文件中", "环境变量 MONITOR_WEB_TOKEN"]),
    ('smtp_url = "smtp://u:pw@h:25"', ["smtp_url 的地址中含有密码", "MONITOR_SMTP_URL"]),
    ("concurrency = 0", ["写的是：0", "应大于或等于 1"]),
    ('concurrency = "x"', ["应为整数", "写的是：'x'"]),
    ('timezone = "Asia/Beijing"', ["不是有效的时区名称", "写的是：Asia/Beijing",
                                   "Asia/Shanghai"]),
    ('check_workers = "many"', ["应为 auto 或进程数", "写的是：many"]),
    ('public_url = "monitor"', ["不是有效的网址", "写的是：monitor"]),
    ('host_delay = "slow"', ["应为数字", "写的是：'slow'"]),
    ('default_interval = "soon"', ["写的是：soon", "如 30m、6h、1d"]),
    ("web_enabled = true\nweb_port = 8080\nmetrics_port = 8080",
     ["web_port 与 metrics_port 都是 8080"]),
    ("host_dealy = 3",
     ["键 settings.host_dealy 第 2 行：未知的键 host_dealy（是否想写 host_delay？）"]),
    ('proxy = "ftp://p"', ["不是有效的代理地址", "写的是：ftp://p"]),
]


@pytest.mark.parametrize(("line", "phrases"), SETTINGS)
def test_a_bad_setting_is_told_in_chinese(line: str, phrases: list[str]) -> None:
    [one] = said(f"[settings]\n{line}\n" + SOURCE + WATCHER)
    for phrase in phrases:
        assert phrase in one, one
    assert not BARE.search(one), one


def test_a_regex_in_a_basic_string_says_to_use_single_quotes_at_the_backslash() -> None:
    [one] = said(SOURCE + 'ignore_text = ["点击\\d+"]\n' + WATCHER)
    # ignore_text = ["点击\d+"]: the backslash is the 19th character of line 4
    assert one.startswith("s.toml 第 4 行第 19 列：不是有效的 TOML 格式："), one
    assert "单引号" in one and "['点击\\d+']" in one, one


def test_a_bad_url_or_cron_reason_is_said_for_its_own_key() -> None:
    """The catch-all of cron's other reasons is cron's alone: a URL's port is a URL's."""
    [url] = said(SOURCE.replace("example.gov.cn/", "example.gov.cn:99999/") + WATCHER)
    assert "网址无效" in url and "端口超出范围 0–65535" in url and "cron" not in url, url
    [cron] = said(SOURCE + 'cron = "*/0 * * * *"\n' + WATCHER)
    assert "cron 表达式无效；写的是：*/0 * * * *" in cron, cron


def test_an_unknown_table_says_the_englishs_suggestion_and_its_line() -> None:
    [one] = said("[settings]\n\n" + SOURCE.replace("[[sources]]", "[[source]]") + WATCHER)
    assert one.startswith("s.toml，键 source 第 3 行：未知的表"), one
    assert one.endswith("（是否想写 [[sources]]？）"), one
    [two] = said('[setting]\ntimezone = "Asia/Shanghai"\n' + SOURCE + WATCHER)
    assert "第 1 行" in two and "（是否想写 [settings]？）" in two, two


def test_an_unknown_setting_says_its_line_as_a_sources_key_does() -> None:
    [one] = said('[settings]\ntimezone = "Asia/Shanghai"\ndatabse_url = "sqlite:///x.db"\n'
                 + SOURCE + WATCHER)
    assert one.startswith("s.toml，键 settings.databse_url 第 3 行：未知的键 databse_url"
                          "（是否想写 database_url？）"), one
    [source] = said(SOURCE + 'intervall = "1d"\n' + WATCHER)
    assert "键 intervall 第 4 行：" in source, source
