"""pages.settings_read_at: when the page was last read whole with its source's settings

A new ``content`` or ``ignore_text`` applies at once to an unchanged page, so after the
source's settings change (``sources.updated_at``) the page is read whole, without
If-None-Match / If-Modified-Since and without the same-bytes shortcut, until a check has
read it with them; this column says when that happened, and validators and the shortcut
are used again only while ``sources.updated_at <= pages.settings_read_at``
(``monitor.pipeline.settings_read``).  Until now the last version's ``fetched_at`` stood
for it, so a re-read that found the same content (no new version) never counted and
the page lost its 304s for ever; existing pages start from that same time, so they
behave as before until their next whole read.

Downgrade drops the column.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch mode): a table rebuild on SQLite would be needless work.
    op.add_column("pages", sa.Column("settings_read_at", sqlmodel.sql.sqltypes.UTCDateTime(),
                                     nullable=True))
    op.execute("UPDATE pages SET settings_read_at = (SELECT v.fetched_at FROM versions v "
               "WHERE v.id = pages.last_version_id) WHERE last_version_id IS NOT NULL")


def downgrade() -> None:
    # SQLite ≥ 3.35: ALTER TABLE DROP COLUMN; batch mode would rebuild ``pages``, which
    # the foreign keys of the tables pointing at it refuse
    op.drop_column("pages", "settings_read_at")
