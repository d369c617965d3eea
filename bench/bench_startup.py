"""How fast the commands people type by hand answer (issue 12: ≤ 0.3 s).

    .venv/bin/python -m bench.bench_startup [--runs N]

Runs ``python -m monitor --version``, ``--help``, ``status`` (on a small SQLite
database made first by ``monitor status``: a store at head) and ``check`` (one
unchanged 40 KB page of bench/site.py, served on loopback by a thread of this process,
checked once before the runs: the cost of starting a check beside the check itself) N
times each in a fresh process, and prints the median and best wall time and the
median CPU time (user + system of the child), beside a bare ``python -c pass``.  CPU
time is the figure to compare across machines: wall time includes waiting for a core.
Each case runs once untimed first, with bytecode caching on (``PYTHONDONTWRITEBYTECODE``
removed from the children's environment): an installed package has its ``.pyc`` files,
and compiling the sources at every run would add ~0.1 s that no user pays.
"""

from __future__ import annotations

import argparse
import http.server
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.site import render, selector

ROOT = Path(__file__).resolve().parent.parent


def _run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _serve(body: bytes) -> http.server.ThreadingHTTPServer:
    """``body`` at every path of 127.0.0.1:<port>, from a thread of this process (its
    CPU is not the child's)."""
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    server = _serve(render(0, 0))
    with tempfile.TemporaryDirectory() as tmp:
        sources = Path(tmp) / "sources.toml"
        sources.write_text(f'[settings]\ndatabase_url = "sqlite:///{tmp}/m.db"\n'
                           f'outbox_dir = "{tmp}/outbox"\nallow_private_network = true\n'
                           'respect_robots = false\nhost_delay = 0\n\n[[sources]]\n'
                           f'name = "a"\nurl = "http://127.0.0.1:{server.server_port}/a.html"'
                           f'\ncontent = "{selector(0)}"\n', encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "MONITOR_SOURCES": str(sources)}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        # creates the database (status only reads an archive) and stores the first
        # version: later checks are unchanged
        _run(["-m", "monitor", "check"], env)
        cases = {"python -c pass": ["-c", "pass"],
                 "monitor --version": ["-m", "monitor", "--version"],
                 "monitor --help": ["-m", "monitor", "--help"],
                 "monitor status": ["-m", "monitor", "status"],
                 "monitor check (1 page, unchanged)": ["-m", "monitor", "check"],
                 "monitor check --no-deliver (1 page, unchanged)":
                     ["-m", "monitor", "check", "--no-deliver"]}
        table = Table("command", "wall median s", "wall best s", "CPU median s",
                      title=f"startup, {runs} runs, load average {os.getloadavg()[0]:.1f}")
        for name, args in cases.items():
            _run(args, env)  # warm: .pyc files written, the page cached by the OS
            got = [_run(args, env) for _ in range(runs)]
            walls, cpus = [w for w, _ in got], [c for _, c in got]
            table.add_row(name, f"{statistics.median(walls):.3f}", f"{min(walls):.3f}",
                          f"{statistics.median(cpus):.3f}")
    server.shutdown()
    Console().print(table)


if __name__ == "__main__":
    main()
