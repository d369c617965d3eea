"""``monitor demo``: a bundled government site that changes while a daemon watches it.

The site (``site/``, made by ``scripts/build_demo.py`` from real reply and plan pages) is
served on loopback by a small threaded HTTP server.  Five pages, each showing one thing
the monitor must get right::

    /hubei/plan.htm            UTF-8 plan (VSB CMS)        a sentence added
    /wuhan/reply.shtml         GBK reply (TRS)             an amount changed
    /hunan/jytabl/index.html   a column of replies         a new reply appears in it
    /dongguan/proposal.html    GBK proposal                gone (404), then back
    /hunan/reply-0192.html     a reply                     re-templated: not a change

Every page carries a view counter that changes on every request (``COUNTER`` in the
files), the kind of noise that must never be an alert.  The site takes one step of
``SCRIPT`` every ``step`` seconds and then stays as it is, so a run shows each kind
exactly once: two *changed*, one *document_added*, one *gone*, one *restored*, and
nothing for the re-template.

The script is paced by the watcher as well as by the clock: it starts once every page
has been fetched (the baselines), and it leaves a step only when each page the step
touched has been fetched twice since (a page is *gone* after ``gone_after`` = 2 answers
of 404 in a row).  On a slow machine the demo runs slower; it never skips a change.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files

COUNTER = "98765"  # the view count in the files, replaced on every request

# The site's paths and the file each one serves at the start (None: 404).
START: dict[str, str | None] = {
    "/hubei/plan.htm": "plan-1.html",
    "/wuhan/reply.shtml": "wh-1.html",
    "/hunan/jytabl/index.html": "column-1.html",
    "/hunan/jytabl/t20210624_254.html": "reply-254.html",
    "/hunan/jytabl/t20211103_255.html": None,
    "/dongguan/proposal.html": "proposal.html",
    "/hunan/reply-0192.html": "reply-0192-1.html",
}


@dataclass(frozen=True)
class Step:
    says: str  # what the demo prints when the site takes this step
    pages: dict[str, str | None]  # the paths it changes
    expect: str | None  # the alert kind it should raise, None for none


SCRIPT: tuple[Step, ...] = (
    Step("规划 /hubei/plan.htm 新增一句话", {"/hubei/plan.htm": "plan-2.html"}, "changed"),
    Step("答复 /wuhan/reply.shtml 金额 2000万元 → 2500万元",
         {"/wuhan/reply.shtml": "wh-2.html"}, "changed"),
    Step("栏目 /hunan/jytabl/ 新增一篇答复",
         {"/hunan/jytabl/index.html": "column-2.html",
          "/hunan/jytabl/t20211103_255.html": "reply-255.html"}, "document_added"),
    Step("提案 /dongguan/proposal.html 被删除 (404)", {"/dongguan/proposal.html": None},
         "gone"),
    Step("提案 /dongguan/proposal.html 恢复", {"/dongguan/proposal.html": "proposal.html"},
         "restored"),
    Step("答复 /hunan/reply-0192.html 换了网站模板（文字未变，不应报警）",
         {"/hunan/reply-0192.html": "reply-0192-2.html"}, None),
)

# What a whole run should alert, kind by kind.
EXPECTED: dict[str, int] = {}
for _step in SCRIPT:
    if _step.expect:
        EXPECTED[_step.expect] = EXPECTED.get(_step.expect, 0) + 1


def page_bytes(name: str) -> bytes:
    return files("monitor.demo").joinpath("site", name).read_bytes()


class DemoSite:
    """The site's current state, served by ``serve()``; ``advance()`` takes a step."""

    def __init__(self) -> None:
        self.pages = dict(START)
        self.taken = 0
        self.hits: dict[str, int] = {}  # requests per path
        self._lock = threading.Lock()
        self._bodies = {n: page_bytes(n) for n in {*START.values(),
                        *(f for s in SCRIPT for f in s.pages.values())} if n}

    def body(self, path: str) -> bytes | None:
        with self._lock:
            name = self.pages.get(path)
            self.hits[path] = self.hits.get(path, 0) + 1
        if name is None:
            return None
        # A new view count on every request: noise, never a change.
        return self._bodies[name].replace(COUNTER.encode(),
                                          str(random.randint(10000, 99999)).encode())

    def advance(self) -> Step | None:
        with self._lock:
            if self.taken >= len(SCRIPT):
                return None
            step = SCRIPT[self.taken]
            self.pages.update(step.pages)
            self.taken += 1
            return step

    def reset_hits(self, paths: list[str]) -> None:
        with self._lock:
            for p in paths:
                self.hits[p] = 0

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
        """Start the server in a daemon thread; ``shutdown()`` stops it."""
        server = ThreadingHTTPServer((host, port), _handler(self))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="demo-site", daemon=True).start()
        return server


def _handler(site: DemoSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = site.body(self.path.split("?", 1)[0])
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html")  # the page's <meta> says which
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the daemon's log says what was fetched

    return Handler


def run_script(site: DemoSite, step: float, stop: threading.Event,
               say: Callable[[str], None] = print) -> None:
    """Take the steps, one every ``step`` seconds once the watcher has seen the last one,
    until the script ends or ``stop`` is set."""
    watched = [p for p, f in START.items() if f]  # every page's baseline first
    for taken in SCRIPT:
        if not _seen(site, watched, 1, stop) or stop.wait(step):
            return
        site.advance()
        say(f"demo: step {site.taken}/{len(SCRIPT)}: {taken.says}")
        watched = list(taken.pages)
        site.reset_hits(watched)
    if _seen(site, watched, 2, stop):
        say("demo: the site has shown every kind of change; it stays as it is now")


def _seen(site: DemoSite, paths: list[str], times: int, stop: threading.Event) -> bool:
    """Wait until each of ``paths`` was requested ``times`` times; False if stopped."""
    while not all(site.hits.get(p, 0) >= times for p in paths):
        if stop.wait(0.2):
            return False
    return True


def interval(step: float) -> str:
    return f"{max(1.0, step / 3):g}s"


def sources_toml(base: str, step: float, *, db: str, outbox: str, web_port: int) -> str:
    """The demo's sources file: every page of the site, one watcher by email (.eml)."""
    every = interval(step)
    return f'''# monitor demo: the bundled site at {base}
[settings]
database_url = "sqlite:///{db}"
outbox_dir = "{outbox}"
allow_private_network = true
respect_robots = false
host_delay = 0
host_concurrency = 4
jitter = 0
web_enabled = true
web_port = {web_port}
public_url = "http://127.0.0.1:{web_port}"
shutdown_grace = 5

[[sources]]
name = "hb-ai-plan"
url = "{base}/hubei/plan.htm"
content = "div.v_news_content"
interval = "{every}"
tags = ["hubei", "plan"]

[[sources]]
name = "wh-reply"
url = "{base}/wuhan/reply.shtml"
content = "#zoom"
interval = "{every}"
tags = ["wuhan", "reply"]

[[sources]]
name = "hn-replies"
kind = "listing"
url = "{base}/hunan/jytabl/index.html"
interval = "{every}"
tags = ["hunan", "reply"]
[sources.follow]
interval = "{every}"

[[sources]]
name = "dg-proposal"
url = "{base}/dongguan/proposal.html"
content = "div.TRS_Editor"
interval = "{every}"
tags = ["dongguan"]

[[sources]]
name = "hn-reply-0192"
url = "{base}/hunan/reply-0192.html"
interval = "{every}"
tags = ["hunan", "reply"]

[[watchers]]
name = "demo"
email = "demo@example.org"
sources = ["*"]
'''
