"""``monitor sources add/remove``: edit ``sources.toml`` with tomlkit, keeping the admin's
comments and layout.

tomlkit keeps every comment, but stores a comment in the table *above* it: the comment
that introduces ``[[sources]] B`` lives at the end of source A's table.  So:

* a source's own comments are the comment lines directly above its header (no blank line
  in between) and the comment lines directly below its last key; removing the source
  removes them, and nothing else;
* the blank lines after a removed first source go with it when nothing but its own
  comments is above it: the file starts with the next thing, not a blank line;
* everything else between two tables (blank lines, a section comment, the comment of
  the ``[[watchers]]`` that follow) stays where it is: when the last source is removed or
  a new one appended, that text moves along so that it still precedes what it described.
  A source's ``[sources.follow]`` is its last table: that text lives at its end.

``set_enabled`` (pause and resume in ``monitor serve --admin``) changes one key in place:
an existing ``enabled`` keeps its line and comment; a new one goes right after the
source's last key, above its own trailing comments and any ``[sources.follow]``.

The file is read and written as bytes decoded, so its line ends (``\r\n`` from
Notepad) are what the edit keeps, not what Python's text mode makes of them.

The edited text must parse to the old data plus (or minus) exactly that source, and pass
``parse_config``; otherwise nothing is written.  The file is replaced atomically, and
not at all if it changed while we edited it.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.container import Container
from tomlkit.items import AoT, Comment, Item, Key, Null, Table, Whitespace

from monitor.config import parse_config
from monitor.errors import ConfigError
from monitor.session_ids import without_session

Body = list[tuple[Key | None, Item]]


def add_source(text: str, entry: dict[str, Any], *, path: Path) -> str:
    """``text`` with a new ``[[sources]]`` table appended after the last one; its URL
    without a session id (``;jsessionid=…``, ``monitor.session_ids``): one the server made
    for one response, fetched without it, as a listing's documents are."""
    if isinstance(entry.get("url"), str):
        entry = {**entry, "url": without_session(entry["url"])}
    doc = tomlkit.parse(text)
    table = tomlkit.table()
    for key, value in entry.items():
        table.add(key, value)
    aot = doc.get("sources")
    if isinstance(aot, AoT) and len(aot):
        last = _deepest(aot.body[-1])  # its [sources.follow] holds what follows it
        moved = _take_rest(_body(last))
        # A blank line before the new header (two newlines if the file had no final one).
        ends = last.as_string().endswith("\n")
        _body(last).append((None, Whitespace("\n" if ends else "\n\n")))
        aot.append(table)
        _body(aot.body[-1]).extend(moved)  # what followed the old last source still does
    else:
        table.trivia.indent = "\n"
        doc.append("sources", tomlkit.aot())
        doc["sources"].append(table)
    new = _line_ends(text, tomlkit.dumps(doc))
    data = tomllib.loads(text)
    data["sources"] = [*data.get("sources", []), entry]
    _check(new, data, path)
    return new


def remove_source(text: str, name: str, *, path: Path) -> str:
    """``text`` without the ``[[sources]]`` table named ``name`` and its own comments."""
    doc = tomlkit.parse(text)
    aot = doc.get("sources")
    index = _index(aot, name, path)
    assert isinstance(aot, AoT)
    above = _body(_deepest(aot.body[index - 1])) if index else _before(doc, aot)
    rest = _cut(aot, index, above)
    tables = aot.body
    del aot[index]
    if index < len(tables):  # the next source now follows what preceded this one
        nxt = tables[index]
        nxt.trivia.indent = _text(rest) + nxt.trivia.indent
    elif index > 0:
        after = doc.body[_doc_index(doc, aot) + 1:]
        if not any(isinstance(item, Comment) for _, item in rest) \
                and not any(key is not None for key, _ in after):
            _strip_blank_end(above)  # nothing follows: no blank lines at the end
        above.extend(rest)
    else:  # it was the only source: the array goes, its surroundings stay
        slot = _doc_index(doc, aot)
        doc.remove("sources")
        doc.body[slot] = (None, Whitespace(_text(rest)))
    data = tomllib.loads(text)
    _unwatch(doc, data, name)
    new = _line_ends(text, tomlkit.dumps(doc))
    data["sources"] = [s for s in data["sources"] if s.get("name") != name]
    if not data["sources"]:
        del data["sources"]
    _check(new, data, path)
    return new


def unwatched(text: str, name: str) -> tuple[list[str], list[str]]:
    """The watchers (their names, else addresses) whose ``sources`` list the source
    ``name``: those ``remove_source`` takes it from, and those that keep it because it
    is all they follow (no other source, no tag: a watcher of nothing is refused)."""
    taken, kept = [], []
    for i, entry in enumerate(tomllib.loads(text).get("watchers", [])):
        pats = entry.get("sources")
        if isinstance(pats, list) and name in pats:
            label = str(entry.get("name") or entry.get("email") or f"#{i + 1}")
            (taken if _others(entry, name) else kept).append(label)
    return taken, kept


def _others(entry: dict[str, Any], name: str) -> bool:
    """Whether a watcher follows something once ``name`` is off its ``sources``."""
    return any(p != name for p in entry.get("sources", [])) or bool(entry.get("tags"))


def _unwatch(doc: Any, data: dict[str, Any], name: str) -> None:
    """The removed source's name off the watchers' ``sources`` lists (in ``doc``, with
    their comments, and in ``data``, what the edited text must parse to): a watcher's
    later warning "sources 'x' matches no source" at every command is noise the edit
    made.  Only the exact name goes (a glob such as ``gov-*`` may match others).  A
    watcher for whom it is the only thing followed keeps it (``unwatched``): the
    watcher is the admin's to edit or remove, and the warning says so."""
    tables = doc.get("watchers")
    if not isinstance(tables, AoT):
        return
    for table, entry in zip(tables.body, data.get("watchers", []), strict=False):
        pats = entry.get("sources")
        if not isinstance(pats, list) or name not in pats or not _others(entry, name):
            continue
        items = table["sources"]
        for i in reversed(range(len(items))):
            if items[i] == name:
                del items[i]
        entry["sources"] = [p for p in pats if p != name]


ONLY_SOURCE = ("is the only source: a file without [[sources]] is refused by a running "
               "monitor (it reads as a truncated write) and a new one checks nothing; to "
               "stop checking it, pause it (enabled = false, or 暂停 on /admin)")


def refuse_only(text: str, name: str, *, path: Path) -> None:
    """Removing the file's only source is refused, by ``monitor sources remove`` and by
    /admin alike: the file left would be refused by ``sources validate``, by a running
    daemon's reload (an edit that loses every source reads as a truncated write) and at
    start.  Pausing it (``enabled = false``) stops its checks and keeps the file valid.
    ``remove_source`` itself can empty a file (a source added afterwards goes where it
    was)."""
    names = [s.get("name") for s in tomllib.loads(text).get("sources", [])]
    if names == [name]:
        raise ConfigError(ONLY_SOURCE, file=str(path), source=name)


def set_enabled(text: str, name: str, enabled: bool, *, path: Path) -> str:
    """``text`` with source ``name`` paused (``enabled = false``) or resumed."""
    doc = tomlkit.parse(text)
    aot = doc.get("sources")
    table = aot.body[_index(aot, name, path)]
    if "enabled" in table:
        table["enabled"] = enabled  # tomlkit keeps the line's comment
    elif not enabled:
        body = _body(table)
        last = max(i for i, (key, item) in enumerate(body)
                   if key is not None and not isinstance(item, Table | AoT))
        if last + 1 < len(body):
            table.value._insert_at(last + 1, "enabled", False)
        else:  # nothing after the last key
            table.append("enabled", False)
    new = _line_ends(text, tomlkit.dumps(doc))
    data = tomllib.loads(text)
    entry = next(s for s in data["sources"] if s.get("name") == name)
    if "enabled" in entry or not enabled:
        entry["enabled"] = enabled
    _check(new, data, path)
    return new


def read_for_edit(path: Path) -> tuple[str, str, str]:
    """(the file as on disk, its BOM or "", its TOML): Notepad's BOM is kept on writing,
    and so are its line ends (read as they are, not turned into ``\n``)."""
    on_disk = _read(path)
    toml = on_disk.removeprefix("\ufeff")
    return on_disk, on_disk[:len(on_disk) - len(toml)], toml


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def _index(aot: object, name: str, path: Path) -> int:
    if isinstance(aot, AoT):
        for i, table in enumerate(aot.body):
            if table.get("name") == name:
                return i
    raise KeyError(f"no source named {name!r} in {path}")


def _cut(aot: AoT, index: int, above: Body) -> Body:
    """Drop the comments of source ``index`` above and below it; return the rest of its
    tail (what lies between it and the next table, which must stay)."""
    for i in _attached(above):
        above[i] = (None, Null())
    rest = _take_rest(_body(_deepest(aot.body[index])), drop_own=True)
    real = [item for _, item in above if not isinstance(item, Null)]
    # One blank line between is enough; and at the top of the file none: the file
    # starts with what came after the source, not with the blank line that followed it.
    if not real or isinstance(real[-1], Whitespace):
        while rest and isinstance(rest[0][1], Whitespace | Null):
            rest.pop(0)
    return rest


def _before(doc: Container, aot: AoT) -> Body:
    """Where the comments above the first source live: the deepest last table before
    the array, or the document's top level (then the slice is a live view by index)."""
    slot = _doc_index(doc, aot)
    previous = [item for key, item in doc.body[:slot] if key is not None]
    if previous and isinstance(previous[-1], Table):
        return _body(_deepest(previous[-1]))
    return _TopLevel(doc.body, slot)


class _TopLevel(list):  # type: ignore[type-arg]
    """Items of the document before the array, writable in place (indices stay valid)."""

    def __init__(self, body: Body, end: int) -> None:
        super().__init__(body[:end])
        self._body = body

    def __setitem__(self, i: int, value: tuple[Key | None, Item]) -> None:  # type: ignore[override]
        super().__setitem__(i, value)
        self._body[i] = value


def _deepest(table: Table) -> Table:
    keyed = [item for key, item in _body(table) if key is not None]
    if keyed and isinstance(keyed[-1], Table):
        return _deepest(keyed[-1])
    if keyed and isinstance(keyed[-1], AoT) and keyed[-1].body:
        return _deepest(keyed[-1].body[-1])
    return table


def _doc_index(doc: Container, item: Item) -> int:
    return next(i for i, (_, it) in enumerate(doc.body) if it is item)


def _body(table: Table) -> Body:
    return table.value.body


def _trivia(item: Item) -> bool:
    return isinstance(item, Comment | Whitespace | Null)


def _tail_start(body: Body) -> int:
    i = len(body)
    while i > 0 and body[i - 1][0] is None and _trivia(body[i - 1][1]):
        i -= 1
    return i


def _attached(body: Body) -> list[int]:
    """Indices of the comment lines at the very end of ``body`` (directly above the next
    header, no blank line between): they describe the table that follows."""
    out = []
    for i in range(len(body) - 1, _tail_start(body) - 1, -1):
        item = body[i][1]
        if isinstance(item, Null):
            continue
        if not isinstance(item, Comment):
            break
        out.append(i)
    return out


def _take_rest(body: Body, *, drop_own: bool = False) -> Body:
    """Remove and return the tail after the comments directly below the last key.

    Those own comments are kept in place, or dropped with ``drop_own``.
    """
    start = _tail_start(body)
    own_end = start
    while own_end < len(body) and isinstance(body[own_end][1], Comment | Null):
        own_end += 1
    rest = body[own_end:]
    del body[(start if drop_own else own_end):]
    return rest


def _strip_blank_end(body: Body) -> None:
    while body and isinstance(body[-1][1], Whitespace | Null) and body[-1][0] is None:
        body.pop()


def _text(items: Body) -> str:
    return "".join(item.as_string() for _, item in items)


def _line_ends(text: str, new: str) -> str:
    """``new`` with the line ends of ``text``: tomlkit writes the lines it adds with
    ``\n``, and a Windows file (every line ending ``\r\n``) must not get mixed ones."""
    if "\r\n" not in text or text.count("\n") != text.count("\r\n"):
        return new
    return new.replace("\r\n", "\n").replace("\n", "\r\n")


def _check(new: str, expected: dict[str, Any], path: Path) -> None:
    """Refuse an edit that changed anything but the one source (or does not validate)."""
    if tomllib.loads(new) != expected:
        raise ConfigError("editing would change other entries; edit the file by hand",
                          file=str(path))
    parse_config(new, path=path)


def write_atomically(path: Path, before: str, after: str) -> None:
    """Replace ``path`` with ``after`` unless it no longer holds ``before``."""
    if path.exists() and _read(path) != before:
        raise ConfigError("the file changed while it was being edited; try again",
                          file=str(path))
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(after)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
