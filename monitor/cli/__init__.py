"""The ``monitor`` command.  One module per command group; this one only wires them."""

from __future__ import annotations

import click

from monitor import __version__
from monitor.cli import (
    alerts,
    archive,
    check,
    diff,
    evidence,
    history,
    run,
    serve,
    sources,
    status,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="monitor")
def cli() -> None:
    """Watch government web pages, keep every version, tell people what changed."""


for module in (alerts, archive, check, diff, evidence, history, serve, sources):
    module.register(cli)
run.register(cli)
status.register(cli)


def main() -> None:
    cli()
