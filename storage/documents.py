"""A listing's documents: the pages it found, kept in step with what it lists.

Called by ``Store.commit_check`` inside the listing check's transaction, so the listing's
version and its documents never disagree (a crash between the two is impossible).

* A link not seen before becomes a page of the source (``kind = "document"``), due at
  once.  On the listing's first crawl (its baseline) documents are recorded silently;
  after it, a new document is marked ``announce``: its first check tells the watchers
  (新文档, with its text).
* A document no longer on any listing page fetched is *unlisted*: a change row of kind
  ``unlisted`` (no alert: a column that pushes items off its last page, or archives them,
  is not news; the document's own page going away is, as ``gone``).  It keeps its
  history and is no longer checked on schedule.  One that comes back is listed again.
* At most ``max_documents`` documents of a listing are created; links beyond that are
  left out (newest first: a column lists its newest items first) and say so in the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from monitor.types import ChangeKind, Document
from storage.models import Change, Page
from storage.records import DocumentSync


def sync(s: Session, listing: Page, docs: Sequence[Document], *, baseline: bool,
         complete: bool, max_documents: int, now: datetime) -> DocumentSync:
    """Make the listing's document pages match ``docs``; unlist only after a ``complete``
    read of the listing (a page that failed may hold the ones not seen)."""
    known = {p.url: p for p in s.exec(select(Page).where(Page.parent_id == listing.id))}
    taken = set(s.exec(select(Page.url).where(Page.source_id == listing.source_id,
                                              col(Page.parent_id).is_(None))))
    added, relisted = [], []
    for doc in docs:
        page = known.get(doc.url)
        if page is None:
            if doc.url in taken or len(known) >= max_documents:
                continue
            page = _new(s, listing, doc, announce=not baseline)
            known[doc.url] = page
            added.append(page.id or 0)
            continue
        if not page.listed:
            relisted.append(page.id or 0)
        _listed(s, page, doc)
    listed_now = {d.url for d in docs}
    unlisted = [_unlist(s, p, now) for url, p in known.items()
                if complete and p.listed and url not in listed_now]
    return DocumentSync(tuple(added), tuple(relisted), tuple(unlisted))


def _new(s: Session, listing: Page, doc: Document, *, announce: bool) -> Page:
    page = Page(source_id=listing.source_id, url=doc.url, kind="document",
                parent_id=listing.id, list_title=doc.title, list_date=doc.date or None,
                announce=announce)
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
