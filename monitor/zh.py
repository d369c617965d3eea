"""Errors in words a reader of an alert understands: one Chinese sentence per error kind.

Alerts, digests and trouble mails are Chinese from end to end, the command line is Chinese
first (its lines: ``monitor.cli.common.both``), and the log stays English for admins.  So
an error keeps its English message (log, ``checks.error``) and messages to people say
``describe(kind, …)``: the sentence of its
``kind`` (``monitor.errors``), then the technical detail in brackets — the HTTP status
of an error answer, else the stable kind code admins filter on
(``页面已删除（HTTP 404）``, ``请求超时（timeout）``).  The English message itself never goes
into a Chinese text: "HTTP 404, not found" there reads as a program's internals.  An admin's
screen (``monitor check``'s table, ``monitor status``'s result column) says ``told``: the
sentence, then the English message as the technical detail after it.

``config_problem`` does the same for a refused ``sources.toml``: where (file, source or
watcher, key, line and column) and what, in Chinese; the English message stays in the log.
Each validator's English message has its rule (``_RULES``: a pattern of the English, the
Chinese sentence): what is wrong, what was written (写的是), what is accepted.  A message
no rule knows falls back to the general table (``_PROBLEMS``) and, last, to 取值无效 with
the names the English quotes; ``tests/test_config_zh.py`` keeps every validator of
``monitor.config`` and ``monitor.settings`` off that fallback.
"""

from __future__ import annotations

import re
from collections.abc import Callable

SENTENCES: dict[str, str] = {
    "timeout": "请求超时，网站未及时响应",
    "network": "无法连接网站",
    "http_status": "网站返回错误状态",
    "gone": "页面已删除或不存在",
    "challenge": "网站返回的是验证页或拦截页，不是原页面",
    "empty": "页面内容为空",
    "selector": "页面上找不到指定的正文区域",
    "decode": "页面内容无法解码",
    "robots": "网站的 robots.txt 不允许抓取此页",
    "blocked": "此网址不允许抓取",
    "too_large": "页面过大，已停止下载",
    "redirects": "页面重定向次数过多",
    "backoff": "网站要求放慢访问，暂停请求中",
    "listing_broken": "栏目页未完整显示文档列表",
    "busy": "另一进程正在检查此页，等待超时",
    "internal": "程序内部错误，详见日志",
    "config": "配置文件有误",
    "fetch": "页面抓取失败",
    "content": "页面内容不是有效版本",
    "document": "文件无法读取",
    "storage": "检查结果无法保存到数据库",
    "delivery": "提醒发送失败",
}
GENERIC = "检查失败"


# A body refused as not the page (kind "challenge", ``monitor.challenge``) is not always
# a verification page: the reason it was refused (the error's English text) picks the
# sentence, so a CMS that left its template unfilled is not called a block.
_NOT_THE_PAGE: tuple[tuple[str, str], ...] = (
    ("unrendered template placeholders", "网站返回的页面未渲染完整（残留模板占位符），不是原页面"),
    ("error page", "网站返回的是出错页面，不是原页面"),
    ("only redirects with JavaScript", "网站返回的是跳转页，不是原页面"),
    ("empty body", "网站返回的页面几乎是空的，不是原页面"),
    ("rate limited", "网站限制访问频率，返回的不是原页面"),
)


# The reasons judged from the body alone, which a source's ``accept_challenge_like``
# overrules (``monitor.challenge``): a refusal for one of them says so.
_BODY_JUDGED = ("near-empty body", "unrendered template placeholders",
                "anti-bot verification page", "only redirects with JavaScript")
ACCEPT_HINT = ("如确是原页面，可在该来源下写 accept_challenge_like = true，照样收录"
               "（响应状态和响应头判定的拦截仍会拒绝）")


def hint(kind: str | None, reason: str = "") -> str:
    """What to do about a refusal, when there is something: for a body refused as not
    the page by a rule the source can switch off, ``accept_challenge_like``."""
    if kind == "challenge" and any(r in reason for r in _BODY_JUDGED):
        return ACCEPT_HINT
    return ""


def describe(kind: str | None, status: int | None = None, reason: str = "") -> str:
    """``页面已删除或不存在（HTTP 404）``: the kind's sentence, the technical detail after.
    ``reason``: the error's own text, which tells apart the bodies refused as not the
    page (``_NOT_THE_PAGE``)."""
    sentence = SENTENCES.get(kind or "", GENERIC)
    if kind == "challenge":
        sentence = next((zh for en, zh in _NOT_THE_PAGE if en in reason), sentence)
    detail = f"HTTP {status}" if status and status >= 300 else (kind or "")
    return f"{sentence}（{detail}）" if detail else sentence


def told(kind: str | None, status: int | None, message: str) -> str:
    """An error for an admin's screen (``monitor check``'s table): ``describe``, then the
    English message as the technical detail (``页面已删除或不存在（HTTP 404）：… HTTP 404,
    not found``): the words of the log and ``checks.error``, to grep or to report."""
    said = describe(kind, status, message)
    return f"{said}：{message}" if message else said


def failures(streak: int, kind: str | None, status: int | None = None,
             reason: str = "") -> str:
    """The detail of a trouble alert: ``连续 3 次检查失败：请求超时（timeout）``."""
    return f"连续 {streak} 次检查失败：{describe(kind, status, reason)}"


# --- sources.toml -----------------------------------------------------------------------

_PLACE = re.compile(r"line (\d+)(?:, column (\d+))?")
_FIRST = re.compile(r"first at line (\d+)")  # a duplicate name's first use
# (a phrase of the English message, its Chinese) — the first that occurs wins.
_PROBLEMS: tuple[tuple[str, str], ...] = (
    # a watcher's triggers (alerts.triggers) are refused in Chinese already
    ("未知的变化类型", "未知的变化类型"),
    ("不是有效的正则表达式", "不是有效的正则表达式"),
    ("应为非空字符串的列表", "应为非空字符串的列表"),
    ("应为字符串的列表", "应为字符串的列表，如 [\"gov-*\"]"),
    ("没有指定提醒哪些来源", "没有指定提醒哪些来源：请在 sources 写来源名称（可用通配符 *）和/或在 "
                        "tags 写标签"),
    ("not valid TOML", "不是有效的 TOML 格式"),
    ("not UTF-8", "文件不是 UTF-8 编码"),
    ("file not found", "找不到文件"),
    ("cannot read", "无法读取文件"),
    ("is the only source", "这是文件中唯一的来源，删除后文件里没有任何来源：运行中的 monitor 会"
                           "拒绝这样的修改（像是没写完的文件），新启动的也无事可做。如要停止检查它，"
                           "请暂停：在该来源下写 enabled = false（管理页面的「暂停」即是如此）"),
    ("removes all", "此次修改删除了全部来源（文件可能尚未写完）；如要停止检查某个来源，请设置 "
                    "enabled = false"),
    ("no [[sources]]", "文件中没有任何来源（[[sources]]）：运行中的 monitor 会拒绝删除全部来源的"
                       "修改（文件可能尚未写完），新启动的也无事可做；如要停止检查某个来源，请设置 "
                       "enabled = false"),
    ("changed while it was being edited", "文件在编辑期间被其他人或程序修改，请重试"),
    ("would change other entries", "此次编辑会改动其他条目，请手动编辑文件"),
    ("duplicate name", "名称重复"),
    ("has the same page as", "与另一个来源是同一页面"),
    ("must be an http:// or https:// URL", "网址必须以 http:// 或 https:// 开头"),
    ("unknown", "未知的键"),
    ("must be", "取值格式不对"),
    ("no source named", "指向不存在的来源"),
    ("is not set", "所需的环境变量未设置"),
)
# Names worth keeping in brackets: quoted values and environment variable names.
_NAMES = re.compile(r"'([^'\r\n]{1,60})'|\b([A-Z][A-Z0-9]*_[A-Z0-9_]+)\b")


def config_problem(message: str, *, file: str | None = None, source: str | None = None,
                   watcher: str | None = None, key: str | None = None) -> str:
    """``sources.toml 第 3 行第 5 列：不是有效的 TOML 格式``: where, then what."""
    where = [file or "sources.toml"]
    if source:
        where.append(f"来源 {source}")
    if watcher:
        where.append(f"接收人 {watcher}")
    if key:
        where.append(f"键 {key}")
    place = _PLACE.search(message)
    loc = "，".join(where) + (
        f" 第 {place[1]} 行" + (f"第 {place[2]} 列" if place[2] else "") if place
        else " 文件末尾" if "end of document" in message else "")
    said = _said(message) or _told(_own_words(message, file, source, watcher, key), key)
    if said is not None:
        return f"{loc}：{said}"
    what = next((zh for en, zh in _PROBLEMS if en in message), "取值无效")
    first = _FIRST.search(message)
    also = f"（第 {first[1]} 行已有同名来源）" if first and "duplicate name" in message else ""
    return f"{loc}：{what}{also}{_names(message, {source, watcher, key})}"


def _said(message: str) -> str | None:
    """The problems told in full: what was written, why it is refused, what is accepted,
    each on its own (``；``) — a duplicate TOML key, an interval, a regex, other TOML
    errors.  None: the general table (``_PROBLEMS``) says it."""
    if m := _DUPLICATE_KEY.search(message):
        return (f"不是有效的 TOML 格式：键 {m[1]} 重复（第 {m[2]} 行已写过 {m[1]}；同一个表"
                f"里每个键只能写一次，请删除或合并其中一行）")
    if m := _FOLLOWED.search(message):
        return (f"此页面已是栏目来源 {m[1]} 跟踪的文档，同一页面只能属于一个来源（否则一次修改"
                f"会有两条提醒、两份历史）；请不要单独添加，历史可用 monitor history 加网址查看")
    if said := _mass_removal(message):
        return said
    if "not UTF-8" in message:
        return "文件不是 UTF-8 编码" + next(
            (zh for en, zh in _ENCODINGS if en in message), "") + "：请另存为 UTF-8"
    if "not valid TOML" in message:
        reason = next((zh for en, zh in _TOML_REASONS if en in message), "")
        return "不是有效的 TOML 格式" + (f"：{reason}" if reason else "")
    if m := _INTERVAL.search(message):
        reason = ("不是有效的时间间隔" if "not an interval" in m[2]
                  else f"超过上限 {m[3]} 天" if "longer" in m[2] else f"短于下限 {m[4]}")
        return (f"取值无效；写的是：{m[1]}；原因：{reason}；可用的写法：数字加单位 "
                f"s（秒）、m（分钟）、h（小时）、d（天）、w（周），如 30m、6h、1d")
    if m := _SELECTOR.search(message):
        return f"不是有效的 CSS 选择器；写的是：{m[1] if m[1] is not None else m[2]}"
    if m := _REGEX.search(message):
        en = m[1]
        reason = next((zh for e, zh in _REGEX_REASONS if e in en), "")
        at = _POSITION.search(en)
        spot = f"，第 {int(at[1]) + 1} 个字符处" if at else ""
        why = f"{reason}{spot}（{en}）" if reason else en
        return f"不是有效的正则表达式；写的是：{m[2]}；原因：{why}"
    return None


def _mass_removal(message: str) -> str | None:
    """A live edit refused as a half-written file (``monitor.reload.mass_removal``):
    what it removes, why it is refused, how to apply it on purpose."""
    on_purpose = "如确要删除，请用此文件重启 monitor run（重启时按文件原样加载）"
    if m := _NO_WATCHERS.search(message):
        return (f"此次修改删除了全部 {m[1]} 个接收人（[[watchers]]：{_quoted(m[2])}），"
                f"文件可能尚未写完；若生效，此后的变化只记录、不再提醒任何人，因此未生效。"
                f"{on_purpose}")
    if m := _MOST_SOURCES.search(message):
        return (f"此次修改删除了 {m[2]} 个来源中的 {m[1]} 个（{_quoted(m[3])}），文件可能"
                f"尚未写完，因此未生效；运行中一次删除不超过一半（或少于 {m[4]} 个）才直接生效。"
                f"{on_purpose}，或分几次删除")
    return None


def _quoted(names: str) -> str:
    """``'a', 'b', ...`` as ``a、b 等``."""
    found = re.findall(r"'([^'\r\n]*)'", names)
    return "、".join(found) + ("等" if names.endswith("...") else "")


_NO_WATCHERS = re.compile(r"removes every watcher \((\d+): (.*); a truncated file\?\)")
_MOST_SOURCES = re.compile(r"removes (\d+) of (\d+) sources \((.*); a truncated file\?\): "
                           r"at most half of them at a time, or fewer than (\d+)")
_DUPLICATE_KEY = re.compile(r"duplicate key '([^']+)'.*\(first at line (\d+)\)")
_INTERVAL = re.compile(r"'([^'\n]*)' (is not an interval like|is longer than (\d+) days|"
                       r"is shorter than (\S+))")
_FOLLOWED = re.compile(r"is already a document of listing source '([^']+)'")
_SELECTOR = re.compile(r"""(?:'([^'\n]*)'|"([^"\n]*)") is not a valid CSS selector""")
_REGEX = re.compile(r"not a valid regex: (.*): «(.*)»", re.S)
_POSITION = re.compile(r"at position (\d+)")
# tomllib's reasons (Python 3.11+), in Chinese
_TOML_REASONS: tuple[tuple[str, str], ...] = (
    ("Cannot overwrite a value", "同一个键写了两次"),
    ("Cannot declare", "同一个表声明了两次"),
    ("Expected newline or end of document after a statement",
     "一行只能写一个键值（值后面还有内容：字符串是否少了引号？）"),
    ("Invalid value", "值无效（字符串要加引号）"),
    ("Unclosed array", "数组缺少 ]"),
    ("Unclosed inline table", "内联表缺少 }"),
    ("Unterminated string", "字符串缺少结束的引号"),
    ("Unescaped '\\' in a string",
     "双引号字符串里的反斜杠 \\ 是转义符，\\d、\\s 这类写法无效。正则表达式请改用单引号"
     "（字面字符串，反斜杠原样保留），如 ignore_text = ['点击\\d+']；或把每个 \\ 写成 \\\\"),
    # a line break inside a one-line string: its closing quote is missing (tomllib says
    # "Illegal character '\n'"), as is a literal string's at the end of the file
    ("Illegal character '\\n'", "字符串缺少结束的引号"),
    ("Expected \"'\"", "字符串缺少结束的引号"),
    ("Illegal character", "含有不允许的字符"),
    ("Found invalid character", "含有不允许的字符"),
    ("Invalid hex value", "\\u 或 \\U 后面应是十六进制数字"),
    ("Escaped character is not a Unicode scalar value", "\\u 转义不是有效的字符"),
    ("Invalid date or datetime", "日期或时间无效"),
    ("Expected ']' at the end of a table declaration", "表头缺少 ]"),
    ("Expected ']]' at the end of an array declaration", "[[…]] 表头缺少 ]]"),
    ("Expected '=' after a key", "键后面缺少 ="),
    ("Invalid initial character for a key part", "键的写法不对"),
    ("Invalid statement", "无法识别的语句"),
)
# what a file that is not UTF-8 looks like (``config._looks_like``)
_ENCODINGS = (("GBK/GB18030", "，看起来是 GBK/GB18030 编码"),
              ("UTF-16", "，是 UTF-16 编码（记事本的「Unicode」）"))
# the re module's reasons, in Chinese
_REGEX_REASONS: tuple[tuple[str, str], ...] = (
    ("unterminated character set", "字符集的 [ 没有对应的 ]"),
    ("missing ), unterminated subpattern", "括号 ( 没有对应的 )"),
    ("unbalanced parenthesis", "多出一个 )"),
    ("nothing to repeat", "*、+、? 或 {…} 前面没有可重复的内容"),
    ("multiple repeat", "重复符号连用"),
    ("bad escape", "无效的转义（反斜杠后的字符）"),
    ("bad character range", "字符范围无效（前大后小）"),
    ("unknown extension", "未知的 (? 写法"),
    ("missing group name", "缺少分组名"),
    ("unterminated name", "分组名没有结束"),
    ("look-behind requires fixed-width pattern", "后行断言必须是固定长度"),
)


def _names(message: str, known: set[str | None]) -> str:
    """``（ROOM_SECRET）``: the names the English message gives, not yet said."""
    found = dict.fromkeys(a or b for a, b in _NAMES.findall(message))
    names = [n for n in found if n not in known]
    return f"（{'，'.join(names[:4])}）" if names else ""


# --- each validator's message (monitor.config, monitor.settings), in Chinese -------------
# What is wrong, what was written (写的是), what is accepted: the English message says
# the same after 技术细节.  Matched on the message without its place (``_own_words``);
# the first rule that matches wins; none: the general table (``_PROBLEMS``).

def _own_words(message: str, file: str | None, source: str | None, watcher: str | None,
               key: str | None) -> str:
    """The English message without the place ``ConfigError`` puts before it and the
    line it puts after it: what the validator said."""
    where = [p for p in (file, f"source {source!r}" if source else None,
                         f"watcher {watcher!r}" if watcher else None,
                         f"key {key!r}" if key else None) if p]
    prefix = ": ".join(where) + ": "
    what = message.removeprefix(prefix) if where else message
    return _AT_LINE.sub("", what)


_AT_LINE = re.compile(r" \(at line \d+\)$")
_V = r"(?:'(?P<v>[^'\n]*)'|\"(?P<w>[^\"\n]*)\"|(?P<x>[^'\"\s:][^:]*?))"  # a value as repr shows it
_FIELDS_ZH = {"minute": ("1", "分钟", "0–59"), "hour": ("2", "小时", "0–23"),
              "day": ("3", "日", "1–31"), "month": ("4", "月", "1–12"),
              "weekday": ("5", "星期", "0–6（0 是星期一；也可写 mon–sun）")}
_CRON_FORM = ("格式：5 个字段「分 时 日 月 星期」，用空格分开，如 0 8 * * *（每天 8:00）、"
              "30 9 * * mon-fri（工作日 9:30）")
_NAME_RULE = ("名称只能由英文字母（A–Z、a–z）、数字（0–9）和 . _ - 组成，以字母或数字开头，"
              "最多 80 个字符，不能有汉字或空格（名称要在命令、网址和通配符里输入）；"
              "中文名称请写在 title，如 title = \"吉林省人民政府\"")
_COMPARE = {"greater than or equal to": "大于或等于", "greater than": "大于",
            "less than or equal to": "小于或等于", "less than": "小于"}
_TYPES = {"a valid integer": "整数（不加引号）", "a valid number": "数字（不加引号）",
          "a valid boolean": "true 或 false（不加引号）", "a valid string": "字符串（加双引号）",
          "a valid dictionary": "表，如 { \"a.gov.cn\" = 5 }"}


_URL_REASONS = (("out of range", "端口超出范围 0–65535"), ("integer", "端口不是数字"),
                ("IPv6", "方括号 [ ] 里的 IPv6 地址不完整"))


def _value(m: re.Match[str]) -> str:
    d = m.groupdict()
    return next((d[g] for g in ("v", "w", "x") if d.get(g) is not None), "")


def _told(what: str, key: str | None) -> str | None:
    """The Chinese of one validator's message ``what``; None: not one of these."""
    field = (key or "").removeprefix("settings.").removeprefix("follow.")
    for pattern, say in _RULES:
        if m := pattern.search(what):
            try:
                told = say(m, field)
            except (KeyError, IndexError, ValueError):  # a rule's bug hides no problem:
                return None  # the general table says it
            if told is not None:  # None: not this key's (a rule for one key only)
                return told
    return None


def _cron(m: re.Match[str], field: str) -> str:
    number, name, allowed = _FIELDS_ZH[m["f"]]
    return (f"cron 表达式无效；写的是：{_value(m)}；原因：第 {number} 个字段（{name}）"
            f"写的是 {m['t']}，超出范围 {allowed}；{_CRON_FORM}")


def _compare(m: re.Match[str], field: str) -> str:
    return f"取值超出范围；写的是：{_value(m)}；应{_COMPARE[m['c']]} {m['n']}"


def _secret_setting(m: re.Match[str], field: str) -> str:
    what = ("的地址中含有密码" if m["pw"] else "是密钥")
    return (f"{m['k']} {what}，不能写在配置文件中：请删除这一行，改为在运行 monitor 的环境中"
            f"设置环境变量 {m['env']}")


def _misplaced(m: re.Match[str], field: str) -> str:
    if m["k"] == "page":
        return (f"{field} 只用于栏目来源（kind = \"listing\"）；此来源是普通页面（kind = "
                "\"page\"，默认）：如要跟踪栏目里的文档，请加 kind = \"listing\"")
    return f"{field} 不适用于 kind = \"{m['k']}\"（订阅源没有翻页和链接选择器）"


def _cron_other(m: re.Match[str], field: str) -> str | None:
    """APScheduler's other reasons (a bad step, a name it does not know), of cron only."""
    if field != "cron":
        return None
    return f"cron 表达式无效；写的是：{_value(m)}；原因：{m['e']}；{_CRON_FORM}"


def _unknown_table(close: str | None) -> str:
    """An unknown top-level table, with the English's suggestion (``[[source]]`` →
    ``是否想写 [[sources]]？``) written as the header it would be."""
    told = "未知的表；文件里只能有 [settings]、[[sources]] 和 [[watchers]]"
    if not close:
        return told
    return told + f"（是否想写 {'[settings]' if close == 'settings' else f'[[{close}]]'}？）"


Say = Callable[[re.Match[str], str], str | None]


def _rule(pattern: str, say: str | Say) -> tuple[re.Pattern[str], Say]:
    """A rule: a pattern of the English, the Chinese (a format of the match's groups,
    ``{value}`` the value written, ``{field}`` the key; or a function)."""
    if callable(say):
        return re.compile(pattern, re.S), say
    text = say
    return re.compile(pattern, re.S), lambda m, field: text.format(
        value=_value(m) if "v" in m.re.groupindex else "", field=field,
        **{k: v or "" for k, v in m.groupdict().items()})


_RULES = (
    # refused in Chinese already (a watcher's triggers): that part, and what is accepted
    _rule(r"^(?P<z>[\u4e00-\u9fff].*?) \(a kind of change is one of: (?P<k>[^)]*)\)",
          lambda m, f: f"{m['z']}；可用的类型：{'、'.join(m['k'].split(', '))}"),
    _rule(r"^(?P<z>[\u4e00-\u9fff][^(]*?) \((?:must|not) [^)]*\)$", "{z}"),
    _rule(r"^unknown top-level table(?: \(did you mean '(?P<s>[^']*)'\?\))?$",
          lambda m, f: _unknown_table(m["s"])),
    _rule(r"^unknown key \(did you mean '(?P<s>[^']*)'\?\)$",
          "未知的键 {field}（是否想写 {s}？）"),
    _rule(r"^unknown key$", "未知的键 {field}（拼写有误，或此版本不支持这个键）"),
    _rule(r"^required: ASCII letters", "缺少名称（name，必填）；" + _NAME_RULE),
    _rule(rf"^{_V}: only ASCII letters", "名称无效；写的是：{value}；" + _NAME_RULE),
    _rule(r"^required$", "缺少此项（必填）"),
    # ``monitor check --source URL`` (monitor/cli/check.py)
    _rule(r"^'(?P<v>[^'\n]*)' is a page of '(?P<s>[^'\n]*)', which is not a listing in the",
          "网址 {v} 是来源 {s} 的页面，而 {s} 已不在文件中（或不是栏目来源），它的文档不再检查："
          "历史可用 monitor history 加网址查看；要检查来源自己的页面，请写来源名称"),
    _rule(r"has a user name or password in it",
          "网址中含有用户名或密码；来源是公开页面，不登录抓取：请删除网址中的「用户名:密码@」部分"),
    _rule(r"^must be a string or a list of non-empty strings, not (?P<v>.*)$",
          "应为字符串或非空字符串的列表，如 \"div.main\" 或 [\"div.a\", \"div.b\"]；写的是：{v}"),
    _rule(rf"^{_V}: (?P<f>minute|hour|day|month|weekday) field '(?P<t>[^']*)'", _cron),
    _rule(rf"^{_V}: Wrong number of fields; got (?P<n>\d+)",
          "cron 表达式无效；写的是：{value}；原因：应有 5 个字段，写了 {n} 个；" + _CRON_FORM),
    _rule(rf"^{_V}: must be a string like '0 8", "应为字符串（加双引号）；写的是：{value}；"
          + _CRON_FORM),
    _rule(r"^set either interval or cron, not both$",
          "interval 和 cron 只能写一个（interval 是固定间隔，cron 是固定时刻）：请删除其中一个"),
    _rule(r"^set either next_page or page_url, not both$",
          "next_page 和 page_url 只能写一个（按「下一页」链接翻页，或按网址规律翻页）"),
    _rule(r"^set either webhook or webhook_env, not both$",
          "webhook 和 webhook_env 只能写一个：网址含密钥时只写 webhook_env"),
    _rule(rf"^{_V}: (?!Input)(?P<e>.*)$", _cron_other),
    _rule(rf"^{_V} is not a text encoding Python knows",
          "不是 Python 认识的文字编码；写的是：{value}；可用的写法：gb18030（GBK、GB2312 页面"
          "也用它）、big5、utf-8"),
    _rule(r"^must be true or false, not (?P<v>.*)$",
          "应为 true 或 false（不加引号）；写的是：{v}"),
    _rule(r"^must be a string, not (?P<v>.*)$", "应为字符串（加双引号）；写的是：{v}"),
    _rule(rf"^{_V}: must be one of (?P<o>.*)$",
          lambda m, f: f"取值只能是 {'、'.join(m['o'].split(', '))} 之一；写的是：{_value(m)}"),
    _rule(r"^not for kind = \"(?P<k>\w+)\"$", _misplaced),
    _rule(rf"^{_V}: must contain \{{n\}}",
          "应含有 {{n}}（第几页），如 \"index_{{n}}.html\"；写的是：{value}"),
    _rule(rf"^{_V}: must be a whole number from 1 to (?P<n>\d+)",
          "应为 1 到 {n} 之间的整数（不加引号）；写的是：{value}"),
    _rule(r"^must be a table: \[sources\.follow\]$", "应为一个表：[sources.follow]"),
    _rule(r"^must be a table$", "应为一个表：[{field}]"),
    _rule(r"^must be an array of tables: \[\[(?P<t>\w+)\]\]$",
          "应写成表数组：每一项以 [[{t}]] 开头"),
    _rule(r"^not a proxy address: (?P<e>.*)$", "不是有效的代理地址；原因：{e}"),
    _rule(rf"^{_V} is not a proxy like",
          "不是有效的代理地址；写的是：{value}；可用的写法：http://代理主机:3128、"
          "socks5://代理主机:1080，或 direct（不用代理）"),
    _rule(r"^has a password in it: a proxy's credentials",
          "代理地址中含有密码：密码只能放在环境变量 MONITOR_PROXY 或 HTTPS_PROXY 中，不能写在 "
          "sources.toml"),
    _rule(r"^must be a table of header names and strings",
          "应为请求头名称与字符串的表，如 {{ Referer = \"https://…\", Accept-Language = "
          "\"zh-CN\" }}"),
    _rule(r"^is a credential: never in sources.toml",
          "此请求头是登录凭据，不能写在 sources.toml：请把 Cookie 放在环境变量中，用 "
          "cookies_env 写出变量名"),
    _rule(rf"^{_V}: the NAME of an environment variable",
          "应写环境变量的名称（大写字母、数字和 _，如 GXT_COOKIE），不是它的值；写的是：{value}"),
    _rule(r"^must name an environment variable",
          "应写环境变量的名称（大写字母、数字和 _，如 ROOM_WEBHOOK），不能直接写网址或密钥"),
    _rule(r"^a watcher needs an email and/or a webhook",
          "接收人至少需要一种发送方式：email、webhook（或 webhook_env）、apprise_env"),
    _rule(rf"^{_V} is not an email address$",
          "不是有效的电子邮件地址；写的是：{value}；应为一个地址，如 name@example.org（多个地址"
          "请各写一个 [[watchers]]）"),
    _rule(r"^is not a valid URL$", "不是有效的网址"),
    _rule(r"^holds a secret \((?P<p>[^)]*)\) in the file: .*webhook_env = \"(?P<e>\w+)\""
          r"(?P<sig>; a signing)?",
          lambda m, f: ("网址中含有密钥（" + m["p"].replace("a user name or password",
                                                       "用户名或密码") +
                        "），不能写在 sources.toml：请把完整网址放在环境变量中，用 webhook_env "
                        f"写出变量名，如 webhook_env = \"{m['e']}\""
                        + ("；签名密钥放在 webhook_secret_env 指定的环境变量中" if m["sig"]
                           else ""))),
    _rule(rf"^{_V}: must be a time of day like",
          "应为一天中的时刻（时:分，24 小时制），如 \"08:00\"；写的是：{value}"),
    _rule(r"^(?P<k>\w+) holds a secret(?P<pw> \(a password in the URL\))?: set "
          r"(?P<env>MONITOR_\w+)", _secret_setting),
    _rule(r"^web_port (?P<n>\d+) is also metrics_port",
          "web_port 与 metrics_port 都是 {n}：开启 web_enabled 时，网页界面和 /metrics 需要"
          "两个不同的端口"),
    _rule(r"^must be HOST=(?P<u>\w+) pairs",
          "应为「主机=数值」，用逗号分隔，如 a.gov.cn=5,b.gov.cn=2"),
    _rule(rf"^{_V} is not a time zone like",
          "不是有效的时区名称；写的是：{value}；可用的写法：IANA 时区名，如 Asia/Shanghai"
          "（北京时间）、UTC"),
    _rule(rf"^{_V} is not 'auto' or a number of processes",
          "应为 auto 或进程数（1 或以上的整数）；写的是：{value}"),
    _rule(rf"^{_V} is not an address like",
          "不是有效的网址；写的是：{value}；可用的写法：如 https://monitor.example.org"),
    _rule(rf"^{_V}: no user, query or fragment",
          "网址只能有协议、主机、端口和路径，不能有用户名、?查询 或 #片段；写的是：{value}"),
    _rule(r"^(?P<v>.*): Input should be (?P<c>greater than or equal to|greater than|less "
          r"than or equal to|less than) (?P<n>\S+)$", _compare),
    _rule(r"^(?P<v>.*): Input should be (?P<t>a valid \w+)",
          lambda m, f: f"应为{_TYPES.get(m['t'], m['t'])}；写的是：{m['v']}"),
    _rule(r"^(?P<v>.*): Input should be (?P<e>.*)$", "取值无效；写的是：{v}；原因：{e}"),
    _rule(r"^'(?P<v>[^'\n]*)': (?P<e>Port .*|Invalid IPv6 URL)$",
          lambda m, f: f"网址无效；写的是：{m['v']}；原因："
          + next((zh for en, zh in _URL_REASONS if en in m["e"]), m["e"])),
)


def warning(message: str) -> str:
    """A warning of ``check_alerting`` (watchers that match nothing or cannot be reached)
    or of ``trial.followed_problems`` (a listing's document as a source) in Chinese, as
    ``sources validate`` prints it before the English (``monitor.cli.common.both``; a
    file without watchers: ``NO_WATCHERS``); a warning no pattern here knows: ``警告``,
    the English alone says it."""
    for pattern, say in _WARNINGS:
        if m := pattern.match(message):
            return say(m)
    return "警告"


_WATCHER = r"^watcher (?P<w>'[^']*'|\S+): "
_WARNINGS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(_WATCHER + r"(?P<k>sources|tags) (?P<v>'[^']*') (?:matches no source|is the "
                r"tag of no source)(?: \(did you mean (?P<c>'[^']*')\?\))?$"),
     lambda m: (f"接收人 {m['w']} 的 {m['k']} {m['v']} "
                + ("不匹配任何来源" if m["k"] == "sources" else "不是任何来源的标签")
                + (f"（是否想写 {m['c']}？）" if m["c"] else "")
                + "：它收不到这些来源的提醒")),
    (re.compile(_WATCHER + r"kinds (?P<v>'[^']*'): (?P<why>[^(]*)"),
     lambda m: f"接收人 {m['w']} 的 kinds {m['v']}：{m['why'].strip()}"),
    (re.compile(_WATCHER + r"(?P<k>apprise_env|webhook_env|webhook_secret_env) names "
                r"(?P<e>\S+), which is (?P<not>not set in the environment)?"),
     lambda m: (f"接收人 {m['w']} 的 {m['k']} 指定的环境变量 {m['e']} "
                + ("未设置" if m["not"] else "不是可用的 Apprise 网址")
                + f"：修正之前，它的 {'Apprise' if m['k'] == 'apprise_env' else 'webhook'} "
                "提醒都会发送失败（其他接收人和检查不受影响）")),
    (re.compile(r"^source (?P<s>'[^']*'): is already a document of listing source "
                r"(?P<l>'[^']*') \((?P<u>\S+)\)"),
     lambda m: (f"来源 {m['s']} 已是栏目来源 {m['l']} 跟踪的文档（{m['u']}）：同一页面只能属于"
                f"一个来源，请删除此来源（栏目保留该页面的历史：monitor history {m['u']}）")),
)


def delivery_failed(line: str) -> str:
    """A failed send of a delivery round (``DeliveryReport.errors``: ``alert 5 to
    bob@example.cn: … (attempt 2)``) in Chinese, as ``alerts deliver`` prints it before
    the English; a line of another form: ``发送失败``."""
    m = _DELIVERY_FAILED.match(line)
    if m is None:
        return "发送失败"
    return f"提醒 {m[1]} 发往 {m[2]} 失败（第 {m[3]} 次尝试）"


_DELIVERY_FAILED = re.compile(r"^alert (\d+) to (.+?): .* \(attempt (\d+)\)$", re.S)


# ``sources validate``'s warning about a file without watchers (``config.NO_WATCHERS``)
NO_WATCHERS = ("没有接收人（[[watchers]]）：页面的变化只记录，不会提醒任何人；运行中的 monitor "
               "会拒绝删除全部接收人的修改（像是没写完的文件），如确要如此，请重启 monitor run")
KEPT_RUNNING = "守护进程保持运行中的配置，此次修改未生效。"
DETAIL = "技术细节："  # before the English message, after its Chinese

