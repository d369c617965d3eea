"""Attached files: the links of a page that name a file, found while the page is read.

Discovery (``find``): the links inside the page's content area, or, when it has none,
anywhere in the body, whose URL names a file of ``EXTENSIONS`` (the path's end, any case,
or a query value such as ``download.jsp?file=答复.pdf``).  URLs are resolved like a
column's documents (``monitor.discover.canonical``: ``<base href>``, fragments and
tracking parameters dropped); the same file linked twice is one attachment, named by
its longest link text (else the file name).  Order is the page's order.

A link is resolved and tested only when its ``href`` or the base URL may name such a
file (``_may_name_file``): a URL made of them holds a file's extension only when one of
the two holds it (its path's last segment and its query come from the ``href``, or,
for an ``href`` without a path, from the base), unless a character is decoded
(``%2E``) or dropped (a tab or line break, as ``urlsplit`` does) on the way; an
``href`` or base with either is always resolved.  Most links of a page (a nav, a
footer: ``.html`` pages) are then passed over without ``canonical``'s parse and
rebuild (~10 µs each; a page's body without files in its content has dozens).

Fetching them is ``monitor.attachments``' (after the page, in the same check); this module
only reads links and names formats, so the extract stage needs nothing of the fetch stage.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from urllib.parse import parse_qsl, unquote, urlsplit

from selectolax.lexbor import LexborNode

from monitor import discover  # the module: it imports monitor.extract (whose html imports us)
from monitor.extract.listing import flat_text
from monitor.types import Attachment

EXTENSIONS = frozenset({".pdf", ".doc", ".docx", ".xls", ".xlsx", ".wps", ".ofd", ".zip"})
# The start of every extension: a name with an extension holds one of these.
_HINTS = tuple(sorted({ext[:4] for ext in EXTENSIONS}))
_ALTERED = ("%", "\t", "\n", "\r")  # decoded or dropped while a URL is resolved
# The Content-Type a stored file is served and exported with, by its format.
CONTENT_TYPES = {
    "pdf": "application/pdf", "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "wps": "application/kswps", "ofd": "application/ofd", "zip": "application/zip",
}


def content_type(fmt: str) -> str:
    """The Content-Type of a file of format ``fmt``; unknown ones are bytes."""
    return CONTENT_TYPES.get(fmt, "application/octet-stream")


def find(areas: Sequence[LexborNode], body: LexborNode, base: str) -> tuple[Attachment, ...]:
    """The attachments linked from ``areas`` (the content), else from the whole body."""
    found = _unique(_links(areas, base))
    return found or _unique(_links([body], base))


def is_file_url(url: str) -> bool:
    """Whether a URL names a file of ``EXTENSIONS`` by its path or a query value."""
    parts = urlsplit(url)
    names = [parts.path] + [v for _, v in parse_qsl(parts.query)]
    return any(posixpath.splitext(unquote(n).lower())[1] in EXTENSIONS for n in names)


def _may_name_file(url: str) -> bool:
    """False when no URL resolved from ``url`` (as an ``href`` or a base) can take a
    file's extension from it: it holds no extension's start and nothing that is decoded
    or dropped while resolving (see the module's doc)."""
    if any(ch in url for ch in _ALTERED):
        return True
    low = url.lower()
    return any(hint in low for hint in _HINTS)


def _links(areas: Iterable[LexborNode], base: str) -> Iterable[Attachment]:
    every = _may_name_file(base)  # the base may give a link its path: test each
    for area in areas:
        links = [area] if area.tag == "a" else area.css("a[href]")
        for a in links:
            href = a.attributes.get("href") or ""
            if not every and not _may_name_file(href):
                continue
            url = discover.canonical(href, base)
            if url is not None and is_file_url(url):
                name = flat_text(a) or (a.attributes.get("title") or "").strip()
                yield Attachment(url, name or _file_name(url))


def _file_name(url: str) -> str:
    return posixpath.basename(unquote(urlsplit(url).path)) or url


def _unique(found: Iterable[Attachment]) -> tuple[Attachment, ...]:
    """One attachment per URL, in first-seen order, with the longest name seen."""
    by_url: dict[str, Attachment] = {}
    for att in found:
        old = by_url.get(att.url)
        if old is None or len(att.name) > len(old.name):
            by_url[att.url] = att if old is None else Attachment(att.url, att.name)
    return tuple(by_url.values())

def format_by_name(url: str) -> str:
    """The format a file's name says, for bytes nobody recognised (then not extracted)."""
    parts = urlsplit(url)
    for name in [parts.path] + [v for _, v in parse_qsl(parts.query)]:
        ext = posixpath.splitext(unquote(name).lower())[1]
        if ext in EXTENSIONS:
            return ext[1:]
    return "bin"
