"""What the HTML pages, the API and the feeds share: the app state, the template
environment (autoescaping on), time formatting and the HTML document of a comparison."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2
from fastapi import Depends, HTTPException, Request
from markupsafe import Markup
from starlette.templating import Jinja2Templates

from monitor.compare import Comparison, compare
from monitor.config import Config
from monitor.types import KIND_LABELS, REREAD_WHY, change_words, exact_time
from monitor.userinput import check_text
from storage import Store
from storage.archive import Archive
from storage.search import Search
from storage.verify import canonical_time

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
OUTCOME_LABELS = {"new": "首次收录", "changed": "有变更", "unchanged": "无变化", "error": "失败",
                  "superseded": "已有更新的检查"}
STATUS_LABELS = {"new": "新加入", "ok": "正常", "failing": "抓取失败", "gone": "页面已删除",
                 "moved": "已迁移"}


@dataclass
class WebState:
    config: Config
    store: Store
    archive: Archive
    search: Search
    templates: Jinja2Templates
    token_required: bool = False

    @property
    def tz(self) -> str:
        return self.config.settings.timezone

    def base_url(self, request: Request) -> str:
        return base_url(request, self.config.settings.public_url)


def base_url(request: Request, public_url: str | None) -> str:
    """Where absolute links point: ``public_url`` when set, else the address the
    connection arrived at (the bound socket, as the server sees it) — never the
    ``Host`` header, which any client may set to any name."""
    if public_url:
        return public_url
    server = request.scope.get("server") or ("127.0.0.1", 80)
    host, port = server[0], server[1]
    host = f"[{host}]" if ":" in host else host
    scheme = request.scope.get("scheme", "http")
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + ("" if port in (None, default) else f":{port}")


def web_state(request: Request) -> WebState:
    """FastAPI dependency: the state ``create_app`` put on the app."""
    return request.app.state.web  # type: ignore[no-any-return]


def local_time(at: datetime | None, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "—" if at is None else at.astimezone(ZoneInfo(tz)).strftime(fmt)


def safe_url(url: str | None) -> str | None:
    """Only http(s) URLs become links: a stored ``javascript:`` URL stays text."""
    return url if url and urlsplit(url).scheme in ("http", "https") else None


def make_templates(tz: str) -> Jinja2Templates:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["local"] = lambda at, fmt="%Y-%m-%d %H:%M": local_time(at, tz, fmt)
    env.filters["exact"] = lambda at: exact_time(at, tz)
    env.filters["iso"] = lambda at: canonical_time(at) if at else ""
    env.filters["kind_label"] = lambda kind: KIND_LABELS.get(kind or "", kind or "")
    env.filters["outcome_label"] = lambda o: OUTCOME_LABELS.get(o or "", o or "—")
    env.filters["status_label"] = lambda s: STATUS_LABELS.get(s or "", s or "—")
    env.filters["safe_url"] = safe_url
    env.filters["number"] = lambda n: f"{n:,}"
    env.globals["kind_labels"] = KIND_LABELS
    env.globals["reread_why"] = REREAD_WHY  # monitor diff's and the alerts' words too
    # a change's label and summary: a settings re-read is labelled so, not 正文修改
    env.globals["change_words"] = lambda c: change_words(c.kind or "", c.summary or "")
    env.globals["tz"] = tz
    return Jinja2Templates(env=env)


def parse_day(text: str | None, tz: str, *, end: bool) -> datetime | None:
    """``2026-05-01`` (start or end of that day in ``tz``) or an ISO date-time."""
    if not text:
        return None
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            at = datetime(d.year, d.month, d.day, *((23, 59, 59, 999999) if end else (0, 0)))
        else:
            at = datetime.fromisoformat(text)
    except ValueError:
        raise HTTPException(422, f"日期无效：「{text}」，应写作 2026-05-01 或 2026-05-01T08:00"
                                 f"（{text!r} is not a date like 2026-05-01）") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(tz))
    return at.astimezone(UTC)


def clean_request(request: Request) -> None:
    """FastAPI dependency of every route: a control character in the path or a query
    parameter is bad input (400), before any of it reaches the database
    (``monitor/userinput.py`` says why)."""
    check_text(request.scope["path"], "the address")
    for key, value in request.query_params.multi_items():
        check_text(key + value, f"the parameter {key!r}")


def compare_in(state: WebState, a: int, b: int, *, page_only: bool = False) -> Comparison:
    return compare(state.store, a, b, timeout=state.config.settings.diff_timeout,
                   page_only=page_only)


def diff_document(c: Comparison, tz: str, *, context: int = 1) -> str:
    """A self-contained HTML file of a comparison (``monitor diff --html``): the
    stylesheet inlined, no links back to a server, no script."""
    from monitor.render import render_html, render_side_by_side_html

    template = make_templates(tz).get_template("diff_file.html")
    css = Markup((STATIC / "style.css").read_text(encoding="utf-8"))  # our own file
    return template.render(c=c, tz=tz, css=css, links=False,
                           inline=Markup(render_html(c.diff, context=context)),
                           side=Markup(render_side_by_side_html(c.diff, context=context)),
                           files=Markup(c.attachment_section(context=context).html))


State = Annotated[WebState, Depends(web_state)]
