"""A column's RSS or Atom feed (``kind = "feed"``), read with feedparser.

Each entry is a document: its link (resolved like a page's links, fragment and tracking
parameters dropped: ``monitor.discover.canonical``), its title and its date (published,
else updated, as YYYY-MM-DD).  The feed's text is one ``title | date`` line per entry,
as a column page's is, so a feed and a listing page behave the same from here on: the
same documents, follow settings, alerts and broken-render rule (a feed without entries
is a failed check).  feedparser reads every RSS and Atom dialect and their encodings,
and never fetches anything itself here: it is given the bytes the fetcher got.
"""

from __future__ import annotations

import time
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from monitor.extract.listing import SEPARATOR
from monitor.normalize import normalize_line
from monitor.types import Document, Extracted


def extract_feed(body: bytes, url: str) -> Extracted:
    """The entries of a feed as a column's documents and item lines."""
    import feedparser  # here: 50 ms at every start, for the few sources that are feeds

    from monitor.discover import canonical  # here: monitor.discover imports this package

    parsed = feedparser.parse(body, response_headers={"content-location": url})
    docs: dict[str, Document] = {}
    for entry in parsed.entries:
        link = canonical(str(entry.get("link") or ""), url)
        if link is None or link in docs:
            continue
        docs[link] = Document(link, normalize_line(str(entry.get("title") or link)),
                              _date(entry))
    lines = [f"{d.title}{SEPARATOR}{d.date}" if d.date else d.title for d in docs.values()]
    title = normalize_line(str(parsed.feed.get("title") or ""))
    return Extracted(title=title, text="\n".join(lines), listing=True,
                     documents=tuple(docs.values()))


def _date(entry: Any) -> str:  # a feedparser.FeedParserDict
    """The entry's date as the feed wrote it, in the feed's own time zone (a reply
    published at 00:30 Beijing time is dated that day, not the day before in UTC)."""
    raw = str(entry.get("published") or entry.get("updated") or "")
    for parse in (parsedate_to_datetime, datetime.fromisoformat):
        try:
            return parse(raw).strftime("%Y-%m-%d")
        except (TypeError, ValueError, IndexError):
            continue
    when = entry.get("published_parsed") or entry.get("updated_parsed")
    return time.strftime("%Y-%m-%d", when) if when else ""
