"""``monitor demo``: see it work in a minute, offline (see ``monitor.demo``)."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
import threading
from pathlib import Path

import click


def register(cli: click.Group) -> None:
    cli.add_command(demo)


@click.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the demo's database, outbox and sources.toml here "
              "(default: a new temporary directory).")
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="Port of the web UI (default: a free one).")
@click.option("--step", type=click.FloatRange(0.5), default=20.0, show_default=True,
              help="Seconds between two changes of the demo site.")
def demo(directory: Path | None, port: int, step: float) -> None:
    """Run a bundled local site that changes, a daemon watching it, and the web UI.

    Every STEP seconds the site changes once: a sentence added to a plan, an amount
    changed in a GBK reply, a new reply in a column, a page gone and back, a page
    re-templated (which must not alert).  Alerts land as .eml files in DIR/outbox and on
    the web UI's 最近变更 page.  Nothing is written outside DIR.  Ctrl+C stops it.
    """
    from monitor.daemon import Daemon
    from monitor.demo import EXPECTED, SCRIPT, DemoSite, run_script, sources_toml

    for key in [k for k in os.environ if k.startswith("MONITOR_")]:
        del os.environ[key]  # the demo's own settings, never the user's database or SMTP
    root = (directory or Path(tempfile.mkdtemp(prefix="monitor-demo-"))).resolve()
    (root / "outbox").mkdir(parents=True, exist_ok=True)
    site = DemoSite()
    server = site.serve()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    port = port or _free_port()
    sources = root / "sources.toml"
    sources.write_text(sources_toml(base, step, db=str(root / "monitor.db"),
                                    outbox=str(root / "outbox"), web_port=port),
                       encoding="utf-8")
    _say(f"demo site:  {base}/ ({len(SCRIPT)} changes, one every {step:g} s)\n"
         f"web UI:     http://127.0.0.1:{port}/changes (最近变更)\n"
         f"alerts:     {root / 'outbox'}/*.eml\n"
         f"files:      {root} (sources.toml, monitor.db)\n"
         f"expect:     {', '.join(f'{n} × {_label(k)}' for k, n in EXPECTED.items())} "
         "alerts; nothing for the counters or the re-template (the web UI also lists "
         "the column's own change beside its new document: recorded, not alerted)\n"
         "Ctrl+C stops the demo")
    stop = threading.Event()
    threading.Thread(target=run_script, args=(site, step, stop, _say), name="demo-script",
                     daemon=True).start()
    try:
        code = asyncio.run(Daemon(sources).run())
    except KeyboardInterrupt:  # Ctrl+C before the daemon took over its signals
        code = 0
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
    _say(f"demo stopped; its files stay in {root}")
    sys.exit(code)


def _say(text: str) -> None:
    click.echo(text)
    sys.stdout.flush()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _label(kind: str) -> str:
    from monitor.types import KIND_LABELS

    return f"{KIND_LABELS.get(kind, kind)} ({kind})"
