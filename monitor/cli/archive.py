"""``monitor search`` and ``monitor export``: find any passage in any version, and take
the archive elsewhere (WARC 1.1 for replay tools, JSON lines for programs)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from monitor.cli.common import (
    both,
    complete_source_names,
    console,
    err_console,
    handle_errors,
    json_option,
    load_reading,
    local_time,
    open_store,
    parse_since,
    parse_when,
    print_json,
    refuse_existing,
    sources_option,
)
from monitor.errors import BadInputError, NotFoundError
from monitor.export import STDOUT, Manifest, write_jsonl, write_manifest, write_warc
from monitor.extract.metadata import search_field
from storage.archive import Archive, ArchivedVersion
from storage.search import Passage, Search, SearchResults, checked_terms

source_filter = click.option("--source", "source", metavar="NAME",
                             shell_complete=complete_source_names,
                             help="Only this source (name or URL).")
since_option = click.option("--from", "since", metavar="DATE",
                            help="From this date (2026-05-01 = its start) or date-time.")
until_option = click.option("--to", "until", metavar="DATE",
                            help="Up to this date (2026-05-01 = its end) or date-time.")


def register(cli: click.Group) -> None:
    cli.add_command(search)
    cli.add_command(export)


def parse_until(text: str | None, timezone: str) -> datetime | None:
    return parse_when(text, timezone) if text else None


@click.command()
@click.argument("query")
@source_filter
@click.option("--tag", help="Only sources with this tag.")
@since_option
@until_option
@click.option("--field", help="Only matches in: text, title, attachment, or a metadata "
              "label such as 文号, 索引号, 发布机构.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--page", "page_no", default=1, show_default=True, type=click.IntRange(1),
              help="Which page of results (--limit hits each).")
@click.option("--all-versions", is_flag=True,
              help="Every matching version, not one hit per page.")
@sources_option
@json_option
@handle_errors
def search(query: str, source: str | None, tag: str | None, since: str | None,
           until: str | None, field: str | None, limit: int, page_no: int,
           all_versions: bool, sources_file: Path, as_json: bool) -> None:
    """Full-text search over every version's text, title, metadata and attachments
    (Chinese needs no spaces; space-separated terms must all occur; a 文号 is found in
    any bracket or width form).  One hit per page, its newest matching version."""
    checked_terms(query, source, tag)  # bad input is said before anything is opened
    field = search_field(field)
    config = load_reading(sources_file, plain_settings=True)
    tz = config.settings.timezone
    with open_store(config) as store:
        results = Search(store).search(query, source=source, tag=tag,
                                       since=parse_since(since, tz),
                                       until=parse_until(until, tz), limit=limit,
                                       offset=(page_no - 1) * limit,
                                       field=field, group=not all_versions)
    if as_json:
        print_json(results)
        return
    print_results(results, tz)


def print_results(results: SearchResults, tz: str) -> None:
    least = "at least " if results.total_is_lower_bound else ""
    pages = (f" ({least}{results.total} page{'s' if results.total != 1 else ''})"
             if results.grouped else "")
    versions = f"{least}{results.versions} version{'s' if results.versions != 1 else ''}"
    at_least = "至少 " if results.total_is_lower_bound else ""
    pages_zh = f"（{at_least}{results.total} 个页面）" if results.grouped else ""
    shown = f"，下面列出 {len(results.hits)} 个，最新的在前" if results.hits else ""
    console.print(both(f"{at_least}{results.versions} 个版本{pages_zh}含有「{results.query}」"
                       f"{shown}",
                       f"{versions}{pages} contain{'s' if results.versions == 1 else ''} "
                       f"{results.query!r}"
                       + (f" (showing {len(results.hits)}, newest first)" if results.hits
                          else "")),
                  highlight=False, markup=False, soft_wrap=True)
    for hit in results.hits:
        console.print()
        head = Text(f"{hit.source} · 第{hit.number}版 · "
                    f"{local_time(hit.fetched_at, tz)} · ", style="dim")
        console.print(head + highlighted(hit.title), highlight=False)
        console.print(Text(hit.url, style="dim"), highlight=False, soft_wrap=True)  # which page
        if hit.attachment:  # the phrase is in a file the version links to
            console.print(f"附件「{hit.attachment.get('name', '')}」 "
                          f"{hit.attachment.get('url', '')}", highlight=False, markup=False)
        elif hit.field != "text":
            where = "标题" if hit.field == "title" else hit.field
            console.print(both(f"见于{where}",
                               f"in {'the title' if hit.field == 'title' else hit.field}"),
                          highlight=False, markup=False)
        console.print(highlighted(hit.passage), highlight=False)
        if hit.also_in:  # the same version's other attachments hold it too
            console.print(Text(also_in(hit.also_in), style="dim"), highlight=False)
        if hit.earlier:
            console.print(Text(both(f"更早的 {hit.earlier} 个版本中也有",
                                    f"also in {hit.earlier} earlier version"
                                    f"{'s' if hit.earlier != 1 else ''}"), style="dim"),
                          highlight=False)


def also_in(names: tuple[str, ...]) -> str:
    """（附件「a.pdf」、「b.pdf」中也有）: where else in the version shown the query is."""
    return "（附件" + "、".join(f"「{n}」" for n in names) + "中也有）"


def highlighted(p: Passage) -> Text:
    """A passage with its matches in reverse video (rich ``Text``: no markup parsing)."""
    text = Text("…" if p.cut_before else "")
    for piece, hit in p.segments():
        text.append(piece, style="bold reverse" if hit else "")
    if p.cut_after:
        text.append("…")
    return text


@click.command()
@source_filter
@since_option
@until_option
@click.option("--warc", "warc", type=click.Path(dir_okay=False, path_type=Path),
              help="Write WARC 1.1 (gzipped per record when the name ends in .gz).")
@click.option("--jsonl", "jsonl", type=click.Path(dir_okay=False, path_type=Path),
              help="Write JSON lines: one version per line, text and metadata (- : stdout).")
@click.option("--manifest", "manifest", type=click.Path(dir_okay=False, path_type=Path),
              help="Also (or only) write a manifest: JSON lines of page, version, times "
              "and hashes, to check the export against (README: Check an export).")
@click.option("--force", is_flag=True,
              help="Overwrite output files that exist (a manifest naming the old file "
              "would no longer match it).")
@sources_option
@handle_errors
def export(source: str | None, since: str | None, until: str | None, warc: Path | None,
           jsonl: Path | None, manifest: Path | None, force: bool,
           sources_file: Path) -> None:
    """Export versions as WARC (raw bytes, replayable) or JSON lines (text, metadata),
    with or as a manifest of their hashes."""
    if (warc is not None and jsonl is not None) or (warc, jsonl, manifest) == (None,) * 3:
        raise BadInputError("give exactly one of --warc FILE or --jsonl FILE (with or "
                            "without --manifest FILE), or --manifest FILE alone",
                            zh="请写 --warc 文件 或 --jsonl 文件 之一（可另加 --manifest 文件），"
                            "或只写 --manifest 文件")
    if manifest is not None and str(manifest) == STDOUT:
        raise BadInputError("--manifest needs a file name", zh="--manifest 需要写文件名")
    if warc is not None and str(warc) == STDOUT:
        raise BadInputError("--warc needs a file name (WARC is binary); --jsonl - writes "
                            "to standard output", zh="--warc 需要写文件名（WARC 是二进制"
                            "格式）；要输出到标准输出请用 --jsonl -")
    refuse_existing((warc, jsonl, manifest), force=force, why=(
        "（清单或签名里记的是原来的文件，覆盖后就对不上了）",
        " (a manifest or signature naming it would no longer match)"))
    config = load_reading(sources_file, plain_settings=True)
    tz = config.settings.timezone
    filters = {"source": source, "since": parse_since(since, tz),
               "until": parse_until(until, tz)}
    with open_store(config) as store:
        archive = Archive(store)
        total = archive.count_versions(**filters)
        if not total:
            raise _nothing_to_export(source, since, until)
        listing = Manifest(manifest) if manifest is not None else None
        with progress_bar(total) as advance:
            damaged: list[str] = []
            versions = _noting_damage(archive.iter_versions(**filters), damaged)
            if warc is not None:
                out = warc
                count = write_warc(versions, warc, user_agent=config.settings.user_agent,
                                   progress=advance, files=store.file, manifest=listing)
            elif jsonl is not None:
                out = jsonl
                count = write_jsonl(versions, out, progress=advance, manifest=listing)
            else:
                assert listing is not None and manifest is not None
                out, count = manifest, write_manifest(versions, listing, progress=advance)
        if listing is not None:
            listing.close(warc=warc)
    piped = str(out) == STDOUT
    size = "" if piped else f" ({out.stat().st_size:,} bytes)"
    where = "standard output" if piped else str(out)
    said = (f"已导出 {count} 个版本到标准输出" if piped else
            f"已导出 {count} 个版本到 {out}（{out.stat().st_size:,} 字节）")
    err_console.print(both(said, f"exported {count} versions to {where}{size}"),
                      highlight=False, markup=False, soft_wrap=True)
    if manifest is not None and out != manifest:
        err_console.print(both(f"清单：{manifest}", f"manifest: {manifest}"), highlight=False,
                          markup=False, soft_wrap=True)
    if damaged:
        for damage in damaged:
            err_console.print(f"警告：{damage}", highlight=False, markup=False,
                              soft_wrap=True)
        err_console.print(f"{len(damaged)} 个版本的原始内容与记录不符：已照存储导出并在元数据"
                          "和清单中标明（damaged），此导出不能作为这些版本的证据。",
                          highlight=False, markup=False, soft_wrap=True)
        sys.exit(1)


def _nothing_to_export(source: str | None, since: str | None,
                       until: str | None) -> NotFoundError:
    """No version in what was asked: said (exit 3), and no file written — an empty WARC
    looks like an export that worked."""
    asked = [f"来源 {source}" if source else "", f"--from {since}" if since else "",
             f"--to {until}" if until else ""]
    where = "，".join(a for a in asked if a) or "存档"
    return NotFoundError(f"no versions to export ({where.replace('，', ', ')}); nothing "
                         "was written", f"没有可导出的版本：{where}中没有任何版本，未写入文件")


def _noting_damage(versions: Iterator[ArchivedVersion], damaged: list[str]
                   ) -> Iterator[ArchivedVersion]:
    """The versions, each one whose body is not the recorded one noted in ``damaged``."""
    for version in versions:
        if version.damage:
            damaged.append(version.damage)
        yield version


@contextmanager
def progress_bar(total: int) -> Iterator[Callable[[ArchivedVersion], None]]:
    """A bar on stderr while exporting (only drawn on a terminal)."""
    columns = (TextColumn("exporting"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True,
                  disable=not err_console.is_terminal) as bar:
        task = bar.add_task("export", total=total)

        def advance(_: ArchivedVersion) -> None:
            bar.advance(task)
        yield advance
