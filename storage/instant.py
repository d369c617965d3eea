"""The one form of every time monitor writes for programs, and the field type that
writes it.

Here rather than in ``storage.verify`` (where the record hash uses it): that module
loads SQLAlchemy and the models, and the CLI's JSON output (``monitor status --json``
answers without SQLAlchemy) and ``storage.records`` need only these two names.
``storage.verify`` re-exports them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def canonical_time(at: datetime) -> str:
    """UTC, microseconds always written: ``2026-05-01T02:00:00.000000+00:00``.

    The one form of every time monitor writes for programs (the API, ``--json``, the
    manifest, JSON lines and WARC metadata), so a third party recomputes a record hash
    from the ``fetched_at`` it was given, byte for byte (README: The archive as
    evidence)."""
    at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def __getattr__(name: str) -> Any:
    """``Instant``: a datetime field of what the API returns, serialized in JSON as
    ``canonical_time`` (pydantic would write ``…Z`` and drop zero microseconds).  Made
    on first use: it needs pydantic, which ``canonical_time`` and ``utcnow`` do not
    (``monitor status`` imports this module and no pydantic, ~20 ms)."""
    if name != "Instant":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from typing import Annotated

    from pydantic import PlainSerializer

    instant = Annotated[datetime, PlainSerializer(canonical_time, return_type=str,
                                                  when_used="json")]
    globals()["Instant"] = instant
    return instant


def utcnow() -> datetime:
    """Now, aware, in UTC: every time monitor stores."""
    return datetime.now(UTC)
