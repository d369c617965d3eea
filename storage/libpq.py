"""PostgreSQL read through libpq itself (``ctypes``), for ``storage.glance`` (issue 12:
``monitor status`` answers in ≤ 0.3 s).

Importing psycopg costs more CPU than the rest of ``monitor status`` on 10,000
sources (~550 M instructions, ~0.13 s: its C extension looks its own version up in the
installed distributions' metadata, its errors module imports asyncio, its ``pq``
module ``ctypes.util`` with subprocess, tempfile and shutil; then ~150 modules of
adapters).  ``status`` needs a handful of statements with text back, which is what
libpq, the C client psycopg itself drives, does alone: ``ctypes`` and the library cost
~13 M instructions.

Which libpq: the one psycopg-binary bundles (``psycopg_binary.libs/libpq-*.so*`` on
Linux, ``psycopg_binary/.dylibs/libpq*.dylib`` on macOS, beside it on ``sys.path``),
else the system's (``libpq.so.5``, ``libpq.5.dylib``, ``libpq.dll``).  None found:
``connect`` gives None and ``glance`` leaves the read to ``Store``.  The connection
string is the one psycopg would be given (a ``postgresql://`` URI: host, port, user,
password, ``sslmode``, ``PGPASSWORD``/``.pgpass``, several hosts: libpq reads them all,
as under psycopg).  The session is set to UTF-8, ISO dates and UTC, so that every value
comes back as text in one known form.

``PQconnectdb`` blocks in C, where Python cannot stop it: ``storage.glance`` connects
and reads in a thread the command waits on, so that a Ctrl-C while a server does not
answer still interrupts ``monitor status`` (the waiting is interruptible; the thread is
a daemon).  ``Connection.script`` sends several statements at once (libpq's simple
query: one round trip), the session's settings with them.

A failure is a ``PQError`` with the DB-API class psycopg would have raised
(``OperationalError`` for a connection that fails, from the SQLSTATE's class for a
statement), for ``glance`` to word as ``Store`` does.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

_OK = 0  # CONNECTION_OK
_COMMAND_OK, _TUPLES_OK = 1, 2  # ExecStatusType
_SQLSTATE = ord("C")  # PG_DIAG_SQLSTATE
# The DB-API class psycopg raises for an SQLSTATE, by its first two characters
_CLASSES = {"08": "OperationalError", "53": "OperationalError", "54": "OperationalError",
            "55": "OperationalError", "57": "OperationalError", "58": "OperationalError",
            "40": "OperationalError", "42": "ProgrammingError", "22": "DataError",
            "23": "IntegrityError", "0A": "NotSupportedError", "XX": "InternalError",
            "25": "InternalError", "2D": "InternalError", "2B": "InternalError"}
_SYSTEM = ("libpq.so.5", "libpq.5.dylib", "libpq.dll")
_lib: Any = None  # the library, set up once: False when none loads


class PQError(Exception):
    """A failure libpq reported: ``kind`` is the DB-API class name psycopg would use,
    ``state`` the statement's SQLSTATE ("" for a connection's failure)."""

    def __init__(self, kind: str, message: str, state: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.state = state


def _candidates() -> list[str]:
    found = []
    for entry in sys.path:
        for folder in (os.path.join(entry or ".", "psycopg_binary.libs"),
                       os.path.join(entry or ".", "psycopg_binary", ".dylibs")):
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            found += sorted(os.path.join(folder, n) for n in names if n.startswith("libpq"))
    return found + list(_SYSTEM)


def _library() -> Any:
    """libpq with the signatures used here; None when none can be loaded."""
    global _lib
    if _lib is None:
        _lib = False
        for path in _candidates():
            try:
                _lib = _declare(ctypes.CDLL(path), ctypes.PyDLL(path))
                break
            except (OSError, AttributeError):  # not there, or not a libpq this knows
                continue
    return _lib or None


# The calls that may wait on the network: made through ``ctypes.CDLL``, which lets go
# of the GIL for the call.  The others only read the connection's or a result's memory:
# through ``ctypes.PyDLL``, which keeps it.  Each release is a hand-over: while another
# thread runs Python (``monitor status`` loading its sources while the server works),
# taking the GIL back waits up to the switch interval (5 ms), so a result read value
# by value through releasing calls stalled the reading thread for tens of ms.
_WAITING = frozenset({"PQconnectdb", "PQexecParams", "PQsendQuery", "PQgetResult",
                      "PQfinish"})


def _declare(waits: Any, quick: Any) -> Any:
    p, s, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    lib = SimpleNamespace()
    for name, restype, argtypes in (
            ("PQconnectdb", p, [s]), ("PQstatus", i, [p]), ("PQerrorMessage", s, [p]),
            ("PQserverVersion", i, [p]), ("PQfinish", None, [p]),
            ("PQexecParams", p, [p, s, i, p, ctypes.POINTER(s), p, p, i]),
            ("PQresultStatus", i, [p]), ("PQresultErrorMessage", s, [p]),
            ("PQresultErrorField", s, [p, i]), ("PQntuples", i, [p]), ("PQnfields", i, [p]),
            ("PQgetisnull", i, [p, i, i]), ("PQgetvalue", s, [p, i, i]),
            ("PQclear", None, [p]), ("PQsendQuery", i, [p, s]), ("PQgetResult", p, [p])):
        fn = getattr(waits if name in _WAITING else quick, name)
        fn.restype, fn.argtypes = restype, argtypes
        setattr(lib, name, fn)
    return lib


def load() -> bool:
    """Whether a libpq can be loaded (loading it now: ``storage.glance`` does it before
    its reading thread starts, where the loading would wait for the GIL)."""
    return _library() is not None


def connect(conninfo: str) -> Connection | None:
    """A connection to ``conninfo``'s database; None when no libpq can be loaded.

    ``PQconnectdb`` blocks in C, where Python cannot stop it: call this in a thread that
    the main thread waits on (``storage.glance`` reads in one), so that a Ctrl-C while a
    server does not answer still interrupts the command.  The session's settings
    (``SETUP``) go with the first statements sent, not in a round trip of their own."""
    lib = _library()
    if lib is None:
        return None
    conn = Connection(lib, lib.PQconnectdb(conninfo.encode()))
    if lib.PQstatus(conn.pg) != _OK:
        message = _text(lib.PQerrorMessage(conn.pg))
        conn.close()
        raise PQError("OperationalError", f"connection failed: {message}")
    settings = list(SETUP)
    if lib.PQserverVersion(conn.pg) >= 110000:  # compiling the rows' query: 0.1 s of 0.4
        settings.append("'jit', 'off'")
    conn.setup = "SELECT " + ", ".join(f"set_config({s}, false)" for s in settings)
    return conn


# Every value comes back as text in one known form: UTF-8, ISO dates, in UTC
SETUP = ("'client_encoding', 'UTF8'", "'DateStyle', 'ISO'", "'TimeZone', 'UTC'")


class Connection:
    """One libpq connection (autocommit: each statement reads its own snapshot)."""

    def __init__(self, lib: Any, pg: int | None) -> None:
        if not pg:
            raise MemoryError("libpq could not allocate a connection")
        self.lib, self.pg = lib, pg
        self.setup = ""  # the session's settings, sent before the first statement

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[str | None, ...]]:
        """The rows of ``sql`` (parameters ``$1``, ``$2``…, sent as text), each value the
        text PostgreSQL gives, or None for NULL."""
        if self.setup:
            setup, self.setup = self.setup, ""
            self.execute(setup)
        lib = self.lib
        values = (ctypes.c_char_p * max(1, len(params)))(
            *[None if v is None else str(v).encode() for v in params])
        res = lib.PQexecParams(self.pg, sql.encode(), len(params), None, values, None, None, 0)
        try:
            status = lib.PQresultStatus(res) if res else -1
            if status not in (_COMMAND_OK, _TUPLES_OK):
                raise self._error(res)
            return self._rows(res)
        finally:
            if res:
                lib.PQclear(res)

    def script(self, sql: str) -> tuple[list[list[tuple[str | None, ...]]], PQError | None]:
        """Statements separated by ``;`` (no parameters), sent at once: one round trip
        (libpq's simple query), the session's settings first.  The rows of each statement
        in order, up to the first that fails, and its error (None when all ran: the later
        ones did not run).  A failure of the settings themselves is raised."""
        lib = self.lib
        setup, self.setup = self.setup, ""
        if not lib.PQsendQuery(self.pg, (f"{setup}; {sql}" if setup else sql).encode()):
            raise self._error(None)
        done: list[list[tuple[str | None, ...]]] = []
        error = None
        while res := lib.PQgetResult(self.pg):  # each statement's, then None: all read
            try:
                if error is not None:
                    continue
                if lib.PQresultStatus(res) in (_COMMAND_OK, _TUPLES_OK):
                    done.append(self._rows(res))
                else:
                    error = self._error(res)
            finally:
                lib.PQclear(res)
        if setup:
            if not done:  # the settings failed
                raise error or PQError("OperationalError", "no result from the server")
            done.pop(0)
        return done, error

    def _rows(self, res: int) -> list[tuple[str | None, ...]]:
        lib = self.lib
        width = lib.PQnfields(res)
        return [tuple(None if lib.PQgetisnull(res, r, c)
                      else lib.PQgetvalue(res, r, c).decode() for c in range(width))
                for r in range(lib.PQntuples(res))]

    def _error(self, res: int | None) -> PQError:
        lib = self.lib
        if not res:
            return PQError("OperationalError", _text(lib.PQerrorMessage(self.pg)))
        state = (lib.PQresultErrorField(res, _SQLSTATE) or b"").decode()
        return PQError(_CLASSES.get(state[:2], "DatabaseError"),
                       _text(lib.PQresultErrorMessage(res)), state)

    def close(self) -> None:
        if self.pg:
            self.lib.PQfinish(self.pg)
            self.pg = None


def _text(message: bytes | None) -> str:
    return (message or b"").decode("utf-8", "replace").strip()
