"""One check of one source: fetch → extract → normalize → detect → store.

``check_source`` sequences the stages and returns a ``CheckResult``; it never raises
out of a scheduled job.  Every ``MonitorError`` becomes a failed check row (and never a
version).  Only ``Store`` is touched for persistence, through ``asyncio.to_thread``.

An upgrade is never a change of the page.  A release whose extraction or normalization
reads some page otherwise bumps ``READING_RULES`` (``monitor.types``); every whole read
records the revision it was made by (``pages.read_rules``).  A page last read by older
rules is read as after an edit of its source's settings, by the same path: whole (no
validators, no same-bytes shortcut: ``settings_read``), and a difference from its last
version is told apart by reading that version's stored raw body again with the current
rules (``Checker._settings_apart``).  The same reading → the new version is stored with
no alert, its change labelled ``UPGRADE_ONLY`` (升级后重新提取（页面本身未变）); another →
the alert compares the old page read by the current rules with the new one, so it shows
only what the page changed.  A body that cannot be read again (none stored, a file) is
compared as stored: the difference is told, never hidden.  A listing of several pages
stores page 1's body: its re-read stands for the version with the later pages' lines
added (``_column_as_read``).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from loguru import logger

from monitor import zh
from monitor.config import Config, SourceConfig
from monitor.errors import (
    ChallengePageError,
    EmptyContentError,
    GoneError,
    InternalError,
    ListingBrokenError,
    MonitorError,
)
from monitor.fetch import Fetcher
from monitor.fetch.encoding import decode_html
from monitor.fetch.http import decoded
from monitor.holder import WORKER
from monitor.later import later
from monitor.types import (
    READING_RULES,  # the reading rules' revision: recorded with each whole read
    SETTINGS_ONLY,  # a settings-only change's summary starts with it
    UPGRADE_ONLY,  # an upgrade-only change's summary starts with it
    Attachment,
    AttachmentFile,
    ChangeDecision,
    ChangeKind,
    CheckResult,
    Extracted,
    FetchResult,
    Inspection,
    Outcome,
    Snapshot,
)
from storage.instant import utcnow
from storage.records import (
    AlertDraft,
    CheckRecord,
    LastVersion,
    LeaseEnd,
    NewVersion,
    PageState,
    VersionFull,
)

if TYPE_CHECKING:
    from alerts import plan, triggers
    from monitor import attachments, challenge, crawl, documents
    from monitor.batch import GroupCommit as Commits
    from monitor.detect import detect_change_async, same_hash, snapshot, stored_snapshot
    from monitor.diff import TextDiff, quick_diff
    from monitor.extract import extract, extract_document, extract_feed, listing, sniff
    from storage import Store
else:  # the parse side: imported by the first check that reads a page (monitor.later)
    plan, triggers = later(globals(), "alerts", "plan", "triggers")
    attachments, challenge, crawl, documents = later(globals(), "monitor", "attachments",
                                                     "challenge", "crawl", "documents")
    detect_change_async, same_hash, snapshot, stored_snapshot = later(
        globals(), "monitor.detect", "detect_change_async", "same_hash", "snapshot",
        "stored_snapshot")
    (quick_diff,) = later(globals(), "monitor.diff", "quick_diff")
    extract, extract_document, extract_feed, listing, sniff = later(
        globals(), "monitor.extract", "extract", "extract_document", "extract_feed",
        "listing", "sniff")

MAX_CONFLICTS = 8  # times a check is made again because another was stored first
MAX_DOCUMENTS = 20  # new items of a column named (with links) in one change
# The last version's text for the quick diff made with a page's read: a callable is
# called only when a page is read (an unchanged check, a 304 or the same bytes, never
# loads the text from the database).
Against = Callable[[], str] | str | None
HOME_PATHS = {"", "/", "/index.html", "/index.htm", "/index.shtml", "/index.jsp", "/index.php"}
# A page of at most this many characters (decoded HTML) is read on the event loop, no
# thread hop (``_read``): ~3 ms of a 35 KB government page (extraction, normalization
# and the quick diff), ~10 ms at the limit.  A longer page (a 2 MB listing: ~0.3 s) is
# read in a thread, so the daemon's loop keeps serving its other checks meanwhile.
INLINE_READ_CHARS = 65_536
# The quick diff of a page read on the loop gets this long; one that needs more (not
# an edit but a rewrite) is left to ``diff_texts_async``'s own quick pass in a thread.
INLINE_DIFF_BOUND = 0.005


async def inspect(fetcher: Fetcher, source: SourceConfig, *, etag: str | None = None,
                  last_modified: str | None = None, same_as: str | None = None,
                  against: Against = None,
                  diff_timeout: float = 0.5) -> Inspection | FetchResult:
    """Fetch and extract; a 304 returns the bare ``FetchResult``, and so does a 200
    without redirects whose body's SHA-256 is ``same_as`` (the last version's raw bytes:
    see ``reusable_reading``).  ``against``: the last version's text, diffed with the
    new one in the read's thread hop (``Inspection.quick``, see ``_read``).  Raises
    MonitorError."""
    result = await fetcher.fetch_source(source, etag=etag, last_modified=last_modified,
                                        same_as=same_as)
    if result.not_modified or (same_as and _same_bytes(result, same_as)):
        return result  # its text may be left undecoded (``FetchResult.decoded``)
    result = await decoded(result, source.encoding)
    return await _inspection(source, result, against, diff_timeout)


async def _inspection(source: SourceConfig, result: FetchResult, against: Against = None,
                      diff_timeout: float = 0.5) -> Inspection:
    try:
        extracted, quick = await _read(source, result, against, diff_timeout)
    except MonitorError as exc:
        # the answer that was not the page: its status and size go on the failed check
        exc.status, exc.size = exc.status or result.status, len(result.body)
        raise
    return Inspection(result, extracted, quick=quick)


async def _content(source: SourceConfig, result: FetchResult,
                   previous: str | None = None) -> Extracted:
    """The text of a fetched page; raises when the answer is not a version of it.
    ``previous``: the text it was read as before (near the article threshold it is read
    the same way: ``monitor.extract.html``)."""
    return (await _read(source, result, previous))[0]


async def _read(source: SourceConfig, result: FetchResult, against: Against = None,
                diff_timeout: float = 0.5) -> tuple[Extracted, TextDiff | None]:
    """The text of a fetched page (raises when the answer is not a version of it), and
    with ``against`` (the last version's text) the quick diff of the two, made in the
    same thread hop (``_page_read``).  A file and a feed are read in a thread of their
    own; they are not diffed ahead."""
    _refuse_home_redirect(source.url, result)
    if result.document is not None:  # a PDF, Word, OFD… file at the watched URL
        return await asyncio.to_thread(file_text, result.body, result.document), None
    if source.kind == "feed":  # XML: no challenge page rules; no entries fails the check
        return await asyncio.to_thread(extract_feed, result.body, result.final_url), None
    if not result.text.strip():  # before detect_challenge, which would call it a challenge
        raise EmptyContentError("the page is empty")
    if len(result.text) <= INLINE_READ_CHARS:  # a few ms: less than the hop costs
        return _page_read(source, result, against, min(INLINE_DIFF_BOUND, diff_timeout),
                          inline=True)
    return await asyncio.to_thread(_page_read, source, result, against, diff_timeout)


def _page_read(source: SourceConfig, result: FetchResult, against: Against,
               diff_timeout: float, *, inline: bool = False
               ) -> tuple[Extracted, TextDiff | None]:
    """A page's whole read, in ONE thread hop: the challenge checks' parse, extraction
    of the tree it made and, when the text differs from ``against``, the quick diff
    (``diff.quick_diff``) that change detection would otherwise ask of a thread of its
    own.  Each hop costs more than its hand-over: the event loop's thread and the
    worker pass the GIL back and forth while both run (bench/README.md, "Thread hops
    of a changed check").  The diff is a guess made before the snapshot's hash (a text
    that differs only in its canonical form is no change: its diff is not used), and
    it is used only for the very texts it was made of (``diff_texts_async``).  Read on
    the loop (``inline``, a short page: ``INLINE_READ_CHARS``), a diff not exact within
    its shorter bound is no answer: the usual quick pass is made in a thread."""
    reading = challenge.read(result.text)  # parsed once for the checks and extract
    # A CMS's "page not found" answered with 200 is the page gone, counted like a 404.
    if reason := reading.soft_404():
        raise GoneError(f"the page says it does not exist: {reason}")
    reason = reading.challenge(status=result.status, headers=result.headers,
                               content=source.content,
                               accept_challenge_like=source.accept_challenge_like)
    if reason:
        raise ChallengePageError(f"not the page: {reason}")
    if callable(against):
        against = against()
    # the tree the checks above parsed, handed over: the page is parsed once; near the
    # article threshold read as the last version was (whole or its article)
    extracted = extract(result.text, content=source.content, ignore=source.ignore,
                        ignore_text=source.ignore_text, url=result.final_url,
                        links=source.links, match=source.match,
                        parsed=reading.take_tree(), column=source.is_listing,
                        previous=against)
    if against is None or against == extracted.text:
        return extracted, None
    quick = quick_diff(against, extracted.text, timeout=diff_timeout)
    return extracted, None if inline and quick is not None and not quick.exact else quick


def _same_bytes(result: FetchResult, raw_sha256: str) -> bool:
    return (result.status == 200 and not result.redirects and bool(result.body)
            and result.sha256 == raw_sha256)


def reusable_reading(source: SourceConfig, state: PageState) -> str | None:
    """The raw SHA-256 of the last version when a fetch of the very same bytes may skip
    parsing (the cheap unchanged path), else None.

    The same bytes read with the same settings give the same text, title, metadata and
    attachments, so the check is the last version again, as after a 304: its attachments
    are still fetched and compared.  Not when reading them again could tell more: the
    source's settings changed since the page was last read whole (``settings_read``: a
    new selector may read another text), the page was gone (its return is a change), it
    is a listing (its later pages may have changed) or a listing's document, or the
    version predates attachment tracking.
    """
    last = state.last
    if (last is None or not last.raw_sha256 or state.kind != "page" or source.is_listing
            or state.status == "gone" or last.attachments is None
            or not settings_read(state)):
        return None
    return last.raw_sha256


def settings_read(state: PageState) -> bool:
    """Whether a check has read the page whole since its source's settings last changed
    (``sources.updated_at`` <= ``pages.settings_read_at``) and since this release's
    reading rules (``rules_read``).

    Until one has, the page is read whole: no If-None-Match / If-Modified-Since (a 304
    would confirm the version read with the old settings: a new ``content`` that matches
    nothing, a new ``ignore_text``, would wait for the page's next edit) and no
    same-bytes shortcut.  The commit of that whole read sets ``settings_read_at``
    (``CheckRecord.settings_read_at``), whether it found a new version or not, and the
    page is asked conditionally again from the next check on.
    """
    return (state.settings_at is not None and state.settings_read_at is not None
            and _utc(state.settings_at) <= _utc(state.settings_read_at)
            and rules_read(state))


def rules_read(state: PageState) -> bool:
    """Whether the page was last read whole by this release's reading rules
    (``pages.read_rules``; None: by a release before they were recorded)."""
    return (state.read_rules or 0) >= READING_RULES


def _settings_since_version(source: SourceConfig, state: PageState) -> bool:
    """Whether the source's settings changed after the last version was read (its text
    was extracted with the settings of before).  Not for a listing: its version is all
    its pages, its stored body only the first."""
    last = state.last
    return (last is not None and not source.is_listing and state.settings_at is not None
            and _utc(state.settings_at) > _utc(last.fetched_at))


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


async def inspect_source(fetcher: Fetcher, source: SourceConfig, *, etag: str | None = None,
                         last_modified: str | None = None,
                         short_ok: bool = False, same_as: str | None = None,
                         against: Against = None,
                         diff_timeout: float = 0.5) -> Inspection | FetchResult:
    """``inspect``, and for a listing its later pages too (``monitor.crawl``; ``short_ok``:
    a later page failing for a while ends an incomplete read instead of the check;
    ``same_as``: the raw SHA-256 of the last version, see ``reusable_reading``;
    ``against``: the last version's text, see ``inspect``; not for a listing, whose
    text is its pages' merged)."""
    listing = source.is_listing
    got = await inspect(fetcher, source, etag=etag, last_modified=last_modified,
                        same_as=None if listing else same_as,
                        against=None if listing else against, diff_timeout=diff_timeout)
    if isinstance(got, FetchResult) or not source.is_listing:
        return got
    documents.refuse_empty(got)
    if source.kind == "feed":  # a feed drops its oldest entries: never the whole column
        return replace(got, complete=False)

    async def page(url: str) -> Inspection:
        # the items as page 1 showed them: a last page of one or two is still a list
        links = source.links or got.extracted.item_selector
        one = await inspect(fetcher, replace(source, url=url, links=links))
        assert isinstance(one, Inspection)  # no validators sent: never a 304
        documents.refuse_empty(one)
        return one

    return await crawl.read_rest(source, got, page, short_ok=short_ok)


def _column_as_read(first: str, got: Inspection, old: str, new: str) -> str | None:
    """The last version of a listing read across pages, as the current rules read it:
    its page 1 (the body stored) read again (``first``), then the lines of its later
    pages, when the old version ends with the very lines the later pages give now (a
    later page's items are ``title | date`` lines in every release: ``crawl.merge``).
    None when the listing is one page (``first`` is all of it) or its later pages
    changed: their old lines cannot be told from page 1's in the stored text."""
    if got.first is None:
        return None
    rest = new.splitlines()[len(dict.fromkeys(got.first.text.splitlines())):]
    lines = old.splitlines()
    if not rest or lines[len(lines) - len(rest):] != rest:
        return None
    return "\n".join(dict.fromkeys(first.splitlines() + rest))


def file_text(body: bytes, fmt: str) -> Extracted:
    """A file's extracted text as a page's: its text is the version.  A file whose text
    cannot be read (a scan, a damaged file) is still a version, told apart by its bytes:
    its SHA-256 is in the metadata, so a new file is a change, never binary noise."""
    doc = extract_document(body, fmt)
    meta = {"文件格式": fmt.upper()}
    if doc.pages:
        meta["页数"] = str(doc.pages)
    if doc.status != "ok":
        meta["文本"] = doc.reason
        meta["文件SHA-256"] = hashlib.sha256(body).hexdigest()
    if not doc.text and doc.status == "ok":
        raise EmptyContentError(f"the {fmt.upper()} file has no text")
    return Extracted(title=doc.title, text=doc.text, metadata=meta)


def _failing_long(state: PageState) -> bool:
    """``documents.failing_long``, asked only of a page whose last check found a broken
    listing: every other check leaves ``monitor.documents`` (and the change detection it
    imports) unloaded."""
    return state.last_error_kind == ListingBrokenError.kind and documents.failing_long(state)


def _304_elsewhere(got: Inspection | FetchResult, state: PageState) -> bool:
    """A 304 from another address than the last version's: the validators we sent came
    from that version's address, so a redirect target answering 304 to them says nothing
    about itself (old.html → 301 → new.html, 304): not "unchanged", it is read again
    without validators, so a move is seen on the first redirected check.  Once the move
    is recorded the page's address is the new one, and its 304s count again."""
    return (isinstance(got, FetchResult) and got.not_modified and state.last is not None
            and bool(state.last.url) and got.final_url not in {state.last.url, state.url})


def _refuse_home_redirect(url: str, result: FetchResult) -> None:
    """A deleted article often redirects to the site's home page: that is 'gone'."""
    if not result.redirects:
        return
    old, new = urlsplit(url), urlsplit(result.final_url)
    if new.path in HOME_PATHS and old.path not in HOME_PATHS and not new.query:
        raise GoneError(f"redirected to the home page {result.final_url}")


@dataclass(frozen=True)
class Observation:
    """What one fetch of a page found: the page, a 304, or why it failed.

    Kept apart from the record made of it: when another check of the page is stored
    first, the record is made again from the same observation against the page as it
    is now (``Store.commit_check``), without fetching again.
    """

    at: datetime  # when the request was sent: checks of a page are ordered by it
    got: Inspection | FetchResult | None = None  # a FetchResult is a 304
    error: MonitorError | None = None
    validators: tuple[str | None, str | None] = (None, None)  # the ETag/date we sent
    files: tuple[AttachmentFile, ...] = ()  # the page's attachments, fetched after it


class Checker:
    """Runs checks for one configuration; shared by ``monitor check`` and the daemon."""

    def __init__(self, config: Config, store: Store, fetcher: Fetcher,
                 commits: Commits | None = None) -> None:
        self.config, self.store, self.fetcher = config, store, fetcher
        self.commits = commits  # plain records go there (a group commit), if given

    async def check(self, source: SourceConfig, page_id: int | None = None,
                    lease: Callable[[], LeaseEnd] | None = None,
                    state: PageState | None = None) -> CheckResult:
        """Check the source's page, or its document ``page_id`` (``source`` is then the
        document's settings: ``SourceConfig.document``).  ``lease``: the page's lease (the
        daemon's claim, or ``monitor check``'s), ended by the check's commit; called
        then, so the daemon's next slot counts from then.  ``CheckResult.released`` says
        whether it ended.  ``state``: the page's state, read by the caller under the
        lease (``Store.page_states`` of a batch), so the check need not read it."""
        started, t0 = utcnow(), time.monotonic()
        if state is None:
            state = await self._read(source, page_id)
        if isinstance(state, CheckResult):
            return state
        if state.shared:
            source = await self._shared(source, state)
        seen = await self._observe(source, state)
        for _ in range(MAX_CONFLICTS):
            record = await self._record(source, state, seen, started, t0)
            if lease is not None:
                record = replace(record, lease=lease())
            done = await self._commit(source, record, page_id is not None)
            if not isinstance(done, PageState):
                return _with_unavailable(done, seen.files)
            state = done  # another check of the page was stored first: make it again
        return CheckResult(source.name, Outcome.ERROR, time.monotonic() - t0,
                           error_kind="storage", error="the page kept changing under "
                           f"this check ({MAX_CONFLICTS} other checks stored first)")

    async def _read(self, source: SourceConfig,
                    page_id: int | None = None) -> PageState | CheckResult:
        try:
            if page_id is not None:
                return await asyncio.to_thread(self.store.document_state, page_id)
            return await asyncio.to_thread(self.store.page_state, source)
        except KeyError:
            return CheckResult(source.name, Outcome.ERROR, error_kind="storage",
                               error=f"document page {page_id} no longer exists")
        except MonitorError as exc:
            logger.error("{}: cannot read state: {}", source.name, exc)
            return CheckResult(source.name, Outcome.ERROR, error_kind=exc.kind, error=str(exc))

    async def _shared(self, source: SourceConfig, state: PageState) -> SourceConfig:
        """A document other listings list too: checked with its own listing's settings,
        told to their watchers as well (``storage/documents.py``).  A listing not in this
        configuration (removed since) tells nobody."""
        from storage.documents import shared_with

        names = await asyncio.to_thread(shared_with, self.store, state.page_id)
        also = [self.config.source(n).document(state.url) for n in names
                if any(s.name == n and s.is_listing for s in self.config.sources)]
        return replace(source, also=tuple(also)) if also else source

    async def _observe(self, source: SourceConfig, state: PageState) -> Observation:
        # new settings of the source: the page is read whole (``settings_read``); so is
        # a gone page: a file put back edited with its old time (a restore from backup,
        # ``cp -p``, ``rsync -t``) answers 304 to the validators kept from before it went
        sent = ((state.etag, state.last_modified)
                if settings_read(state) and state.status != "gone" else (None, None))
        began = utcnow()
        ahead = self._diff_ahead(state)
        try:
            got = await inspect_source(self.fetcher, source, etag=sent[0],
                                       last_modified=sent[1],
                                       short_ok=_failing_long(state),
                                       same_as=reusable_reading(source, state), **ahead)
            if _304_elsewhere(got, state):
                got = await inspect_source(self.fetcher, source,
                                           short_ok=_failing_long(state), **ahead)
        except MonitorError as exc:
            return Observation(began, error=exc, validators=sent)
        except Exception as exc:  # a bug must cost one check, not the scheduled job
            logger.opt(exception=exc).error("{}: unexpected error in the check", source.name)
            return Observation(began, error=InternalError(repr(exc)), validators=sent)
        fetched = got.fetched_at if isinstance(got, FetchResult) else got.fetch.fetched_at
        files = await self._attachments(source, state, got)
        return Observation(fetched or began, got=got, validators=sent, files=files)

    def _diff_ahead(self, state: PageState) -> dict[str, Any]:
        """``inspect_source``'s arguments for the quick diff made in the read's thread
        hop (``_page_read``): against the last version's text, if there is one, read
        from the database only when the page is read (not for a 304 or the same
        bytes, which an unchanged check mostly is)."""
        last = state.last
        return {"against": (lambda: last.text) if last is not None else None,
                "diff_timeout": self.config.settings.diff_timeout}

    async def _attachments(self, source: SourceConfig, state: PageState,
                           got: Inspection | FetchResult) -> tuple[AttachmentFile, ...]:
        """The page's attachments (``monitor.attachments``); a listing has none."""
        last = state.last.attachments if state.last else None
        known = {str(a.get("url")): a for a in last or ()}
        # A 304 page still links what its version lists: a PDF replaced behind an
        # unchanged page is seen (``_files_changed``).
        found = (tuple(Attachment(str(a.get("url")), str(a.get("name", ""))) for a in last or ())
                 if isinstance(got, FetchResult) else got.extracted.attachments)
        if source.is_listing or not found:
            return ()
        return await attachments.fetch_all(
            self.fetcher, found, known=known,
            limit=self.config.settings.max_attachments,
            allow_private=source.allow_private_network or None, robots=source.robots)

    async def _record(self, source: SourceConfig, state: PageState, seen: Observation,
                      started: datetime, t0: float) -> CheckRecord:
        if seen.error is not None:
            rec = self._failure(source, state, started, t0, seen.error)
        else:
            try:
                rec = await self._run(source, state, seen, started, t0)
            except MonitorError as exc:
                rec = self._failure(source, state, started, t0, exc)
            except Exception as exc:  # a bug must cost one check, not the scheduled job
                logger.opt(exception=exc).error("{}: unexpected error in the check",
                                                source.name)
                rec = self._failure(source, state, started, t0, InternalError(repr(exc)))
        got = seen.got if isinstance(seen.got, Inspection) else None
        if source.is_listing and got is not None and rec.outcome != Outcome.ERROR:
            listed = await asyncio.to_thread(self.store.listed_documents, state.page_id) \
                if documents.may_retitle(rec) else {}
            rec = documents.listing_record(source, got, rec, listed)
        if state.kind == "document":
            rec = documents.announce(self.config, source, state, rec, got, seen.error)
        return replace(rec, observed_at=seen.at)

    async def _run(self, source: SourceConfig, state: PageState, seen: Observation,
                   started: datetime, t0: float) -> CheckRecord:
        got = seen.got
        if isinstance(got, FetchResult) and not got.not_modified:
            # the last version's very bytes (``reusable_reading``): that version again,
            # unless another check stored a new one meanwhile; then read them after all
            if reusable_reading(source, state) == got.sha256:
                rec = self._base(state, started, t0, Outcome.UNCHANGED, got)
                return await self._files_changed(source, state, seen, rec)
            fetched = await decoded(got, source.encoding)  # left undecoded as the same bytes
            ahead = self._diff_ahead(state)
            extracted, quick = await _read(source, fetched, ahead["against"],
                                           ahead["diff_timeout"])
            got = Inspection(fetched, extracted, quick=quick)
            seen = replace(seen, got=got)
        if isinstance(got, FetchResult):  # 304 Not Modified
            rec = self._base(state, started, t0, Outcome.UNCHANGED, got)
            # It confirms the version whose validators we sent: if another check has
            # stored a newer one meanwhile, this answer is about the past.
            current = (state.etag, state.last_modified)
            if current != seen.validators:
                return replace(rec, outcome=str(Outcome.SUPERSEDED))
            return await self._files_changed(source, state, seen, rec)
        assert got is not None
        rec = await self._inspected(source, state, seen, got, started, t0)
        # read whole with the source's settings: conditional requests again from now on
        return rec if settings_read(state) else replace(rec, settings_read_at=seen.at,
                                                        read_rules=READING_RULES)

    async def _inspected(self, source: SourceConfig, state: PageState, seen: Observation,
                         got: Inspection, started: datetime, t0: float) -> CheckRecord:
        """The record of a page read whole: unchanged, new, or changed."""
        documents.refuse_broken(source, state, got.extracted)
        snap = snapshot(got.extracted.title, got.extracted.text, got.extracted.metadata,
                        [f.entry() for f in seen.files])
        last = _last_now(state)
        changes = await self._changes(source, state, got, snap, last)
        same = last is not None and same_hash(snap, last)  # the same version
        if not changes and same:
            return self._base(state, started, t0, Outcome.UNCHANGED, got.fetch)
        outcome = Outcome.NEW if state.last is None else Outcome.CHANGED
        if state.last is not None and not changes:
            outcome = Outcome.UNCHANGED  # text differs only in what detect ignores
        rec = self._base(state, started, t0, outcome, got.fetch)
        if outcome is Outcome.UNCHANGED:
            return rec
        alerts = self._change_alerts(source, changes, state.page_id,
                                     _compared_with(changes, state.last), snap)
        moved = _moved(changes)
        # A page restored or moved with the text it had is the same version: the change
        # is recorded (against the last version), a duplicate version is not.
        # rec.alerts may hold the "recovered" alert of a failure streak: keep it.
        return replace(rec, version=None if same else _new_version(got, snap, seen.files),
                       changes=tuple(changes),
                       alerts=rec.alerts + tuple(alerts),
                       page_url=got.fetch.final_url if moved else None,
                       page_status="moved" if moved else rec.page_status)
    async def _files_changed(self, source: SourceConfig, state: PageState,
                             seen: Observation, rec: CheckRecord) -> CheckRecord:
        """A 304 page whose attachments changed: a new version of the same page text
        (its raw body and headers those of the last version) with the new files."""
        last = state.last
        if last is None or last.attachments is None or not seen.files:
            return rec
        snap = snapshot(last.title, last.text, last.metadata, [f.entry() for f in seen.files])
        old = stored_snapshot(last.title, last.text, last.metadata, last.attachments)
        decision = await detect_change_async(
            old, snap, previous_hashes=state.previous_hashes,
            last_change_kind=state.last_change_kind,
            diff_timeout=self.config.settings.diff_timeout)
        if decision is None:
            return rec
        full = await asyncio.to_thread(self.store.version, last.id)
        raw = await asyncio.to_thread(self.store.raw_body, last.id)
        version = NewVersion(
            content_hash=snap.content_hash, title=last.title, text=last.text,
            metadata=dict(last.metadata), raw=raw, raw_sha256=last.raw_sha256,
            http_status=full.http_status, headers=dict(full.headers), url=full.url,
            charset=full.charset, fetched_at=seen.at, files=seen.files)
        return replace(rec, outcome=str(Outcome.CHANGED), version=version,
                       changes=(*rec.changes, decision),
                       alerts=rec.alerts + tuple(self._change_alerts(source, [decision],
                                                                     state.page_id, last, snap)))

    async def _changes(self, source: SourceConfig, state: PageState, got: Inspection,
                       snap: object, last: Snapshot | None = None) -> list[ChangeDecision]:
        """The changes from the last version (``last``: its ``_last_now``) to ``snap``."""
        out: list[ChangeDecision] = []
        if state.status == "gone":
            out.append(ChangeDecision(ChangeKind.RESTORED, "页面已恢复访问"))
        if state.last is None:
            return out
        # A version stored before attachments were tracked: compared as if it had the
        # attachments seen now (never "新增附件" for every file after the upgrade).
        unknown = state.last.attachments is None
        old = last if last is not None and not unknown else \
            stored_snapshot(state.last.title, state.last.text, state.last.metadata,
                            snap.attachments if unknown else state.last.attachments)  # type: ignore[attr-defined]
        decision = await detect_change_async(
            old, snap, previous_hashes=state.previous_hashes,  # type: ignore[arg-type]
            last_change_kind=state.last_change_kind,
            diff_timeout=self.config.settings.diff_timeout, quick=got.quick)
        settings = _settings_since_version(source, state)
        if decision is not None and (settings or not rules_read(state)):
            decision = await self._settings_apart(source, state, got, old, snap, decision,  # type: ignore[arg-type]
                                                  SETTINGS_ONLY if settings else UPGRADE_ONLY)
        # Compared with where the page was last seen: the configured URL keeps
        # redirecting after a move, and that is not a new move.
        moved_from = state.url if state.status == "moved" else state.last.url
        if got.fetch.permanent_redirect and got.fetch.final_url != moved_from:
            out.append(ChangeDecision(ChangeKind.MOVED, f"页面已迁移到 {got.fetch.final_url}",
                                      details={"from": moved_from, "to": got.fetch.final_url}))
        if decision is not None:
            if any(c.kind is ChangeKind.RESTORED for c in out):  # one alert: 页面已恢复,
                decision = replace(decision, alert=False)  # its diff showing the edit
            old_words = _compared_with([decision], state.last)
            out.append(_with_documents(decision, old_words.text if old_words else "",
                                       got.extracted))
        elif unknown and snap.attachments:  # type: ignore[attr-defined]
            out.append(ChangeDecision(ChangeKind.ATTACHMENT_ADDED, "首次记录附件（升级后）",
                                      alert=False))
        return out

    async def _settings_apart(self, source: SourceConfig, state: PageState, got: Inspection,
                              old: Snapshot, snap: Snapshot, decision: ChangeDecision,
                              label: str = SETTINGS_ONLY) -> ChangeDecision:
        """A difference found after the source's settings changed, or after an upgrade
        of the reading rules (``label``: ``UPGRADE_ONLY``, see the module docstring): the
        settings' (the rules'), the page's, or both?  The last version's raw body is
        read again with the new settings and rules (``_last_read_again``):

        * it reads as the new page does: the page did not change, the settings did.
          The new version is stored (the archive follows the settings) and nobody is
          told: ``decision`` with ``alert=False`` and ``label`` in its summary;
          never ``flapping`` (settings taken out and put back read the page as two
          versions ago, but the page did not flip: the decision is made again without
          ``previous_hashes``).
        * it does not: the page changed too.  The change is the one between the old
          page read with the new settings and the new page, so the alert shows what the
          page changed and nothing the settings did; that reading goes with it
          (``details["reread"]``: title, text, metadata), the old side of every
          rendering of the change (``AlertsRepo.change_view``) and of the triggers.
        * it cannot be read again (no body stored, damaged, the new settings do not read
          it, a file): ``decision`` as it is, against the stored version.

        A listing's stored body is its first page only: read again, it stands for the
        old version with the items of the later pages added, when those are the ones read
        now (``_column_as_read``); when they are not (the later pages changed in that
        very check), ``decision`` as it is (a listing's own change is recorded, never
        alerted: ``monitor.documents``).
        """
        again = None if got.fetch.document else await self._last_read_again(source, state)
        if again is None:
            return decision
        assert state.last is not None
        if source.is_listing and again.text != snap.text:
            text = _column_as_read(again.text, got, state.last.text, snap.text)
            if text is None:
                return decision
            again = replace(again, text=text)
        before = snapshot(again.title, again.text, again.metadata,
                          _attachments_as_read(again, state.last.attachments, snap.attachments))
        if same_hash(before, old):  # the settings change nothing there
            return decision
        page = await detect_change_async(
            before, snap, previous_hashes=state.previous_hashes,
            last_change_kind=state.last_change_kind,
            diff_timeout=self.config.settings.diff_timeout)
        if page is None:  # judged again without the history: no flip of the page's own
            if "flapping" in decision.details:
                decision = await detect_change_async(
                    old, snap, diff_timeout=self.config.settings.diff_timeout) or decision
            return replace(decision, summary=f"{label}：{decision.summary}", alert=False)
        reread = {"title": again.title, "text": again.text, "metadata": dict(again.metadata),
                  "cause": "rules" if label == UPGRADE_ONLY else "settings"}
        return replace(page, details={**page.details, "reread": reread})

    async def _last_read_again(self, source: SourceConfig,
                               state: PageState) -> Extracted | None:
        """The last version's raw body read with the source's settings as they are now;
        None when it cannot be: no body stored (or not the one stored: its SHA-256
        differs), or the new settings do not read it (the selector matches nothing)."""
        assert state.last is not None
        try:
            full = await asyncio.to_thread(self.store.version, state.last.id)
            raw = await asyncio.to_thread(self.store.raw_body, state.last.id)
            if not raw or hashlib.sha256(raw).hexdigest() != full.raw_sha256:
                return None
            # read as it was stored (whole or its article), the new settings applied
            return await _content(source, await asyncio.to_thread(_stored_fetch, full, raw),
                                  state.last.text)
        except (KeyError, MonitorError) as exc:
            logger.info("{}: the last version cannot be read again with the new settings: "
                        "{}", source.name, exc)
            return None

    def _change_alerts(self, source: SourceConfig, changes: list[ChangeDecision],
                       page_id: int, old: triggers.Words | None,
                       new: triggers.Words) -> list[AlertDraft]:
        drafts: list[AlertDraft] = []
        for i, ch in enumerate(changes):
            words = triggers.change_text(ch, old, new)  # what watchers' triggers look at
            if ch.alert and ch.details.get("condensed"):
                drafts += plan.flap_alerts(self.config, source, i, utcnow(), page_id, words)
            elif ch.alert:
                drafts += plan.change_alerts(self.config, source, i, utcnow(), words)
        return drafts

    def _base(self, state: PageState, started: datetime, t0: float, outcome: Outcome,
              fetch: FetchResult) -> CheckRecord:
        # A gone page's streak was told as "gone"; its return is told as "restored".
        recovered = (state.failure_streak >= self.config.settings.trouble_after
                     and state.status != "gone")
        return CheckRecord(
            page_id=state.page_id,
            expected_last_version_id=state.last.id if state.last else None,
            expected_revision=state.revision, started_at=started,
            duration=time.monotonic() - t0, outcome=str(outcome),
            http_status=fetch.status, bytes=len(fetch.body),
            raw_sha256=fetch.sha256 if fetch.body else None,
            # A 304 may leave its validators out; a 200 without them has none any more.
            worker=WORKER, etag=fetch.etag or (state.etag if fetch.not_modified else None),
            last_modified=fetch.last_modified
            or (state.last_modified if fetch.not_modified else None),
            # "moved" keeps the page at its new URL (Store.page_state would reset it).
            page_status="moved" if state.status == "moved" else "ok",
            failure_streak=0, gone_streak=0,
            alerts=tuple(self._trouble(state, "recovered", "恢复正常")) if recovered else (),
        )

    def _failure(self, source: SourceConfig, state: PageState, started: datetime, t0: float,
                 exc: MonitorError) -> CheckRecord:
        s = self.config.settings
        streak, gone = state.failure_streak + 1, state.gone_streak
        gone = gone + 1 if isinstance(exc, GoneError) else 0
        changes: tuple[ChangeDecision, ...] = ()
        status = "gone" if state.status == "gone" else "failing"
        if gone >= s.gone_after and state.status != "gone" and state.last is not None:
            changes = (ChangeDecision(ChangeKind.GONE, zh.describe(exc.kind, exc.status)),)
            status = "gone"
        alerts = [a for i, c in enumerate(changes) for a in plan.change_alerts(
            self.config, source, i, utcnow(), triggers.change_text(c, None, None))]
        if streak == s.trouble_after and status != "gone":
            alerts += self._trouble(state, "trouble", zh.failures(streak, exc.kind, exc.status,
                                                                str(exc)))
        return CheckRecord(
            page_id=state.page_id,
            expected_last_version_id=state.last.id if state.last else None,
            expected_revision=state.revision, started_at=started,
            duration=time.monotonic() - t0, outcome=str(Outcome.ERROR),
            http_status=exc.status, bytes=exc.size, error_kind=exc.kind,
            error=_gone_count(exc, gone, s.gone_after, status),
            worker=WORKER, etag=state.etag, last_modified=state.last_modified,
            page_status=status, failure_streak=streak, gone_streak=gone,
            changes=changes, alerts=tuple(alerts))

    def _trouble(self, state: PageState, event: str, detail: str) -> list[AlertDraft]:
        source = self.config.source(state.source)
        # Both events fire once per failure streak (when it reaches the threshold, and on
        # the first success after it); the time makes each streak's key unique.
        key = f"{state.page_id}:{utcnow().isoformat()}"
        return plan.trouble_alerts(self.config, source, event, key, detail)

    async def _commit(self, source: SourceConfig, rec: CheckRecord,
                      document: bool = False) -> CheckResult | PageState:
        """Store the record; the page's fresh state when another check was stored first."""
        try:
            res = await (self.commits.commit(rec)
                         if self.commits is not None and rec.documents is None
                         else asyncio.to_thread(self.store.commit_check, rec))
            if res.conflict:
                return await asyncio.to_thread(self.store.page_state, source)
        except MonitorError as exc:
            logger.error("{}: could not store the check: {}", source.name, exc)
            return CheckResult(source.name, Outcome.ERROR, rec.duration,
                               error_kind=exc.kind, error=str(exc))
        first = rec.changes[0] if rec.changes and res.change_ids else None
        result = CheckResult(
            source=source.name, outcome=Outcome(res.outcome), duration=rec.duration,
            status=rec.http_status, bytes=rec.bytes, version_id=res.version_id,
            change_id=res.change_ids[0] if res.change_ids else None,
            change_kind=str(first.kind) if first else None,
            summary=first.summary if first else None, error_kind=rec.error_kind,
            error=rec.error, alerts=len(res.alert_ids),
            documents_added=len(res.documents.added) if res.documents else 0,
            document=source.url if document else None, released=res.released)
        _log(result)
        return result


def _with_documents(decision: ChangeDecision, old_text: str,
                    extracted: Extracted) -> ChangeDecision:
    """A column page's change carries the items it gained, with their links, so a
    watcher can open a new reply from the alert."""
    if not extracted.documents:  # not a column page: nothing to name
        return decision
    old_titles = {listing.item_title(line) for line in old_text.splitlines()}
    new = [d for d in extracted.documents if d.title not in old_titles]
    if not new:
        return decision
    docs = [{"url": d.url, "title": d.title, "date": d.date} for d in new[:MAX_DOCUMENTS]]
    return replace(decision, details={**decision.details, "documents": docs})


def _stored_fetch(version: VersionFull, raw: bytes) -> FetchResult:
    """A stored version's answer as ``monitor.fetch`` gave it: its body decoded with the
    charset it was decoded with then (a file is not decoded: its format is sniffed)."""
    ctype = version.headers.get("content-type")
    res = FetchResult(url=version.url, final_url=version.url, status=version.http_status,
                      headers=dict(version.headers), body=raw)
    fmt = sniff(raw, ctype, version.url)
    if fmt is not None:
        return replace(res, document=fmt)
    text, charset = decode_html(raw, ctype, version.charset)
    return replace(res, text=text, charset=charset)


def _attachments_as_read(again: Extracted, last: tuple[dict[str, Any], ...] | None,
                         new: tuple[dict[str, object], ...]) -> list[dict[str, Any]]:
    """The old page's attachments as the new settings read it: the links it has under
    them, as the last version recorded them (or, for a link it did not record, as found
    now): a selector that now leaves a file out is not "附件删除"."""
    known: dict[str, Any] = {str(a.get("url")): a for a in new}
    known.update({str(a.get("url")): a for a in last or ()})
    return [dict(known[a.url]) for a in again.attachments if a.url in known]


def _compared_with(changes: list[ChangeDecision],
                   last: LastVersion | None) -> triggers.Words | None:
    """The old side of the changes: the last version, or that version read again with
    the source's new settings when the change was made against that (``reread``)."""
    for ch in changes:
        reread = ch.details.get("reread")
        if isinstance(reread, dict):
            return snapshot(str(reread["title"]), str(reread["text"]),
                            dict(reread["metadata"]))
    return last


def _with_unavailable(result: CheckResult, files: tuple[AttachmentFile, ...]) -> CheckResult:
    """The result counting the attachments this check could not fetch (logged)."""
    failed = [f for f in files if f.error]
    for f in failed:
        logger.warning("{}: attachment {} unavailable: {}", result.source, f.url, f.error)
    return replace(result, attachments_unavailable=len(failed)) if failed else result


def _last_now(state: PageState) -> Snapshot | None:
    """The last version's snapshot as this release makes it (its hash: a version stored
    before an upgrade of ``monitor.canon`` carries a hash of an older canonical form).
    With its attachments known it is also the old side ``_changes`` compares: made once
    for both.  Its hash is made only if read (``detect.stored_snapshot``): the check
    compares canonical parts (``same_hash``), not the JSON and SHA-256 of a 50 KB page."""
    last = state.last
    if last is None:
        return None
    return stored_snapshot(last.title, last.text, last.metadata, last.attachments or ())


def _moved(changes: list[ChangeDecision]) -> bool:
    return any(c.kind == ChangeKind.MOVED for c in changes)


def _new_version(got: Inspection, snap: object,
                 files: tuple[AttachmentFile, ...] = ()) -> NewVersion:
    f, e = got.fetch, got.extracted
    return NewVersion(files=files,
        content_hash=snap.content_hash, title=e.title, text=e.text,  # type: ignore[attr-defined]
        metadata=dict(e.metadata), raw=f.body, raw_sha256=f.sha256, raw_hashed=f.body,
        http_status=f.status, headers=dict(f.headers), url=f.final_url, charset=f.charset,
        fetched_at=f.fetched_at or utcnow())


def _gone_count(exc: MonitorError, gone: int, gone_after: int, status: str) -> str:
    """A 404/410 (or a page saying it does not exist) with where it stands: a page is
    recorded as gone only after ``gone_after`` such answers in a row."""
    if not isinstance(exc, GoneError):
        return str(exc)
    if status == "gone":
        return f"{exc} ({gone} in a row: the page counts as gone)"
    if gone < gone_after:
        return f"{exc} ({gone} of {gone_after} in a row before the page counts as gone)"
    return f"{exc} ({gone} in a row; never read, so not recorded as gone)"


def _log(r: CheckResult) -> None:
    """One line per check; in JSON logs the fields are in ``record.extra`` as well."""
    log = logger.bind(source=r.source, outcome=str(r.outcome), status=r.status,
                      duration=round(r.duration, 3), change_kind=r.change_kind,
                      error_kind=r.error_kind, document=r.document)
    name = f"{r.source} {r.document}" if r.document else r.source
    if r.outcome is Outcome.ERROR:
        log.warning("check {} {} ({}: {}) in {:.2f}s", name, r.outcome, r.error_kind,
                    r.error, r.duration)
    elif (silent := _silent_reread(r)) is not None:  # a version, but no change of the page
        log.bind(reread=silent).info(
            "check {} re-read status={} ({}: the page itself unchanged, no alert) in {:.2f}s",
            name, r.status, "settings edited" if silent == "settings" else "monitor upgraded",
            r.duration)
    else:
        kind = f" {r.change_kind}" if r.change_kind else ""  # no double space without one
        log.info("check {} {} status={}{} in {:.2f}s", name, r.outcome, r.status, kind,
                 r.duration)


def _silent_reread(r: CheckResult) -> str | None:
    """"settings" or "rules" when the check stored a version its source's settings or the
    reading rules alone made (``SETTINGS_ONLY``, ``UPGRADE_ONLY``: no alert), else None."""
    summary = r.summary or ""
    if r.outcome is not Outcome.CHANGED or r.alerts:
        return None
    return "settings" if summary.startswith(SETTINGS_ONLY) else \
        "rules" if summary.startswith(UPGRADE_ONLY) else None
