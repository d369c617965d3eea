"""The FastAPI app and the uvicorn runner.

``create_app(config, store)`` builds the app (HTML pages, ``/api``, Atom ``/feeds``,
``/static``) behind the ``Guard`` middleware; ``serve`` runs it in the caller's event
loop (``monitor serve``, or the daemon when ``web_enabled``).  Route handlers are plain
``def`` functions: FastAPI runs them in its thread pool, so the synchronous ``Store``
never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles

from monitor import __version__
from monitor.config import Config
from monitor.errors import BadInputError, ConfigError, MonitorError, StorageError
from monitor.web import api, feeds, pages
from monitor.web.invalid import message as invalid_message
from monitor.web.security import Guard, HeadAsGet, is_loopback
from monitor.web.views import STATIC, WebState, clean_request, make_templates
from storage import Store
from storage.archive import Archive
from storage.search import Search

DESCRIPTION = """Read-only access to the archive: sources, page timelines, versions, diffs
between any two versions, full-text search and recent changes.  Every endpoint is a GET
(and a HEAD).
When the server has a token (``MONITOR_WEB_TOKEN``), send ``Authorization: Bearer TOKEN``
or add ``?token=TOKEN``.  Times are ISO 8601 in UTC."""


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve beyond loopback without a token."""
    if not token and not is_loopback(host):
        raise ConfigError(f"the web UI would listen on {host}, beyond loopback: set "
                          "MONITOR_WEB_TOKEN (a long random string) or bind 127.0.0.1",
                          key="web_host")


def create_app(config: Config, store: Store, *, host: str | None = None,
               admin: bool = False) -> FastAPI:
    """``admin``: also the sign-in and the pages that edit sources (``admin.py``)."""
    settings = config.settings
    host = host or settings.web_host
    token = settings.web_token or None
    check_bind(host, token)
    if admin:
        from monitor.web.admin import check_admin_token

        check_admin_token(settings.admin_token)
    app = FastAPI(title="monitor", version=__version__, description=DESCRIPTION,
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json",
                  dependencies=[Depends(clean_request)])
    app.state.web = WebState(config, store, Archive(store), Search(store),
                             make_templates(settings.timezone), token_required=bool(token))
    app.include_router(api.router)
    app.include_router(feeds.router)
    app.include_router(pages.router)
    if admin:
        from monitor.web import admin as admin_pages

        admin_pages.install(app, config, https=_https(settings.public_url))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _error_handlers(app)
    app.add_middleware(HeadAsGet)
    app.add_middleware(Guard, token=token, check_host=not token,
                       https=_https(settings.public_url), admin=admin)  # outermost
    return app


def _https(public_url: str | None) -> bool:
    return (public_url or "").lower().startswith("https:")


# An error page's heading and, for the answers the framework itself gives (its detail is
# the status's English phrase: an address no route has, a method not allowed), what it
# means.  The JSON API and the feeds keep their ``detail`` as it was: programs read it.
STATUS_ZH = {400: "输入有误", 401: "需要登录", 403: "禁止访问", 404: "未找到",
             405: "不支持此请求方法", 422: "参数无效", 503: "暂时无法使用"}
PHRASE_ZH = {404: "没有这个页面：请核对网址，或从来源列表进入",
             405: "此地址不接受这种请求（只读界面只接受 GET 和 HEAD）"}
NOT_FOUND_ZH = "所请求的来源、页面或版本不存在：请核对网址，或从来源列表进入"


def _error_handlers(app: FastAPI) -> None:
    def not_found(request: Request, exc: Exception) -> Response:
        missing = exc.args[0] if isinstance(exc, KeyError) and exc.args else "not found"
        said = getattr(exc, "zh", None) or NOT_FOUND_ZH  # Chinese first, the English after
        return _error(request, 404, f"not found: {missing}",
                      said=f"{said}（not found: {missing}）")

    def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = str(exc.detail)
        said = (f"{PHRASE_ZH[exc.status_code]}（{detail}）" if exc.status_code in PHRASE_ZH
                and detail.isascii() else None)  # a Chinese detail (admin's) says itself
        return _error(request, exc.status_code, detail, exc.headers, said=said)

    def unavailable(request: Request, exc: Exception) -> Response:
        said = getattr(exc, "zh", None) or "数据库暂时无法访问，请稍后再试"
        return _error(request, 503, f"database unavailable: {exc}",
                      said=f"{said}（database unavailable: {exc}）")

    def bad_input(request: Request, exc: Exception) -> Response:
        said = getattr(exc, "zh", None)  # Chinese first, where the raiser says it
        return _error(request, 400, f"{said}（bad input: {exc}）" if said else f"bad input: {exc}")

    def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        said = invalid_message(exc.errors())  # Chinese first (monitor/web/invalid.py)
        if _wants_json(request):
            return JSONResponse({"detail": jsonable(exc.errors()), "message": said},
                                status_code=422)
        return _error(request, 422, said)

    app.add_exception_handler(KeyError, not_found)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(StorageError, unavailable)
    app.add_exception_handler(BadInputError, bad_input)
    app.add_exception_handler(RequestValidationError, invalid)


def jsonable(value: object) -> object:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(value)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api")


def _error(request: Request, status: int, message: str,
           headers: dict[str, str] | None = None, *, said: str | None = None) -> Response:
    """JSON (``message``) for the API and feeds; for people the error page, ``said``
    (Chinese first) when given, under the status and its Chinese name."""
    if _wants_json(request) or request.url.path.startswith("/feeds"):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    state: WebState = request.app.state.web
    return state.templates.TemplateResponse(
        request, "error.html", {"status": status, "title": STATUS_ZH.get(status, "出错"),
                                "message": said or message},
        status_code=status, headers=headers)


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers when embedded in the daemon (which has its
    own, and must not have SIGTERM re-raised at it after the web UI stops)."""

    def __init__(self, config: uvicorn.Config, handle_signals: bool) -> None:
        super().__init__(config)
        self.handle_signals = handle_signals

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if self.handle_signals:
            with super().capture_signals():
                yield
        else:
            yield


def server_for(app: FastAPI, host: str, port: int, *, handle_signals: bool = False
               ) -> uvicorn.Server:
    # No access log: a ?token= would end up in it.
    cfg = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                         lifespan="off", server_header=False, proxy_headers=False,
                         timeout_graceful_shutdown=5)
    return _Server(cfg, handle_signals)


async def serve(config: Config, store: Store, host: str | None = None,
                port: int | None = None, *, handle_signals: bool = False,
                sockets: list[socket.socket] | None = None, admin: bool = False) -> None:
    """Serve until cancelled (or, with ``handle_signals``, until SIGINT/SIGTERM)."""
    host = host or config.settings.web_host
    port = config.settings.web_port if port is None else port
    server = server_for(create_app(config, store, host=host, admin=admin), host, port,
                        handle_signals=handle_signals)
    try:
        await server.serve(sockets=sockets)
    except SystemExit:  # uvicorn exits the process when it cannot bind
        raise MonitorError(f"the web UI could not listen on {host}:{port}") from None
    except asyncio.CancelledError:
        if server.started:
            server.should_exit = True
            await server.shutdown(sockets=sockets)
        raise
