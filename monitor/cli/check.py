"""``monitor check``: one pass over the sources, then deliver the alerts due (those it
raised and any still waiting in the outbox)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click
from loguru import logger

from monitor import batch, follow
from monitor.cli import common
from monitor.cli.common import (
    complete_source_names,
    handle_errors,
    json_option,
    load,
    open_store,
    print_json,
    print_table,
    sources_option,
)
from monitor.config import Config, SourceConfig
from monitor.errors import ConfigError, MonitorError, NotFoundError, PageBusyError
from monitor.exclusive import Lease, exclusive
from monitor.fetch import Fetcher
from monitor.holder import WORKER
from monitor.parallel import NoBar, Pass, check_pass
from monitor.pipeline import Checker
from monitor.session_ids import without_session
from monitor.types import CheckResult, Outcome
from storage.instant import utcnow
from storage.records import PageState

if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.table import Table

    from alerts.delivery import Deliverer, DeliveryReport
    from storage import Store
    from storage.schedule import PageRef, Schedule

STYLE = {"new": "cyan", "changed": "bold yellow", "unchanged": "green", "error": "red",
         "superseded": "dim"}


def register(cli: click.Group) -> None:
    cli.add_command(check)


@click.command()
@sources_option
@click.option("--source", "names", multiple=True, shell_complete=complete_source_names,
              help="Only this source (name, URL or glob), or a listing's document (its URL: "
              "checked now, due or not).")
@click.option("--no-deliver", is_flag=True, help="Leave alerts in the outbox.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes the pass is split over (default: the check_workers setting, "
              "'auto': one per core, at most one per 50 sources).")
@json_option
@handle_errors
def check(sources_file: Path, names: tuple[str, ...], no_deliver: bool, workers: int | None,
          as_json: bool) -> None:
    """Check the sources once and print a summary."""
    try:
        _check(sources_file, names, no_deliver, workers, as_json)
    except KeyboardInterrupt:  # outside the pass, or a second Ctrl-C while it was told
        _interrupted(None)


def _check(sources_file: Path, names: tuple[str, ...], no_deliver: bool, workers: int | None,
           as_json: bool) -> None:
    # --no-deliver: the settings are only read (no alert code), as validated when kept
    config = load(sources_file, quiet=sys.stderr.isatty() or as_json, plain_settings=no_deliver)
    urls = {s.url for s in config.sources}
    names = tuple(without_session(n) if "://" in n else n for n in names)  # as stored
    doc_urls = [n for n in names if "://" in n and n not in urls]
    rest = [n for n in names if n not in doc_urls]
    chosen = config.select(rest) if rest or not doc_urls else []
    if not no_deliver:  # here: --no-deliver loads no alert code
        from alerts.delivery import Deliverer
    # no alert to deliver and no document asked for: maybe no SQLAlchemy (storage.quick)
    with open_store(config, quick=no_deliver and not doc_urls) as store:
        # Built first: a misconfigured alert channel stops the run before any check.
        deliverer = None if no_deliver else Deliverer(config, store)
        for warning in deliverer.warnings if deliverer else []:
            logger.warning("{}: {}", sources_file, warning)
        store.sync_sources(config.sources, config.digest)
        docs = [_document(config, store, url) for url in doc_urls]
        started = utcnow()
        try:
            done = check_pass(config, store, chosen, run=run_checks, documents=docs,
                              workers=workers or config.settings.check_workers,
                              bar=None if as_json else _progress)
        except KeyboardInterrupt:  # Ctrl-C: the leases are given back by now
            _interrupted(_stored(config, store, started))
        try:
            _report(config, store, done, deliverer, no_deliver, as_json)
        finally:
            done.join()  # the workers' ends, overlapped with the output (monitor.parallel)


def _report(config: Config, store: Store, done: Pass, deliverer: Deliverer | None,
            no_deliver: bool, as_json: bool) -> None:
    """The pass's alerts delivered (unless ``no_deliver``), then its results printed."""
    results = in_file_order(done.results, config)
    delivered = None
    if deliverer is not None:
        from alerts.delivery import deliver_stoppably

        delivered = asyncio.run(deliver_stoppably(deliverer))
    waiting = _waiting(store) if no_deliver and not as_json else 0
    if as_json:
        print_json({"results": results, "alerts": delivered})
        _lost(done.lost)
        common.stopped_delivery(deliverer, delivered)
        return
    console = common.console  # rich: only for people (--json prints with click)
    if results:  # else only the line: 没有要检查的来源
        print_table(summary_table(results), console)  # piped (cron mail): rows never wrapped
    console.print(summary_line(results, delivered), markup=False, highlight=False)
    if waiting:
        console.print(common.both(
            f"{waiting} 条提醒在待发队列中（--no-deliver）：monitor alerts deliver 发送，或由运行"
            "中的 monitor run 发送", f"{waiting} alert(s) wait in the outbox (--no-deliver): "
            "monitor alerts deliver sends them (or a running monitor run)"),
            markup=False, highlight=False)
    _lost(done.lost)
    common.stopped_delivery(deliverer, delivered)


def summary_line(results: list[CheckResult], delivered: DeliveryReport | None) -> str:
    """``首次收录 2，出错 2；提醒：已发送 1，待重试 0，已放弃 0（2 new, 2 error; alerts: 1
    sent, 0 retrying, 0 dead）``: Chinese first, the English after (``common.both``)."""
    counts = {str(o): sum(r.outcome == o for r in results) for o in Outcome}
    said = common.outcomes(counts) or "没有要检查的来源"
    line = ", ".join(f"{n} {o}" for o, n in counts.items() if n) or "nothing to check"
    if delivered is not None:
        said += f"；提醒：{common.delivered(delivered)}"
        line += f"; alerts: {delivered.describe()}"
    return common.both(said, line)


def _waiting(store: Store) -> int:
    """The alerts pending in the outbox (raised by this pass or waiting before it)."""
    return store.pending_alerts()


def _lost(workers: int) -> None:
    """Exit 1 when a worker process ended before reporting all of its sources."""
    if workers:
        from monitor import zh

        common.err_console.print(
            f"[red]错误：[/]{workers} 个工作进程意外退出，它们未报告的来源记为出错\n"
            f"{zh.DETAIL}error: {workers} worker process(es) ended unexpectedly; "
            "the sources they did not report are listed as errors", highlight=False,
            soft_wrap=True)
        sys.exit(1)


def _interrupted(stored: dict[str, int] | None) -> NoReturn:
    """Ctrl-C: what the pass had stored (``stored``, checks by outcome; None: not known —
    a Ctrl-C outside the pass, or a second one while they were counted), and that the
    alerts of its changes wait in the outbox; exit 130 (``EXIT_INTERRUPTED``), not 1 (a
    worker process died)."""
    from rich.markup import escape

    from monitor import zh

    later = "（或运行 monitor alerts deliver）"
    if stored is None:
        said = ("检查被中断；已保存的检查见 monitor history，"
                f"未发出的提醒将在下次检查时发出{later}。")
        detail = ("interrupted; the checks stored before the stop are in `monitor history`, "
                  "alerts not yet delivered go out at the next run (or with `monitor alerts "
                  "deliver`)")
    else:
        checks, changed = sum(stored.values()), stored.get(str(Outcome.CHANGED), 0)
        new = stored.get(str(Outcome.NEW), 0)  # first versions: never an alert
        said = (f"检查被中断；中断前已保存 {checks} 次检查，其中 {changed} 次发现变化、"
                f"{new} 个页面首次收录")
        detail = (f"interrupted: {checks} check(s) stored before the stop, {changed} "
                  f"changed, {new} new")
        if changed:
            said += f"；变化的提醒将在下次检查时发出{later}"
            detail += "; the alerts of the changes go out at the next run (or with " \
                "`monitor alerts deliver`)"
        said += "。"
    common.err_console.print(f"[yellow]已中断：[/]{escape(said)}\n{zh.DETAIL}{escape(detail)}",
                             highlight=False, soft_wrap=True)
    sys.exit(common.EXIT_INTERRUPTED)


def _stored(config: Config, store: Store, since: datetime) -> dict[str, int] | None:
    """The checks this command stored since ``since`` (its workers store under its
    name), by outcome; None when the database cannot say."""
    try:
        return store.schedule(WORKER, config.settings.lease_seconds).stored_since(since)
    except MonitorError:
        return None


def _document(config: Config, store: Store, url: str) -> tuple[SourceConfig, int, str]:
    """A listing's document asked for by URL: its listing's settings and its page."""
    try:
        src, page = store.resolve_page(url)
    except KeyError:  # the argument is wrong, not the file
        raise NotFoundError(f"no source and no document has the URL {url!r} (--source)",
                            f"没有哪个来源或栏目文档的网址是 {url}（--source）：请核对网址"
                            "（与 monitor history 显示的一致），或写来源名称") from None
    source = next((s for s in config.sources if s.name == src.name), None)
    if page.kind != "document" or source is None or not source.is_listing:
        raise ConfigError(f"{url!r} is a page of {src.name!r}, which is not a listing in "
                          "the file: check the source by its name", file=str(config.path))
    return source, page.id or 0, page.url


async def run_checks(config: Config, store: Store, sources: list[SourceConfig], *,
                     progress: bool = True,
                     documents: Sequence[tuple[SourceConfig, int, str]] = (),
                     on_done: Callable[[SourceConfig, list[CheckResult]], None] | None = None,
                     pages: Mapping[str, PageRef] | None = None) -> list[CheckResult]:
    """Check ``sources`` (synced to the database), each under its page's lease, with the
    listings' due documents after them; and the ``documents`` asked for, now.  The
    leases and states of the sources' pages are taken in batches and their checks
    committed in groups (``monitor.batch``).  ``on_done`` gets each source's results (its
    own and its documents') as they come.  ``pages``: the sources' pages, when the caller
    has made them already (``Schedule.ensure_pages``; a worker of ``monitor.parallel``)."""
    limit = config.settings.concurrency
    schedule = store.schedule(WORKER, config.settings.lease_seconds)
    if pages is None:
        pages = await asyncio.to_thread(schedule.ensure_pages, sources)
    leases = batch.Leases(store, schedule)
    async with Fetcher(config.settings) as fetcher:
        checker = Checker(config, store, fetcher, commits=batch.GroupCommit(store, limit))
        asked = [await _asked(checker, schedule, *d) for d in documents]
        with _progress(len(sources) if progress else 0) as bar:
            task = bar.add_task("checking", total=len(sources))

            async def one(src: SourceConfig, state: PageState | None,
                          held: bool) -> list[CheckResult]:
                page_id = pages[src.name].page_id
                if held:
                    result = await _held(checker, leases, page_id, src, state)
                else:
                    result = await _one(checker, schedule, page_id, src)
                # a listing's documents that are due, new ones first: in this pass
                docs = await follow.check_due(checker, schedule, src, page_id)
                bar.update(task, advance=1, description=src.name)
                if on_done is not None:
                    on_done(src, [result, *docs])
                return [result, *docs]

            items = [(s, pages[s.name].page_id) for s in sources]
            done = await batch.each(leases, items, one, limit)
            return asked + [r for rs in done for r in rs]


async def _asked(checker: Checker, schedule: Schedule, source: SourceConfig, page_id: int,
                 url: str) -> CheckResult:
    result = await follow.check_one(checker, schedule, source, page_id, url, now=True)
    return result or CheckResult(source.name, Outcome.ERROR, error_kind="busy",
                                 error=f"{url} is being checked by another process",
                                 document=url)


async def _one(checker: Checker, schedule: Schedule, page_id: int,
               src: SourceConfig) -> CheckResult:
    s = checker.config.settings
    # Long enough for another process's check of the page to end; a lease left by a
    # process that was killed is not waited out in full (the message says whose it is).
    wait = min(s.lease_seconds, 2 * s.fetch_deadline + 30)
    try:
        async with exclusive(schedule, page_id, name=src.name, wait=wait,
                             timezone=s.timezone) as lease:
            result = await checker.check(src, lease=lease.end)
            lease.given_back = bool(result.released)
            return result
    except PageBusyError as exc:
        return CheckResult(src.name, Outcome.ERROR, error_kind=exc.kind, error=str(exc))


async def _held(checker: Checker, leases: batch.Leases, page_id: int, src: SourceConfig,
                state: PageState | None) -> CheckResult:
    """A page whose lease the pass took in a batch, ``state`` read then: its check ends
    the lease in its commit (given back here if it did not)."""
    if state is not None and state.url != src.url and state.status != "moved":
        state = None  # the URL was edited in the file: page_state moves the page
    released = False
    try:
        result = await checker.check(src, lease=Lease(leases.schedule.owner).end,
                                     state=state)
        released = bool(result.released)
        return result
    finally:
        if released:
            leases.done(page_id)
        else:
            await leases.give_back(page_id)


def _progress(total: int) -> Progress | NoBar:
    if total < 2 or not common.console.is_terminal:
        return NoBar()  # rich.progress is imported only for a bar that is shown
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=common.console, transient=True)


def in_file_order(results: list[CheckResult], config: Config) -> list[CheckResult]:
    """The results in the order of sources.toml (p2 before p10, as the admin wrote
    them), a listing's documents after it, by address."""
    place = {s.name: i for i, s in enumerate(config.sources)}
    return sorted(results, key=lambda r: (place.get(r.source, len(place)), r.source,
                                          r.document or ""))


def summary_table(results: list[CheckResult]) -> Table:
    from rich.table import Table
    from rich.text import Text

    from monitor import zh

    table = Table(title=common.both("检查结果", "check summary"), show_lines=False)
    for col in common.headers("source", "outcome", "http", "what", "time"):
        table.add_column(col, overflow="fold")
    for r in results:
        what = r.summary or r.change_kind or ""
        if r.outcome is Outcome.ERROR:
            what = zh.told(r.error_kind, r.status, r.error or "")  # Chinese first
        # Text, not markup: names, summaries and errors come from pages and servers.
        name = f"{r.source} ↳ {r.document}" if r.document else r.source
        outcome = common.both(common.OUTCOMES.get(r.outcome, str(r.outcome)), str(r.outcome))
        table.add_row(Text(name), Text(outcome, style=STYLE[r.outcome]),
                      str(r.status or "—"), Text(what), f"{r.duration:.1f}s")
    return table
