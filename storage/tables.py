"""The schema: SQLAlchemy Core tables, defined once.

``storage.models`` maps its SQLModel classes onto these tables (each field's column is
the table's), so the ORM and the Core statements of the hot path read and write the
same columns.  The path an ordinary ``monitor check`` takes (``Store.sync_sources``,
``page_state``, the plain commit, ``storage.schedule``'s leases) uses these tables
alone: importing SQLModel, SQLAlchemy's ORM and the mapped models costs ~80 ms of CPU
(a fifth of the start-up of a check of one unchanged page), and that path needs none
of them.  The archive's reads use them alone too (``storage.archive``, ``storage.search``,
``Store.resolve_page``/``history``/``version``…: ``monitor show``, ``history``, ``diff``,
``export`` and ``search``, where importing the ORM was ~70% of the command's CPU); the
ORM is left to the writes that build objects (a version's commit, a listing's
documents, the alerts' outbox).  The shapes, and why: ``storage.models``.

``UTCDateTime`` is SQLModel's column type for aware datetimes (``sqlmodel.sql.sqltypes``,
which imports SQLModel whole): aware datetimes in, UTC out, a naive one refused.
Python-side defaults are the columns' here (a Core insert gets them) and the fields'
in ``storage.models`` (an ORM object gets them); tests/test_storage.py keeps them equal.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    types,
)

from storage.instant import utcnow

__all__ = ["UTCDateTime", "metadata", "utcnow"]


class UTCDateTime(types.TypeDecorator[datetime]):
    """Aware datetimes stored, returned in UTC (SQLite keeps them naive: they are UTC)."""

    impl = types.DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def __repr__(self) -> str:
        return "UTCDateTime()"

    def coerce_compared_value(self, op: Any, value: Any) -> types.TypeEngine[Any]:
        if isinstance(value, timedelta):
            return types.Interval()
        return self

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(
                "Datetime values must have timezone information. Use datetime.now(timezone.utc)."
            )
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData()

sources = Table(
    "sources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(80), nullable=False, index=True, unique=True),
    Column("url", Text, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("config", JSON, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("updated_at", UTCDateTime(), nullable=False, default=utcnow),
)

pages = Table(
    "pages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source_id", Integer, ForeignKey("sources.id"), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("kind", String, nullable=False, default="page"),
    Column("parent_id", Integer, nullable=True, index=True),
    Column("list_title", Text, nullable=True),
    Column("list_date", Text, nullable=True),
    Column("listed", Boolean, nullable=False, default=True),
    Column("unlisted_at", UTCDateTime(), nullable=True),
    Column("announce", Boolean, nullable=False, default=False),
    Column("etag", String, nullable=True),
    Column("last_modified", String, nullable=True),
    Column("last_version_id", Integer, nullable=True),
    Column("last_check_at", UTCDateTime(), nullable=True),
    Column("last_ok_at", UTCDateTime(), nullable=True),
    Column("last_change_at", UTCDateTime(), nullable=True),
    Column("failure_streak", Integer, nullable=False, default=0),
    Column("gone_streak", Integer, nullable=False, default=0),
    Column("status", String, nullable=False, default="new"),
    Column("next_check_at", UTCDateTime(), nullable=True, index=True),
    Column("lease_owner", String, nullable=True),
    Column("lease_expires", UTCDateTime(), nullable=True),
    Column("revision", Integer, nullable=False, default=0),
    Column("observed_at", UTCDateTime(), nullable=True),
    Column("settings_read_at", UTCDateTime(), nullable=True),
    Column("read_rules", Integer, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("same_as", Integer, nullable=True, index=True),
    UniqueConstraint("source_id", "url", name="uq_pages_source_url"),
)

versions = Table(
    "versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("page_id", Integer, ForeignKey("pages.id"), nullable=False, index=True),
    Column("fetched_at", UTCDateTime(), nullable=False, index=True, default=utcnow),
    Column("content_hash", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("line_ids", LargeBinary, nullable=False),
    Column("field_ids", LargeBinary, nullable=False),
    Column("text_len", Integer, nullable=False, default=0),
    Column("meta", JSON, nullable=False),
    Column("raw_body", LargeBinary, nullable=False),
    Column("raw_codec", String, nullable=False, default="zstd"),
    Column("raw_base_id", Integer, nullable=True),
    Column("raw_chain", Integer, nullable=False, default=0),
    Column("raw_size", Integer, nullable=False, default=0),
    Column("raw_sha256", String(64), nullable=False, default=""),
    Column("http_status", Integer, nullable=False, default=200),
    Column("headers", JSON, nullable=False),
    Column("url", Text, nullable=False),
    Column("charset", String, nullable=True),
    Column("attachments", JSON(none_as_null=True), nullable=True),
    Column("text_sha256", String(64), nullable=False, default=""),
    Column("number", Integer, nullable=False, default=0),
    Column("record_hash", String(64), nullable=False, default=""),
)

paragraphs = Table(
    "paragraphs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("page_id", Integer, ForeignKey("pages.id"), nullable=False),
    Column("digest", LargeBinary, nullable=False),
    Column("field", Text, nullable=False),
    Column("text", Text, nullable=False),
    UniqueConstraint("page_id", "digest", name="uq_paragraphs_page_digest"),
)

paragraph_spans = Table(
    "paragraph_spans",
    metadata,
    Column("paragraph_id", Integer, ForeignKey("paragraphs.id"), primary_key=True),
    Column("first_number", Integer, primary_key=True, autoincrement=False),
    Column("page_id", Integer, ForeignKey("pages.id"), nullable=False),
    Column("last_number", Integer, nullable=True),
)

files = Table(
    "files",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sha256", String(64), nullable=False, index=True, unique=True),
    Column("size", Integer, nullable=False, default=0),
    Column("format", String, nullable=False, default=""),
    Column("body", LargeBinary, nullable=False),
    Column("text", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("status", String, nullable=False, default="ok"),
    Column("reason", Text, nullable=False),
    Column("pages", Integer, nullable=True),
    Column("first_seen", UTCDateTime(), nullable=False, default=utcnow),
)

checks = Table(
    "checks",
    metadata,
    Column("id", Integer, primary_key=True),
    # indexed with id (ix_checks_page_id_id below): a page's last check in one probe
    Column("page_id", Integer, ForeignKey("pages.id"), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False, index=True, default=utcnow),
    Column("duration", Float, nullable=False, default=0.0),
    Column("outcome", String, nullable=False),
    Column("http_status", Integer, nullable=True),
    Column("bytes", Integer, nullable=False, default=0),
    Column("raw_sha256", String, nullable=True),
    Column("error_kind", String, nullable=True),
    Column("error", Text, nullable=True),
    Column("version_id", Integer, nullable=True),
    Column("worker", String, nullable=True),
    Index("ix_checks_page_id_id", "page_id", "id"),
)

changes = Table(
    "changes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("page_id", Integer, ForeignKey("pages.id"), nullable=False, index=True),
    Column("old_version_id", Integer, nullable=True),
    Column("new_version_id", Integer, nullable=True),
    Column("kind", String, nullable=False),
    Column("summary", Text, nullable=False),
    Column("stats", JSON, nullable=False),
    Column("details", JSON, nullable=False),
    Column("patch", Text, nullable=False),
    Column("alert", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime(), nullable=False, index=True, default=utcnow),
    UniqueConstraint("page_id", "new_version_id", "kind", name="uq_changes_version_kind"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dedupe_key", String(255), nullable=False, unique=True),
    Column("event", String, nullable=False),
    Column("change_id", Integer, ForeignKey("changes.id"), nullable=True, index=True),
    Column("page_id", Integer, ForeignKey("pages.id"), nullable=True),
    Column("watcher", String, nullable=False, default=""),
    Column("channel", String, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("status", String, nullable=False, index=True, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime(), nullable=False, index=True, default=utcnow),
    Column("last_error", Text, nullable=True),
    Column("message_id", String, nullable=False, default=""),
    Column("payload", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("sent_at", UTCDateTime(), nullable=True),
)

locks = Table(
    "locks",
    metadata,
    Column("name", String(80), primary_key=True),
    Column("owner", String, nullable=False),
    Column("expires", UTCDateTime(), nullable=False),
)

# What the ``sources`` table was last synced to (``Store.sync_sources``): one row,
# ``name = 'sources'``, the digest of the file's sources (``monitor.configcache.digest``).
sync_state = Table(
    "sync_state",
    metadata,
    Column("name", String(80), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("synced_at", UTCDateTime(), nullable=False, default=utcnow),
)
