"""``monitor history`` and ``monitor show``: what a page said, and when."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape
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
    print_table,
    sources_option,
    version_at,
)
from monitor.config import Config
from monitor.types import KIND_LABELS
from storage.archive import Archive


def register(cli: click.Group) -> None:
    cli.add_command(history)
    cli.add_command(show)


@click.command()
@click.argument("name_or_url")
@click.option("--documents", is_flag=True,
              help="A listing's documents (each addressable by its URL) instead.")
@sources_option
@json_option
@handle_errors
def history(name_or_url: str, documents: bool, sources_file: Path, as_json: bool) -> None:
    """List the versions of a page (by source name, or any page's URL: a document's too)."""
    config = load(sources_file, quiet=True)
    if documents:
        _documents(config, name_or_url, as_json)
        return
    with open_store(config) as store:
        versions = store.history(name_or_url)
    if as_json:
        print_json(versions)
        return
    tz = config.settings.timezone
    table = Table(title=Text(f"history of {name_or_url}"))
    for col in ("id", "fetched at", "hash", "title", "chars", "change"):
        table.add_column(col, overflow="fold")
    for v in versions:
        change = KIND_LABELS.get(v.change_kind or "", "首次收录" if v.change_kind is None else "")
        if v.change_summary and v.change_summary.startswith(change):
            change = v.change_summary  # "内容来回变化 (…)" says its kind itself
        elif v.change_summary:
            change += f": {v.change_summary}"
        # Text, not markup: titles and summaries come from the pages.
        table.add_row(str(v.id), local_time(v.fetched_at, tz), v.content_hash[:12],
                      Text(v.title), str(v.size), Text(change))
    print_table(table, console)


def _documents(config: Config, name: str, as_json: bool) -> None:
    with open_store(config) as store:
        docs = [p for p in Archive(store).pages(name) if p.kind == "document"]
    if as_json:
        print_json(docs)
        return
    table = Table(title=Text(f"documents of {name}: {len(docs)}"))
    for col in ("page id", "list date", "title", "versions", "status", "url"):
        table.add_column(col, overflow="fold")
    for d in docs:
        status = d.status if d.listed else f"{d.status}, unlisted"
        table.add_row(str(d.id), d.list_date, Text(d.title), str(d.versions), status,
                      Text(d.url))
    print_table(table, console)


@click.command()
@click.argument("target")
@click.option("--at", "at", metavar="DATE",
              help="The version current at this date (2026-05-01 = the end of that day "
              "in settings.timezone) or date-time (2026-05-01T08:00); NAME or URL only.")
@click.option("--raw", is_flag=True, help="Print the raw body as fetched (bytes).")
@sources_option
@json_option
@handle_errors
def show(target: str, at: str | None, raw: bool, sources_file: Path, as_json: bool) -> None:
    """Print a version: VERSION_ID, or a source NAME/URL (latest, or --at DATE)."""
    config = load(sources_file, quiet=True)
    with open_store(config) as store:
        if target.isdigit() and not at:
            version = store.version(int(target))
        elif at:
            version = version_at(store, target, at, config.settings.timezone)
        else:
            version = store.latest_version(target)
        if raw:
            sys.stdout.buffer.write(store.raw_body(version.id))
            return
    if as_json:
        print_json(version)
        return
    tz = config.settings.timezone
    # soft_wrap: the text exactly as stored, one paragraph a line (rich would otherwise
    # break lines at the console width, 80 columns when piped, inside sentences).
    console.print(f"[bold]{escape(version.title)}[/]", highlight=False, markup=True,
                  soft_wrap=True)
    console.print(f"{version.url}\nversion {version.id} · fetched "
                  f"{local_time(version.fetched_at, tz)} · {version.content_hash[:12]}",
                  highlight=False, markup=False, soft_wrap=True)
    for key, value in version.metadata.items():
        console.print(f"  {key}: {value}", highlight=False, markup=False, soft_wrap=True)
    console.print()
    console.print(version.text, highlight=False, markup=False, soft_wrap=True)
    if version.attachments:
        console.print()
    for a in version.attachments:  # name, format, size, extraction status, link
        console.print(f"附件 {a.get('name', '')} · {str(a.get('format') or '?').upper()} · "
                      f"{a.get('size') or 0} B · {a.get('status')} · {a.get('url')}",
                      highlight=False, markup=False, soft_wrap=True)
