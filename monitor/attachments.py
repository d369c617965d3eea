"""Attachments: the files a tracked page links to, fetched with the page.

Which links are files is the extract stage's (``monitor.extract.files``); this module fetches
them.  Fetching (``fetch_all``), in the same check, after the page: the same ``Fetcher`` as
pages (network guard, robots, host politeness, ``max_body_bytes``), at most
``settings.max_attachments`` a page, one after another.  Each request is conditional
when the page's last version recorded an ETag/Last-Modified for that URL: a 304 reuses
the stored file (no download).  A server without validators costs one download per
attachment per check — the price of seeing a PDF replaced under the same link.  A page
answering 304 still has the files its last version lists asked for (``monitor.pipeline``):
static pages behind nginx answer 304 forever while their PDF is replaced.  Those are the
links the page has: a link moved to another host or path, its file the same, is a new
version of its own (附件链接已更新, not told: ``monitor.detect._elsewhere``), so no check
keeps asking a host the page no longer links to.  Text
extraction runs in a worker thread.

A failed fetch never fails the page's check: the attachment is "unavailable" with the
reason.  When the last version had the same URL with a stored file, that file is kept;
so is the file of the last version's attachment of the same name when the link's URL is
new (a cache buster, a token: ``monitor.detect`` knows a moved link by its name and
bytes), though no validators are sent to the new URL (its ETag is another resource's).
What the failure was decides what the watcher is told:

* 404 or 410 (``GoneError``): the server says the file is not there while the page
  still links it.  The kept file is recorded as ``missing`` ("HTTP 404") in the new
  version, so it is told once, as 附件无法下载「name」 (``monitor.detect``), at the first
  such answer: unlike a page (``gone_after`` answers in a row), no count of an
  attachment's answers is kept between checks, and a page that is read while its link
  answers 404 is a link that leads nowhere.  The following 404s are the same version:
  nothing more.  The archived bytes stay (the version still names their SHA-256).
* any other failure (a timeout, a refused connection, 5xx, 403…): passing, never told
  (noise): the file is kept as the last version had it (``missing`` included: a
  timeout after a 404 is still missing).  The page-level policy for such failures, a
  trouble alert after ``trouble_after`` failed checks in a row, counts the page's own
  fetches only; an attachment's are logged and counted in the check's
  ``attachments_unavailable``.

A missing file downloadable again with the same bytes (a 200 or a 304) is recorded in a
new version without an alert (附件恢复可下载, in ``monitor history``), so a later 404 is
told again, at once (one outage and return is no flapping; a file going 404 and back
again and again is, told condensed with its newest state: ``monitor.detect``); under a
new name it is 附件已改名; with other bytes it is 附件已修改 as any replaced file, unless
its extracted text is the same (``text_sha256`` of the text, recorded only when some was
extracted): 附件文件已更新（正文无变化）, recorded, not told.  An attachment never
fetched yet is recorded as unavailable, and its first successful fetch is then a change
of that attachment (附件已可下载).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from monitor.errors import GoneError, MonitorError
from monitor.extract.document import extract_document, sniff
from monitor.extract.files import format_by_name
from monitor.types import Attachment, AttachmentFile, DocumentText

if TYPE_CHECKING:
    from monitor.fetch import Fetcher

async def fetch_all(fetcher: Fetcher, attachments: Sequence[Attachment], *, limit: int,
                    known: Mapping[str, Mapping[str, object]],
                    allow_private: bool | None = None,
                    robots: bool | None = None) -> tuple[AttachmentFile, ...]:
    """The first ``limit`` attachments fetched; ``known`` is the last version's record
    of each URL (``AttachmentFile.entry``): validators to send, a file to keep."""
    named: dict[str, Mapping[str, object]] = {}
    for entry in known.values():
        named.setdefault(str(entry.get("name") or ""), entry)
    out = []
    for att in attachments[:limit]:
        last = known.get(att.url)
        moved = None if last is not None or not att.name else named.get(att.name)
        out.append(await fetch_one(fetcher, att, last or {}, allow_private=allow_private,
                                   robots=robots, moved=moved))
    return tuple(out)


async def fetch_one(fetcher: Fetcher, att: Attachment, last: Mapping[str, object], *,
                    allow_private: bool | None, robots: bool | None,
                    moved: Mapping[str, object] | None = None) -> AttachmentFile:
    """``att`` fetched; ``last``: the last version's record of its URL; ``moved``: of the
    attachment of its name, for a URL not seen before (kept over a failure only)."""
    stored = last.get("sha256")
    etag, modified = (_str(last.get("etag")), _str(last.get("last_modified"))) if stored \
        else (None, None)
    try:
        got = await fetcher.fetch(att.url, etag=etag, last_modified=modified,
                                  allow_private=allow_private, robots=robots)
    except MonitorError as exc:
        gone = isinstance(exc, GoneError)
        return _unavailable(att, last, moved, str(exc), f"HTTP {exc.status}" if gone else "")
    if got.not_modified:
        return _kept(att, last, got.etag, got.last_modified)
    if got.status >= 400:
        return _unavailable(att, last, moved, f"HTTP {got.status}",
                            f"HTTP {got.status}" if got.status in (404, 410) else "")
    fmt = sniff(got.body, got.headers.get("content-type"), att.url) or format_by_name(att.url)
    doc = await asyncio.to_thread(extract_document, got.body, fmt)
    return AttachmentFile(
        url=att.url, name=att.name, status=doc.status, reason=doc.reason,
        sha256=hashlib.sha256(got.body).hexdigest(), fmt=fmt, size=len(got.body),
        body=got.body, text=doc.text, title=doc.title, pages=doc.pages,
        etag=got.etag, last_modified=got.last_modified, text_sha256=_text_sha256(doc))


def _text_sha256(doc: DocumentText) -> str:
    """SHA-256 of a file's extracted text; "" when it has none (a scan, an unknown
    format): then no "the same text" can be said of another file."""
    if doc.status != "ok" or not doc.text.strip():
        return ""
    return hashlib.sha256(doc.text.encode("utf-8")).hexdigest()


def _kept(att: Attachment, last: Mapping[str, object], etag: str | None,
          modified: str | None) -> AttachmentFile:
    """The stored file, still current (a 304), or kept over a failure."""
    return AttachmentFile(
        url=att.url, name=att.name, status=str(last.get("status") or "ok"),
        reason=str(last.get("reason") or ""), sha256=_str(last.get("sha256")),
        fmt=str(last.get("format") or ""), size=int(str(last.get("size") or 0)),
        etag=etag, last_modified=modified, text_sha256=str(last.get("text_sha256") or ""))


def _unavailable(att: Attachment, last: Mapping[str, object],
                 moved: Mapping[str, object] | None, reason: str,
                 gone: str) -> AttachmentFile:
    """A failed fetch: the stored file of its URL (``last``) or of its name (``moved``)
    kept, ``missing`` when the URL answered 404/410 (``gone``: "HTTP 404"), else as it
    was; validators only of its own URL."""
    error = f"附件无法下载（{reason}）"[:300]
    was = last or moved or {}
    if was.get("sha256"):
        kept = _kept(att, was, _str(last.get("etag")), _str(last.get("last_modified")))
        return replace(kept, error=error, missing=gone or str(was.get("missing") or ""))
    return AttachmentFile(url=att.url, name=att.name, status="unavailable", reason=error,
                          error=error)


def _str(value: object) -> str | None:
    return str(value) if value else None
