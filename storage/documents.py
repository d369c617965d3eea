"""A listing's documents: the pages it found, kept in step with what it lists.

Called by ``Store.commit_check`` inside the listing check's transaction, so the listing's
version and its documents never disagree (a crash between the two is impossible).

* A link not seen before becomes a page of the source (``kind = "document"``), due at
  once.  On the listing's first crawl (its baseline) documents are recorded silently;
  after it, a new document is marked ``announce``: its first check tells the watchers
  (新文档, with its text).
* A document is known by its link's URL as ``monitor.discover.canonical`` reads it,
  without session ids (``monitor.session_ids``); a page stored under a session id's URL
  before they were dropped is found by that URL without them (``_by_key``), and takes
  it: no migration, each listing's pages are matched at its next read.
* A document no longer on the listing is *unlisted* (after a read of every page, or,
  when ``max_pages`` cut the read short, if its list date is newer than the oldest item
  read: older ones were only pushed to pages not read): a change row of kind
  ``unlisted`` (no alert: a column that pushes items off its last page, or archives them,
  is not news; the document's own page going away is, as ``gone``).  It keeps its
  history and is still checked, ever more rarely (``monitor.follow.unlisted_plan``),
  until its page is gone (``Schedule.due_documents``), so that deletion is recorded and
  told; a gone unlisted document is no longer checked.  One that comes back is listed
  again.
* At most ``max_documents`` documents of a listing are created; links beyond that are
  left out (newest first: a column lists its newest items first) and say so in the log.
* **One page, one history, listings too.**  A link that is already a document of
  another listing (a reply under both 建议答复 and 提案答复, two listings of one site: the
  same URL as written) is not a second page: the first listing to find it owns its page
  (checked once a round, on the owner's ``[sources.follow]`` settings and plan, one
  history); this listing keeps a row of kind ``reference`` (``same_as``: that page) with
  its own list title, date and listed state, never checked.  The document is told once
  to each watcher of either listing (``shared_with``; ``Config.watchers_of``); it is
  listed while either column lists it (``Schedule.due_documents``).  A document the
  other listing found earlier is not news again when this one lists it (no 新文档); one
  both list for the first time is told once, to the watchers of both.  The owner's
  source removed: the sync that removes it hands the page itself to this listing
  (``storage.handover``: one history that goes on, checked though this column answers 304).
  Its document unlisted and gone (followed no more), and this listing's row becomes a
  document of its own at this listing's next read of its column
  (its history starts there, and ``monitor history URL`` shows it: ``Store.resolve_page``
  prefers an active source's page; the old one stays the owner's).  A paused owner
  (``enabled = false``) keeps its documents, unchecked while it is paused like all its
  pages: handed over, they would be checked twice, two histories again, once it is
  resumed.  Two
  listings committed at once by two daemons on PostgreSQL take turns (a listing's
  commit holds ``Store._changes_in_id_order``'s lock from before its sync), so one of
  them always sees the other's page; SQLite has one writer.  Documents found by two
  listings before this rule (migration 0014) keep their two pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel import Session, col, or_, select

from monitor.session_ids import without_session
from monitor.types import ChangeKind, Document, sortable_date
from storage.models import Change, Page, SourceRow
from storage.records import DocumentSync

if TYPE_CHECKING:

    from storage import Store


def sync(s: Session, listing: Page, docs: Sequence[Document], *, baseline: bool,
         complete: bool, max_documents: int, now: datetime) -> DocumentSync:
    """Make the listing's document pages match ``docs``; unlist only after a ``complete``
    read of the listing (a page that failed may hold the ones not seen)."""
    pages = list(s.exec(select(Page).where(Page.parent_id == listing.id)))
    known = _by_key(pages)
    taken = set(s.exec(select(Page.url).where(Page.source_id == listing.source_id,
                                              col(Page.parent_id).is_(None))))
    owners = _owners(s, listing, [d.url for d in docs if d.url not in known])
    added, relisted, seen = [], [], set()
    for doc in docs:
        page = known.get(doc.url)
        if page is None:
            if doc.url in taken or len(known) >= max_documents:
                continue
            owner = owners.get(doc.url)
            page = _new(s, listing, doc, announce=not baseline, same_as=owner)
            known[doc.url] = page
            if owner is None:
                added.append(page.id or 0)
            continue
        seen.add(page.id)
        if page.url != doc.url and doc.url not in taken:  # but for a session id (_by_key)
            page.url = doc.url  # fetched without it from now on
        if not page.listed:
            relisted.append(page.id or 0)
        _listed(s, page, doc)
    cutoff = None if complete else _oldest(docs)
    unlisted = [_unlist(s, p, now) for p in pages
                if p.listed and p.id not in seen and _within(p, complete, cutoff)]
    added += _orphans(s, [p for p in known.values() if p.kind == "reference" and p.listed])
    return DocumentSync(tuple(added), tuple(relisted), tuple(unlisted))


def _by_key(pages: list[Page]) -> dict[str, Page]:
    """The listing's document pages by their URL without session ids (the URL a link
    of the column is read as: ``monitor.discover.canonical``).  A page stored under a
    session id's URL (``…;jsessionid=…``, before session ids were dropped) is the
    document its link names now, and its URL becomes that link's (``sync``); of the
    copies such links made (one a pass) the one listed, else the newest, goes on."""
    out: dict[str, Page] = {}
    for page in sorted(pages, key=lambda p: (p.listed, p.id or 0)):
        key = without_session(page.url)
        if out.get(key) is None or out[key].url != key:  # a page at that very URL first
            out[key] = page
    return out


def _owners(s: Session, listing: Page, urls: list[str]) -> dict[str, int]:
    """URL → page id of the ``urls`` another listing already follows as its documents
    (``_following``): this listing only refers to them (the module doc)."""
    if not urls:
        return {}
    rows = s.exec(select(Page).join(
        SourceRow, col(SourceRow.id) == col(Page.source_id)).where(
        col(Page.url).in_(urls), Page.kind == "document",
        Page.source_id != listing.source_id, col(SourceRow.active).is_(True)))
    return {p.url: p.id or 0 for p in rows if _following(p)}


def _following(page: Page) -> bool:
    """A document its (active) listing still follows: listed or not gone (``followed``).
    A paused listing (``enabled = false``) still owns its documents: handed over, they
    would be checked twice once it is resumed."""
    return page.listed or page.status != "gone"


def _orphans(s: Session, refs: list[Page]) -> list[int]:
    """The listed references whose document's listing no longer follows it (removed, its
    document unlisted and gone) become documents of this listing, due now (not news: no
    新文档); their ids."""
    if not refs:
        return []
    owners = {p.id: _following(p) for p in s.exec(
        select(Page).join(SourceRow, col(SourceRow.id) == col(Page.source_id))
        .where(col(Page.id).in_([r.same_as for r in refs]), col(SourceRow.active).is_(True)))}
    out = []
    for ref in refs:
        if not owners.get(ref.same_as):
            ref.kind, ref.same_as, ref.announce = "document", None, False
            s.add(ref)
            out.append(ref.id or 0)
    return out


def _within(page: Page, complete: bool, cutoff: tuple[int, ...] | None) -> bool:
    """Whether a document not seen should have been seen: always after a read of the
    whole column; after a read cut short by ``max_pages``, only when its list date is
    newer than the oldest item read (older ones were pushed to the pages not read)."""
    if complete:
        return True
    date = sortable_date(page.list_date or "")
    return cutoff is not None and date is not None and date > cutoff


def _oldest(docs: Sequence[Document]) -> tuple[int, ...] | None:
    dates = [d for d in (sortable_date(doc.date) for doc in docs) if d is not None]
    return min(dates) if dates else None


def _new(s: Session, listing: Page, doc: Document, *, announce: bool,
         same_as: int | None = None) -> Page:
    page = Page(source_id=listing.source_id, url=doc.url,
                kind="document" if same_as is None else "reference", same_as=same_as,
                parent_id=listing.id, list_title=doc.title, list_date=doc.date or None,
                announce=announce and same_as is None)
    s.add(page)
    s.flush()
    return page


def _listed(s: Session, page: Page, doc: Document) -> None:
    page.listed, page.unlisted_at = True, None
    page.list_title, page.list_date = doc.title or page.list_title, doc.date or page.list_date
    s.add(page)


def _unlist(s: Session, page: Page, now: datetime) -> int:
    page.listed, page.unlisted_at = False, now
    s.add(page)
    s.add(Change(page_id=page.id or 0, old_version_id=page.last_version_id,
                 new_version_id=None, kind=str(ChangeKind.UNLISTED),
                 summary=f"已从栏目移除「{page.list_title or page.url}」", alert=False))
    return page.id or 0


def followed(store: Store) -> list[tuple[str, str]]:
    """(URL, listing's name) of every document an active listing follows: what
    ``monitor.config.followed_documents`` compares a plain source's page with (one page,
    one source: a listing's document is not also a source of its own).  A document
    unlisted and gone is followed no more (it is no longer checked, see above): its
    page, should it come back, may be added as a source of its own (its history stays
    the listing's, under its URL)."""
    with store.session() as s:
        rows = s.exec(select(Page.url, SourceRow.name)
                      .join(SourceRow, col(SourceRow.id) == col(Page.source_id))
                      .where(Page.kind == "document", col(SourceRow.active).is_(True),
                             or_(col(Page.listed).is_(True), Page.status != "gone")))
        return [(url, name) for url, name in rows]


def shared_with(store: Store, page_id: int) -> list[str]:
    """The names of the other active listings that list document ``page_id`` (their
    ``reference`` rows): their watchers are told its changes too (the module doc)."""
    with store.session() as s:
        return list(dict.fromkeys(s.exec(
            select(SourceRow.name).join(Page, col(SourceRow.id) == col(Page.source_id))
            .where(Page.same_as == page_id, Page.kind == "reference",
                   col(SourceRow.active).is_(True)).order_by(col(Page.id)))))


