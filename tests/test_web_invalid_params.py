"""A bad query parameter (``/diff?a=abc``) is said in Chinese first on the web pages, the
English detail after, and the JSON API keeps its structured ``detail`` with a Chinese
``message`` (``monitor/web/invalid.py``); the status stays 422."""

from __future__ import annotations

import httpx

from monitor.web.app import create_app
from storage import Store
from tests.test_web_api import make_config


async def _get(store: Store, *requests: tuple[str, dict[str, str]]) -> list[httpx.Response]:
    app = create_app(make_config(), store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://127.0.0.1") as client:
        return [await client.get(path, params=params) for path, params in requests]


async def test_a_bad_parameter_on_a_page_is_said_in_chinese_first(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    try:
        diff, mode, page = await _get(store, ("/diff", {"a": "abc", "b": "1"}),
                                      ("/diff", {"a": "1", "b": "2", "mode": "sideways"}),
                                      ("/search", {"q": "规划", "page": "0"}))
    finally:
        store.close()
    assert diff.status_code == 422 and diff.headers["content-type"].startswith("text/html")
    said = "请求参数有误：查询参数「a」应为整数，收到「abc」。"
    assert said in diff.text
    # the English detail after the Chinese, never before it
    english = "Input should be a valid integer"
    assert english in diff.text and diff.text.index(said) < diff.text.index(english)
    assert "查询参数「mode」应符合格式 ^(inline|side)$，收到「sideways」" in mode.text
    assert page.status_code == 422 and "查询参数「page」应不小于 1，收到「0」" in page.text


async def test_the_api_keeps_its_detail_and_adds_a_chinese_message(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    try:
        order, missing, diff = await _get(store, ("/api/changes", {"order": "sideways"}),
                                          ("/api/search", {}),
                                          ("/api/diff", {"a": "x", "b": "1"}))
    finally:
        store.close()
    assert order.status_code == 422
    body = order.json()
    assert body["detail"][0]["loc"] == ["query", "order"]  # structured, as before
    assert body["message"].startswith(
        "请求参数有误：查询参数「order」应为以下之一：'asc'、'desc'，收到「sideways」。")
    assert missing.status_code == 422
    assert missing.json()["message"].startswith("请求参数有误：缺少查询参数「q」。")
    assert diff.json()["message"].startswith("请求参数有误：查询参数「a」应为整数，收到「x」")


async def test_a_date_that_is_none_is_said_in_chinese_first(sqlite_url: str) -> None:
    """``/search?from=2026-13-01`` (a month 13): the page and the API say it as the command
    line does (日期无效, exit 2 there), the English after it; 422 as any bad parameter."""
    store = Store(sqlite_url)
    try:
        page, api = await _get(store, ("/search", {"q": "规划", "from": "2026-13-01"}),
                               ("/api/search", {"q": "规划", "to": "2026-02-30"}))
    finally:
        store.close()
    assert page.status_code == 422
    said = "日期无效：「2026-13-01」，应写作 2026-05-01"
    assert said in page.text
    assert page.text.index(said) < page.text.index("is not a date like 2026-05-01")
    assert api.status_code == 422
    assert api.json()["detail"].startswith("日期无效：「2026-02-30」")
