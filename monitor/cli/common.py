"""What every command shares: loading the configuration and the store, exit codes,
JSON output, tables, date parsing and error translation for the terminal."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields, is_dataclass
from datetime import UTC, date, datetime
from functools import cache, lru_cache, wraps
from itertools import chain, repeat
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import click

from monitor.config import Config, load_config
from monitor.errors import BadInputError, ConfigError, MonitorError, NotFoundError
from storage.instant import canonical_time

if TYPE_CHECKING:  # imported where used: `monitor status` may not need SQLAlchemy
    from rich.console import Console
    from rich.table import Table

    from storage import Store
    from storage.records import VersionFull

EXIT_CONFIG = 2
EXIT_USAGE = 2  # bad input: the same code click gives a bad option
EXIT_NOT_FOUND = 3
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT): 128 + its number, as a shell says it
SOURCES_DEFAULT = "sources.toml"
UNBOUNDED = 100_000  # columns: "as wide as the table wants" when nothing is a screen

F = TypeVar("F", bound=Callable[..., Any])



def __getattr__(name: str) -> Any:
    """``console`` and ``err_console``, made on first use: ``monitor check --json`` prints
    with ``click.echo`` and, when nothing goes wrong, never loads rich (~12 ms)."""
    if name in ("console", "err_console"):
        return _consoles()[name == "err_console"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def _consoles() -> tuple[Console, Console]:
    from rich.console import Console

    out, err = Console(), Console(stderr=True)
    # Piped or redirected, a message is never cut into lines (rich would wrap at 80
    # columns, inside words): one message, one line, for grep and log files; tables:
    # print_table.
    for each in (out, err):
        each.soft_wrap = not each.is_terminal
    return out, err

def out_is_terminal() -> bool:
    """Whether ``console`` writes to a terminal (``console.is_terminal``), without
    loading rich for the answer (~14 ms: ``monitor status`` piped writes its lines with
    ``click.echo``).  Once rich is loaded, rich is asked."""
    if "rich.console" in sys.modules or "IPython" in sys.modules:
        return bool(_consoles()[0].is_terminal)
    import os

    return terminal_by_rich_rules(os.environ, sys.stdout)


def terminal_by_rich_rules(environ: Any, file: Any) -> bool:
    """rich's ``Console.is_terminal`` for a console on ``file`` outside Jupyter (its
    order: IDLE's shell is not one; ``TTY_COMPATIBLE`` 0 or 1 says; a set
    ``FORCE_COLOR`` says yes unless empty; else ``isatty()``).  tests/test_cli_startup.py
    compares the two."""
    stdin_module = getattr(sys.stdin, "__module__", None)
    if isinstance(stdin_module, str) and stdin_module.startswith("idlelib"):
        return False
    tty_compatible = environ.get("TTY_COMPATIBLE", "")
    if tty_compatible in ("0", "1"):
        return tty_compatible == "1"
    force_color = environ.get("FORCE_COLOR")
    if force_color is not None:
        return force_color != ""
    isatty = getattr(file, "isatty", None)
    try:
        return False if isatty is None else bool(isatty())
    except ValueError:  # a closed file
        return False


def _given_before(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    """``monitor --sources F COMMAND`` as ``monitor COMMAND --sources F``: the file given
    before the command, unless the command is given one itself (it wins; so does either
    over MONITOR_SOURCES)."""
    from click.core import ParameterSource

    top = ctx.find_root().params.get("sources_file")
    if top is not None and ctx.get_parameter_source(param.name or "") in (
            ParameterSource.DEFAULT, ParameterSource.ENVIRONMENT):
        return Path(top)
    return value


sources_option = click.option(
    "--sources", "sources_file", default=SOURCES_DEFAULT, show_default=True,
    type=click.Path(dir_okay=False, path_type=Path), envvar="MONITOR_SOURCES",
    callback=_given_before, help="The sources file (env MONITOR_SOURCES).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def complete_source_names(ctx: click.Context, param: click.Parameter, incomplete: str
                          ) -> list[Any]:
    """Shell completion of a source's name, read from the sources file alone (no
    database, no validation: a half-edited file still completes, a broken one gives
    nothing)."""
    import os
    import tomllib

    from click.shell_completion import CompletionItem

    path = (ctx.params.get("sources_file") or os.environ.get("MONITOR_SOURCES")
            or SOURCES_DEFAULT)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return []
    names = [s.get("name") for s in data.get("sources", []) if isinstance(s, dict)]
    return [CompletionItem(n) for n in names
            if isinstance(n, str) and n.startswith(incomplete)]


def handle_errors(fn: F) -> F:
    """Turn monitor errors into a one-line message and an exit code, never a traceback.

    The message is not wrapped: a path or URL in it stays whole, to copy or to grep."""
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            refused("配置错误", exc)
        except BadInputError as exc:
            if exc.zh is None and not _CHINESE.match(str(exc)):  # no Chinese of its own
                _fail_zh(UNSAID_INPUT, f"bad input: {exc}", EXIT_USAGE, what="输入有误")
            if exc.zh is None:  # Chinese already, its English in brackets after
                _said("输入有误", str(exc), EXIT_USAGE)
            _fail_zh(exc.zh, f"bad input: {exc}", EXIT_USAGE, what="输入有误")
        except NotFoundError as exc:
            not_found(exc)
        except KeyError as exc:  # a look-up below the command: said as one, in Chinese
            if not _raised_by_us(exc):
                raise  # a library's (a bug): its traceback, not "not found" (exit 3)
            not_found(looked_up(exc, _typed(args, kwargs)))
        except MonitorError as exc:
            said = getattr(exc, "zh", None)  # Chinese first, where the error has it
            # no Chinese of its own: a general sentence (zh.SENTENCES say a check's failure)
            _fail_zh(said or UNSAID_ERROR, f"error: {exc}", 1, what="错误")
        except OSError as exc:  # a file the command was told to read or write
            where = f"{exc.filename}: " if exc.filename else ""
            _fail_zh(f"无法读写文件 {exc.filename}（{exc.strerror or exc}）" if exc.filename
                     else f"文件操作失败（{exc.strerror or exc}）",
                     "error: " + where + (exc.strerror or str(exc)), 1, what="错误")
    return wrapper  # type: ignore[return-value]


_OURS = tuple(str(Path(__file__).resolve().parents[2] / d) + os.sep
              for d in ("monitor", "storage", "alerts"))


def _raised_by_us(exc: BaseException) -> bool:
    """Whether ``exc`` was raised in this program's code (a look-up that found nothing),
    not inside the standard library or a dependency: a ``KeyError`` there is a defect
    (``selectors``' "7 is not registered" once came out as 未找到, exit 3)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code.co_filename.startswith(_OURS)


class ChineseUsage(click.Command):
    """A command whose usage errors (a missing or extra argument, an unknown option, a
    value click refuses) are said as ``handle_errors`` says bad input: Chinese first, the
    English after a ``技术细节：`` line, exit 2 — not click's English ``Usage:`` banner."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            _fail_zh(_usage_zh(exc, ctx.command_path), f"bad input: {exc.format_message()}",
                     EXIT_USAGE, what="输入有误")


def _usage_zh(exc: click.UsageError, command: str) -> str:
    """click's usage error in Chinese, with where to read the usage."""
    param = getattr(exc, "param", None)
    name = (param.opts[0] if isinstance(param, click.Option) and param.opts
            else getattr(param, "human_readable_name", "") or "")
    help_ = f"（用法见 {command} --help）"
    if isinstance(exc, click.MissingParameter):
        return f"缺少参数 {name}{help_}"
    if isinstance(exc, click.NoSuchOption):
        return f"没有选项 {exc.option_name}{help_}"
    if isinstance(exc, click.BadOptionUsage):
        return f"选项 {exc.option_name} 写法有误（缺少取值？）{help_}"
    if isinstance(exc, click.BadParameter):
        return f"{name} 的取值无效{help_}"
    if "unexpected extra argument" in exc.format_message():
        return f"参数过多{help_}"
    return f"命令写法有误{help_}"


# an error raised without Chinese words of its own: Chinese first all the same
UNSAID_INPUT = "命令的输入有误，请按下面的技术细节修改后重试"
UNSAID_ERROR = "命令未能完成，原因见下面的技术细节"
_CHINESE = re.compile(r"[\u4e00-\u9fff]")  # a message that starts in Chinese


def _typed(args: tuple[Any, ...], kwargs: dict[str, Any]) -> set[str]:
    """The words the user typed as the command's arguments (a name, URL, id, date)."""
    typed: set[str] = set()
    for value in (*args, *kwargs.values()):
        for each in value if isinstance(value, tuple | list) else (value,):
            if isinstance(each, str | int) and not isinstance(each, bool):
                typed.add(str(each))
    return typed


def _no_source(name: str) -> str:
    """No source of that name, no page at that URL: with where to look."""
    if "://" in name:
        return (f"没有网址是 {name} 的来源或页面：请核对网址（栏目文档的网址见 monitor "
                "history 来源名 --documents）")
    return f"没有名为 {name} 的来源：monitor status 列出所有来源"


# The English of a look-up that found nothing (``storage``, ``monitor.cli.diff``): the
# pattern, its Chinese (``{0}``: what the pattern caught).
_LOOKUPS: tuple[tuple[str, str], ...] = (
    (r"(.+) has no version yet", "{0} 还没有任何版本（页面检查成功后才有：monitor status 看它的"
                                 "检查情况）"),
    (r"(.+) has fewer than two versions", "{0} 只有一个版本，还没有可比较的变化"),
    (r"version (\d+) is the first of its page", "id {0} 的版本是其页面的第1版，之前没有版本可比较"),
    (r"no source '(.+)'", ""),  # ``_no_source``
    (r"no such id", "没有这个 id 的版本（id 超出范围；版本的 id 见 monitor history 来源名）"),
)


def looked_up(exc: KeyError, typed: set[str]) -> NotFoundError:
    """A ``KeyError`` from a look-up (many sites, in English) as ``not_found`` says it:
    the key is what the user typed — a version id (digits) or a name or URL — or one of
    the storage's sentences (``_LOOKUPS``); else the key as it is (Chinese already, or
    a program's word: then after 所给的名称、网址或编号不存在)."""
    import re

    key = exc.args[0] if exc.args else ""
    text = str(key)
    if isinstance(key, int) or (text.isdigit() and text in typed):
        return NotFoundError(f"no version with id {text}",
                             f"没有 id 为 {text} 的版本（版本的 id 见 monitor history 来源名）")
    if text in typed:
        return NotFoundError(f"no source named {text!r} and no page at that URL",
                             _no_source(text))
    for pattern, zh in _LOOKUPS:
        if m := re.fullmatch(pattern, text):
            return NotFoundError(text, zh.format(*m.groups()) if zh else _no_source(m[1]))
    if re.search(r"[\u4e00-\u9fff]", text):
        return NotFoundError(text, text)
    return NotFoundError(text, "所给的名称、网址或编号不存在")


def refused(what: str, exc: ConfigError) -> NoReturn:
    """A configuration refused, as the admin's mail says it: each problem in Chinese
    (``zh.config_problem``: where, what), then its English (``技术细节：configuration
    error: …``, the log's words); exit 2."""
    from rich.markup import escape

    from monitor import zh

    for p in exc.problems:
        said = zh.config_problem(str(p), file=p.file, source=p.source, key=p.key,
                                 watcher=p.watcher)
        _consoles()[1].print(f"[red]{what}：[/]{escape(said)}\n{zh.DETAIL}configuration "
                             f"error: {escape(str(p))}", highlight=False, soft_wrap=True)
    sys.exit(EXIT_CONFIG)


def not_found(exc: NotFoundError) -> NoReturn:
    """Chinese first, the English detail after (as ``refused``); exit 3."""
    from rich.markup import escape

    from monitor import zh

    _consoles()[1].print(f"[red]未找到：[/]{escape(exc.zh)}\n{zh.DETAIL}not found: "
                         f"{escape(str(exc.args[0]))}", highlight=False, soft_wrap=True)
    sys.exit(EXIT_NOT_FOUND)


def _fail_zh(said: str, detail: str, code: int, *, what: str) -> NoReturn:
    """``错误：`` the Chinese, then the English (``技术细节：``), as ``not_found``."""
    from rich.markup import escape

    from monitor import zh

    _consoles()[1].print(f"[red]{what}：[/]{escape(said)}\n{zh.DETAIL}{escape(detail)}",
                         highlight=False, soft_wrap=True)
    sys.exit(code)


def _said(what: str, message: str, code: int) -> NoReturn:
    """``输入有误：`` and a message that is Chinese first already."""
    from rich.markup import escape

    _consoles()[1].print(f"[red]{what}：[/]{escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)


def stopped_delivery(deliverer: Any, report: Any) -> None:
    """After ``alerts.delivery.deliver_stoppably``: when a signal stopped it, say how
    many alerts went back to the outbox, unsent, and exit 130."""
    if deliverer is None or deliverer.stopped_by is None:
        return
    _consoles()[1].print(
        f"[red]已中断（{deliverer.stopped_by}）：[/]{report.released} 条提醒未发送，已放回待发队列"
        f"（monitor alerts deliver 发送）\n技术细节：interrupted by {deliverer.stopped_by}: "
        f"{report.released} alert(s) not sent are pending again; monitor alerts deliver "
        "sends them", highlight=False, soft_wrap=True)
    _locked_out(report)
    sys.exit(EXIT_INTERRUPTED)


def _locked_out(report: Any) -> None:
    """What a stop could not write, the database locked by another process: alerts
    sent but not marked (they go once more, same Message-ID, when their lease ends) and
    alerts not given back (sent once when their lease ends)."""
    err = _consoles()[1]
    if report.unmarked:
        err.print(f"[red]{report.unmarked} 条提醒已发出，但数据库被另一进程锁定，"
                  "未能记为已发送：[/]"
                  "租约（lease_seconds）到期后会以同一 Message-ID 再发一次\n技术细节："
                  f"{report.unmarked} alert(s) sent but not marked sent (the database is "
                  "locked by another process): sent once more, with the same Message-ID, "
                  "when their lease ends", highlight=False, soft_wrap=True)
    if report.stuck:
        err.print(f"[red]{report.stuck} 条提醒未发送，但数据库被另一进程锁定，"
                  "未能放回待发队列：[/]"
                  "租约（lease_seconds）到期后由 monitor alerts deliver 发送\n技术细节："
                  f"{report.stuck} alert(s) not sent could not be given back (the database "
                  "is locked by another process): still claimed until their lease ends, "
                  "then monitor alerts deliver sends them", highlight=False, soft_wrap=True)


def refuse_existing(paths: Iterable[Path | None], *, force: bool,
                    why: tuple[str, str] = ("", "")) -> None:
    """An output file is never overwritten silently (``export``, ``diff --html``): one
    that exists is a usage error unless ``--force`` was given.  ``why`` is what
    overwriting would break (Chinese, English); ``-`` (standard output) never exists.
    Told as a refusal, not as click's usage error: the command was written right, and a
    ``Usage:`` banner above the sentence hid it (exit 2 either way)."""
    existing = [str(p) for p in paths if p is not None and str(p) != "-" and p.exists()]
    if existing and not force:
        from rich.markup import escape

        names, (zh, en) = ", ".join(existing), why
        _consoles()[1].print(
            f"[red]{escape(names)} 已存在，未覆盖{zh}：[/]加 --force 覆盖，或换一个文件名。"
            f"({escape(names)} already exists: not overwritten{en}; give --force to "
            "overwrite, or another name)", highlight=False, soft_wrap=True)
        sys.exit(EXIT_USAGE)


def print_table(table: Table, out: Console | None = None) -> None:
    """A table for people and for pipes.  On a terminal it fits the screen (rich wraps
    cells).  Piped or redirected it is never wrapped: each row is one line at the table's
    natural width, so a name, an address or an error stays whole for grep, cut or a file
    (rich would otherwise wrap at 80 columns, inside words: ``hn-repl`` / ``y-0192``).
    The same idea as ``soft_wrap`` for ``show``'s text, for tables."""
    from rich.console import Console
    from rich.measure import Measurement

    out = out or _consoles()[0]
    if out.is_terminal:
        out.print(table)
        return
    natural = Measurement.get(out, out.options.update_width(UNBOUNDED), table).maximum
    Console(file=out.file, width=max(natural, 1), color_system=None,
            highlight=False).print(table)


def plain_table(title: str, headers: Sequence[str], rows: Iterable[Sequence[str]],
                *, centred: bool = False) -> Iterator[str]:
    """The lines ``print_table`` gives for a table of plain strings piped or redirected
    (rich's box, one line a row at the natural width), without rich's renderer: rich
    lays a 10,000-row table out in ~5 s of CPU (``monitor status`` of 10,000 sources),
    this in ~0.1 s.  No style (a pipe has no colours anyway); a line break inside a cell
    becomes a space, so a row stays one line.  ``centred``: the title over the table's
    width, as ``print_table`` gives it (``monitor status`` writes it from the left, as
    rich's soft-wrapped form does)."""
    from rich.cells import cell_len as wide

    def cell_len(text: str) -> int:  # columns on a screen: a Chinese character takes two
        return len(text) if text.isascii() else wide(text)

    # a line break is never printable: most cells are kept as they are, unsplit
    cells = [[c if c.isprintable() else " ".join(c.splitlines()) for c in row] for row in rows]
    # measured once, inline (a call a cell was a tenth of the table's time)
    sizes = [[len(c) if c.isascii() else wide(c) for c in row] for row in cells]
    widths = [max([cell_len(h), *(r[i] for r in sizes)]) for i, h in enumerate(headers)]

    def line(left: str, fill: str, mid: str, right: str) -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def row(edge: str, values: Sequence[str], size: Sequence[int]) -> str:
        # str.ljust pads to a length in characters: a cell of wide characters gets its
        # own length plus the columns it lacks
        inner = f" {edge} ".join([v.ljust(w - n + len(v))
                                  for v, n, w in zip(values, size, widths, strict=True)])
        return f"{edge} {inner} {edge}"

    top = line("┏", "━", "┳", "┓")
    if centred and cell_len(title) < len(top):
        left = (len(top) - cell_len(title)) // 2
        title = " " * left + title + " " * (len(top) - cell_len(title) - left)
    yield title
    yield top
    yield row("┃", headers, [cell_len(h) for h in headers])
    yield line("┡", "━", "╇", "┩")
    yield from (row("│", r, n) for r, n in zip(cells, sizes, strict=True))
    yield line("└", "─", "┴", "┘")


def load(sources_file: Path, *, quiet: bool = False, logging: bool = True,
         when_empty: str | None = None, plain_settings: bool = False,
         settings_read: Callable[[Any], None] | None = None) -> Config:
    """The configuration, and the log set up as it says; ``logging=False`` leaves the
    log to ``start_logging`` (loguru costs 60 ms to import, for a command that may
    log nothing).  ``plain_settings``, ``settings_read``: see ``load_config``."""
    config = load_config(sources_file, when_empty=when_empty, plain_settings=plain_settings,
                         settings_read=settings_read)
    if logging:
        start_logging(config, quiet=quiet)
    return config


READ_ONLY_NOTE = {
    "file": "设置取自文件的 [settings]",
    "partly": "[settings] 无法完整读取：数据库和时区取自文件，其余设置取自环境变量和默认值",
    "none": "数据库和时区取自环境变量 MONITOR_DATABASE_URL、MONITOR_TIMEZONE 或默认值",
}


def load_reading(sources_file: Path, *, quiet: bool = True, logging: bool = True,
                 plain_settings: bool = False,
                 settings_read: Callable[[Any], None] | None = None) -> Config:
    """The configuration of a command that only reads the database (``status``,
    ``history``, ``show``, ``diff``, ``search``, ``export``, ``alerts list``,
    ``verify``).  A sources file that exists but does not load does not stop it: during
    an incident (a bad edit the daemon refused; it runs on its last good configuration)
    admins and archivists still need the archive.  Its problems are printed as a warning
    (stderr, Chinese first), and the command goes on with ``salvage_settings``'s
    settings; no sources, no watchers (``Config.broken``: ``status`` lists the sources
    the database has).  A missing or unreadable file is still refused (a wrong
    directory, most likely: the default database there would be another archive, or
    none).  A SQLite database that does not exist is never opened (that would create
    it): ``no_archive`` says so, whether the file loads or not; exit 3.  The commands
    that write the file or check pages keep refusing a broken file, and create the
    database (``check``, ``run``)."""
    from monitor.config import salvage_settings

    try:
        config = load(sources_file, quiet=quiet, logging=False, plain_settings=plain_settings,
                      settings_read=settings_read)
    except ConfigError as exc:
        try:
            data = Path(sources_file).read_bytes()
        except OSError:
            raise exc from None
        settings, whence = salvage_settings(data)
        if _missing_sqlite(settings.database_url):
            no_archive(settings.database_url, sources_file, READ_ONLY_NOTE[whence], exc)
        _warn_broken(exc, settings.database_url, settings.timezone, whence)
        config = Config(path=Path(sources_file), settings=settings, broken=exc)
    else:
        if _missing_sqlite(config.settings.database_url):
            no_archive(config.settings.database_url, sources_file,
                       _database_whence(sources_file))
    if logging:
        start_logging(config, quiet=quiet)
    return config


def no_archive(url: str, sources_file: Path, whence: str,
               broken: ConfigError | None = None) -> NoReturn:
    """A command that only reads the archive, where there is none: said, not created
    (opening a SQLite file that does not exist would make an empty archive, and the
    command would report on it as if nothing had been checked yet).  Where the setting
    came from is named (a wrong directory or a missing ``MONITOR_DATABASE_URL``, most
    likely), and a broken sources file's problems too; exit 3, as what is not found."""
    import re

    from rich.markup import escape

    from monitor import zh

    err = _consoles()[1]
    for p in broken.problems if broken else ():
        said = zh.config_problem(str(p), file=p.file, source=p.source, key=p.key,
                                 watcher=p.watcher)
        err.print(f"[red]配置错误：[/]{escape(said)}\n{zh.DETAIL}configuration error: "
                  f"{escape(str(p))}", highlight=False, soft_wrap=True)
    shown = re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", url)
    path = url.partition("://")[2][1:]
    err.print(f"[red]没有存档：[/]数据库 {escape(path)} 不存在（数据库设置 {escape(shown)}，"
              f"{escape(whence)}；配置文件 {escape(str(sources_file))}）。此命令只读取存档，"
              "不会新建数据库：请确认所在目录和数据库设置，或先运行 monitor check 或 monitor "
              f"run 建立存档。\n{zh.DETAIL}no archive: {escape(path)} does not exist "
              f"(database_url {escape(shown)}; sources file {escape(str(sources_file))})",
              highlight=False, soft_wrap=True)
    sys.exit(EXIT_NOT_FOUND)


def _database_whence(sources_file: Path) -> str:
    """Where a loaded configuration's database_url came from (``settings``: the
    environment wins over the file, the file over the default)."""
    import os
    import tomllib

    if os.environ.get("MONITOR_DATABASE_URL"):
        return "取自环境变量 MONITOR_DATABASE_URL"
    try:
        table = tomllib.loads(Path(sources_file).read_text(encoding="utf-8"))["settings"]
        if "database_url" in table:
            return "取自文件的 [settings] database_url"
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return "默认值"


def _missing_sqlite(url: str) -> bool:
    scheme, _, rest = url.partition("://")
    path = rest[1:]
    return scheme.startswith("sqlite") and path not in ("", ":memory:") and \
        not Path(path).exists()


def _warn_broken(exc: ConfigError, database: str, timezone: str, whence: str) -> None:
    import re

    from rich.markup import escape

    from monitor import zh

    shown = re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", database)
    err, note = _consoles()[1], escape(READ_ONLY_NOTE[whence])
    err.print("[yellow]警告：配置文件有误，此命令只读取数据库，照常继续[/]"
              f"（数据库 {escape(shown)}，时区 {escape(timezone)}；{note}）。"
              "守护进程仍按上次有效的配置运行；修改配置或检查页面的命令在改正前会拒绝运行。"
              "(warning: the sources file does not load; reading the database anyway)",
              highlight=False, soft_wrap=True)
    for p in exc.problems:
        said = zh.config_problem(str(p), file=p.file, source=p.source, key=p.key,
                                 watcher=p.watcher)
        err.print(f"[yellow]配置错误：[/]{escape(said)}\n{zh.DETAIL}configuration error: "
                  f"{escape(str(p))}", highlight=False, soft_wrap=True)


def start_logging(config: Config, *, quiet: bool = False) -> None:
    from monitor.logging import setup_logging

    setup_logging(json_lines=config.settings.log_json, quiet=quiet)


@contextmanager
def open_store(config: Config, *, quick: bool = False) -> Iterator[Store]:
    """The archive's ``Store``; with ``quick`` (``monitor check --no-deliver``), on a
    SQLite archive at the newest schema, a ``storage.quick.QuickStore``: an unchanged
    pass without SQLAlchemy, the ``Store`` opened when anything else is asked for."""
    store: Any = None
    if quick:
        from storage.quick import open_quick

        store = open_quick(config.settings.database_url)
    if store is None:
        from storage import Store

        store = Store(config.settings.database_url)
    try:
        yield store
    finally:
        store.close()


def print_json(data: Any) -> None:
    """``data`` as JSON (``indented_json``).  ``color=True``: piped, ``click.echo`` would
    otherwise search the whole text for terminal colour codes to strip (~5 ms for
    ``status --json``'s 5.6 MB), and JSON has none (it writes an ESC as ``\\u001b``)."""
    click.echo(indented_json(to_jsonable(data)), color=True)


def indented_json(data: Any) -> str:
    """``json.dumps(data, ensure_ascii=False, indent=2)``, the same text, ~3× faster for
    the lists of flat objects commands print.  With ``indent``, ``json`` writes with its
    pure-Python encoder (~9 ms for a check's 1,000 results, written by ``monitor
    check``'s parent after its workers have ended: serial); here an object whose values
    are all scalars (and a list of scalars) is written by the C encoder, whose item
    separator carries the newline and the indentation, and only the containers around it
    in Python; a ``Columns`` column by column.  Anything else (another type, a key that
    is not a string) is left to ``json.dumps`` (tests/test_cli_niceties.py compares the
    two)."""
    tables: list[list[str]] = []
    try:
        text = _indented(data, 0, tables)
    except _NotPlain:
        return json.dumps(data, ensure_ascii=False, indent=2, default=_time)
    if not tables:
        return text
    # a Columns' pieces joined once, into the whole text (not copied at each level)
    pieces = text.split("\0")  # text, a table's number, text…
    return "".join(chain.from_iterable(
        tables[int(p)] if i % 2 else (p,) for i, p in enumerate(pieces)))


class Columns:
    """A list of objects with the same keys, kept column by column (``keys[i]``'s values
    in ``columns[i]``, one per object), each value a scalar (``_scalar``) or a datetime
    (written as ``canonical_time``): ``indented_json`` writes it as ``json.dumps`` writes
    ``rows()``, ``to_jsonable`` leaves it as it is.

    For ``monitor status --json``'s 10,000 sources of 17 fields (issue 12): converted
    field by field, walked again and written object by object they were ~0.17 s of the
    command's ~0.35 s.  Here each column is written by one call of the C encoder, with a
    NUL between the values (it writes a NUL in a string as ``\\u0000``: one stands for a
    separator only), split there, and the keys and indentation are laid between the
    values by ``zip`` and one ``join``: no Python code per object or per value, but for
    a column of datetimes in UTC (``_utc_times``).  A column with anything else (a list,
    a dict, another type) is written object by object (``rows()``) as before."""

    def __init__(self, keys: Sequence[str], columns: Sequence[Sequence[Any]]) -> None:
        self.keys, self.columns = tuple(keys), [list(c) for c in columns]

    def rows(self) -> list[dict[str, Any]]:
        return [dict(zip(self.keys, row, strict=True)) for row in zip(*self.columns, strict=True)]


def _time(value: Any) -> Any:
    """``json``'s ``default`` for what ``to_jsonable`` leaves to be written: a datetime
    in a ``Columns`` (as ``canonical_time``), the objects of a ``Columns``."""
    if isinstance(value, datetime):
        return canonical_time(value)
    if isinstance(value, Columns):
        return to_jsonable(value.rows())
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _columns(table: Columns, level: int, tables: list[list[str]]) -> str:
    """``table`` at ``level`` (the list's; its objects one deeper, their items two): its
    pieces appended to ``tables``, its place in the text marked by a NUL, the table's
    number, a NUL (JSON's text has no NUL of its own: a string's is ``\\u0000``)."""
    n = len(table.columns[0]) if table.columns else 0
    if not table.keys or not _STR.issuperset(map(type, table.keys)) \
            or len(table.columns) != len(table.keys) or any(len(c) != n for c in table.columns):
        raise _NotPlain  # written by json.dumps, which says what is wrong with it
    if not n:
        return "[]"
    values = [_column(c) for c in table.columns]
    if any(v is None for v in values):
        return _indented(to_jsonable(table.rows()), level, tables)
    inner, outer = "\n" + "  " * (level + 1), "\n" + "  " * level
    item, key = "\n" + "  " * (level + 2), _flat_encoder(0)
    first = f"{key(table.keys[0])}: "
    heads = [inner + "}," + inner + "{" + item + first,
             *(f",{item}{key(k)}: " for k in table.keys[1:])]
    # each object's pieces: head, value, head, value…; the heads repeated
    pairs = chain.from_iterable(zip(map(repeat, heads), values, strict=True))
    parts = list(chain.from_iterable(zip(*pairs, strict=False)))
    parts[0] = "[" + inner + "{" + item + first  # no object before the first
    parts.append(inner + "}" + outer + "]")
    tables.append(parts)
    return f"\0{len(tables) - 1}\0"


def _column(values: list[Any]) -> list[str] | None:
    """Each value's JSON text (None: not all scalars and datetimes)."""
    kinds = set(map(type, values))
    if kinds <= _TIMES and set(map(_tz, filter(None, values))) <= {UTC}:
        return _utc_times(values)
    kinds.discard(datetime)
    if not (kinds <= _SCALARS or all(map(_scalar, kinds))):
        return None
    return "".join(_nul_encoder()(values, 0))[1:-1].split("\0")


_TIMES = frozenset({datetime, type(None)})
_tz = attrgetter("tzinfo")
_DIGITS = [f"{n:02d}" for n in range(60)]


def _utc_times(times: list[datetime | None]) -> list[str]:
    """Datetimes in UTC (or None) as JSON: ``canonical_time``'s text, written here in
    ~0.45 µs each rather than ~1 µs through ``isoformat`` (its ``PyUnicode_FromFormat``
    and offset: ~13,000 instructions; 30,000 of them in ``monitor status --json``)."""
    d2 = _DIGITS
    return ["null" if t is None else
            f'"{t.year:04d}-{d2[t.month]}-{d2[t.day]}T{d2[t.hour]}:{d2[t.minute]}:'
            f'{d2[t.second]}.{t.microsecond:06d}+00:00"' for t in times]


@cache
def _nul_encoder() -> Callable[[Any, int], Iterable[str]]:
    """The C encoder writing a list's values with a NUL between them."""
    from json import encoder

    if encoder.c_make_encoder is None:  # a Python without _json: the same text, slower
        return json.JSONEncoder(ensure_ascii=False, separators=("\0", ": "),
                                default=_time).iterencode  # type: ignore[return-value]
    return encoder.c_make_encoder(None, _time, encoder.encode_basestring, None, ": ", "\0",
                                  False, False, True)


_STR = frozenset({str})
_SCALARS = {str, int, float, bool, type(None)}  # and the subclasses met (``_scalar``)


@cache
def _scalar(kind: type) -> bool:
    """Whether ``json`` writes a ``kind`` as a scalar, with the same text from its C
    and Python encoders: a str, int or float, or a subclass (an ``Outcome``, a StrEnum,
    is its value: both encoders read the str itself, or use ``int.__repr__`` and
    ``float.__repr__``)."""
    if kind is type(None) or issubclass(kind, str | int | float):
        _SCALARS.add(kind)
        return True
    return False


class _NotPlain(Exception):
    """A value ``indented_json`` leaves to ``json.dumps``."""


def _indented(data: Any, level: int, tables: list[list[str]]) -> str:
    kind = type(data)
    if kind in _SCALARS or _scalar(kind):
        return _flat_encoder(level)(data)
    inner, outer = "\n" + "  " * (level + 1), "\n" + "  " * level
    if kind is Columns:
        return _columns(data, level, tables)
    if kind is list:
        if not data:
            return "[]"
        kinds = set(map(type, data))
        if kinds <= _SCALARS or all(map(_scalar, kinds)):  # names, say: in one call
            return "[" + inner + _flat_encoder(level + 1)(data)[1:-1] + outer + "]"
        items = (_indented(v, level + 1, tables) for v in data)
        return "[" + inner + ("," + inner).join(items) + outer + "]"
    if kind is not dict:
        raise _NotPlain
    if not data:
        return "{}"
    if not _STR.issuperset(map(type, data)):
        raise _NotPlain
    kinds = set(map(type, data.values()))
    if kinds <= _SCALARS or all(map(_scalar, kinds)):
        return "{" + inner + _flat_encoder(level + 1)(data)[1:-1] + outer + "}"
    key = _flat_encoder(0)
    return "{" + inner + ("," + inner).join(
        f"{key(k)}: {_indented(v, level + 1, tables)}" for k, v in data.items()) + outer + "}"


@cache
def _flat_encoder(level: int) -> Callable[[Any], str]:
    """The C encoder writing an object's items one per line, indented for ``level``
    (made once: ``JSONEncoder.encode`` makes it again at every call)."""
    from json import encoder

    sep = "," + "\n" + "  " * level
    if encoder.c_make_encoder is None:  # a Python without _json: the same text, slower
        return json.JSONEncoder(ensure_ascii=False, separators=(sep, ": ")).encode
    write = encoder.c_make_encoder(None, None, encoder.encode_basestring, None, ": ", sep,
                                   False, False, True)
    return lambda data: "".join(write(data, 0))


_AS_IS = frozenset({str, int, float, bool, type(None)})  # JSON as they are


@cache
def _field_names(kind: type) -> tuple[str, ...] | None:
    """A dataclass's field names (None: not a dataclass), found once per class."""
    return tuple(f.name for f in fields(kind)) if is_dataclass(kind) else None


def to_jsonable(data: Any) -> Any:
    """``data`` as JSON's types.  A check's ``--json`` is ~17,000 values per 1,000 sources,
    written by the parent after its workers: the common scalars are returned first, and a
    dataclass's fields are looked up once per class."""
    kind = type(data)
    if kind in _AS_IS or kind is Columns:
        return data
    names = _field_names(kind)
    if names is not None:
        # field by field, not asdict(): that deep-copies everything, then it is walked again
        return {name: to_jsonable(getattr(data, name)) for name in names}
    if isinstance(data, dict):
        return {str(k): to_jsonable(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [to_jsonable(v) for v in data]
    if isinstance(data, datetime):  # the one form of every time monitor writes for programs
        return canonical_time(data)
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data


def parse_when(text: str, timezone: str = "Asia/Shanghai") -> datetime:
    """``2024-05-01``, ``2024-05-01T08:00`` or ISO with offset; naive means ``timezone``.

    A bare date means the end of that day: "what did the page say on 5 May" wants the
    version current at the end of 5 May.  Every form of a bare date does (``_day``).
    """
    try:
        if (d := _day(text)) is not None:
            at = datetime(d.year, d.month, d.day, 23, 59, 59, 999999)
        else:
            at = datetime.fromisoformat(text)
    except ValueError:
        raise _bad_date(text) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(timezone))
    return at.astimezone(UTC)


def _day(text: str) -> date | None:
    """``text`` as a bare date in any form ISO allows (``2026-12-07``, ``20261207``, a week
    date), else None (a time, or no date): one day means one thing however it is
    written (``datetime.fromisoformat`` reads ``20261207`` as its midnight)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _bad_date(text: str) -> BadInputError:
    """A date or time that is none (2026-13-01): bad input, Chinese first, exit 2 — not
    click's English usage banner."""
    return BadInputError(f"{text!r} is not a date like 2024-05-01 or 2024-05-01T08:00",
                         zh=f"日期无效：{text!r}，应写作 2026-05-01 或 2026-05-01T08:00")


def parse_since(text: str | None, timezone: str) -> datetime | None:
    """The start of a range: a bare date means the start of that day (``parse_when``,
    made for "as it was on", means its end)."""
    if not text:
        return None
    if (d := _day(text)) is not None:
        return datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(timezone)).astimezone(UTC)
    return parse_when(text, timezone)


def typed_when(text: str, timezone: str) -> str:
    """A date or time as the user typed it, with what it meant: ``the end of 2026-05-01
    (Asia/Shanghai)``, ``2026-05-01T08:00 (Asia/Shanghai)``, or an offset time as is."""
    if _day(text) is not None:
        return f"the end of {text} ({timezone})"
    if datetime.fromisoformat(text).tzinfo is None:
        return f"{text} ({timezone})"
    return text


def version_at(store: Store, target: str, when: str, timezone: str) -> VersionFull:
    """The version of ``target`` (a source name or URL) current at ``when``, as ``show
    --at`` and ``diff --from/--to`` mean it (``parse_when``: a bare date is the end of
    that day), or the version ``when`` names as the commands print it (``version_name``:
    ``第2版``, ``第2版（id 41）``, ``#41``).  None yet: ``KeyError`` saying so in the user's
    terms and time zone, with the first version there is (the store's own message is an
    ISO UTC time)."""
    from storage.archive import Archive

    named = named_version(store, target, when)
    if named is not None:
        return named
    at = point_in_time(when, timezone)
    _, page = store.resolve_page(target)  # an unknown source is its own "not found"
    try:
        return store.version_at(target, at)
    except KeyError:
        pass
    first = Archive(store).first_version(page.id)
    # the version as ``history`` shows it: 第N版, its id after
    later = (f": its first version (第{first[2]}版, id {first[0]}) is from "
             f"{local_time(first[1], timezone)}" if first else ": it has no version yet")
    said = (f"{when} 时 {target} 还没有版本，它的第{first[2]}版（id {first[0]}）抓取于 "
            f"{local_time(first[1], timezone)}" if first else f"{target} 还没有任何版本")
    raise NotFoundError(f"no version of {target} before {typed_when(when, timezone)}{later}",
                        said)


# A version as the commands print it: ``第2版`` (history, search), ``第2版（id 41）`` (show
# --at, diff's notes), ``第2版 #41 (…)`` (diff's heading), ``第2版 · version 41 · …``
# (show), ``#41``, ``id 41``: its number, then its id, each optional, whatever follows
# the id ignored (a fetch time).
_NUMBERED = re.compile(r"\s*第\s*(\d+)\s*版(.*)", re.S)
_ID = re.compile(r"[\s·,，]*[（(]?\s*(?:id|version|#)\s*(\d+)(?:[\s,，;；·)）].*)?", re.S | re.I)


def version_name(text: str) -> tuple[int | None, int | None] | None:
    """The (number, id) a version's name gives (``第2版`` → (2, None), ``第2版（id 41）`` →
    (2, 41), ``#41``, ``id 41`` or digits that are no date → (None, 41)); None: not a
    version's name (a date, or nothing).  Digits that are also a date (``20260501``) are
    the date: ``id 20260501`` is the version."""
    numbered = _NUMBERED.fullmatch(text)
    rest = numbered[2] if numbered else text
    number = int(numbered[1]) if numbered else None
    if numbered and not rest.strip():
        return number, None
    if m := _ID.fullmatch(rest):
        return number, int(m[1])
    if numbered is None and text.strip().isdigit() and _day(text.strip()) is None:
        return None, int(text)
    return None


def point_in_time(when: str, timezone: str, *, start: bool = False) -> datetime:
    """``parse_when`` (``parse_since`` for ``start``) of a ``show --at`` or ``diff
    --from/--to`` that is no version's name: one that is no date either is bad input
    that says both forms."""
    try:
        return (parse_since(when, timezone) if start else None) or parse_when(when, timezone)
    except BadInputError as exc:
        raise BadInputError(f"{when!r} is not a date like 2024-05-01 or 2024-05-01T08:00, "
                            "nor a version like 第2版 or 第2版（id 41）",
                            zh=f"{exc.zh}，或写版本，如 第2版、第2版（id 41）") from None


def named_version(store: Store, target: str, text: str) -> VersionFull | None:
    """The version of ``target`` that ``text`` names (``version_name``), None when
    ``text`` names none (a date).  A number the page does not have, or an id of another
    page's version, is not found (exit 3); a number and an id that disagree are bad
    input (exit 2)."""
    named = version_name(text)
    if named is None:
        return None
    from storage.archive import Archive

    number, vid = named
    _, page = store.resolve_page(target)  # an unknown source is its own "not found"
    if vid is None:
        vid = next((e.id for e in Archive(store).timeline(page.id or 0) if e.number == number),
                   None)
        if vid is None:
            raise NotFoundError(f"{target} has no version {number}",
                                f"{target} 没有第{number}版（它的版本见 monitor history {target}）")
    version = store.version(vid)
    if version.page_id != page.id:
        raise NotFoundError(f"version {vid} is not one of {target} (it is version "
                            f"{version.number} of {version.source})",
                            f"id {vid} 的版本不是 {target} 的版本（它是 {version.source} 的"
                            f"第{version.number}版）")
    if number is not None and version.number != number:
        raise BadInputError(f"{text!r}: version {vid} is version {version.number} of "
                            f"{target}, not {number}",
                            zh=f"{text} 前后不一致：id {vid} 是 {target} 的第{version.number}版，"
                            f"不是第{number}版")
    return version


def local_time(at: datetime | None, timezone: str = "Asia/Shanghai") -> str:
    """``2026-05-01 16:00``: ``at`` to the minute in ``timezone``."""
    if at is None:
        return "—"
    return _minute_text(int(at.timestamp() // 60), timezone)


@lru_cache(maxsize=4096)
def _minute_text(minute: int, timezone: str) -> str:
    """One minute's text, made once: ``monitor status`` of 10,000 sources shows 30,000
    times, most of them in a few hundred minutes (converting and formatting each cost
    ~5 µs).  Exact in every zone whose offset is whole minutes (all since 1972)."""
    return datetime.fromtimestamp(minute * 60, ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


# --- the command line's own lines ---------------------------------------------------------
# A line a command prints for people (a summary, a count, a note) is Chinese first, then
# the English words it had before, whole, in full-width brackets: ``首次收录 2，出错 2（2
# new, 2 error）``.  Scripts and cron mails that grep the English keep working; ``--json``
# is never touched.  Errors keep their own form (``错误：…`` then a ``技术细节：`` line,
# ``handle_errors``).

def both(said: str, english: str) -> str:
    """``said`` then ``english`` in brackets: one line of the command line's output."""
    return f"{said}（{english}）"


# The tables' column headers: Chinese only (a header is a label over a narrow column, not
# a sentence; the English names, the keys of ``--json``, are README's "What the commands
# print").  ``headers("source", "status")`` → ``("来源", "状态")``; a name not here stays.
HEADERS: dict[str, str] = {
    "source": "来源", "status": "状态", "last check": "上次检查", "result": "结果",
    "next check": "下次检查", "last change": "上次变化", "failures": "连续失败",
    "versions": "版本数", "outcome": "结果", "http": "HTTP 状态", "what": "说明",
    "time": "用时", "version": "版本", "fetched at": "抓取时间", "hash": "哈希",
    "title": "标题", "chars": "字数", "change": "变化", "last confirmed": "最后确认",
    "page id": "页面 id", "list date": "列表日期", "url": "网址", "name": "名称",
    "schedule": "检查频率", "content": "正文选择器", "tags": "标签", "not mapped": "未导入的设置",
    "event": "事件", "watcher": "接收人", "to": "发往", "tries": "尝试次数", "when": "时间",
    "error": "错误", "format": "格式", "date": "日期", "field": "字段", "value": "值",
    "id": "id",  # as the commands say it: 第2版（id 41）
}


def headers(*names: str) -> tuple[str, ...]:
    """The Chinese headers of the columns ``names`` (``HEADERS``)."""
    return tuple(HEADERS.get(n, n) for n in names)


# A page's status (``status``'s column and count, ``history --documents``), in Chinese.
STATUSES: dict[str, str] = {"ok": "正常", "failing": "连续失败", "gone": "已删除",
                            "new": "尚未检查成功", "paused": "已暂停", "moved": "已迁移"}


# A check's outcome (``monitor.types.Outcome``) in the words of ``history`` and alerts:
# ``check``'s summary line and ``status``'s result column.
OUTCOMES: dict[str, str] = {
    "new": "首次收录",
    "changed": "有变化",
    "unchanged": "无变化",
    "error": "出错",
    "superseded": "已由同时进行的另一次检查取代",
}


def outcomes(counts: dict[str, int]) -> str:
    """``首次收录 2，出错 2``: the outcomes counted, in the order given; zeros left out."""
    return "，".join(f"{OUTCOMES.get(o, o)} {n:,}" for o, n in counts.items() if n)


def delivered(report: Any) -> str:
    """A delivery round (``alerts.delivery.DeliveryReport``) in Chinese, as its
    ``describe`` says it in English: ``已发送 1，待重试 0，已放弃 0``."""
    queued = f"，排队等待 {report.deferred}" if report.deferred else ""
    return f"已发送 {report.sent}，待重试 {report.retrying}，已放弃 {report.dead}{queued}"


# ``monitor status`` reads no error kind (``storage.glance`` keeps to what it shows): a
# failed check's kind is told from its HTTP status, else from the words of the English
# message its kind always uses (``monitor.fetch``, ``monitor.challenge``); none: 检查失败.
_KIND_WORDS: tuple[tuple[str, str], ...] = (
    ("not the page", "challenge"), ("timed out", "timeout"), ("timeout", "timeout"),
    ("robots.txt", "robots"), ("matched nothing", "selector"), ("too many redirects", "redirects"),
    ("connection", "network"), ("cannot resolve", "network"),
    ("being checked by another process", "busy"), ("says it does not exist", "gone"),
    ("redirected to the home page", "gone"), ("is empty", "empty"), ("has no text", "empty"),
)


def result_of(outcome: str | None, status: int | None, error: str | None) -> str:
    """``monitor status``'s result column: the outcome's words, then the English of
    before (``无变化（unchanged (200)）``); a failed check 出错, then as ``check``'s cell
    says it (``zh.told``: ``出错：页面已删除或不存在（HTTP 404）：… HTTP 404, not found``), or
    as it says itself when its message is Chinese already."""
    if outcome is None:
        return "—"
    english = outcome + (f" ({status})" if status else "")
    if outcome != "error":
        return both(OUTCOMES.get(outcome, outcome), english)
    if error and _CHINESE.match(error):  # said in Chinese already (a listing's, a document's)
        return f"{OUTCOMES['error']}：{error}"
    kind = ("gone" if status in (404, 410) else "http_status" if status and status >= 400
            else next((k for words, k in _KIND_WORDS if words in (error or "").lower()), None))
    from monitor import zh  # only for a failed check: status imports no regex tables

    return f"{OUTCOMES['error']}：{zh.told(kind, status, error or '')}"
