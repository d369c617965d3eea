"""Storage: the tables (``storage.tables``, Core; ``storage.models``, the SQLModel classes
over them), the database engine, migrations and the ``Store`` interface.

The pipeline and the CLI only ever use ``Store``; no other package opens a session.
(``monitor check --no-deliver`` on SQLite gets a ``storage.quick.QuickStore``: the
``Store``'s face for an unchanged pass, which runs the ``Store``'s own statements through
``sqlite3`` and opens the ``Store`` for anything else.)
``Store`` is imported on first use (``from storage import Store``), so a module that
only needs ``storage.glance`` or ``storage.records`` does not load SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storage.repository import Store

__all__ = ["Store"]


def __getattr__(name: str) -> Any:
    if name == "Store":
        from storage.repository import Store

        return Store
    raise AttributeError(f"module 'storage' has no attribute {name!r}")
