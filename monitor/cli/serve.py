"""``monitor serve``: the read-only web UI, JSON API and Atom feeds on their own."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from monitor.cli.common import err_console, handle_errors, load, open_store, sources_option


def register(cli: click.Group) -> None:
    cli.add_command(serve)


@click.command()
@click.option("--host", help="Bind address (default settings.web_host, 127.0.0.1). "
              "Beyond loopback MONITOR_WEB_TOKEN is required.")
@click.option("--port", type=click.IntRange(0, 65535),
              help="Port (default settings.web_port).")
@sources_option
@handle_errors
def serve(host: str | None, port: int | None, sources_file: Path) -> None:
    """Serve the web UI (sources, timelines, versions, diffs, search), /api and /feeds."""
    from monitor.web.app import check_bind
    from monitor.web.app import serve as run_server

    config = load(sources_file)
    host = host or config.settings.web_host
    port = config.settings.web_port if port is None else port
    check_bind(host, config.settings.web_token)  # before opening anything
    shown = f"[{host}]" if ":" in host else host
    err_console.print(f"serving http://{shown}:{port}/ (Ctrl+C stops)", highlight=False,
                      markup=False)
    with open_store(config) as store:
        try:
            asyncio.run(run_server(config, store, host, port, handle_signals=True))
        except KeyboardInterrupt:  # uvicorn re-raises Ctrl+C once it has shut down
            err_console.print("stopped", highlight=False, markup=False)
