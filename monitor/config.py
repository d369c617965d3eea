"""Loading and validating ``sources.toml``.

The file has three kinds of tables: ``[settings]`` (see ``monitor.settings``),
``[[sources]]`` and ``[[watchers]]``.  Validation is strict: an unknown key, a duplicate
name or URL, a CSS selector lexbor cannot parse, a regex Python cannot compile, an
encoding Python does not know, or an interval/cron that cannot be scheduled is a
``ConfigError`` naming the file, the source (or the watcher) and the key.  Loading never
touches the network or the database.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from monitor.encoding import canonical_charset
from monitor.errors import ConfigError
from monitor.settings import Settings, load_settings, parse_interval

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
DEFAULT_PORTS = {"http": 80, "https": 443}
_HTTP_URL = re.compile(r"^(https?)(://[^/\s]+.*)$", re.I | re.S)

SOURCE_KEYS = {
    "name", "url", "content", "ignore", "ignore_text", "interval", "cron", "tags",
    "robots", "allow_private_network", "encoding", "title", "comment", "enabled",
}
WATCHER_KEYS = {
    "name", "email", "webhook", "webhook_format", "webhook_secret_env", "sources", "tags",
    "mode", "digest_at",
}
WEBHOOK_FORMATS = ("generic", "dingtalk", "wecom", "feishu", "slack")


@dataclass(frozen=True)
class SourceConfig:
    name: str
    url: str
    content: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    ignore_text: tuple[str, ...] = ()
    interval: timedelta | None = None
    cron: str | None = None
    tags: tuple[str, ...] = ()
    robots: bool | None = None  # None: follow settings.respect_robots
    allow_private_network: bool = False
    encoding: str | None = None  # force a charset when a site lies about it
    title: str | None = None  # a human title shown before the first fetch
    enabled: bool = True

    def schedule_text(self) -> str:
        return f"cron {self.cron}" if self.cron else f"every {self.interval}"

    def matches(self, patterns: tuple[str, ...], tags: tuple[str, ...]) -> bool:
        by_name = any(fnmatch.fnmatchcase(self.name, p) for p in patterns)
        return by_name or bool(set(tags) & set(self.tags))

    def config_dict(self) -> dict[str, Any]:
        """A JSON-able form, stored on the ``sources`` row so history keeps the settings."""
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["interval"] = self.interval.total_seconds() if self.interval else None
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


@dataclass(frozen=True)
class WatcherConfig:
    name: str
    email: str | None = None
    webhook: str | None = None
    webhook_format: Literal["generic", "dingtalk", "wecom", "feishu", "slack"] = "generic"
    webhook_secret_env: str | None = None
    sources: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    mode: Literal["immediate", "digest"] = "immediate"
    digest_at: str = "08:00"

    def wants(self, source: SourceConfig) -> bool:
        return source.matches(self.sources, self.tags)


@dataclass(frozen=True)
class Config:
    path: Path
    settings: Settings
    sources: tuple[SourceConfig, ...] = ()
    watchers: tuple[WatcherConfig, ...] = field(default=())

    def source(self, name_or_url: str) -> SourceConfig:
        for s in self.sources:
            if name_or_url in (s.name, s.url):
                return s
        raise KeyError(name_or_url)

    def select(self, names: list[str] | tuple[str, ...] = ()) -> list[SourceConfig]:
        """Sources whose name or URL matches one of ``names`` (globs); all when empty."""
        if not names:
            return [s for s in self.sources if s.enabled]
        chosen = [s for s in self.sources
                  if any(n == s.url or fnmatch.fnmatchcase(s.name, n) for n in names)]
        missing = [n for n in names if not any(n == s.url or fnmatch.fnmatchcase(s.name, n)
                                               for s in chosen)]
        if missing:
            raise ConfigError(f"no source named {', '.join(map(repr, missing))}",
                              file=str(self.path))
        return chosen

    def watchers_of(self, source: SourceConfig) -> list[WatcherConfig]:
        return [w for w in self.watchers if w.wants(source)]


def load_config(path: str | Path, *, env: dict[str, str] | None = None) -> Config:
    """Read, parse and validate a sources file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc}", file=str(path)) from None
    return parse_config(decode_sources(data, path), path=path, env=env)


def decode_sources(data: bytes, path: Path | str) -> str:
    """The file's text: UTF-8, with or without the BOM Notepad writes.

    Anything else is a ``ConfigError`` saying where the first bad byte is and what the
    file most likely is (GBK, UTF-16), rather than a codec's message."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(f"not UTF-8 (byte {exc.start}, line {line}, column {column})"
                          f"{_looks_like(data)}: save it as UTF-8", file=str(path)) from None


def _looks_like(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "; it is UTF-16 (Notepad's 'Unicode')"
    try:
        data.decode("gb18030")
    except UnicodeDecodeError:
        return ""
    return "; it looks like GBK/GB18030"


def parse_config(text: str, *, path: Path | str = "sources.toml",
                 env: dict[str, str] | None = None) -> Config:
    path = Path(path)
    file = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=file) from None
    unknown = set(data) - {"settings", "sources", "watchers"}
    if unknown:
        raise ConfigError("unknown top-level table", file=file, key=sorted(unknown)[0])
    settings = load_settings(_table(data, "settings", file), env=env, file=file)
    sources = _sources(_array(data, "sources", file), file, settings)
    watchers = _watchers(_array(data, "watchers", file), file, sources)
    return Config(path=path, settings=settings, sources=sources, watchers=watchers)


def _table(data: dict[str, Any], key: str, file: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError("must be a table", file=file, key=key)
    return value


def _array(data: dict[str, Any], key: str, file: str) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"must be an array of tables: [[{key}]]", file=file, key=key)
    return value


def _sources(raw: list[dict[str, Any]], file: str, settings: Settings) -> tuple[SourceConfig, ...]:
    out: list[SourceConfig] = []
    names: set[str] = set()
    pages: dict[str, SourceConfig] = {}
    for i, entry in enumerate(raw):
        label = str(entry.get("name") or f"#{i + 1}")
        src = _SourceReader(entry, file, label, settings).read()
        if src.name in names:
            raise ConfigError("duplicate name", file=file, source=src.name, key="name")
        first = pages.setdefault(page_key(src.url), src)
        if first is not src:
            raise ConfigError(f"has the same page as source {first.name!r} ({first.url}); "
                              "keep one of them", file=file, source=src.name, key="url")
        names.add(src.name)
        out.append(src)
    return tuple(out)


def page_key(url: str) -> str:
    """The canonical form of a page's URL, to find one page configured twice.

    Scheme and host in lower case, no default port (80 for http, 443 for https), no
    ``#fragment`` (never sent to the server), no trailing slash on the path (``/a/`` and
    ``/a`` are one page on the sites we watch), ``/`` for an empty path; the query is kept
    as written (``?id=1`` and ``?id=2`` are two pages).  http and https stay two pages.
    """
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").rstrip(".")
    port = parts.port
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    path = parts.path.rstrip("/") or "/"
    return f"{scheme}://{netloc}{path}" + (f"?{parts.query}" if parts.query else "")


class _SourceReader:
    """Validates one ``[[sources]]`` entry; each method checks one key."""

    def __init__(self, entry: dict[str, Any], file: str, label: str, settings: Settings) -> None:
        self.entry, self.file, self.label, self.settings = entry, file, label, settings

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, source=self.label, key=key)

    def read(self) -> SourceConfig:
        unknown = set(self.entry) - SOURCE_KEYS
        if unknown:
            raise self.fail(sorted(unknown)[0], "unknown key")
        interval, cron = self.schedule()
        return SourceConfig(
            name=self.name(), url=self.url(),
            content=self.selectors("content"), ignore=self.selectors("ignore"),
            ignore_text=self.regexes(), interval=interval, cron=cron,
            tags=self.strings("tags"), robots=self.optional_bool("robots"),
            allow_private_network=bool(self.optional_bool("allow_private_network")),
            encoding=self.encoding(), title=self.optional_str("title"),
            enabled=self.optional_bool("enabled") is not False,
        )

    def name(self) -> str:
        name = self.entry.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise self.fail("name", "required: letters, digits, '.', '_' or '-' (max 80)")
        return name

    def url(self) -> str:
        url = self.entry.get("url")
        if not isinstance(url, str) or not url:
            raise self.fail("url", "required")
        m = _HTTP_URL.match(url)
        if not m:
            raise self.fail("url", f"{url!r} must be an http:// or https:// URL")
        url = (m.group(1).lower() + m.group(2)).strip()  # HTTP://… is http://…
        try:
            urlsplit(url).port  # noqa: B018  (raises on a port that is not a number)
        except ValueError as exc:
            raise self.fail("url", f"{url!r}: {exc}") from None
        return url

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.entry.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, "must be a string or a list of non-empty strings")
        return tuple(value)

    def selectors(self, key: str) -> tuple[str, ...]:
        from selectolax.lexbor import LexborHTMLParser, SelectolaxError

        values = self.strings(key)
        probe = LexborHTMLParser("<html><body></body></html>")
        for sel in values:
            try:
                probe.css(sel)
            except (SelectolaxError, ValueError):
                raise self.fail(key, f"{sel!r} is not a valid CSS selector") from None
        return values

    def regexes(self) -> tuple[str, ...]:
        values = self.strings("ignore_text")
        for pattern in values:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise self.fail("ignore_text", f"{pattern!r} is not a valid regex: {exc}") from None
        return values

    def schedule(self) -> tuple[timedelta | None, str | None]:
        interval, cron = self.entry.get("interval"), self.entry.get("cron")
        if interval is not None and cron is not None:
            raise self.fail("cron", "set either interval or cron, not both")
        if cron is not None:
            return None, self.cron(cron)
        try:
            return parse_interval(interval or self.settings.default_interval), None
        except ValueError as exc:
            raise self.fail("interval", str(exc)) from None

    def cron(self, cron: object) -> str:
        from apscheduler.triggers.cron import CronTrigger

        if not isinstance(cron, str):
            raise self.fail("cron", "must be a string like '0 8 * * *'")
        try:
            CronTrigger.from_crontab(cron, timezone=self.settings.timezone)
        except ValueError as exc:
            raise self.fail("cron", f"{cron!r}: {exc}") from None
        return cron

    def encoding(self) -> str | None:
        """Kept as written; ``decode_html`` maps it (gb2312 and gbk decode as gb18030)."""
        value = self.optional_str("encoding")
        if value is not None and canonical_charset(value) is None:
            raise self.fail("encoding", f"{value!r} is not a text encoding Python knows, "
                            "like 'gb18030', 'big5' or 'utf-8'")
        return value

    def optional_bool(self, key: str) -> bool | None:
        value = self.entry.get(key)
        if value is not None and not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def optional_str(self, key: str) -> str | None:
        value = self.entry.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(key, "must be a string")
        return value


def _watchers(raw: list[dict[str, Any]], file: str,
              sources: tuple[SourceConfig, ...]) -> tuple[WatcherConfig, ...]:
    out = []
    for i, entry in enumerate(raw):
        out.append(_watcher(entry, file, i))
    return tuple(out)


def _watcher(entry: dict[str, Any], file: str, i: int) -> WatcherConfig:
    label = str(entry.get("name") or entry.get("email") or entry.get("webhook") or f"#{i + 1}")

    def fail(key: str, msg: str) -> ConfigError:
        return ConfigError(msg, file=file, watcher=label, key=key)

    unknown = set(entry) - WATCHER_KEYS
    if unknown:
        raise fail(sorted(unknown)[0], "unknown key")
    _check_addresses(entry, fail)
    _check_delivery(entry, fail)
    pats, tags = entry.get("sources", []), entry.get("tags", [])
    for key, val in (("sources", pats), ("tags", tags)):
        if not isinstance(val, list) or not all(isinstance(v, str) for v in val):
            raise fail(key, "must be a list of strings")
    if not pats and not tags:
        raise fail("sources", "say which sources: names/globs in sources and/or tags")
    return WatcherConfig(
        name=label, email=entry.get("email"), webhook=entry.get("webhook"),
        webhook_format=entry.get("webhook_format", "generic"),
        webhook_secret_env=entry.get("webhook_secret_env"), sources=tuple(pats),
        tags=tuple(tags), mode=entry.get("mode", "immediate"),
        digest_at=entry.get("digest_at", "08:00"),
    )


def _check_addresses(entry: dict[str, Any], fail: Callable[[str, str], ConfigError]) -> None:
    email, webhook = entry.get("email"), entry.get("webhook")
    if not email and not webhook:
        raise fail("email", "a watcher needs an email and/or a webhook")
    if email is not None and (not isinstance(email, str) or "@" not in email
                              or re.search(r"[\s<>,;]", email)):
        raise fail("email", f"{email!r} is not an email address")
    if webhook is not None and (not isinstance(webhook, str)
                                or not re.match(r"^https?://", webhook)):
        raise fail("webhook", "must be an http:// or https:// URL")
    secret_env = entry.get("webhook_secret_env")
    if secret_env is not None and not re.match(r"^[A-Z_][A-Z0-9_]*$", str(secret_env)):
        raise fail("webhook_secret_env", "must name an environment variable, not hold a secret")


def _check_delivery(entry: dict[str, Any], fail: Callable[[str, str], ConfigError]) -> None:
    if entry.get("webhook_format", "generic") not in WEBHOOK_FORMATS:
        raise fail("webhook_format", f"must be one of {', '.join(WEBHOOK_FORMATS)}")
    if entry.get("mode", "immediate") not in ("immediate", "digest"):
        raise fail("mode", "must be 'immediate' or 'digest'")
    digest_at = entry.get("digest_at", "08:00")
    if not isinstance(digest_at, str) or not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", digest_at):
        raise fail("digest_at", "must be a time of day like '08:00'")
