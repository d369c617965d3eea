"""Loading and validating ``sources.toml``.

The file has three kinds of tables: ``[settings]`` (see ``monitor.settings``),
``[[sources]]`` and ``[[watchers]]``.  It is UTF-8, with or without a BOM; anything else
is refused saying where the first bad byte is.  Validation is strict: an unknown key, a
duplicate name, one page in two sources (``page_key``), a CSS selector lexbor cannot
parse, a regex Python cannot compile, an encoding Python does not know, an interval/cron
that cannot be scheduled, or a credential written in a URL (a source's
``user:password@``, a webhook's ``access_token=``/``key=``...: the webhook URL then comes
from the environment variable named by ``webhook_env``) is a ``ConfigError`` naming the
file, the source (or the watcher) and the key, and for a source's key its line (tomllib
keeps no positions: ``_key_line`` reads the text again); every problem of every source
and every watcher is reported once, in one pass and in file order (``ConfigError.more``;
a source with a bad value still takes part in the duplicate-name and same-page checks,
so fixing one problem never reveals another), and a key written twice is named with both lines
(``_duplicate_key``: tomllib says only "Cannot overwrite a value").  What is probably a
mistake but stops nothing (a watcher matching no source, no watcher at all) is a warning
(``watcher_warnings``).  Loading never touches the network or the database.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from monitor import lazyre
from monitor.errors import ConfigError, NotFoundError
from monitor.plainsettings import (
    _has_password,
    check_proxy,
    interval_text,
    parse_interval,
    unknown_key,
)
from monitor.session_ids import without_session
from monitor.types import ChangeKind

if TYPE_CHECKING:  # pydantic's model: imported where a [settings] table is validated
    from monitor.settings import Settings

# The settings that validating a source reads (``_SourceReader``): with the file's bytes,
# what ``monitor.configcache`` keys its entries on (tests/test_configcache.py checks it).
SOURCE_SETTINGS = ("default_interval", "timezone")
_NAME = lazyre.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
LISTING_KEYS = {"links", "match", "next_page", "page_url", "max_pages", "max_documents",
                "follow"}
DEFAULT_PORTS = {"http": 80, "https": 443}
_HTTP_URL = lazyre.compile(r"^(https?)(://[^/\s]+.*)$", re.I | re.S)

# How a page is fetched (``monitor.fetch``): a listing's follow table inherits what it
# does not set.
ACCESS_KEYS = {"fetch", "wait_for", "proxy", "headers", "cookies_env"}
INHERITED = ("proxy", "headers", "cookies_env")
FETCHERS = ("http", "browser", "auto")
# Request headers that carry credentials: from the environment only (cookies_env).
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_HEADER_NAME = lazyre.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")

SOURCE_KEYS = {
    "name", "url", "content", "ignore", "ignore_text", "interval", "cron", "tags",
    "robots", "allow_private_network", "encoding", "title", "comment", "enabled", "kind",
    "accept_challenge_like", *LISTING_KEYS, *ACCESS_KEYS,
}
# [sources.follow]: the settings of every document a listing finds.
FOLLOW_KEYS = {"content", "ignore", "ignore_text", "interval", "cron", "tags", "encoding",
               "robots", "comment", "accept_challenge_like", *ACCESS_KEYS}
KINDS = ("page", "listing", "feed")
FEED_KEYS = {"match", "max_documents", "follow"}  # a feed has no pages or link selector
# A watcher's triggers (``alerts.triggers``): which changes it is sent.
TRIGGER_KEYS = ("when_added", "when_removed", "when_matches", "kinds")
# Kinds of change recorded but never alerted: a watcher asking for them is warned (not
# refused: a file that loaded before an upgrade must still load; the kind matches nothing).
NEVER_TOLD = {
    "unlisted": "「unlisted」（已从栏目移除）只记录、从不发送提醒：文档从栏目移除不算消息；"
                "文档页面被删除时发送「gone」（页面已删除），可写 kinds = [\"gone\"] "
                "(unlisted changes are recorded, never alerted; a document's page going away "
                "is 'gone')",
}
WATCHER_KEYS = {
    "name", "email", "webhook", "webhook_env", "webhook_format", "webhook_secret_env",
    "sources", "tags", "mode", "digest_at", "apprise_env", *TRIGGER_KEYS,
}
WEBHOOK_FORMATS = ("generic", "dingtalk", "wecom", "feishu", "slack")
SIGNED_FORMATS = ("generic", "dingtalk", "feishu")  # see ``signs`` in alerts/
# Query parameters that are a webhook's credential (DingTalk access_token, WeCom key...):
# such a URL is given by webhook_env, never written in the file.
SECRET_PARAMS = frozenset({"access_token", "token", "key", "secret", "sign", "signature",
                           "password", "apikey", "api_key", "auth", "code"})
WEBHOOK_FROM_ENV = "env:"  # WatcherConfig.webhook when webhook_env names the variable
_ENV_NAME = lazyre.compile(r"^[A-Z_][A-Z0-9_]*$")


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
    # the body is the page even when it looks like a challenge (monitor.challenge)
    accept_challenge_like: bool = False
    # kind = "listing": a column whose documents become pages of this source
    kind: str = "page"
    links: str | None = None  # CSS selector of document links (else found by extract.listing)
    match: str | None = None  # regex a document URL must contain
    next_page: str | None = None  # CSS selector of the next listing page's link
    page_url: str | None = None  # or the n-th listing page's URL: "index_{n}.html"
    max_pages: int = 1
    max_documents: int = 500
    follow: SourceConfig | None = None  # the settings of each document (url: the listing's)
    # how it is fetched (monitor.fetch)
    fetch: str = "http"  # or "browser": rendered by headless Chromium
    wait_for: str | None = None  # browser: a selector to wait for (else network idle)
    proxy: str | None = None  # None: settings.proxy / the environment; "direct": none
    headers: tuple[tuple[str, str], ...] = ()  # added to every request of the page
    cookies_env: str | None = None  # NAME of a variable holding a Cookie header
    # A document another listing lists too: that listing's settings of it, whose
    # watchers are told as well (``storage/documents.py``).  Not a setting: never stored.
    also: tuple[SourceConfig, ...] = field(default=(), compare=False, repr=False)

    @property
    def is_listing(self) -> bool:
        """A column whose documents are tracked: a listing page or a feed."""
        return self.kind in ("listing", "feed")

    def document(self, url: str) -> SourceConfig:
        """The settings a document of this listing is checked with."""
        assert self.follow is not None, "a listing always has follow settings"
        return replace(self.follow, url=url)

    @property
    def all_tags(self) -> tuple[str, ...]:
        """Its tags and, for a listing, its documents' (``[sources.follow] tags``): what
        search, feeds and the web UI filter it by."""
        return tuple(dict.fromkeys(self.tags + (self.follow.tags if self.follow else ())))

    def schedule_text(self) -> str:
        if self.cron:
            return f"cron {self.cron}"
        return f"every {interval_text(self.interval)}" if self.interval else "every ?"

    def matches(self, patterns: tuple[str, ...], tags: tuple[str, ...]) -> bool:
        by_name = any(fnmatch.fnmatchcase(self.name, p) for p in patterns)
        return by_name or bool(set(tags) & set(self.tags))

    def config_dict(self) -> dict[str, Any]:
        """A JSON-able form, stored on the ``sources`` row so history keeps the settings.

        Exactly what reading the row back gives (lists, never tuples, at every depth:
        ``headers`` is pairs): ``Store.sync_sources`` compares the two, and a source
        that compared unequal at every sync had its settings "changed" at every run —
        its page read whole, without validators (``pipeline.settings_read``)."""
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "also"}
        d["interval"] = self.interval.total_seconds() if self.interval else None
        d["follow"] = self.follow.config_dict() if self.follow else None
        return {k: _listed(v) for k, v in d.items()}


def _listed(value: Any) -> Any:
    """``value`` with its tuples as lists, nested ones too (JSON's form of them)."""
    return [_listed(v) for v in value] if isinstance(value, tuple) else value


@dataclass(frozen=True)
class WatcherConfig:
    name: str
    email: str | None = None
    # The URL, or "env:NAME" when webhook_env names the variable holding it: the outbox
    # then stores the name, and the channel reads the URL when it sends.
    webhook: str | None = None
    webhook_format: Literal["generic", "dingtalk", "wecom", "feishu", "slack"] = "generic"
    webhook_secret_env: str | None = None
    sources: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    mode: Literal["immediate", "digest"] = "immediate"
    digest_at: str = "08:00"
    apprise_env: str | None = None  # NAME of a variable holding an Apprise URL
    # Triggers (alerts.triggers): every key set must hold; a list holds when one item does.
    when_added: tuple[str, ...] = ()
    when_removed: tuple[str, ...] = ()
    when_matches: str | None = None
    kinds: tuple[str, ...] = ()

    def wants(self, source: SourceConfig) -> bool:
        return source.matches(self.sources, self.tags)

    @property
    def webhook_env(self) -> str | None:
        """The variable named by ``webhook_env``, when the URL comes from it."""
        if self.webhook and self.webhook.startswith(WEBHOOK_FROM_ENV):
            return self.webhook.removeprefix(WEBHOOK_FROM_ENV)
        return None


@dataclass(frozen=True)
class Config:
    path: Path
    # (a ``SettingsValues``, the same attributes, for ``load_config(plain_settings=True)``
    # served from ``monitor.configcache``)
    settings: Settings
    sources: tuple[SourceConfig, ...] = ()
    watchers: tuple[WatcherConfig, ...] = field(default=())
    # What the sources are, as a hash (``monitor.configcache.digest``): set by
    # ``load_config``, empty for a config parsed from text; ``Store.sync_sources``
    # skips its work when the database was last synced to the same digest.
    digest: str = ""
    # A file that did not load, read anyway by a command that only reads the database
    # (``salvage_settings``): its problems; sources and watchers are then empty.
    broken: ConfigError | None = field(default=None, compare=False)

    def source(self, name_or_url: str) -> SourceConfig:
        for s in self.sources:
            if name_or_url in (s.name, s.url):
                return s
        raise KeyError(name_or_url)

    def select(self, names: list[str] | tuple[str, ...] = ()) -> list[SourceConfig]:
        """Sources whose name or URL matches one of ``names`` (globs); all when empty.  A
        paused source (``enabled = false``) only when named exactly (its name or URL: "check
        this one now"), never by a glob (``p*`` means the sources being checked)."""
        if not names:
            return [s for s in self.sources if s.enabled]
        matched = [s for s in self.sources
                   if any(n == s.url or fnmatch.fnmatchcase(s.name, n) for n in names)]
        chosen = [s for s in matched if s.enabled or s.name in names or s.url in names]
        missing = [n for n in names if not any(n == s.url or fnmatch.fnmatchcase(s.name, n)
                                               for s in matched)]
        if missing:  # the argument is wrong, not the file
            names_ = ", ".join(missing)
            raise NotFoundError(
                f"no source named {', '.join(map(repr, missing))} in {self.path} (--source)",
                f"{self.path} 中没有名为 {names_} 的来源（--source）；monitor sources list "
                "列出所有来源")
        return chosen

    def watchers_of(self, source: SourceConfig) -> list[WatcherConfig]:
        """Its watchers; for a document two listings list, the watchers of either, each
        once (``SourceConfig.also``)."""
        every = (source, *source.also)
        return [w for w in self.watchers if any(w.wants(s) for s in every)]


def load_config(path: str | Path, *, env: dict[str, str] | None = None,
                when_empty: str | None = None, plain_settings: bool = False,
                settings_read: Callable[[Any], None] | None = None) -> Config:
    """Read, parse and validate a sources file (``when_empty``: see ``parse_config``);
    a large file's validated sources come from ``monitor.configcache`` when the file,
    the environment's settings and the code are those they were made from.
    ``plain_settings``: from the cache, the settings too as they were validated, when
    the environment is the same (a ``SettingsValues``, no pydantic: ``monitor
    status``, which only reads them).  ``settings_read``: called with the settings as soon
    as they are known (``configcache.load``)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc}", file=str(path)) from None
    from monitor import configcache

    def parse() -> tuple[Config, dict[str, Any]]:
        config, table = _parse(decode_sources(data, path), path, env, when_empty)
        return replace(config, digest=configcache.digest(data, config.settings)), table

    return configcache.load(path, data, parse, env, plain_settings=plain_settings,
                            settings_read=settings_read)


def salvage_settings(data: bytes, *, env: dict[str, str] | None = None
                     ) -> tuple[Settings, str]:
    """The settings of a sources file that does not load, for the commands that only
    read the database (``status``, ``history``, ``show``, ``diff``, ``search``,
    ``export``, ``alerts list``, ``verify``), and where they came from: ``file`` (its
    ``[settings]`` is valid: the problem is elsewhere, the usual case), ``partly`` (its
    ``database_url`` and ``timezone``, each valid alone; the rest from the environment and
    defaults), ``none`` (the environment and defaults).  When the TOML does not parse,
    those two keys are read from the ``[settings]`` table's lines, ``key = "value"``.
    The database and zone are what matter: the wrong database would show another
    archive, the wrong zone other dates.  A problem of the environment itself is raised."""
    import tomllib

    from monitor.settings import load_settings

    text = data.decode("utf-8-sig", "replace")
    try:
        table = tomllib.loads(text).get("settings", {})
    except tomllib.TOMLDecodeError:
        table, parsed = _settings_lines(text), False
    else:
        parsed = True
    table = table if isinstance(table, dict) else {}
    try:
        settings = load_settings(table, env=env)
    except ConfigError as exc:
        if exc.file == "environment":
            raise
    else:
        return settings, "file" if parsed else "partly" if table else "none"
    kept = {}
    for key in ("database_url", "timezone"):
        try:
            load_settings({key: table[key]}, env=env)
            kept[key] = table[key]
        except (KeyError, ConfigError):
            pass
    return load_settings(kept, env=env), "partly" if kept else "none"


_SETTING_LINE = lazyre.compile(r"""^\s*(database_url|timezone)\s*=\s*"""
                               r"""(?:"([^"\\]*)"|'([^']*)')\s*(?:#.*)?$""")


def _settings_lines(text: str) -> dict[str, str]:
    """``database_url`` and ``timezone`` as the ``[settings]`` table's lines write them,
    from a file tomllib cannot parse."""
    found: dict[str, str] = {}
    inside = False
    for line in text.splitlines():
        if line.lstrip().startswith("["):
            inside = line.strip().replace(" ", "") == "[settings]"
        elif inside and (m := _SETTING_LINE.match(line)):
            found.setdefault(m[1], m[2] if m[2] is not None else m[3])
    return found


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
                 env: dict[str, str] | None = None, when_empty: str | None = None) -> Config:
    """The configuration ``text`` says, or every problem of it in one ``ConfigError``
    (the first, the others in ``more``) in the file's order.  ``when_empty``: the message
    of the problem a file without ``[[sources]]`` is (``sources validate``, a reload of
    a daemon that had sources), told with the others (a bad watcher does not hide it)."""
    return _parse(text, Path(path), env, when_empty)[0]


def _parse(text: str, path: Path, env: dict[str, str] | None, when_empty: str | None
           ) -> tuple[Config, dict[str, Any]]:
    """``parse_config``, and the ``[settings]`` table as written (``configcache`` keeps it)."""
    import tomllib  # here: a file served from monitor.configcache is not parsed (~5 ms)

    from monitor.settings import load_settings  # pydantic (monitor.plainsettings)

    file = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        key, first = _duplicate_key(text, str(exc))
        if key:
            line = _OVERWRITE.search(str(exc))[1]  # type: ignore[index]
            raise ConfigError(f"not valid TOML: duplicate key {key!r} at line {line} (first "
                              f"at line {first}); tomllib: {exc}", file=file, key=key) from None
        raise ConfigError(f"not valid TOML: {_string_start(text, str(exc))}",
                          file=file) from None
    unknown = set(data) - {"settings", "sources", "watchers"}
    if unknown:
        key = sorted(unknown)[0]
        raise _at_line(ConfigError(unknown_key(key, ("settings", "sources", "watchers"))
                                   .replace("key", "top-level table", 1), file=file, key=key),
                       _top_line(text, key))
    table = _table(data, "settings", file)
    try:
        settings = load_settings(table, env=env, file=file)
    except ConfigError as exc:
        key = exc.key or ""
        if exc.file != file or not key.startswith("settings."):
            raise
        raise _at_line(exc, _top_line(text, "settings", key.removeprefix("settings."))
                       ) from None
    raw = _array(data, "sources", file)
    found: list[tuple[int, ConfigError]] = []  # (line, problem): sources' and watchers'
    if not raw and when_empty:
        found.append((0, ConfigError(when_empty, file=file, key="sources")))
    sources, problems = _sources(raw, file, settings, text)
    watchers, more = _watchers(_array(data, "watchers", file), file, sources, text)
    found += problems + more
    if found:  # every one, once, in the file's order (sorted is stable: ties as checked)
        ordered = [p for _, p in sorted(found, key=lambda lp: lp[0])]
        ordered[0].more = tuple(ordered[1:])
        raise ordered[0]
    return Config(path=path, settings=settings, sources=sources, watchers=watchers), table


def _at_line(exc: ConfigError, line: int | None) -> ConfigError:
    """``exc`` with `` (at line 4)`` after its message, as a source's problems have it
    (``_placed``; ``monitor.zh`` says it in Chinese); as it was where no line is found."""
    return exc.placed(f"{exc.what} (at line {line})") if line else exc


def _top_line(text: str, table: str, key: str | None = None) -> int | None:
    """The line of the top-level table ``table``'s header (``[[source]]``, ``[settings]``)
    or, with ``key``, of ``key =`` in it; multi-line strings skipped.  A dotted key
    (``settings.x = 1`` at the top) is not looked for: no line, as before."""
    here = ""
    for number, line in _lines_outside_strings(text):
        stripped = line.strip()
        if stripped.startswith("["):
            here = stripped.split("]")[0].strip("[ ").split(".")[0].strip()
            if key is None and here == table:
                return number
        elif key is not None and here == table and (m := _KEY.match(line)) and m[1] == key:
            return number
    return None


def _string_start(text: str, message: str) -> str:
    """tomllib's message, where a 'literal string' left open runs to the end of the file
    (``Expected "'" (at end of document)``) saying instead the line and column where
    that string starts: the admin's mistake is there, not at the end."""
    if (m := _UNESCAPED.search(message)) and int(m[2]) > 2:
        # tomllib points after the two characters "\d", not at the backslash
        return message.replace(m[0], f"(at line {m[1]}, column {int(m[2]) - 2})")
    if not message.startswith('Expected "\'"') or "end of document" not in message:
        return message
    start = _open_literal(text)
    if start is None:
        return message
    return f'Expected "\'" (the string opened at line {start[0]}, column {start[1]} is not ' \
           "closed on its line)"


_UNESCAPED = lazyre.compile(r"(?<=Unescaped '\\' in a string )\(at line (\d+), column (\d+)\)")


def _open_literal(text: str) -> tuple[int, int] | None:
    """(line, column) of the first one-line 'literal string' not closed on its line,
    strings in double quotes, comments and multi-line strings skipped."""
    multi = ""
    for number, line in enumerate(text.splitlines(), 1):
        i, quote, start = 0, "", 0
        while i < len(line):
            if multi:
                end = line.find(multi, i)
                if end < 0:
                    break
                i, multi = end + 3, ""
                continue
            ch = line[i]
            if quote:
                if ch == "\\" and quote == '"':
                    i += 1
                elif ch == quote:
                    quote = ""
            elif ch == "#":
                break
            elif line.startswith(ch * 3, i) and ch in "'\"":
                multi, i = ch * 3, i + 3
                continue
            elif ch in "'\"":
                quote, start = ch, i
            i += 1
        if quote == "'":
            return number, start + 1
    return None


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


def _name_lines(text: str, index: int, first: int) -> str:
    """Where the ``index``-th source's name, a duplicate of the ``first``-th's, is, as
    TOML errors say it (``line 9, column 1``, which ``monitor.zh`` puts in Chinese), and
    the line of its first use: `` at line 9, column 1 (first at line 3)`` (``_key_line``).
    Empty where either is not found (a source written as an inline table): the message
    then names the source and the key only."""
    here, there = _key_line(text, index, "name"), _key_line(text, first, "name")
    if not (here and there):
        return ""
    line = text.splitlines()[here - 1]
    return f" at line {here}, column {len(line) - len(line.lstrip()) + 1} (first at line {there})"


def _sources(raw: list[dict[str, Any]], file: str, settings: Settings, text: str = ""
             ) -> tuple[tuple[SourceConfig, ...], list[tuple[int, ConfigError]]]:
    """The valid sources, and every problem of every source with its line (the sort key
    of ``parse_config``): no problem hides another.  A source with a problem still
    takes part in the duplicate-name and same-page checks, by whichever of its name and
    URL is valid: fixing a bad interval must not reveal a duplicate only then."""
    out: list[SourceConfig] = []
    names: dict[str, int] = {}  # name → the index of its first source
    pages: dict[str, tuple[str, str]] = {}  # page_key → (name, URL) of its first source
    problems: list[tuple[int, ConfigError]] = []
    for i, entry in enumerate(raw):
        label = str(entry.get("name") or f"#{i + 1}")
        reader = _SourceReader(entry, file, label, settings)
        try:
            src: SourceConfig | None = reader.read()
        except ConfigError as exc:
            src = None
            problems += [_placed(p, text, i) for p in exc.problems]
        name, url = (src.name, src.url) if src is not None else (
            _or_none(reader.name), _or_none(reader.url))
        clash = name is not None and name in names
        if clash:
            problems.append(_placed(ConfigError(
                f"duplicate name{_name_lines(text, i, names[name])}",  # type: ignore[index]
                file=file, source=name, key="name"), text, i))
        elif name is not None:
            names[name] = i
        if url is not None:
            first = pages.setdefault(page_key(url), (label, url))
            if first != (label, url):
                problems.append(_placed(ConfigError(
                    f"has the same page as source {first[0]!r} ({first[1]}); keep one of "
                    "them", file=file, source=label, key="url"), text, i))
                src = None
        if src is not None and not clash:
            out.append(src)
    return tuple(out), problems


def _or_none(read: Callable[[], str]) -> str | None:
    try:
        return read()
    except ConfigError:
        return None


def _placed(exc: ConfigError, text: str, index: int, table: str = "sources"
            ) -> tuple[int, ConfigError]:
    """The problem with the line of its key in the ``index``-th ``[[sources]]`` (or
    ``[[watchers]]``) table (`` (at line 12)``, which ``monitor.zh`` says in Chinese), and
    the line to sort it by: its key's, else its table's, else last (an inline table)."""
    line = _key_line(text, index, exc.key, table) if exc.key else None
    said = line and " at line " not in exc.what  # a duplicate name says its lines itself
    one = exc.placed(f"{exc.what} (at line {line})" if said else exc.what)
    one.more = ()
    return line or _entry_line(text, index, table) or 1 << 30, one


def _entry_line(text: str, index: int, array: str) -> int | None:
    """The line of the ``index``-th ``[[array]]`` header (multi-line strings skipped)."""
    seen, in_string = -1, ""
    for number, line in enumerate(text.splitlines(), 1):
        if in_string:
            in_string = "" if line.count(in_string) % 2 else in_string
            continue
        if re.fullmatch(rf"\[\[\s*{array}\s*\]\]", line.strip()):
            seen += 1
            if seen == index:
                return number
        in_string = next((q for q in _MULTILINE if line.count(q) % 2), "")
    return None


_KEY = lazyre.compile(r"\s*([A-Za-z0-9_-]+)\s*=")
_MULTILINE = ('"""', "'''")


def _key_line(text: str, index: int, key: str, array: str = "sources") -> int | None:
    """The line of ``key`` (``follow.content``: in ``[sources.follow]``) in the
    ``index``-th ``[[sources]]`` table of ``text``; tomllib keeps no positions, so the
    text is read again (only for a problem), multi-line strings skipped."""
    table, _, name = key.partition(".") if key.startswith("follow.") else ("", "", key)
    name = name.split(".")[0]
    seen, here = -1, ""
    for number, line in _lines_outside_strings(text):
        stripped = line.strip()
        if stripped.startswith("["):
            if re.fullmatch(rf"\[\[\s*{array}\s*\]\]", stripped):
                seen, here = seen + 1, ""
            else:
                here = stripped.strip("[] ").removeprefix(f"{array}.")
        elif seen == index and here == table and (m := _KEY.match(line)) and m[1] == name:
            return number
    return None


def _lines_outside_strings(text: str) -> Iterator[tuple[int, str]]:
    """The lines of a TOML text with their numbers, but those inside a multi-line
    string (a line that opens one is given, its continuation lines are not): where
    ``_top_line`` and ``_key_line`` look for headers and keys."""
    in_string = ""
    for number, line in enumerate(text.splitlines(), 1):
        if in_string:
            in_string = "" if line.count(in_string) % 2 else in_string
            continue
        yield number, line
        in_string = next((q for q in _MULTILINE if line.count(q) % 2), "")


_OVERWRITE = lazyre.compile(r"Cannot overwrite a value \(at line (\d+), column (\d+)\)")


def _duplicate_key(text: str, message: str) -> tuple[str, int]:
    """The key tomllib's "Cannot overwrite a value (at line 21, column 30)" is about and
    the line of its first use in the same table: tomllib names neither.  The key is
    what stands before ``=`` on that line; its first use, the nearest line above it,
    below the same table header, setting that key.  ("", 0) when not found."""
    m = _OVERWRITE.search(message)
    lines = text.splitlines()
    if not m or int(m[1]) > len(lines):
        return "", 0
    number = int(m[1])
    key = _KEY.match(lines[number - 1])
    if not key:
        return "", 0
    for above in range(number - 1, 0, -1):
        line = lines[above - 1]
        if line.lstrip().startswith("["):
            break
        if (k := _KEY.match(line)) and k[1] == key[1]:
            return key[1], above
    return "", 0


def bad_regex(pattern: str, exc: re.error) -> str:
    """``not a valid regex: unterminated character set at position 2: «点击[:：\\s*\\d+»``:
    the reason, then the pattern as written in the file (not ``repr``, whose doubled
    backslashes are not what the admin typed), between « » (``monitor.zh`` reads it)."""
    return f"not a valid regex: {exc}: «{pattern}»"


def page_key(url: str) -> str:
    """The canonical form of a page's URL, to find one page configured twice.

    Scheme and host in lower case, no default port (80 for http, 443 for https), no
    ``#fragment`` (never sent to the server), no trailing slash on the path (``/a/`` and
    ``/a`` are one page on the sites we watch), ``/`` for an empty path; the query is kept
    as written (``?id=1`` and ``?id=2`` are two pages), less its session ids
    (``;jsessionid=…``: ``monitor.session_ids``, as a listing's document is found).  http
    and https stay two pages.
    """
    parts = urlsplit(without_session(url))
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
        """The source, or every problem of it (not only the first: a bad regex on line
        15 is not hidden by a bad interval on line 16), raised as one ``ConfigError``
        with the others in ``more`` (``_sources`` puts them in file order)."""
        found: list[ConfigError] = []

        def each(check: Callable[..., Any], *args: Any, default: Any = None) -> Any:
            try:
                return check(*args)
            except ConfigError as exc:
                found.extend(exc.problems)  # a check may find two (interval and cron)
                return default

        found += [self.fail(k, unknown_key(k, SOURCE_KEYS))
                  for k in sorted(set(self.entry) - SOURCE_KEYS)]
        interval, cron = each(self.schedule, default=(None, None))
        fields = {
            "name": each(self.name), "url": each(self.url),
            "content": each(self.selectors, "content", default=()),
            "ignore": each(self.selectors, "ignore", default=()),
            "ignore_text": each(self.regexes, default=()),
            "tags": each(self.strings, "tags", default=()),
            "robots": each(self.optional_bool, "robots"),
            "allow_private_network": bool(each(self.optional_bool, "allow_private_network")),
            "encoding": each(self.encoding), "title": each(self.optional_str, "title"),
            "enabled": each(self.optional_bool, "enabled") is not False,
            "accept_challenge_like": bool(each(self.optional_bool, "accept_challenge_like")),
            **each(self.listing, default={}), **each(self.access, default={})}
        if found:
            found[0].more = tuple(found[1:])
            raise found[0]
        return SourceConfig(interval=interval, cron=cron, **fields)

    def access(self, inherited: SourceConfig | None = None) -> dict[str, Any]:
        """fetch, wait_for, proxy, headers, cookies_env.  A follow table inherits the
        listing's proxy, headers and cookies_env (the same site), not how it is fetched."""
        d: dict[str, Any] = {k: getattr(inherited, k) for k in INHERITED} if inherited else {}
        found: list[ConfigError] = []  # every key's problem: a bad proxy hides no Cookie
        if "fetch" in self.entry:
            fetch = self.entry["fetch"]
            if fetch not in FETCHERS:
                found.append(self.fail("fetch",
                                       f"{fetch!r}: must be one of {', '.join(FETCHERS)}"))
            d["fetch"] = fetch
        for key, read in (("wait_for", self.selector), ("proxy", self.proxy),
                          ("headers", self.headers), ("cookies_env", self.env_name)):
            if key in self.entry:
                try:
                    d[key] = read(key)
                except ConfigError as exc:
                    found.extend(exc.problems)
        if found:
            found[0].more = tuple(found[1:])
            raise found[0]
        return d

    def proxy(self, key: str) -> str:
        value = self.optional_str(key) or ""
        try:
            check_proxy(value)
        except ValueError as exc:
            raise self.fail(key, str(exc)) from None
        if _has_password(value):
            raise self.fail(key, "has a password in it: a proxy's credentials come from the "
                            "environment (MONITOR_PROXY or HTTPS_PROXY), never sources.toml")
        return value

    def headers(self, key: str) -> tuple[tuple[str, str], ...]:
        table = self.entry.get(key)
        if not isinstance(table, dict) or not all(
                isinstance(v, str) and _HEADER_NAME.match(k) for k, v in table.items()):
            raise self.fail(key, 'must be a table of header names and strings, like '
                            '{ Referer = "https://…", Accept-Language = "zh-CN" }')
        for name in table:
            if name.lower() in SECRET_HEADERS:
                raise self.fail(f"{key}.{name}", "is a credential: never in sources.toml; "
                                "put a Cookie header in an environment variable and name it "
                                "with cookies_env")
        return tuple(table.items())

    def env_name(self, key: str) -> str:
        value = self.optional_str(key) or ""
        if not _ENV_NAME.match(value):
            raise self.fail(key, f"{value!r}: the NAME of an environment variable, like "
                            "'GXT_COOKIE' (its value is the Cookie header)")
        return value

    def listing(self) -> dict[str, Any]:
        """The keys of ``kind = "listing"``; refused on any other kind."""
        kind = self.entry.get("kind", "page")
        if kind not in KINDS:
            raise self.fail("kind", f"{kind!r}: must be one of {', '.join(KINDS)}")
        allowed = {"page": set(), "feed": FEED_KEYS}.get(kind, LISTING_KEYS)
        if misplaced := sorted(set(self.entry) & LISTING_KEYS - allowed):
            raise self.fail(misplaced[0], f'not for kind = "{kind}"')
        if kind == "page":
            return {}
        if "next_page" in self.entry and "page_url" in self.entry:
            raise self.fail("page_url", "set either next_page or page_url, not both")
        page_url = self.optional_str("page_url")
        if page_url is not None and "{n}" not in page_url:
            raise self.fail("page_url", f'{page_url!r}: must contain {{n}}, like '
                            '"index_{n}.html"')
        return {"kind": kind, "links": self.selector("links"), "match": self.regex("match"),
                "next_page": self.selector("next_page"), "page_url": page_url,
                "max_pages": self.count("max_pages", 1, 50),
                "max_documents": self.count("max_documents", 500, 100_000),
                "follow": self.follow()}

    def follow(self) -> SourceConfig:
        table = self.entry.get("follow", {})
        if not isinstance(table, dict):
            raise self.fail("follow", "must be a table: [sources.follow]")
        if unknown := sorted(set(table) - FOLLOW_KEYS):
            raise self.fail(f"follow.{unknown[0]}", unknown_key(unknown[0], FOLLOW_KEYS))
        sub = _SourceReader({**table, "name": self.entry.get("name"),
                             "url": self.entry.get("url")}, self.file, self.label,
                            self.settings)
        interval, cron = sub.schedule()
        return SourceConfig(
            name=self.name(), url=self.url(), content=sub.selectors("content"),
            ignore=sub.selectors("ignore"), ignore_text=sub.regexes(), interval=interval,
            cron=cron, tags=tuple(dict.fromkeys(self.strings("tags") + sub.strings("tags"))),
            robots=sub.optional_bool("robots"),
            allow_private_network=bool(self.optional_bool("allow_private_network")),
            encoding=sub.encoding(),
            accept_challenge_like=bool(sub.optional_bool("accept_challenge_like")),
            **sub.access(inherited=self._own_access()))

    def _own_access(self) -> SourceConfig:
        """The listing's own access keys, what its follow table inherits."""
        return SourceConfig(name="-", url="-", **self.access())

    def selector(self, key: str) -> str | None:
        return self.selectors(key)[0] if key in self.entry else None

    def regex(self, key: str) -> str | None:
        value = self.optional_str(key)
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise self.fail(key, bad_regex(value, exc)) from None
        return value

    def count(self, key: str, default: int, most: int) -> int:
        value = self.entry.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most:
            raise self.fail(key, f"{_shown(value)}: must be a whole number from 1 to {most}")
        return value

    def name(self) -> str:
        name = self.entry.get("name")
        if name is None or name == "":
            raise self.fail("name", "required: ASCII letters, digits, '.', '_' or '-' "
                            "(max 80)")
        if not isinstance(name, str) or not _NAME.match(name):
            raise self.fail("name", f"{_shown(name)}: only ASCII letters A-Z a-z, digits "
                            "0-9, '.', '_' and '-', starting with a letter or digit, at most "
                            "80 characters (a Chinese name goes in title)")
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
            parts = urlsplit(url)
            parts.port  # noqa: B018  (raises on a port that is not a number)
        except ValueError as exc:
            raise self.fail("url", f"{_safe_url(url)!r}: {exc}") from None
        if "@" in parts.netloc:
            raise self.fail("url", f"{_safe_url(url)!r} has a user name or password in it: "
                            "sources are public pages, fetched without logging in; "
                            "remove the 'user:password@' part")
        return url

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.entry.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, "must be a string or a list of non-empty strings, not "
                            f"{_shown(value)}")
        return tuple(value)

    def selectors(self, key: str) -> tuple[str, ...]:
        values = self.strings(key)
        for sel in values:
            if not _valid_selector(sel):
                raise self.fail(key, f"{sel!r} is not a valid CSS selector")
        return values

    def regexes(self) -> tuple[str, ...]:
        values = self.strings("ignore_text")
        for pattern in values:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise self.fail("ignore_text", bad_regex(pattern, exc)) from None
        return values

    def schedule(self) -> tuple[timedelta | None, str | None]:
        interval, cron = self.entry.get("interval"), self.entry.get("cron")
        if interval is not None and cron is not None:
            both = self.fail("cron", "set either interval or cron, not both")
            try:  # a bad cron is told too: deleting interval must not reveal it only then
                self.cron(cron)
            except ConfigError as exc:
                both.more = (exc,)
            raise both
        if cron is not None:
            return None, self.cron(cron)
        try:
            return parse_interval(interval or self.settings.default_interval), None
        except ValueError as exc:
            raise self.fail("interval", str(exc)) from None

    def cron(self, cron: object) -> str:
        from apscheduler.triggers.cron import CronTrigger

        if not isinstance(cron, str):
            raise self.fail("cron", f"{_shown(cron)}: must be a string like '0 8 * * *'")
        try:
            CronTrigger.from_crontab(cron, timezone=self.settings.timezone)
        except ValueError as exc:
            raise self.fail("cron", f"{cron!r}: {_cron_field(cron, str(exc))}{exc}") from None
        return cron

    def encoding(self) -> str | None:
        """Kept as written; ``decode_html`` maps it (gb2312 and gbk decode as gb18030)."""
        value = self.optional_str("encoding")
        if value is None:
            return None
        from monitor.fetch.encoding import canonical_charset  # only when there is one

        if canonical_charset(value) is None:
            raise self.fail("encoding", f"{value!r} is not a text encoding Python knows, "
                            "like 'gb18030', 'big5' or 'utf-8'")
        return value

    def optional_bool(self, key: str) -> bool | None:
        value = self.entry.get(key)
        if value is not None and not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {_shown(value)}")
        return value

    def optional_str(self, key: str) -> str | None:
        value = self.entry.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {_shown(value)}")
        return value


CRON_FIELDS = ("minute", "hour", "day", "month", "weekday")


def _cron_field(cron: str, message: str) -> str:
    """``hour field '25': `` — which of the five fields APScheduler's message is about
    (it names only the field's text: "Error validating expression '25'"); empty when it
    does not say or the text is not one field's."""
    m = re.search(r"expression '([^']*)'", message)
    parts = cron.split()
    if not m or len(parts) != 5 or m[1] not in parts:
        return ""
    return f"{CRON_FIELDS[parts.index(m[1])]} field {m[1]!r}: "


def followed_documents(sources: tuple[SourceConfig, ...] | list[SourceConfig],
                       documents: list[tuple[str, str]], file: str = "sources.toml"
                       ) -> list[ConfigError]:
    """The plain sources whose page a listing already follows as one of its documents
    (``documents``: (URL, listing's name), ``storage.documents.followed``), compared by
    ``page_key`` as two sources are.  One page, one source: otherwise one edit of the page
    is two changes, two alerts and two histories.  The file alone cannot tell (the
    documents are found by checks, in the database), so loading does not refuse it:
    ``monitor sources add`` refuses such a source, and the daemon warns about one a file
    already has (a file that loaded before must still load)."""
    listings = {s.name for s in sources if s.is_listing}
    by_page = {page_key(url): name for url, name in documents if name in listings}
    out = []
    for src in sources:
        listing = None if src.is_listing else by_page.get(page_key(src.url))
        if listing is not None and listing != src.name:
            out.append(ConfigError(
                f"is already a document of listing source {listing!r} ({src.url}): one "
                "page, one source; remove this source (the listing keeps the page's history: "
                f"monitor history {src.url})", file=file, source=src.name, key="url"))
    return out


NO_WATCHERS = "no [[watchers]]: changes are recorded but nobody is alerted"


def watcher_warnings(config: Config) -> list[str]:
    """Watchers that match nothing (a typo, most likely), and a file with no watcher.

    Warnings, not errors: a watcher of a tag whose sources are still to be added is
    legitimate, and nothing is lost meanwhile (changes are stored either way)."""
    if not config.watchers:
        return [NO_WATCHERS]
    names = [s.name for s in config.sources]
    tags = sorted({t for s in config.sources for t in s.all_tags})
    out = []
    for w in config.watchers:
        out += [_unmatched(w, "sources", p, names) for p in w.sources
                if not any(fnmatch.fnmatchcase(n, p) for n in names)]
        out += [_unmatched(w, "tags", t, tags) for t in w.tags if t not in tags]
        out += [f"watcher {w.name!r}: kinds {k!r}: {NEVER_TOLD[k]}" for k in w.kinds
                if k in NEVER_TOLD]
    return out


def _unmatched(w: WatcherConfig, key: str, value: str, known: list[str]) -> str:
    what = "matches no source" if key == "sources" else "is the tag of no source"
    close = difflib.get_close_matches(value, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"watcher {w.name!r}: {key} {value!r} {what}{hint}"


def _watchers(raw: list[dict[str, Any]], file: str, sources: tuple[SourceConfig, ...],
              text: str = "") -> tuple[tuple[WatcherConfig, ...], list[tuple[int, ConfigError]]]:
    """The valid watchers, and every problem of every watcher with its line (like
    ``_sources``)."""
    out, problems = [], []
    for i, entry in enumerate(raw):
        found: list[ConfigError] = []
        watcher = _watcher(entry, file, i, found)
        if found:
            problems += [_placed(p, text, i, "watchers") for p in found]
        else:
            out.append(watcher)
    return tuple(out), problems


def _safe_url(url: str) -> str:
    """``url`` fit for a message: a webhook's path and query may be its secret."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "…"
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"


Fail = Callable[[str, str], None]  # records a watcher's problem (key, message)


def _watcher(entry: dict[str, Any], file: str, i: int, found: list[ConfigError]
             ) -> WatcherConfig:
    """The watcher; each of its problems (all of them, not only the first) is added to
    ``found``, and the watcher returned is then not to be used."""
    webhook = entry.get("webhook")
    label = str(entry.get("name") or entry.get("email")
                or (_safe_url(webhook) if isinstance(webhook, str) else None)
                or entry.get("webhook_env") or f"#{i + 1}")

    def fail(key: str, msg: str) -> None:
        found.append(ConfigError(msg, file=file, watcher=label, key=key))

    for key in sorted(set(entry) - WATCHER_KEYS):
        fail(key, unknown_key(key, WATCHER_KEYS))
    _check_addresses(entry, fail)
    _check_delivery(entry, fail)
    pats, tags = entry.get("sources", []), entry.get("tags", [])
    for key, val in (("sources", pats), ("tags", tags)):
        if not isinstance(val, list) or not all(isinstance(v, str) for v in val):
            fail(key, "应为字符串的列表，如 [\"gov-*\"] (must be a list of strings)")
    if not pats and not tags:
        fail("sources", "没有指定提醒哪些来源：请在 sources 写来源名称（可用通配符 *）和/或在 "
             "tags 写标签 (say which sources: names/globs in sources and/or tags)")
    env = entry.get("webhook_env")
    return WatcherConfig(
        name=label, email=entry.get("email"),
        webhook=WEBHOOK_FROM_ENV + env if env else entry.get("webhook"),
        webhook_format=entry.get("webhook_format", "generic"),
        webhook_secret_env=entry.get("webhook_secret_env"), sources=_tuple(pats),
        tags=_tuple(tags), mode=entry.get("mode", "immediate"),
        digest_at=entry.get("digest_at", "08:00"), apprise_env=entry.get("apprise_env"),
        **_triggers(entry, fail),
    )


def _shown(value: object) -> str:
    """``value`` as a message shows it: its repr, cut at 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _tuple(value: object) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, list) else ()


def _check_addresses(entry: dict[str, Any], fail: Fail) -> None:
    email, webhook, env = entry.get("email"), entry.get("webhook"), entry.get("webhook_env")
    if not email and not webhook and not env and not entry.get("apprise_env"):
        fail("email", "a watcher needs an email and/or a webhook (webhook_env, apprise_env)")
    if email is not None and (not isinstance(email, str) or "@" not in email
                              or re.search(r"[\s<>,;]", email)):
        fail("email", f"{email!r} is not an email address")
    if webhook is not None and env is not None:
        fail("webhook_env", "set either webhook or webhook_env, not both")
    if webhook is not None:
        _check_webhook(webhook, entry, fail)
    for key in ("webhook_env", "webhook_secret_env", "apprise_env"):
        if entry.get(key) is not None and not _ENV_NAME.match(str(entry[key])):
            fail(key, "must name an environment variable (like ROOM_WEBHOOK), "
                 "not hold a URL or secret")  # the value is not shown: it may be a secret


def _check_webhook(webhook: object, entry: dict[str, Any], fail: Fail) -> None:
    """A URL without credentials: those go in the environment (``webhook_env``)."""
    if not isinstance(webhook, str) or not re.match(r"^https?://", webhook, re.I):
        fail("webhook", "must be an http:// or https:// URL")
        return
    try:
        parts = urlsplit(webhook)
        params = [k for k, _ in parse_qsl(parts.query, keep_blank_values=True)]
    except ValueError:
        fail("webhook", "is not a valid URL")
        return
    secrets = [k for k in params if k.lower() in SECRET_PARAMS]
    if "@" in parts.netloc or secrets:
        what = f"{secrets[0]}=…" if secrets else "a user name or password"
        signing = ("; a signing secret goes in the variable named by webhook_secret_env"
                   if entry.get("webhook_format", "generic") in SIGNED_FORMATS else "")
        fail("webhook", f"holds a secret ({what}) in the file: put the whole URL in an "
             "environment variable and name it instead, e.g. webhook_env = "
             f"\"{_env_suggestion(entry)}\"{signing}")


def _env_suggestion(entry: dict[str, Any]) -> str:
    name = re.sub(r"[^A-Z0-9]+", "_", str(entry.get("name") or "").upper()).strip("_")
    return f"{name}_WEBHOOK" if name and not name[0].isdigit() else "MONITOR_WEBHOOK_URL"


def _check_delivery(entry: dict[str, Any], fail: Fail) -> None:
    if entry.get("webhook_format", "generic") not in WEBHOOK_FORMATS:
        fail("webhook_format", f"{_shown(entry.get('webhook_format'))}: must be one of "
             f"{', '.join(WEBHOOK_FORMATS)}")
    if entry.get("mode", "immediate") not in ("immediate", "digest"):
        fail("mode", f"{_shown(entry.get('mode'))}: must be one of immediate, digest")
    digest_at = entry.get("digest_at", "08:00")
    if not isinstance(digest_at, str) or not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", digest_at):
        fail("digest_at", f"{_shown(digest_at)}: must be a time of day like '08:00'")


def _triggers(entry: dict[str, Any], fail: Fail) -> dict[str, Any]:
    """when_added / when_removed (strings), when_matches (a regex), kinds (change kinds).

    Refused in Chinese first, the technical detail after: the user reads the first part."""
    out: dict[str, Any] = {}
    for key in ("when_added", "when_removed", "kinds"):
        value = entry.get(key, [])
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or (not value and key in entry) or not all(
                isinstance(v, str) and v.strip() for v in value):
            fail(key, "应为非空字符串的列表，如 [\"答复\", \"办结\"] "
                 "(must be a list of non-empty strings)")
            value = []
        out[key] = tuple(value)
    known = [str(k) for k in ChangeKind if k not in NEVER_TOLD]
    for kind in out["kinds"]:
        if kind not in known and kind not in NEVER_TOLD:  # those: a warning (watcher_warnings)
            close = difflib.get_close_matches(kind, known, n=1)
            hint = f"，是否想写 {close[0]!r}？" if close else ""
            fail("kinds", f"未知的变化类型 {kind!r}{hint} (a kind of change is one of: "
                 f"{', '.join(known)})")
    pattern = entry.get("when_matches")
    if pattern is not None:
        try:
            if not isinstance(pattern, str) or not pattern:
                raise re.error("must be a non-empty string")
            re.compile(pattern)
        except re.error as exc:
            fail("when_matches", f"{pattern!r} 不是有效的正则表达式 (not a valid regex: {exc})")
            pattern = None
    out["when_matches"] = pattern
    return out


@cache
def _valid_selector(sel: str) -> bool:
    """Whether lexbor accepts the CSS selector ``sel``.  Remembered: a file of 1,000
    sources names a few selectors, and a probe parser costs ~15 µs (30 ms of loading
    such a file when it was made for every source's two selector settings)."""
    from selectolax.lexbor import LexborHTMLParser, SelectolaxError

    try:
        LexborHTMLParser("<html><body></body></html>").css(sel)
    except (SelectolaxError, ValueError):
        return False
    return True
