"""``monitor check``: one pass over the sources, then deliver the alerts it raised."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click
from loguru import logger
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from alerts.delivery import Deliverer
from monitor import follow
from monitor.cli.common import (
    console,
    handle_errors,
    json_option,
    load,
    open_store,
    print_json,
    sources_option,
)
from monitor.config import Config, SourceConfig
from monitor.errors import PageBusyError
from monitor.exclusive import exclusive
from monitor.fetch import Fetcher
from monitor.pipeline import WORKER, Checker
from monitor.types import CheckResult, Outcome
from storage import Store
from storage.schedule import Schedule

STYLE = {"new": "cyan", "changed": "bold yellow", "unchanged": "green", "error": "red",
         "superseded": "dim"}


def register(cli: click.Group) -> None:
    cli.add_command(check)


@click.command()
@sources_option
@click.option("--source", "names", multiple=True, help="Only this source (name, URL or glob).")
@click.option("--no-deliver", is_flag=True, help="Leave alerts in the outbox.")
@json_option
@handle_errors
def check(sources_file: Path, names: tuple[str, ...], no_deliver: bool, as_json: bool) -> None:
    """Check the sources once and print a summary."""
    config = load(sources_file, quiet=sys.stderr.isatty() or as_json)
    chosen = config.select(names)
    with open_store(config) as store:
        # Built first: a misconfigured alert channel stops the run before any check.
        deliverer = None if no_deliver else Deliverer(config, store)
        for warning in deliverer.warnings if deliverer else []:
            logger.warning("{}: {}", sources_file, warning)
        store.sync_sources(config.sources)
        results = asyncio.run(run_checks(config, store, chosen, progress=not as_json))
        delivered = None if deliverer is None else asyncio.run(deliverer.deliver_due())
    if as_json:
        print_json({"results": sorted(results, key=lambda r: r.source), "alerts": delivered})
        return
    console.print(summary_table(results))
    counts = {o: sum(r.outcome == o for r in results) for o in Outcome}
    line = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
    if delivered is not None:
        line += f"; alerts: {delivered.describe()}"
    console.print(line or "nothing to check", markup=False, highlight=False)


async def run_checks(config: Config, store: Store, sources: list[SourceConfig], *,
                     progress: bool = True) -> list[CheckResult]:
    """Check ``sources`` (synced to the database), each under its page's lease."""
    limit = asyncio.Semaphore(config.settings.concurrency)
    schedule = Schedule(store, WORKER, config.settings.lease_seconds)
    pages = await asyncio.to_thread(schedule.ensure_pages, sources)
    async with Fetcher(config.settings) as fetcher:
        checker = Checker(config, store, fetcher)
        with _progress(len(sources) if progress else 0) as bar:
            task = bar.add_task("checking", total=len(sources))

            async def one(src: SourceConfig) -> list[CheckResult]:
                page_id = pages[src.name].page_id
                async with limit:
                    result = await _one(checker, schedule, page_id, src)
                    # a listing's documents that are due, new ones first: in this pass
                    docs = await follow.check_due(checker, schedule, src, page_id)
                bar.update(task, advance=1, description=src.name)
                return [result, *docs]

            return [r for rs in await asyncio.gather(*(one(s) for s in sources)) for r in rs]


async def _one(checker: Checker, schedule: Schedule, page_id: int,
               src: SourceConfig) -> CheckResult:
    s = checker.config.settings
    # Long enough for another process's check of the page to end; a lease left by a
    # process that was killed is not waited out in full (the message says whose it is).
    wait = min(s.lease_seconds, 2 * s.fetch_deadline + 30)
    try:
        async with exclusive(schedule, page_id, name=src.name, wait=wait):
            return await checker.check(src)
    except PageBusyError as exc:
        return CheckResult(src.name, Outcome.ERROR, error_kind=exc.kind, error=str(exc))


def _progress(total: int) -> Progress:
    return Progress(TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True,
                    disable=not console.is_terminal or total < 2)


def summary_table(results: list[CheckResult]) -> Table:
    table = Table(title="check summary", show_lines=False)
    for col in ("source", "outcome", "status", "what", "time"):
        table.add_column(col, overflow="fold")
    for r in sorted(results, key=lambda r: (r.source, r.document or "")):
        what = r.summary or r.change_kind or ""
        if r.outcome is Outcome.ERROR:
            what = f"{r.error_kind}: {r.error}"
        # Text, not markup: names, summaries and errors come from pages and servers.
        name = f"{r.source} ↳ {r.document}" if r.document else r.source
        table.add_row(Text(name), Text(str(r.outcome), style=STYLE[r.outcome]),
                      str(r.status or "—"), Text(what), f"{r.duration:.1f}s")
    return table
