"""The ``monitor`` command.  One module per command group; this one only wires them.

A command's module is imported only when that command runs (``LazyGroup``):
``monitor --version`` imports click and nothing of the monitor, ``monitor status`` no
HTTP client, browser driver or diff engine.  Each module keeps its ``register(cli)``; a
new command is a line in ``COMMANDS``.
"""

from __future__ import annotations

from importlib import import_module

import click

from monitor import __version__

# command name → the module of monitor.cli that registers it
COMMANDS = {
    "alerts": "alerts", "check": "check", "demo": "demo", "diff": "diff",
    "export": "archive", "history": "history", "run": "run", "search": "archive",
    "serve": "serve", "show": "history", "sources": "sources", "status": "status",
    "verify": "evidence",
}


class LazyGroup(click.Group):
    """click's documented lazy-loading group: commands listed by name, imported on use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        from monitor.cli.examples import add_examples

        module = import_module(f"monitor.cli.{COMMANDS[cmd_name]}")
        module.register(self)
        for name in [n for n, m in COMMANDS.items() if m == COMMANDS[cmd_name]]:
            add_examples(self.commands[name], name)
        return self.commands.get(cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog="Example: monitor demo   (a local site that changes, watched; "
             "Ctrl+C stops it).  Shell completion: see README, 'Shell completion'.")
@click.version_option(__version__, prog_name="monitor")
def cli() -> None:
    """Watch government web pages, keep every version, tell people what changed.

    Every command takes --sources FILE (default sources.toml, or MONITOR_SOURCES).
    `monitor COMMAND --help` shows a command's options and examples.
    """


def main() -> None:
    cli()
