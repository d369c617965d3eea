"""The server-rendered HTML pages.  No JavaScript anywhere: forms are GET forms, the
diff picker is radio buttons, and the CSP allows no script at all.

Stored pages are hostile input: their text goes through Jinja2 autoescaping, and their
raw HTML is only ever served from ``/versions/{id}/raw`` with a sandboxing CSP, framed
by ``/versions/{id}/rendered`` in an ``<iframe sandbox>`` (no ``allow-scripts``).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from monitor.extract.files import content_type
from monitor.extract.metadata import search_field
from monitor.render import render_html, render_side_by_side_html
from monitor.web.security import RAW_CSP
from monitor.web.views import State, WebState, compare_in, parse_day
from storage.archive import PageInfo

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
PER_PAGE = 20
HTML_TYPES = ("text/html", "application/xhtml+xml")


def render(request: Request, state: WebState, template: str, **context: Any) -> Response:
    context = {"tz": state.tz, "token_required": state.token_required, **context}
    return state.templates.TemplateResponse(request, template, context)


@router.get("/")
def sources_page(request: Request, state: State, tag: str | None = None) -> Response:
    return render(request, state, "sources.html", sources=state.archive.sources(tag=tag),
                  tags=state.archive.tags(), tag=tag)


@router.get("/sources/{name}")
def source_page(request: Request, state: State, name: str) -> Response:
    pages = state.archive.pages(name)
    return _timeline(request, state, pages[0], pages)


@router.get("/pages/{page_id}")
def page_page(request: Request, state: State, page_id: int) -> Response:
    page = state.archive.page(page_id)
    return _timeline(request, state, page, state.archive.pages(page.source))


def _timeline(request: Request, state: WebState, page: PageInfo,
              pages: list[PageInfo]) -> Response:
    entries = list(reversed(state.archive.timeline(page.id)))  # newest first
    events = state.archive.events(page.id)
    # versions and events in one list, newest first (a version before an event at once)
    rows = sorted([(e.fetched_at, 1, "version", e) for e in entries]
                  + [(ev.at, 0, "event", ev) for ev in events],
                  key=lambda r: (r[0], r[1]), reverse=True)
    return render(request, state, "timeline.html", page=page, pages=pages, entries=entries,
                  rows=[(kind, item) for _, _, kind, item in rows])


@router.get("/versions/{version_id}")
def version_page(request: Request, state: State, version_id: int) -> Response:
    version = state.store.version(version_id)
    timeline = state.archive.timeline(version.page_id)
    ids = [e.id for e in timeline]
    i = ids.index(version_id)
    return render(request, state, "version.html", v=version, entry=timeline[i],
                  prev_id=ids[i - 1] if i > 0 else None,
                  next_id=ids[i + 1] if i + 1 < len(ids) else None)


@router.get("/versions/{version_id}/source")
def version_source(request: Request, state: State, version_id: int) -> Response:
    """The raw body as text: escaped, in a <pre>, whatever it contains."""
    version = state.store.version(version_id)
    raw = state.store.raw_body(version_id)
    body = raw.decode(version.charset or "utf-8", errors="replace")
    return render(request, state, "source.html", v=version, body=body, size=len(raw))


@router.get("/versions/{version_id}/rendered")
def version_rendered(request: Request, state: State, version_id: int) -> Response:
    return render(request, state, "rendered.html", v=state.store.version(version_id))


@router.get("/versions/{version_id}/raw")
def version_raw(state: State, version_id: int) -> Response:
    """The bytes as fetched, in an opaque sandboxed origin: no script, no network."""
    version = state.store.version(version_id)
    raw = state.store.raw_body(version_id)
    stored = version.headers.get("content-type", "").split(";")[0].strip().lower()
    headers = {"Content-Security-Policy": RAW_CSP, "X-Frame-Options": "SAMEORIGIN",
               "Cache-Control": "private, max-age=3600"}
    if stored in HTML_TYPES or (not stored and raw.lstrip()[:1] == b"<"):
        media = f"text/html; charset={version.charset or 'utf-8'}"
    elif stored.startswith("text/"):
        media = f"text/plain; charset={version.charset or 'utf-8'}"
    else:  # PDFs, images, office files: a download, never rendered here
        media = "application/octet-stream"
        headers["Content-Disposition"] = f'attachment; filename="version-{version_id}"'
    return Response(raw, media_type=media, headers=headers)


@router.get("/versions/{version_id}/attachments/{n}")
def version_attachment(state: State, version_id: int, n: int) -> Response:
    """The version's ``n``-th attachment (from 1) as stored: always a download, with its
    format's Content-Type, never rendered in the browser."""
    entries = state.store.version(version_id).attachments
    if not 1 <= n <= len(entries) or not entries[n - 1].get("sha256"):
        raise KeyError(f"version {version_id} has no stored attachment {n}")
    entry = entries[n - 1]
    stored = state.store.file(str(entry["sha256"]))
    headers = {"Content-Security-Policy": RAW_CSP, "X-Content-Type-Options": "nosniff",
               "Content-Disposition": download_name(str(entry.get("name") or ""),
                                                    stored.format, n),
               "Cache-Control": "private, max-age=3600"}
    return Response(stored.body, media_type=content_type(stored.format), headers=headers)


def download_name(name: str, fmt: str, n: int) -> str:
    """``attachment`` with the link text as the file name (ending in its format's
    extension), RFC 6266/5987-encoded; an ASCII fallback for old clients."""
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '/\\"') or f"附件{n}"
    if fmt and not name.lower().endswith(f".{fmt}"):
        name += f".{fmt}"
    return f"attachment; filename=\"attachment-{n}.{fmt or 'bin'}\"; " \
           f"filename*=UTF-8''{quote(name, safe='')}"


@router.get("/diff")
def diff_page(request: Request, state: State, a: int | None = None, b: int | None = None,
              mode: Annotated[str, Query(pattern="^(inline|side)$")] = "inline",
              context: Annotated[int, Query(ge=0, le=50)] = 1,
              stored: Annotated[int, Query(ge=0, le=1)] = 0) -> Response:
    """Two versions compared; those of a change found after a settings edit as the
    change and its alert tell it, the page's edit only (``stored=1``: as stored, the
    settings' part too; ``monitor.compare``)."""
    if a is None or b is None:
        return render(request, state, "diff.html", c=None, a=a, b=b, mode=mode,
                      context=context, body=None, stored=stored)
    c = compare_in(state, a, b, page_only=not stored)
    html = (render_side_by_side_html if mode == "side" else render_html)(c.diff,
                                                                         context=context)
    # The renderer escapes every character of page text; only its own tags are markup.
    files = c.attachment_section(context=context).html  # escaped like the diff
    return render(request, state, "diff.html", c=c, a=a, b=b, mode=mode, context=context,
                  body=Markup(html), files=Markup(files), links=True, stored=stored)


@router.get("/search")
def search_page(request: Request, state: State, q: str = "", source: str | None = None,
                tag: str | None = None,
                since: Annotated[str | None, Query(alias="from")] = None,
                until: Annotated[str | None, Query(alias="to")] = None,
                field: Annotated[str, Query(max_length=80)] = "",
                every: Annotated[str, Query(alias="versions", max_length=1)] = "",
                page: Annotated[int, Query(ge=1)] = 1) -> Response:
    results = None
    if q.strip():
        results = state.search.search(q[:200], source=source or None, tag=tag or None,
                                      since=parse_day(since, state.tz, end=False),
                                      until=parse_day(until, state.tz, end=True),
                                      limit=PER_PAGE, offset=(page - 1) * PER_PAGE,
                                      field=search_field(field), group=not every)
    return render(request, state, "search.html", q=q, source=source or "", tag=tag or "",
                  since=since or "", until=until or "", field=field, every=every,
                  page=page, per_page=PER_PAGE, results=results,
                  sources=state.archive.sources(), tags=state.archive.tags())


@router.get("/changes")
def changes_page(request: Request, state: State, tag: str | None = None) -> Response:
    return render(request, state, "changes.html", changes=state.archive.changes(tag=tag),
                  tags=state.archive.tags(), tag=tag)


@router.get("/api")
def api_docs(request: Request, state: State) -> Response:
    """The OpenAPI schema as a page (no Swagger UI: it needs scripts from a CDN)."""
    return render(request, state, "api.html", endpoints=_endpoints(request.app.openapi()))


def _endpoints(schema: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            params = [{"name": p["name"], "where": p["in"], "required": p.get("required"),
                       "description": p.get("description") or
                       p.get("schema", {}).get("description", "")}
                      for p in op.get("parameters", [])]
            out.append({"method": method.upper(), "path": path,
                        "summary": op.get("summary", ""),
                        "description": op.get("description", ""), "params": params})
    return out
