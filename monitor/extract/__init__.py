"""The extract stage: what a fetched answer says, as a title, text and metadata.

* ``html`` — an HTML page: the article (or, for a column page, its list of dated items,
  ``listing``), its metadata table (``metadata``: 索引号, 文号, 发布机构…) and title
  (``title``), laid out as text by ``layout``, normalized.

* ``document`` — a document (an attachment, or a watched URL answering with a file):
  ``sniff`` tells its format from its bytes, Content-Type and URL, ``extract_document``
  its text as a ``DocumentText``; one module per format (``pdf``, ``docx``, ``xlsx``,
  ``ofd``, ``office`` for .doc/.wps, ``archive`` for ZIP), with ``lines`` joining the
  wrapped lines of laid-out pages into paragraphs and ``textcheck`` refusing glyph codes.

* ``feed`` — an RSS or Atom feed (``kind = "feed"``): its entries as a column's documents.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.extract.document import extract_document, sniff
    from monitor.extract.feed import extract_feed
    from monitor.extract.html import extract, main_blocks

__all__ = ["extract", "extract_document", "extract_feed", "main_blocks", "sniff"]
# Each name's module, imported when the name is first asked for (PEP 562): the fetcher
# imports ``document`` for ``sniff`` alone, and an unchanged check parses no HTML.
_FROM = {"extract": "html", "main_blocks": "html", "extract_feed": "feed",
         "extract_document": "document", "sniff": "document"}


def __getattr__(name: str) -> Any:
    if name not in _FROM:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_FROM[name]}"), name)
    globals()[name] = value  # found directly from now on
    return value
