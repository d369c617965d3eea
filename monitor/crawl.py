"""Reading a listing source: its pages one after another, and the documents on them.

Page 1 is the source's URL, fetched like any page (conditionally: a 304 ends the read,
nothing changed).  Pages 2 … ``max_pages`` follow, each through the same fetcher (the
network guard, robots.txt and the host's politeness apply to every one):

* ``page_url = "index_{n}.html"``: page k is that template with n = k − 1, resolved
  against the source URL (the TRS/Hanweb numbering: index.html, index_1.html, …);
* ``next_page = "a.next"``: the link that selector finds on the page before;
* neither: the link whose text says next (下一页, 下页, 后页, next, ›, »), or the page
  count a TRS page's ``createPageHTML(count, current, "index", "html")`` script gives.

A later page that is gone (404/410) ends the column there; one that fails otherwise fails
the check (its items would read as removed, then as new again).  A read that
``max_pages`` stopped with pages left is *incomplete*: a document not seen is taken for
removed only if the list dates say it should have been among the pages read
(``storage/documents.py``).  The
listing's version is the text of all pages read, one item per line, so an item pushed
from page 1 to page 2 is not a removal.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser

from monitor.config import SourceConfig
from monitor.discover import base_url, canonical
from monitor.errors import GoneError, ListingBrokenError, MonitorError
from monitor.extract.listing import SEPARATOR, flat_text
from monitor.types import Document, Extracted, Inspection

NEXT_WORDS = frozenset({"下一页", "下页", "后页", "下一頁", "next", "next page", "›", "»", ">"})
_TRS_PAGES = re.compile(r"createPageHTML\(\s*['\"]?(\d+)['\"]?\s*,\s*['\"]?(\d+)['\"]?\s*,"
                        r"\s*['\"]([\w-]+)['\"]\s*,\s*['\"](\w+)['\"]")


InspectPage = Callable[[str], Awaitable[Inspection]]


async def read_rest(source: SourceConfig, first: Inspection,
                    inspect_page: InspectPage) -> Inspection:
    """``first`` (page 1) with pages 2 … ``max_pages`` merged in.  ``complete`` says
    whether the whole column was read (false when ``max_pages`` stopped the read with
    more pages left); a later page that is gone (404/410) ends the column; any other
    failure of a later page fails the check (``ListingBrokenError``): a listing stored
    without that page's items would read as their removal, then as their return.
    ``inspect_page(url)`` fetches and extracts one page."""
    merged = first.extracted
    html, url = first.fetch.text, first.fetch.final_url
    seen = {url}
    for n in range(2, source.max_pages + 2):
        nxt = next_url(source, html, url, n)
        if nxt is None or nxt in seen:
            return replace(first, extracted=merged, complete=True)
        if n > source.max_pages:
            break  # there is more: items beyond here were not seen, not removed
        seen.add(nxt)
        got = await _page(source, n, nxt, inspect_page)
        if got is None:
            return replace(first, extracted=merged, complete=True)
        merged = merge(merged, got.extracted)
        html, url = got.fetch.text, got.fetch.final_url
    return replace(first, extracted=merged, complete=False)


async def _page(source: SourceConfig, n: int, url: str,
                inspect_page: InspectPage) -> Inspection | None:
    """Listing page ``n``; None when it is gone (the column ends before it)."""
    try:
        return await inspect_page(url)
    except GoneError:
        return None
    except MonitorError as exc:
        raise ListingBrokenError(
            f"栏目第{n}页读取失败，本次不保存 (listing page {n} {url} failed: {exc})",
            status=exc.status, size=exc.size) from None


def merge(a: Extracted, b: Extracted) -> Extracted:
    """Two listing pages as one: their documents in order, once each, and the text of
    ``a`` with a ``title | date`` line for each document of ``b`` (a later page's own
    text may not be recognised as a list: a page of two items is too short to tell)."""
    more = [f"{d.title}{SEPARATOR}{d.date}" if d.date else d.title for d in b.documents]
    lines = list(dict.fromkeys(a.text.splitlines() + more))
    docs = {d.url: d for d in (*a.documents, *b.documents)}
    order: list[Document] = list(docs.values())
    return replace(a, text="\n".join(lines), documents=tuple(order),
                   removed=tuple(dict.fromkeys(a.removed + b.removed)))


def next_url(source: SourceConfig, html: str, url: str, n: int) -> str | None:
    """The URL of listing page ``n`` (2, 3, …) after the page ``html`` at ``url``."""
    if source.page_url:
        m = _TRS_PAGES.search(html)  # the page count a TRS page states, when it does
        if m is not None and n - 1 >= int(m.group(1)):
            return None
        return canonical(source.page_url.replace("{n}", str(n - 1)), source.url)
    tree = LexborHTMLParser(html)
    base = base_url(tree.root, url)
    if source.next_page:
        node = tree.css_first(source.next_page)
        return canonical(node.attributes.get("href") or "", base) if node else None
    return _next_link(tree, base) or _trs_page(html, base, n)


def _next_link(tree: LexborHTMLParser, base: str) -> str | None:
    for a in tree.css("a[href]"):
        if flat_text(a).strip().lower() in NEXT_WORDS:
            return canonical(a.attributes.get("href") or "", base)
    return None


def _trs_page(html: str, base: str, n: int) -> str | None:
    m = _TRS_PAGES.search(html)
    if m is None or n - 1 >= int(m.group(1)):
        return None
    return canonical(urljoin(base, f"{m.group(3)}_{n - 1}.{m.group(4)}"), base)
