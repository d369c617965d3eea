"""Two stored versions side by side: the text diff, title and metadata changes.

Shared by ``monitor diff``, the web UI and the API; no web framework here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.diff import TextDiff, diff_texts
from storage import Store
from storage.records import VersionFull


@dataclass(frozen=True)
class MetaChange:
    key: str
    old: str | None
    new: str | None


@dataclass
class Comparison:
    """Two versions of a page and what differs between them."""

    old: VersionFull
    new: VersionFull
    diff: TextDiff
    title_changed: bool
    metadata: list[MetaChange] = field(default_factory=list)

    @property
    def stats(self) -> dict[str, int]:
        return dict(self.diff.stats)

    @property
    def exact(self) -> bool:
        """False when the diff hit its time bound: some runs are whole paragraphs."""
        return self.diff.exact


def compare(store: Store, a: int, b: int, *, timeout: float) -> Comparison:
    """Compare two stored versions (any two: across pages too, if asked)."""
    old, new = store.version(a), store.version(b)
    diff = diff_texts(old.text, new.text, timeout=timeout)
    keys = list(dict.fromkeys([*old.metadata, *new.metadata]))
    meta = [MetaChange(k, old.metadata.get(k), new.metadata.get(k)) for k in keys
            if old.metadata.get(k) != new.metadata.get(k)]
    return Comparison(old, new, diff, old.title != new.title, meta)
