"""What a listing's check and a document's check add to a check record.

A **listing** (``kind = "listing"``) is checked like a page (its version is its list of
items, one ``title | date`` line each), with three differences:

* the documents it lists go with the record; ``Store.commit_check`` turns them into
  pages of the source in the same transaction (``storage/documents.py``);
* its own changes are recorded without alerts: the news is each new document, told on
  the document's own page when it has been fetched (so the alert can carry its text);
* a render that lists no documents, or fewer than half of those it listed, is a failed
  check (``refuse_broken``), never "everything removed" and never a version.

A **document** found after its listing's first crawl is *announced*: its first check,
whatever its outcome, records a ``document_added`` change (新文档: title, list date,
link, and the text when it could be fetched) and alerts the listing's watchers.  A
document found on the first crawl is part of the baseline: recorded, never announced.

A document announced before its text could be read (新文档「…」（正文暂未获取：…）: its
content selector matched nothing yet, the page was not published fully, a 404) owes the
watchers that text: its first check that stores a version records a ``document_text``
change (新文档正文, with the text, its kinds including ``document_added``) and alerts the
same watchers, once (``PageState.text_owed``: announced, and no version since).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from alerts import plan, triggers
from monitor import zh
from monitor.config import Config, SourceConfig
from monitor.detect import attachment_changes, describe_items, retitled_items
from monitor.errors import ListingBrokenError, MonitorError
from monitor.extract import listing
from monitor.types import ChangeDecision, ChangeKind, Document, Extracted, Inspection
from storage.instant import utcnow
from storage.records import CheckRecord, PageState

LISTING_CONFIRM = 3  # broken-looking renders of a column in a row before they are believed
EXCERPT = 2000  # characters of a new document's text carried in its change's details


def refuse_broken(source: SourceConfig, state: PageState, extracted: Extracted) -> None:
    """A column page that listed documents and now lists none, or fewer than half, is a
    broken render, not a version: a CMS that renders its chrome without the list for a
    moment must not be stored and alerted as "everything removed" (and again as 内容来回
    变化 when the list comes back).  Seen ``LISTING_CONFIRM`` times in a row, the shorter
    list is believed: a column really can be pruned."""
    if source.is_listing:
        had = state.documents_listed
    else:
        had = listing.listed_items(state.last.text) if state.last else 0
    if had < listing.MIN_ITEMS:  # an article: its new text is not even read
        return
    now = len(extracted.documents) if source.is_listing else listing.count_items(extracted.text)
    if now * 2 >= had:
        return
    if failing_long(state):
        return
    raise ListingBrokenError(f"栏目页只列出 {now} 篇文档（上次 {had} 篇），疑似页面未完整显示，"
                             f"本次不保存 (column page lists {now} documents, it listed {had})")


def failing_long(state: PageState) -> bool:
    """A listing broken ``LISTING_CONFIRM`` checks in a row, this one included: what it
    shows is believed (a shorter list; a later page that stays broken ends the read)."""
    return (state.last_error_kind == ListingBrokenError.kind
            and state.failure_streak + 1 >= LISTING_CONFIRM)


def refuse_empty(page: Inspection) -> None:
    """A page of a listing source without a single document link is a broken render
    (or wrong ``links``/``match`` settings): page 1 fails the check, a later page ends the
    read there (``monitor.crawl``), never "every document removed"."""
    if page.extracted.documents:
        return
    links = page.extracted.links
    # with links set, suggesting that very setting is no help: say it matched nothing
    hint = (f"来源设置的 links = \"{links}\" 没有匹配到任何文档链接，请按页面现在的结构修改它"
            "（或检查 match）" if links else "页面若显示正常，请在 sources.toml 该来源下用 links "
            "指明文档链接，例如 links = \"ul.list li a\"")
    raise ListingBrokenError(
        f"栏目页没有找到文档链接，本次不保存。{hint} (no document links on "
        f"{page.fetch.final_url}: a broken render, or check links/match)",
        status=page.fetch.status, size=len(page.fetch.body))


def may_retitle(rec: CheckRecord) -> bool:
    """Whether a listing's change adds an item and removes one: the same link retitled,
    maybe (``listing_record`` needs the listed documents then)."""
    return any(isinstance(items := c.details.get("items"), dict)
               and items.get("added") and items.get("removed") for c in rec.changes)


def listing_record(source: SourceConfig, got: Inspection, rec: CheckRecord,
                   listed: Mapping[str, tuple[str, str]] | None = None) -> CheckRecord:
    """A listing's check record: its documents, and its own changes without alerts.
    ``listed``: {url: (title, date)} as the listing last listed its documents
    (``Store.listed_documents``), by which an item whose link stayed and whose title
    changed is one item retitled, not one added and one removed."""
    docs = got.extracted.documents
    quiet = tuple(_quiet(c, docs, listed or {}) for c in rec.changes)
    return replace(rec, documents=docs,
                   documents_complete=got.complete, max_documents=source.max_documents,
                   changes=quiet, alerts=tuple(a for a in rec.alerts if a.change_index is None))


def _quiet(change: ChangeDecision, docs: Sequence[Document],
           listed: Mapping[str, tuple[str, str]]) -> ChangeDecision:
    """A listing's own change, recorded for the archive: no alert, and not 新增答复 (the
    reply is told on its own page, as 新文档); its items named (新增「…」, 删除「…」,
    「旧」改为「新」)."""
    kind = ChangeKind.CHANGED if change.kind == ChangeKind.REPLY_ADDED else change.kind
    items = change.details.get("items")
    if isinstance(items, dict) and items and listed:
        renamed = {d.title: (listed[d.url], d.date) for d in docs
                   if d.url in listed and listed[d.url][0] and listed[d.url][0] != d.title}
        items = retitled_items(items, renamed)
        change = replace(change, details={**change.details, "items": items})
    summary = describe_items(items) if isinstance(items, dict) and items else change.summary
    return replace(change, alert=False, kind=kind, summary=summary)


def announce(config: Config, source: SourceConfig, state: PageState, rec: CheckRecord,
             got: Inspection | None, error: MonitorError | None) -> CheckRecord:
    """A new document's first check tells the watchers (once: ``announced``); a document
    told without its text (正文暂未获取) is told again at its first reading (新文档正文)."""
    if rec.outcome == "superseded":
        return rec
    if state.announce:
        return _tell(config, source, state, rec, got, error, ChangeKind.DOCUMENT_ADDED)
    if state.text_owed and rec.version is not None:
        return _tell(config, source, state, rec, got, None, ChangeKind.DOCUMENT_TEXT)
    return rec


def _tell(config: Config, source: SourceConfig, state: PageState, rec: CheckRecord,
          got: Inspection | None, error: MonitorError | None, kind: ChangeKind) -> CheckRecord:
    """The 新文档 change (or 新文档正文: also of kind ``document_added``, so a watcher of
    new documents gets the text it was promised) and its alerts."""
    title = (got.extracted.title if got else "") or state.list_title or source.url
    doc = {"url": source.url, "title": state.list_title or title,
           "date": state.list_date or ""}
    details: dict[str, object] = {"documents": [doc]}
    summary = f"新文档「{_cut(doc['title'], 60)}」"
    if kind == ChangeKind.DOCUMENT_TEXT:
        details["kinds"] = [str(ChangeKind.DOCUMENT_ADDED)]
        summary += "正文已获取"
    if got is not None:
        text = got.extracted.text
        details["excerpt"] = text if len(text) <= EXCERPT else \
            text[:EXCERPT].rstrip() + "……（全文见链接）"
    if rec.version is not None and rec.version.files:  # its attachments, named in the alert
        details["attachments"] = attachment_changes((), rec.version.attachments)
    elif error is not None:
        summary += f"（正文暂未获取：{zh.describe(error.kind, error.status)}）"
    change = ChangeDecision(kind, summary, details=details)
    index = len(rec.changes)
    words = triggers.change_text(change, None, got.extracted if got else None)
    drafts = plan.change_alerts(config, source, index, utcnow(), words)
    return replace(rec, changes=(*rec.changes, change), alerts=rec.alerts + tuple(drafts),
                   announced=True)


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
