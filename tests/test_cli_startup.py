"""What a hand-typed command loads (issue 12: `--version` and `status` answer at once).

Time is measured in bench/bench_startup.py, never here; these tests pin the cause of
a slow start instead: the modules a command imports, in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_sources
from tests.pages import seed_page
from tests.sites import Site

PROBE = """
import json, sys
from monitor.cli import cli
try:
    cli(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def loaded(*args: str, cwd: Path, columns: int = 80) -> tuple[int, set[str], str]:
    env = {**os.environ, "COLUMNS": str(columns)}
    out = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True,
                         text=True, timeout=120, check=True, env=env).stdout
    *printed, last = out.strip().splitlines()
    got = json.loads(last)
    return got["code"], set(got["modules"]), "\n".join(printed)


def test_version_loads_no_command(tmp_path: Path) -> None:
    code, modules, printed = loaded("--version", cwd=tmp_path)
    assert code == 0 and "monitor, version" in printed
    ours = {m for m in modules if m.split(".")[0] in ("monitor", "storage", "alerts")}
    assert ours == {"monitor", "monitor.cli"}
    assert not {"sqlalchemy", "httpx", "rich", "pydantic"} & modules


def archive_file(tmp_path: Path) -> Path:
    """The SQLite file the probes' status reads: the environment's (tests.conftest),
    which wins over the file's database_url."""
    path = Path(os.environ["MONITOR_DATABASE_URL"].removeprefix("sqlite:///"))
    assert path.is_relative_to(tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_status_loads_no_fetcher_no_pipeline_and_at_head_no_sqlalchemy(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text(
        f'[settings]\ndatabase_url = "sqlite:///{tmp_path}/m.db"\n\n[[sources]]\n'
        'name = "a"\nurl = "https://example.org/a.html"\n', encoding="utf-8")
    code, modules, printed = loaded("status", cwd=tmp_path)
    assert code == 3 and not archive_file(tmp_path).exists()  # no archive: none is made
    archive_file(tmp_path).touch()  # an empty SQLite file: status brings it to head
    code, modules, printed = loaded("status", cwd=tmp_path)
    assert code in (0, None) and "health: no checks yet" in printed
    heavy = {"monitor.fetch", "monitor.pipeline", "monitor.extract", "monitor.diff",
             "httpx", "playwright", "alerts.delivery"}
    assert not heavy & modules, heavy & modules
    # The database now exists at head: read through sqlite3 alone, with no ORM, no
    # migration tool and no logging library loaded, and the same answer.
    code, again, printed_again = loaded("status", cwd=tmp_path)
    assert code in (0, None) and printed_again == printed
    store = {"sqlalchemy", "sqlmodel", "alembic", "loguru", "storage.repository"}
    assert not (heavy | store) & again, (heavy | store) & again
    assert "sqlalchemy" in modules  # the first run made the database through Store
    # piped: plain lines (rich's cell widths only), and whether the output is a terminal
    # is answered without rich's console
    assert "rich.console" not in again


def test_status_on_postgresql_at_head_loads_neither_psycopg_nor_sqlalchemy(
        tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL too, a database at head is read without SQLAlchemy, and without
    psycopg either (its import alone cost more than the rest of the command): libpq
    itself answers, with what the first run, through Store, printed."""
    monkeypatch.setenv("MONITOR_DATABASE_URL", pg_url)
    (tmp_path / "sources.toml").write_text(
        '[[sources]]\nname = "a"\nurl = "https://example.org/a.html"\ninterval = "10m"\n',
        encoding="utf-8")
    code, modules, printed = loaded("status", cwd=tmp_path)
    assert code in (0, None) and "health: no checks yet" in printed
    assert "sqlalchemy" in modules  # the first run made the database through Store
    code, again, printed_again = loaded("status", cwd=tmp_path)
    assert code in (0, None) and printed_again == printed
    unwanted = {"psycopg", "sqlalchemy", "sqlmodel", "alembic", "asyncio"}
    assert not unwanted & again, unwanted & again
    code, json_modules, as_json = loaded("status", "--json", cwd=tmp_path)
    assert code in (0, None) and not unwanted & json_modules
    assert json.loads(as_json)["sources"][0]["source"] == "a"


def test_status_of_a_large_cached_file_piped_loads_no_toml_pydantic_or_console(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sources file served from ``monitor.configcache`` is not parsed: ``tomllib`` is
    not even imported (nor the validation's patterns compiled), nor pydantic (the
    settings as validated); the lines are the same as the first run's, which parsed the
    file."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "sources.toml").write_text(
        f'[settings]\ndatabase_url = "sqlite:///{tmp_path}/m.db"\n\n' + "".join(
            f'[[sources]]\nname = "s{i:04d}"\nurl = "https://example.org/{i}.html"\n'
            'interval = "10m"\n\n' for i in range(1500)), encoding="utf-8")
    assert (tmp_path / "sources.toml").stat().st_size >= 64 * 1024  # configcache.CACHE_FROM
    archive_file(tmp_path).touch()  # an empty archive (a read-only command makes none)
    runs = [loaded("status", cwd=tmp_path) for _ in range(2)]  # the first makes both
    assert all(code in (0, None) for code, _, _ in runs)
    (_, parsed, first), (_, cached, last) = runs
    assert first.count("\n│ s") == 1500 and _no_clock(last) == _no_clock(first)
    assert "tomllib" in parsed and "tomllib" not in cached
    assert "rich.console" not in cached
    # the settings as validated last time, under the same environment (monitor.plainsettings)
    assert "pydantic" in parsed and "pydantic" not in cached


def _no_clock(text: str) -> list[str]:
    """The lines, less the zone's offset line (the same within a run) and any minute."""
    import re

    return [re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "T", line) for line in text.splitlines()]


@pytest.mark.parametrize("tty_compatible", [None, "", "0", "1", "2"])
@pytest.mark.parametrize("force_color", [None, "", "1", "0"])
@pytest.mark.parametrize("isatty", [True, False, None])
def test_whether_output_is_a_terminal_is_rich_s_answer_without_rich(
        tty_compatible: str | None, force_color: str | None, isatty: bool | None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``monitor status`` piped asks ``terminal_by_rich_rules`` (no rich to load); it
    must say what rich's console would, or the lines would differ from the terminal's
    form (the summary) for the same output."""
    import io

    from rich.console import Console

    from monitor.cli.common import terminal_by_rich_rules

    for name, value in (("TTY_COMPATIBLE", tty_compatible), ("FORCE_COLOR", force_color)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)

    class File(io.StringIO):
        pass

    out = File()
    if isatty is None:
        out.isatty = None  # type: ignore[assignment,method-assign]  # no isatty at all
    else:
        out.isatty = lambda: isatty  # type: ignore[method-assign]
    monkeypatch.setattr("rich.console._is_jupyter", lambda: False)
    assert terminal_by_rich_rules(os.environ, out) == Console(file=out).is_terminal


STATUS = """
import atexit, json, sys
# the modules loaded (not monitor.cli's stand-ins for those put off until used)
atexit.register(lambda: print(json.dumps(sorted(
    name for name, m in sys.modules.items() if type(m).__name__ != "_OnUse"))))
from monitor.cli import main
sys.argv = ["monitor", "status"]
main()
"""


def test_the_monitor_program_s_status_reads_no_installed_distribution(tmp_path: Path) -> None:
    """pydantic looks for plugins in every installed distribution's entry points
    (``importlib.metadata``) when it builds the settings model; the ``monitor`` program
    has none to run and does not look (``cli._no_pydantic_plugins``)."""
    (tmp_path / "sources.toml").write_text(
        f'[settings]\ndatabase_url = "sqlite:///{tmp_path}/m.db"\n\n[[sources]]\n'
        'name = "a"\nurl = "https://example.org/a.html"\n', encoding="utf-8")
    archive_file(tmp_path).touch()  # an empty archive (a read-only command makes none)
    for _ in range(2):  # the first one makes the database (SQLAlchemy reads its own)
        out = subprocess.run([sys.executable, "-c", STATUS], cwd=tmp_path, text=True,
                             capture_output=True, timeout=120, check=True).stdout
    *printed, last = out.strip().splitlines()
    assert "health: no checks yet" in "\n".join(printed)
    modules = set(json.loads(last))
    assert "monitor.settings" in modules and "importlib.metadata" not in modules


ON_USE = """
import json, sys
from monitor.cli import ON_USE, _no_pydantic_plugins, _on_use
_no_pydantic_plugins()  # as the program does: its plugin loader reads metadata
for name in ON_USE:
    _on_use(name)
import httpx, sqlalchemy
from sqlalchemy.util import compat
from monitor.fetch import netguard
stand_ins = sorted(n for n in ON_USE if type(sys.modules[n]).__name__ == "_OnUse")
from importlib.metadata import PackageNotFoundError, version
try:
    version("no-such-distribution-here")
except PackageNotFoundError:
    missing = True
import importlib, importlib.metadata
try:
    netguard._target("http://xn--a.中国/")
except netguard.BlockedURLError as exc:
    bad = str(exc)
print(json.dumps({"stand_ins": stand_ins, "version": version("sqlalchemy"),
                  "same": importlib.metadata is sys.modules["importlib.metadata"]
                  and type(importlib.metadata).__name__ == "module",
                  "scripts": sorted(e.name for e in compat.importlib_metadata_get(
                      "console_scripts")), "missing": missing,
                  "idna": [httpx.URL("http://政府.中国/a").raw_host.decode(),
                           httpx.URL("http://xn--mxtq1m.xn--fiqs8s/").host,
                           netguard._ascii_host("政府.中国")], "bad": bad,
                  "loaded": type(sys.modules["idna"]).__name__}))
"""


def test_modules_put_off_are_the_real_ones_when_used(tmp_path: Path, site: Site) -> None:
    """The ``monitor`` program's stand-ins for ``importlib.metadata`` (imported by
    SQLAlchemy) and ``idna`` (httpx's, for names that are not ASCII) import the real
    modules at their first use, and answer as they do: through the importer's reference
    and through a later import.  An unchanged check without
    delivery uses neither."""
    site.route("/a.html", seed_page(0))
    write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "a"
        url = "{site.url('/a.html')}"
        """, settings=f'database_url = "sqlite:///{tmp_path}/m.db"\n')
    for _ in range(2):  # the first one migrates (alembic reads metadata)
        run = subprocess.run([sys.executable, "-c", MAIN, "main", "check", "--no-deliver",
                              "--json"], cwd=tmp_path, text=True, capture_output=True,
                             timeout=120, check=True)
    *printed, last = run.stdout.strip().splitlines()
    assert '"outcome": "unchanged"' in "\n".join(printed)
    assert json.loads(last)["on_use"] == ["idna", "importlib.metadata"]
    plain_script = ON_USE.replace("for name in ON_USE:\n    _on_use(name)\n", "")
    put_off, plain = (json.loads(subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, text=True, capture_output=True,
        timeout=120, check=True).stdout) for code in (ON_USE, plain_script))
    assert put_off["stand_ins"] == ["idna", "importlib.metadata"] and not plain["stand_ins"]
    assert put_off["same"] and put_off["missing"] and put_off["loaded"] == "module"
    assert {**put_off, "stand_ins": []} == plain
    assert "monitor" in put_off["scripts"]
    assert put_off["idna"] == ["xn--mxtq1m.xn--fiqs8s", "政府.中国", "xn--mxtq1m.xn--fiqs8s"]


def test_every_command_has_an_example_in_its_help(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from monitor.cli import cli

    def commands(group, path=()):  # type: ignore[no-untyped-def]
        for name in group.list_commands(None):
            cmd = group.get_command(None, name)
            yield (*path, name), cmd
            if hasattr(cmd, "list_commands"):
                yield from commands(cmd, (*path, name))

    missing, before = [], []
    for path, _cmd in commands(cli):
        text = CliRunner().invoke(cli, [*path, "--help"]).output
        if "Example" not in text or f"monitor {' '.join(path)}" not in text:
            missing.append(" ".join(path))
        elif text.index("Example") < text.index("Options:"):  # at the end, as everywhere
            before.append(" ".join(path))
    assert not missing, f"no example in --help of: {missing}"
    assert not before, f"examples before the options in --help of: {before}"


def test_help_lists_every_command_as_it_says_without_loading_them(tmp_path: Path) -> None:
    """`monitor --help` reads the static summaries; what it prints is what the loaded
    commands' own help gives, at a narrow and a wide terminal."""
    from click.testing import CliRunner

    from monitor.cli import COMMANDS, cli

    for name in COMMANDS:  # the real commands, loaded in this process
        cli.get_command(None, name)
    for width in (50, 80):
        code, modules, printed = loaded("--help", cwd=tmp_path, columns=width)
        assert code == 0
        ours = {m for m in modules if m.split(".")[0] in ("monitor", "storage", "alerts")}
        assert ours == {"monitor", "monitor.cli"}, ours
        assert not {"sqlalchemy", "sqlmodel", "alembic", "httpx", "pydantic"} & modules
        # click's width from the terminal is its columns less 2, at least 50
        real = CliRunner().invoke(cli, ["--help"], terminal_width=max(width - 2, 50)).output
        # the first line names the program, which differs between the two ways of running
        assert printed.splitlines()[1:] == real.rstrip("\n").splitlines()[1:]
        assert all(f"  {name} " in printed for name in COMMANDS)


def test_a_check_of_an_ordinary_page_loads_only_what_it_uses(tmp_path: Path, site: Site) -> None:
    """No migration tool once the database is at head; no feed parser, mojibake repair
    or alert templates for an HTML page whose check queues no alert; no scheduler for a
    page that is not a listing; no alert channel but the one configured, and no alert
    code at all with --no-deliver."""
    site.route("/a.html", seed_page(0))
    write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "a"
        url = "{site.url('/a.html')}"
        """, settings=f'database_url = "sqlite:///{tmp_path}/m.db"\n')
    code, first, printed = loaded("check", cwd=tmp_path)
    assert code in (0, None) and "1 new" in printed and "alembic" in first
    code, modules, printed = loaded("check", cwd=tmp_path)
    assert code in (0, None) and "1 unchanged" in printed
    unused = {"alembic", "feedparser", "ftfy", "jinja2", "alerts.compose", "aiosmtplib",
              "sqlalchemy.dialects.postgresql", "monitor.scheduler", "apscheduler"}
    assert not unused & modules, unused & modules
    assert {"httpx", "sqlalchemy", "monitor.pipeline"} <= modules  # it did check
    # alerts go to the .eml outbox (no smtp_url, no watcher's webhook): no other channel
    assert {"alerts.delivery", "alerts.email_outbox"} <= modules
    others = {"alerts.email_smtp", "alerts.webhook", "alerts.dingtalk", "alerts.wecom",
              "alerts.feishu", "alerts.slack", "alerts.apprise"}
    assert not others & modules, others & modules
    code, modules, printed = loaded("check", "--no-deliver", "--json", cwd=tmp_path)
    assert code in (0, None) and '"outcome": "unchanged"' in printed
    nothing_sent = {"alerts.delivery", "alerts.registry", "alerts.base", "alerts.email_mime",
                    "email.headerregistry", "email.policy"}
    assert not nothing_sent & modules, nothing_sent & modules
    # nothing read (the last version's bytes again): no parse side (monitor.later), which
    # `monitor check` would otherwise import before forking its workers
    assert not PARSE_SIDE & modules, PARSE_SIDE & modules
    # the first check read the page (an HTML page, no feed, no listing's later pages, no
    # attachment to fetch: the links were read, no file's reader loaded)
    assert PARSE_SIDE - {"monitor.extract.feed", "monitor.crawl"} <= first
    assert not {"monitor.extract.feed", "monitor.crawl", "monitor.attachments"} & first


def test_the_parent_of_a_split_pass_imports_what_its_workers_share_and_no_parse_side(
        tmp_path: Path, site: Site) -> None:
    """``monitor check`` over worker processes: the parent imports, before it forks, the
    HTTP transport every worker would import for itself (``parallel.SHARED``), and none
    of the parse side even when its workers read every page (a first pass): only what
    it must do before the fork is done serially."""
    site.route("/a.html", seed_page(0))
    site.route("/b.html", seed_page(1))
    write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "a"
        url = "{site.url('/a.html')}"

        [[sources]]
        name = "b"
        url = "{site.url('/b.html')}"
        """, settings=f'database_url = "sqlite:///{tmp_path}/m.db"\n'
                      "host_concurrency = 2\n")  # one host, shared by the two workers
    code, modules, printed = loaded("check", "--workers", "2", "--no-deliver", "--json",
                                    cwd=tmp_path)
    results = json.loads(printed)["results"]
    assert code in (0, None) and [r["outcome"] for r in results] == ["new", "new"]
    assert {"httpcore", "h11", "anyio._backends._asyncio", "ctypes", "monitor.diff"} <= modules
    read = PARSE_SIDE - {"monitor.diff", "diff_match_patch"}  # (each worker sets diff's pool)
    assert not read & modules, read & modules


PARSE_SIDE = {"monitor.extract.html", "monitor.extract.feed", "monitor.extract.listing",
              "monitor.challenge", "monitor.extract.files", "monitor.discover", "monitor.crawl",
              "monitor.documents", "monitor.detect", "monitor.diff", "diff_match_patch",
              "alerts.plan", "alerts.triggers"}


def test_an_unchanged_check_runs_on_core_tables_without_the_orm(
        tmp_path: Path, site: Site, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Syncing the sources, making their pages, the batch's leases and states and the
    group commit of unchanged checks use ``storage.tables`` alone: no SQLModel, no
    SQLAlchemy ORM and no mapped models (~80 ms of CPU at start-up), on SQLite and on
    PostgreSQL; a source dropped from the file is still marked inactive, and the
    first check, which stores versions, goes through the ORM as before."""
    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)  # the checks' database
    for name in ("a", "b", "c"):
        site.route(f"/{name}.html", seed_page(ord(name) % 4))

    def sources(*names: str) -> None:
        write_sources(tmp_path / "sources.toml", "".join(
            f'[[sources]]\nname = "{n}"\nurl = "{site.url(f"/{n}.html")}"\n\n'
            for n in names))

    sources("a", "b", "c")
    code, first, printed = loaded("check", "--no-deliver", cwd=tmp_path)
    assert code in (0, None) and "3 new" in printed, printed
    orm = {"sqlmodel", "sqlalchemy.orm", "storage.models"}
    assert orm <= first
    sources("a", "b")
    code, modules, printed = loaded("check", "--no-deliver", "--json", cwd=tmp_path)
    results = json.loads(printed)["results"]
    assert code in (0, None) and [r["outcome"] for r in results] == ["unchanged"] * 2
    assert all(r["released"] for r in results)  # the leases ended in the commit
    assert not orm & modules, orm & modules
    assert "storage.tables" in modules
    from storage import Store
    from storage.archive import Archive
    from storage.models import Check

    store = Store(db_url)
    try:
        listed = {s.name: s.active for s in Archive(store).sources()}
        assert listed == {"a": True, "b": True, "c": False}
        assert store.count(Check, outcome="unchanged") == 2
    finally:
        store.close()


COMPILED = """
import gc, json, sys
from monitor.cli import cli
from monitor.lazyre import LazyPattern
try:
    cli(sys.argv[1:])
except SystemExit:
    pass
# the text modules' patterns compiled by this command (monitor.lazyre)
print(json.dumps(sum(isinstance(o, LazyPattern) and o._compiled is not None
                     for o in gc.get_objects())))
"""


def test_a_check_of_an_unchanged_page_compiles_no_text_pattern(tmp_path: Path,
                                                                site: Site) -> None:
    """The same bytes as the last version are not read again: the ~100 patterns of
    extraction, noise, challenge and change detection (~60 ms to compile) are left
    uncompiled; the first check, which reads the page, compiles them."""
    site.route("/a.html", seed_page(0))
    write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "a"
        url = "{site.url('/a.html')}"
        """, settings=f'database_url = "sqlite:///{tmp_path}/m.db"\n')
    counts = []
    for says in ("1 new", "1 unchanged"):
        out = subprocess.run([sys.executable, "-c", COMPILED, "check"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120, check=True).stdout
        *printed, last = out.strip().splitlines()
        assert says in "\n".join(printed)
        counts.append(json.loads(last))
    assert counts[0] > 10 and counts[1] == 0, counts


COMPLETE = """
import json, sys
from monitor.cli import cli
try:
    cli(prog_name="monitor", complete_var="_MONITOR_COMPLETE")
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def test_tab_completing_a_command_name_loads_no_command(tmp_path: Path) -> None:
    """zsh shows each command's help beside its name: from the summaries, the same
    items click gives from the loaded commands."""
    import click

    from monitor.cli import COMMANDS, cli

    env = {**os.environ, "_MONITOR_COMPLETE": "zsh_complete", "COMP_WORDS": "monitor s",
           "COMP_CWORD": "1"}
    out = subprocess.run([sys.executable, "-c", COMPLETE], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True, timeout=120).stdout
    *printed, last = out.strip().splitlines()
    ours = {m for m in json.loads(last) if m.split(".")[0] in ("monitor", "storage")}
    assert ours == {"monitor", "monitor.cli"}, ours
    for name in COMMANDS:
        cli.get_command(None, name)
    with cli.make_context("monitor", [], resilient_parsing=True) as ctx:
        real = click.Group.shell_complete(cli, ctx, "s")  # click's own, loading commands
    assert [n for n in real if n.value.startswith("s")]  # search, serve, show, sources...
    assert printed == [line for item in real
                       for line in ("plain", item.value, item.help or "_")]



MAIN = """
import atexit, gc, json, sys
# registered first, so it runs last: after every handler the command registered
atexit.register(lambda: print(json.dumps({"frozen": gc.get_freeze_count(),
                                          "enabled": gc.isenabled(),
                                          "pygments": "pygments" in sys.modules,
                                          "rich": "rich.console" in sys.modules,
                                          "progress": "rich.progress" in sys.modules,
                                          "on_use": sorted(
                                              n for n in ("importlib.metadata", "idna")
                                              if type(sys.modules.get(n)).__name__
                                              == "_OnUse")})))
from monitor.cli import cli, main
entry, sys.argv = sys.argv[1], ["monitor", *sys.argv[2:]]
main() if entry == "main" else cli()
"""


def test_the_monitor_process_freezes_its_heap_before_exit_with_gc_on(
        tmp_path: Path, site: Site) -> None:
    """The ``monitor`` program leaves Python's final collections nothing to walk (~0.2 s
    of a check's CPU), with the same output and exit status as ``cli``; ``cli`` called
    by another program (a test, a long-lived caller) freezes nothing of it.  The program
    checks over httpx without loading httpx's own command-line client (pygments), loads
    no progress bar when its output is not a terminal, and no rich at all for --json."""
    site.route("/a.html", seed_page(0))
    write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "a"
        url = "{site.url('/a.html')}"
        """, settings=f'database_url = "sqlite:///{tmp_path}/m.db"\n')
    for entry, first in (("main", "1 new"), ("cli", "1 unchanged")):
        for args, code, says in ((["check"], 0, first), (["check"], 0, "1 unchanged"),
                                 (["check", "--json"], 0, '"outcome": "unchanged"'),
                                 (["check", "--source", "zz"], 3, "zz")):
            run = subprocess.run([sys.executable, "-c", MAIN, entry, *args], cwd=tmp_path,
                                 text=True, capture_output=True, timeout=120)
            *printed, last = run.stdout.strip().splitlines()
            assert run.returncode == code, run.stderr
            assert says in "\n".join(printed) + run.stderr
            got = json.loads(last)
            assert got["enabled"]
            if entry == "main":  # the command's modules and objects (an interpreter
                # that has imported monitor.cli alone holds ~13,000; a check ~60,000 or more)
                assert got["frozen"] > 40_000
                # (the first run migrates: alembic's mako loads pygments for itself)
                assert not got["pygments"] or says == "1 new"
                assert not got["progress"]  # not a terminal: no bar, no rich.progress
                # JSON for a program: rich is loaded for a table or an error only
                assert got["rich"] == ("--json" not in args)
                # imported by httpx, never used for an ASCII host name: a stand-in
                assert "idna" in got["on_use"]
            else:
                assert got["frozen"] == 0
                assert not got["on_use"]


# one of each (a name and a date: resolve_page, version_at, the gone periods; a page's
# last change: its reread cause and the comparison; every version with its raw bytes)
READS = [("show", "hb-ai-plan", "--at", "2026-05-10"), ("show", "2", "--json"),
         ("history", "hb-ai-plan"), ("diff", "hb-ai-plan"), ("export", "--jsonl", "-"),
         ("search", "人工智能", "--json")]


@pytest.mark.timeout(600)  # seven fresh processes: slow on a loaded machine
def test_the_archive_commands_answer_from_core_tables_without_the_orm(
        tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``show`` (an id, a name, ``--at``), ``history``, ``diff``, ``export`` and ``search``
    read the archive through ``storage.tables`` alone: no SQLModel, no SQLAlchemy ORM and
    no mapped models (~70% of their CPU was importing them), on SQLite and PostgreSQL,
    and they still answer (what they answer: tests/test_archive_cli.py and the others).
    With a large sources file served from ``monitor.configcache`` they load no pydantic
    either (the settings as validated, as ``status``; the API's ``Instant`` fields make
    their serializer only when pydantic asks, ``storage.instant``)."""
    from storage import Store
    from tests.test_archive_data import build_archive

    store = Store(db_url)
    try:
        versions = build_archive(store).versions
    finally:
        store.close()
    assert versions["hb-ai-plan"] == [1, 2, 3]  # the ids the arguments name
    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    write_sources(tmp_path / "sources.toml", "".join(
        f'[[sources]]\nname = "s{i:04d}"\nurl = "https://example.org/{i}.html"\n\n'
        for i in range(1500)))  # over configcache.CACHE_FROM: cached by the first run
    code, parsed, _ = loaded("history", "hb-ai-plan", cwd=tmp_path)
    assert code in (0, None) and "pydantic" in parsed  # it validated the settings
    orm = {"sqlmodel", "sqlalchemy.orm", "storage.models", "pydantic"}
    for args in READS:
        code, modules, printed = loaded(*args, cwd=tmp_path)
        assert code in (0, None) and printed, (args, printed)
        assert "storage.tables" in modules and not orm & modules, (args, orm & modules)
