"""A local site of generated government pages for ``python -m bench``.

    python -m bench.site --pages 1000 --hosts 50 --port 18080

Page ``i`` is seed page ``i % 4`` of tests/pages.py (CMS chrome: nav, side column,
byline with a view counter, share and print bars, footer, scripts) with its body repeated
to a size between 30 and 120 KB and a line naming the page, so no two pages are alike.
Every page is served at ``/p/{i}.html`` on 127.0.0.1 (the one-host case) and on
127.0.0.2 … 127.0.0.{hosts+1} (many hosts), all on the same port.

The server is one asyncio process answering from pre-rendered bytes, with ``TCP_NODELAY``
on every socket as production servers have it: without it a keep-alive client waits for
a delayed ACK (~40 ms) per response and the benchmark would measure the test server.

Control paths (the benchmark changes the site between rounds; bodies are rendered there,
never while a round is timed):

- ``/_ctl/etag/1`` or ``/_ctl/etag/0``: send ``ETag`` (and honour ``If-None-Match``) or not;
- ``/_ctl/bump/{every}/{offset}``: a new revision of every page with ``i % every == offset``
  (one sentence added to its body and its view counter moved: a typical edit);
- ``/_ctl/reset``: every page back to revision 0.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import socket
import sys

from tests.pages import seed, seed_page

SELECTORS = {"v_news_content": "div.v_news_content", "zoom": "#zoom",
             "TRS_Editor": "div.TRS_Editor", "vsb": "div.v_news_content"}
MIN_SIZE, MAX_SIZE = 30_000, 120_000


def selector(i: int) -> str:
    """The content selector of page ``i`` (its CMS container)."""
    return SELECTORS[seed(i % 4).container]


def target_size(i: int) -> int:
    return random.Random(i).randint(MIN_SIZE, MAX_SIZE)


def render(i: int, rev: int) -> bytes:
    """Page ``i`` at revision ``rev``: the body repeated to its size, plus one sentence
    per revision (the edit a watcher must see)."""
    n, size = i % 4, target_size(i)
    base = seed_page(n)
    paras = list(seed(n).paragraphs)
    reps = max(1, round(size / max(len(base), 1)))

    def edit(ps: list[str]) -> list[str]:
        body = [f"（文件编号：鄂政办〔2026〕{i}号）", *ps]
        for k in range(1, reps):
            body += [f"（续{k}）{p}" if p.strip() else p for p in paras]
        body += [f"第{r}次补充说明：本项工作已按计划推进，累计完成{1000 + r * 7}项。"
                 for r in range(1, rev + 1)]
        return body

    return seed_page(n, counter=1000 + 37 * rev + i, edit=edit)


class Pages:
    def __init__(self, count: int) -> None:
        self.count = count
        self.rev = [0] * count
        self.etag = True
        self.bodies: dict[tuple[int, int], bytes] = {}
        self.etags: dict[tuple[int, int], bytes] = {}
        for i in range(count):
            self._ensure(i)

    def _ensure(self, i: int) -> None:
        key = (i, self.rev[i])
        if key not in self.bodies:
            body = render(*key)
            self.bodies[key] = body
            self.etags[key] = b'"' + hashlib.md5(body).hexdigest()[:16].encode() + b'"'

    def control(self, path: str) -> bytes:
        parts = path.strip("/").split("/")[1:]
        if parts[0] == "etag":
            self.etag = parts[1] == "1"
        elif parts[0] == "reset":
            self.rev = [0] * self.count
        elif parts[0] == "bump":
            every, offset = int(parts[1]), int(parts[2])
            for i in range(offset % every, self.count, every):
                self.rev[i] += 1
                self._ensure(i)
        else:
            raise KeyError(path)
        return b"ok"

    def answer(self, path: str, inm: bytes | None) -> bytes:
        if path.startswith("/_ctl/"):
            try:
                return _response(b"200 OK", self.control(path), b"text/plain")
            except (KeyError, IndexError, ValueError):
                return _response(b"400 Bad Request", b"bad control path", b"text/plain")
        try:
            i = int(path.removeprefix("/p/").removesuffix(".html"))
            key = (i, self.rev[i])
        except (ValueError, IndexError):
            return _response(b"404 Not Found", b"not found", b"text/plain")
        etag = self.etags[key] if self.etag else None
        if etag is not None and inm == etag:
            return b"HTTP/1.1 304 Not Modified\r\nETag: " + etag + b"\r\nContent-Length: 0\r\n\r\n"
        return _response(b"200 OK", self.bodies[key], b"text/html; charset=utf-8", etag)


def _response(status: bytes, body: bytes, ctype: bytes, etag: bytes | None = None) -> bytes:
    head = [b"HTTP/1.1 " + status, b"Content-Type: " + ctype,
            b"Content-Length: " + str(len(body)).encode()]
    if etag is not None:
        head.append(b"ETag: " + etag)
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class Http(asyncio.Protocol):
    def __init__(self, pages: Pages) -> None:
        self.pages, self.buf = pages, b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while b"\r\n\r\n" in self.buf:
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
            method, path = lines[0].split(b" ")[:2]
            inm, close = None, False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"if-none-match":
                    inm = value.strip()
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            out = self.pages.answer(path.decode("latin-1"), inm)
            if method == b"HEAD":
                out = out.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
            self.transport.write(out)  # type: ignore[attr-defined]
            if close:
                self.transport.close()
                return


async def serve(count: int, hosts: int, port: int) -> None:
    pages = Pages(count)
    loop = asyncio.get_running_loop()
    servers = []
    for h in range(1, hosts + 2):
        servers.append(await loop.create_server(lambda: Http(pages), f"127.0.0.{h}", port,
                                                backlog=1024, reuse_address=True))
    # the benchmark holds our stdin: when it goes (ended or killed), so do we.  Started
    # by hand in the background (stdin /dev/null, which epoll refuses), it runs until
    # killed.
    stop = loop.create_future()
    try:
        loop.add_reader(sys.stdin.fileno(), lambda: stop.done() or stop.set_result(None))
    except (PermissionError, ValueError, OSError):
        pass
    print("ready", flush=True)
    await stop


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--port", type=int, default=18080)
    a = ap.parse_args()
    try:
        asyncio.run(serve(a.pages, a.hosts, a.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
