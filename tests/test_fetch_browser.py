"""fetch = "browser": pages rendered by headless Chromium (``monitor.fetch.browser``).

Real Chromium (the Debian package, /usr/bin/chromium), real HTTP servers on loopback,
the real pipeline and store.  What a user notices: text a script writes after load is
tracked; a page's script cannot reach a private address when the source is not allowed
to; a page that never finishes loading fails at the deadline; a killed browser costs one
check and the next one works; without Chromium, browser sources fail naming the package
while every other source is checked.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from monitor.config import Config, load_config
from monitor.errors import BrowserError, HTTPStatusError, TimeoutError_
from monitor.fetch import Fetcher, fetched_with
from monitor.pipeline import Checker
from monitor.types import Outcome
from storage import Store
from tests.conftest import service_missing, write_sources
from tests.proxy import Proxy
from tests.sites import Request, Response, Site

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("MONITOR_CHROMIUM", "/usr/bin/chromium")
HTML = {"Content-Type": "text/html; charset=utf-8"}
TEXT = ("各区人民政府，市政府各委办局：现将《2026年政务公开工作要点》印发给你们，"
        "请结合实际认真贯彻执行。各单位要明确责任分工，确保各项任务按时完成。")
INJECTED = f"""<html><head><title>关于印发工作要点的通知</title></head><body>
<div id="list"></div>
<script>setTimeout(function () {{
  var p = document.createElement("p"); p.textContent = {json.dumps(TEXT)};
  document.getElementById("list").appendChild(p);
}}, 300);</script></body></html>"""


@pytest.fixture
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        service_missing(f"headless Chromium not found at {CHROMIUM}")
    return CHROMIUM


def config(tmp_path: Path, body: str, settings: str = "") -> Config:
    path = write_sources(tmp_path / "sources.toml", body,
                         settings=f'chromium_path = "{CHROMIUM}"\n' + settings)
    return load_config(path)


def source(url: str, **keys: str) -> str:
    extra = "".join(f'{k} = "{v}"\n' for k, v in keys.items())
    return f'[[sources]]\nname = "p"\nurl = "{url}"\nfetch = "browser"\n{extra}'


@pytest.mark.browser
async def test_text_written_by_script_is_a_version_marked_rendered(
        chromium: str, tmp_path: Path, site: Site, sqlite_url: str) -> None:
    url = site.route("/list.html", Response(INJECTED, headers=HTML))
    cfg = config(tmp_path, source(url, content="#list", wait_for="#list p"))
    store = Store(sqlite_url)
    try:
        async with Fetcher(cfg.settings) as fetcher:
            result = await Checker(cfg, store, fetcher).check(cfg.source("p"))
            assert result.outcome is Outcome.NEW, result.error
            # the same page through plain HTTP has no text yet: the browser made it
            assert TEXT not in (await fetcher.fetch(url)).text
        version = store.latest_version("p")
        assert TEXT in version.text
        assert version.headers["x-monitor-rendered"] == "browser"
        assert TEXT.encode() in store.raw_body(version.id)  # the rendered DOM is stored
    finally:
        store.close()


@pytest.mark.browser
def test_sources_test_says_the_browser_fetched_it(chromium: str, tmp_path: Path,
                                                   site: Site) -> None:
    url = site.route("/list.html", Response(INJECTED, headers=HTML))
    path = write_sources(tmp_path / "sources.toml", source(url, wait_for="#list p"),
                         settings=f'chromium_path = "{CHROMIUM}"')
    out = subprocess.run([sys.executable, "-m", "monitor", "sources", "test", "p",
                          "--sources", str(path), "--json"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert TEXT in got["text"] and got["fetcher"] == "browser"


async def public(host: str, port: int) -> list[str]:
    """DNS double: every name is a public address (Chromium still connects to loopback)."""
    return ["93.184.216.34"]


@pytest.mark.browser
@pytest.mark.parametrize("allowed", [False, True])
async def test_a_script_cannot_reach_a_private_address(chromium: str, tmp_path: Path,
                                                      site: Site, allowed: bool) -> None:
    inner = Site(host="127.0.0.2")
    try:
        secret = inner.route("/admin/secret", Response("secret", headers=HTML))
        page = (f"<html><head><title>通知</title></head><body><div id=c><p>{TEXT}</p></div>"
                f"<script>fetch({json.dumps(secret)}, {{mode: 'no-cors'}}).then(function () {{"
                "document.title = 'reached'}).catch(function () {document.title = 'refused'})"
                "</script></body></html>")
        url = site.route("/page.html", Response(page, headers=HTML)).replace(
            "127.0.0.1", "localhost")  # a name: the DNS double calls it public
        cfg = config(tmp_path, source(url), settings="")
        cfg = cfg.__class__(cfg.path, cfg.settings.model_copy(
            update={"allow_private_network": allowed}), cfg.sources, cfg.watchers)
        async with Fetcher(cfg.settings, resolver=public) as fetcher:
            got = await fetcher.fetch_source(cfg.source("p"))
        assert TEXT in got.text and fetched_with(got) == "browser"
        if allowed:  # the control: the same page does reach it when allowed
            assert inner.hits("/admin/secret") == 1
        else:
            assert inner.hits("/admin/secret") == 0
            assert "<title>refused</title>" in got.text
    finally:
        inner.close()


def slow_page(site: Site, path: str, *, delay: float) -> str:
    """A page whose script takes ``delay`` seconds to arrive: it is loading until then."""
    site.route("/slow.js", Response("var x = 1;", delay=delay,
                                    headers={"Content-Type": "text/javascript"}))
    return site.route(path, Response(
        f'<html><body><p>{TEXT}</p><script src="/slow.js"></script></body></html>',
        headers=HTML))


@pytest.mark.browser
async def test_a_page_that_never_finishes_loading_fails_at_the_deadline(
        chromium: str, tmp_path: Path, site: Site) -> None:
    url = slow_page(site, "/page.html", delay=60)
    cfg = config(tmp_path, source(url), settings="fetch_deadline = 4")
    started = time.monotonic()
    async with Fetcher(cfg.settings) as fetcher:
        with pytest.raises(TimeoutError_, match="fetch_deadline"):
            await fetcher.fetch_source(cfg.source("p"))
    assert time.monotonic() - started < 20


def chromium_pids() -> list[int]:
    """The main Chromium processes descending from this test process."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    mine, todo = [], [os.getpid()]
    while todo:
        for pid in children.get(todo.pop(), []):
            todo.append(pid)
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            # Chromium's helpers rewrite their command line as one string: "--type=" in it
            name = Path(cmdline.split(b"\0")[0].split(b" ")[0].decode()).name
            if name.startswith("chrom") and b"--type=" not in cmdline:
                mine.append(pid)
    return mine


@pytest.mark.browser
async def test_a_killed_browser_costs_one_check(chromium: str, tmp_path: Path,
                                                site: Site) -> None:
    site.route("/slow.js", Response("var x = 1;", delay=8,
                                    headers={"Content-Type": "text/javascript"}))
    slow = site.route("/slow.html", Response(
        f'<html><body><p>{TEXT}</p><script src="/slow.js"></script></body></html>',
        headers=HTML))
    fine = site.route("/fine.html", Response(INJECTED, headers=HTML))
    cfg = config(tmp_path, source(slow) + source(fine, wait_for="#list p").replace(
        'name = "p"', 'name = "q"'))
    async with Fetcher(cfg.settings) as fetcher:
        check = asyncio.create_task(fetcher.fetch_source(cfg.source("p")))
        for _ in range(600):  # until the page is loading (waiting for its script)
            if site.hits("/slow.js"):
                break
            await asyncio.sleep(0.05)
        pids = chromium_pids()
        assert pids
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(BrowserError):
            await check
        got = await fetcher.fetch_source(cfg.source("q"))  # a new browser
        assert TEXT in got.text
        assert chromium_pids() and chromium_pids() != pids


def test_without_chromium_browser_sources_fail_naming_the_package(
        tmp_path: Path, site: Site, sqlite_url: str) -> None:
    url = site.route("/page.html", Response(f"<html><body><p>{TEXT}</p></body></html>",
                                            headers=HTML))
    js = site.route("/js.html", Response(INJECTED, headers=HTML))
    path = write_sources(tmp_path / "sources.toml",
                         f'[[sources]]\nname = "plain"\nurl = "{url}"\n'
                         f'[[sources]]\nname = "js"\nurl = "{js}"\nfetch = "browser"\n')
    env = dict(os.environ, MONITOR_CHROMIUM_PATH="/nonexistent/chromium",
               MONITOR_DATABASE_URL=sqlite_url)
    out = subprocess.run([sys.executable, "-m", "monitor", "check", "--no-deliver", "--json",
                          "--sources", str(path)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    results = {r["source"]: r for r in json.loads(out.stdout)["results"]}
    assert results["plain"]["outcome"] == "new"
    assert results["js"]["outcome"] == "error"
    assert results["js"]["error_kind"] == "browser"
    assert "Debian package chromium" in results["js"]["error"]


def gateway(req: Request) -> Response:
    """瑞数-like: 412 and a script that sets a cookie and reloads; the page only with it."""
    if "rs_token=ok" in req.headers.get("cookie", ""):
        return Response(f"<html><head><title>关于印发工作要点的通知</title></head><body>"
                        f"<div id=c><p>{TEXT}</p></div></body></html>", headers=HTML)
    return Response('<html><head><meta charset="utf-8"><meta http-equiv="Content-Type">'
                    '</head><body><script type="text/javascript">'
                    'document.cookie = "rs_token=ok; path=/"; location.reload();'
                    "</script></body></html>", status=412, headers=HTML)


def plain_requests(site: Site) -> int:
    """Requests from the plain fetcher (it offers gzip only; Chromium offers more)."""
    return sum(r.headers.get("accept-encoding") == "gzip" for r in site.requests)


@pytest.mark.browser
async def test_auto_passes_a_script_gateway_with_the_browser_and_remembers_the_host(
        chromium: str, tmp_path: Path, site: Site) -> None:
    a = site.route("/a.html", gateway)
    b = site.route("/b.html", gateway)
    cfg = config(tmp_path, source(a).replace('"browser"', '"auto"')
                 + source(b).replace('"browser"', '"auto"').replace('"p"', '"q"')
                 + source(a.replace("/a.html", "/a.html?plain")).replace(
                     '"browser"', '"http"').replace('"p"', '"h"'))
    async with Fetcher(cfg.settings) as fetcher:
        with pytest.raises(HTTPStatusError):  # the control: plain HTTP gets the 412
            await fetcher.fetch_source(cfg.source("h"))
        got = await fetcher.fetch_source(cfg.source("p"))
        assert TEXT in got.text and got.status == 200 and fetched_with(got) == "browser"
        assert plain_requests(site) == 2  # the control's and auto's first try
        got = await fetcher.fetch_source(cfg.source("q"))  # same host: straight to the browser
        assert TEXT in got.text and fetched_with(got) == "browser"
        assert plain_requests(site) == 2


@pytest.mark.browser
async def test_the_browser_goes_through_the_proxy_with_the_source_s_cookie(
        chromium: str, tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = Proxy()
    try:
        url = site.route("/list.html", Response(INJECTED, headers=HTML))
        monkeypatch.setenv("GXT_COOKIE", "sid=admin-login-42")
        cfg = config(tmp_path, source(url, wait_for="#list p", proxy=proxy.url,
                                      cookies_env="GXT_COOKIE"))
        async with Fetcher(cfg.settings) as fetcher:
            got = await fetcher.fetch_source(cfg.source("p"))
        assert TEXT in got.text
        assert url in proxy.seen
        assert site.requests[0].headers.get("cookie") == "sid=admin-login-42"
    finally:
        proxy.close()


@pytest.mark.browser
@pytest.mark.parametrize("concurrency", [1, 2])
async def test_at_most_browser_concurrency_pages_at_once(chromium: str, tmp_path: Path,
                                                        site: Site, concurrency: int) -> None:
    lock, loading, most = threading.Lock(), [0], [0]

    def slow_script(req: Request) -> Response:
        with lock:
            loading[0] += 1
            most[0] = max(most[0], loading[0])
        time.sleep(4)  # the page stays loading meanwhile
        with lock:
            loading[0] -= 1
        return Response("var x = 1;", headers={"Content-Type": "text/javascript"})

    site.route("/slow.js", slow_script)
    body = ""
    for n in range(3):
        url = site.route(f"/p{n}.html", Response(
            f'<html><body><p>{TEXT}</p><script src="/slow.js"></script></body></html>',
            headers=HTML))
        body += source(url).replace('name = "p"', f'name = "p{n}"')
    cfg = config(tmp_path, body, settings=f"browser_concurrency = {concurrency}\n"
                 "host_concurrency = 3\nfetch_deadline = 60")
    async with Fetcher(cfg.settings) as fetcher:
        await asyncio.gather(*(fetcher.fetch_source(cfg.source(f"p{n}")) for n in range(3)))
    assert site.hits("/slow.js") == 3
    assert most[0] == concurrency


@pytest.mark.browser
async def test_the_browser_is_replaced_after_browser_max_pages(chromium: str, tmp_path: Path,
                                                             site: Site) -> None:
    body = ""
    for n in range(3):
        url = site.route(f"/p{n}.html", Response(INJECTED, headers=HTML))
        body += source(url, wait_for="#list p").replace('name = "p"', f'name = "p{n}"')
    cfg = config(tmp_path, body, settings="browser_max_pages = 2")
    seen: list[list[int]] = []
    async with Fetcher(cfg.settings) as fetcher:
        for n in range(3):
            got = await fetcher.fetch_source(cfg.source(f"p{n}"))
            assert TEXT in got.text and fetched_with(got) == "browser"
            seen.append(chromium_pids())
    first, second, third = seen
    assert len(first) == 1 and first == second  # two pages in one browser
    assert len(third) == 1 and third != first  # the third in a fresh one
    for _ in range(100):  # the old one ended (closed once its last page was done)
        if ended(first[0]):
            break
        await asyncio.sleep(0.05)
    assert ended(first[0])


def ended(pid: int) -> bool:
    """The process is gone, or a zombie waiting for its parent."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in "ZX"
    except OSError:
        return True


@pytest.mark.browser
async def test_a_page_still_loading_finishes_in_the_browser_being_replaced(
        chromium: str, tmp_path: Path, site: Site) -> None:
    slow = slow_page(site, "/slow.html", delay=3)
    fine = site.route("/fine.html", Response(INJECTED, headers=HTML))
    cfg = config(tmp_path, source(slow) + source(fine, wait_for="#list p").replace(
        'name = "p"', 'name = "q"'), settings="browser_max_pages = 1\nhost_concurrency = 2")
    async with Fetcher(cfg.settings) as fetcher:
        loading = asyncio.create_task(fetcher.fetch_source(cfg.source("p")))
        for _ in range(600):  # until the first page is loading (waiting for its script)
            if site.hits("/slow.js"):
                break
            await asyncio.sleep(0.05)
        got = await fetcher.fetch_source(cfg.source("q"))  # a second browser meanwhile
        assert TEXT in got.text and len(chromium_pids()) == 2
        assert TEXT in (await loading).text  # the first was not cut off
        assert len(chromium_pids()) == 1  # and its browser closed after it


def start_chromium(profile: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A Chromium of our own, as a browserless-style container runs it: CDP on loopback."""
    from monitor.fetch.browser import ARGS

    proc = subprocess.Popen([CHROMIUM, *ARGS, "--remote-debugging-address=127.0.0.1",
                             "--remote-debugging-port=0", f"--user-data-dir={profile}",
                             "about:blank"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    port_file = profile / "DevToolsActivePort"
    for _ in range(300):
        if port_file.exists() and port_file.read_text().count("\n") >= 1:
            return proc, f"http://127.0.0.1:{port_file.read_text().splitlines()[0]}"
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("Chromium did not write DevToolsActivePort within 30 s")


@pytest.mark.browser
async def test_a_browser_over_cdp_renders_the_page_behind_the_network_guard(
        chromium: str, tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    proc, cdp = start_chromium(tmp_path / "profile")
    inner = Site(host="127.0.0.2")
    try:
        secret = inner.route("/admin/secret", Response("secret", headers=HTML))
        page = INJECTED.replace("</body>", (
            f"<script>fetch({json.dumps(secret)}, {{mode: 'no-cors'}}).then(function () {{"
            "document.title = 'reached'}).catch(function () {document.title = 'refused'})"
            "</script></body>"))
        url = site.route("/list.html", Response(page, headers=HTML)).replace(
            "127.0.0.1", "localhost")  # a name: the DNS double calls it public
        monkeypatch.setenv("MONITOR_BROWSER_CDP_URL", cdp)
        monkeypatch.setenv("MONITOR_CHROMIUM_PATH", "/nonexistent/chromium")  # not launched
        cfg = config(tmp_path, source(url, wait_for="#list p"))
        assert cfg.settings.browser_cdp_url == cdp
        cfg = cfg.__class__(cfg.path, cfg.settings.model_copy(
            update={"allow_private_network": False}), cfg.sources, cfg.watchers)
        theirs = chromium_pids()  # the one started above, and no other
        async with Fetcher(cfg.settings, resolver=public) as fetcher:
            got = await fetcher.fetch_source(cfg.source("p"))
            assert chromium_pids() == theirs  # no browser launched: the one over CDP did it
        assert TEXT in got.text and fetched_with(got) == "browser"
        assert "<title>refused</title>" in got.text
        assert inner.hits("/admin/secret") == 0  # the guard held over CDP too
        assert site.hits("/list.html") == 1
        assert proc.poll() is None  # closing our connection leaves their browser running
    finally:
        inner.close()
        proc.kill()
        proc.wait(timeout=30)


@pytest.mark.browser
async def test_a_page_waiting_for_the_browser_behind_one_that_never_loads_is_not_failed(
        chromium: str, tmp_path: Path, site: Site) -> None:
    # browser_concurrency 1: the second page waits for the first, which never loads; its
    # fetch_deadline starts when the browser takes it, so only the first times out.
    other, hung = Site("127.0.0.3"), threading.Event()
    try:
        def hang(req: Request) -> Response:
            hung.set()
            time.sleep(30)
            return Response("too late", headers=HTML)

        first = site.route("/hang.html", hang)
        second = other.route("/slow.html", Response(INJECTED, headers=HTML, delay=2.0))
        warm = other.route("/warm.html", Response(INJECTED, headers=HTML))
        cfg = config(tmp_path, f"""
            [[sources]]
            name = "hang"
            url = "{first}"
            fetch = "browser"

            [[sources]]
            name = "slow"
            url = "{second}"
            fetch = "browser"
            wait_for = "#list p"

            [[sources]]
            name = "warm"
            url = "{warm}"
            fetch = "browser"
            """, "browser_concurrency = 1\nfetch_deadline = 4\n")
        async with Fetcher(cfg.settings) as fetcher:
            await fetcher.fetch_source(cfg.source("warm"))  # the browser started, not timed
            hanging = asyncio.create_task(fetcher.fetch_source(cfg.source("hang")))
            assert await asyncio.to_thread(hung.wait, 60)  # it has the browser's page
            result = await fetcher.fetch_source(cfg.source("slow"))
            with pytest.raises(TimeoutError_) as err:
                await hanging
        assert TEXT in result.text and result.status == 200
        assert "/hang.html" in str(err.value) and "fetch_deadline" in str(err.value)
    finally:
        other.close()
