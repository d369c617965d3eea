"""pages.read_rules: the reading rules a page was last read whole by

A release that reads pages otherwise (a clock removed as noise, a counter cut from a
metadata value, a listing stored as its items) would find, on the first check after the
upgrade, a difference the page never made.  Each whole read now records the release's
reading-rules revision (``monitor.types.READING_RULES``); a page whose revision is older
is read whole once more, and a difference from its last version is told apart as after a
settings edit (``monitor.pipeline.Checker._settings_apart``).  Existing pages start with
NULL (taken as 0: read by the releases before this column), so each is read whole once
after the upgrade.

Downgrade drops the column.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch mode): a table rebuild on SQLite would be needless work.
    op.add_column("pages", sa.Column("read_rules", sa.Integer(), nullable=True))


def downgrade() -> None:
    # SQLite ≥ 3.35: ALTER TABLE DROP COLUMN (batch mode would rebuild ``pages``)
    op.drop_column("pages", "read_rules")
