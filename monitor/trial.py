"""Trying a source before it is saved (``monitor sources test/add/import`` and
``/admin/add``): the page read as a check would read it, nothing stored, and the
refusal of a page a listing already follows.  Shared by the CLI and the web admin, so
neither imports the other."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from monitor.config import Config, SourceConfig, followed_documents
from monitor.errors import ConfigError, MonitorError
from monitor.extract.files import format_by_name
from monitor.fetch import Fetcher
from monitor.pipeline import Inspection, inspect_source
from monitor.settings import Settings

if TYPE_CHECKING:
    from storage import Store


async def try_source(settings: Settings, source: SourceConfig) -> Inspection:
    """The source as a check would read it: for a listing, every page of it."""
    async with Fetcher(settings) as fetcher:
        got = await inspect_source(fetcher, source)
    assert isinstance(got, Inspection)  # no etag was sent, so no 304
    return got


def first_document(settings: Settings, source: SourceConfig,
                    got: Inspection) -> dict[str, object] | None:
    """The newest document read with the ``[sources.follow]`` settings, as a check will:
    a follow selector that matches nothing shows here, not at the first check."""
    if not got.extracted.documents:
        return None
    url = got.extracted.documents[0].url
    try:
        doc = asyncio.run(try_source(settings, source.document(url)))
    except MonitorError as exc:
        return {"url": url, "ok": False, "error": f"{exc.kind}: {exc}"}
    text = doc.extracted.text
    return {"url": url, "ok": True, "title": doc.extracted.title, "chars": len(text),
            "start": text[:200], "attachments": found_attachments(doc)}


def found_attachments(got: Inspection) -> list[dict[str, str]]:
    """The files the page links to, as a check would fetch them (name, format by the
    file's name, URL); not downloaded here."""
    return [{"name": a.name, "format": format_by_name(a.url), "url": a.url}
            for a in got.extracted.attachments]


def refuse_followed(config: Config, source: SourceConfig, store: Store | None = None
                    ) -> None:
    """One page, one source: a page a listing already follows as its document is not
    added as a source of its own (``followed_documents``; also ``/admin/add``).  Known
    from the database (``store``, else the one the settings name, when there is one: no
    database yet, no listing has found anything)."""
    if source.is_listing:
        return
    problems = [p for p in followed_problems(config, store) if p.source == source.name]
    if problems:
        raise problems[0]


def followed_problems(config: Config, store: Store | None = None) -> list[ConfigError]:
    """``followed_documents`` of the file, from the database (``store``, else the one
    the settings name, when there is one); none when it cannot say (no database yet, an
    older schema, a database down: the daemon warns then)."""
    from storage import Store, db
    from storage.documents import followed

    url = config.settings.database_url
    path = db.sqlite_path(url)
    if store is None and path is not None and not path.exists():
        return []
    try:
        if store is not None:
            documents = followed(store)
        else:
            opened = Store(url, migrate=False)
            try:
                documents = followed(opened)
            finally:
                opened.close()
    except MonitorError:
        return []
    return followed_documents(config.sources, documents, str(config.path))
