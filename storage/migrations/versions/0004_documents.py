"""documents: pages a listing found, with their place in the listing

A listing source's main page lists documents; each becomes a page of the source
(``kind = "document"``, ``parent_id`` the listing page) with its own history.  The list
shows a title and a date (``list_title``, ``list_date``); ``listed`` turns false when the
item is no longer on any listing page fetched (``unlisted_at``), and true again if it
comes back.  ``announce`` marks a document found after the listing's first crawl: its
first check tells the watchers (新文档), even if that check comes after a restart.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("pages", sa.Column("parent_id", sa.Integer(), nullable=True))
    op.add_column("pages", sa.Column("list_title", sa.Text(), nullable=True))
    op.add_column("pages", sa.Column("list_date", sa.Text(), nullable=True))
    op.add_column("pages", sa.Column("listed", sa.Boolean(), nullable=False,
                                     server_default=sa.true()))
    op.add_column("pages", sa.Column("unlisted_at", sqlmodel.sql.sqltypes.UTCDateTime(),
                                     nullable=True))
    op.add_column("pages", sa.Column("announce", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.create_index("ix_pages_parent_id", "pages", ["parent_id"])


def downgrade() -> None:
    op.drop_index("ix_pages_parent_id", table_name="pages")
    with op.batch_alter_table("pages") as batch:
        for name in ("announce", "unlisted_at", "listed", "list_date", "list_title",
                     "parent_id"):
            batch.drop_column(name)
