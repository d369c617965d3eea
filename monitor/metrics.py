"""Prometheus metrics and ``/healthz`` of the daemon, on a loopback port.

A few lines of ``asyncio.start_server`` instead of prometheus-client's threaded server:
the daemon stays one event loop, and the server stops with it.  Each daemon has its own
registry (tests run several daemons in one process).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from loguru import logger
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from monitor.types import CheckResult

BIND = "127.0.0.1"  # metrics say which pages are watched: never beyond loopback
READ_TIMEOUT = 5.0
Health = Callable[[], tuple[bool, dict[str, object]]]
BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)  # seconds
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800)  # seconds


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.checks = Counter("monitor_checks", "Checks run, by outcome.", ["outcome"],
                              registry=r)
        self.fetch_seconds = Histogram(
            "monitor_fetch_duration_seconds",
            "Wall time of one fetch of a page, successful or not: robots.txt, redirects, "
            "retries and their waits included; extraction and storage not.",
            buckets=BUCKETS, registry=r)
        self.check_seconds = Histogram(
            "monitor_check_duration_seconds",
            "Wall time of one whole check: state read, fetch, extract, detect, store.",
            buckets=BUCKETS, registry=r)
        self.versions = Counter(
            "monitor_versions_stored",
            "Versions this process stored since it started (first versions of new pages "
            "included); not the number of versions in the database.", registry=r)
        self.alerts = Gauge("monitor_alerts", "Outbox rows by status.", ["status"], registry=r)
        self.lag = Gauge(
            "monitor_scheduler_lag_seconds",
            "How far behind its schedule the daemon is: seconds the oldest due source has "
            "waited without starting (its host or the concurrency cap is busy); when none "
            "waits, how late the latest check started.", registry=r)
        self.backlog = Gauge(
            "monitor_due_backlog",
            "Sources due and not started yet: queued behind their host or the "
            "concurrency cap.", registry=r)
        self.start_lag = Histogram(
            "monitor_scheduler_start_lag_seconds",
            "Seconds between a check's slot and its start (first checks and catch-ups "
            "of slots missed while the daemon was down not counted).",
            buckets=LAG_BUCKETS, registry=r)
        self.running = Gauge("monitor_checks_running", "Checks in progress.", registry=r)
        self.sources = Gauge("monitor_sources", "Sources scheduled.", registry=r)
        self.skipped = Counter(
            "monitor_runs_skipped",
            "Slots of a source that passed while its run was still queued or running "
            "(its host is behind): it is checked once, not once per slot.", registry=r)
        self.skips_since_summary = 0
        for outcome in ("new", "changed", "unchanged", "error", "superseded"):
            self.checks.labels(outcome)  # export zeros, so rate() works from the start

    def observe(self, result: CheckResult) -> None:
        """One finished check (its fetch is timed by ``observe_fetch``)."""
        self.checks.labels(str(result.outcome)).inc()
        self.check_seconds.observe(result.duration)
        if result.version_id is not None:
            self.versions.inc()

    def skipped_runs(self, n: int = 1) -> None:
        """A check started ``n`` slots late: those runs are skipped."""
        self.skipped.inc(n)
        self.skips_since_summary += n

    def follow(self, backlog: Callable[[], float], lag: Callable[[], float]) -> None:
        """The backlog and lag gauges read these at every scrape."""
        self.backlog.set_function(backlog)
        self.lag.set_function(lag)

    def observe_fetch(self, seconds: float) -> None:
        """``Fetcher(on_fetched=...)``: the wall time of one fetch."""
        self.fetch_seconds.observe(seconds)

    def set_alerts(self, counts: dict[str, int]) -> None:
        for status, n in counts.items():
            self.alerts.labels(status).set(n)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsServer:
    """``GET /metrics`` and ``GET /healthz`` (200 when healthy, 503 when not)."""

    def __init__(self, metrics: Metrics, health: Health) -> None:
        self.metrics, self.health = metrics, health
        self._server: asyncio.Server | None = None

    async def start(self, port: int) -> None:
        self._server = await asyncio.start_server(self._handle, BIND, port)
        logger.info("metrics on http://{}:{}/metrics and /healthz", BIND, port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            path = await asyncio.wait_for(_request_path(reader), READ_TIMEOUT)
            status, ctype, body = self._route(path)
            head = (f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
            writer.write(head.encode("ascii") + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError):
            pass  # a client that hangs up or speaks nonsense gets nothing
        finally:
            writer.close()

    def _route(self, path: str) -> tuple[str, str, bytes]:
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, self.metrics.render()
        if path == "/healthz":
            ok, details = self.health()
            body = json.dumps({"status": "ok" if ok else "unhealthy", **details}).encode()
            return ("200 OK" if ok else "503 Service Unavailable"), "application/json", body
        return "404 Not Found", "text/plain", b"not found\n"


async def _request_path(reader: asyncio.StreamReader) -> str:
    """The path of a ``GET`` request; the headers are read and ignored."""
    line = (await reader.readline()).decode("latin-1").split()
    while (await reader.readline()).strip():
        pass
    if len(line) < 2 or line[0] not in ("GET", "HEAD"):
        raise ValueError("not a GET")
    return line[1].split("?", 1)[0]
