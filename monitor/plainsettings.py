"""The settings' helpers that need no pydantic, and ``SettingsValues``: validated
settings read back without it.

Issue 12: ``monitor status`` answers in ≤ 0.3 s.  Importing pydantic and building the
``Settings`` model (53 fields) costs ~0.08 s of CPU, a quarter of ``status`` of 10,000
sources.  ``monitor.config`` takes its helpers from here and imports ``monitor.settings``
only to validate a ``[settings]`` table; a large file's validated settings are kept by
``monitor.configcache`` for the environment they were validated under, and a command
that only reads them (``status``) gets them back as a ``SettingsValues``: the same
attributes and the same ``delay_for``/``concurrency_for``, no validation, no pydantic
(tests/test_configcache.py compares the two).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MIN_INTERVAL = timedelta(seconds=1)
MAX_INTERVAL = timedelta(days=366)


def parse_interval(text: str) -> timedelta:
    """``"90s"``, ``"15m"``, ``"6h"``, ``"1d"``, ``"2w"`` → timedelta; ValueError otherwise."""
    m = _INTERVAL.match(text) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"{text!r} is not an interval like '30m', '6h' or '1d'")
    seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds > MAX_INTERVAL.total_seconds():  # also before timedelta() overflows
        raise ValueError(f"{text!r} is longer than {MAX_INTERVAL.days} days")
    if seconds < MIN_INTERVAL.total_seconds():
        raise ValueError(f"{text!r} is shorter than {MIN_INTERVAL.total_seconds():g}s")
    return timedelta(seconds=seconds)


def interval_text(interval: timedelta) -> str:
    """The inverse of ``parse_interval``: the largest unit that gives a whole number
    (``6h``, ``90s``, ``2w``), as an admin writes it in sources.toml."""
    seconds = interval.total_seconds()
    for unit, size in sorted(_UNITS.items(), key=lambda u: -u[1]):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size:.0f}{unit}"
    return f"{seconds:g}s"


PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def check_proxy(value: str) -> str:
    """A proxy URL (scheme://[user[:password]@]host:port) or 'direct'; else ValueError."""
    if value == "direct":
        return value
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as exc:
        raise ValueError(f"not a proxy address: {exc}") from None
    if parts.scheme.lower() not in PROXY_SCHEMES or not parts.hostname:
        raise ValueError(f"{value.split('@')[-1]!r} is not a proxy like 'http://proxy:3128' or "
                         "'socks5://proxy:1080' (or 'direct')")
    return value


def _has_password(value: object) -> bool:
    """``scheme://user:password@host``: the password is a secret; a bare user is not."""
    if not isinstance(value, str):
        return False
    try:
        return urlsplit(value).password is not None
    except ValueError:
        return False  # not a URL at all: validation of the field says so


def unknown_key(key: str, known: Iterable[str]) -> str:
    """"unknown key", with the closest known one when a typo is likely
    (``host_dealy`` → "unknown key (did you mean 'host_delay'?)")."""
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.75)
    return f"unknown key (did you mean {close[0]!r}?)" if close else "unknown key"


class SettingsValues:
    """Validated settings as plain attributes (``Settings.model_dump()``'s), read-only,
    with ``Settings``' methods that a reading command calls."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"settings are read-only: {name}")

    def __repr__(self) -> str:
        return f"SettingsValues({self.__dict__!r})"

    def delay_for(self, host: str) -> float:  # as Settings.delay_for
        return self.host_delays.get(host, self.host_delay)  # type: ignore[no-any-return]

    def concurrency_for(self, host: str) -> int:  # as Settings.concurrency_for
        return max(1, self.host_concurrencies.get(host, self.host_concurrency))

    def model_copy(self, *, update: dict[str, Any]) -> SettingsValues:
        """As ``Settings.model_copy(update=…)``: the values given replace those kept, not
        validated (a worker's share of a pass: ``monitor.parallel.Part``)."""
        return SettingsValues({**self.__dict__, **update})
