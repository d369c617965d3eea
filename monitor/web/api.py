"""The JSON API under ``/api`` (OpenAPI schema at ``/api/openapi.json``, a readable
page at ``/api``).  Everything the HTML pages show is here for programs too.

Every list endpoint pages: ``limit`` and ``offset`` (the total in ``X-Total-Count``),
except ``/api/changes``, which is a cursor by change id (``since``/``before``,
``order=asc|desc``): a poller asks for ``since`` = the largest id it has seen and
misses or repeats nothing, even while checks are writing (``Store.commit_check`` makes
change ids visible in order)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, Field

from monitor.compare import MetaChange
from monitor.errors import StorageError
from monitor.extract.metadata import search_field
from monitor.render import render_html, render_side_by_side_html, render_text
from monitor.web.views import State, compare_in, parse_day
from storage.archive import ChangeEntry, PageEvent, PageInfo, SourceSummary, TimelineEntry
from storage.records import VersionFull, VersionInfo
from storage.search import Passage
from storage.verify import Instant, body_damage

router = APIRouter(prefix="/api", tags=["archive"])

Tag = Annotated[str | None, Query(description="Only sources with this tag.")]
SourceName = Annotated[str | None, Query(description="Only this source (name or URL).")]
Since = Annotated[str | None, Query(alias="from", description="From this date "
                                    "(2026-05-01 = its start, in settings.timezone) or ISO.")]
Until = Annotated[str | None, Query(alias="to", description="Up to this date "
                                    "(2026-05-01 = its end) or ISO date-time.")]
Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many items.")]
Offset = Annotated[int, Query(ge=0, description="Skip this many items first.")]
Order = Annotated[Literal["asc", "desc"], Query(description="asc: oldest first; "
                                                 "desc: newest first.")]


def _paged(items: list[Any], response: Response, limit: int, offset: int) -> list[Any]:
    response.headers["X-Total-Count"] = str(len(items))
    return items[offset:offset + limit]


class TimelineOut(BaseModel):
    page: PageInfo
    versions: list[TimelineEntry] = Field(description="Oldest first; each with its number "
                                          "(第N版) and when a check last confirmed it.")
    events: list[PageEvent] = Field(default_factory=list, description="Oldest first: "
                                    "gone, restored, moved, unlisted, failure streaks "
                                    "(failing, with when it ended; recovered).")


class SourceOut(BaseModel):
    source: SourceSummary
    pages: list[PageInfo] = Field(description="Main page first, then detail pages.")


class PassageOut(BaseModel):
    text: str
    spans: list[tuple[int, int]] = Field(description="[start, end) offsets of matches.")
    html: str = Field(description="Escaped text with each match in <mark>.")
    cut_before: bool
    cut_after: bool


class HitOut(BaseModel):
    version_id: int
    number: int = Field(0, description="The version's number in its page (第N版).")
    page_id: int
    source: str
    url: str
    fetched_at: Instant
    title: PassageOut
    passage: PassageOut
    attachment_name: str | None = Field(None, description="A hit in an attachment: its name.")
    attachment_url: str | None = Field(None, description="A hit in an attachment: its URL.")
    field: str = Field("text", description="Where it matched: text, title, attachment or a "
                       "metadata label (文号, 索引号, 发布机构…).")
    earlier: int = Field(0, description="group=true: the page's older matching versions "
                         "(a version matching in its text and an attachment counts once).")
    also_in: list[str] = Field(default_factory=list, description="The version's other "
                               "attachments (names) that contain the terms too: a hit is "
                               "shown in the text first, else in its first attachment.")


class SearchOut(BaseModel):
    query: str
    terms: list[str] = Field(description="Whitespace-separated terms; all must occur.")
    method: str = Field(description="fts5, like or fts5+like (SQLite); pg_trgm (PostgreSQL).")
    total: int = Field(description="Matching versions; pages when grouped.")
    versions: int = Field(0, description="Matching versions.")
    grouped: bool = False
    total_is_lower_bound: bool = Field(
        False, description="Grouped, with a term in very many pages: total and versions "
        "count the pages looked at to answer (at least that many match), not all.")
    limit: int
    offset: int
    hits: list[HitOut] = Field(description="Newest first.")


class VersionRef(BaseModel):
    id: int
    source: str
    url: str
    title: str
    fetched_at: Instant


class DiffOut(BaseModel):
    old: VersionRef
    new: VersionRef
    stats: dict[str, Any]
    title_changed: bool
    metadata_changes: list[MetaChange]
    exact: bool = Field(description="False when the diff hit its time bound and some "
                        "runs are compared as whole paragraphs.")
    text: str = Field(description="Plain-text rendering of the character diff.")
    html: str = Field(description="Inline HTML: escaped text, <ins>/<del> for changes.")
    side_by_side_html: str = Field(description="Two-column HTML table of the same diff.")
    attachments: list[dict[str, Any]] = Field(
        default_factory=list, description="Attachments added, removed or replaced between "
        "the two versions (change, name, url, sha256s), as in the alerts.")
    attachments_text: str = Field(
        "", description="Each changed attachment as plain text: its name, link and the "
        "character diff of its text (or why it has none).")
    attachments_html: str = Field("", description="The same as escaped HTML.")


@router.get("/sources", response_model=list[SourceSummary], summary="Sources")
def sources(state: State, response: Response, tag: Tag = None, limit: Limit = 500,
            offset: Offset = 0) -> list[SourceSummary]:
    """Every source with its main page's last check, outcome, last change and failure
    streak; active sources first."""
    return _paged(state.archive.sources(tag=tag), response, limit, offset)


@router.get("/tags", response_model=list[str], summary="Tags")
def tags(state: State, response: Response, limit: Limit = 1000,
         offset: Offset = 0) -> list[str]:
    """Every tag used by a source."""
    return _paged(state.archive.tags(), response, limit, offset)


@router.get("/sources/{name}", response_model=SourceOut, summary="One source")
def source(state: State, response: Response, name: str, limit: Limit = 500,
           offset: Offset = 0) -> SourceOut:
    """A source and its pages (``limit``/``offset`` page the pages)."""
    found = [s for s in state.archive.sources() if s.name == name]
    if not found:
        raise KeyError(f"no source {name!r}")
    return SourceOut(source=found[0],
                     pages=_paged(state.archive.pages(name), response, limit, offset))


@router.get("/sources/{name}/versions", response_model=list[VersionInfo],
            summary="Versions of a source's main page")
def source_versions(state: State, response: Response, name: str, limit: Limit = 100,
                    offset: Offset = 0, order: Order = "asc") -> list[VersionInfo]:
    """Each version's id, number (第N版), fetch time, title, hash, size and the change
    that produced it.  A document's versions: ``/api/pages/{id}/timeline``."""
    versions = state.store.history(name)
    return _paged(versions if order == "asc" else versions[::-1], response, limit, offset)


@router.get("/sources/{name}/timeline", response_model=TimelineOut,
            summary="Timeline of a source's main page")
def source_timeline(state: State, name: str) -> TimelineOut:
    """The versions of the source's main page with the changes that produced them."""
    page = state.archive.pages(name)[0]
    return TimelineOut(page=page, versions=state.archive.timeline(page.id),
                       events=state.archive.events(page.id))


@router.get("/pages/{page_id}/timeline", response_model=TimelineOut,
            summary="Timeline of a page")
def page_timeline(state: State, page_id: int) -> TimelineOut:
    """The versions of any page (main, detail or attachment)."""
    return TimelineOut(page=state.archive.page(page_id),
                       versions=state.archive.timeline(page_id),
                       events=state.archive.events(page_id))


@router.get("/versions/{version_id}", response_model=VersionFull, summary="One version")
def version(state: State, version_id: int) -> VersionFull:
    """Extracted title, text and metadata, HTTP status and stored headers.  The raw
    body as fetched is at ``/versions/{id}/raw`` (served sandboxed)."""
    return state.store.version(version_id)


@router.get("/versions/{version_id}/raw", summary="Raw body of a version",
            response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "The bytes as fetched (transfer-decoded)."},
                       409: {"description": "The stored body no longer matches its "
                             "recorded SHA-256 (or cannot be read): not served."}})
def version_raw(state: State, version_id: int) -> Response:
    """The raw body exactly as fetched, always as a download (never rendered), with its
    SHA-256 in ``X-Raw-SHA256`` (the one ``monitor verify`` checks).  A body that no
    longer hashes to it, or cannot be read, is not handed out: 409 naming the version."""
    version = state.store.version(version_id)
    try:
        raw = state.store.raw_body(version_id)
    except StorageError as exc:
        raise HTTPException(409, f"第{version.number}版（version {version_id}）的原始内容"
                            f"无法读取（存储的字节已损坏），运行 monitor verify 查看（{exc}）"
                            ) from None
    if damage := body_damage(raw, version.raw_sha256, number=version.number,
                             version_id=version_id):
        raise HTTPException(409, damage)
    return Response(raw, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="version-{version_id}.raw"',
        "X-Raw-SHA256": version.raw_sha256, "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'"})


@router.get("/diff", response_model=DiffOut, summary="Diff of two versions")
def diff(state: State,
         a: Annotated[int, Query(description="The old version id.")],
         b: Annotated[int, Query(description="The new version id.")],
         context: Annotated[int, Query(ge=0, le=50, description="Unchanged paragraphs "
                                       "shown around each change.")] = 1) -> DiffOut:
    """A character-level diff of the extracted text of any two versions, plus the
    title and metadata differences."""
    c = compare_in(state, a, b)
    return DiffOut(old=_ref(c.old), new=_ref(c.new), stats=c.stats,
                   title_changed=c.title_changed, metadata_changes=c.metadata,
                   exact=c.exact, text=render_text(c.diff, context=context),
                   html=render_html(c.diff, context=context),
                   side_by_side_html=render_side_by_side_html(c.diff, context=context),
                   **_attachment_diffs(c, context))


def _attachment_diffs(c: Any, context: int) -> dict[str, Any]:
    if not c.attachments:
        return {}
    section = c.attachment_section(context=context)
    return {"attachments": [dict(a) for a in c.attachments],
            "attachments_text": section.text, "attachments_html": section.html}


@router.get("/search", response_model=SearchOut, summary="Full-text search")
def search(state: State,
           q: Annotated[str, Query(min_length=1, max_length=200,
                                   description="Words or a phrase; Chinese needs no "
                                   "spaces.  Terms separated by spaces must all occur.")],
           source: SourceName = None, tag: Tag = None, since: Since = None,
           until: Until = None,
           limit: Annotated[int, Query(ge=1, le=200)] = 50,
           offset: Annotated[int, Query(ge=0)] = 0,
           field: Annotated[str | None, Query(
               max_length=80, description="Only matches in: text, title, attachment or a "
               "metadata label (文号, 索引号…).")] = None,
           group: Annotated[bool, Query(
               description="One hit per page (its newest matching version, with "
               "`earlier`); total then counts pages.  Either way a version is one hit, "
               "however many of its text and attachments match.")] = False) -> SearchOut:
    """Every version whose text, title, metadata or attachments contain all the terms
    (a 文号 in any bracket or width form), newest first, with the matched passage
    highlighted and the field it is in named."""
    found = state.search.search(q, source=source, tag=tag,
                                since=parse_day(since, state.tz, end=False),
                                until=parse_day(until, state.tz, end=True),
                                limit=limit, offset=offset, field=search_field(field),
                                group=group)
    hits = [HitOut(version_id=h.version_id, page_id=h.page_id, source=h.source, url=h.url,
                   fetched_at=h.fetched_at, title=_passage(h.title),
                   passage=_passage(h.passage),
                   attachment_name=(h.attachment or {}).get("name"),
                   attachment_url=(h.attachment or {}).get("url"), field=h.field,
                   earlier=h.earlier, number=h.number, also_in=list(h.also_in))
            for h in found.hits]
    return SearchOut(query=found.query, terms=found.terms, method=found.method,
                     total=found.total, versions=found.versions, grouped=found.grouped,
                     total_is_lower_bound=found.total_is_lower_bound,
                     limit=limit, offset=offset, hits=hits)


@router.get("/changes", response_model=list[ChangeEntry], summary="Changes (a cursor)")
def changes(state: State, source: SourceName = None, tag: Tag = None,
            since: Annotated[int | None, Query(ge=0, description="Only changes with a "
                                               "larger id (the largest id you have).")] = None,
            before: Annotated[int | None, Query(ge=0, description="Only changes with a "
                                                "smaller id (paging back).")] = None,
            order: Annotated[Literal["asc", "desc"] | None, Query(
                description="asc: oldest first; desc: newest first (the default without "
                "since; with since the default is asc).")] = None,
            limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[ChangeEntry]:
    """Changes by id.  Poll with ``since`` = the largest id seen (oldest first): none is
    missed or repeated.  Without ``since``: the newest ``limit``, newest first."""
    oldest_first = (order or ("asc" if since is not None else "desc")) == "asc"
    return state.archive.changes_page(since=since, before=before, limit=limit,
                                      oldest_first=oldest_first, source=source, tag=tag)


def _ref(v: VersionFull) -> VersionRef:
    return VersionRef(id=v.id, source=v.source, url=v.url, title=v.title,
                      fetched_at=v.fetched_at)


def _passage(p: Passage) -> PassageOut:
    return PassageOut(text=p.text, spans=list(p.spans), html=p.html(),
                      cut_before=p.cut_before, cut_after=p.cut_after)
