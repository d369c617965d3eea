"""Applying edits of ``sources.toml`` to the running daemon.

A valid edit adds, removes and reschedules jobs and syncs the ``sources`` table (a
removed source becomes inactive; its history stays).  An edit that removes every source
is refused like an invalid one: it is nearly always a half-written file.  So is an
edit that looks like one (``mass_removal``): it removes every watcher while there were
some (an editor's half-written file ends before the ``[[watchers]]`` at its end, and
changes would go on being recorded with nobody told), or it removes most sources — the
new file keeps fewer than half of them and at least ``MASS_REMOVAL`` (3) fewer (counted,
so a rename is no removal).  An admin removes sources one or two at a time, and those
edits apply; a deliberate mass removal is applied by restarting ``monitor run``, which
loads the file as it is (nothing to compare with), or by removing at most half at a
time.  An invalid
edit, including alert channels that would not work, changes nothing: the daemon keeps
running the previous configuration, logs the error with file, source and key, and
queues one "config" alert to ``settings.admin_email`` per broken version of the file
(deduplicated in the outbox by the file's hash, so several replicas and restarts still
send it once).

A sources file that disappears (deleted, a symlink loop) is refused the same way: said
once in the log and to the admin, the last good configuration keeps running, and
``/healthz`` shows the config state (``missing``, ``refused``) until the file is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from loguru import logger

from monitor.config import Config, decode_sources, followed_documents, parse_config
from monitor.errors import ConfigError, MonitorError, StorageError
from monitor.health import DbHealth
from monitor.settings import Settings
from monitor.watch import Edit, SourcesWatcher
from storage import Store
from storage.alerts_repo import AlertsRepo
from storage.instant import utcnow
from storage.records import AlertDraft

# Settings read once at start by long-lived objects (engine, fetcher, servers, limits);
# the others (alert thresholds, admin_email, timezone and jitter of schedules...) apply
# at once because every edit builds a new Checker, Deliverer and set of plans.
RESTART_SETTINGS = frozenset({
    "database_url", "metrics_port", "web_enabled", "web_host", "web_port",
    "concurrency", "lease_seconds", "host_delay", "host_delays", "user_agent",
    "host_concurrency", "host_concurrencies",
    "fetch_deadline", "connect_timeout", "read_timeout", "max_body_bytes", "max_redirects",
    "retries", "retry_backoff", "max_retry_after", "allow_private_network",
    "respect_robots", "log_json", "shutdown_grace",
})


def parse_sources(path: Path, data: bytes | None, error: str | None = None,
                  when_empty: str | None = None) -> Config:
    """Like ``load_config``, from bytes the watcher already read (None: none could be)."""
    if data is None:
        raise ConfigError(f"cannot read the file ({error or 'not found'})", file=str(path))
    return parse_config(decode_sources(data, path), path=path, when_empty=when_empty)


def restart_needed(old: Settings, new: Settings) -> list[str]:
    keys = RESTART_SETTINGS & set(Settings.model_fields)
    return sorted(k for k in keys if getattr(old, k) != getattr(new, k))


def emptied(old: Config) -> str | None:
    """The problem an edit that lost every source is (far more often a truncated write
    than a wish), told with the file's other problems (``parse_config``'s
    ``when_empty``); None when there was no source to lose."""
    if not old.sources:
        return None
    return (f"the edit removes all {len(old.sources)} sources (a truncated file?); to stop "
            "checking one, set enabled = false; to stop them all, stop monitor run")


MASS_REMOVAL = 3  # sources an edit must lose, besides more than half, to look truncated
RESTART_TO_APPLY = "to apply it on purpose, restart monitor run with this file"


def mass_removal(old: Config, new: Config) -> list[ConfigError]:
    """The problems an edit that loses every watcher, or most sources, is (``emptied``
    says an edit that loses every source): far more often a half-written file than a
    wish.  Refused on a live reload only; a restart applies the file as it is."""
    file, out = str(new.path), []
    if old.watchers and not new.watchers:
        names = ", ".join(repr(w.name) for w in old.watchers)
        out.append(ConfigError(
            f"the edit removes every watcher ({len(old.watchers)}: {names}; a truncated "
            f"file?): changes would be recorded but nobody alerted; {RESTART_TO_APPLY}",
            file=file, key="watchers"))
    kept = {s.name for s in new.sources}
    lost = [s.name for s in old.sources if s.name not in kept]
    if (new.sources and 2 * len(new.sources) < len(old.sources)
            and len(old.sources) - len(new.sources) >= MASS_REMOVAL):
        names = ", ".join(map(repr, lost[:8])) + (", ..." if len(lost) > 8 else "")
        out.append(ConfigError(
            f"the edit removes {len(old.sources) - len(new.sources)} of "
            f"{len(old.sources)} sources ({names}; a truncated file?): at most half of them "
            f"at a time, or fewer than {MASS_REMOVAL}, apply live; {RESTART_TO_APPLY}",
            file=file, key="sources"))
    if out:
        out[0].more = tuple(out[1:])
    return out


def followed_warnings(config: Config, store: Store) -> list[str]:
    """Sources whose page a listing already follows (``followed_documents``): warned at
    start and at each edit, not refused (a file that loaded before must still load;
    ``monitor sources add`` refuses such a source).  Nothing when the database cannot
    say (it is down: the check itself will say so)."""
    if not any(s.is_listing for s in config.sources) or all(s.is_listing
                                                           for s in config.sources):
        return []
    from storage.documents import followed

    try:
        documents = followed(store)
    except MonitorError:
        return []
    return [f"source {p.source!r}: {p.what}"
            for p in followed_documents(config.sources, documents, str(config.path))]


def config_changes(old: Config, new: Config) -> list[str]:
    """What an edit changed besides the sources' jobs and rows (``Daemon.apply`` says
    those): watchers added, removed or changed (their triggers, channels, mode...) and
    settings changed, by name (never a value: a URL may hold a secret)."""
    before = {w.name: w for w in old.watchers}
    after = {w.name: w for w in new.watchers}
    out = []
    for what, names in (
            ("added watcher", [n for n in after if n not in before]),
            ("removed watcher", [n for n in before if n not in after]),
            ("changed watcher", [n for n in after if n in before and after[n] != before[n]])):
        if names:
            out.append(f"{what}{'s' if len(names) > 1 else ''} {', '.join(names)}")
    settings = sorted(k for k in Settings.model_fields
                      if getattr(old.settings, k) != getattr(new.settings, k))
    if settings:
        out.append(f"changed settings {', '.join(settings)}")
    return out


class Reloader:
    def __init__(self, watcher: SourcesWatcher, store: Store, current: Callable[[], Config],
                 apply: Callable[[Config], Awaitable[list[str]]],
                 wake_delivery: Callable[[], None], db: DbHealth | None = None) -> None:
        self.watcher, self.store = watcher, store
        self.current, self.apply, self.wake_delivery = current, apply, wake_delivery
        self.db = db or DbHealth()
        self.error: str | None = None  # the current edit's problem, shown by /healthz
        self.state = "ok"  # or "refused" (an invalid edit), "missing" (no readable file)
        self.since: str | None = None  # when the state began
        self.started = current().settings  # what the long-lived objects were built with

    async def poll(self) -> None:
        edit = self.watcher.poll()
        if edit is None:
            return
        old = self.current()
        try:
            config = parse_sources(self.watcher.path, edit.data, edit.error, emptied(old))
            if refused := mass_removal(old, config):
                raise refused[0]
            changes = await self.apply(config)
        except ConfigError as exc:
            await self._reject(exc, edit)
            return
        except MonitorError as exc:  # e.g. the database is down: try again soon
            what = f"could not apply the edit of {self.watcher.path} (will retry)"
            if isinstance(exc, StorageError):
                self.db.failed(what, exc)
            else:
                logger.error("{}: {}", what, exc)
            self.watcher.forget()
            return
        if changes:  # sources synced: a write went through
            self.db.ok()
        self._valid_again()
        changes += config_changes(old, config)
        logger.info("{} reloaded: {}", self.watcher.path, "; ".join(changes) or "no change")
        late = restart_needed(self.started, config.settings)
        if late:
            logger.warning("settings {} differ from those monitor run started with: restart "
                           "it to apply them", ", ".join(late))

    def _valid_again(self) -> None:
        if self.state == "missing":
            logger.info("{} is back and valid", self.watcher.path)
        elif self.state == "refused":
            logger.info("{} is valid again", self.watcher.path)
        self.error, self.state, self.since = None, "ok", None

    def describe(self) -> dict[str, object]:
        """The config state for ``/healthz``."""
        return {"state": self.state, "since": self.since, "error": self.error,
                "file": str(self.watcher.path)}

    async def _reject(self, exc: ConfigError, edit: Edit) -> None:
        self.error = "; ".join(map(str, exc.problems))
        self.state = "missing" if edit.data is None else "refused"
        self.since = utcnow().isoformat(timespec="seconds")
        found = exc.problems
        for n, problem in enumerate(found, 1):  # every one found, as the mail: "1 of 2"
            of = f" (problem {n} of {len(found)})" if len(found) > 1 else ""
            logger.bind(file=problem.file, source=problem.source, key=problem.key).error(
                "edit rejected{}, still running the previous configuration: {}", of, problem)
        admin = self.current().settings.admin_email
        if admin and await asyncio.to_thread(self._tell_admin, admin, exc, edit.digest):
            self.wake_delivery()

    def _tell_admin(self, admin: str, exc: ConfigError, digest: str) -> bool:
        draft = AlertDraft(
            dedupe_key=f"config:{digest[:32]}:{admin}", event="config", channel="email",
            recipient=admin, watcher="admin",
            payload={"problems": [str(p) for p in exc.problems],
                     "file": str(self.watcher.path),
                     # what `alerts list` files it under: every source named, not the first
                     "source": ", ".join(dict.fromkeys(
                         p.source for p in exc.problems if p.source)) or None,
                     "watcher": exc.watcher, "key": exc.key,
                     "places": [{"source": p.source, "watcher": p.watcher, "key": p.key}
                                for p in exc.problems],
                     "format": "email"})
        try:
            queued = bool(AlertsRepo(self.store).enqueue([draft]))
        except MonitorError as exc2:  # e.g. another replica queued the same alert just now
            logger.warning("could not queue the config alert: {}", exc2)
            return False
        if queued:
            logger.info("telling {} about the broken {}", admin, self.watcher.path)
        return queued
