"""The ``monitor`` command.  One module per command group; this one only wires them.

A command's module is imported only when that command runs (``LazyGroup``):
``monitor --version`` imports click and nothing of the monitor, ``monitor status`` no
HTTP client, browser driver or diff engine.  ``monitor --help`` (and a TAB completing a
command's name) lists the commands from ``SUMMARIES`` (each command's one-line help, as
click would shorten it) instead of importing all thirteen modules to read their
docstrings: 1.6 s of imports for a list.
Each module keeps its ``register(cli)``; a new command is a line in ``COMMANDS`` and
one in ``SUMMARIES`` (tests/test_cli_startup.py keeps the summaries equal to the
commands' own help).
"""

from __future__ import annotations

import _thread
import atexit
import gc
import sys
import types
from gettext import gettext as _
from importlib import import_module
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

from monitor import __version__

# command name → the module of monitor.cli that registers it
COMMANDS = {
    "alerts": "alerts", "check": "check", "demo": "demo", "diff": "diff",
    "export": "archive", "history": "history", "run": "run", "search": "archive",
    "serve": "serve", "show": "history", "sources": "sources", "status": "status",
    "verify": "evidence",
}
# command name → the first sentence of its help (what ``monitor --help`` shows of it)
SUMMARIES = {
    "alerts": "The alert outbox: what was sent, what is waiting, what failed.",
    "check": "Check the sources once and print a summary.",
    "demo": "Run a bundled local site that changes, a daemon watching it, and the web UI.",
    "diff": "Show what changed between two versions (ids), between a page's versions at "
            "two dates (--from/--to), or in a page's last change.",
    "export": "Export versions as WARC (raw bytes, replayable) or JSON lines (text, "
              "metadata), with or as a manifest of their hashes.",
    "history": "List the versions of a page (by source name, or any page's URL: a "
               "document's too).",
    "run": "Check every source on its schedule until SIGTERM/SIGINT; deliver alerts.",
    "search": "Full-text search over every version's text, title, metadata and "
              "attachments (Chinese needs no spaces; space-separated terms must all "
              "occur; a 文号 is found in any bracket or width form).",
    "serve": "Serve the web UI (sources, timelines, versions, diffs, search), /api and "
             "/feeds.",
    "show": "Print a version: VERSION_ID, or a source NAME/URL (latest, or --at DATE).",
    "sources": "Validate, test, list, add and remove sources.",
    "status": "Show each source's last check, next check, last change and failure streak.",
    "verify": "Check that no stored version was changed or deleted (exit 1 if one was).",
}


class LazyGroup(click.Group):
    """click's documented lazy-loading group: commands listed by name, imported on use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    own_process = False  # set by ``main``: this process runs one command, then exits

    def invoke(self, ctx: click.Context) -> Any:
        """The command; a Ctrl-C it does not handle itself (while its module is still
        loading, before its work starts) exits 130 with a note, as an interrupted
        ``monitor check`` does, not click's "Aborted!" and exit 1 (the code of a worker
        that died)."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            if not self.own_process:
                raise
            from monitor.cli.common import EXIT_INTERRUPTED

            click.echo("\n已中断（Ctrl-C）\n技术细节：interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        from monitor.cli.examples import add_examples

        module = self._import(f"monitor.cli.{COMMANDS[cmd_name]}")
        module.register(self)
        for name in [n for n, m in COMMANDS.items() if m == COMMANDS[cmd_name]]:
            add_examples(self.commands[name], name)
        return self.commands.get(cmd_name)

    def _import(self, name: str) -> Any:
        """The command's module; in the ``monitor`` process itself with the cyclic
        garbage collector paused while it loads (see ``main``), then what was loaded
        frozen: the collector never walks those objects again."""
        if not self.own_process or not gc.isenabled():
            return import_module(name)
        gc.disable()
        try:
            return import_module(name)
        finally:
            gc.enable()
            gc.freeze()

    def listed(self, ctx: click.Context) -> list[tuple[str, click.Command]]:
        """The visible commands, each loaded one as itself and the others as a stand-in
        whose help is its ``SUMMARIES`` line: shortened to a width, either gives the
        same text (click uses the first sentence only)."""
        commands = [(name, self.commands.get(name) or click.Command(name, help=SUMMARIES[name]))
                    for name in self.list_commands(ctx)]
        return [(name, cmd) for name, cmd in commands if not cmd.hidden]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's list of commands in ``--help``, from ``listed``."""
        commands = self.listed(ctx)
        if not commands:
            return
        limit = formatter.width - 6 - max(len(name) for name, _cmd in commands)
        with formatter.section(_("Commands")):
            formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in commands])

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """click's completion of a command name (with its help, in zsh and fish), from
        ``listed``: a TAB imports no command either."""
        from click.shell_completion import CompletionItem

        items = [CompletionItem(name, help=cmd.get_short_help_str())
                 for name, cmd in self.listed(ctx) if name.startswith(incomplete)]
        return items + click.Command.shell_complete(self, ctx, incomplete)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog="Example: monitor demo   (a local site that changes, watched; "
             "Ctrl+C stops it).  Shell completion: see README, 'Shell completion'.")
@click.version_option(__version__, prog_name="monitor")
@click.option("--sources", "sources_file", metavar="FILE",
              help="The sources file, for the command that follows (as its own --sources).")
def cli(sources_file: str | None) -> None:
    """Watch government web pages, keep every version, tell people what changed.

    Every command takes --sources FILE (default sources.toml, or MONITOR_SOURCES),
    after the command or before it (monitor --sources FILE COMMAND).
    `monitor COMMAND --help` shows a command's options and examples.
    """


def main() -> None:
    """The ``monitor`` program (and ``python -m monitor``): ``cli``, with Python's cyclic
    garbage collector tuned for a process that runs one command and exits.

    A command's imports make ~800 modules and a million objects, almost none of them
    garbage: with the collector on, loading them set off ~200 collections, each walking
    what was loaded so far (~25 ms of a check's start-up); they load with it paused, then
    are frozen (``gc.freeze``: later collections skip them).  At exit, Python's own
    clean-up runs several full collections over everything, ~0.2 s of CPU for a
    check's heap that the operating system frees at once anyway: everything is frozen
    first (registered before anything else, so it runs after every other exit handler:
    loguru's, logging's, temporary files'). Objects are still freed as their modules
    are cleared; only reference cycles left at exit are not collected, as the
    operating system reclaims their memory.  Not done for ``cli`` called in-process
    (tests): a long-lived process's garbage must stay collectable.

    Also: httpx's package imports its own command-line client (``httpx._main``: click,
    pygments, rich's syntax highlighting and progress bars; ~10 ms of a check) when it
    can, and falls back to a stub ``httpx.main`` when that import fails; monitor never
    runs httpx's client, so this process marks the module missing.

    And pydantic plugins are off in this process (``_no_pydantic_plugins``), and two
    modules are loaded when first used, not when imported (``ON_USE``)."""
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    _no_pydantic_plugins()
    for name in ON_USE:
        _on_use(name)
    atexit.register(gc.freeze)
    cli.own_process = True
    cli()


def _no_pydantic_plugins() -> None:
    """The ``monitor`` program runs no pydantic plugin (logfire and the like: none is
    needed, none is in requirements.lock).  The first model pydantic builds (``Settings``,
    in every command that reads sources.toml) would look for them otherwise: its plugin
    loader imports ``importlib.metadata`` and reads the entry points of every installed
    distribution, ~15–20 ms of CPU of ``monitor status`` and of ``monitor check``'s
    start-up, serial before the workers fork.  Its one function answers "none" here
    instead (what ``PYDANTIC_DISABLE_PLUGINS=__all__`` makes it answer, without the
    import and the scan); ``cli`` called in-process (tests) keeps pydantic as it is."""
    if "pydantic.plugin._loader" in sys.modules:
        return
    loader = types.ModuleType("pydantic.plugin._loader")
    loader.get_plugins = lambda: ()  # type: ignore[attr-defined]
    sys.modules["pydantic.plugin._loader"] = loader


class _OnUse(types.ModuleType):
    """A module imported for later: the real one is imported at the first attribute
    asked of this stand-in, and answers from then on (through it, or ``sys.modules``)."""

    def __getattr__(self, name: str) -> Any:
        with _LOADING:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]  # the real one takes its place
                import_module(self.__name__)
        return getattr(import_module(self.__name__), name)


_LOADING = _thread.RLock()  # re-entrant: a module loaded may use another stand-in


# Modules the ``monitor`` program imports when first used rather than when its
# libraries import them, each ~3 ms of CPU of every ``monitor check``'s serial start-up
# (before its workers fork) for nothing in an ordinary check:
ON_USE = (
    # SQLAlchemy's, to find dialects and plugins of other distributions by their entry
    # points (monitor's are SQLAlchemy's own, found without it); with it ``zipfile``,
    # ``csv`` and the metadata readers.  Used by an alert's delivery (pydantic.networks,
    # for sqlmodel) and by ``version()``.
    "importlib.metadata",
    # httpx's and ``monitor.fetch.netguard``'s, for host names that are not ASCII (a
    # 中文域名) and their errors; its tables are large.
    "idna",
)


def _on_use(name: str) -> None:
    """``name`` in ``sys.modules`` as an ``_OnUse`` stand-in: an ``import`` of it binds
    the stand-in, and its first attribute asked imports the real one (the same module,
    the same answers).  ``cli`` called in-process (tests) imports as usual."""
    if name in sys.modules:
        return
    package, _, leaf = name.rpartition(".")
    stand_in = _OnUse(name)
    stand_in.__spec__ = None  # read by every import of it: not a use
    sys.modules[name] = stand_in
    if package:
        setattr(import_module(package), leaf, stand_in)
