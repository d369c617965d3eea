"""Storage: SQLModel tables, the database engine, migrations and the ``Store`` interface.

The pipeline and the CLI only ever use ``Store``; no other package opens a session.
"""

from storage.repository import Store

__all__ = ["Store"]
