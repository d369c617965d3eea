"""Errors in words a reader of an alert understands: one Chinese sentence per error kind.

Alerts, digests and trouble mails are Chinese from end to end, while the CLI and the log
stay English for admins.  So an error keeps its English message (log, ``checks.error``,
``monitor status``) and messages to people say ``describe(kind, …)``: the sentence of its
``kind`` (``monitor.errors``), then the technical detail in brackets — the HTTP status
of an error answer, else the stable kind code admins filter on
(``页面已删除（HTTP 404）``, ``请求超时（timeout）``).  The English message itself never goes
into a Chinese text: "HTTP 404, not found" there reads as a program's internals.

``config_problem`` does the same for a refused ``sources.toml``: where (file, source or
watcher, key, line and column) and what, in Chinese; the English message stays in the log.
"""

from __future__ import annotations

import re

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


def describe(kind: str | None, status: int | None = None) -> str:
    """``页面已删除或不存在（HTTP 404）``: the kind's sentence, the technical detail after."""
    sentence = SENTENCES.get(kind or "", GENERIC)
    detail = f"HTTP {status}" if status and status >= 300 else (kind or "")
    return f"{sentence}（{detail}）" if detail else sentence


def failures(streak: int, kind: str | None, status: int | None = None) -> str:
    """The detail of a trouble alert: ``连续 3 次检查失败：请求超时（timeout）``."""
    return f"连续 {streak} 次检查失败：{describe(kind, status)}"


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
    said = _said(message)
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
    # a line break inside a one-line string: its closing quote is missing (tomllib says
    # "Illegal character '\n'"), as is a literal string's at the end of the file
    ("Illegal character '\\n'", "字符串缺少结束的引号"),
    ("Expected \"'\"", "字符串缺少结束的引号"),
    ("Illegal character", "含有不允许的字符"),
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


KEPT_RUNNING = "守护进程保持运行中的配置，此次修改未生效。"
DETAIL = "技术细节："  # before the English message, after its Chinese
