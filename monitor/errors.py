"""The one exception hierarchy of monitor.

Library errors (httpx, selectolax, SQLAlchemy, smtplib...) are translated into these
once, at the boundary of the stage that called the library.  Everything above a stage
only ever sees ``MonitorError`` subclasses, and the pipeline turns them into a failed
check instead of letting them escape a scheduled job.

``kind`` is a short stable identifier stored in the ``checks.error_kind`` column and
shown in summaries; keep it stable, people filter on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class MonitorError(Exception):
    """Base class of every error monitor raises on purpose.

    ``status`` and ``size`` are the HTTP status and body bytes of the answer that failed,
    when there was one: they are kept on the failed check row."""

    kind = "error"

    def __init__(self, message: str, *, detail: str | None = None, status: int | None = None,
                 size: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.status, self.size = status, size

    def __str__(self) -> str:
        return self.message


class InternalError(MonitorError):
    """An unexpected exception (a bug) caught where a scheduled job ends: the check fails
    with this kind, the traceback goes to the log, the daemon goes on."""

    kind = "internal"


# --- configuration -------------------------------------------------------------------


class ConfigError(MonitorError):
    """``sources.toml`` or the environment is invalid.

    The message always names the file and, where they apply, the source (or the
    watcher) and the key.
    """

    kind = "config"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        source: str | None = None,
        key: str | None = None,
        watcher: str | None = None,
    ) -> None:
        self.file, self.source, self.key, self.watcher = file, source, key, watcher
        self.what = message  # without the place
        self.more: tuple[ConfigError, ...] = ()  # the other problems found in the same pass
        where = [p for p in (file, f"source {source!r}" if source else None,
                             f"watcher {watcher!r}" if watcher else None,
                             f"key {key!r}" if key else None) if p]
        super().__init__(f"{': '.join(where)}: {message}" if where else message)

    @property
    def problems(self) -> tuple[ConfigError, ...]:
        """Every problem found: this one, then the others (``more``)."""
        return (self, *self.more)

    def placed(self, message: str) -> ConfigError:
        """The same problem with another message (its line added), ``more`` kept."""
        out = ConfigError(message, file=self.file, source=self.source, key=self.key,
                          watcher=self.watcher)
        out.more = self.more
        return out


class BadInputError(MonitorError):
    """A visitor or a command line sent input that cannot mean anything: an empty search,
    a control character in a query.  HTTP 400 on the web, exit 2 on the command line.
    ``zh``: what a person reads first, where the raiser says it (the English follows)."""

    kind = "bad_input"

    def __init__(self, message: str, *, zh: str | None = None) -> None:
        super().__init__(message)
        self.zh = zh


class NotFoundError(KeyError):
    """A name, URL or date the command line gave that names nothing: exit 3, as every
    "not found" (a ``KeyError``, which the callers that look things up still catch).
    ``zh`` is what a person reads first; the message, in English, follows as the
    technical detail (``monitor.cli.common.handle_errors``)."""

    def __init__(self, message: str, zh: str) -> None:
        super().__init__(message)
        self.zh = zh


# --- fetching ------------------------------------------------------------------------


class FetchError(MonitorError):
    """The page could not be fetched; the check failed and no version was made."""

    kind = "fetch"


class BlockedURLError(FetchError):
    """The URL's scheme or address is not allowed (file://, private networks...)."""

    kind = "blocked"


class RobotsDisallowedError(FetchError):
    kind = "robots"


class NetworkError(FetchError):
    """Connection refused, DNS failure, reset, TLS failure."""

    kind = "network"


class HostBackingOffError(FetchError):
    """The host asked us to slow down (429/503) for longer than this fetch may wait."""

    kind = "backoff"


class TimeoutError_(FetchError):
    kind = "timeout"


class TooLargeError(FetchError):
    kind = "too_large"


class TooManyRedirectsError(FetchError):
    kind = "redirects"


class BrowserError(FetchError):
    """The headless browser is missing, could not start, or died while loading the page."""

    kind = "browser"


class HTTPStatusError(FetchError):
    """The server answered with an error status (4xx/5xx)."""

    kind = "http_status"


class GoneError(HTTPStatusError):
    """404 or 410: the page may have been taken down (counted towards ``gone``)."""

    kind = "gone"


# --- content ---------------------------------------------------------------------------


class ContentError(MonitorError):
    """The body was fetched but is not a real version of the page."""

    kind = "content"


class ChallengePageError(ContentError):
    """A WAF / anti-bot / CDN error page was served instead of the page."""

    kind = "challenge"


class EmptyContentError(ContentError):
    """The body is empty, truncated or has no text."""

    kind = "empty"


class SelectorMatchedNothingError(ContentError):
    """The source's ``content`` selector matched nothing on the page."""

    kind = "selector"


class ListingBrokenError(ContentError):
    """A column page that listed documents lists none, or fewer than half: a broken
    render (a CMS hiccup, a half-built page), not the column emptied."""

    kind = "listing_broken"


class DecodeError(ContentError):
    kind = "decode"


class DocumentUnreadableError(ContentError):
    """A document (attachment) whose text could not be read.  Raised by the format
    extractors of ``monitor.extract`` and turned into a ``DocumentText`` with this
    ``status`` ("not_extracted" or "not_extractable") by ``extract_document``, which
    never raises: an unreadable attachment is still a fact to store and show."""

    kind = "document"

    def __init__(self, message: str, *, status: str = "not_extracted",
                 pages: int | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.status, self.pages = status, pages


# --- storage and delivery ------------------------------------------------------------


class StorageError(MonitorError):
    """A database error (the driver's words in the message).  ``zh``: what a person
    reads first, for the errors a person can act on (``STORAGE_ZH``); None for the
    rest (the command's general sentence, then these words)."""

    kind = "storage"

    def __init__(self, message: str, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.zh = next((zh for words, zh in STORAGE_ZH if words in message), None)


# What SQLite says, and what a person reads first (an admin at a terminal, a cron mail).
STORAGE_ZH = (
    ("database is locked", "数据库正被其他进程占用（写锁），等待超时：请稍后重试，或检查是否有"
     "程序（如 sqlite3 命令行、另一版本的 monitor）长时间占着它"),
    ("readonly database", "数据库文件只读，无法写入：请检查数据库文件及其所在目录的写权限"),
    ("file is not a database", "数据库设置指向的文件不是 SQLite 数据库（或已损坏）：请检查"
     "database_url，损坏的存档请从备份恢复"),
    ("database disk image is malformed", "数据库文件已损坏：请从备份恢复，或先用 monitor "
     "verify 检查"),
    ("database or disk is full", "磁盘已满，无法写入数据库：请腾出空间后重试"),
)


class DatabaseUnreachableError(StorageError):
    """No connection to the database (down, a wrong address, user or password, no answer
    within ``connect_timeout``; a SQLite file that cannot be opened: its directory not
    writable, the path a directory): what to check, in Chinese (``zh``), before the
    driver's words; the URL's password masked."""

    def __init__(self, message: str, url: str) -> None:
        import re

        super().__init__(message)
        shown = re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", url)
        self.zh = f"无法连接数据库（{shown}）：请检查数据库是否运行、地址和权限"
        if url.startswith("sqlite"):
            path = url.partition("://")[2][1:] or shown
            self.zh = (f"无法打开数据库文件 {path}（数据库设置 {shown}）：请确认所在目录存在且"
                       "可写（SQLite 要在同一目录建日志文件），该路径不是目录，文件本身也可读写")


class AlreadyRunningError(StorageError):
    """Another daemon holds the lock of this SQLite database."""

    kind = "already_running"


class PageBusyError(StorageError):
    """Another process (a replica, the daemon, another ``monitor check``) kept checking
    the page longer than we were willing to wait for it."""

    kind = "busy"


class NewerDatabaseError(MonitorError):
    """The database was migrated by a newer release: its revision is none this code
    knows.  Not a ``StorageError`` (the daemon retries those at start-up): waiting does
    not help, upgrading monitor does.  ``zh``: what a person reads first."""

    kind = "newer_database"

    def __init__(self, revision: str, head: str | None) -> None:
        known = f" (this release's newest is {head})" if head else ""
        super().__init__(f"database revision {revision!r} unknown: the database was "
                         f"migrated by a newer release of monitor{known}")
        self.zh = (f"数据库由较新版本的 monitor 升级过（数据库修订 {revision}，此版本只认识到 "
                   f"{head or '更早的修订'}），此版本无法读写它：请升级 monitor 后再运行")


class DeliveryError(MonitorError):
    """An alert could not be delivered.  ``permanent`` says whether to retry."""

    kind = "delivery"

    def __init__(self, message: str, *, permanent: bool = False, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.permanent = permanent


class DeliveryDeferred(DeliveryError):
    """Not now, and not a failure: the channel's rate limit has no room before ``delay``
    seconds.  The row goes back to the outbox, due then, its attempt not counted."""

    kind = "deferred"

    def __init__(self, message: str, *, delay: float) -> None:
        super().__init__(message)
        self.delay = delay


class ChannelConfigError(ConfigError):
    """An alert channel is misconfigured (reported at start-up)."""


@contextmanager
def reported(what: str, *, level: str = "ERROR") -> Iterator[None]:
    """Log a ``MonitorError`` of the block as ``what: error`` and go on.

    For the daemon's housekeeping (claims, leases, sweeps, metrics): one failed round is
    said in the log, and the next round tries again."""
    try:
        yield
    except MonitorError as exc:
        from loguru import logger  # here: loading the errors loads no logging

        logger.opt(depth=2).log(level, "{}: {}", what, exc)
