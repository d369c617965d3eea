"""Reading a listing source: its pages one after another, and the documents on them.

Page 1 is the source's URL, fetched like any page (conditionally: a 304 ends the read,
nothing changed).  Pages 2 … ``max_pages`` follow, each through the same fetcher (the
network guard, robots.txt and the host's politeness apply to every one):

* ``page_url = "index_{n}.html"``: page k is that template with n = k − 1, resolved
  against the source URL (the TRS/Hanweb numbering: index.html, index_1.html, …);
* ``next_page = "a.next"``: the link that selector finds on the page before;
* neither: the link whose text says next (下一页, 下页, 后页, next, ›, »), or the page
  count a TRS page's ``createPageHTML(count, current, "index", "html")`` script gives.

A later page that fails is a *failed check* (``ListingBrokenError``, its reason and status
recorded), not the column's end, whenever the column said the page exists: a link led to
it (``next_page``, a 下一页 link) or it is within the page count the column states
(``createPageHTML(count, …)``).  A 404 there is a CMS that has not regenerated that page
yet, or a server having a bad minute; ending the column would read its documents as
removed, then as new again.  Only a page nobody announced (``page_url`` probing
``index_{n}`` without a stated count) that is gone (404/410) ends the column.  When the
listing has failed ``documents.LISTING_CONFIRM`` times in a row (``short_ok``), the
pages read are kept as an *incomplete* read instead, so new documents on page 1 are
still found while a later page stays broken, and nothing is unlisted for the failure.

A read that ``max_pages`` stopped with pages left, or one cut short by a believed
failure, is *incomplete*: a document not seen is taken for removed only if the list dates
say it should have been among the pages read (``storage/documents.py``).  The
listing's version is the text of all pages read, one item per line, so an item pushed
from page 1 to page 2 is not a removal.  The read keeps page 1's own reading
(``Inspection.first``): the stored raw body is page 1's, and an upgrade's re-read of it
stands for the whole version only with the later pages' lines added
(``monitor.pipeline._column_as_read``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from urllib.parse import urljoin

from loguru import logger
from selectolax.lexbor import LexborHTMLParser

from monitor.config import SourceConfig
from monitor.discover import base_url, canonical, document_line
from monitor.errors import GoneError, ListingBrokenError, MonitorError
from monitor.extract.listing import flat_text
from monitor.types import Document, Extracted, Inspection

NEXT_WORDS = frozenset({"下一页", "下页", "后页", "下一頁", "next", "next page", "›", "»", ">"})
_TRS_PAGES = re.compile(r"createPageHTML\(\s*['\"]?(\d+)['\"]?\s*,\s*['\"]?(\d+)['\"]?\s*,"
                        r"\s*['\"]([\w-]+)['\"]\s*,\s*['\"](\w+)['\"]")


InspectPage = Callable[[str], Awaitable[Inspection]]


async def read_rest(source: SourceConfig, first: Inspection, inspect_page: InspectPage,
                    *, short_ok: bool = False) -> Inspection:
    """``first`` (page 1) with pages 2 … ``max_pages`` merged in.  ``complete`` says
    whether the whole column was read (false when ``max_pages`` stopped the read with
    more pages left).  A later page that fails raises ``ListingBrokenError`` (or, with
    ``short_ok``, ends an incomplete read); one nobody announced that is gone ends the
    column (see the module doc).  ``inspect_page(url)`` fetches and extracts one page."""
    merged = first.extracted
    html, url = first.fetch.text, first.fetch.final_url
    seen = {url}
    for n in range(2, source.max_pages + 2):
        found = next_page(source, html, url, n)
        if found is None or found[0] in seen:
            return replace(first, extracted=merged, complete=True, first=first.extracted)
        if n > source.max_pages:
            break  # there is more: items beyond here were not seen, not removed
        nxt, announced = found
        seen.add(nxt)
        try:
            got = await _page(source, n, nxt, inspect_page, announced=announced)
        except ListingBrokenError as exc:
            if not short_ok:
                raise
            logger.warning("{}: listing page {} still fails ({}): the {} pages before it "
                           "are kept as an incomplete read, nothing unlisted", source.name,
                           n, exc.args[0] if exc.args else exc, n - 1)
            break
        if got is None:
            return replace(first, extracted=merged, complete=True, first=first.extracted)
        merged = merge(merged, got.extracted)
        html, url = got.fetch.text, got.fetch.final_url
    return replace(first, extracted=merged, complete=False, first=first.extracted)


async def _page(source: SourceConfig, n: int, url: str, inspect_page: InspectPage, *,
                announced: bool) -> Inspection | None:
    """Listing page ``n``; None when it is gone and nobody said it exists (the column
    ends before it)."""
    try:
        return await inspect_page(url)
    except GoneError as exc:
        if not announced:
            return None
        why = f"the column links to it or states more pages: {exc}"
        raise ListingBrokenError(
            f"栏目第{n}页暂时无法访问，本次不保存 (listing page {n} {url} is gone though "
            f"{why})", status=exc.status, size=exc.size) from None
    except MonitorError as exc:
        raise ListingBrokenError(
            f"栏目第{n}页读取失败，本次不保存 (listing page {n} {url} failed: {exc})",
            status=exc.status, size=exc.size) from None


def merge(a: Extracted, b: Extracted) -> Extracted:
    """Two listing pages as one: their documents in order, once each, and the text of
    ``a`` with a ``title | date`` line for each document of ``b`` (a later page's own
    text may not be recognised as a list: a page of two items is too short to tell)."""
    more = [document_line(d) for d in b.documents]
    lines = list(dict.fromkeys(a.text.splitlines() + more))
    docs = {d.url: d for d in (*a.documents, *b.documents)}
    order: list[Document] = list(docs.values())
    return replace(a, text="\n".join(lines), documents=tuple(order),
                   removed=tuple(dict.fromkeys(a.removed + b.removed)))


def next_url(source: SourceConfig, html: str, url: str, n: int) -> str | None:
    """The URL of listing page ``n`` (2, 3, …) after the page ``html`` at ``url``."""
    found = next_page(source, html, url, n)
    return found[0] if found else None


def next_page(source: SourceConfig, html: str, url: str,
              n: int) -> tuple[str, bool] | None:
    """(the URL of listing page ``n``, whether the column announced it: a link to it, or
    a stated page count it is within), or None when there is no page ``n``."""
    m = _TRS_PAGES.search(html)  # the page count a TRS page states, when it does
    if source.page_url:
        if m is not None and n - 1 >= int(m.group(1)):
            return None
        found = canonical(source.page_url.replace("{n}", str(n - 1)), source.url)
        return (found, m is not None) if found else None
    tree = LexborHTMLParser(html)
    base = base_url(tree.root, url)
    if source.next_page:
        node = tree.css_first(source.next_page)
        found = canonical(node.attributes.get("href") or "", base) if node else None
    else:
        found = _next_link(tree, base) or _trs_page(html, base, n)
    return (found, True) if found else None


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
