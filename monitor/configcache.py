"""The parsed, validated sources of a large ``sources.toml``, kept between commands.

Issue 12: ``monitor status`` typed by hand answers in ≤ 0.3 s.  Parsing and validating a
file of 10,000 sources costs ~0.35 s of CPU (tomllib alone ~0.13 s), more than the rest of
the command; reading back the validated sources from this cache costs ~0.05 s.

**What makes an entry valid.**  The file is read whole at every load anyway (a command
needs its bytes to know anything), and the entry is used only when all of these equal
what it was made from:

* the SHA-256 of the file's bytes — not its stamp.  A stamp (size, ``mtime_ns``) can stay
  the same across an edit: an edit of one character by a tool that keeps the time
  (``touch -r``, ``cp -p``, rsync, a checkout), or two writes within the clock's
  resolution (1–10 ms on some file systems, 2 s on FAT).  Hashing ~0.9 MB costs ~1 ms,
  so the stamp would save nothing worth that risk;
* the settings a source's validation reads (``config.SOURCE_SETTINGS``: the default
  interval and the time zone of cron schedules), after the environment's ``MONITOR_*``
  values are applied.  The ``[settings]`` table is kept as written and validated again
  at every load with the environment of the moment, except for a command that only
  reads them (``monitor status``: ``plain_settings``), which gets the values validated
  when the entry was made (``validated``, a ``monitor.plainsettings.SettingsValues``)
  when every ``MONITOR_*`` variable is what it was then: pydantic and the model cost
  ~0.08 s of CPU to import and build, a quarter of that command at 10,000 sources;
* the code that validates: the contents of the modules whose rules decide what a
  source is (``CODE``), and the installed selectolax (which CSS selectors are valid) and
  APScheduler (cron) by their files' stamps, and the Python version (regexes);
  an upgrade or an edit of that code starts afresh.

Only a file that loaded without a problem is cached, and only from ``CACHE_FROM`` bytes
(~600 sources; a smaller file parses in a few milliseconds): a broken edit is never
served from here, it is parsed and reported, every time.  A file with no source is not
cached (``when_empty`` must see it).

**Where.**  ``$XDG_CACHE_HOME/monitor/`` (else ``~/.cache/monitor/``), one file per
sources file, named by a hash of its absolute path: a regenerable cache belongs in the
user's cache directory, not beside ``sources.toml`` (often read-only, under version
control, or a container's mounted config) nor beside the database (maybe PostgreSQL,
maybe shared by several users).  It is written to a temporary file and renamed (two
commands at once never see half an entry), mode 0600.  An entry is read only if it
belongs to this user and nobody else may write it.  It holds plain values only, in
``marshal``'s format (tuples of each source's fields, in the dataclass's order; the
format is Python's own, and the Python version is part of the code's stamp): loading
runs no code, unlike a pickle, and 10,000 sources come back in ~25 ms (a pickle of the
dataclasses took ~50).
Anything wrong — no home directory, a read-only or full disk, a corrupt, truncated or
foreign entry — and the file is parsed as if there were no cache, silently: the cache
can make a command faster, never make it fail or say anything.

``digest`` (``Config.digest``) names the sources this file gives with this code:
``Store.sync_sources`` skips its work when the database was last synced to the same one.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import fields
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

CACHE_FROM = 64 * 1024  # bytes of sources.toml: below, parsing is cheaper than the cache
FORMAT = 3  # of an entry: raise it when the entry's layout changes
HERE = Path(__file__).resolve().parent
# The modules whose rules decide what a sources file gives (their contents, hashed), and
# those that write it to the database (a digest names what a sync wrote).
CODE = ("config.py", "settings.py", "plainsettings.py", "types.py", "configcache.py",
        "fetch/encoding.py",
        "../storage/repository.py", "../storage/tables.py")
LIBRARIES = ("selectolax", "apscheduler")  # their files' stamps


def directory(env: Mapping[str, str] | None = None) -> Path | None:
    """Where entries are kept: ``$XDG_CACHE_HOME/monitor``, else ``~/.cache/monitor``;
    None when there is no such place (no home directory)."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the spec: a relative value is to be ignored
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no HOME, no passwd entry
            return None
    return Path(base) / "monitor"


def entry_path(sources: Path, env: Mapping[str, str] | None = None) -> Path | None:
    where = directory(env)
    if where is None:
        return None
    name = hashlib.sha256(os.fsencode(os.path.abspath(sources))).hexdigest()[:20]
    return where / f"sources-{name}.marshal"


def code_stamp() -> str:
    """What the code that validates a file is: see the module's docstring."""
    global _CODE_STAMP
    if _CODE_STAMP is None:
        h = hashlib.sha256(f"{FORMAT} {sys.version}".encode())
        for name in CODE:
            try:
                h.update((HERE / name).read_bytes())
            except OSError:  # not installed beside us: then its absence is the stamp
                h.update(f"no {name}".encode())
        from importlib.util import find_spec

        for lib in LIBRARIES:
            spec = find_spec(lib)
            origin = spec.origin if spec is not None else None
            if origin:
                st = os.stat(origin)
                h.update(f"{lib} {origin} {st.st_size} {st.st_mtime_ns}".encode())
        _CODE_STAMP = h.hexdigest()
    return _CODE_STAMP


_CODE_STAMP: str | None = None


def digest(data: bytes, settings: Any) -> str:
    """The sources ``data`` gives under ``settings``' source settings, with this code."""
    from monitor.config import SOURCE_SETTINGS

    h = hashlib.sha256(data)
    h.update(code_stamp().encode())
    h.update(repr([getattr(settings, k) for k in SOURCE_SETTINGS]).encode())
    return h.hexdigest()


def load(path: Path, data: bytes, parse: Callable[[], tuple[Any, dict[str, Any]]],
         env: Mapping[str, str] | None, *, plain_settings: bool = False,
         settings_read: Callable[[Any], None] | None = None) -> Any:
    """The ``Config`` of ``data`` (the bytes of ``path``): from the entry when it is
    valid, else ``parse()`` (the config and the ``[settings]`` table as written), whose
    result is then kept if the file is large and loads without a problem (else
    ``parse()`` raises, and nothing is kept).  ``plain_settings``: the entry's validated
    settings as a ``SettingsValues`` when they were validated under the same
    ``MONITOR_*`` environment (``validated``), else validated again as always and kept
    for this environment (the entry rewritten: the next such command is served).
    ``settings_read(settings)``: called as soon as the settings are known, from an
    entry before its sources are rebuilt (``monitor status`` starts reading the database
    then, while the sources load), else once parsed."""
    from monitor.config import Config

    where = entry_path(path) if len(data) >= CACHE_FROM else None  # os.environ's place
    if where is None:
        return _told(parse()[0], settings_read)
    file_hash = hashlib.sha256(data).hexdigest()
    entry = _read(where)
    if entry is not None and entry.get("file") == file_hash:
        try:
            settings = (plain_settings and _validated(entry, env)) or _settings(entry, env, path)
            if settings_read is not None:
                settings_read(settings)
            found = digest(data, settings)
            sources, watchers = _rebuilt(entry) if entry.get("digest") == found else ((), ())
        except Exception:  # a bad environment (parse() says so) or a damaged entry
            sources = ()
        if sources:
            if plain_settings and not _plain(settings):
                _write(where, {**entry, "validated": _values(settings, env)})
            return Config(path=path, settings=settings, sources=sources, watchers=watchers,
                          digest=found)
    config, table = parse()
    if config.sources:
        _write(where, {"file": file_hash, "digest": config.digest, "settings": table,
                       "validated": _values(config.settings, env),
                       "sources": [_flat(src) for src in config.sources],
                       "watchers": [_flat(w) for w in config.watchers]})
    return _told(config, settings_read)


def _told(config: Any, settings_read: Callable[[Any], None] | None) -> Any:
    if settings_read is not None:
        settings_read(config.settings)
    return config


def _plain(settings: Any) -> bool:
    return type(settings).__name__ == "SettingsValues"


def _settings(entry: dict[str, Any], env: Mapping[str, str] | None, path: Path) -> Any:
    """The entry's ``[settings]`` table validated with the environment of the moment."""
    from monitor.settings import load_settings

    return load_settings(entry["settings"], env=env, file=str(path))


def _environment(env: Mapping[str, str] | None) -> list[tuple[str, str]]:
    """What of the environment settings are read from (``MONITOR_*``), in order."""
    env = os.environ if env is None else env
    return sorted((k, v) for k, v in env.items() if k.startswith("MONITOR_"))


def _values(settings: Any, env: Mapping[str, str] | None) -> dict[str, Any] | None:
    """The validated settings as plain values, with the environment they were validated
    under: ``model_dump()``, each path as its text (named in ``paths``); None when a
    value is of a type marshal cannot write (then only the table is kept)."""
    values = settings.model_dump()
    paths = sorted(k for k, v in values.items() if isinstance(v, Path))
    plain = {"env": _environment(env), "paths": paths,
             "values": {k: str(v) if k in paths else v for k, v in values.items()}}
    try:
        marshal.dumps(plain)
    except ValueError:
        return None
    return plain


def _validated(entry: dict[str, Any], env: Mapping[str, str] | None) -> Any:
    """The entry's settings as they were validated, if under this very environment
    (else None: validated again).  The table is the file's (its hash is the entry's)
    and the validating code is in the entry's digest, checked by the caller."""
    from monitor.plainsettings import SettingsValues

    kept = entry.get("validated")
    if not isinstance(kept, dict) or kept.get("env") != _environment(env):
        return None
    values = dict(kept["values"])
    for name in kept["paths"]:
        values[name] = Path(values[name])
    return SettingsValues(values)


@cache
def _names(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(kind))


def _flat(obj: Any) -> tuple[Any, ...]:
    """A source's (or watcher's) fields as plain values: an interval as (days, seconds,
    microseconds), a listing's ``follow`` as its own fields."""
    values = []
    for name in _names(type(obj)):
        value = getattr(obj, name)
        if isinstance(value, timedelta):
            value = (value.days, value.seconds, value.microseconds)
        elif name == "follow" and value is not None:
            value = _flat(value)
        values.append(value)
    return tuple(values)


def _rebuilt(entry: dict[str, Any]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The sources and watchers ``_flat`` wrote (a field too many or too few raises)."""
    from monitor.config import WatcherConfig

    return (_sources(entry["sources"]), tuple(_made(WatcherConfig, v) for v in entry["watchers"]))


def _sources(flat: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """``_made(SourceConfig, v)`` of each, in one loop (10,000 sources: ~25 → ~20 ms):
    the names and positions looked up once, one ``timedelta`` per distinct interval."""
    from monitor.config import SourceConfig

    names = _names(SourceConfig)
    at_interval, at_follow = names.index("interval"), names.index("follow")
    new, set_dict = object.__new__, object.__setattr__
    intervals: dict[tuple[int, int, int], timedelta] = {}
    made = []
    for values in flat:
        d = dict(zip(names, values, strict=True))
        if (interval := values[at_interval]) is not None:
            if (every := intervals.get(interval)) is None:
                every = intervals[interval] = timedelta(*interval)
            d["interval"] = every
        if values[at_follow] is not None:
            d["follow"] = _made(SourceConfig, values[at_follow])
        obj = new(SourceConfig)
        set_dict(obj, "__dict__", d)  # frozen: as pickle restores one
        made.append(obj)
    return tuple(made)


def _made(kind: type, values: tuple[Any, ...]) -> Any:
    """The dataclass of ``values`` without its ``__init__`` (validated when cached)."""
    d = dict(zip(_names(kind), values, strict=True))
    if kind.__name__ == "SourceConfig":
        if d["interval"] is not None:
            d["interval"] = timedelta(*d["interval"])
        if d["follow"] is not None:
            d["follow"] = _made(kind, d["follow"])
    obj = object.__new__(kind)
    object.__setattr__(obj, "__dict__", d)  # frozen: as pickle restores one
    return obj


def _read(where: Path) -> dict[str, Any] | None:
    """The entry at ``where``, None when there is none or it cannot be trusted."""
    try:
        with open(where, "rb") as f:
            st = os.fstat(f.fileno())
            if st.st_uid != os.geteuid() or st.st_mode & 0o022:
                return None
            entry = marshal.loads(f.read())
        ok = (isinstance(entry, dict) and entry.get("format") == FORMAT
              and isinstance(entry.get("settings"), dict)
              and isinstance(entry.get("sources"), list)
              and isinstance(entry.get("watchers"), list))
    except Exception:  # any fault of a cache file means: no cache
        return None
    return entry if ok else None


def _write(where: Path, entry: dict[str, Any]) -> None:
    """Keep ``entry`` at ``where``: whole or not at all, silently (a value marshal
    cannot write — a TOML date in ``[settings]`` — means no entry)."""
    import tempfile  # here: a command served from the cache writes nothing (but
    # ``status`` under another environment than the entry's settings were validated in)

    tmp = None
    try:
        data = marshal.dumps({"format": FORMAT, **entry})
        where.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=where.parent, prefix=".sources-", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, where)
        tmp = None
    except Exception:  # a cache that cannot be written is no cache
        pass
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
