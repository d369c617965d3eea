"""``monitor serve``: the read-only web UI, JSON API and Atom feeds on their own."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from monitor.cli.common import both, err_console, handle_errors, load, open_store, sources_option


def register(cli: click.Group) -> None:
    cli.add_command(serve)


@click.command()
@click.option("--host", help="Bind address (default settings.web_host, 127.0.0.1). "
              "Beyond loopback MONITOR_WEB_TOKEN is required.")
@click.option("--port", type=click.IntRange(0, 65535),
              help="Port (default settings.web_port).")
@click.option("--admin", is_flag=True,
              help="Also the pages at /admin that add (tested first), remove, pause, resume "
              "and check sources, writing the sources file. Needs MONITOR_ADMIN_TOKEN, "
              "even on loopback.")
@sources_option
@handle_errors
def serve(host: str | None, port: int | None, admin: bool, sources_file: Path) -> None:
    """Serve the web UI (sources, timelines, versions, diffs, search), /api and /feeds."""
    from monitor.web.app import check_bind
    from monitor.web.app import serve as run_server

    config = load(sources_file)
    host = host or config.settings.web_host
    port = config.settings.web_port if port is None else port
    check_bind(host, config.settings.web_token)  # before opening anything
    if admin:
        from monitor.web.admin import check_admin_token

        check_admin_token(config.settings.admin_token)
    shown = f"[{host}]" if ":" in host else host
    where = f"http://{shown}:{port}/"
    err_console.print(both(f"网页界面：{where}（按 Ctrl+C 停止）", f"serving {where} (Ctrl+C "
                           "stops)"), highlight=False, markup=False, soft_wrap=True)
    if admin:
        err_console.print(both(f"管理页面：{where}admin（用 MONITOR_ADMIN_TOKEN 登录）",
                               f"admin pages: {where}admin (sign in with MONITOR_ADMIN_TOKEN)"),
                          highlight=False, markup=False, soft_wrap=True)
    with open_store(config) as store:
        try:
            asyncio.run(run_server(config, store, host, port, handle_signals=True,
                                   admin=admin))
        except KeyboardInterrupt:  # uvicorn re-raises Ctrl+C once it has shut down
            err_console.print(both("已停止", "stopped"), highlight=False, markup=False)
