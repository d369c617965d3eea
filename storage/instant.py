"""The one form of every time monitor writes for programs, and the field type that
writes it.

Here rather than in ``storage.verify`` (where the record hash uses it): that module
loads SQLAlchemy and the models, and the CLI's JSON output (``monitor status --json``
answers without SQLAlchemy) and ``storage.records`` need only these two names.
``storage.verify`` re-exports them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any


def canonical_time(at: datetime) -> str:
    """UTC, microseconds always written: ``2026-05-01T02:00:00.000000+00:00``.

    The one form of every time monitor writes for programs (the API, ``--json``, the
    manifest, JSON lines and WARC metadata), so a third party recomputes a record hash
    from the ``fetched_at`` it was given, byte for byte (README: The archive as
    evidence)."""
    at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


class _CanonicalInJson:
    """pydantic's ``PlainSerializer(canonical_time, return_type=str, when_used="json")``,
    made when pydantic asks for a schema (the web API), not on import: the dataclasses
    whose fields are ``Instant`` (``storage.records``, ``storage.archive``) are read by
    ``monitor show``, ``history``, ``diff``, ``export`` and ``search``, which, like
    ``monitor status``, import no pydantic when the settings come from the cache."""

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic import PlainSerializer

        serializer = PlainSerializer(canonical_time, return_type=str, when_used="json")
        return serializer.__get_pydantic_core_schema__(source, handler)


# A datetime field of what the API returns, serialized in JSON as ``canonical_time``
# (pydantic would write ``…Z`` and drop zero microseconds).
Instant = Annotated[datetime, _CanonicalInJson()]


def utcnow() -> datetime:
    """Now, aware, in UTC: every time monitor stores."""
    return datetime.now(UTC)
