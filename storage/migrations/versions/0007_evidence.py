"""evidence: each version's text hash, number in its page and chained record hash

``versions.text_sha256`` (SHA-256 of the extracted text), ``versions.number`` (1 = the
page's first version, in id order) and ``versions.record_hash`` (SHA-256 over a
canonical record that includes the previous version's record hash: a chain per page;
see ``storage/verify.py``).  Existing versions are sealed here, page by page in id
order, with the same functions the ``Store`` uses at write; a version stored without a
``raw_sha256`` gets it from its decompressed body.  ``monitor verify`` checks them all.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from storage import rawcodec, verify

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("versions", sa.Column("text_sha256", sa.String(64), nullable=False,
                                        server_default=""))
    op.add_column("versions", sa.Column("number", sa.Integer(), nullable=False,
                                        server_default="0"))
    op.add_column("versions", sa.Column("record_hash", sa.String(64), nullable=False,
                                        server_default=""))
    op.create_index("ix_versions_page_number", "versions", ["page_id", "number"])
    conn = op.get_bind()
    for (page_id,) in conn.execute(sa.text("SELECT id FROM pages ORDER BY id")).all():
        _seal_page(conn, page_id)


def _seal_page(conn: sa.Connection, page_id: int) -> None:
    rows = conn.execute(sa.text(
        "SELECT id, url, fetched_at, meta, raw_sha256 FROM versions "
        "WHERE page_id = :p ORDER BY id"), {"p": page_id}).all()
    previous = ""
    for number, (vid, url, fetched_at, meta, raw_sha) in enumerate(rows, 1):
        if not raw_sha:
            raw_sha = _raw_sha(conn, vid)
        text_sha = verify.text_sha256(_text(conn, vid))
        previous = verify.record_hash(
            url=url or "", number=number, fetched_at=_time(fetched_at), raw_sha256=raw_sha,
            text_sha256=text_sha, meta=_json(meta), previous=previous)
        conn.execute(sa.text(
            "UPDATE versions SET raw_sha256 = :r, text_sha256 = :t, number = :n, "
            "record_hash = :h WHERE id = :id"),
            {"r": raw_sha, "t": text_sha, "n": number, "h": previous, "id": vid})


def _text(conn: sa.Connection, version_id: int) -> str:
    """A version's text as stored at this revision (the one place this reads it): its
    shared paragraphs since 0006 (``storage/paragraphs.py``)."""
    from sqlalchemy.orm import Session

    from storage import paragraphs

    lines = conn.execute(sa.text("SELECT line_ids FROM versions WHERE id = :id"),
                         {"id": version_id}).scalar_one()
    with Session(bind=conn) as s:  # joins the migration's transaction, reads only
        return paragraphs.text_of(s, version_id, bytes(lines or b""))


def _raw_sha(conn: sa.Connection, vid: int) -> str:
    """The SHA-256 of a body stored without one; a body that cannot be decompressed is
    left without (``monitor verify`` reports it) rather than stopping the upgrade."""
    from monitor.errors import StorageError

    try:
        return verify.sha256_hex(_raw(conn, vid))
    except StorageError:
        return ""


def _raw(conn: sa.Connection, vid: int) -> bytes:
    body, codec, base_id = conn.execute(sa.text(
        "SELECT raw_body, raw_codec, raw_base_id FROM versions WHERE id = :id"),
        {"id": vid}).one()
    if codec == "zstd" or base_id is None:
        return rawcodec.decompress(bytes(body))
    return rawcodec.decompress(bytes(body), _raw(conn, base_id))


def _time(value: Any) -> Any:
    """SQLite hands the stored text back here (no model type): parse it."""
    if isinstance(value, str):
        from datetime import datetime

        return datetime.fromisoformat(value)
    return value


def _json(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value or {})


def downgrade() -> None:
    op.drop_index("ix_versions_page_number", table_name="versions")
    for name in ("record_hash", "number", "text_sha256"):
        op.drop_column("versions", name)  # SQLite ≥ 3.35: no table rebuild (FTS triggers)
