"""``monitor history`` and ``monitor show``: what a page said, and when."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from monitor.cli.common import (
    STATUSES,
    both,
    complete_source_names,
    console,
    err_console,
    handle_errors,
    headers,
    json_option,
    load_reading,
    open_store,
    parse_when,
    print_json,
    print_table,
    sources_option,
    to_jsonable,
    version_at,
    version_name,
)
from monitor.config import Config
from monitor.types import (
    KIND_LABELS,
    SETTINGS_ONLY_LABEL,
    UPGRADE_ONLY_LABEL,
    change_words,
    exact_time,
)
from storage.archive import Archive, GonePeriod, PageEvent, PageInfo, TimelineEntry
from storage.records import VersionInfo
from storage.verify import body_damage


def register(cli: click.Group) -> None:
    cli.add_command(history)
    cli.add_command(show)


@click.command()
@click.argument("name_or_url", shell_complete=complete_source_names)
@click.option("--documents", is_flag=True,
              help="A listing's documents (each addressable by its URL) instead.")
@sources_option
@json_option
@handle_errors
def history(name_or_url: str, documents: bool, sources_file: Path, as_json: bool) -> None:
    """List the versions of a page (by source name, or any page's URL: a document's too)."""
    config = load_reading(sources_file, plain_settings=True)
    if documents:
        _documents(config, name_or_url, as_json)
        return
    with open_store(config) as store:
        versions = store.history(name_or_url) if as_json else []
        src, page = store.resolve_page(name_or_url)
        archive = Archive(store)
        entries, events = archive.timeline(page.id or 0), archive.events(page.id or 0)
        info = archive.page(page.id or 0)
        if as_json:
            print_json(_timeline_json(src.name, info, versions, entries, events))
            return
    tz = config.settings.timezone
    # a document two listings list: one history, both named
    shared = f"；列于栏目 {'、'.join(info.listings)}" if len(info.listings) > 1 else ""
    table = Table(title=Text(both(f"{name_or_url} 的版本历史（时间为 {tz}{shared}）",
                                  f"history of {name_or_url} (times in {tz})")))
    for col in headers("version", "id", "fetched at", "hash", "title", "chars", "change",
                       "last confirmed"):
        table.add_column(col, overflow="fold")
    rows = [(e.fetched_at, 0, _version_row(e, tz)) for e in entries]
    rows += [(ev.at, 1, _event_row(ev, tz)) for ev in events]
    for _, _, row in sorted(rows, key=lambda r: (r[0], r[1])):
        table.add_row(*row)
    print_table(table, console)


def _timeline_json(source: str, page: PageInfo, versions: list[VersionInfo],
                   entries: list[TimelineEntry], events: list[PageEvent]) -> dict[str, Any]:
    """What the table shows, for programs: the page, its versions (each with its number,
    first seen and last confirmed) and its events, each list oldest first; times in the
    one form of ``storage.verify.canonical_time``.  The page's ``title`` is its own, its
    newest version's (a plain page has no other); a document's title on its listing is
    ``list_title`` (empty for a page that is no document), as ``list_date`` is."""
    timeline = {e.id: e for e in entries}
    newest = timeline.get(page.last_version_id or 0) or (entries[-1] if entries else None)
    out_page = {**to_jsonable(page), "title": newest.title if newest else "",
                "list_title": page.title}
    out_versions = []
    for v in versions:
        e = timeline.get(v.id)
        out_versions.append({**to_jsonable(v), "first_seen": to_jsonable(v.fetched_at),
                             "last_confirmed": to_jsonable(e.last_confirmed if e else None),
                             **_change_label(v, first=e is not None and e.previous_id is None
                                             and not e.changes)})
    out_events = [{**to_jsonable(ev), "label": KIND_LABELS.get(ev.kind, ev.kind)}
                  for ev in events]
    return {"source": source, "page": out_page, "versions": out_versions,
            "events": out_events}


def _change_label(v: VersionInfo, *, first: bool) -> dict[str, str | None]:
    """The version's change as the table labels it (``change_label``: 首次收录 for a
    page's first version), and ``reread``: "settings" or "rules" when the page itself
    did not change, only what reads it (its ``change_kind`` is then the difference's,
    e.g. ``reply_added`` for a heading the new ``content`` selector takes in: never a
    new reply), else null."""
    if not v.change_kind:
        return {"change_label": "首次收录" if first else None, "reread": None}
    label, _ = change_words(v.change_kind, v.change_summary or "")
    reread = {SETTINGS_ONLY_LABEL: "settings", UPGRADE_ONLY_LABEL: "rules"}.get(label)
    return {"change_label": label, "reread": reread}


def _version_row(e: TimelineEntry, tz: str) -> list[str | Text]:
    change = "首次收录" if e.previous_id is None and not e.changes else ""
    for c in e.changes:
        label, summary = change_words(c.kind, c.summary)  # a settings re-read: its own
        # "内容来回变化 (…)" says its kind itself
        text = summary if summary.startswith(label) else f"{label}: {summary}"
        change = f"{change}; {text}" if change else text
    # Text, not markup: titles and summaries come from the pages.
    return [f"第{e.number}版", str(e.id), exact_time(e.fetched_at, tz), e.content_hash[:12],
            Text(e.title), str(e.size), Text(change),
            exact_time(e.last_confirmed, tz) if e.last_confirmed else ""]


def _event_row(ev: PageEvent, tz: str) -> list[str | Text]:
    label = KIND_LABELS.get(ev.kind, ev.kind)
    what = f"{label}: {ev.summary}" if ev.summary else label
    if ev.kind == "failing":
        end = f"至 {exact_time(ev.until, tz)}" if ev.until else "仍在失败"
        what = f"{label} {ev.failures} 次（{end}）: {ev.summary}"
    elif ev.kind == "restored" and ev.failures:
        what += f"（此前连续失败 {ev.failures} 次）"
    return ["", "", exact_time(ev.at, tz), "", "", "", Text(what), ""]


def _documents(config: Config, name: str, as_json: bool) -> None:
    with open_store(config) as store:
        docs = [p for p in Archive(store).pages(name) if p.kind == "document"]
    if as_json:
        print_json(docs)
        return
    table = Table(title=Text(both(f"{name} 的文档：{len(docs)} 篇",
                                  f"documents of {name}: {len(docs)}")))
    for col in headers("page id", "list date", "title", "versions", "status", "url"):
        table.add_column(col, overflow="fold")
    for d in docs:
        said = STATUSES.get(d.status, d.status) + ("" if d.listed else "，已不在栏目中")
        others = [n for n in d.listings if n != d.source]  # one page, one history
        if others:
            said += "，亦列于栏目 " + "、".join(others)
        status = both(said, d.status if d.listed else f"{d.status}, unlisted")
        table.add_row(str(d.id), d.list_date, Text(d.title), str(d.versions), status,
                      Text(d.url))
    print_table(table, console)


@click.command()
@click.argument("target", shell_complete=complete_source_names)
@click.option("--at", "at", metavar="DATE|VERSION",
              help="The version current at this date (2026-05-01 = the end of that day) "
              "or date-time (2026-05-01T08:00), both in settings.timezone (the sources "
              "file's [settings], Asia/Shanghai by default) unless an offset is written "
              "(2026-05-01T08:00+00:00); or a version as history and show name it: "
              "第2版, 第2版（id 41）, #41; NAME or URL only.")
@click.option("--raw", is_flag=True, help="Print the raw body as fetched (bytes).")
@sources_option
@json_option
@handle_errors
def show(target: str, at: str | None, raw: bool, sources_file: Path, as_json: bool) -> None:
    """Print a version: VERSION_ID, or a source NAME/URL (latest, or --at DATE)."""
    config = load_reading(sources_file, plain_settings=True)
    gone: GonePeriod | None = None
    when: datetime | None = None
    by_page = not (target.isdigit() and not at)  # a page at a time: was it there then?
    with open_store(config) as store:
        if not by_page:
            version = store.version(int(target))
        elif at:
            version = version_at(store, target, at, config.settings.timezone)
        else:
            version = store.latest_version(target)
        if by_page:  # --at a version (第2版): the page at that version's own time
            when = (None if not at else version.fetched_at if version_name(at)
                    else parse_when(at, config.settings.timezone))
            gone = Archive(store).gone_at(version.page_id, when or datetime.now(UTC))
        if raw:
            body = store.raw_body(version.id)
            sys.stdout.buffer.write(body)
            sys.stdout.buffer.flush()
            if damage := body_damage(body, version.raw_sha256, number=version.number,
                                     version_id=version.id):
                err_console.print(f"警告：{damage}", highlight=False, markup=False,
                                  soft_wrap=True)
                sys.exit(1)
            return
    if as_json:
        print_json({**to_jsonable(version), "gone": to_jsonable(gone)} if by_page
                   else version)
        return
    tz = config.settings.timezone
    if gone is not None:
        console.print(_gone_note(gone, when, tz), highlight=False, markup=False,
                      soft_wrap=True)
    # soft_wrap: the text exactly as stored, one paragraph a line (rich would otherwise
    # break lines at the console width, 80 columns when piped, inside sentences).
    console.print(f"[bold]{escape(version.title)}[/]", highlight=False, markup=True,
                  soft_wrap=True)
    # the version as show --at and diff --from/--to take it back: 第N版（id M）
    console.print(f"{version.url}\n第{version.number}版（id {version.id}） · 抓取于 "
                  f"{exact_time(version.fetched_at, tz)} · {version.content_hash[:12]}",
                  highlight=False, markup=False, soft_wrap=True)
    for key, value in version.metadata.items():
        console.print(f"  {key}: {value}", highlight=False, markup=False, soft_wrap=True)
    console.print()
    console.print(version.text, highlight=False, markup=False, soft_wrap=True)
    if version.attachments:
        console.print()
    for a in version.attachments:  # name, format, size, extraction status, link
        # a link answering 404/410: the file shown is the archived one (monitor.attachments)
        missing = f" · 链接已无法下载（{a['missing']}），存档保留原文件" if a.get("missing") \
            else ""
        console.print(f"附件 {a.get('name', '')} · {str(a.get('format') or '?').upper()} · "
                      f"{a.get('size') or 0} B · {a.get('status')}{missing} · {a.get('url')}",
                      highlight=False, markup=False, soft_wrap=True)


def _gone_note(gone: GonePeriod, at: datetime | None, tz: str) -> str:
    """Chinese first: the page was not there at the time asked (``at``; None: now), since
    when and why; the version below is the one before, not what a reader saw then (with
    ``at``) or sees now (without)."""
    when = f"{exact_time(at, tz)} 时" if at else "现在"
    back = f"，{exact_time(gone.until, tz)} 恢复" if gone.until else "，至今未恢复"
    since = exact_time(gone.since, tz)
    if at:
        then, en = "并非当时在线的内容", f"the page was gone at that time: failing since {since}"
    else:
        then, en = ("现在网站上已看不到", f"the page is gone now: failing since {since}; "
                    "below is its last version before it went")
    return (f"注意：{when}该页面已无法访问（页面已删除）：自 {since} "
            f"起{gone.reason}，{exact_time(gone.recorded, tz)} 记为页面已删除{back}。"
            f"以下是它消失前的最后一版，{then}。({en})\n")
