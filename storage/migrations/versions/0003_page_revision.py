"""pages.revision and pages.observed_at: checks of one page commit in order

``revision`` counts the checks committed for a page; a check commits only if the page is
still at the revision it read, otherwise it is recomputed against the page as it is now
(``Store.commit_check``).  ``observed_at`` is the fetch time of the newest check stored
for the page: a fetch older than that never becomes the page's newest state.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch mode): on SQLite a table rebuild would drop the FTS
    # triggers of revision 0002 (they are on ``versions``, not ``pages``, but stay safe).
    op.add_column("pages", sa.Column("revision", sa.Integer(), nullable=False,
                                     server_default="0"))
    op.add_column("pages", sa.Column("observed_at", sqlmodel.sql.sqltypes.UTCDateTime(),
                                     nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pages") as batch:
        batch.drop_column("observed_at")
        batch.drop_column("revision")
