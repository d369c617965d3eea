"""The cache of a large sources file's validated sources (monitor.configcache), and the
sync it lets ``monitor check`` skip."""

from __future__ import annotations

import marshal
import os
from dataclasses import replace
from pathlib import Path

import pytest

from monitor import config as config_module
from monitor import configcache
from monitor.config import SOURCE_SETTINGS, ConfigError, load_config, parse_config
from storage import Store


def big_file(path: Path, n: int = 700, more: str = "") -> Path:
    """A sources file over ``configcache.CACHE_FROM`` bytes (``more``: lines added to
    each source)."""
    parts = ['[settings]\ntimezone = "Asia/Shanghai"\n\n']
    for i in range(n):
        parts.append(f'[[sources]]\nname = "s{i:05d}"\n'
                     f'url = "http://127.0.0.2:8000/s{i:05d}.html"\n'
                     f'interval = "10m"\ncontent = "div.main"\n{more}\n')
    parts.append('[[watchers]]\nname = "ops"\nemail = "ops@example.org"\nsources = ["s*"]\n')
    path.write_text("".join(parts), encoding="utf-8")
    assert path.stat().st_size >= configcache.CACHE_FROM
    return path


def entry_of(path: Path) -> Path:
    where = configcache.entry_path(path)
    assert where is not None
    return where


@pytest.fixture
def no_parse(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the files tomllib parses (a load from the cache parses none)."""
    import tomllib  # (monitor.config imports it where it parses)

    parsed: list[str] = []
    real = tomllib.loads

    def loads(text: str, **kw: object) -> dict[str, object]:
        parsed.append(text[:20])
        return real(text, **kw)

    monkeypatch.setattr(tomllib, "loads", loads)
    return parsed


def test_a_large_file_is_read_back_from_the_cache_as_parsed(tmp_path: Path,
                                                            no_parse: list[str]) -> None:
    path = big_file(tmp_path / "sources.toml")
    first = load_config(path)
    assert entry_of(path).is_file() and len(no_parse) == 1
    again = load_config(path)
    assert len(no_parse) == 1  # not parsed again
    assert again == first  # sources, watchers, settings, digest
    assert again.sources[5].interval is not None and again.sources[5].content == ("div.main",)
    assert oct(entry_of(path).stat().st_mode & 0o777) == "0o600"


def test_a_small_file_is_not_cached(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text('[[sources]]\nname = "a"\nurl = "http://127.0.0.2/a"\n', encoding="utf-8")
    load_config(path)
    assert not entry_of(path).exists()


def _same_stamp_edit(path: Path, old: bytes, new: bytes) -> None:
    """Replace ``old`` by ``new`` (same length) keeping the file's size and mtime."""
    st = path.stat()
    data = path.read_bytes()
    assert len(old) == len(new) and old in data
    path.write_bytes(data.replace(old, new, 1))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_mtime_ns == st.st_mtime_ns and path.stat().st_size == st.st_size


def test_an_edit_keeping_size_and_mtime_is_read_again(tmp_path: Path) -> None:
    path = big_file(tmp_path / "sources.toml")
    assert load_config(path).source("s00003").url.endswith("/s00003.html")
    _same_stamp_edit(path, b"/s00003.html", b"/x00003.html")
    config = load_config(path)
    assert config.source("s00003").url.endswith("/x00003.html")


def test_a_broken_edit_is_reported_though_the_good_file_was_cached(tmp_path: Path) -> None:
    path = big_file(tmp_path / "sources.toml")
    good = load_config(path)
    _same_stamp_edit(path, b'interval = "10m"', b'interval = "10x"')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.source == "s00000" and caught.value.key == "interval"
    _same_stamp_edit(path, b'interval = "10x"', b'interval = "10m"')
    assert load_config(path) == good


def test_the_environment_applies_to_a_cached_file(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings are validated at every load: an environment variable set or changed
    after the file was cached applies, and a bad one is refused as without a cache."""
    path = big_file(tmp_path / "sources.toml")
    path.write_text(path.read_text("utf-8").replace('interval = "10m"\n', "", 3),
                    encoding="utf-8")  # three sources on the default interval
    assert load_config(path).sources[0].interval.total_seconds() == 21600  # the default, 6h
    monkeypatch.setenv("MONITOR_DEFAULT_INTERVAL", "2h")
    config = load_config(path)
    assert config.sources[0].interval.total_seconds() == 7200
    assert config.sources[3].interval.total_seconds() == 600
    monkeypatch.setenv("MONITOR_HOST_DELAY", "2.5")
    assert load_config(path).settings.host_delay == 2.5
    monkeypatch.setenv("MONITOR_HOST_DELAY", "soon")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == "MONITOR_HOST_DELAY"


def test_plain_settings_are_the_validated_ones_under_the_same_environment_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``load_config(plain_settings=True)`` (``monitor status``) from the cache: the
    settings as validated when the entry was made, without pydantic, every field and
    the per-host methods equal to ``Settings``'; another ``MONITOR_*`` environment
    validates them again (a change applies, a bad value is refused) and is kept."""
    from monitor.plainsettings import SettingsValues
    from monitor.settings import Settings

    monkeypatch.setenv("MONITOR_HEALTH_FAILURE_SHARE", "0.25")
    path = big_file(tmp_path / "sources.toml")
    path.write_text(path.read_text("utf-8").replace(
        "[settings]\n", '[settings]\nhost_delays = { "127.0.0.2" = 4.5 }\n'
        'host_concurrencies = { "127.0.0.2" = 3 }\noutbox_dir = "mail/out"\n', 1),
        encoding="utf-8")
    validated = load_config(path).settings  # parsed, and cached
    plain = load_config(path, plain_settings=True)
    assert isinstance(plain.settings, SettingsValues)
    assert replace(plain, settings=validated) == load_config(path)  # sources, digest...
    for name in Settings.model_fields:
        assert getattr(plain.settings, name) == getattr(validated, name), name
        assert type(getattr(plain.settings, name)) is type(getattr(validated, name)), name
    for host in ("127.0.0.2", "127.0.0.3"):
        assert plain.settings.delay_for(host) == validated.delay_for(host)
        assert plain.settings.concurrency_for(host) == validated.concurrency_for(host)
    assert plain.settings.health_failure_share == 0.25
    with pytest.raises(AttributeError):
        plain.settings.timezone = "UTC"  # type: ignore[misc]
    monkeypatch.setenv("MONITOR_HOST_DELAY", "2.5")
    again = load_config(path, plain_settings=True).settings
    assert isinstance(again, Settings) and again.host_delay == 2.5
    # kept for this environment: the next one is served from the entry
    again = load_config(path, plain_settings=True).settings
    assert isinstance(again, SettingsValues) and again.host_delay == 2.5
    monkeypatch.setenv("MONITOR_HOST_DELAY", "soon")
    with pytest.raises(ConfigError) as caught:
        load_config(path, plain_settings=True)
    assert caught.value.key == "MONITOR_HOST_DELAY"


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong shape", "other user's"])
def test_a_damaged_or_foreign_entry_is_ignored_and_replaced(tmp_path: Path, damage: str,
                                                            no_parse: list[str]) -> None:
    path = big_file(tmp_path / "sources.toml")
    good = load_config(path)
    where = entry_of(path)
    if damage == "garbage":
        where.write_bytes(b"\x00not a pickle")
    elif damage == "truncated":
        where.write_bytes(where.read_bytes()[:5000])
    elif damage == "wrong shape":  # a source with a field too few (another layout)
        entry = marshal.loads(where.read_bytes())
        entry["sources"][0] = entry["sources"][0][:-1]
        where.write_bytes(marshal.dumps(entry))
    else:  # a valid-looking entry anyone may write: not trusted
        entry = marshal.loads(where.read_bytes())
        entry["sources"][0] = ("s00000", "http://evil/", *entry["sources"][0][2:])
        where.write_bytes(marshal.dumps(entry))
        where.chmod(0o666)
    assert load_config(path) == good
    assert len(no_parse) == 2  # parsed again
    assert load_config(path) == good and len(no_parse) == 2  # the entry was replaced


@pytest.mark.parametrize("where", ["a file", "relative"])
def test_no_usable_cache_directory_is_silent(tmp_path: Path, where: str,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = big_file(tmp_path / "sources.toml")
    if where == "a file":  # the cache directory cannot be made
        (tmp_path / "blocked").write_text("x")
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "blocked"))
    else:  # a relative XDG_CACHE_HOME is ignored (the spec); no HOME either
        monkeypatch.setenv("XDG_CACHE_HOME", "cache")
        monkeypatch.setenv("HOME", str(tmp_path / "blocked-home"))
        (tmp_path / "blocked-home").write_text("x")
    assert load_config(path) == load_config(path)
    assert load_config(path).sources == parse_config(path.read_text("utf-8"), path=path).sources
    assert capsys.readouterr() == ("", "")
    assert not list(tmp_path.glob("**/sources-*"))


def test_other_code_starts_afresh(tmp_path: Path, no_parse: list[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = big_file(tmp_path / "sources.toml")
    first = load_config(path)
    monkeypatch.setattr(configcache, "_CODE_STAMP", "another release")
    second = load_config(path)
    assert len(no_parse) == 2 and second.digest != first.digest


def test_source_settings_are_all_a_source_reads(tmp_path: Path) -> None:
    """The cache keys on the file and on ``SOURCE_SETTINGS``: a source's validation
    reading another setting would make an entry stale when that setting changes."""
    read: set[str] = set()

    class Recording:
        def __init__(self, settings: object) -> None:
            self._settings = settings

        def __getattr__(self, name: str) -> object:
            read.add(name)
            return getattr(self._settings, name)

    real = config_module._SourceReader.__init__

    def init(self: object, entry: dict, file: str, label: str, settings: object) -> None:
        real(self, entry, file, label, Recording(settings))  # type: ignore[arg-type]

    text = '''
[[sources]]
name = "a"
url = "http://127.0.0.2/a"
[[sources]]
name = "b"
url = "http://127.0.0.2/b"
cron = "0 8 * * *"
encoding = "gbk"
headers = { Referer = "http://127.0.0.2/" }
proxy = "direct"
[[sources]]
name = "c"
url = "http://127.0.0.2/c"
kind = "listing"
links = "a"
match = "t\\\\d+"
[sources.follow]
interval = "1h"
content = "div"
'''
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(config_module._SourceReader, "__init__", init)
        parse_config(text)
    assert read == set(SOURCE_SETTINGS)


# --- the sync a digest lets monitor check skip ---------------------------------------


def _urls(store: Store) -> dict[str, tuple[str, bool]]:
    from storage.tables import sources

    with store.reading() as c:
        return {r.name: (r.url, r.active) for r in c.execute(
            sources.select().with_only_columns(sources.c.name, sources.c.url,
                                               sources.c.active))}


def test_a_sync_without_digest_is_not_skipped_over(db_url: str, tmp_path: Path) -> None:
    """File v1 synced (its digest kept); the daemon's reload or the admin page syncs v2
    (no digest); v1 comes back (a revert): its sync must not be skipped as "already
    synced", or the table would keep v2's sources."""
    path = big_file(tmp_path / "sources.toml")
    v1 = load_config(path)
    store = Store(db_url)
    try:
        assert store.sync_sources(v1.sources, v1.digest)["added"]
        assert store.sync_sources(v1.sources, v1.digest) == {
            "added": [], "updated": [], "deactivated": []}
        v2 = parse_config(path.read_text("utf-8").replace("/s00001.html", "/v2.html"),
                          path=path)
        assert store.sync_sources(v2.sources)["updated"] == ["s00001"]
        assert _urls(store)["s00001"][0].endswith("/v2.html")
        assert store.sync_sources(v1.sources, v1.digest)["updated"] == ["s00001"]
        assert _urls(store)["s00001"][0].endswith("/s00001.html")
    finally:
        store.close()


def test_two_files_on_one_database_each_sync(db_url: str, tmp_path: Path) -> None:
    a = load_config(big_file(tmp_path / "a.toml"))
    b = load_config(big_file(tmp_path / "b.toml", n=690))
    store = Store(db_url)
    try:
        store.sync_sources(a.sources, a.digest)
        assert store.sync_sources(b.sources, b.digest)["deactivated"] == [
            f"s{i:05d}" for i in range(690, 700)]
        assert store.sync_sources(a.sources, a.digest)["updated"] == [
            f"s{i:05d}" for i in range(690, 700)]
        assert all(active for _, active in _urls(store).values())
    finally:
        store.close()


def test_check_applies_an_edit_that_keeps_size_and_mtime(tmp_path: Path) -> None:
    """``monitor check`` of a large file, then the same file edited in place with its
    size and mtime kept: the next check's sync writes the edit (not skipped).  The
    sources are disabled: the check syncs them and fetches nothing."""
    from click.testing import CliRunner

    from monitor.cli import cli

    path = big_file(tmp_path / "sources.toml", more="enabled = false\n")
    args = ["check", "--sources", str(path), "--no-deliver", "--json"]
    store = Store(os.environ["MONITOR_DATABASE_URL"])
    try:
        assert CliRunner().invoke(cli, args).exit_code == 0
        assert _urls(store)["s00007"][0].endswith("/s00007.html")
        assert CliRunner().invoke(cli, args).exit_code == 0  # the same file: skipped
        _same_stamp_edit(path, b"/s00007.html", b"/y00007.html")
        assert CliRunner().invoke(cli, args).exit_code == 0
        assert _urls(store)["s00007"][0].endswith("/y00007.html")
    finally:
        store.close()


def test_the_settings_are_told_before_the_cached_sources_are_made(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``settings_read`` (``monitor status`` starts reading the database with it) gets
    the settings of a cached file before its 700 sources are rebuilt, and those of a
    parsed file once parsed: the file's ``database_url`` either way."""
    path = big_file(tmp_path / "sources.toml").read_text(encoding="utf-8").replace(
        '[settings]\n', '[settings]\ndatabase_url = "sqlite:///elsewhere.db"\n', 1)
    (tmp_path / "sources.toml").write_text(path, encoding="utf-8")
    monkeypatch.delenv("MONITOR_DATABASE_URL", raising=False)
    order: list[str] = []
    real = configcache._rebuilt

    def rebuilt(entry: dict[str, object]) -> object:
        order.append("sources")
        return real(entry)

    monkeypatch.setattr(configcache, "_rebuilt", rebuilt)
    for _ in range(2):  # parsed, then from the cache
        config = load_config(tmp_path / "sources.toml", plain_settings=True,
                             settings_read=lambda s: order.append(s.database_url))
        assert len(config.sources) == 700
    assert order == ["sqlite:///elsewhere.db", "sqlite:///elsewhere.db", "sources"]
