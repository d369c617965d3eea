"""The guard in front of every request: read-only, token, host check, security headers.

* Only GET and HEAD are served (405 otherwise): the UI and API never change anything;
  ``HeadAsGet`` answers a HEAD on every route that has a GET.  The one exception is
  ``monitor serve --admin``: then POST reaches ``/admin/…`` only, whose routes check
  their own sign-in, CSRF token and Origin (``monitor/web/admin.py``), so the read
  token does not apply there.
* With a token (``MONITOR_WEB_TOKEN``) every request needs it: ``Authorization: Bearer``,
  ``?token=`` (feed readers), or the cookie a valid ``?token=`` sets so a browser's later
  clicks work (``HttpOnly; SameSite=Strict``, and ``Secure`` over https).  Binding beyond
  loopback without a token is refused at start-up.
* Without a token the app is bound to loopback, and the ``Host`` header must name a
  loopback address: a web page elsewhere cannot reach the archive by DNS rebinding.
* Redirects (``/changes/`` → ``/changes``) say a path, never a host taken from ``Host``.
* Headers: a CSP without any script source, ``nosniff``, no framing (except the raw
  body view, which sets its own sandboxing CSP and may be framed by the app itself).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit, urlunsplit

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "monitor_token"
READ_METHODS = frozenset({"GET", "HEAD"})

APP_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
           "frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# The raw body of a stored page: an opaque origin (``sandbox`` without allow-scripts), no
# network, no forms; inline styles only so the page keeps some of its look.
RAW_CSP = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
           "form-action 'none'; base-uri 'none'; frame-ancestors 'self'")

BASE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", APP_CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Guard:
    """Pure ASGI middleware (no response buffering, streams stay streams)."""

    def __init__(self, app: ASGIApp, *, token: str | None, check_host: bool,
                 https: bool = False, admin: bool = False) -> None:
        self.app = app
        self.admin = admin  # /admin/… exists, with its own sign-in
        self.token = token
        self.check_host = check_host
        self.https = https  # public_url is https: TLS ends at a proxy in front of us

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _own_redirects(_with_headers(send, BASE_HEADERS))
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if self.token and _query_token(scope) == self.token:
            secure = self.https or scope.get("scheme") == "https"
            send = _with_headers(send, [(b"set-cookie", _cookie(self.token, secure))])
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> PlainTextResponse | None:
        admin = self.admin and _is_admin_path(scope["path"])
        if scope["method"] not in READ_METHODS and not admin:
            return PlainTextResponse("read-only: GET only\n", 405, {"Allow": "GET, HEAD"})
        if self.check_host and not is_loopback(_host(scope)):
            return PlainTextResponse("bad Host header\n", 400)
        if self.token and not admin and not self._authorized(scope):
            return PlainTextResponse("token required (Authorization: Bearer …, or ?token=)\n",
                                     401, {"WWW-Authenticate": 'Bearer realm="monitor"'})
        return None

    def _authorized(self, scope: Scope) -> bool:
        assert self.token is not None
        given = [_bearer(scope), _query_token(scope), _cookie_token(scope)]
        return any(g is not None and hmac.compare_digest(g.encode(), self.token.encode())
                   for g in given)


def _is_admin_path(path: str) -> bool:
    return path == "/admin" or path.startswith("/admin/")


def _with_headers(send: Send, extra: Iterable[tuple[bytes, bytes]]) -> Send:
    """Add headers the response did not set itself (``set-cookie`` is always added)."""
    extra = list(extra)

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {k.lower() for k, _ in headers}
            headers += [(k, v) for k, v in extra if k == b"set-cookie" or k not in present]
            message = {**message, "headers": headers}
        await send(message)
    return wrapped


def _own_redirects(send: Send) -> Send:
    """``Location`` as a path: the app only redirects to itself (``/changes/`` →
    ``/changes``), and Starlette would build the absolute URL from the ``Host`` header,
    sending a visitor who was given a crafted Host to that host."""
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, _path_only(v) if k.lower() == b"location" else v)
                       for k, v in message.get("headers", [])]
            message = {**message, "headers": headers}
        await send(message)
    return wrapped


def _path_only(location: bytes) -> bytes:
    parts = urlsplit(location.decode("latin-1"))
    return urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment)).encode("latin-1")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _host(scope: Scope) -> str:
    host = _header(scope, b"host") or ""
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _bearer(scope: Scope) -> str | None:
    auth = _header(scope, b"authorization") or ""
    scheme, _, value = auth.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _query_token(scope: Scope) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return values[0] if values else None


def _cookie_token(scope: Scope) -> str | None:
    cookies = SimpleCookie()
    try:
        cookies.load(_header(scope, b"cookie") or "")
    except Exception:  # a malformed Cookie header is no token, not a crash
        return None
    morsel = cookies.get(COOKIE)
    return morsel.value if morsel else None


def _cookie(token: str, secure: bool) -> bytes:
    """The token for a browser's later clicks: never readable by script (HttpOnly), never
    sent along by another site's links or forms (Strict), only over TLS when the UI is
    served over https (Secure).  Strict means a link to the UI followed from elsewhere
    (a feed reader, a mail) needs ``?token=`` again, or a click inside the UI."""
    flags = "; Secure" if secure else ""
    return f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{flags}".encode("latin-1")


class HeadAsGet:
    """``HEAD`` wherever ``GET`` works: FastAPI routes answer GET only (405 to HEAD), so a
    HEAD is served as the GET it stands for, with the same status and headers (also
    ``content-length``) and no body.  The inner app sees a new scope; the server still
    knows the request was a HEAD."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def bodiless(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)
        await self.app({**scope, "method": "GET"}, receive, bodiless)
