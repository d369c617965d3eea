"""``monitor verify``: re-read every stored body and text, recompute the hashes and each
page's hash chain (``storage/verify.py``), and say which versions no longer match."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from monitor.cli.common import (
    complete_source_names,
    console,
    err_console,
    handle_errors,
    json_option,
    load_reading,
    open_store,
    print_json,
    sources_option,
)
from storage.verify import Problem, Report, verify


def register(cli: click.Group) -> None:
    cli.add_command(verify_command)


@click.command("verify")
@click.argument("names", nargs=-1, metavar="[NAME…]", shell_complete=complete_source_names)
@sources_option
@json_option
@handle_errors
def verify_command(names: tuple[str, ...], sources_file: Path, as_json: bool) -> None:
    """Check that no stored version was changed or deleted (exit 1 if one was)."""
    config = load_reading(sources_file)
    t0 = time.monotonic()
    with open_store(config) as store:
        report = verify(store, names)
    took = time.monotonic() - t0
    if as_json:
        print_json({"ok": report.ok, "pages": report.pages, "versions": report.versions,
                    "seconds": round(took, 3), "problems": report.problems})
    else:
        _print(report, took)
    if not report.ok:
        sys.exit(1)


def _print(report: Report, took: float) -> None:
    for p in report.problems:
        console.print(_line(p), highlight=False, markup=False, soft_wrap=True)
    summary = (f"已核验 {report.pages} 个页面、{report.versions} 个版本（{took:.1f} 秒）："
               + ("原始内容、正文与哈希链全部一致。" if report.ok
                  else f"发现 {len(report.problems)} 处不一致。"))
    (console if report.ok else err_console).print(summary, highlight=False, markup=False)


def _line(p: Problem) -> str:
    which = f"第{p.number}版" if p.number else "?"
    vid = f" (version {p.version_id})" if p.version_id else ""
    detail = f" — {p.detail}" if p.detail else ""
    return f"✗ {p.source} · {which}{vid} · {p.url}\n  {p.what}{detail}"
