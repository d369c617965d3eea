"""Values passed between pipeline stages.  Plain frozen dataclasses: no I/O, no sessions."""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class FetchResult:
    """What ``monitor.fetch`` got.  ``not_modified`` is a 304 answer to a conditional GET."""

    url: str
    final_url: str
    status: int
    headers: dict[str, str]  # the headers that matter, lower-case names
    body: bytes = b""  # the body after transfer decoding (gzip...), before charset decoding
    text: str = ""  # body decoded to str
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    elapsed: float = 0.0
    redirects: tuple[tuple[int, str], ...] = ()  # (status, location) of each hop
    fetched_at: datetime | None = None  # when the request was sent (capture began)
    document: str | None = None  # a file's format (pdf, docx…): ``text`` is then empty
    # False: ``text`` not decoded yet, the body being the last version's very bytes
    # (``HttpFetcher.fetch``'s ``same_as``); ``monitor.fetch.http.decoded`` decodes it
    decoded: bool = True

    @property
    def permanent_redirect(self) -> bool:
        return any(code in (301, 308) for code, _ in self.redirects)

    @cached_property
    def sha256(self) -> str:
        """The body's SHA-256 (hex), taken once: a check compares and stores it."""
        return hashlib.sha256(self.body).hexdigest()


@dataclass(frozen=True)
class Document:
    """A document a column links to: its URL, its title in the list, and its list date."""

    url: str
    title: str
    date: str = ""


def sortable_date(date: str) -> tuple[int, ...] | None:
    """2021-06-24, 2021/6/24, 2021年6月24日 → (2021, 6, 24); None if not a date."""
    parts = tuple(int(x) for x in re.findall(r"\d+", date))
    return parts[:3] if len(parts) >= 3 and parts[0] > 1900 else None


@dataclass(frozen=True)
class Attachment:
    """A file a page links to (``monitor.extract.files``): its URL and its link text."""

    url: str
    name: str


@dataclass(frozen=True)
class AttachmentFile:
    """What fetching one attachment gave (``monitor.attachments.fetch_all``).

    ``status`` is a ``DocumentText`` status, or "unavailable" (the fetch failed:
    ``reason`` says why, ``sha256`` is None).  ``body`` is empty when the server said
    304 Not Modified: the file is the one stored under ``sha256``."""

    url: str
    name: str
    status: str = "ok"  # ok | not_extractable | not_extracted | unavailable
    reason: str = ""
    sha256: str | None = None
    fmt: str = ""
    size: int = 0
    body: bytes = b""
    text: str = ""
    title: str = ""
    pages: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    error: str = ""  # this fetch failed (the stored file may have been kept): why
    # SHA-256 of the extracted text (UTF-8), "" when none could be extracted: a file
    # re-generated with the same text is no news (``monitor.detect``)
    text_sha256: str = ""
    # Its URL answers 404/410 while the page still links it, the file stored before kept
    # (``sha256``): "HTTP 404".  Recorded, so a version tells it once (附件无法下载).
    missing: str = ""

    def entry(self) -> dict[str, object]:
        """The version's record of it (``versions.attachments``); ``missing`` only when
        set (a version of a downloadable file records what it always did)."""
        out: dict[str, object] = {
            "url": self.url, "name": self.name, "sha256": self.sha256,
            "status": self.status, "reason": self.reason, "format": self.fmt,
            "size": self.size, "etag": self.etag, "last_modified": self.last_modified}
        if self.missing:
            out["missing"] = self.missing
        if self.text_sha256:
            out["text_sha256"] = self.text_sha256
        return out


@dataclass(frozen=True)
class Extracted:
    """What ``monitor.extract`` + ``monitor.normalize`` made of a page."""

    title: str
    text: str  # normalized: one paragraph per line, no noise
    metadata: dict[str, str] = field(default_factory=dict)  # 索引号, 发文日期, 文号...
    removed: tuple[str, ...] = ()  # human-readable notes of the noise that was removed
    listing: bool = False  # a column page: the text is its items, one per line
    documents: tuple[Document, ...] = ()  # a column page's items: monitor.discover
    item_selector: str | None = None  # finds the same items on the column's other pages
    attachments: tuple[Attachment, ...] = ()  # files the page links to
    links: str | None = None  # the source's ``links`` selector, when it chose the documents


@dataclass(frozen=True)
class DocumentText:
    """What ``monitor.extract.document`` made of a document (PDF, Word, OFD...).

    ``status`` is "ok" (``text`` is the document's text, normalized like page text),
    "not_extractable" (the file opened but holds no usable text: a scan, a font without a
    Unicode mapping) or "not_extracted" (damaged, encrypted, too large, or no tool for
    the format); ``reason`` says why in Chinese first, the technical detail after."""

    fmt: str  # pdf | docx | xlsx | doc | wps | ofd | zip
    text: str = ""
    title: str = ""
    status: str = "ok"  # ok | not_extractable | not_extracted
    reason: str = ""
    pages: int | None = None


class Outcome(enum.StrEnum):
    NEW = "new"  # first version of a page (a baseline, never an alert)
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    ERROR = "error"
    # A check whose fetch was older than one already stored for the page (two processes
    # checked it at once): kept as a check row, never a version, a change or an alert.
    SUPERSEDED = "superseded"


class ChangeKind(enum.StrEnum):
    CHANGED = "changed"
    REPLY_ADDED = "reply_added"
    METADATA_CHANGED = "metadata_changed"
    TITLE_CHANGED = "title_changed"
    GONE = "gone"
    RESTORED = "restored"
    MOVED = "moved"
    FLAPPING = "flapping"
    # A listing's documents: found after the listing's first crawl (told with its text),
    # no longer on any page of the listing (recorded, told only if the page is gone).
    DOCUMENT_ADDED = "document_added"
    # the text of a new document told without it (正文暂未获取), once it could be read
    DOCUMENT_TEXT = "document_text"
    UNLISTED = "unlisted"
    # A page's attachments (files it links to): monitor.detect.attachment_parts.
    ATTACHMENT_ADDED = "attachment_added"
    ATTACHMENT_REMOVED = "attachment_removed"
    ATTACHMENT_CHANGED = "attachment_changed"


# Words a watcher understands, used in subjects and the UI.
KIND_LABELS: dict[str, str] = {
    "changed": "正文修改",
    "reply_added": "新增答复",
    "metadata_changed": "元数据变更",
    "title_changed": "标题变更",
    "gone": "页面已删除",
    "restored": "页面已恢复",
    "moved": "页面已迁移",
    "flapping": "内容来回变化",
    "document_added": "新文档",
    "document_text": "新文档正文",
    "unlisted": "已从栏目移除",
    "attachment_added": "新增附件",
    "attachment_removed": "附件已删除",
    "attachment_changed": "附件已修改",
    # timeline events that are not changes (storage.archive.PageEvent)
    "failing": "连续失败",
    "recovered": "恢复访问",
}

# A change found after an edit of its source's settings whose old version, read again with
# the new settings, reads as the new page: the settings changed, the page did not
# (monitor.pipeline.Checker._settings_apart).  Its summary starts with SETTINGS_ONLY, its
# kind is the difference's (changed…), so it is labelled by SETTINGS_ONLY_LABEL instead.
SETTINGS_ONLY = "设置变更后重新提取（页面本身未变）"
SETTINGS_ONLY_LABEL = "设置变更（页面本身未变）"

# The revision of the reading rules: what extraction and normalization make of a page's
# bytes (monitor.extract, monitor.noise, monitor.extract.metadata's ``settled``, listing
# items…).  Bump it in any release whose rules read some stored page otherwise (a new
# noise pattern, a field cut shorter, a listing read as items), and say so in its
# commit.  Each page records the revision its last whole read was made by
# (``pages.read_rules``, migration 0013; NULL: a release before this constant, taken as
# 0).  A page read by older rules is read whole once more, and a difference from its last
# version is told apart as after a settings edit (monitor.pipeline.Checker._settings_apart):
# the last version's raw body read with the current rules reads as the new page → the
# new version is stored silently, its summary starting with UPGRADE_ONLY.
#   1: clocks removed as noise (also after a greeting), colonless and bare counters cut,
#      a listing with ``links`` stored as "title | date" lines, the <title> kept as
#      网页标题 when it names a document, a column's heading never a document's title
#      (after 8d6f5bb).
#   2: a 北京时间 time to the minute kept (a clock shows seconds, a weekday or the lunar
#      date), a view counter kept amid the text and in a table row, the site's and the
#      columns' names joined by "-" cut from 网页标题 (s23/qafix-read).
#   3: counters in words ("本文已被浏览 100 次", "已有 45 人阅读", 访问人数/浏览人数) and
#      clocks without a date ("系统时间：10:15:33", "北京时间：10:15:33") cut as noise
#      (s23/small2); a column item with a short Chinese title (新答复) listed.
READING_RULES = 3
UPGRADE_ONLY = "升级后重新提取（页面本身未变）"
UPGRADE_ONLY_LABEL = "升级后重新提取（页面本身未变）"

# Why the old side of a change was read again (``details["reread"]["cause"]``, see
# ``reread_cause``): the words every note about it starts from (``monitor diff``'s, the
# alerts'), so a monitor upgrade is never told as an edit of the source's settings.
REREAD_WHY = {"settings": "两版之间来源的设置（content、ignore_text 等）已修改",
              "rules": "两版之间 monitor 升级，读取页面的规则已改变（如时钟、计数器的识别）"}
REREAD_BY = {"settings": "新设置", "rules": "新规则"}  # what the old side was read again by


def reread_cause(details: object) -> str | None:
    """Why a change's old side was read again (``details["reread"]``): "rules" (a monitor
    upgrade), "settings" (an edit of the source's settings; also a re-read recorded
    before the cause was), or None when it was not."""
    reread = details.get("reread") if isinstance(details, dict) else None
    if not isinstance(reread, dict):
        return None
    return "rules" if reread.get("cause") == "rules" else "settings"


# What an ``attachment_changed`` may be besides 附件已修改 (``monitor.detect.
# attachment_label``): filed under that kind for triggers, each labelled by its own words.
FIRST_FETCHED = "附件已可下载"  # never downloaded before, now it is
MISSING = "附件无法下载"  # its link answers 404/410, the stored file kept
RENAMED = "附件已改名"  # the link's text changed, the file did not
BACK = "附件恢复可下载"  # downloadable again, the same bytes (recorded, not told)
RELINKED = "附件链接已更新"  # linked at another host or path, the same file (recorded, not told)
# other bytes, the same extracted text (a re-generated PDF): recorded, not told
REGENERATED = "附件文件已更新（正文无变化）"
ATTACHMENT_NOTES = (FIRST_FETCHED, MISSING, RENAMED, BACK, RELINKED, REGENERATED)


def change_words(kind: str, summary: str) -> tuple[str, str]:
    """A change's label and the rest of its summary: a settings or upgrade re-read is no
    正文修改 (``SETTINGS_ONLY``, ``UPGRADE_ONLY``: its own label, the summary without it);
    an ``attachment_changed`` whose summary starts with one of ``ATTACHMENT_NOTES`` (附件
    无法下载「…」) is labelled by it, not as 附件已修改 (the summary whole, as 附件已修改's)."""
    if summary.startswith(SETTINGS_ONLY):
        return SETTINGS_ONLY_LABEL, summary[len(SETTINGS_ONLY):].lstrip("：: ")
    if summary.startswith(UPGRADE_ONLY):
        return UPGRADE_ONLY_LABEL, summary[len(UPGRADE_ONLY):].lstrip("：: ")
    if kind == ChangeKind.ATTACHMENT_CHANGED:
        note = next((n for n in ATTACHMENT_NOTES if summary.startswith(n)), None)
        if note is not None:
            return note, summary
    return KIND_LABELS.get(kind, kind), summary


@dataclass(frozen=True)
class CheckResult:
    """The value one check returns; a scheduled job never sees an exception."""

    source: str
    outcome: Outcome
    duration: float = 0.0
    status: int | None = None
    bytes: int = 0
    version_id: int | None = None
    change_id: int | None = None
    change_kind: str | None = None
    summary: str | None = None
    error_kind: str | None = None
    error: str | None = None
    alerts: int = 0
    document: str | None = None  # the URL of the listing's document that was checked
    documents_added: int = 0  # a listing's: documents it found for the first time
    attachments_unavailable: int = 0  # attachments that could not be fetched this time
    released: bool | None = None  # the daemon's lease, ended by the commit (None: not)


@dataclass(frozen=True)
class Inspection:
    """A fetched page turned into text, before anything is stored (``sources test``).

    ``complete`` is false for a listing whose later pages could not all be read;
    ``first`` is a listing's page 1 as read on its own (``extracted`` is every page's:
    ``monitor.crawl``); ``quick`` the quick diff from the last version's text made with
    the read (``monitor.pipeline._page_read``: a ``monitor.diff.TextDiff``, or None)."""

    fetch: FetchResult
    extracted: Extracted
    complete: bool = True
    first: Extracted | None = None
    quick: Any = None


@dataclass(frozen=True)
class Snapshot:
    """The parts of a version that change detection compares."""

    title: str
    text: str
    metadata: dict[str, str] = field(default_factory=dict)
    content_hash: str = ""
    # The page's attachments as versions record them (AttachmentFile.entry), in order.
    attachments: tuple[dict[str, object], ...] = ()


@dataclass(frozen=True)
class ChangeDecision:
    """What ``monitor.detect`` decided about a new version compared with the previous one."""

    kind: ChangeKind
    summary: str  # one line in words a watcher understands, e.g. "第3段修改; 新增答复"
    stats: dict[str, int] = field(default_factory=dict)  # added, removed, paragraphs...
    patch: str = ""  # diff-match-patch patch text, UTF-8 (not percent-escaped)
    details: dict[str, object] = field(default_factory=dict)  # e.g. metadata old → new
    alert: bool = True  # False: recorded but nobody is told (e.g. a repeated flap)


def exact_time(at: datetime | None, timezone: str, *, seconds: bool = True) -> str:
    """A time as an archivist cites it: to the second, in ``timezone`` with its UTC
    offset (``2026-12-06 15:33:07 +08:00``), so it names one instant whoever reads it.
    Listings (status, changes) keep the minute; timelines and versions use this; alerts
    use it to the minute (``seconds=False``)."""
    if at is None:
        return "—"
    local = at.astimezone(ZoneInfo(timezone))
    offset = local.strftime("%z")  # +0800
    shown = f"{local:%Y-%m-%d %H:%M:%S}" if seconds else f"{local:%Y-%m-%d %H:%M}"
    return f"{shown} {offset[:3]}:{offset[3:]}"
