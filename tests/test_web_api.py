"""The JSON API, the Atom feeds and the guard, with httpx against the ASGI app (SQLite and
PostgreSQL) and over a real socket with uvicorn.  ``running`` and ``make_config`` are
shared with the browser tests."""

from __future__ import annotations

import asyncio
import hashlib
import re
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from monitor.config import Config
from monitor.errors import ConfigError
from monitor.settings import Settings
from monitor.web.app import create_app, serve, server_for
from storage import Store
from tests.test_archive_data import EVIL, FAILING, HOSTILE, PLAN, PLAN_TITLE, REPLY, build_archive

ATOM = "{http://www.w3.org/2005/Atom}"


def inserted(html: str) -> list[str]:
    return re.findall(r"<ins[^>]*>(.*?)</ins>", html)


def make_config(**settings: object) -> Config:
    return Config(path=Path("sources.toml"), settings=Settings(**settings),  # type: ignore[arg-type]
                  sources=(PLAN, REPLY, FAILING, EVIL))


@contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """uvicorn in a thread on a free loopback port; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = server_for(app, "127.0.0.1", port)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@pytest.fixture
async def client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    client = _client(create_app(make_config(), store))
    async with client:
        yield client


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                             base_url="http://127.0.0.1")


async def test_sources_api_has_state_and_filters_by_tag(store: Store,
                                                        client: httpx.AsyncClient) -> None:
    build_archive(store)
    sources = (await client.get("/api/sources")).json()
    by_name = {s["name"]: s for s in sources}
    assert by_name["hb-ai-plan"]["title"] == PLAN_TITLE
    assert by_name["bj-housing"]["failure_streak"] == 2
    assert by_name["bj-housing"]["last_outcome"] == "error"
    assert by_name["hb-ai-plan"]["last_change_kind"] == "metadata_changed"
    assert by_name["hb-ai-plan"]["last_check_at"].startswith("2026-05-20T02:00:00")
    tagged = (await client.get("/api/sources", params={"tag": "reply"})).json()
    assert [s["name"] for s in tagged] == ["hn-reply"]
    assert "hubei" in (await client.get("/api/tags")).json()
    one = (await client.get("/api/sources/hn-reply")).json()
    assert one["source"]["name"] == "hn-reply" and one["pages"][0]["kind"] == "page"
    missing = await client.get("/api/sources/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]


async def test_timeline_version_and_diff(store: Store, client: httpx.AsyncClient) -> None:
    built = build_archive(store)
    plan = built.versions["hb-ai-plan"]
    timeline = (await client.get("/api/sources/hb-ai-plan/timeline")).json()
    assert [v["id"] for v in timeline["versions"]] == plan
    assert timeline["versions"][1]["changes"][0]["kind"] == "changed"
    page_id = timeline["page"]["id"]
    assert (await client.get(f"/api/pages/{page_id}/timeline")).json() == timeline
    version = (await client.get(f"/api/versions/{plan[0]}")).json()
    assert version["metadata"]["文号"] == "鄂政发〔2026〕5号" and "算力" in version["text"]
    diff = (await client.get("/api/diff", params={"a": plan[0], "b": plan[2]})).json()
    # 1000亿 → 1200亿: the changed number whole, inline and side by side
    assert inserted(diff["html"]) == ["1200", "第三章 保障措施", "加强财政资金支持。"]
    assert re.findall(r"<del[^>]*>(.*?)</del>", diff["html"]) == ["1000"]
    side = diff["side_by_side_html"]
    assert "<table" in side and diff["exact"] is True
    assert re.findall(r"<del[^>]*>(.*?)</del>", side) == ["1000"] and "1200" in inserted(side)
    assert diff["text"].startswith("+18 / −1 字")
    assert diff["metadata_changes"] == [
        {"key": "发文日期", "old": "2026-05-01", "new": "2026-05-20"}]
    assert diff["title_changed"] is False and diff["old"]["id"] == plan[0]
    assert (await client.get("/api/diff", params={"a": plan[0]})).status_code == 422
    assert (await client.get("/api/versions/999999")).status_code == 404
    huge = 10**20  # beyond 64 bits: no row has it, and no 500 either
    for path in (f"/api/versions/{huge}", f"/api/pages/{huge}/timeline",
                 f"/api/diff?a={huge}&b={plan[0]}", f"/versions/{huge}",
                 f"/diff?a={plan[0]}&b={huge}"):
        assert (await client.get(path)).status_code == 404, path


async def test_search_api_for_short_and_long_chinese_phrases(
        store: Store, client: httpx.AsyncClient) -> None:
    built = build_archive(store)
    long = (await client.get("/api/search", params={"q": "人工智能产业"})).json()
    assert long["total"] == 3 and long["hits"][0]["source"] == "hb-ai-plan"
    assert "<mark>人工智能产业</mark>" in long["hits"][0]["passage"]["html"]
    short = (await client.get("/api/search", params={"q": "答复", "source": "hn-reply",
                                                     "from": "2026-05-10"})).json()
    assert [h["version_id"] for h in short["hits"]] == built.versions["hn-reply"][1:]
    assert short["hits"][0]["number"] == 2  # 第2版; the global id stays in version_id
    assert short["hits"][0]["title"]["html"] == "<mark>答复</mark>"
    page = (await client.get("/search", params={"q": "充电设施"})).text
    reply = built.versions["hn-reply"][1]
    assert "hn-reply</a> · 第2版 · " in page and f"#{reply}" not in page
    assert f'href="/versions/{reply}"' in page  # the URL keeps the global id
    unknown = await client.get("/api/search", params={"q": "答复", "field": "nope"})
    assert unknown.status_code == 400 and "nope" in unknown.text
    hostile = (await client.get("/api/search", params={"q": "pwned"})).json()
    assert hostile["total"] == 2
    assert "<script>" not in hostile["hits"][0]["passage"]["html"]
    assert (await client.get("/api/search", params={"q": ""})).status_code == 422
    bad_date = await client.get("/api/search", params={"q": "答复", "from": "May"})
    assert bad_date.status_code == 422
    number = (await client.get("/api/search", params={"q": "鄂政发(2026)5号",
                                                      "group": "true"})).json()
    assert (number["total"], number["versions"], number["grouped"]) == (1, 3, True)
    assert number["hits"][0]["field"] == "文号" and number["hits"][0]["earlier"] == 2
    assert "<mark>鄂政发〔2026〕5号</mark>" in number["hits"][0]["passage"]["html"]
    titled = (await client.get("/api/search", params={"q": "人工智能产业", "field": "title",
                                                      "limit": 1, "offset": 2})).json()
    assert titled["total"] == 3 and [h["version_id"] for h in titled["hits"]] == \
        built.versions["hb-ai-plan"][:1]


async def test_feeds_all_per_source_and_per_tag(store: Store,
                                                client: httpx.AsyncClient) -> None:
    build_archive(store)
    r = await client.get("/feeds/changes.atom")
    assert r.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = ET.fromstring(r.content)
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 4
    titles = [e.findtext(f"{ATOM}title") for e in entries]
    assert titles[0] == f"evil-page · 正文修改: 新增{HOSTILE}"  # text, escaped by XML
    assert b"<script>" not in r.content
    plan = ET.fromstring((await client.get("/feeds/sources/hb-ai-plan.atom")).content)
    kinds = [e.find(f"{ATOM}category").get("term") for e in plan.findall(f"{ATOM}entry")]
    assert kinds == ["metadata_changed", "changed"]
    link = plan.find(f"{ATOM}entry/{ATOM}link").get("href")
    assert link.startswith("http://127.0.0.1/diff?a=")
    content = plan.findall(f"{ATOM}entry")[1].find(f"{ATOM}content")
    assert content.get("type") == "html" and "加强财政资金支持。" in inserted(content.text)
    tag = ET.fromstring((await client.get("/feeds/tags/hunan.atom")).content)
    assert [e.findtext(f"{ATOM}title") for e in tag.findall(f"{ATOM}entry")] == [
        "hn-reply · 新增答复: 新增答复"]
    assert (await client.get("/feeds/tags/nope.atom")).status_code == 404
    assert (await client.get("/feeds/sources/nope.atom")).status_code == 404


async def test_openapi_documents_every_endpoint(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/api/openapi.json")).json()
    paths = set(schema["paths"])
    assert {"/api/sources", "/api/sources/{name}/timeline", "/api/versions/{version_id}",
            "/api/diff", "/api/search", "/api/changes", "/feeds/changes.atom"} <= paths
    assert all(set(ops) == {"get"} for ops in schema["paths"].values())
    page = await client.get("/api")
    assert page.status_code == 200 and "GET /api/search" in page.text


async def test_read_only_and_security_headers(store: Store, client: httpx.AsyncClient) -> None:
    built = build_archive(store)
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        r = await client.request(method, "/api/sources")
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"
    page = await client.get("/")
    csp = page.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    evil = built.versions["evil-page"][0]
    raw = await client.get(f"/versions/{evil}/raw")
    assert raw.headers["content-security-policy"].startswith("sandbox; default-src 'none'")
    assert "frame-ancestors 'self'" in raw.headers["content-security-policy"]
    assert raw.content == built.raw[evil]
    html = (await client.get(f"/versions/{evil}")).text
    assert "<script>window.pwned" not in html and "<img src=x" not in html
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html
    source = (await client.get(f"/versions/{evil}/source")).text
    assert "<script>window" not in source and "&lt;script&gt;window" in source


async def test_loopback_host_header_is_checked_without_a_token(
        client: httpx.AsyncClient) -> None:
    rebound = await client.get("/api/sources", headers={"Host": "evil.example"})
    assert rebound.status_code == 400
    assert (await client.get("/api/sources", headers={"Host": "localhost:8080"})).is_success


async def test_a_token_is_required_when_set(store: Store) -> None:
    app = create_app(make_config(web_token="s3cret-token"), store, host="0.0.0.0")
    async with _client(app) as c:
        assert (await c.get("/api/sources")).status_code == 401
        assert (await c.get("/", headers={"Authorization": "Bearer wrong"})).status_code == 401
        ok = await c.get("/api/sources", headers={"Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200
        feed = await c.get("/feeds/changes.atom", params={"token": "s3cret-token"})
        assert feed.status_code == 200 and "s3cret" not in feed.text
        assert "monitor_token=s3cret-token" in feed.headers["set-cookie"]
        assert (await c.get("/")).status_code == 200  # the cookie carries it now
        elsewhere = await c.get("/", headers={"Host": "archive.example.org"})
        assert elsewhere.status_code == 200  # the token, not the Host, protects it


def test_binding_beyond_loopback_without_a_token_is_refused(store: Store) -> None:
    with pytest.raises(ConfigError, match="MONITOR_WEB_TOKEN"):
        create_app(make_config(), store, host="0.0.0.0")
    with pytest.raises(ConfigError):
        create_app(make_config(web_host="192.168.1.10"), store)
    create_app(make_config(), store, host="::1")
    create_app(make_config(web_token="t"), store, host="0.0.0.0")


async def test_serve_over_a_real_socket_until_cancelled(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    build_archive(store)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    task = asyncio.create_task(serve(make_config(), store, "127.0.0.1", 0, sockets=[sock]))
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            for _ in range(300):
                try:
                    r = await c.get("/api/sources")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            assert [s["name"] for s in r.json()][:2] == ["bj-housing", "evil-page"]
            feed = await c.get("/feeds/sources/hn-reply.atom")
            assert ET.fromstring(feed.content).findtext(f"{ATOM}title") == \
                "monitor · hn-reply 的变更"
            assert (await c.get("/sources/hn-reply")).text.count("新增答复") >= 1
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        store.close()
        sock.close()
    async with httpx.AsyncClient(timeout=5) as c:
        with pytest.raises(httpx.ConnectError):
            await c.get(base + "/api/sources")


def test_control_characters_and_empty_queries_are_bad_input_over_http(store: Store) -> None:
    """``q=x%00y`` was a 503 "database unavailable" on both backends, and ``q=%00`` found
    every version on SQLite: now any control character in a query, a path or a filter is
    a 400 that names it, and a query without words is a 400 too."""
    build_archive(store)
    with running(create_app(make_config(), store)) as base, \
            httpx.Client(base_url=base, timeout=30) as c:
        for path in ("/api/search?q=x%00y", "/api/search?q=%00", "/api/search?q=a%01b",
                     "/api/search?q=%E7%AD%94%E5%A4%8D&source=hn-reply%00",
                     "/api/search?q=%E7%AD%94%E5%A4%8D&tag=%7F", "/api/sources/x%00y",
                     "/feeds/sources/hn-reply%00.atom", "/api/changes?tag=%00"):
            r = c.get(path)
            assert r.status_code == 400, path
            assert "control character U+00" in r.json()["detail"], path
        page = c.get("/search?q=x%00y")
        assert page.status_code == 400 and "text/html" in page.headers["content-type"]
        assert "control character U+0000" in page.text
        blank = c.get("/api/search", params={"q": "   "})
        assert blank.status_code == 400 and "no words" in blank.json()["detail"]
        ok = c.get("/api/search", params={"q": "答复"})  # real queries still work
        assert ok.status_code == 200 and ok.json()["total"] == 2


TOKEN = "s3cret-token-0123456789"


def _links(feed: bytes) -> list[str]:
    return [el.get("href") or "" for el in ET.fromstring(feed).iter(f"{ATOM}link")]


def test_feed_links_never_come_from_the_host_header(store: Store) -> None:
    """With a token the Host is not checked; a request saying ``Host: evil.example`` used
    to get a feed whose every link pointed at evil.example."""
    build_archive(store)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    app = create_app(make_config(web_token=TOKEN), store, host="127.0.0.1")
    with running(app) as base, httpx.Client(base_url=base, timeout=30) as c:
        for path in ("/feeds/changes.atom", "/feeds/sources/hb-ai-plan.atom",
                     "/feeds/tags/hubei.atom"):
            r = c.get(path, headers={**auth, "Host": "evil.example"})
            assert r.status_code == 200 and b"evil.example" not in r.content, path
            links = _links(r.content)
            assert len(links) >= 3 and all(h.startswith(base + "/") for h in links), links
        self_link = _links(c.get("/feeds/changes.atom", params={"token": TOKEN},
                                 headers={"Host": "evil.example"}).content)[0]
        assert self_link == base + "/feeds/changes.atom"  # and the token is not in it
        for path in ("/changes/", "/api/sources/", "/feeds/changes.atom/"):
            moved = c.get(path, headers={**auth, "Host": "evil.example"})
            assert moved.status_code == 307 and moved.headers["location"] == path[:-1]
    public = "https://monitor.example.org/archive"
    app = create_app(make_config(web_token=TOKEN, public_url=public + "/"), store,
                     host="127.0.0.1")
    with running(app) as base, httpx.Client(base_url=base, timeout=30) as c:
        r = c.get("/feeds/sources/hb-ai-plan.atom", headers={**auth, "Host": "evil.example"})
        links = _links(r.content)
        assert links[0] == public + "/feeds/sources/hb-ai-plan.atom"
        assert links[1] == public + "/sources/hb-ai-plan"
        assert all(h.startswith(public + "/") for h in links), links


def _cookie_flags(set_cookie: str) -> set[str]:
    return {p.strip().split("=")[0].lower() for p in set_cookie.split(";")[1:]}


def test_token_cookie_is_httponly_strict_and_secure_over_https(
        store: Store, tmp_path: Path) -> None:
    build_archive(store)
    app = create_app(make_config(web_token=TOKEN), store, host="127.0.0.1")
    with running(app) as base, httpx.Client(base_url=base, timeout=30) as c:
        cookie = c.get("/", params={"token": TOKEN}).headers["set-cookie"]
        assert cookie.startswith(f"monitor_token={TOKEN};")
        assert _cookie_flags(cookie) == {"path", "httponly", "samesite"}
        assert "SameSite=Strict" in cookie
    # TLS ends at a proxy: public_url says https
    proxied = create_app(make_config(web_token=TOKEN, public_url="https://m.example.org"),
                         store, host="127.0.0.1")
    with running(proxied) as base, httpx.Client(base_url=base, timeout=30) as c:
        cookie = c.get("/", params={"token": TOKEN}).headers["set-cookie"]
        assert _cookie_flags(cookie) == {"path", "httponly", "samesite", "secure"}
    # served over https by uvicorn itself
    app = create_app(make_config(web_token=TOKEN), store, host="127.0.0.1")
    with running_tls(app, tmp_path) as base, httpx.Client(base_url=base, timeout=30,
                                                          verify=False) as c:
        r = c.get("/api/sources", params={"token": TOKEN})
        assert r.status_code == 200 and base.startswith("https://")
        assert _cookie_flags(r.headers["set-cookie"]) == {"path", "httponly", "samesite",
                                                          "secure"}


@contextmanager
def running_tls(app: FastAPI, tmp_path: Path) -> Iterator[str]:
    """uvicorn serving https on loopback with a self-signed certificate."""
    import subprocess

    import uvicorn

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning", ssl_certfile=str(cert),
                                           ssl_keyfile=str(key)))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


SLASHED = "省/市 答复"


def test_a_tag_with_a_slash_has_a_working_feed(store: Store) -> None:
    from dataclasses import replace

    from tests.test_archive_data import EVIL, FAILING, PLAN, REPLY

    build_archive(store)
    store.sync_sources([PLAN, replace(REPLY, tags=("hunan", SLASHED)), FAILING, EVIL])
    with running(create_app(make_config(), store)) as base, \
            httpx.Client(base_url=base, timeout=30) as c:
        for page in ("/", "/changes"):
            html = c.get(page, params={"tag": SLASHED}).text
            hrefs = set(re.findall(r'href="(/feeds/tags/[^"]+)"', html))
            assert len(hrefs) == 1, (page, hrefs)
            feed = c.get(hrefs.pop())
            assert feed.status_code == 200, feed.text
            entries = ET.fromstring(feed.content).findall(f"{ATOM}entry")
            assert [e.findtext(f"{ATOM}title") for e in entries] == [
                "hn-reply · 新增答复: 新增答复"]
            assert ET.fromstring(feed.content).findtext(f"{ATOM}title") == \
                f"monitor · 标签 {SLASHED} 的变更"
        encoded = c.get("/feeds/tags/%E7%9C%81%2F%E5%B8%82%20%E7%AD%94%E5%A4%8D.atom")
        assert encoded.status_code == 200  # %2F works as well as /
        assert c.get("/feeds/tags/%E7%9C%81/nope.atom").status_code == 404


def _attach_file(store: Store, version_id: int) -> None:
    """A PDF attachment on the version, as a check stores it."""
    from sqlalchemy import update

    from monitor.types import AttachmentFile
    from storage import files
    from storage.models import Version

    body = b"%PDF-1.4 test"
    f = AttachmentFile(url="https://example.org/a.pdf", name="a.pdf", fmt="pdf",
                       sha256=hashlib.sha256(body).hexdigest(), size=len(body), body=body)
    with store.session() as s:
        files.add(s, [f])
        s.execute(update(Version).where(Version.id == version_id)
                  .values(attachments=[f.entry()]))
        s.commit()


def test_head_works_wherever_get_does(store: Store) -> None:
    """Every GET route of the app (UI, API, feeds, static) answers HEAD like GET: same
    status and headers, no body.  A route added later without HEAD fails here."""
    from fastapi.routing import APIRoute

    built = build_archive(store)
    plan = built.versions["hb-ai-plan"]
    app = create_app(make_config(web_token=TOKEN), store, host="127.0.0.1")
    page_id = 1
    values = {"name": "hb-ai-plan", "page_id": str(page_id), "version_id": str(plan[0]),
              "tag": "hubei", "n": "1"}
    _attach_file(store, plan[0])  # so /versions/{id}/attachments/1 has a file to serve
    query = {"/diff": f"?a={plan[0]}&b={plan[1]}", "/api/diff": f"?a={plan[0]}&b={plan[1]}",
             "/search": "?q=%E7%AD%94%E5%A4%8D", "/api/search": "?q=%E7%AD%94%E5%A4%8D"}
    paths = ["/static/style.css", "/api/openapi.json"]
    for route in _routes(app.routes):
        if isinstance(route, APIRoute) and "GET" in route.methods:
            path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values[m.group(1)], route.path)
            paths.append(path + query.get(route.path, ""))
    assert len(paths) > 20 and "/feeds/tags/hubei.atom" in paths
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with running(app) as base, httpx.Client(base_url=base, timeout=30, headers=auth) as c:
        for path in paths:
            got, head = c.get(path), c.head(path)
            assert got.status_code == 200, (path, got.text[:200])
            assert head.status_code == 200, path
            assert head.content == b"", path
            for name in ("content-type", "content-length", "content-security-policy"):
                assert head.headers.get(name) == got.headers.get(name), (path, name)
        missing = c.head("/api/versions/999999")
        assert missing.status_code == 404 and missing.content == b""
        assert c.request("POST", "/api/sources").status_code == 405


def _routes(routes: list) -> Iterator[object]:  # type: ignore[type-arg]
    """Every route, also those of included routers (wrapped by newer FastAPI versions)."""
    for route in routes:
        inner = getattr(getattr(route, "original_router", None), "routes", None)
        yield from _routes(inner) if inner is not None else (route,)


def test_public_url_is_checked_and_named_in_errors() -> None:
    from monitor.settings import load_settings

    assert load_settings({"public_url": "https://m.example.org/archive/"},
                         env={}).public_url == "https://m.example.org/archive"
    assert load_settings({}, env={"MONITOR_PUBLIC_URL": "http://10.0.0.5:8080"}
                         ).public_url == "http://10.0.0.5:8080"
    for bad in ("ftp://m.example.org", "m.example.org", "https://u:p@m.example.org",
                "https://m.example.org/?a=1"):
        with pytest.raises(ConfigError, match=r"settings\.public_url"):
            load_settings({"public_url": bad}, env={})
