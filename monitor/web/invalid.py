"""Bad request parameters said in Chinese first (``GET /diff?a=abc``): FastAPI/pydantic
reject them with English text ("Input should be a valid integer, unable to parse string
as an integer"), which the web UI's readers cannot be expected to read.

Each error pydantic reports (``RequestValidationError.errors()``) becomes one Chinese
sentence naming the parameter, what it should be and what was given, from its ``type``
and ``ctx`` (the limits a route declares: ``ge``, ``le``, ``pattern``, lengths, the
choices of a ``Literal``); an error type not listed here is said generically.  The
English message follows in brackets, as the technical detail.  The status stays 422
(what the API has always answered and clients may test for); the HTML pages show the
text in the error page, the JSON API keeps its structured ``detail`` and adds the
sentence as ``message`` (``monitor/web/app.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

WHERE = {"query": "查询参数", "path": "路径参数", "body": "表单字段", "header": "请求头",
         "cookie": "Cookie"}
# what a value of that type should be
SHOULD = {"int_parsing": "整数", "int_from_float": "整数", "float_parsing": "数字",
          "bool_parsing": "true 或 false（1 或 0）", "date_parsing": "日期（如 2026-05-01）",
          "date_from_datetime_parsing": "日期（如 2026-05-01）",
          "datetime_parsing": "日期时间（如 2026-05-01T08:00）"}
LIMITS = {"greater_than_equal": ("ge", "应不小于 {}"), "greater_than": ("gt", "应大于 {}"),
          "less_than_equal": ("le", "应不大于 {}"), "less_than": ("lt", "应小于 {}"),
          "string_too_short": ("min_length", "应至少 {} 个字符"),
          "string_too_long": ("max_length", "应至多 {} 个字符"),
          "string_pattern_mismatch": ("pattern", "应符合格式 {}"),
          "literal_error": ("expected", "应为以下之一：{}"),
          "enum": ("expected", "应为以下之一：{}")}
SHOWN = 40  # characters of a given value quoted back


def message(errors: Sequence[Any]) -> str:
    """``请求参数有误：…。（invalid request: …）`` for pydantic's ``errors``."""
    said = "；".join(dict.fromkeys(_one(e) for e in errors)) or "请求无法处理"
    detail = "; ".join(f"{_name(e) or 'request'}: {e.get('msg', '')}" for e in errors)
    return f"请求参数有误：{said}。（invalid request parameters: {detail}）"


def _one(error: Any) -> str:
    kind, ctx = str(error.get("type", "")), error.get("ctx") or {}
    name = _name(error)
    where = WHERE.get(_place(error), "参数")
    who = f"{where}「{name}」" if name else "请求"
    if kind == "missing":
        return f"缺少{who}"
    given = error.get("input")
    got = f"，收到「{_short(given)}」" if isinstance(given, str | int | float) else ""
    if kind in SHOULD:
        return f"{who}应为{SHOULD[kind]}{got}"
    if kind in LIMITS and LIMITS[kind][0] in ctx:
        key, form = LIMITS[kind]
        limit = str(ctx[key]).replace(" or ", "、").replace(", ", "、")  # 'asc' or 'desc'
        return f"{who}{form.format(_short(limit))}{got}"
    return f"{who}的值无效{got}"


def _place(error: Any) -> str:
    loc = error.get("loc") or ()
    return str(loc[0]) if loc else ""


def _name(error: Any) -> str:
    loc = error.get("loc") or ()
    return ".".join(str(p) for p in loc[1:])


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= SHOWN else text[:SHOWN] + "…"
