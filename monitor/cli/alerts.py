"""``monitor alerts …``: the outbox for admins — list, retry failed alerts, deliver now."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from alerts.base import redact
from monitor.cli.common import (
    HEADERS,
    both,
    console,
    delivered,
    err_console,
    handle_errors,
    json_option,
    load,
    load_reading,
    local_time,
    open_store,
    print_json,
    print_table,
    sources_option,
    stopped_delivery,
)
from monitor.errors import BadInputError
from storage.alerts_repo import AlertRecord, AlertsRepo

STYLE = {"pending": "yellow", "sending": "cyan", "sent": "green", "dead": "bold red"}
# Why ``retry`` leaves an alert alone, by its status.
REFUSED = {"sent": "already sent", "sending": "being sent now",
           "pending": "not failed: waiting for its first attempt"}
REFUSED_ZH = {"sent": "已发送", "sending": "正在发送", "pending": "未失败，等待第一次发送"}
# ``list``'s cells: a row's status and event in Chinese, then the stored word in brackets
STATUS_ZH = {"pending": "待发送", "sending": "正在发送", "sent": "已发送", "dead": "已放弃"}
EVENT_ZH = {"change": "页面变化", "digest": "变化汇总", "trouble": "检查失败",
            "recovered": "恢复正常", "config": "配置错误"}


def register(cli: click.Group) -> None:
    cli.add_command(alerts)


@click.group()
def alerts() -> None:
    """The alert outbox: what was sent, what is waiting, what failed."""


@alerts.command("list")
@click.option("--failed", is_flag=True, help="Only dead alerts and those waiting to retry.")
@click.option("--pending", is_flag=True,
              help="Only alerts not delivered yet (waiting, retrying or being sent now).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=0),
              help="Newest N alerts (0: every one). When more exist, the table is followed "
              "by a line saying so (--json: on stderr; the array holds N).")
@sources_option
@json_option
@handle_errors
def list_alerts(failed: bool, pending: bool, limit: int, sources_file: Path,
                as_json: bool) -> None:
    """List alerts, newest first (--failed and --pending: either)."""
    config = load_reading(sources_file)
    with open_store(config) as store:
        rows = AlertsRepo(store).list(failed=failed, pending=pending,
                                      limit=limit + 1 if limit else None)
    more = bool(limit) and len(rows) > limit
    rows = rows[:limit] if more else rows
    if as_json:
        print_json(rows)
    elif not rows:
        which = " or ".join([w for w, on in (("failed", failed), ("pending", pending)) if on])
        said = "或".join([w for w, on in (("失败", failed), ("待发", pending)) if on])
        console.print(both(f"没有{said}的提醒" if said else "没有提醒",
                           f"no {which} alerts" if which else "no alerts"),
                      highlight=False, markup=False)
    else:
        print_table(_table(rows, config.settings.timezone), console)
    if more:  # never cut silently; with --json on stderr, so the array stays parseable
        (err_console if as_json else console).print(both(
            f"只列出最新的 {limit} 条，还有更早的提醒：--limit N 列出更多，--limit 0 列出全部",
            f"the newest {limit} shown; older alerts exist: --limit N for more, --limit 0 "
            "for every one"), highlight=False, markup=False, soft_wrap=True)


def _table(rows: list[AlertRecord], tz: str) -> Table:
    """One row per outbox row: what about (event, source), for whom (the watcher; a
    webhook row says it is that watcher's webhook), where to, and how it went."""
    table = Table(title=both("提醒", "alerts"))
    table.add_column(HEADERS["id"], justify="right")
    table.add_column(HEADERS["status"])
    table.add_column(HEADERS["event"])
    table.add_column(HEADERS["source"], overflow="fold")
    table.add_column(HEADERS["watcher"], overflow="fold")
    table.add_column(HEADERS["to"], no_wrap=True)  # an address cut in two is hard to copy
    table.add_column(HEADERS["tries"], justify="right")
    table.add_column(HEADERS["when"], overflow="fold")
    table.add_column(HEADERS["error"], overflow="fold", ratio=1)
    for r in rows:
        when = r.sent_at if r.status == "sent" else r.next_attempt_at
        status, event = (both(words.get(en, en), en) for words, en in
                         ((STATUS_ZH, r.status), (EVENT_ZH, r.event)))
        table.add_row(str(r.id), f"[{STYLE.get(r.status, '')}]{escape(status)}[/]", escape(event),
                      escape(r.source or "—"), escape(r.watcher or "—"), escape(_to(r)),
                      str(r.attempts), local_time(when, tz), escape(r.last_error or ""))
    return table


def _to(r: AlertRecord) -> str:
    """The address; for a webhook its kind and host only (the URL carries its secret)."""
    if r.channel == "email":
        return r.recipient
    kind = r.payload.get("format")
    label = f"{r.channel} ({kind})" if kind and kind != r.channel else r.channel
    return f"{label}: {redact(r.recipient)}"


@alerts.command()
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "all_", is_flag=True,
              help="Every failed alert: dead ones and those waiting to retry.")
@sources_option
@handle_errors
def retry(ids: tuple[int, ...], all_: bool, sources_file: Path) -> None:
    """Send failed alerts now (ID…, or --all): dead ones become pending again, and those
    waiting for their next attempt are due at once.  A sent alert is never sent again."""
    if bool(ids) == all_:
        raise BadInputError("give alert IDs or --all", zh="请写要重试的提醒 id（见 monitor "
                            "alerts list），或用 --all 重试全部失败的提醒（二者只能选一）")
    config = load(sources_file, quiet=True)
    with open_store(config) as store:
        repo = AlertsRepo(store)
        due = repo.retry(None if all_ else list(ids))
        refused = sorted(set(ids) - set(due))
        statuses = repo.statuses(refused) if refused else {}
    reasons = ", ".join(f"{i} ({REFUSED.get(statuses.get(i), 'unknown')})" for i in refused)
    said = "，".join(f"{i}（{REFUSED_ZH.get(statuses.get(i) or '', '不存在')}）"
                    for i in refused)
    console.print(both(f"{len(due)} 条提醒可立即发送" + (f"；未重试：{said}" if said else ""),
                       f"{len(due)} alert(s) due now"
                       + (f"; not retried: {reasons}" if reasons else "")),
                  highlight=False, markup=False, soft_wrap=True)
    if due:  # retry only requeues: say who sends them
        console.print(both("运行中的守护进程会在下一轮发送它们；没有守护进程时请运行 "
                           "monitor alerts deliver", "a running daemon sends them at its "
                           "next delivery round; without one, run: monitor alerts deliver"),
                      highlight=False, markup=False, soft_wrap=True)
    if refused and not due:
        raise SystemExit(3)


@alerts.command()
@sources_option
@handle_errors
def deliver(sources_file: Path) -> None:
    """Deliver the alerts that are due now (the daemon does this by itself)."""
    from alerts.delivery import Deliverer, deliver_stoppably

    config = load(sources_file, quiet=True)
    with open_store(config) as store:
        deliverer = Deliverer(config, store)
        report = asyncio.run(deliver_stoppably(deliverer))
    console.print(both(f"提醒：{delivered(report)}", report.describe()), highlight=False,
                  markup=False)
    if report.errors:
        from monitor import zh

    for line in report.errors:  # Chinese first, the English line (the server's words) after
        console.print(f"  {both(zh.delivery_failed(line), line)}", highlight=False,
                      markup=False, soft_wrap=True)
    stopped_delivery(deliverer, report)
