"""``monitor diff``: what changed between two versions, down to the character.

    monitor diff 41 57                                 two version ids
    monitor diff hb-ai-plan --from 2026-05-01 --to 2026-06-01   as it was at the end of
                                                                each date (like show --at)
    monitor diff hb-ai-plan                            its last change
    monitor diff 57                                    a version against the one before
    monitor diff hb-ai-plan --from 第2版 --to 第5版      two versions as history numbers
                                                       them (or 第2版（id 41）, #41)

Coloured on a terminal; plain text with --no-color or when piped; --html FILE writes a
self-contained page (inline and side by side); like ``export``, it never overwrites a
file that exists unless ``--force``.  Attachments added, removed or replaced
between the two versions follow the page's diff, each with its link and, for a replaced
file, the diff of its text (or why there is none: a scan, a file that did not download).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from rich.text import Text

from monitor.cli.common import (
    ChineseUsage,
    both,
    complete_source_names,
    console,
    err_console,
    handle_errors,
    json_option,
    load_reading,
    open_store,
    point_in_time,
    print_json,
    refuse_existing,
    sources_option,
    version_at,
    version_name,
)
from monitor.compare import Comparison, compare
from monitor.errors import BadInputError
from monitor.render import render_terminal, render_text
from monitor.types import REREAD_WHY, exact_time
from storage import Store
from storage.archive import Archive
from storage.records import VersionFull

SETTINGS_NOTE = (f"注意：{REREAD_WHY['settings']}：下方按存储的版本比较，"
                 "差异中也有设置带来的部分（变更记录和提醒只含页面本身的修改）。"
                 "（note: the source's settings changed between the two versions; they are "
                 "compared as stored, the settings' part of the difference included）")
RULES_NOTE = (f"注意：{REREAD_WHY['rules']}："
              "下方按存储的版本比较，差异中也有规则带来的部分（变更记录和提醒只含页面本身的修改）。"
              "（note: monitor's reading rules changed between the two versions; they are "
              "compared as stored, the rules' part of the difference included）")
NOTES = {"settings": SETTINGS_NOTE, "rules": RULES_NOTE}


def register(cli: click.Group) -> None:
    cli.add_command(diff)


@click.command(cls=ChineseUsage)
@click.argument("targets", nargs=-1, metavar="A [B] | NAME",
                shell_complete=complete_source_names)
@click.option("--from", "since", metavar="DATE|VERSION",
              help="NAME as it was at this date: 2026-05-01 = the end of that day in "
              "settings.timezone, like show --at (2026-05-01T00:00 for its start); or a "
              "version as history and show name it: 第2版, 第2版（id 41）, #41.")
@click.option("--to", "until", metavar="DATE|VERSION",
              help="…compared with NAME as it was at this date (the end of it; default: "
              "now), or with this version.")
@click.option("--context", default=1, show_default=True, type=click.IntRange(0, 1000),
              help="Unchanged paragraphs shown around each change.")
@click.option("--no-color", is_flag=True, help="Plain text even on a terminal.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the diff as a self-contained HTML file (one that exists is "
              "refused unless --force).")
@click.option("--force", is_flag=True, help="Overwrite the --html file if it exists.")
@sources_option
@json_option
@handle_errors
def diff(targets: tuple[str, ...], since: str | None, until: str | None, context: int,
         no_color: bool, html_file: Path | None, force: bool, sources_file: Path,
         as_json: bool) -> None:
    """Show what changed between two versions (ids), between a page's versions at two
    dates (--from/--to), or in a page's last change."""
    _counted(targets)  # a usage error before anything is opened
    refuse_existing((html_file,), force=force)
    config = load_reading(sources_file, plain_settings=True)
    tz = config.settings.timezone
    with open_store(config) as store:
        a, b = pick(store, targets, since, until, tz)
        c = compare(store, a, b, timeout=config.settings.diff_timeout)
        cause = Archive(store).reread_cause(a, b)
    old, new = c.old, c.new
    if old.page_id != new.page_id:  # allowed (a page that moved, two copies), never silent
        err_console.print(both(
            f"注意：id {old.id} 是 {old.source}（{old.url}）的版本，id {new.id} 是 {new.source}"
            f"（{new.url}）的版本：比较的是两个不同的页面",
            f"warning: version {old.id} is of {old.source} ({old.url}) and version {new.id} "
            f"of {new.source} ({new.url}): two different pages compared"),
            highlight=False, markup=False, soft_wrap=True)
    if html_file is not None:
        from monitor.web.views import diff_document  # the web stack only for --html

        html_file.write_text(diff_document(c, tz, context=context), encoding="utf-8")
        err_console.print(both(f"已写入 {html_file}", f"wrote {html_file}"), highlight=False,
                          markup=False, soft_wrap=True)
    if as_json:
        print_json({"old": _ref(c, old=True), "new": _ref(c, old=False), "stats": c.stats,
                    "same_version": c.old.id == c.new.id, "settings_changed": cause == "settings",
                    "rules_changed": cause == "rules",
                    "title_changed": c.title_changed, "metadata_changes": c.metadata,
                    "text": render_text(c.diff, context=context),
                    "attachments": [{**a, "text": t} for a, t in zip(
                        c.attachments, c.attachment_texts(context=context), strict=True)]})
        return
    if c.old.id == c.new.id:
        click.echo(_same(c, since, until, tz))
        return
    # compared as stored, the settings' part too: said, as the web diff says it
    show(c, tz, color=console.is_terminal and not no_color, context=context,
         note=NOTES.get(cause or ""))


def pick(store: Store, targets: tuple[str, ...], since: str | None, until: str | None,
         tz: str) -> tuple[int, int]:
    """The (old, new) version ids the arguments mean."""
    if len(targets) == 2:
        ids = [int(t) if t.isdigit() else (version_name(t) or (None, None))[1]
               for t in targets]
        if None in ids:
            raise BadInputError(
                "two arguments are two version ids: monitor diff 41 57",
                zh="两个参数应是两个版本的 id，如 monitor diff 41 57（版本的 id 见 "
                "monitor history 来源名；也可写 第2版（id 41））；比较某来源的两个版本："
                "monitor diff 来源名 --from 第2版 --to 第5版")
        return _in_time_order(store, int(ids[0] or 0), int(ids[1] or 0), tz)
    _counted(targets)
    target = targets[0]
    if since or until:
        return _at_dates(store, target, since, until, tz)
    if target.isdigit():
        return _previous(store, int(target)), int(target)
    return Archive(store).last_change(target)


def _counted(targets: tuple[str, ...]) -> None:
    """One argument or two: none, or three, is bad input (exit 2), said in Chinese."""
    if len(targets) not in (1, 2):
        raise BadInputError(
            "give two version ids, or one source name or URL",
            zh=("缺少参数：" if not targets else "参数过多：") + "请写两个版本的 id（monitor diff "
            "41 57），或一个来源名称或网址（monitor diff 来源名：它最近的变化）")


def _at_dates(store: Store, target: str, since: str | None, until: str | None,
              tz: str) -> tuple[int, int]:
    """``--from``/``--to``: the versions current at the end of each date (``--to``
    defaults to now).  No version by ``--from`` is an error that says so."""
    if not since:
        raise BadInputError("--to needs --from", zh=f"--to 需要同时写 --from（从哪个日期或版本"
                            f"开始比较），如 monitor diff {target} --from 2026-05-01 --to {until}")
    dated = version_name(since) is None  # --from a date, not a version (第2版, #41)
    start = point_in_time(since, tz, start=True) if dated else None
    if start is not None and start > datetime.now(UTC):
        raise BadInputError(f"--from {since} is in the future: nothing to compare yet",
                            zh=f"--from {since} 是将来的时间，还没有可比较的版本")
    if until and dated and version_name(until) is None and \
            point_in_time(until, tz) < point_in_time(since, tz):
        raise _backwards(since, until)
    new = version_at(store, target, until, tz) if until else store.latest_version(target)
    try:
        old = version_at(store, target, since, tz)
    except KeyError as exc:  # --from before the first version: compare from the first
        first = Archive(store).first_version(new.page_id)
        if first is None or not dated:
            raise
        old = store.version(first[0])
        err_console.print(
            f"注意：--from {since} 时 {target} 还没有任何版本，从第{old.number}版（id {old.id}，"
            f"抓取于 {exact_time(old.fetched_at, tz)}）开始比较。({exc.args[0]}; starting "
            "from it)", highlight=False, markup=False, soft_wrap=True)
    if (old.fetched_at, old.id) > (new.fetched_at, new.id):  # versions named backwards
        raise _backwards(since, until or "now")
    return old.id, new.id


def _backwards(since: str, until: str) -> BadInputError:
    return BadInputError(f"--to {until} is before --from {since}",
                         zh=f"--to {until} 早于 --from {since}：请把较早的写在 --from")


def _in_time_order(store: Store, a: int, b: int, tz: str) -> tuple[int, int]:
    """Two version ids, older first: ``diff 10 1`` (the newer first) is compared as
    ``diff 1 10``, with a note on stderr, not shown newest → oldest without a word."""
    va, vb = store.version(a), store.version(b)
    if (va.fetched_at, va.id) <= (vb.fetched_at, vb.id):
        return a, b
    err_console.print(
        f"注意：#{a}（{exact_time(va.fetched_at, tz)}）比 #{b}（{exact_time(vb.fetched_at, tz)}）"
        f"新，已按时间顺序比较：#{b} → #{a}。(the newer version was given first: swapped; "
        f"monitor diff {b} {a} is the same)", highlight=False, markup=False, soft_wrap=True)
    return b, a


def _same(c: Comparison, since: str | None, until: str | None, tz: str) -> str:
    """What to say instead of an empty diff when both sides are one version."""
    v = c.old
    fetched = f"fetched {exact_time(v.fetched_at, tz)}"
    which = f"第{v.number}版（id {v.id}，抓取于 {exact_time(v.fetched_at, tz)}）"
    if since:
        return (f"{v.source}：--from {since} 与 --to {until or '现在'} 是同一版本，{which}，"
                f"其间没有变化。({v.source}: --from {since} and --to {until or 'now'} are "
                f"the same version, id {v.id} ({fetched}): nothing changed in between)")
    return (f"{v.source}：两边是同一版本，{which}，没有差异。({v.source}: #{v.id} and "
            f"#{v.id} are the same version ({fetched}): no diff)")


def _previous(store: Store, version_id: int) -> int:
    page_id = store.version(version_id).page_id
    ids = [e.id for e in Archive(store).timeline(page_id)]
    i = ids.index(version_id)
    if i == 0:
        raise KeyError(f"version {version_id} is the first of its page")
    return ids[i - 1]


def show(c: Comparison, tz: str, *, color: bool, context: int = 1,
         note: str | None = None) -> None:
    def side(v: VersionFull) -> str:
        # two pages compared: each side says whose version it is
        owner = f"{v.source} " if c.old.page_id != c.new.page_id else ""
        number = f"第{v.number}版 " if v.number else ""
        return f"{owner}{number}#{v.id} ({exact_time(v.fetched_at, tz)})"

    same = c.old.page_id == c.new.page_id
    head = (f"{c.new.source}  " if same else "") + f"{side(c.old)} → {side(c.new)}"
    lines = [head, *([note] if note else [])]
    if c.title_changed:
        lines.append(f"标题: {c.old.title} → {c.new.title}")
    lines += [f"{m.key}: {m.old_shown} → {m.new_shown}" for m in c.metadata]
    files = c.attachment_texts(context=context)
    if not color:
        body = render_text(c.diff, context=context).rstrip("\n")
        click.echo("\n".join(lines) + "\n\n" + "\n\n".join([body, *files]).strip("\n"))
        return
    console.print(Text(lines[0], style="bold"), highlight=False)
    for line in lines[1:]:
        console.print(Text(line, style="dim"), highlight=False)
    console.print()
    console.print(render_terminal(c.diff, context=context), highlight=False)
    for text in files:  # the file's name and link, then its diff as plain text
        console.print()
        console.print(Text(text), highlight=False, soft_wrap=True)


def _ref(c: Comparison, *, old: bool) -> dict[str, object]:
    v = c.old if old else c.new
    return {"id": v.id, "source": v.source, "url": v.url, "title": v.title,
            "fetched_at": v.fetched_at}
