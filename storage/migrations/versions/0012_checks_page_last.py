"""checks: index (page_id, id) instead of (page_id): a page's last check in one probe

``monitor status`` shows each source's last check (``ORDER BY id DESC LIMIT 1`` among
the page's checks).  With an index on ``page_id`` alone, PostgreSQL walked the primary
key backwards past every newer check of every other page: 10,000 sources, 19,000
checks, 75 s (SQLite's index holds the rowid, so it never needed this).  With
``(page_id, id)`` the last check is one step into the index on both backends, and the
index still serves every lookup by ``page_id`` the old one did, so it replaces it.

Downgrade puts the old index back.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_checks_page_id_id", "checks", ["page_id", "id"], unique=False)
    op.drop_index("ix_checks_page_id", table_name="checks")


def downgrade() -> None:
    op.create_index("ix_checks_page_id", "checks", ["page_id"], unique=False)
    op.drop_index("ix_checks_page_id_id", table_name="checks")
