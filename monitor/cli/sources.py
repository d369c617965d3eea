"""``monitor sources …``: validate the file, try a source without storing anything."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from alerts.registry import check_alerting
from monitor import zh
from monitor.cli.common import (
    EXIT_NOT_FOUND,
    both,
    complete_source_names,
    console,
    err_console,
    handle_errors,
    headers,
    json_option,
    load,
    plain_table,
    print_json,
    print_table,
    refused,
    sources_option,
)
from monitor.config import NO_WATCHERS, SourceConfig, parse_config
from monitor.errors import ConfigError, MonitorError
from monitor.fetch import Fetcher, fetched_with
from monitor.pipeline import Inspection, inspect_source
from monitor.plainsettings import interval_text
from monitor.settings import Settings
from monitor.sources_edit import (
    add_source,
    read_for_edit,
    refuse_only,
    remove_source,
    unwatched,
    write_atomically,
)
from monitor.trial import (
    first_document,
    followed_problems,
    found_attachments,
    refuse_followed,
    try_source,
)


def register(cli: click.Group) -> None:
    cli.add_command(sources)


@click.group()
def sources() -> None:
    """Validate, test, list, add and remove sources."""


@sources.command()
@sources_option
@handle_errors
def validate(sources_file: Path) -> None:
    """Check the file as `monitor run` does: keys, names, URLs, selectors, regexes,
    schedules, alert channels; warn about watchers that match nothing or cannot be
    reached."""
    # no [[sources]]: a running daemon refuses it (monitor.reload), told with the others
    config = load(sources_file, quiet=True, when_empty=NO_SOURCES)
    warnings = check_alerting(config)  # what the daemon refuses, and what it warns about
    # a listing's document as a source of its own: the daemon's warning, in its words
    warnings += [f"source {p.source!r}: {p.what}" for p in followed_problems(config)]
    if config.settings.web_enabled:
        from monitor.web.app import check_bind  # FastAPI only when the UI is on

        check_bind(config.settings.web_host, config.settings.web_token)
    for warning in warnings:  # Chinese first, the English warning whole in brackets
        said = zh.NO_WATCHERS if warning == NO_WATCHERS else zh.warning(warning)
        err_console.print(Text(both(said if said == "警告" else f"警告：{said}",
                                    f"warning: {warning}"), style="yellow"), highlight=False,
                          soft_wrap=True)
    console.print(both(f"{sources_file}：有效，{len(config.sources)} 个来源，"
                       f"{len(config.watchers)} 个接收人",
                       f"{sources_file}: ok — {counted(len(config.sources), 'source')}, "
                       f"{counted(len(config.watchers), 'watcher')}"), highlight=False,
                  markup=False, soft_wrap=True)


NO_SOURCES = ("no [[sources]]: a running monitor refuses an edit that removes every source "
              "(a truncated file?), and a new one would check nothing; to stop checking a "
              "source, set enabled = false")


def counted(n: int, noun: str) -> str:
    """``1 source``, ``2 sources``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


@sources.command("test")
@click.argument("name_or_url", shell_complete=complete_source_names)
@sources_option
@json_option
@handle_errors
def test_source(name_or_url: str, sources_file: Path, as_json: bool) -> None:
    """Fetch a source once and show what would be stored (stores nothing)."""
    config = load(sources_file, quiet=True)
    try:
        source = config.source(name_or_url)
    except KeyError:
        if "://" not in name_or_url:
            raise  # a name that is not in the file, not a URL to try
        source = SourceConfig(name="adhoc", url=name_or_url)
    try:
        got = asyncio.run(try_source(config.settings, source))
    except MonitorError as exc:
        _untried(exc)
    docs = [{"title": d.title, "date": d.date, "url": d.url} for d in got.extracted.documents]
    sample = first_document(config.settings, source, got) if source.is_listing else None
    if as_json:
        print_json({"url": got.fetch.final_url, "status": got.fetch.status,
                    "charset": got.fetch.charset, "title": got.extracted.title,
                    "metadata": got.extracted.metadata, "text": got.extracted.text,
                    "removed": got.extracted.removed, "kind": source.kind,
                    "documents": docs, "complete": got.complete, "first_document": sample,
                    "attachments": found_attachments(got), "fetcher": fetched_with(got.fetch)})
        return
    if source.is_listing:
        print_documents(got, source)
        _print_sample(sample)
        return
    print_inspection(got)
    print_attachments(found_attachments(got))
    if got.extracted.listing and got.extracted.documents:
        console.print(both(f"这个页面是栏目页（{len(docs)} 篇文档）：写 kind = \"listing\" "
                           "可逐篇跟踪其中的文档（README：listing sources）",
                           f'this page is a column of {len(docs)} documents: with kind = '
                           '"listing" each becomes a tracked page of its own (README, listing '
                           "sources)"), markup=False, highlight=False, soft_wrap=True)


def _untried(exc: MonitorError) -> NoReturn:
    """The page could not be read as a check would: Chinese first (``zh.describe``),
    what to do when there is something (``zh.hint``), the English after; exit 1."""
    said = zh.describe(exc.kind, exc.status, str(exc))
    hint = zh.hint(exc.kind, str(exc))
    err_console.print(f"[red]失败：[/]{escape(said)}{escape('。' + hint) if hint else ''}\n"
                      f"{zh.DETAIL}error: {escape(str(exc))}", highlight=False,
                      soft_wrap=True)
    sys.exit(1)


def print_attachments(found: list[dict[str, str]], whose: str = "") -> None:
    if not found:
        console.print(both(f"{'第一篇文档' if whose else ''}没有附件", f"no attachments{whose}"),
                      markup=False, highlight=False)
        return
    title = both(f"{'第一篇文档的' if whose else ''}附件", f"attachments{whose}")
    table = Table(*headers("name", "format", "url"), title=title)
    for a in found:
        table.add_row(escape(a["name"]), escape(a["format"].upper()), escape(a["url"]))
    print_table(table, console)


def _print_sample(sample: dict[str, object] | None) -> None:
    if sample is None:
        return
    if sample["ok"]:
        console.print(f"第一篇文档（按 [sources.follow] 读取）：{sample['title']}（正文 "
                      f"{sample['chars']} 字）：{sample['start']}\n(first document, read with "
                      f"[sources.follow]: {sample['title']} ({sample['chars']} characters))",
                      markup=False, highlight=False, soft_wrap=True)
        found = sample["attachments"]
        assert isinstance(found, list)
        print_attachments(found, " of the first document")
    else:
        err_console.print(f"注意：按 [sources.follow] 读取第一篇文档失败（{sample['url']}）\n"
                          f"{zh.DETAIL}the first document fails with [sources.follow]: "
                          f"{sample['error']} ({sample['url']})", markup=False,
                          highlight=False, soft_wrap=True)


def print_documents(got: Inspection, source: SourceConfig) -> None:
    docs = got.extracted.documents
    console.print(f"[bold]{escape(got.extracted.title)}[/]", highlight=False, soft_wrap=True)
    # a failing later page fails the test (raised above): incomplete is max_pages, or a
    # feed, which carries only its newest entries
    pages = "" if got.complete else (
        " (a feed: its newest entries)" if source.kind == "feed"
        else f" (more pages than max_pages = {source.max_pages}: older ones not read)")
    pages_zh = "" if got.complete else (
        "（订阅源：只有最新的条目）" if source.kind == "feed"
        else f"（页数超过 max_pages = {source.max_pages}，更早的未读取）")
    console.print(both(f"{got.fetch.final_url} · {len(docs)} 篇文档{pages_zh}",
                       f"{len(docs)} documents{pages}"), markup=False,
                  highlight=False, soft_wrap=True)
    table = Table(*headers("date", "title", "url"),
                  title=both("将跟踪的文档", "documents it would track"))
    for d in docs:
        table.add_row(escape(d.date), escape(d.title), escape(d.url))
    print_table(table, console)


# how ``sources test`` fetched the page (``fetched_with``)
FETCHED_WITH = {"http": "直接请求（未用浏览器）", "browser": "用浏览器渲染"}


def print_inspection(got: Inspection) -> None:
    f, e = got.fetch, got.extracted
    # soft_wrap: lines as extracted, not broken at the console width (80 when piped).
    console.print(f"[bold]{escape(e.title)}[/]", highlight=False, soft_wrap=True)
    how = fetched_with(f)
    console.print(both(f"{f.final_url} · HTTP {f.status} · 编码 {f.charset} · {len(f.body):,} 字节"
                       f" · {FETCHED_WITH.get(how, how)}",
                       f"HTTP {f.status} · {f.charset} · {len(f.body)} bytes · fetched with {how}"),
                  markup=False, highlight=False, soft_wrap=True)
    if e.metadata:
        table = Table(*headers("field", "value"), title=both("元数据", "metadata"))
        for k, v in e.metadata.items():
            table.add_row(escape(k), escape(v))
        console.print(table)
    console.print("[bold]正文[/]（text）")
    console.print(e.text, markup=False, highlight=False, soft_wrap=True)
    if e.removed:
        console.print("[bold]已去除的干扰内容[/]（noise removed）")
        for note in e.removed:
            console.print(f"  - {note}", markup=False, highlight=False, soft_wrap=True)


# --- editing the file (tomlkit: comments and layout stay) ------------------------------


@sources.command("add")
@click.argument("url")
@click.option("--name", required=True, help="Unique name: ASCII letters, digits, '.', "
              "'_', '-' (a Chinese name goes in --title).")
@click.option("--title", help="A title shown until the page's own is fetched, e.g. 吉林省人民政府.")
@click.option("--content", help="CSS selector of the text that matters.")
@click.option("--interval", help="How often, e.g. 30m, 6h, 1d (default: settings).")
@click.option("--tags", help="Comma-separated tags, e.g. hubei,reply.")
@click.option("--kind", type=click.Choice(["page", "listing", "feed"]), default="page",
              show_default=True, help="listing: a column page, each document it lists "
              "tracked as a page of its own; feed: an RSS/Atom feed, likewise.")
@click.option("--links", help="listing: CSS selector of the document links (default: "
              "found on the page).")
@click.option("--force", is_flag=True, help="Add it even if the test fetch fails.")
@sources_option
@handle_errors
def add(url: str, name: str, title: str | None, content: str | None, interval: str | None,
        tags: str | None, kind: str, links: str | None, force: bool, sources_file: Path
        ) -> None:
    """Test URL like `sources test`, then append it to the sources file.

    Exit 0: added; 2: refused before any fetch (the file would be invalid: a bad name,
    a duplicate, a page already tracked...); 1: the test fetch failed (a 404, a selector
    that matches nothing, no documents in a listing: --force adds it anyway)."""
    try:
        config = load(sources_file, quiet=True)
        on_disk, bom, before = read_for_edit(sources_file)
        entry = _entry(name, url, content, interval, tags, kind, links)
        if title:
            entry["title"] = title
        after = add_source(before, entry, path=sources_file)
        edited = parse_config(after, path=sources_file)
        source = edited.source(name)
        refuse_followed(edited, source)
    except ConfigError as exc:
        refused("未添加", exc)
    try:
        got = asyncio.run(try_source(config.settings, source))
    except MonitorError as exc:
        said = f"{zh.describe(exc.kind, exc.status, str(exc))}"
        if not force:
            option = _option_to_fix(kind)
            err_console.print(f"[red]未添加：[/]{escape(said)}。请修改网址{option and '或 '}"
                              f"{option}，或加 --force 照样添加。\n{zh.DETAIL}not added: "
                              f"{escape(str(exc))}\nFix the URL{option and ' or '}{option}, "
                              "or add it anyway with --force.", highlight=False, soft_wrap=True)
            sys.exit(1)
        err_console.print(f"[yellow]注意：[/]{escape(said)}，已照样添加（--force）。\n"
                          f"{zh.DETAIL}warning: {escape(str(exc))} (added anyway: --force)",
                          highlight=False, soft_wrap=True)
    else:
        _print_tested(got, source)
    try:
        write_atomically(sources_file, on_disk, bom + after)
    except ConfigError as exc:
        refused("未添加", exc)
    console.print(both(f"已将 {name} 添加到 {sources_file}；运行中的守护进程会在几秒内开始检查它",
                       f"added {name} to {sources_file}; a running daemon checks it within "
                       "seconds"), highlight=False, markup=False, soft_wrap=True)


def _option_to_fix(kind: str) -> str:
    """The option a failed test fetch may be mended by besides the URL: a listing's
    documents are found by --links (given, or to give when none were found), a page's
    text by --content; a feed has its URL only."""
    return {"listing": "--links", "page": "--content"}.get(kind, "")


def _print_tested(got: Inspection, source: SourceConfig) -> None:
    """What the test fetch found: a listing's documents; a page's characters, and, when
    the page is a column (what ``sources test`` sees), that ``--kind listing`` would
    track its documents."""
    docs = len(got.extracted.documents)
    if source.is_listing:
        console.print(f"测试抓取成功：[bold]{escape(got.extracted.title)}[/] · 将跟踪 {docs} 篇"
                      f"文档（test fetch ok: {docs} documents to track）", highlight=False,
                      soft_wrap=True)
        return
    chars = len(got.extracted.text)
    console.print(f"测试抓取成功：[bold]{escape(got.extracted.title)}[/] · 正文 {chars} 字"
                  f"（test fetch ok: {chars} characters of text）", highlight=False,
                  soft_wrap=True)
    if got.extracted.listing and docs:
        console.print(f"[yellow]提示：[/]这个页面是栏目页（{docs} 篇文档）：已按普通页面添加，"
                      "只跟踪这一页；如要逐篇跟踪其中的文档，请删除后用 --kind listing 重新添加"
                      f"（monitor sources remove {escape(source.name)}）。(hint: this page is a "
                      f'column of {docs} documents: with --kind listing each becomes a tracked '
                      "page of its own)", highlight=False, soft_wrap=True)


def _entry(name: str, url: str, content: str | None, interval: str | None,
           tags: str | None, kind: str = "page", links: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "url": url}
    if kind != "page":
        entry["kind"] = kind
    if links:
        entry["links"] = links
    if content:
        entry["content"] = content
    if interval:
        entry["interval"] = interval
    if tags:
        entry["tags"] = [t.strip() for t in tags.split(",") if t.strip()]
    return entry


@sources.command("remove")
@click.argument("name", shell_complete=complete_source_names)
@sources_option
@handle_errors
def remove(name: str, sources_file: Path) -> None:
    """Remove a source from the file: it is no longer checked; its history stays."""
    try:
        load(sources_file, quiet=True)
        on_disk, bom, before = read_for_edit(sources_file)
        after = remove_source(before, name, path=sources_file)
        refuse_only(before, name, path=sources_file)  # as /admin: pause it instead
        write_atomically(sources_file, on_disk, bom + after)
    except ConfigError as exc:
        refused("未删除", exc)
    except KeyError as exc:
        err_console.print(f"[red]未删除：[/]{escape(str(sources_file))} 中没有名为 "
                          f"{escape(name)} 的来源\n{zh.DETAIL}not found: "
                          f"{escape(str(exc.args[0]))}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_NOT_FOUND)
    console.print(both(f"已从 {sources_file} 删除 {name}；它的历史版本仍保留在数据库中",
                       f"removed {name} from {sources_file}; its versions stay in the "
                       "database"), highlight=False, markup=False, soft_wrap=True)
    taken, kept = unwatched(before, name)
    if taken:
        console.print(both(f"并已从接收人 {'、'.join(taken)} 的 sources 中删除",
                           f"and from the sources of watcher(s) {', '.join(taken)}"),
                      highlight=False, markup=False, soft_wrap=True)
    for label in kept:  # a watcher of nothing is refused: the admin's to edit
        err_console.print(f"[yellow]注意：[/]接收人 {escape(label)} 只跟踪 {escape(name)}，"
                          "已保留其 sources，请修改或删除该接收人\n"
                          f"watcher {escape(label)!r} follows only {escape(name)!r}: its "
                          "sources still name it (edit or remove the watcher)",
                          highlight=False, soft_wrap=True)


@sources.command("list")
@sources_option
@json_option
@handle_errors
def list_sources(sources_file: Path, as_json: bool) -> None:
    """List the sources of the file."""
    config = load(sources_file, quiet=True)
    if as_json:
        print_json([s.config_dict() for s in config.sources])
        return
    rows = [(s.name, s.url, _schedule(s), ", ".join(s.content) or both("自动识别", "auto"),
             ", ".join(s.tags)) for s in config.sources]
    if not console.is_terminal:  # rich's lines without its layout: 10,000 rows 4.4 s → 0.2 s
        click.echo("\n".join(plain_table(str(sources_file), LIST_COLUMNS, rows, centred=True)))
        return
    table = Table(title=Text(str(sources_file)))
    for col in LIST_COLUMNS:
        table.add_column(col, overflow="fold")
    for row in rows:  # Text, not markup: a selector like div[id=main] is not a style
        table.add_row(*(Text(cell) for cell in row))
    print_table(table, console)


def _schedule(s: SourceConfig) -> str:
    """``每 6h（every 6h）``, ``cron 0 8 * * *，已暂停（cron 0 8 * * * (disabled)）``."""
    english = s.schedule_text() + ("" if s.enabled else " (disabled)")
    said = f"每 {interval_text(s.interval)}" if s.interval and not s.cron else s.schedule_text()
    return both(said + ("" if s.enabled else "，已暂停"), english)


LIST_COLUMNS = headers("name", "url", "schedule", "content", "tags")


@sources.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--no-test", is_flag=True, help="Add every source without fetching it first.")
@sources_option
@handle_errors
def import_sources(file: Path, no_test: bool, sources_file: Path) -> None:
    """Import sources from urlwatch's urls.yaml, a changedetection.io backup (its
    url-watches.json or the backup .zip), a CSV with a url column, or a list of URLs.

    Each source is test-fetched first (a page that does not fetch is not imported; say
    --no-test to skip the test) and appended with the comments of the file kept.  What
    of a peer's settings has no equivalent here (XPath, re.sub with a replacement,
    triggers…) is listed, never guessed.
    """
    from monitor.sources_import import read_file

    fmt, candidates = read_file(file)  # a file that is none of them: before anything
    if sources_file.exists():
        config = load(sources_file, quiet=True)
        on_disk, bom, text = read_for_edit(sources_file)
    else:  # the first sources of a new file
        on_disk, bom, text = "", "", f"# monitor — sources imported from {file.name}\n"
        config = parse_config(text, path=sources_file)
    planned, rows = _plan_import(text, config, candidates, sources_file)
    first: dict[str, int] = {}  # where each URL first stands in the file: the report's order
    for i, c in enumerate(candidates):
        first.setdefault(c.entry.get("url") or c.origin, i)
    if not no_test and planned:
        failures = asyncio.run(_test_all(config.settings, [s for s, _ in planned]))
    else:
        failures = {}
    imported = 0
    for source, entry in planned:
        if source.name in failures:
            exc = failures[source.name]
            rows.append((source.name, source.url, not_imported(
                zh.describe(exc.kind, exc.status, str(exc)), f"{exc.kind}: {exc}"),
                entry["unmapped"]))
            continue
        text = add_source(text, entry["entry"], path=sources_file)
        imported += 1
        rows.append((source.name, source.url, IMPORTED, entry["unmapped"]))
    rows.sort(key=lambda r: (first.get(r[1], len(first)), r[2] != IMPORTED))
    if imported:
        write_atomically(sources_file, on_disk, bom + text)
    _print_import(rows)
    console.print(both(f"{file}（{fmt}）：{len(candidates)} 个中已导入 {imported} 个到 "
                       f"{sources_file}", f"{file} ({fmt}): {imported} of {len(candidates)} "
                       f"imported into {sources_file}"),
                  highlight=False, markup=False, soft_wrap=True)
    if imported < len(candidates):
        sys.exit(1)


def _plan_import(text: str, config: Any, candidates: list[Any], path: Path
                 ) -> tuple[list[tuple[SourceConfig, dict[str, Any]]], list[tuple[str, ...]]]:
    """Each candidate checked on its own against the file: (the sources to try, with
    their entry and what was not mapped) and the report rows of those refused now."""
    from monitor.errors import ConfigError
    from monitor.sources_import import flatten, name_for

    taken = {s.name for s in config.sources}
    urls = {s.url: s.name for s in config.sources}
    planned, rows = [], []
    for c in candidates:
        unmapped = "; ".join(c.unmapped)
        url = c.entry.get("url", "")
        if not url:
            rows.append(("—", c.origin, not_imported(NOT_A_PAGE, unmapped or "no URL"), ""))
            continue
        if url in urls:
            rows.append((urls[url], url, not_imported(
                f"此网址已在监控中（来源 {urls[url]}）", f"already watched as {urls[url]}"),
                unmapped))
            continue
        entry = flatten({**c.entry, "name": name_for(c.entry, taken)})
        try:
            source = parse_config(add_source(text, entry, path=path),
                                  path=path).source(entry["name"])
        except ConfigError as exc:
            said = "；".join(zh.config_problem(str(p), file=p.file, source=p.source,
                                               key=p.key, watcher=p.watcher)
                            for p in exc.problems)
            rows.append((entry["name"], url, not_imported(said, str(exc)), unmapped))
            continue
        taken.add(source.name)
        urls[url] = source.name
        planned.append((source, {"entry": entry, "unmapped": unmapped}))
    return planned, rows


NOT_A_PAGE = "不是用 GET 读取的网页（命令任务、没有网址或带数据的请求），已跳过"


IMPORTED = both("已导入", "imported")


def not_imported(said: str, detail: str) -> str:
    """An import's reason, as ``sources add`` says its own: Chinese first (``未导入：页面已删除
    或不存在（HTTP 404）``), the English after as the technical detail; one line (a piped
    table keeps a row on one line)."""
    return f"未导入：{said}；{zh.DETAIL}not imported: {detail}"


async def _test_all(settings: Settings, sources: list[SourceConfig]
                    ) -> dict[str, MonitorError]:
    """Fetch every source (``settings.concurrency`` at once, hosts kept polite by the
    fetcher): {name: why it failed}."""
    limit = asyncio.Semaphore(settings.concurrency)
    failed: dict[str, MonitorError] = {}

    async def one(fetcher: Fetcher, source: SourceConfig) -> None:
        async with limit:
            try:
                await inspect_source(fetcher, source)
            except MonitorError as exc:
                failed[source.name] = exc

    async with Fetcher(settings) as fetcher:
        await asyncio.gather(*(one(fetcher, s) for s in sources))
    return failed


def _print_import(rows: list[tuple[str, ...]]) -> None:
    table = Table(title=both("导入结果", "import"))
    for col in headers("name", "url", "result", "not mapped"):
        table.add_column(col, overflow="fold")
    for name, url, result, unmapped in rows:
        style = "green" if result == IMPORTED else "red"
        table.add_row(Text(name), Text(url), Text(result, style=style), Text(unmapped))
    print_table(table, console)
