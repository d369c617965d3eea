"""Noticing edits of ``sources.toml`` while the daemon runs.

Polling, not inotify: a ``stat`` every ``WATCH_EVERY`` seconds costs nothing, works on
every file system (NFS, bind mounts, Docker volumes) and sees editors that replace the
file (``os.replace``) as well as those that write in place.  A change of mtime, size or
inode is read once the stat has stayed the same for one more poll, so a file caught
half-written is not taken for an invalid edit.  Only a different content hash is an
edit: ``touch`` is not.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

WATCH_EVERY = 1.0  # seconds between two looks at the file

Stamp = tuple[int, int, int]


@dataclass(frozen=True)
class Edit:
    data: bytes
    digest: str


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class SourcesWatcher:
    def __init__(self, path: Path) -> None:
        self.path = path
        # stat before reading: an edit between the two is seen by the first poll.
        self._stamp = self._stat()
        self._pending: Stamp | None = None
        self.initial = self._read()  # what the daemon starts with (None: no file)
        self.digest = digest(self.initial or b"")

    def _stat(self) -> Stamp | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None  # a moment without the file, while an editor replaces it
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
        stamp = self._stat()
        if stamp is None or stamp == self._stamp:
            self._pending = None
            return None
        if stamp != self._pending:  # changed since the last poll: let it settle
            self._pending = stamp
            return None
        data = self._read()
        if data is None:
            return None
        self._stamp, self._pending = stamp, None
        new = digest(data)
        if new == self.digest:
            return None
        self.digest = new
        return Edit(data, new)
