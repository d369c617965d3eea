"""What a check's commit tests and writes of its page, in plain Python: shared by
``Store.commit_checks`` and ``storage.quick.QuickStore`` (which writes an unchanged
pass's records through ``sqlite3`` alone), so the two cannot disagree on a revision test
or a column.  And a ``PageState`` made from the rows of ``_STATES_OF_PAGES`` and
``_LAST_VERSIONS_OF``, for both.  Nothing here imports SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from storage.instant import utcnow
from storage.records import CheckRecord, CommitResult, LastVersion, PageState


class LockedPage(NamedTuple):
    """A page as a commit locked it (``_LOCK_PAGE``'s row), and as each record of a group
    leaves it for the next (``Write.page``)."""

    id: int
    revision: int
    observed_at: datetime | None
    lease_owner: str | None
    last_version_id: int | None


@dataclass(frozen=True)
class Write:
    """What a record wrote and writes on its locked page (``Store._write``): its check row
    (None: a conflict, nothing written), the page's new column values, the ids of the
    version, changes and alerts it stored; ``page``: the page as it leaves it."""

    rec: CheckRecord
    outcome: str
    row: dict[str, Any] | None
    values: dict[str, Any]
    released: bool | None
    page: LockedPage
    version_id: int | None = None
    change_ids: tuple[int, ...] = ()
    alert_ids: tuple[int, ...] = ()

    def result(self, check_id: int) -> CommitResult:
        if self.row is None:
            return CommitResult(0, None, outcome="conflict", conflict=True)
        return CommitResult(check_id, self.version_id, self.change_ids, self.alert_ids,
                            self.outcome, released=self.released)


def tested(rec: CheckRecord, page: LockedPage) -> str:
    """The record's revision test (``Store.commit_check``): its outcome when the page is
    still at its revision; ``superseded`` when it is stale (or says so); ``conflict``."""
    if rec.outcome == "superseded" or page.revision != rec.expected_revision:
        if rec.outcome == "superseded" or older(rec.observed_at, page.observed_at):
            return "superseded"
        return "conflict"
    return rec.outcome


def written(rec: CheckRecord, page: LockedPage,
            add: Callable[[], tuple[int | None, list[int], list[int]]] | None = None) -> Write:
    """A record's revision test against its locked ``page`` and, when it passes, ``add()``
    (``Store``: its version, changes and alerts written; their ids); its check row and
    the page's new values are returned for the caller to write.  ``add`` None: a record
    of a check row only (``storage.quick``)."""
    outcome = tested(rec, page)
    if outcome == "conflict":
        return Write(rec, outcome, None, {}, None, page)
    lease = lease_values(page.lease_owner, rec)
    values = dict(lease or {})
    version_id, change_ids, alert_ids = None, [], []
    if outcome != "superseded":
        if add is not None:
            version_id, change_ids, alert_ids = add()
        values.update(page_values(page.revision, page.observed_at, rec, version_id))
    after = page._replace(
        revision=values.get("revision", page.revision),
        observed_at=values.get("observed_at", page.observed_at),
        lease_owner=None if lease is not None else page.lease_owner,
        last_version_id=values.get("last_version_id", page.last_version_id))
    return Write(rec, outcome, check_values(rec, outcome, version_id), values,
                 None if rec.lease is None else lease is not None, after,
                 version_id, tuple(change_ids), tuple(alert_ids))


def page_updates(writes: Sequence[Write]) -> list[list[dict[str, Any]]]:
    """The pages' new values: one row a page (two writes of one page merged in order),
    grouped by their set of columns, in page id order (``page_id_``: the page's id)."""
    merged: dict[int, dict[str, Any]] = {}
    for w in writes:
        if w.values:
            merged.setdefault(w.rec.page_id, {}).update(w.values)
    kinds: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for page_id, values in sorted(merged.items()):
        kinds.setdefault(tuple(sorted(values)), []).append({"page_id_": page_id, **values})
    return list(kinds.values())


def check_values(rec: CheckRecord, outcome: str, version_id: int | None) -> dict[str, Any]:
    """The ``checks`` row of a record."""
    return {"page_id": rec.page_id, "started_at": rec.started_at, "duration": rec.duration,
            "outcome": outcome, "http_status": rec.http_status, "bytes": rec.bytes,
            "raw_sha256": rec.raw_sha256, "error_kind": rec.error_kind, "error": rec.error,
            "version_id": version_id, "worker": rec.worker}


def page_values(revision: int, observed_at: datetime | None, rec: CheckRecord,
                 version_id: int | None) -> dict[str, Any]:
    """The page columns a stored check sets (the page was at ``revision``, fetched at
    ``observed_at``)."""
    now = utcnow()
    out: dict[str, Any] = {"last_check_at": now, "revision": revision + 1,
                           "failure_streak": rec.failure_streak,
                           "gone_streak": rec.gone_streak}
    if rec.observed_at is not None and not older(rec.observed_at, observed_at):
        out["observed_at"] = rec.observed_at
    if rec.page_status:
        out["status"] = rec.page_status
    if rec.outcome != "error":
        out.update(last_ok_at=now, etag=rec.etag, last_modified=rec.last_modified)
    if version_id is not None:
        out["last_version_id"] = version_id
    if rec.changes:
        out["last_change_at"] = rec.started_at  # as the change and its check rows say
    if rec.page_url:
        out["url"] = rec.page_url
    if rec.announced:
        out["announce"] = False
    if rec.settings_read_at is not None:
        out["settings_read_at"] = rec.settings_read_at
    if rec.read_rules is not None:
        out["read_rules"] = rec.read_rules
    return out


def lease_values(owner: str | None, rec: CheckRecord) -> dict[str, Any] | None:
    """The page columns that end the record's lease, if it is still ours (None when it
    ran out and another replica took the page: then nothing changes)."""
    if rec.lease is None or owner != rec.lease.owner:
        return None
    values: dict[str, Any] = {"lease_owner": None, "lease_expires": None}
    if rec.lease.next_check_at is not None:  # None: ``monitor check``, schedule untouched
        values["next_check_at"] = rec.lease.next_check_at
    return values


def older(at: datetime | None, than: datetime | None) -> bool:
    """Whether a fetch at ``at`` is older than the newest one stored (``than``)."""
    if at is None or than is None:
        return False
    return _utc(at) < _utc(than)


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def state_of(row: Any, versions: Sequence[Any],
             text_of: Callable[[int, bytes | None], str]) -> PageState:
    """A ``PageState`` from its ``_STATE`` row and its newest versions' ``_LAST_VERSIONS``
    rows (newest first); ``text_of(version id, line ids)`` reads the last version's text
    when the pipeline asks for it (a changed page)."""
    return PageState(
        page_id=row.id or 0, source_id=row.source_id or 0, source=row.name, url=row.url,
        etag=row.etag, last_modified=row.last_modified,
        last=_last_version(versions[0], text_of) if versions else None,
        previous_hashes=tuple(v[1] for v in versions[1:]),  # content_hash
        last_change_kind=row.change_kind, failure_streak=row.failure_streak,
        gone_streak=row.gone_streak, status=row.status,
        revision=row.revision, observed_at=row.observed_at,
        last_error_kind=row.error_kind,
        kind=row.kind, announce=row.announce, list_title=row.list_title,
        list_date=row.list_date, documents_listed=int(row.listed or 0),
        text_owed=bool(row.text_owed), shared=bool(row.shared),
        settings_at=row.updated_at, settings_read_at=row.settings_read_at,
        read_rules=row.read_rules,
    )


def _last_version(row: Any, text_of: Callable[[int, bytes | None], str]) -> LastVersion:
    vid, chash, title, meta, raw_sha, at, url, attachments, lines = row
    return LastVersion(id=vid or 0, content_hash=chash, title=title,
                       metadata=dict(meta), raw_sha256=raw_sha, fetched_at=at, url=url,
                       attachments=None if attachments is None
                       else tuple(dict(a) for a in attachments),
                       read_text=lambda: text_of(vid or 0, lines))
