"""``monitor serve --admin``: sign in with a token, then add (tested first), remove,
pause, resume and "check now" sources in the browser.

Decisions:

* **Off by default.**  Without ``--admin`` none of these routes exists (404) and the
  ``Guard`` still answers every POST with 405.  With it, ``MONITOR_ADMIN_TOKEN`` (at
  least 16 characters) is required even on loopback: any local program or user could
  otherwise edit the file.
* **Sign-in → session.**  The token is typed once into ``/admin/login``; the server
  keeps the session in memory (a random id in the ``monitor_admin`` cookie: ``HttpOnly``,
  ``SameSite=Strict``, ``Path=/admin``, ``Secure`` over https, 12 hours).  Restarting
  ``monitor serve`` or signing out ends every session; a stolen cookie dies with it.
* **CSRF.**  Every POST must carry the session's own random ``csrf`` form field
  (compared in constant time), else 403.  A POST whose ``Origin`` is not this server (or
  whose ``Sec-Fetch-Site`` says cross-site) is refused with 403 before anything else,
  sign-in included (admin pages say ``Referrer-Policy: same-origin`` so that the
  browser names their origin).  Without a session a POST gets 401, a page a redirect to sign-in.
* **The file stays the single source of truth.**  Every write goes through
  ``monitor.sources_edit`` (the editor of ``monitor sources add/remove``): comments kept,
  the edited text validated by ``parse_config`` before the atomic replace, and not written
  at all if the file changed meanwhile.  A running ``monitor run`` reloads the file.
  Pausing writes ``enabled = false`` (what the daemon already honours: no job, not
  checked), resuming ``enabled = true``.  Removing the only source is refused, as by
  ``monitor sources remove`` (``sources_edit.refuse_only``): pause it.
* **Test before saving.**  "测试" fetches and extracts the source exactly as ``monitor
  sources test`` does and shows the result; "保存" tests again and refuses a failing
  source unless "即使测试失败也保存" is ticked (the CLI's ``--force``).
* **Check now runs here**, in the serve process, through ``monitor check``'s own
  ``run_checks``: under the page's lease (a daemon checking the same page at that moment
  is waited for), the version stored in the same database, alerts queued in the outbox
  (a running daemon delivers them).  Flagging the page due for the daemon instead would
  do nothing without a daemon and show no result; this way the admin sees the outcome.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from monitor.config import Config, SourceConfig, load_config, parse_config
from monitor.errors import ConfigError, MonitorError
from monitor.sources_edit import (
    add_source,
    read_for_edit,
    refuse_only,
    remove_source,
    set_enabled,
    write_atomically,
)
from monitor.userinput import check_text
from monitor.web.views import OUTCOME_LABELS, WebState, base_url
from monitor.zh import config_problem, describe

COOKIE = "monitor_admin"
SESSION_SECONDS = 12 * 3600
MIN_TOKEN = 16
MAX_FORM = 64 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"

router = APIRouter(prefix="/admin", include_in_schema=False,
                   default_response_class=HTMLResponse)


def check_admin_token(token: str | None) -> str:
    """The admin token, or a refusal to start (in Chinese, the setting's name after)."""
    if not token or len(token.strip()) < MIN_TOKEN:
        raise ConfigError(
            f"管理模式需要管理令牌：请设置环境变量 MONITOR_ADMIN_TOKEN（至少 {MIN_TOKEN} 个字符的"
            "随机字符串），即使只监听本机也必须设置（--admin needs MONITOR_ADMIN_TOKEN, "
            f"at least {MIN_TOKEN} characters)", key="admin_token")
    return token


@dataclass
class Session:
    csrf: str
    expires: float
    flash: tuple[str, str, str | None] | None = None  # (ok|error, text, link)


@dataclass
class AdminState:
    token: str
    path: Path
    https: bool
    sessions: dict[str, Session] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one edit at a time


def install(app: FastAPI, config: Config, *, https: bool) -> None:
    token = check_admin_token(config.settings.admin_token)
    app.state.admin = AdminState(token, Path(config.path), https)
    app.include_router(router)


# --- sign-in, session, CSRF, Origin ------------------------------------------------


def _admin(request: Request) -> AdminState:
    return request.app.state.admin  # type: ignore[no-any-return]


def _web(request: Request) -> WebState:
    return request.app.state.web  # type: ignore[no-any-return]


def _session(request: Request) -> Session | None:
    admin = _admin(request)
    sid = request.cookies.get(COOKIE)
    session = admin.sessions.get(sid) if sid else None
    if session is not None and session.expires < time.time():
        del admin.sessions[sid or ""]
        return None
    return session


def _origin_ok(request: Request) -> bool:
    """The form came from a page of this server (a browser sends ``Origin`` with every
    POST; a script without it still needs the session and its CSRF token)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    public = _web(request).config.settings.public_url
    ours = {_origin_of(base_url(request, public)), _origin_of(str(request.base_url))}
    host = request.headers.get("host")
    if host:
        ours.add(f"{request.url.scheme}://{host}".lower())
    return origin.lower() in ours


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


async def _form(request: Request) -> dict[str, str]:
    if int(request.headers.get("content-length") or 0) > MAX_FORM:
        raise HTTPException(413, "表单过大")
    body = await request.body()
    if len(body) > MAX_FORM:
        raise HTTPException(413, "表单过大")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body and kind != FORM_TYPE:
        raise HTTPException(415, f"表单格式不对（需要 {FORM_TYPE}）")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise HTTPException(400, "表单不是 UTF-8 编码") from None
    form = {k: v[0] for k, v in fields.items()}
    for key, value in form.items():
        check_text(key + value, f"the field {key!r}")
    return form


async def _post(request: Request) -> tuple[Session, dict[str, str]]:
    """The checks of every POST but sign-in: Origin, session, CSRF token."""
    if not _origin_ok(request):
        raise HTTPException(403, "请求来自其他网站，已拒绝（Origin check failed）")
    session = _session(request)
    if session is None:
        raise HTTPException(401, "请先登录管理页面（sign in at /admin/login）")
    form = await _form(request)
    given = form.get("csrf", "")
    if not hmac.compare_digest(given.encode(), session.csrf.encode()):
        raise HTTPException(403, "表单已失效或缺少校验码，请刷新页面后重试（CSRF token missing "
                                 "or wrong）")
    return session, form


def _cookie(value: str, max_age: int, https: bool) -> str:
    secure = "; Secure" if https else ""
    return (f"{COOKIE}={value}; Path=/admin; Max-Age={max_age}; HttpOnly; "
            f"SameSite=Strict{secure}")


def _render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    web = _web(request)
    context = {"tz": web.tz, "path": str(_admin(request).path), **context}
    response = web.templates.TemplateResponse(request, template, context, status_code=status)
    # Not no-referrer as elsewhere: under it a browser sends "Origin: null" with a form,
    # and the Origin check could not tell our forms from anyone's.
    response.headers["referrer-policy"] = "same-origin"
    return response


def _to(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


@router.get("/login")
def login_page(request: Request) -> Response:
    return _render(request, "admin_login.html", error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    if not _origin_ok(request):
        raise HTTPException(403, "请求来自其他网站，已拒绝（Origin check failed）")
    admin = _admin(request)
    given = (await _form(request)).get("token", "")
    if not hmac.compare_digest(given.encode(), admin.token.encode()):
        await asyncio.sleep(0.5)  # a guess costs time
        return _render(request, "admin_login.html", status=401,
                       error="管理令牌不正确（wrong MONITOR_ADMIN_TOKEN）")
    sid = secrets.token_urlsafe(32)
    now = time.time()
    admin.sessions = {k: s for k, s in admin.sessions.items() if s.expires > now}
    admin.sessions[sid] = Session(secrets.token_urlsafe(32), now + SESSION_SECONDS)
    response = _to("/admin")
    response.headers["set-cookie"] = _cookie(sid, SESSION_SECONDS, admin.https)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    await _post(request)
    _admin(request).sessions.pop(request.cookies.get(COOKIE, ""), None)
    response = _to("/admin/login")
    response.headers["set-cookie"] = _cookie("", 0, _admin(request).https)
    return response


# --- the sources --------------------------------------------------------------------


def _load(request: Request) -> tuple[Config | None, str | None]:
    """The file as it is now (the daemon, the CLI or a person may have edited it)."""
    try:
        return load_config(_admin(request).path), None
    except ConfigError as exc:
        return None, _config_error(exc)


def _config_error(exc: ConfigError) -> str:
    """Each problem found (``ConfigError.problems``) in Chinese, its English after it."""
    said = [config_problem(str(p), file=p.file, source=p.source, key=p.key,
                           watcher=p.watcher) for p in exc.problems]
    return "；".join(f"{zh}（{p}）" for zh, p in zip(said, exc.problems, strict=True))


def _fetch_error(exc: MonitorError) -> str:
    if isinstance(exc, ConfigError):
        return _config_error(exc)
    return f"{describe(exc.kind, exc.status, str(exc))}：{exc}"


@router.get("")
async def sources_page(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return _to("/admin/login")
    config, problem = await asyncio.to_thread(_load, request)
    flash, session.flash = session.flash, None
    return _render(request, "admin_sources.html", csrf=session.csrf, flash=flash,
                   problem=problem, sources=config.sources if config else ())


@router.get("/add")
def add_page(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return _to("/admin/login")
    return _add_form(request, session, {})


def _add_form(request: Request, session: Session, form: dict[str, str], status: int = 200,
              **result: Any) -> Response:
    values = {k: form.get(k, "") for k in ("name", "url", "content", "interval", "tags",
                                           "kind", "links")}
    context = {"error": None, "tested": None, "source": None, **result}
    return _render(request, "admin_add.html", status=status, csrf=session.csrf,
                   values=values, force=bool(form.get("force")), **context)


def _entry(form: dict[str, str]) -> dict[str, Any]:
    """The new ``[[sources]]`` table, as ``monitor sources add`` builds it."""
    entry: dict[str, Any] = {"name": form.get("name", "").strip(),
                             "url": form.get("url", "").strip()}
    if form.get("kind", "page") != "page":  # listing, feed; an unknown one is refused
        entry["kind"] = form["kind"]
    for key in ("content", "interval", "links"):
        if form.get(key, "").strip():
            entry[key] = form[key].strip()
    tags = [t.strip() for t in form.get("tags", "").replace("，", ",").split(",")]
    if any(tags):
        entry["tags"] = [t for t in tags if t]
    return entry


@router.post("/add")
async def add(request: Request) -> Response:
    """Test (``action=test``) or test and save (``action=save``) a new source."""
    from monitor.trial import refuse_followed, try_source  # as `monitor sources`

    session, form = await _post(request)
    admin = _admin(request)
    entry = _entry(form)
    if not entry["name"] or not entry["url"]:
        return _add_form(request, session, form, 400, error="请填写名称和网址")
    try:
        on_disk, bom, before = await asyncio.to_thread(read_for_edit, admin.path)
        after = add_source(before, entry, path=admin.path)  # validated, or ConfigError
        config = parse_config(after, path=admin.path)
        source = config.source(entry["name"])
        await asyncio.to_thread(refuse_followed, config, source, _web(request).store)
    except ConfigError as exc:
        return _add_form(request, session, form, 400, error=_config_error(exc))
    try:
        got = await try_source(config.settings, source)
    except MonitorError as exc:
        failed = f"测试抓取失败：{_fetch_error(exc)}"
        if form.get("action") != "save" or not form.get("force"):
            note = "" if form.get("action") != "save" else "；未保存（可勾选“即使测试失败也保存”）"
            return _add_form(request, session, form, 422, error=failed + note, source=source)
        got = None
    if form.get("action") != "save":
        return _add_form(request, session, form, tested=got, source=source)
    try:
        async with admin.lock:
            await asyncio.to_thread(write_atomically, admin.path, on_disk, bom + after)
    except ConfigError as exc:
        return _add_form(request, session, form, 409, error=_config_error(exc))
    forced = "" if got else "（测试失败，已按要求保存）"
    session.flash = ("ok", f"已添加 {entry['name']}{forced}，运行中的守护进程会在几秒内开始检查",
                     None)
    return _to("/admin")


async def _edit(request: Request, name: str, edit: Any, done: str,
                refused: str = "未修改") -> Response:
    """Apply ``edit(text, path) -> text`` to the file, then back to the list (a refusal
    flashed after ``refused``, as the CLI says it: 未删除 for a removal)."""
    session, _ = await _post(request)
    admin = _admin(request)
    try:
        async with admin.lock:
            on_disk, bom, before = await asyncio.to_thread(read_for_edit, admin.path)
            after = edit(before, admin.path)
            await asyncio.to_thread(write_atomically, admin.path, on_disk, bom + after)
    except KeyError:
        raise HTTPException(404, f"没有名为 {name} 的来源") from None
    except ConfigError as exc:
        session.flash = ("error", f"{refused}：{_config_error(exc)}", None)
    else:
        session.flash = ("ok", done, None)
    return _to("/admin")


@router.post("/sources/{name}/pause")
async def pause(request: Request, name: str) -> Response:
    return await _edit(request, name,
                       lambda text, path: set_enabled(text, name, False, path=path),
                       f"已暂停 {name}（enabled = false）：守护进程不再检查它，历史保留")


@router.post("/sources/{name}/resume")
async def resume(request: Request, name: str) -> Response:
    return await _edit(request, name,
                       lambda text, path: set_enabled(text, name, True, path=path),
                       f"已恢复 {name}：守护进程会按计划检查它")


@router.get("/sources/{name}/remove")
async def remove_page(request: Request, name: str) -> Response:
    """Confirm first: a stray click must not stop a source being watched."""
    session = _session(request)
    if session is None:
        return _to("/admin/login")
    config, problem = await asyncio.to_thread(_load, request)
    if config is not None and name not in {s.name for s in config.sources}:
        raise HTTPException(404, f"没有名为 {name} 的来源")
    return _render(request, "admin_remove.html", csrf=session.csrf, name=name,
                   problem=problem)


@router.post("/sources/{name}/remove")
async def remove(request: Request, name: str) -> Response:
    def edit(text: str, path: Path) -> str:
        after = remove_source(text, name, path=path)  # KeyError first: not in the file
        refuse_only(text, name, path=path)  # as `monitor sources remove`
        return after
    return await _edit(request, name, edit, f"已删除 {name}：不再检查，已存档的版本保留",
                       "未删除")


@router.post("/sources/{name}/check")
async def check_now(request: Request, name: str) -> Response:
    from monitor.cli.check import run_checks  # the code of `monitor check`

    session, _ = await _post(request)
    config, problem = await asyncio.to_thread(_load, request)
    if config is None:
        session.flash = ("error", f"无法检查：{problem}", None)
        return _to("/admin")
    try:
        source = config.source(name)
    except KeyError:
        raise HTTPException(404, f"没有名为 {name} 的来源") from None
    store = _web(request).store
    try:
        await asyncio.to_thread(store.sync_sources, config.sources)
        results = await run_checks(config, store, [source], progress=False)
    except MonitorError as exc:
        session.flash = ("error", f"检查 {name} 失败：{_fetch_error(exc)}", None)
        return _to("/admin")
    session.flash = _checked(source, results[0], len(results) - 1)
    return _to("/admin")


def _checked(source: SourceConfig, result: Any,
             documents: int) -> tuple[str, str, str | None]:
    link = f"/sources/{source.name}"
    more = f"（另检查了 {documents} 篇到期的文档）" if documents else ""
    if result.outcome == "error":
        return ("error", f"检查 {source.name} 失败：{describe(result.error_kind)}"
                         f"（{result.error}）", link)
    label = OUTCOME_LABELS.get(str(result.outcome), str(result.outcome))
    return ("ok", f"已检查 {source.name}：{label}{more}", link)
