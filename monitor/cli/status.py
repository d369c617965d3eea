"""``monitor status``: a health line, then each source's last check, next check, last
change and failures.

The health line is what the database can tell from outside the daemon: the newest check
row (``stale`` when it is older than twice the shortest interval plus a minute: nothing
is being stored) and the share of failed checks in the last hour (``failing`` from
``settings.health_failure_share``, with at least 3 failures).  The daemon's own view,
with the config state, is ``/healthz``.

A page being checked shows ``running on host:pid`` (its lease).  A lease can outlive
its holder: one past its end reads "lease of … ran out" (any check takes it), one held
by a process of this machine that no longer exists (a killed ``monitor check``) "held
by …, which has ended", with a ``leases:`` line above the table — the next check takes
those over at once, and the backlog line counts them as not started.

The rows are read through the database driver alone (``storage.glance``) when the
schema is at head: no SQLAlchemy to import, so the command answers at once; otherwise
(a new database, one to migrate) through ``Store`` and ``Schedule``, as the daemon does.
The read starts as soon as the database is known (``EarlyRead``: from
``MONITOR_DATABASE_URL`` at once, else from the settings before the cached sources are
rebuilt) and, on PostgreSQL, runs in a thread while the sources load and the hosts'
capacity is computed: at 10,000 sources on PostgreSQL the server's ~70 ms are no longer waited for
after all of that.

Piped to a file or another program, nothing is wrapped (a name or URL stays whole on its
line, to grep); on a terminal long cells fold to the width of the window.

**Many sources on a terminal.**  From ``SUMMARY_FROM`` (50) enabled sources a terminal
shows, under the lines above, a count of the sources by status and only the rows that
need someone (``attention``: failing, gone, held by an ended process, last check an
error, due and not started, a listing's documents gone; the most urgent first, at most
``SHOWN``), then how many more there are: a table of 10,000 rows is not read on a screen,
and rich lays it out in ~5 s.  ``--all`` shows every row as before; piped output and
``--json`` always have every row (scripts read them), unchanged.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from monitor import capacity
from monitor.cli.common import (
    STATUSES,
    Columns,
    both,
    handle_errors,
    headers,
    json_option,
    load_reading,
    local_time,
    open_store,
    out_is_terminal,
    plain_table,
    print_json,
    result_of,
    sources_option,
    start_logging,
    to_jsonable,
)
from monitor.config import Config, SourceConfig
from monitor.holder import ended_here
from monitor.types import exact_time
from storage import glance
from storage.glance import RecentChecks, SourceStatus

if TYPE_CHECKING:  # rich's table only on a terminal
    from rich.table import Table
    from rich.text import Text

ENV_URL = "MONITOR_DATABASE_URL"  # the setting database_url, from the environment
STYLE = {"ok": "green", "failing": "red", "gone": "magenta", "new": "cyan"}


def register(cli: click.Group) -> None:
    cli.add_command(status)


SUMMARY_FROM = 50  # enabled sources: from this many, a terminal shows the summary
SHOWN = 20  # rows of the summary's table of sources needing attention


@click.command()
@sources_option
@click.option("--all", "every", is_flag=True,
              help=f"Every source's row on a terminal too (from {SUMMARY_FROM} sources a "
              "terminal shows a summary and the sources needing attention; piped or "
              "--json: every row always).")
@json_option
@handle_errors
def status(sources_file: Path, every: bool, as_json: bool) -> None:
    """Show each source's last check, next check, last change and failure streak."""
    with collector_paused():
        _show(sources_file, every, as_json)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while ``status`` makes its objects: the
    cached sources, the rows, their cells (at 10,000 sources ~1.5 million, in bursts
    that set off ~160 collections walking what was made so far, ~80 M instructions, ~5%
    of the command) and almost none of them garbage in a cycle.  Enabled again after,
    as it was: ``status`` called in-process (tests) leaves nothing uncollectable."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _show(sources_file: Path, every: bool, as_json: bool) -> None:
    early = EarlyRead(utcnow() - timedelta(hours=1))
    early.start(os.environ.get(ENV_URL))  # the environment's URL wins over the file's
    # only the Store below may log; the settings as validated last time (no pydantic)
    config = load_reading(sources_file, logging=False, plain_settings=True,
                          settings_read=lambda settings: early.start(settings.database_url))
    # what needs no row, done while the rows are read
    behind = capacity.behind(config.sources, config.settings)
    terminal = not as_json and out_is_terminal()
    if terminal:
        from rich.text import Text

        from monitor.cli.common import console
    elif not as_json:
        from rich import cells  # noqa: F401  (plain_table's, loaded now)
    rows, recent = read_status(config, early)
    if as_json:
        print_json(status_json(rows, recent, config, behind))
        return
    tz = config.settings.timezone
    # Chinese first, the English (--json's ``line``) in brackets after it (``both``)
    lines = [both(health_zh(recent, config), health_line(recent, config))]
    lines += [both(capacity_zh(h), f"capacity: {h.describe()}") for h in behind]
    lines += [line for line in (backlog_text(rows), stale_leases_text(rows)) if line]
    if not terminal:  # piped: the same text, without rich's layout (10,000 rows)
        now = utcnow()
        click.echo("\n".join([*lines, *plain_table(table_title(tz), COLUMNS,
                                                   (_cells(r, tz, now) for r in rows))]))
        return
    summary = not every and len(rows) >= SUMMARY_FROM
    if summary:
        needing = attention(rows, utcnow())
        lines.append(summary_line(rows, len(needing)))
        rows = needing[:SHOWN]
    for i, line in enumerate(lines):
        console.print(Text(line, style="yellow" if i else ""), soft_wrap=True)
    if rows:
        console.print(status_table(rows, tz, "sources needing attention" if summary
                                   else "sources"))


def summary_line(rows: list[SourceStatus], needing: int) -> str:
    """``来源 10,000 个（正常 9,500，连续失败 500）；500 个需要处理，下表列出最紧急的 20 个；
    全部来源：monitor status --all（或 monitor status | less）（sources: 10,000 (9,500 ok,
    500 failing); 500 need attention, the first 20 below; every source: monitor status
    --all (or monitor status | less)）``.  A paused source counts as ``paused`` (已暂停)
    whatever its page's status (its row says ``已暂停（new）``)."""
    counts: dict[str, int] = {}
    for r in rows:
        key = "paused" if r.paused else r.status
        counts[key] = counts.get(key, 0) + 1
    ordered = sorted(counts.items(), key=lambda kn: -kn[1])
    by_status = ", ".join(f"{n:,} {k}" for k, n in ordered)
    by_status_zh = "，".join(f"{STATUSES.get(k, k)} {n:,}" for k, n in ordered)
    if not needing:
        told, said = "none needs attention", "没有需要处理的来源"
    elif needing <= SHOWN:
        told, said = f"{needing:,} need attention, below", f"{needing:,} 个需要处理，见下表"
    else:
        told = f"{needing:,} need attention, the first {SHOWN} below"
        said = f"{needing:,} 个需要处理，下表列出最紧急的 {SHOWN} 个"
    return both(f"来源 {len(rows):,} 个（{by_status_zh}）；{said}；全部来源：monitor status "
                "--all（或 monitor status | less）",
                f"sources: {len(rows):,} ({by_status}); {told}; every source: monitor "
                "status --all (or monitor status | less)")


# a page's status (``pages.status``) and ``paused``, in the summary line
def attention(rows: list[SourceStatus], now: datetime) -> list[SourceStatus]:
    """The rows someone should look at, the most urgent first: failing (the longest
    streak first), gone, held by a process that has ended, last check an error, due and
    not started (the oldest slot first), a listing with documents gone; in file order
    within each."""
    ranked = []
    for i, r in enumerate(rows):
        rank = _urgency(r, now)
        if rank is not None:
            ranked.append((rank, i, r))
    ranked.sort(key=lambda x: (x[0], x[1]))
    return [r for _, _, r in ranked]


def _urgency(r: SourceStatus, now: datetime) -> tuple[int, float] | None:
    lease = lease_of(r, now)
    if r.status == "failing":
        return 0, -r.failure_streak
    if r.status == "gone":
        return 1, 0
    if lease == "ended":
        return 2, 0
    if r.last_outcome == "error":
        return 3, -r.failure_streak
    if lease in (None, "ran out") and _due(r, now):
        return 4, r.next_check_at.timestamp() if r.next_check_at else 0
    if r.documents_gone:
        return 5, -r.documents_gone
    return None


def status_json(rows: list[SourceStatus], recent: RecentChecks, config: Config,
                behind: list[capacity.HostLoad] | None = None) -> dict[str, object]:
    """What the text shows, for programs: the lines above the table as fields (each
    with its ``line``, the text's words; ``backlog`` and ``leases`` null when the text
    has no such line, ``capacity`` the hosts behind: ``behind``, else computed), then
    ``sources``, each row with what its lease means (see ``lease_of``)."""
    now = utcnow()
    if behind is None:
        behind = capacity.behind(config.sources, config.settings)
    return {
        "health": health(recent, config),
        "capacity": [{"host": h.host, "sources": h.sources, "period_seconds": h.period,
                      "need_seconds": round(h.need, 1), "line": f"capacity: {h.describe()}"}
                     for h in behind],
        "backlog": backlog(rows),
        "leases": leases(rows),
        "sources": sources_json(rows, now),
    }


_FIELDS = tuple(f.name for f in fields(SourceStatus))
_VALUES = attrgetter(*_FIELDS)


def sources_json(rows: list[SourceStatus], now: datetime) -> Columns:
    """Each row's fields, in order, then ``lease``, kept column by column (``Columns``:
    written by ``indented_json`` without Python code per row, the datetimes as they are
    until then)."""
    columns = list(zip(*map(_VALUES, rows), strict=True)) or [() for _ in _FIELDS]
    return Columns((*_FIELDS, "lease"), [*columns, [lease_of(r, now) for r in rows]])


def read_status(config: Config, early: EarlyRead | None = None
                ) -> tuple[list[SourceStatus], RecentChecks]:
    """Each source's row (a paused one marked ``paused``) and the last hour's checks:
    through the driver when the schema is at head, else through ``Store`` (which creates
    or migrates it).  ``early``: a read of the database already started, used when it
    is of the settings' database."""
    listed = list(config.sources) if config.broken is None else _stored(config)
    early = early or EarlyRead(utcnow() - timedelta(hours=1))
    rows, recent = _read_status(config, listed, early)
    paused = {s.name for s in listed if not s.enabled}
    return [replace(r, paused=True) if r.source in paused else r for r in rows], recent


def _stored(config: Config) -> list[SourceConfig]:
    """The sources the database has (as last synced), when the file does not load:
    name, URL, whether paused, schedule and kind, all that ``status`` shows of them."""
    start_logging(config, quiet=True)
    with open_store(config) as store:
        stored = store.stored_sources()
    return [SourceConfig(
        name=name, url=url, enabled=c.get("enabled") is not False,
        interval=timedelta(seconds=c["interval"]) if c.get("interval") else None,
        cron=c.get("cron"), kind=str(c.get("kind") or "page"), tags=tuple(c.get("tags") or ()))
        for name, url, c in stored]


class EarlyRead:
    """The rows' read (``storage.glance.begin``), started as soon as the database is
    known: from ``MONITOR_DATABASE_URL`` at once (the environment's wins over the
    file's), else when the settings are read, before the sources are loaded.  On
    PostgreSQL the server's work then goes on while this process loads the sources and
    computes what needs no row (SQLite is read when the rows are asked for); a start
    with another URL than the one the settings end with is not used (``reading``).
    Issue 12: on PostgreSQL the server's ~70 ms were waited for after all of that, on
    top of the command's CPU."""

    def __init__(self, since: datetime) -> None:
        self.since = since
        self.started: dict[str, glance.Reading] = {}

    def start(self, url: str | None) -> None:
        if url and url not in self.started:
            self.started[url] = glance.begin(url, self.since)

    def reading(self, url: str) -> glance.Reading:
        self.start(url)
        return self.started[url]


def _read_status(config: Config, sources: list[SourceConfig], early: EarlyRead
                 ) -> tuple[list[SourceStatus], RecentChecks]:
    read = early.reading(config.settings.database_url).result(sources)
    if read is not None:
        return read
    from storage.schedule import Schedule

    start_logging(config, quiet=True)
    with open_store(config) as store:
        # Reading claims nothing: no worker name (and no import of the check pipeline).
        schedule = Schedule(store, "monitor-status", config.settings.lease_seconds)
        return schedule.status(sources), schedule.recent_checks(early.since)


def utcnow() -> datetime:
    return datetime.now(UTC)


def health(recent: RecentChecks, config: Config) -> dict[str, object]:
    """The health line's facts: ``status`` (``ok``, ``stale``, ``failing``, ``stale,
    failing``, or ``no checks``) and its ``problems``, the newest check and its age in
    seconds, and the last hour's checks and failures; then the ``line``
    (``health_line``)."""
    newest = recent.newest_check_at
    words, age = _health(recent, config)
    status = (", ".join(words) or "ok") if newest is not None else "no checks"
    return {"status": status, "problems": words, "newest_check_at": to_jsonable(newest),
            "newest_check_age_seconds": None if age is None else round(age, 1),
            "checks_last_hour": recent.checks, "failed_last_hour": recent.errors,
            "line": _health_en(recent, config, words, age)}


def health_line(recent: RecentChecks, config: Config) -> str:
    return _health_en(recent, config, *_health(recent, config))


def _health_en(recent: RecentChecks, config: Config, words: list[str], age: float | None
               ) -> str:
    newest = recent.newest_check_at
    if newest is None or age is None:
        return "health: no checks yet"
    return (f"health: {', '.join(words) or 'ok'} — newest check "
            f"{exact_time(newest, config.settings.timezone, seconds=False)} "
            f"({_ago(age)} ago); "
            f"{recent.errors} of {recent.checks} checks failed in the last hour")


HEALTH_ZH = {"ok": "正常", "stale": "停滞（检查结果久未更新）", "failing": "失败过多"}


def health_zh(recent: RecentChecks, config: Config) -> str:
    """The health line's Chinese (``health_line`` is its English, and --json's)."""
    newest = recent.newest_check_at
    words, age = _health(recent, config)
    if newest is None or age is None:
        return "健康：尚无检查"
    state = "，".join(HEALTH_ZH[w] for w in words) or HEALTH_ZH["ok"]
    return (f"健康：{state} — 最新检查 "
            f"{exact_time(newest, config.settings.timezone, seconds=False)}"
            f"（{_ago_zh(age)}前）；最近一小时 {recent.checks} 次检查中 {recent.errors} 次失败")


def capacity_zh(h: capacity.HostLoad) -> str:
    """A host behind (``HostLoad.describe`` in English), in Chinese."""
    return (f"容量：主机 {h.host} 的 {h.sources:,} 个来源每 {h.period:g} 秒检查一轮，约需 "
            f"{h.need:,.0f} 秒（host_delay {h.delay:g} 秒，每次检查约 {capacity.CHECK_SECONDS:g} "
            f"秒，同时 {h.concurrency} 个），跟不上：请提高它的 host_concurrency、降低 host_delay "
            "或延长检查间隔")


def _health(recent: RecentChecks, config: Config) -> tuple[list[str], float | None]:
    """What is wrong (``stale``, ``failing``) and the newest check's age in seconds."""
    newest = recent.newest_check_at
    age = (utcnow() - newest).total_seconds() if newest is not None else None
    words = []
    shortest = min((s.interval.total_seconds() for s in config.sources
                    if s.enabled and s.interval is not None), default=None)
    if age is not None and shortest is not None and age > 2 * shortest + 60:
        words.append("stale")
    share = config.settings.health_failure_share
    if recent.errors >= 3 and recent.errors >= share * recent.checks:
        words.append("failing")
    return words, age


def lease_of(r: SourceStatus, now: datetime) -> str | None:
    """What the lease on a source's page says: None (no lease), ``running`` (its holder
    renews it), ``ran out`` (past its end: the holder stopped without giving it back,
    and any check may take it) or ``ended`` (the holder is a process of this machine
    that no longer exists — a killed ``monitor check``: the next check takes it over at
    once, ``monitor.holder.ended_here``)."""
    if not r.lease_owner:
        return None
    if ended_here(r.lease_owner):
        return "ended"
    if r.lease_expires is not None and r.lease_expires <= now:
        return "ran out"
    return "running"


def backlog(rows: list[SourceStatus]) -> dict[str, object] | None:
    """Sources whose slot has passed (or that were never checked) and whose check has
    not started (no daemon runs, or their host is behind); None when there are none.
    A source whose lease is held by a process that is gone counts as not started:
    nothing is checking it.  ``oldest_slot_at`` is None when none of them has a slot.
    Then the ``line`` (the text's, in English)."""
    found = _backlog(rows)
    if found is None:
        return None
    due, oldest, age = found
    return {"due_not_started": len(due), "sources": [r.source for r in due],
            "oldest_slot_at": to_jsonable(oldest),
            "oldest_slot_age_seconds": None if age is None else round(age, 1),
            "line": _backlog_en(len(due), age)}


def _backlog_en(due: int, age: float | None) -> str:
    oldest = f"; the oldest slot passed {_ago(age)} ago" if age is not None else ""
    return f"backlog: {due} sources due and not started{oldest}"


def backlog_text(rows: list[SourceStatus]) -> str | None:
    """The backlog line as the text prints it: Chinese first, the English (--json's
    ``line``) after."""
    found = _backlog(rows)
    if found is None:
        return None
    due, _, age = found
    oldest = f"；最早的已过检查时间 {_ago_zh(age)}" if age is not None else ""
    return both(f"积压：{len(due)} 个来源已到检查时间但尚未开始{oldest}",
                _backlog_en(len(due), age))


def _backlog(rows: list[SourceStatus]
             ) -> tuple[list[SourceStatus], datetime | None, float | None] | None:
    """The rows due and not started, the oldest slot among them and its age in seconds."""
    now = utcnow()
    due = [r for r in rows if lease_of(r, now) in (None, "ran out", "ended")
           and _due(r, now)]
    if not due:
        return None
    slots = [r.next_check_at for r in due if r.next_check_at is not None]
    oldest = min(slots) if slots else None
    return due, oldest, (now - oldest).total_seconds() if oldest is not None else None


def _due(r: SourceStatus, now: datetime) -> bool:
    """Its slot has passed, or it was never checked at all.  A source checked by
    ``monitor check`` only (cron, no daemon) has no slot: it is not behind anything."""
    if r.paused:  # not checked until resumed: behind nothing
        return False
    if r.next_check_at is None:
        return r.last_check_at is None
    return r.next_check_at <= now


def _ago_zh(seconds: float) -> str:
    for unit, size in (("天", 86400), ("小时", 3600), ("分钟", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{max(0.0, seconds):.0f} 秒"


def _ago(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{max(0.0, seconds):.0f} s"


COLUMNS = headers("source", "status", "last check", "result", "next check", "last change",
                  "failures", "versions")


def status_table(rows: list[SourceStatus], tz: str, what: str = "sources") -> Table:
    """The table on a terminal: cells fold to the window's width, the status coloured;
    times to the minute in ``tz``, named in the title (``sources — times in
    Asia/Shanghai (+08:00)``) rather than in every cell."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=table_title(tz, what))
    for col in COLUMNS:
        table.add_column(col, overflow="fold")
    now = utcnow()
    for r in rows:
        source, _, *rest = _cells(r, tz, now)
        # Text, not markup: errors come from servers and pages.
        table.add_row(Text(source), _status_cell(r, STYLE.get(r.status, "")),
                      *(Text(c) for c in rest))
    return table


def _cells(r: SourceStatus, tz: str, now: datetime) -> list[str]:
    """A row's cells as text (the table's on a terminal, the lines' when piped)."""
    # Chinese first, as check's cells (``result_of``)
    result = result_of(r.last_outcome, r.last_http_status,
                          _cut(r.last_error, RESULT_CHARS) if r.last_error else None)
    status = _word(r) + (gone_documents(r.documents_gone) if r.documents_gone else "")
    return [r.source, status, local_time(r.last_check_at, tz), result, _next(r, tz, now),
            local_time(r.last_change_at, tz), str(r.failure_streak), str(r.versions)]


RESULT_CHARS = 80  # of an error in the result column: the whole one is in `monitor show`


def _cut(text: str, n: int) -> str:
    """``text`` in at most ``n`` characters, a ``…`` where it is cut (so a reader knows
    there is more, and does not take the cut for the message's end)."""
    return text if len(text) <= n else text[:n - 1] + "…"


def table_title(tz: str, what: str = "sources") -> str:
    """``来源 — 时间为 Asia/Shanghai (+08:00)（sources — times in Asia/Shanghai (+08:00)）``."""
    zone = zone_name(tz)
    return both(f"{TITLE_ZH.get(what, what)} — 时间为 {zone}", f"{what} — times in {zone}")


TITLE_ZH = {"sources": "来源", "sources needing attention": "需要处理的来源"}


def zone_name(tz: str) -> str:
    """``Asia/Shanghai (+08:00)``: the zone and its offset now."""
    offset = datetime.now(ZoneInfo(tz)).strftime("%z")
    return f"{tz} ({offset[:3]}:{offset[3:]})"


def _status_cell(r: SourceStatus, style: str) -> Text:
    """The page's status; a listing's documents whose page is gone are counted after it
    (the column reads fine while replies it listed are deleted)."""
    from rich.text import Text

    cell = Text(_word(r), style="dim" if r.paused else style)
    if r.documents_gone:
        cell.append(gone_documents(r.documents_gone), style=STYLE.get("gone", ""))
    return cell


def gone_documents(n: int) -> str:
    """After a listing's status: ``，1 篇文档已删除``."""
    return f"，{n} 篇文档已删除"


def _word(r: SourceStatus) -> str:
    """The status column: the page's status Chinese first (``正常（ok）``), ``已暂停`` for a
    paused source (its page's status is the last one seen, and stays so until it is
    resumed)."""
    if r.paused:
        return f"已暂停（{r.status}）"
    return both(STATUSES.get(r.status, r.status), r.status)


def stale_leases(rows: list[SourceStatus]) -> dict[str, object] | None:
    """Leases left by processes of this machine that have ended (a killed ``monitor
    check`` leaves those of the pages it held): harmless, since the next check takes
    them over, but a user looking at a stall should see them.  None when there are none."""
    now = utcnow()
    held = [r.lease_owner or "" for r in rows if lease_of(r, now) == "ended"]
    if not held:
        return None
    return {"ended": len(held), "holders": sorted(set(held))}


def leases(rows: list[SourceStatus]) -> dict[str, object] | None:
    """``stale_leases`` with its ``line`` (the text's, in English), for --json."""
    facts = stale_leases(rows)
    return None if facts is None else {**facts, "line": _stale_leases_en(facts)}


def _stale_leases_en(facts: dict[str, object]) -> str:
    owners: list[str] = facts["holders"]  # type: ignore[assignment]
    return (f"leases: {facts['ended']} sources held by ended processes "
            f"({', '.join(owners[:3])}{', …' if len(owners) > 3 else ''}); "
            "the next check takes them over")


def stale_leases_text(rows: list[SourceStatus]) -> str | None:
    """The leases line as the text prints it: Chinese first, the English (--json's
    ``line``) after."""
    facts = stale_leases(rows)
    if facts is None:
        return None
    owners: list[str] = facts["holders"]  # type: ignore[assignment]
    shown = "、".join(owners[:3]) + ("等" if len(owners) > 3 else "")
    return both(f"租约：{facts['ended']} 个来源被已结束的进程（{shown}）占用；下次检查会接管",
                _stale_leases_en(facts))


def _next(r: SourceStatus, tz: str, now: datetime) -> str:
    if r.paused:
        return "— (已暂停 paused: enabled = false)"
    lease = lease_of(r, now)  # Chinese first, the English words after (``both``)
    if lease == "running":
        return both(f"正在由 {r.lease_owner} 检查", f"running on {r.lease_owner}")
    if lease == "ended":
        return both(f"被已结束的进程 {r.lease_owner} 占用，下次检查接管",
                    f"held by {r.lease_owner}, which has ended")
    if lease == "ran out":
        at = local_time(r.next_check_at, tz) if r.next_check_at else None
        return both(f"{at or '启动后立即'}，{r.lease_owner} 的租约已过期",
                    f"{at or 'at start'} (lease of {r.lease_owner} ran out)")
    if r.last_check_at is None and r.next_check_at is None:
        return AT_START
    return local_time(r.next_check_at, tz)


AT_START = both("启动后立即", "at start")  # a source never checked, with no slot yet
