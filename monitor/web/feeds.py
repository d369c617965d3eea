"""Atom feeds of changes — all, per source, per tag — for watchers with a feed reader.

Built with ElementTree, so every title and summary is escaped by the serializer; the
entry content is the inline character diff (already-escaped HTML, carried as
``type="html"`` text), followed by each attachment added, removed or replaced, with the
diff of a replaced file's text when both files have text (``monitor.compare``).  Feed
readers that cannot send headers use ``?token=``; the token is never echoed into the
feed's own links.  Those links are absolute, built on
``settings.public_url`` or the bound address, never on the request's ``Host`` header
(which would let anyone who can send a request plant links to their own site).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from monitor.compare import compare
from monitor.render import render_html
from monitor.types import change_words
from monitor.web.views import State, WebState
from storage.archive import ChangeEntry

ATOM_NS = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml; charset=utf-8"
ENTRIES = 50
DIFFS = 20  # entries that carry the full diff (each costs two version reads and a diff)

router = APIRouter(prefix="/feeds", tags=["feeds"])
ET.register_namespace("", ATOM_NS)


@router.get("/changes.atom", summary="Atom feed of all changes",
            response_class=Response, responses={200: {"content": {MEDIA_TYPE: {}}}})
def all_changes(state: State, request: Request) -> Response:
    return _feed(state, request, "所有变更", state.archive.changes(limit=ENTRIES, news=True), "/")


@router.get("/sources/{name}.atom", summary="Atom feed of one source's changes",
            response_class=Response, responses={200: {"content": {MEDIA_TYPE: {}}}})
def source_changes(state: State, request: Request, name: str) -> Response:
    entries = state.archive.changes(source=name, limit=ENTRIES, news=True)
    return _feed(state, request, f"{name} 的变更", entries, f"/sources/{name}")


# ``{tag:path}``: a tag may contain "/" ("省/市"), and its feed address keeps it as is.
@router.get("/tags/{tag:path}.atom", summary="Atom feed of the changes of a tag's sources",
            response_class=Response, responses={200: {"content": {MEDIA_TYPE: {}}}})
def tag_changes(state: State, request: Request, tag: str) -> Response:
    if tag not in state.archive.tags():
        raise KeyError(f"no tag {tag!r}")
    entries = state.archive.changes(tag=tag, limit=ENTRIES, news=True)
    return _feed(state, request, f"标签 {tag} 的变更", entries, f"/?tag={quote(tag)}")


def _feed(state: WebState, request: Request, title: str, entries: list[ChangeEntry],
          html_path: str) -> Response:
    base = state.base_url(request)  # not the Host header: see views.base_url
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
    self_url = base + quote(request.url.path) + (f"?{query}" if query else "")
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    _sub(feed, "id", f"tag:monitor,2026:feed{request.url.path}")
    _sub(feed, "title", f"monitor · {title}")
    _sub(feed, "updated", _iso(entries[0].created_at if entries else datetime.now(UTC)))
    _sub(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _sub(feed, "link", rel="alternate", type="text/html", href=base + html_path)
    author = _sub(feed, "author")
    _sub(author, "name", "monitor")
    _sub(feed, "generator", "monitor")
    for i, change in enumerate(entries):
        _entry(feed, state, change, base, with_diff=i < DIFFS)
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type=MEDIA_TYPE)


def _entry(feed: ET.Element, state: WebState, c: ChangeEntry, base: str,
           *, with_diff: bool) -> None:
    label, summary = change_words(c.kind, c.summary)  # a settings re-read: its own
    entry = _sub(feed, "entry")
    _sub(entry, "id", f"tag:monitor,2026:change/{c.id}")
    _sub(entry, "title", f"{c.source} · {label}" + (f": {summary}" if summary else ""))
    _sub(entry, "updated", _iso(c.created_at))
    _sub(entry, "link", rel="alternate", type="text/html", href=base + _link(c))
    _sub(entry, "category", term=c.kind, label=label)
    for tag in c.tags:
        _sub(entry, "category", term=f"tag:{tag}", label=tag)
    _sub(entry, "summary", f"{c.title}\n{c.summary}".strip())
    content = _diff_html(state, c) if with_diff else None
    if content:
        _sub(entry, "content", content, type="html")


def _link(c: ChangeEntry) -> str:
    if c.old_version_id and c.new_version_id:
        return f"/diff?a={c.old_version_id}&b={c.new_version_id}"
    return f"/versions/{c.new_version_id or c.old_version_id}"


def _diff_html(state: WebState, c: ChangeEntry) -> str | None:
    """The page's diff, then each attachment changed with the diff of its text; the
    change's own diff, as its alert has it (a change found after a settings edit: the
    page's edit only, ``monitor.compare``)."""
    if not (c.old_version_id and c.new_version_id):
        return None
    pair = compare(state.store, c.old_version_id, c.new_version_id,
                   timeout=state.config.settings.diff_timeout, page_only=True)
    return render_html(pair.diff, context=1) + pair.attachment_section(context=1).html


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
    if text is not None:
        el.text = text
    return el


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
