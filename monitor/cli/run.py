"""``monitor run``: the daemon (see ``monitor.daemon``)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import click

from monitor.cli.common import handle_errors, sources_option
from monitor.daemon import Daemon


def register(cli: click.Group) -> None:
    cli.add_command(run)


@click.command()
@sources_option
@click.option("--log-json", is_flag=True, help="Log JSON lines (also settings.log_json).")
@handle_errors
def run(sources_file: Path, log_json: bool) -> None:
    """Check every source on its schedule until SIGTERM/SIGINT; deliver alerts.

    Edits of the sources file apply within seconds; several replicas may share one
    PostgreSQL database.
    """
    daemon = Daemon(sources_file, log_json=log_json)
    code = asyncio.run(daemon.run())
    if daemon.abandoned:  # threads blocked in the database: not joined at exit (logged)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
