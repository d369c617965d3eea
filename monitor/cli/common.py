"""What every command shares: loading the configuration and the store, exit codes,
JSON output, date parsing and error translation for the terminal."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.markup import escape

from monitor.config import Config, load_config
from monitor.errors import BadInputError, ConfigError, MonitorError
from monitor.logging import setup_logging
from storage import Store

EXIT_CONFIG = 2
EXIT_USAGE = 2  # bad input: the same code click gives a bad option
EXIT_NOT_FOUND = 3
SOURCES_DEFAULT = "sources.toml"

F = TypeVar("F", bound=Callable[..., Any])

console = Console()
err_console = Console(stderr=True)

sources_option = click.option(
    "--sources", "sources_file", default=SOURCES_DEFAULT, show_default=True,
    type=click.Path(dir_okay=False, path_type=Path), envvar="MONITOR_SOURCES",
    help="The sources file (env MONITOR_SOURCES).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def handle_errors(fn: F) -> F:
    """Turn monitor errors into a one-line message and an exit code, never a traceback.

    The message is not wrapped: a path or URL in it stays whole, to copy or to grep."""
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            _fail("configuration error", str(exc), EXIT_CONFIG)
        except BadInputError as exc:
            _fail("bad input", str(exc), EXIT_USAGE)
        except KeyError as exc:
            _fail("not found", str(exc.args[0]), EXIT_NOT_FOUND)
        except MonitorError as exc:
            _fail("error", str(exc), 1)
        except OSError as exc:  # a file the command was told to read or write
            where = f"{exc.filename}: " if exc.filename else ""
            _fail("error", where + (exc.strerror or str(exc)), 1)
    return wrapper  # type: ignore[return-value]


def _fail(what: str, message: str, code: int) -> None:
    err_console.print(f"[red]{what}:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)


def load(sources_file: Path, *, quiet: bool = False) -> Config:
    config = load_config(sources_file)
    setup_logging(json_lines=config.settings.log_json, quiet=quiet)
    return config


@contextmanager
def open_store(config: Config) -> Iterator[Store]:
    store = Store(config.settings.database_url)
    try:
        yield store
    finally:
        store.close()


def print_json(data: Any) -> None:
    click.echo(json.dumps(to_jsonable(data), ensure_ascii=False, indent=2))


def to_jsonable(data: Any) -> Any:
    if is_dataclass(data) and not isinstance(data, type):
        return to_jsonable(asdict(data))
    if isinstance(data, dict):
        return {str(k): to_jsonable(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [to_jsonable(v) for v in data]
    if isinstance(data, datetime):
        return data.isoformat()
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data


def parse_when(text: str, timezone: str = "Asia/Shanghai") -> datetime:
    """``2024-05-01``, ``2024-05-01T08:00`` or ISO with offset; naive means ``timezone``.

    A bare date means the end of that day: "what did the page say on 5 May" wants the
    version current at the end of 5 May.
    """
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            at = datetime(d.year, d.month, d.day, 23, 59, 59, 999999)
        else:
            at = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date like 2024-05-01 or "
                                 "2024-05-01T08:00") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(timezone))
    return at.astimezone(UTC)


def local_time(at: datetime | None, timezone: str = "Asia/Shanghai") -> str:
    if at is None:
        return "—"
    return at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
