"""What delivering alerts costs: N changes × M email watchers, to SMTP and to the outbox.

    .venv/bin/python -m bench.bench_deliver [--alerts 200] [--recipients 5] [--port 8725]
                                            [--only smtp|outbox] [--db PATH --build-only]

Each change is one seed page of ``tests/pages.py`` (its body, 2–5 KB of Chinese) with one
sentence edited, written through the ``Store`` as a check writes it (a baseline version,
then the changed one with its change and outbox rows); every watcher follows every
source, so each change has M outbox rows.  The whole outbox is then delivered with
``Deliverer.deliver_due`` (``CONCURRENCY`` sends at a time, as ``monitor check`` does):

- **smtp**: to a real aiosmtpd server on 127.0.0.1:``--port``, run in a process of its own
  so its CPU is not counted (each message: one connection, as ``SmtpChannel`` sends);
- **outbox**: ``.eml`` files in a temporary directory (no ``smtp_url``).

Printed: messages, wall seconds, messages per second, CPU ms per message (this process,
all its threads: compose, MIME, SMTP client or file write, the outbox's database).
``--db PATH --build-only`` writes the database and stops (for callgrind: build once,
then run ``--db PATH --only outbox`` under valgrind, and once with ``--alerts 0`` to
subtract what is not delivery).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from alerts.delivery import Deliverer
from monitor.config import Config, parse_config
from monitor.types import ChangeDecision, ChangeKind
from storage import Store
from storage.instant import utcnow
from tests.pages import seed_paragraphs
from tests.test_alerts_support import _commit, new_version


def edit(paragraphs: list[str]) -> list[str]:
    """A sentence added to the middle paragraph (a typical edit)."""
    mid = len(paragraphs) // 2
    return [*paragraphs[:mid], paragraphs[mid] + "本通知自发布之日起施行。", *paragraphs[mid + 1:]]


def config_text(alerts: int, recipients: int, outbox: Path, smtp_url: str | None) -> str:
    lines = ["[settings]", "allow_private_network = true", f'outbox_dir = "{outbox}"',
             'public_url = "http://monitor.example.cn"']
    if smtp_url:
        lines.append(f'smtp_url = "{smtp_url}"')
    sources = "".join(f'\n[[sources]]\nname = "s{i:04d}"\nurl = "http://example.gov.cn/{i}.html"\n'
                      for i in range(max(alerts, 1)))
    watchers = "".join(f'\n[[watchers]]\nname = "w{j}"\nemail = "w{j}@example.cn"\n'
                       f'sources = ["s*"]\n' for j in range(recipients))
    return "\n".join(lines) + "\n" + sources + watchers


def build(store: Store, config: Config, alerts: int) -> None:
    """One change per source, with its outbox rows (one per watcher)."""
    from alerts import plan

    now = utcnow()
    for i in range(alerts):
        source = config.source(f"s{i:04d}")
        old = "\n".join(seed_paragraphs(i % 4))
        new = "\n".join(seed_paragraphs(i % 4, edit))
        title = f"关于第{i}号文件的通知"
        _commit(store, source, new_version(old, title, {}, now))
        drafts = plan.change_alerts(config, source, 0, now)
        _commit(store, source, new_version(new, title, {}, now),
                changes=(ChangeDecision(ChangeKind.CHANGED, "正文修改", stats={}),),
                alerts=tuple(drafts))


async def deliver_all(deliverer: Deliverer) -> int:
    sent = 0
    while True:
        report = await deliverer.deliver_due(limit=100)
        sent += report.sent
        if report.errors:
            raise SystemExit(f"delivery failed: {report.errors[:3]}")
        if report.sent == 0:
            return sent


def serve(port: int) -> None:
    """An aiosmtpd server that accepts and counts (``--serve``), until killed."""
    from aiosmtpd.controller import Controller

    class Sink:
        count = 0

        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            Sink.count += 1
            return "250 Message accepted for delivery"

    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()  # until the parent closes the pipe
    finally:
        controller.stop()
        print(Sink.count, flush=True)


def run(args: argparse.Namespace, target: str, work: Path) -> None:
    db = args.db or str(work / f"{target}.db")
    smtp_url = f"smtp://127.0.0.1:{args.port}" if target == "smtp" else None
    config = parse_config(config_text(args.alerts, args.recipients, work / "outbox",
                                      smtp_url), path=work / "sources.toml", env={})
    store = Store(f"sqlite:///{db}")
    try:
        if not args.db or args.build_only:
            build(store, config, args.alerts)
        if args.build_only:
            return
        deliverer = Deliverer(config, store, env={})
        for module in ("alerts.compose", "alerts.email_outbox", "alerts.email_smtp",
                       "aiosmtplib"):  # imports are not delivery
            importlib.import_module(module)

        cpu0, wall0 = time.process_time(), time.perf_counter()
        sent = asyncio.run(deliver_all(deliverer))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        store.close()
    per = cpu * 1000 / sent if sent else 0.0
    rate = sent / wall if wall else 0.0
    print(f"{target:6s} {sent:5d} messages  {wall:7.2f} s  {rate:7.1f} msg/s  "
          f"{per:6.2f} CPU ms/msg  load {os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--alerts", type=int, default=200)
    ap.add_argument("--recipients", type=int, default=5)
    ap.add_argument("--port", type=int, default=8725)
    ap.add_argument("--only", choices=("smtp", "outbox"))
    ap.add_argument("--db", help="an SQLite file (built with --build-only)")
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.port)
        return
    work = Path(tempfile.mkdtemp(prefix="bench-deliver-"))
    try:
        for target in [args.only] if args.only else ["outbox", "smtp"]:
            if target == "smtp" and not args.build_only:
                with_server(args, work)
            else:
                run(args, target, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def with_server(args: argparse.Namespace, work: Path) -> None:
    server = subprocess.Popen([sys.executable, "-m", "bench.bench_deliver", "--serve",
                               "--port", str(args.port)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        run(args, "smtp", work)
    finally:
        assert server.stdin is not None
        server.stdin.close()
        received = server.stdout.read().strip() if server.stdout else "?"
        server.wait(timeout=30)
        print(f"smtp server received {received} messages", flush=True)


if __name__ == "__main__":
    main()
