"""Noticing edits of ``sources.toml`` while the daemon runs.

Polling, not inotify: a ``stat`` every ``WATCH_EVERY`` seconds costs nothing, works on
every file system (NFS, bind mounts, Docker volumes) and sees editors that replace the
file (``os.replace``) as well as those that write in place.  A change of mtime, size or
inode is read once the stat has stayed the same for one more poll, so a file caught
half-written is not taken for an invalid edit.  Only a different content hash is an
edit: ``touch`` is not.

A file that disappears (deleted, or turned into a symlink loop or a dangling link) is
reported once, as an edit without data, when it has stayed away for one more poll (an
editor replacing the file leaves it away for a moment only); when it comes back, its
content is an edit again even if it is the content it had.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

WATCH_EVERY = 1.0  # seconds between two looks at the file

Stamp = tuple[int, int, int]
GONE: Stamp = (-1, -1, -1)  # the stamp of a file that is not there


@dataclass(frozen=True)
class Edit:
    data: bytes | None  # None: the file is gone (``error`` says why)
    digest: str
    error: str | None = None


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class SourcesWatcher:
    def __init__(self, path: Path) -> None:
        self.path = path
        # stat before reading: an edit between the two is seen by the first poll.
        self.error: str | None = None  # why the last stat failed
        self._stamp = self._stat() or GONE
        self._pending: Stamp | None = None
        self.initial = self._read()  # what the daemon starts with (None: no file)
        self.digest = digest(self.initial or b"")

    def _stat(self) -> Stamp | None:
        try:
            st = os.stat(self.path)
        except OSError as exc:  # a moment without the file, while an editor replaces it?
            self.error = exc.strerror or str(exc)
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except OSError:
            return None

    def forget(self) -> None:
        """Report the current content again at the next polls (its apply failed)."""
        self._stamp, self._pending, self.digest = None, None, ""

    def poll(self) -> Edit | None:
        """The new content if the file changed (and settled) since the last edit."""
        stamp = self._stat() or GONE
        if stamp == self._stamp:
            self._pending = None
            return None
        if stamp != self._pending:  # changed since the last poll: let it settle
            self._pending = stamp
            return None
        if stamp == GONE:
            return self._gone()
        data = self._read()
        if data is None:
            return None
        self._stamp, self._pending = stamp, None
        new = digest(data)
        if new == self.digest:
            return None
        self.digest = new
        return Edit(data, new)

    def _gone(self) -> Edit:
        """The file stayed away: one edit without data, keyed by the content it had."""
        self._stamp, self._pending = GONE, None
        error = self.error or "not found"
        key = digest(f"gone\0{self.digest}\0{error}".encode())  # same on every replica
        self.digest = ""  # whatever comes back is an edit
        return Edit(None, key, error)
