"""Real HTTP servers on 127.0.0.1 for tests: well-behaved and misbehaving ones.

``Site`` is a threading HTTP server with a route table that tests change while it runs.
Every request is logged (method, path, headers) so tests can count fetches at the server.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Response:
    body: bytes | str = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    drip: float = 0.0  # seconds between 1 KiB chunks of the body (slow-loris server)
    gzip: bool = False  # send Content-Encoding: gzip
    charset: str = "utf-8"  # used when body is str

    def payload(self) -> bytes:
        data = self.body.encode(self.charset) if isinstance(self.body, str) else self.body
        return gzip.compress(data) if self.gzip else data


Handler = Callable[["Request"], Response]


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


class Site:
    """``site.route("/a", Response(...))`` or ``site.route("/a", lambda req: Response(...))``.

    ``port`` 0 picks a free port; a fixed one lets a test bring a closed site back up."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[str, Response | Handler] = {}
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), _make_handler(self))
        self.server.daemon_threads = True
        # A short poll interval lets close() return at once instead of after 0.5 s.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str = "/") -> str:
        return self.base + path

    def route(self, path: str, response: Response | Handler | str | bytes) -> str:
        if isinstance(response, str | bytes):
            response = Response(response, headers={"Content-Type": "text/html; charset=utf-8"})
        with self.lock:
            self.routes[path] = response
        return self.url(path)

    def hits(self, path: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.path == path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, req: Request) -> Response:
        with self.lock:
            self.requests.append(req)
            route = self.routes.get(req.path) or self.routes.get(req.path.split("?")[0])
        if route is None:
            return Response("not found", status=404, headers={"Content-Type": "text/plain"})
        return route(req) if callable(route) else route


def _make_handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            req = Request(self.command, self.path,
                          {k.lower(): v for k, v in self.headers.items()},
                          self.rfile.read(length) if length else b"")
            resp = site.answer(req)
            if resp.delay:
                time.sleep(resp.delay)
            data = resp.payload()
            self.send_response(resp.status)
            for k, v in resp.headers.items():
                self.send_header(k, v)
            if resp.gzip:
                self.send_header("Content-Encoding", "gzip")
            if not any(k.lower() == "content-length" for k in resp.headers):
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command == "HEAD":
                return
            self._write(data, resp.drip)

        def _write(self, data: bytes, drip: float) -> None:
            try:
                if not drip:
                    self.wfile.write(data)
                    return
                for i in range(0, len(data), 1024):
                    self.wfile.write(data[i:i + 1024])
                    self.wfile.flush()
                    time.sleep(drip)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = do_POST = do_HEAD = _serve

    return H
