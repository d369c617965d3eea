"""SQLModel tables.

Shapes chosen for what comes later without a rewrite:

* ``pages`` is separate from ``sources`` so a listing column (one source) can discover
  many detail pages and attachments (``pages.kind``), each with its own history.
* ``versions.raw_body`` is compressed with zstd, against the previous version's raw body
  as a dictionary (``raw_codec = "zstd-delta"``, ``raw_base_id``) so a near-identical
  page costs a few hundred bytes; every ``DELTA_CHAIN_MAX`` versions a full copy bounds
  the chain.
* ``versions.line_ids`` / ``field_ids``: the text is not stored per version but as
  shared paragraphs (``paragraphs``: each distinct line of a page once, per page, by a
  16-byte SHA-256 digest), a version being the ordered list of their ids in a compact
  run-length varint encoding; the title and metadata values are paragraphs too (with
  their field named), and the full-text index covers ``paragraphs`` only, so an
  unchanged paragraph is stored and indexed once per page however many versions repeat
  it.  Why per page and not global, and the encoding: ``storage/paragraphs.py``.
  ``text_len`` keeps the text's length (characters) for listings.
* ``pages.lease_owner`` / ``lease_expires`` / ``next_check_at`` let several daemons on
  PostgreSQL claim due checks atomically.
* ``files`` holds each attachment file once, by SHA-256, shared by every version and
  page that links it (bytes zstd-compressed, extracted text searched like version
  text); a version lists its attachments in ``versions.attachments`` (JSON, page order:
  url, name, sha256 or none when it could not be fetched, status, reason, the ETag and
  Last-Modified it was served with).  A JSON list rather than a link table: a version's
  attachments are always read whole, with the version; search finds the versions that
  list a matching file by its SHA-256 in this JSON (``storage/search_files.py``).
* ``alerts`` is the transactional outbox: rows are written in the same transaction as
  the change; ``dedupe_key`` is unique so nothing is queued twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _json(**kw: Any) -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False), **kw)


class SourceRow(SQLModel, table=True):
    __tablename__ = "sources"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=80)
    url: str = Field(sa_column=Column(Text, nullable=False))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    config: dict[str, Any] = _json()
    active: bool = True  # False once removed from sources.toml: history stays
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Page(SQLModel, table=True):
    __tablename__ = "pages"
    __table_args__ = (UniqueConstraint("source_id", "url", name="uq_pages_source_url"),)

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="sources.id", index=True)
    url: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = "page"  # page (a source's own) | document (found by a listing)
    # A document: the listing page that lists it, its title and date there, whether it
    # is still listed, and whether its first check tells the watchers (see 0004).
    parent_id: int | None = Field(default=None, index=True)
    list_title: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    list_date: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    listed: bool = True
    unlisted_at: datetime | None = None
    announce: bool = False
    etag: str | None = None
    last_modified: str | None = None
    last_version_id: int | None = None
    last_check_at: datetime | None = None
    last_ok_at: datetime | None = None
    last_change_at: datetime | None = None
    failure_streak: int = 0
    gone_streak: int = 0
    status: str = "new"  # new | ok | failing | gone
    next_check_at: datetime | None = Field(default=None, index=True)
    lease_owner: str | None = None
    lease_expires: datetime | None = None
    # Checks committed so far, and the fetch time of the newest: see Store.commit_check.
    revision: int = 0
    observed_at: datetime | None = None
    # When a check last read the page whole after its source's settings (sources.
    # updated_at) changed: until then no validators, no same-bytes shortcut (see 0011).
    settings_read_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Version(SQLModel, table=True):
    __tablename__ = "versions"

    id: int | None = Field(default=None, primary_key=True)
    page_id: int = Field(foreign_key="pages.id", index=True)
    fetched_at: datetime = Field(default_factory=utcnow, index=True)
    content_hash: str = Field(max_length=64)
    title: str = Field(default="", sa_column=Column(Text, nullable=False))
    # the text as paragraph ids (storage/paragraphs.py); read it with Store.version_text
    line_ids: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    field_ids: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    text_len: int = 0
    meta: dict[str, str] = _json()
    raw_body: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    raw_codec: str = "zstd"  # zstd | zstd-delta
    raw_base_id: int | None = None
    raw_chain: int = 0  # number of deltas between this version and a full copy
    raw_size: int = 0
    raw_sha256: str = Field(default="", max_length=64)
    http_status: int = 200
    headers: dict[str, str] = _json()
    url: str = Field(default="", sa_column=Column(Text, nullable=False))  # final URL
    charset: str | None = None
    # None: stored before attachments were tracked (migration 0005), so unknown.
    attachments: list[dict[str, Any]] | None = Field(
        default_factory=list, sa_column=Column(JSON(none_as_null=True), nullable=True))
    # Evidence (migration 0007, storage/verify.py): the text's SHA-256, the version's
    # number in its page (第1版…) and its record hash, chained to the previous version's.
    text_sha256: str = Field(default="", max_length=64)
    number: int = 0
    record_hash: str = Field(default="", max_length=64)


class Paragraph(SQLModel, table=True):
    """One distinct line (or title, or metadata value) of a page's versions."""

    __tablename__ = "paragraphs"
    __table_args__ = (UniqueConstraint("page_id", "digest", name="uq_paragraphs_page_digest"),)

    id: int | None = Field(default=None, primary_key=True)
    page_id: int = Field(foreign_key="pages.id")  # indexed by the unique constraint
    digest: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    field: str = Field(default="", sa_column=Column(Text, nullable=False))  # "" body text
    text: str = Field(default="", sa_column=Column(Text, nullable=False))


class ParagraphSpan(SQLModel, table=True):
    """Versions ``first_number``…``last_number`` of a page list the paragraph (NULL: up
    to the newest); see ``storage/spans.py``."""

    __tablename__ = "paragraph_spans"

    paragraph_id: int = Field(foreign_key="paragraphs.id", primary_key=True)
    first_number: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    page_id: int = Field(foreign_key="pages.id")
    last_number: int | None = None


class FileRow(SQLModel, table=True):
    """An attachment file, stored once by content (see the module doc)."""

    __tablename__ = "files"

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(index=True, unique=True, max_length=64)
    size: int = 0
    format: str = ""
    body: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))  # zstd
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    title: str = Field(default="", sa_column=Column(Text, nullable=False))
    status: str = "ok"  # ok | not_extractable | not_extracted
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    pages: int | None = None
    first_seen: datetime = Field(default_factory=utcnow)


class Check(SQLModel, table=True):
    __tablename__ = "checks"

    id: int | None = Field(default=None, primary_key=True)
    page_id: int = Field(foreign_key="pages.id", index=True)
    started_at: datetime = Field(default_factory=utcnow, index=True)
    duration: float = 0.0
    outcome: str  # new | changed | unchanged | error
    http_status: int | None = None
    bytes: int = 0
    raw_sha256: str | None = None
    error_kind: str | None = None
    error: str | None = Field(default=None, sa_column=Column(Text))
    version_id: int | None = None
    worker: str | None = None


class Change(SQLModel, table=True):
    __tablename__ = "changes"
    __table_args__ = (UniqueConstraint("page_id", "new_version_id", "kind",
                                       name="uq_changes_version_kind"),)

    id: int | None = Field(default=None, primary_key=True)
    page_id: int = Field(foreign_key="pages.id", index=True)
    old_version_id: int | None = None
    new_version_id: int | None = None
    kind: str
    summary: str = Field(default="", sa_column=Column(Text, nullable=False))
    stats: dict[str, int] = _json()
    details: dict[str, Any] = _json()
    patch: str = Field(default="", sa_column=Column(Text, nullable=False))
    alert: bool = True
    created_at: datetime = Field(default_factory=utcnow, index=True)


class Alert(SQLModel, table=True):
    __tablename__ = "alerts"

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True, max_length=255)
    event: str  # change | trouble | recovered | config | digest
    change_id: int | None = Field(default=None, foreign_key="changes.id", index=True)
    page_id: int | None = Field(default=None, foreign_key="pages.id")
    watcher: str = ""
    channel: str  # email | webhook
    recipient: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", index=True)  # pending | sending | sent | dead
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    message_id: str = ""
    payload: dict[str, Any] = _json()
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class Lock(SQLModel, table=True):
    """Named locks with an owner and expiry (SQLite single-daemon guard, leader jobs)."""

    __tablename__ = "locks"

    name: str = Field(primary_key=True, max_length=80)
    owner: str
    expires: datetime
