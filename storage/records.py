"""Plain values crossing the storage boundary (no ORM objects leak out of ``Store``)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol

from monitor.types import AttachmentFile, ChangeDecision, Document
from storage.instant import Instant


class SourceSpec(Protocol):
    """What storage reads of a source of ``sources.toml`` (``monitor.config.SourceConfig``
    is one): storage depends on this shape, not on the config module, so the config can
    grow without the database layer importing it."""

    @property
    def name(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def all_tags(self) -> tuple[str, ...]: ...

    def config_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class LastVersion:
    """A page's newest version; its ``text`` is read from the database on first use
    (``read_text``), since an unchanged check only compares hashes."""

    id: int
    content_hash: str
    title: str
    metadata: dict[str, str]
    raw_sha256: str
    fetched_at: datetime
    url: str
    # versions.attachments; None for a version stored before they were tracked
    attachments: tuple[dict[str, Any], ...] | None = ()
    read_text: Callable[[], str] = field(default=lambda: "", repr=False, compare=False)

    @cached_property
    def text(self) -> str:
        return self.read_text()


@dataclass(frozen=True)
class StoredFile:
    """An attachment file as stored (``files``); ``body`` only when asked for."""

    sha256: str
    size: int
    format: str
    text: str
    title: str
    status: str
    reason: str
    pages: int | None
    first_seen: datetime
    body: bytes = b""


@dataclass(frozen=True)
class PageState:
    """What the pipeline needs to know about a page before checking it."""

    page_id: int
    source_id: int
    source: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    last: LastVersion | None = None
    previous_hashes: tuple[str, ...] = ()  # versions before ``last``, newest first
    last_change_kind: str | None = None
    failure_streak: int = 0
    gone_streak: int = 0
    status: str = "new"
    last_error_kind: str | None = None  # of the newest check, if it failed
    kind: str = "page"  # or "document" (found by a listing)
    announce: bool = False  # a document found after its listing's baseline, not told yet
    list_title: str | None = None  # a document's title and date in its listing
    # a document told as 新文档 without its text, never read since: its first version
    # is told too (新文档正文)
    text_owed: bool = False
    # a document another listing lists too (a reference row): both listings' watchers
    # are told its changes (storage/documents.shared_with)
    shared: bool = False
    list_date: str | None = None
    documents_listed: int = 0  # a listing's documents still on it
    revision: int = 0  # checks committed for the page when this state was read
    observed_at: datetime | None = None  # fetch time of the newest stored check
    settings_at: datetime | None = None  # when the source's settings last changed
    # when a check read the page whole with those settings (pages.settings_read_at)
    settings_read_at: datetime | None = None
    # the reading rules of the last whole read (pages.read_rules; None: before 0013)
    read_rules: int | None = None


@dataclass(frozen=True)
class NewVersion:
    content_hash: str
    title: str
    text: str
    metadata: dict[str, str]
    raw: bytes
    raw_sha256: str
    http_status: int
    headers: dict[str, str]
    url: str
    charset: str | None
    fetched_at: datetime
    files: tuple[AttachmentFile, ...] = ()  # the attachments fetched, bytes when new
    # The bytes ``raw_sha256`` was taken of (the fetch's ``FetchResult.body``, whose
    # ``sha256`` it is).  When that is ``raw`` itself, the same immutable object, the
    # store takes the hash as the seal's and does not hash the body again (~0.05 ms a
    # 80 KB page); otherwise (None, or other bytes: a hash recorded elsewhere, a body
    # read back) the store hashes the bytes it stores, as a seal must.
    raw_hashed: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def attachments(self) -> list[dict[str, Any]]:
        return [f.entry() for f in self.files]

    def raw_sha256_of_raw(self) -> str:
        """SHA-256 (hex) of ``raw``: ``raw_sha256`` when it was taken of this very
        object (``raw_hashed``), else hashed here."""
        if self.raw_hashed is self.raw and type(self.raw) is bytes:
            return self.raw_sha256
        return hashlib.sha256(self.raw).hexdigest()


@dataclass(frozen=True)
class AlertDraft:
    """An outbox row to write with the check.  ``change_index`` points into the record's
    ``changes`` (the change row's id is only known inside the transaction)."""

    dedupe_key: str
    event: str
    channel: str
    recipient: str
    watcher: str = ""
    change_index: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    hold_until: datetime | None = None  # digests: not before this time
    replace_pending: bool = False  # same key still pending: point it at this change


@dataclass(frozen=True)
class LeaseEnd:
    """The page's lease, ended by the check's own commit (one transaction a check less)
    while ``owner`` still holds it: the daemon's claim (the page is due again at
    ``next_check_at``) or ``monitor check``'s lease (``next_check_at`` None: the schedule
    is left as it was)."""

    owner: str
    next_check_at: datetime | None = None


@dataclass(frozen=True)
class CheckRecord:
    """Everything one check writes, committed in one transaction."""

    page_id: int
    expected_last_version_id: int | None
    expected_revision: int  # the page's revision in the state the record was made from
    started_at: datetime
    duration: float
    outcome: str
    http_status: int | None = None
    bytes: int = 0
    raw_sha256: str | None = None
    error_kind: str | None = None
    error: str | None = None
    worker: str | None = None
    version: NewVersion | None = None
    changes: tuple[ChangeDecision, ...] = ()
    alerts: tuple[AlertDraft, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    page_status: str | None = None
    failure_streak: int = 0
    gone_streak: int = 0
    page_url: str | None = None  # a permanent redirect moved the page here
    observed_at: datetime | None = None  # when the page was fetched (or the fetch failed)
    documents: tuple[Document, ...] | None = None  # a listing's: what it lists now
    documents_complete: bool = True  # every listing page was read: absent ones are gone
    max_documents: int = 500  # a listing's cap on the documents it creates
    announced: bool = False  # this check told the watchers of a new document
    lease: LeaseEnd | None = None  # the page's lease, ended in the same commit
    # the page was read whole with its source's new settings (pages.settings_read_at)
    settings_read_at: datetime | None = None
    # ... and with this release's reading rules (pages.read_rules)
    read_rules: int | None = None

    @property
    def plain(self) -> bool:
        """Whether it adds a check row only (unchanged, or an error without alerts): no
        version, change, alert or document."""
        return (self.version is None and not self.changes and not self.alerts
                and self.documents is None)


@dataclass(frozen=True)
class CommitResult:
    check_id: int
    version_id: int | None
    change_ids: tuple[int, ...] = ()
    alert_ids: tuple[int, ...] = ()
    outcome: str = ""  # "superseded" when a later fetch was stored first
    conflict: bool = False  # nothing written: the page moved on, recompute and retry
    documents: DocumentSync | None = None  # a listing's: what changed in its documents
    released: bool | None = None  # the record's lease: ended (False: no longer ours)


@dataclass(frozen=True)
class DocumentSync:
    """Page ids of a listing's documents: found now, listed again, no longer listed."""

    added: tuple[int, ...] = ()
    relisted: tuple[int, ...] = ()
    unlisted: tuple[int, ...] = ()


@dataclass(frozen=True)
class VersionRef:
    """What names a stored version: the fields every view of one shares."""

    id: int
    page_id: int
    source: str
    url: str
    fetched_at: Instant
    content_hash: str
    title: str


@dataclass(frozen=True)
class VersionInfo(VersionRef):
    size: int
    raw_size: int
    change_kind: str | None = None
    change_summary: str | None = None
    number: int = 0  # 第N版 of its page


@dataclass(frozen=True)
class VersionFull(VersionRef):
    text: str
    metadata: dict[str, str]
    http_status: int
    headers: dict[str, str]
    charset: str | None
    raw_size: int
    raw_sha256: str
    # versions.attachments with the stored file's format, size, pages and title
    attachments: tuple[dict[str, Any], ...] = ()
    # evidence (storage/verify.py): 第N版, the text's SHA-256, the chained record hash
    number: int = 0
    text_sha256: str = ""
    record_hash: str = ""
    previous_record_hash: str = ""  # the one it chains to ("" for 第1版)
    # monitor-record-1 or -2 (storage/verify.py); "" when it matches neither (damaged)
    record_format: str = ""


@dataclass(frozen=True)
class PageRef:
    """A source's main page as the scheduler sees it."""

    source: str
    page_id: int
    last_check_at: datetime | None
    next_check_at: datetime | None
