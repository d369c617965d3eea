"""``monitor status``: each source's last check, next check, last change, failures."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from monitor.cli.common import (
    console,
    handle_errors,
    json_option,
    load,
    local_time,
    open_store,
    print_json,
    sources_option,
)
from monitor.pipeline import WORKER
from storage.schedule import Schedule, SourceStatus

STYLE = {"ok": "green", "failing": "red", "gone": "magenta", "new": "cyan"}


def register(cli: click.Group) -> None:
    cli.add_command(status)


@click.command()
@sources_option
@json_option
@handle_errors
def status(sources_file: Path, as_json: bool) -> None:
    """Show each source's last check, next check, last change and failure streak."""
    config = load(sources_file, quiet=True)
    with open_store(config) as store:
        rows = Schedule(store, WORKER, config.settings.lease_seconds).status(
            [s for s in config.sources if s.enabled])
    if as_json:
        print_json(rows)
        return
    console.print(status_table(rows, config.settings.timezone))


def status_table(rows: list[SourceStatus], tz: str) -> Table:
    table = Table(title="sources")
    for col in ("source", "status", "last check", "result", "next check", "last change",
                "failures", "versions"):
        table.add_column(col, overflow="fold")
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
