"""Discovery: which links of a column page are documents to track.

A column (栏目) lists documents; each item's title link is the document.  The items come
from ``monitor.extract.listing`` (the dated items it recognised) or, when the admin gave one, a
``links`` selector.  A link becomes a ``Document`` when:

* it resolves to an ``http(s)`` URL: relative and ``../`` paths are resolved against
  ``<base href>`` when the page has one (itself resolved against the page's URL), else
  the page's final URL; ``javascript:``, ``mailto:``, ``tel:`` and bare ``#`` links are
  not documents;
* its fragment is dropped (``a.html#top`` is ``a.html``), and so are tracking parameters
  that never change what a server sends (``utm_*``, ``spm``, WeChat's ``from``, cache
  busters ``_t``, ``_``, ``timestamp``…), and so are session ids (``;jsessionid=…`` a
  Java CMS writes into every link, ``PHPSESSID``: ``monitor.session_ids``), new on
  every response: the document is fetched without them;
  other query parameters are kept: dynamic CMSs address documents by them
  (``info.jsp?id=123``);
* it matches ``match`` (a regular expression searched in the URL) when one is set.

The same document linked twice in one item or in the page (its title and a "详情" link)
is one document, with the longest title seen.  Order is the page's order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborNode

from monitor.extract.listing import DATE, SEPARATOR, Listing, flat_text, item_line
from monitor.normalize import normalize_line
from monitor.session_ids import without_session
from monitor.types import Document

_SKIP_SCHEMES = ("javascript:", "mailto:", "tel:", "data:", "about:")
_TRACKING = re.compile(r"^(?:utm_\w+|spm|from|share_token|timestamp|_t|_|random|rnd)$",
                       re.IGNORECASE)


def from_listings(listings: Sequence[Listing], base: str,
                  match: re.Pattern[str] | None = None) -> list[Document]:
    """The documents of the items ``monitor.extract.listing`` found, in order."""
    docs = []
    for li in listings:
        for item, line in zip(li.items, li.lines, strict=True):
            link = _title_link(item)
            url = canonical(link.attributes.get("href") or "", base) if link else None
            if url is not None and (match is None or match.search(url)):
                # the title and date of the item's line in the page's text, exactly
                title, _, date = line.rpartition(SEPARATOR)
                docs.append(Document(url, title, date))
    return _unique(docs)


def from_selector(body: LexborNode, selector: str, base: str,
                  match: re.Pattern[str] | None = None) -> list[Document]:
    """The documents of the links ``selector`` matches (an ``a``, or elements with one)."""
    return _unique(doc for _, doc in _documents(_found(body, selector), base, match))


def selected(body: LexborNode, selector: str, base: str,
             match: re.Pattern[str] | None = None) -> tuple[list[Document], list[str]]:
    """``from_selector``'s documents and the column's text they make: one line per item,
    in order, once each: its ``title | date`` as ``listing.item_line`` reads a recognised
    item (so a column's text does not depend on how many items it has), else the
    document's own (``document_line``: an undated item, one of many links)."""
    found = list(_documents(_found(body, selector), base, match))
    docs = _unique(doc for _, doc in found)
    items: dict[str, LexborNode] = {}
    for item, doc in found:
        items.setdefault(doc.url, item)
    lines = (item_line(items[d.url]) or document_line(d) for d in docs)
    return docs, list(dict.fromkeys(lines))


def document_line(doc: Document) -> str:
    """A document's line in its column's text: ``title | date``, its title if undated."""
    return f"{doc.title}{SEPARATOR}{doc.date}" if doc.date else doc.title


def _found(body: LexborNode, selector: str) -> list[tuple[LexborNode, LexborNode]]:
    """The (link, item) pairs of the links ``selector`` matches."""
    found = []
    for node in body.css(selector):
        link = node if node.tag == "a" else _title_link(node)
        if link is not None:
            found.append((link, _item_of(link)))
    return found


def base_url(root: LexborNode | None, page_url: str) -> str:
    """The URL relative links resolve against: ``<base href>`` if any, else the page's."""
    return resolve_base(base_href(root), page_url)


def base_href(root: LexborNode | None) -> str:
    """The page's ``<base href>`` ("" without one), read before noise removal drops it."""
    node = root.css_first("base[href]") if root is not None else None
    return (node.attributes.get("href") or "").strip() if node is not None else ""


def resolve_base(href: str, page_url: str) -> str:
    """``base_url`` of a page whose ``base_href`` is ``href``."""
    return urljoin(page_url, href) if href else page_url


def canonical(href: str, base: str) -> str | None:
    """The absolute URL a link points to, without fragment, tracking parameters and
    session ids;
    None for links that are not documents (``javascript:``, ``#``, other schemes)."""
    href = href.strip()
    if not href or href.startswith("#") or href.lower().startswith(_SKIP_SCHEMES):
        return None
    parts = urlsplit(without_session(urljoin(base, href)))
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if not _TRACKING.match(k)])
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/",
                       query, ""))


def _documents(found: Iterable[tuple[LexborNode, LexborNode]], base: str,
               match: re.Pattern[str] | None) -> Iterable[tuple[LexborNode, Document]]:
    """The (item, document) of each (link, item) whose link is a document."""
    for link, item in found:
        url = canonical(link.attributes.get("href") or "", base)
        if url is None or (match is not None and not match.search(url)):
            continue
        title = flat_text(link) or normalize_line(link.attributes.get("title") or "")
        yield item, Document(url, title, _date(item, title))


def _unique(docs: Iterable[Document]) -> list[Document]:
    """One document per URL, in first-seen order, with the longest title and a date."""
    by_url: dict[str, Document] = {}
    for d in docs:
        seen = by_url.get(d.url)
        if seen is None:
            by_url[d.url] = d
        else:
            title = max(seen.title, d.title, key=len)
            by_url[d.url] = Document(d.url, title, seen.date or d.date)
    return list(by_url.values())


def _title_link(item: LexborNode) -> LexborNode | None:
    """The link of an item that carries its title: the one with the longest text."""
    links = [a for a in item.css("a[href]") if canonical(a.attributes.get("href") or "",
                                                          "http://x/") is not None]
    return max(links, key=lambda a: len(flat_text(a)), default=None)


def _item_of(link: LexborNode) -> LexborNode:
    """The list item around a link (``li``, ``tr``, ``dd``…), or the link itself."""
    node: LexborNode | None = link
    while node is not None and node.tag not in ("li", "tr", "dd", "dt", "p", "body"):
        node = node.parent
    return node if node is not None and node.tag != "body" else link


def _date(item: LexborNode, title: str) -> str:
    rest = flat_text(item).replace(title, " ", 1)
    dates = DATE.findall(rest) or DATE.findall(title)
    return normalize_line(dates[-1]) if dates else ""
