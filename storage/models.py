"""SQLModel classes over the tables of ``storage.tables`` (the ORM side of the schema).

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

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from storage import tables
from storage.tables import utcnow

# Each field's column is its table's (storage/tables.py: the schema, defined once).
_sources = tables.sources.c
_pages = tables.pages.c
_versions = tables.versions.c
_paragraphs = tables.paragraphs.c
_spans = tables.paragraph_spans.c
_files = tables.files.c
_checks = tables.checks.c
_changes = tables.changes.c
_alerts = tables.alerts.c
_locks = tables.locks.c


class SourceRow(SQLModel, table=True):
    __table__ = tables.sources

    id: int | None = Field(default=None, sa_column=_sources.id)
    name: str = Field(sa_column=_sources.name)
    url: str = Field(sa_column=_sources.url)
    tags: list[str] = Field(default_factory=list, sa_column=_sources.tags)
    config: dict[str, Any] = Field(default_factory=dict, sa_column=_sources.config)
    # False once removed from sources.toml: history stays
    active: bool = Field(default=True, sa_column=_sources.active)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_sources.created_at)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_sources.updated_at)


class Page(SQLModel, table=True):
    __table__ = tables.pages

    id: int | None = Field(default=None, sa_column=_pages.id)
    source_id: int = Field(sa_column=_pages.source_id)
    url: str = Field(sa_column=_pages.url)
    # page (a source's own) | document (found by a listing) | reference (a document
    # another listing found first: same_as)
    kind: str = Field(default="page", sa_column=_pages.kind)
    # A document: the listing page that lists it, its title and date there, whether it
    # is still listed, and whether its first check tells the watchers (see 0004).
    parent_id: int | None = Field(default=None, sa_column=_pages.parent_id)
    list_title: str | None = Field(default=None, sa_column=_pages.list_title)
    list_date: str | None = Field(default=None, sa_column=_pages.list_date)
    listed: bool = Field(default=True, sa_column=_pages.listed)
    unlisted_at: datetime | None = Field(default=None, sa_column=_pages.unlisted_at)
    announce: bool = Field(default=False, sa_column=_pages.announce)
    etag: str | None = Field(default=None, sa_column=_pages.etag)
    last_modified: str | None = Field(default=None, sa_column=_pages.last_modified)
    last_version_id: int | None = Field(default=None, sa_column=_pages.last_version_id)
    last_check_at: datetime | None = Field(default=None, sa_column=_pages.last_check_at)
    last_ok_at: datetime | None = Field(default=None, sa_column=_pages.last_ok_at)
    last_change_at: datetime | None = Field(default=None, sa_column=_pages.last_change_at)
    failure_streak: int = Field(default=0, sa_column=_pages.failure_streak)
    gone_streak: int = Field(default=0, sa_column=_pages.gone_streak)
    status: str = Field(default="new", sa_column=_pages.status)  # new | ok | failing | gone
    next_check_at: datetime | None = Field(default=None, sa_column=_pages.next_check_at)
    lease_owner: str | None = Field(default=None, sa_column=_pages.lease_owner)
    lease_expires: datetime | None = Field(default=None, sa_column=_pages.lease_expires)
    # Checks committed so far, and the fetch time of the newest: see Store.commit_check.
    revision: int = Field(default=0, sa_column=_pages.revision)
    observed_at: datetime | None = Field(default=None, sa_column=_pages.observed_at)
    # When a check last read the page whole after its source's settings (sources.
    # updated_at) changed: until then no validators, no same-bytes shortcut (see 0011).
    settings_read_at: datetime | None = Field(default=None, sa_column=_pages.settings_read_at)
    # The reading rules (monitor.types.READING_RULES) of the last whole read (see 0013).
    read_rules: int | None = Field(default=None, sa_column=_pages.read_rules)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_pages.created_at)
    # kind = "reference": a document another listing found first; that document's page
    # (one page, one history: storage/documents.py, migration 0014).
    same_as: int | None = Field(default=None, sa_column=_pages.same_as)


class Version(SQLModel, table=True):
    __table__ = tables.versions

    id: int | None = Field(default=None, sa_column=_versions.id)
    page_id: int = Field(sa_column=_versions.page_id)
    fetched_at: datetime = Field(default_factory=utcnow, sa_column=_versions.fetched_at)
    content_hash: str = Field(sa_column=_versions.content_hash)
    title: str = Field(default="", sa_column=_versions.title)
    # the text as paragraph ids (storage/paragraphs.py); read it with Store.version_text
    line_ids: bytes = Field(default=b"", sa_column=_versions.line_ids)
    field_ids: bytes = Field(default=b"", sa_column=_versions.field_ids)
    text_len: int = Field(default=0, sa_column=_versions.text_len)
    meta: dict[str, str] = Field(default_factory=dict, sa_column=_versions.meta)
    raw_body: bytes = Field(default=b"", sa_column=_versions.raw_body)
    raw_codec: str = Field(default="zstd", sa_column=_versions.raw_codec)  # zstd | zstd-delta
    raw_base_id: int | None = Field(default=None, sa_column=_versions.raw_base_id)
    # number of deltas between this version and a full copy
    raw_chain: int = Field(default=0, sa_column=_versions.raw_chain)
    raw_size: int = Field(default=0, sa_column=_versions.raw_size)
    raw_sha256: str = Field(default="", sa_column=_versions.raw_sha256)
    http_status: int = Field(default=200, sa_column=_versions.http_status)
    headers: dict[str, str] = Field(default_factory=dict, sa_column=_versions.headers)
    url: str = Field(default="", sa_column=_versions.url)  # final URL
    charset: str | None = Field(default=None, sa_column=_versions.charset)
    # None: stored before attachments were tracked (migration 0005), so unknown.
    attachments: list[dict[str, Any]] | None = Field(
        default_factory=list, sa_column=_versions.attachments
    )
    # Evidence (migration 0007, storage/verify.py): the text's SHA-256, the version's
    # number in its page (第1版…) and its record hash, chained to the previous version's.
    text_sha256: str = Field(default="", sa_column=_versions.text_sha256)
    number: int = Field(default=0, sa_column=_versions.number)
    record_hash: str = Field(default="", sa_column=_versions.record_hash)


class Paragraph(SQLModel, table=True):
    """One distinct line (or title, or metadata value) of a page's versions."""

    __table__ = tables.paragraphs

    id: int | None = Field(default=None, sa_column=_paragraphs.id)
    page_id: int = Field(sa_column=_paragraphs.page_id)  # indexed by the unique constraint
    digest: bytes = Field(sa_column=_paragraphs.digest)
    field: str = Field(default="", sa_column=_paragraphs.field)  # "" body text
    text: str = Field(default="", sa_column=_paragraphs.text)


class ParagraphSpan(SQLModel, table=True):
    """Versions ``first_number``…``last_number`` of a page list the paragraph (NULL: up
    to the newest); see ``storage/spans.py``."""

    __table__ = tables.paragraph_spans

    paragraph_id: int = Field(sa_column=_spans.paragraph_id)
    first_number: int = Field(sa_column=_spans.first_number)
    page_id: int = Field(sa_column=_spans.page_id)
    last_number: int | None = Field(default=None, sa_column=_spans.last_number)


class FileRow(SQLModel, table=True):
    """An attachment file, stored once by content (see the module doc)."""

    __table__ = tables.files

    id: int | None = Field(default=None, sa_column=_files.id)
    sha256: str = Field(sa_column=_files.sha256)
    size: int = Field(default=0, sa_column=_files.size)
    format: str = Field(default="", sa_column=_files.format)
    body: bytes = Field(default=b"", sa_column=_files.body)  # zstd
    text: str = Field(default="", sa_column=_files.text)
    title: str = Field(default="", sa_column=_files.title)
    # ok | not_extractable | not_extracted
    status: str = Field(default="ok", sa_column=_files.status)
    reason: str = Field(default="", sa_column=_files.reason)
    pages: int | None = Field(default=None, sa_column=_files.pages)
    first_seen: datetime = Field(default_factory=utcnow, sa_column=_files.first_seen)


class Check(SQLModel, table=True):
    __table__ = tables.checks

    id: int | None = Field(default=None, sa_column=_checks.id)
    page_id: int = Field(sa_column=_checks.page_id)
    started_at: datetime = Field(default_factory=utcnow, sa_column=_checks.started_at)
    duration: float = Field(default=0.0, sa_column=_checks.duration)
    outcome: str = Field(sa_column=_checks.outcome)  # new | changed | unchanged | error
    http_status: int | None = Field(default=None, sa_column=_checks.http_status)
    bytes: int = Field(default=0, sa_column=_checks.bytes)
    raw_sha256: str | None = Field(default=None, sa_column=_checks.raw_sha256)
    error_kind: str | None = Field(default=None, sa_column=_checks.error_kind)
    error: str | None = Field(default=None, sa_column=_checks.error)
    version_id: int | None = Field(default=None, sa_column=_checks.version_id)
    worker: str | None = Field(default=None, sa_column=_checks.worker)


class Change(SQLModel, table=True):
    __table__ = tables.changes

    id: int | None = Field(default=None, sa_column=_changes.id)
    page_id: int = Field(sa_column=_changes.page_id)
    old_version_id: int | None = Field(default=None, sa_column=_changes.old_version_id)
    new_version_id: int | None = Field(default=None, sa_column=_changes.new_version_id)
    kind: str = Field(sa_column=_changes.kind)
    summary: str = Field(default="", sa_column=_changes.summary)
    stats: dict[str, int] = Field(default_factory=dict, sa_column=_changes.stats)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=_changes.details)
    patch: str = Field(default="", sa_column=_changes.patch)
    alert: bool = Field(default=True, sa_column=_changes.alert)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_changes.created_at)


class Alert(SQLModel, table=True):
    __table__ = tables.alerts

    id: int | None = Field(default=None, sa_column=_alerts.id)
    dedupe_key: str = Field(sa_column=_alerts.dedupe_key)
    event: str = Field(sa_column=_alerts.event)  # change | trouble | recovered | config | digest
    change_id: int | None = Field(default=None, sa_column=_alerts.change_id)
    page_id: int | None = Field(default=None, sa_column=_alerts.page_id)
    watcher: str = Field(default="", sa_column=_alerts.watcher)
    channel: str = Field(sa_column=_alerts.channel)  # email | webhook
    recipient: str = Field(sa_column=_alerts.recipient)
    # pending | sending | sent | dead
    status: str = Field(default="pending", sa_column=_alerts.status)
    attempts: int = Field(default=0, sa_column=_alerts.attempts)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=_alerts.next_attempt_at)
    last_error: str | None = Field(default=None, sa_column=_alerts.last_error)
    message_id: str = Field(default="", sa_column=_alerts.message_id)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=_alerts.payload)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_alerts.created_at)
    sent_at: datetime | None = Field(default=None, sa_column=_alerts.sent_at)


class Lock(SQLModel, table=True):
    """Named locks with an owner and expiry (SQLite single-daemon guard, leader jobs)."""

    __table__ = tables.locks

    name: str = Field(sa_column=_locks.name)
    owner: str = Field(sa_column=_locks.owner)
    expires: datetime = Field(sa_column=_locks.expires)
