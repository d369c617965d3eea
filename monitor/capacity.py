"""Can each host's sources be checked on schedule?

Checks of one host run ``host_concurrency`` at a time (``settings.concurrency_for``) and
start at least ``host_delay`` apart, so a host with many sources has a ceiling.  Over
the period of its shortest interval, its sources need about

    Σ  max((host_delay + CHECK_SECONDS) / host_concurrency, host_delay) × period / interval

seconds.  When that is more than the period, the sources fall behind their schedule
whatever the global ``concurrency``: the daemon warns once per host and ``monitor
status`` shows it.  ``CHECK_SECONDS`` is an assumed typical check (fetch, extract,
store of a government page); cron sources are left out (no fixed rate).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from monitor.config import SourceConfig

if TYPE_CHECKING:
    from monitor.settings import Settings

CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class HostLoad:
    host: str
    sources: int
    period: float  # seconds: the shortest interval among them
    need: float  # seconds of checking per period
    delay: float
    concurrency: int

    @property
    def behind(self) -> bool:
        return self.need > self.period

    def describe(self) -> str:
        return (f"host {self.host}: {self.sources:,} sources every {self.period:g} s need "
                f"~{self.need:,.0f} s (host_delay {self.delay:g} s + ~{CHECK_SECONDS:g} s "
                f"a check, {self.concurrency} at a time): they fall behind; raise "
                "host_concurrency for it, lower its host_delay or lengthen the intervals")


def host_loads(sources: tuple[SourceConfig, ...], settings: Settings) -> list[HostLoad]:
    """The load of every host with interval sources, busiest first."""
    by_host: dict[str, list[float]] = defaultdict(list)
    for s in sources:
        if s.enabled and s.interval is not None:
            host = _host(s.url)
            by_host[host].append(s.interval.total_seconds())
    loads = [_load(host, intervals, settings) for host, intervals in by_host.items()]
    return sorted(loads, key=lambda h: h.need / h.period, reverse=True)


_AUTHORITY = re.compile(r"[^:/?#]*://([^/?#]*)")


def _host(url: str) -> str:
    """The host of a source's URL (an http(s) URL: the file was validated), lower case:
    ``urlsplit``'s, found once per authority (``monitor status`` of 10,000 sources on
    50 hosts: ~0.1 s of ``urlsplit`` before)."""
    m = _AUTHORITY.match(url)
    return _host_of(m[1]) if m else (urlsplit(url).hostname or "").lower()


@cache
def _host_of(authority: str) -> str:
    return (urlsplit(f"//{authority}").hostname or "").lower()


def _load(host: str, intervals: list[float], settings: Settings) -> HostLoad:
    delay, n = settings.delay_for(host), settings.concurrency_for(host)
    each = max((delay + CHECK_SECONDS) / n, delay)
    period = min(intervals)
    return HostLoad(host, len(intervals), period, sum(each * period / i for i in intervals),
                    delay, n)


def behind(sources: tuple[SourceConfig, ...], settings: Settings) -> list[HostLoad]:
    return [h for h in host_loads(sources, settings) if h.behind]
