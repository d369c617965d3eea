"""Proxies, per-source headers and cookies (``monitor.fetch``): a real forward proxy on
loopback (tests/proxy.py), real HTTP servers, the real ``monitor`` command.

What a user notices: a page fetched through the proxy they configured (and the proxy saw
it), the environment's HTTP_PROXY/NO_PROXY honoured, the network guard still refusing a
private target through a proxy, a source's Referer and login cookie arriving at its
server and never at another source's pages, and credentials refused in sources.toml.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.config import Config, load_config
from monitor.errors import BlockedURLError, ConfigError
from monitor.fetch import Fetcher
from tests.conftest import write_sources
from tests.proxy import Proxy
from tests.sites import Response, Site

ROOT = Path(__file__).resolve().parent.parent
PAGE = "<html><head><title>关于印发工作要点的通知</title></head><body><div class=c>" \
       "<p>各区人民政府，市政府各委办局：现将工作要点印发给你们，请认真贯彻执行。</p>" \
       "</div></body></html>"


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    p = Proxy()
    yield p
    p.close()


def config(tmp_path: Path, body: str, settings: str = "", private: bool = True) -> Config:
    path = write_sources(tmp_path / "sources.toml", body, settings=settings)
    if not private:
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("allow_private_network = true", ""), encoding="utf-8")
    return load_config(path)


async def fetch(cfg: Config, name: str) -> str:
    async with Fetcher(cfg.settings) as fetcher:
        return (await fetcher.fetch_source(cfg.source(name))).text


async def test_a_source_fetched_through_its_proxy(tmp_path: Path, site: Site,
                                                  proxy: Proxy) -> None:
    url = site.route("/a.html", PAGE)
    cfg = config(tmp_path, f'[[sources]]\nname = "a"\nurl = "{url}"\nproxy = "{proxy.url}"\n')
    assert "工作要点" in await fetch(cfg, "a")
    assert proxy.seen == [url]
    assert site.hits("/a.html") == 1


async def test_a_socks5_proxy(tmp_path: Path, site: Site) -> None:
    socks = Proxy(socks=True)
    try:
        url = site.route("/a.html", PAGE)
        port = url.split(":")[2].split("/")[0]
        cfg = config(tmp_path, f'[[sources]]\nname = "a"\nurl = "{url}"\n'
                     f'proxy = "{socks.url}"\n')
        assert "工作要点" in await fetch(cfg, "a")
        assert socks.seen == [f"SOCKS 127.0.0.1:{port}"]
    finally:
        socks.close()


async def test_settings_proxy_and_the_environment(tmp_path: Path, site: Site, proxy: Proxy,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    url = site.route("/a.html", PAGE)
    body = f'[[sources]]\nname = "a"\nurl = "{url}"\n'
    cfg = config(tmp_path, body, settings=f'proxy = "{proxy.url}"')
    await fetch(cfg, "a")
    assert proxy.seen == [url]

    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    await fetch(config(tmp_path, body), "a")
    assert proxy.seen == [url, url]  # HTTP_PROXY from the environment
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    await fetch(config(tmp_path, body), "a")
    assert proxy.seen == [url, url]  # NO_PROXY: direct
    assert site.hits("/a.html") == 3
    monkeypatch.delenv("NO_PROXY")
    await fetch(config(tmp_path, body + 'proxy = "direct"\n'), "a")
    assert proxy.seen == [url, url] and site.hits("/a.html") == 4  # proxy = "direct"


async def test_the_guard_refuses_a_private_target_through_a_proxy(
        tmp_path: Path, site: Site, proxy: Proxy) -> None:
    url = site.route("/a.html", PAGE)
    cfg = config(tmp_path, f'[[sources]]\nname = "a"\nurl = "{url}"\nproxy = "{proxy.url}"\n',
                 private=False)
    with pytest.raises(BlockedURLError, match=r"127\.0\.0\.1"):
        await fetch(cfg, "a")
    assert proxy.seen == [] and site.hits("/a.html") == 0


async def test_proxy_password_from_the_environment_reaches_the_proxy(
        tmp_path: Path, site: Site, proxy: Proxy, monkeypatch: pytest.MonkeyPatch) -> None:
    url = site.route("/a.html", PAGE)
    monkeypatch.setenv("MONITOR_PROXY", proxy.url.replace("://", "://ops:s3cret@"))
    await fetch(config(tmp_path, f'[[sources]]\nname = "a"\nurl = "{url}"\n'), "a")
    assert proxy.seen == [url]
    assert proxy.auth == ["Basic b3BzOnMzY3JldA=="]  # base64("ops:s3cret")


async def test_headers_and_the_login_cookie_go_to_the_source_only(
        tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    other = Site(host="127.0.0.2")
    try:
        a = site.route("/a.html", Response(PAGE, headers={
            "Content-Type": "text/html; charset=utf-8", "Set-Cookie": "JSESSIONID=abc; Path=/"}))
        b = site.route("/b.html", PAGE)
        c = other.route("/c.html", PAGE)
        monkeypatch.setenv("GXT_COOKIE", "sid=admin-login-42")
        cfg = config(tmp_path, f'''
            [[sources]]
            name = "a"
            url = "{a}"
            cookies_env = "GXT_COOKIE"
            headers = {{ Referer = "https://www.example.gov.cn/", Accept-Language = "en" }}
            [[sources]]
            name = "b"
            url = "{b}"
            [[sources]]
            name = "c"
            url = "{c}"
            ''')
        async with Fetcher(cfg.settings) as fetcher:  # one fetcher, as in the daemon
            for name in ("a", "b", "c"):
                await fetcher.fetch_source(cfg.source(name))
        got = {r.path: {k.lower(): v for k, v in r.headers.items()}
               for r in site.requests + other.requests}
        assert got["/a.html"]["cookie"] == "sid=admin-login-42"
        assert got["/a.html"]["referer"] == "https://www.example.gov.cn/"
        assert got["/a.html"]["accept-language"] == "en"
        # neither the admin's cookie nor the session the server set reach other sources
        assert "cookie" not in got["/b.html"] and "referer" not in got["/b.html"]
        assert "cookie" not in got["/c.html"]
    finally:
        other.close()


async def test_a_cookie_follows_a_redirect_on_its_host_only(
        tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    other = Site(host="127.0.0.2")
    try:
        target = other.route("/x.html", PAGE)
        a = site.route("/a.html", Response(status=302, headers={"Location": target}))
        monkeypatch.setenv("GXT_COOKIE", "sid=admin-login-42")
        cfg = config(tmp_path, f'[[sources]]\nname = "a"\nurl = "{a}"\n'
                     'cookies_env = "GXT_COOKIE"\n')
        assert "工作要点" in await fetch(cfg, "a")
        assert site.requests[0].headers.get("cookie") == "sid=admin-login-42"
        assert "cookie" not in other.requests[0].headers
    finally:
        other.close()


async def test_a_session_cookie_lives_for_its_fetch_s_redirects_only(
        tmp_path: Path, site: Site) -> None:
    """A server that sets its session cookie on a redirect gets it back on the next hop
    (the fetch's own jar), and not at the next fetch, through the same connection."""
    page = site.route("/page.html", PAGE)
    entry = site.route("/entry.html", Response(status=302, headers={
        "Location": page, "Set-Cookie": "JSESSIONID=abc; Path=/"}))
    cfg = config(tmp_path, f'[[sources]]\nname = "a"\nurl = "{entry}"\n'
                 f'[[sources]]\nname = "b"\nurl = "{page}"\n')
    async with Fetcher(cfg.settings) as fetcher:
        for name in ("a", "b"):
            assert "工作要点" in (await fetcher.fetch_source(cfg.source(name))).text
    got = [(r.path, r.headers.get("cookie")) for r in site.requests]
    assert got == [("/entry.html", None), ("/page.html", "JSESSIONID=abc"),
                   ("/page.html", None)]


@pytest.mark.parametrize(("entry", "key", "says"), [
    ('headers = { Authorization = "Bearer x" }', "headers.Authorization", "cookies_env"),
    ('headers = { Cookie = "sid=1" }', "headers.Cookie", "cookies_env"),
    ('proxy = "http://ops:pw@proxy.example:3128"', "proxy", "MONITOR_PROXY or HTTPS_PROXY"),
    ('proxy = "ftp://proxy.example:21"', "proxy", "socks5://"),
    ('cookies_env = "sid=1"', "cookies_env", "NAME of an environment variable"),
    ('fetch = "chrome"', "fetch", "http, browser, auto"),
])
def test_credentials_and_bad_values_are_refused(tmp_path: Path, entry: str, key: str,
                                                says: str) -> None:
    with pytest.raises(ConfigError) as err:
        config(tmp_path, f'[[sources]]\nname = "a"\nurl = "https://a.gov.cn/"\n{entry}\n')
    assert err.value.key == key and says in str(err.value), str(err.value)


def test_a_proxy_password_in_settings_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MONITOR_PROXY") as err:
        config(tmp_path, "", settings='proxy = "http://ops:pw@proxy.example:3128"')
    assert err.value.key == "settings.proxy"


def test_sources_test_through_a_proxy_on_the_command_line(tmp_path: Path, site: Site,
                                                          proxy: Proxy) -> None:
    url = site.route("/a.html", PAGE)
    path = write_sources(tmp_path / "sources.toml",
                         f'[[sources]]\nname = "a"\nurl = "{url}"\n',
                         settings=f'proxy = "{proxy.url}"')
    out = subprocess.run([sys.executable, "-m", "monitor", "sources", "test", "a",
                          "--sources", str(path), "--json"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert "工作要点" in got["text"] and got["fetcher"] == "http"
    assert proxy.seen == [url]


def test_a_listing_s_documents_inherit_its_proxy_and_may_use_the_browser(
        tmp_path: Path) -> None:
    cfg = config(tmp_path, """
        [[sources]]
        name = "col"
        kind = "listing"
        url = "https://a.gov.cn/col/index.html"
        proxy = "socks5://127.0.0.1:1080"
        headers = { Referer = "https://a.gov.cn/" }
        [sources.follow]
        fetch = "browser"
        wait_for = "div.article"
        """)
    doc = cfg.source("col").document("https://a.gov.cn/art/1.html")
    assert (doc.fetch, doc.wait_for, doc.proxy) == ("browser", "div.article",
                                                    "socks5://127.0.0.1:1080")
    assert doc.headers == (("Referer", "https://a.gov.cn/"),)
    assert cfg.source("col").fetch == "http"  # the column itself: plain HTTP
