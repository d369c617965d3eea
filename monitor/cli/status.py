"""``monitor status``: a health line, then each source's last check, next check, last
change and failures.

The health line is what the database can tell from outside the daemon: the newest check
row (``stale`` when it is older than twice the shortest interval plus a minute: nothing
is being stored) and the share of failed checks in the last hour (``failing`` from
``settings.health_failure_share``, with at least 3 failures).  The daemon's own view,
with the config state, is ``/healthz``.

The rows are read through the database driver alone (``storage.glance``) when the
schema is at head: no SQLAlchemy to import, so the command answers at once; otherwise
(a new database, one to migrate) through ``Store`` and ``Schedule``, as the daemon does.

Piped to a file or another program, nothing is wrapped (a name or URL stays whole on its
line, to grep); on a terminal long cells fold to the width of the window.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from monitor import capacity
from monitor.cli.common import (
    console,
    handle_errors,
    json_option,
    load,
    local_time,
    open_store,
    print_json,
    sources_option,
    start_logging,
)
from monitor.config import Config
from storage import glance
from storage.glance import RecentChecks, SourceStatus

STYLE = {"ok": "green", "failing": "red", "gone": "magenta", "new": "cyan"}


def register(cli: click.Group) -> None:
    cli.add_command(status)


@click.command()
@sources_option
@json_option
@handle_errors
def status(sources_file: Path, as_json: bool) -> None:
    """Show each source's last check, next check, last change and failure streak."""
    config = load(sources_file, logging=False)  # only the Store below may log
    rows, recent = read_status(config)
    if as_json:
        print_json(rows)
        return
    out = console if console.is_terminal else Console(width=100_000, soft_wrap=True)
    out.print(Text(health_line(recent, config)), soft_wrap=True)
    for host in capacity.behind(config.sources, config.settings):
        out.print(Text(f"capacity: {host.describe()}", style="yellow"), soft_wrap=True)
    if line := backlog_line(rows):
        out.print(Text(line, style="yellow"), soft_wrap=True)
    out.print(status_table(rows, config.settings.timezone, wrap=console.is_terminal))


def read_status(config: Config) -> tuple[list[SourceStatus], RecentChecks]:
    """Each enabled source's row and the last hour's checks: through the driver when
    the schema is at head, else through ``Store`` (which creates or migrates it)."""
    sources = [s for s in config.sources if s.enabled]
    since = utcnow() - timedelta(hours=1)
    read = glance.status(config.settings.database_url, sources, since)
    if read is not None:
        return read
    from storage.schedule import Schedule

    start_logging(config, quiet=True)
    with open_store(config) as store:
        # Reading claims nothing: no worker name (and no import of the check pipeline).
        schedule = Schedule(store, "monitor-status", config.settings.lease_seconds)
        return schedule.status(sources), schedule.recent_checks(since)


def utcnow() -> datetime:
    return datetime.now(UTC)


def health_line(recent: RecentChecks, config: Config) -> str:
    newest = recent.newest_check_at
    if newest is None:
        return "health: no checks yet"
    age = (utcnow() - newest).total_seconds()
    words = []
    shortest = min((s.interval.total_seconds() for s in config.sources
                    if s.enabled and s.interval is not None), default=None)
    if shortest is not None and age > 2 * shortest + 60:
        words.append("stale")
    share = config.settings.health_failure_share
    if recent.errors >= 3 and recent.errors >= share * recent.checks:
        words.append("failing")
    return (f"health: {', '.join(words) or 'ok'} — newest check "
            f"{local_time(newest, config.settings.timezone)} ({_ago(age)} ago); "
            f"{recent.errors} of {recent.checks} checks failed in the last hour")


def backlog_line(rows: list[SourceStatus]) -> str | None:
    """Sources whose slot has passed and whose check has not started (no daemon runs,
    or their host is behind); None when there are none."""
    now = utcnow()
    due = [r for r in rows if r.lease_owner is None
           and (r.next_check_at is None or r.next_check_at <= now)]
    if not due:
        return None
    slots = [r.next_check_at for r in due if r.next_check_at is not None]
    oldest = f"; the oldest slot passed {_ago((now - min(slots)).total_seconds())} ago" \
        if slots else ""
    return f"backlog: {len(due)} sources due and not started{oldest}"


def _ago(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{max(0.0, seconds):.0f} s"


def status_table(rows: list[SourceStatus], tz: str, *, wrap: bool = True) -> Table:
    table = Table(title="sources")
    for col in ("source", "status", "last check", "result", "next check", "last change",
                "failures", "versions"):
        table.add_column(col, overflow="fold", no_wrap=not wrap)
    for r in rows:
        result = r.last_outcome or "—"
        if r.last_http_status:
            result += f" ({r.last_http_status})"
        if r.last_outcome == "error" and r.last_error:
            result += f": {r.last_error[:80]}"
        style = STYLE.get(r.status, "")
        # Text, not markup: errors come from servers and pages.
        table.add_row(Text(r.source), Text(r.status, style=style),
                      local_time(r.last_check_at, tz), Text(result), Text(_next(r, tz)),
                      local_time(r.last_change_at, tz), str(r.failure_streak), str(r.versions))
    return table


def _next(r: SourceStatus, tz: str) -> str:
    if r.lease_owner:
        return f"running on {r.lease_owner}"
    if r.last_check_at is None and r.next_check_at is None:
        return "at start"
    return local_time(r.next_check_at, tz)
