"""A watcher's triggers: which changes it is sent (``when_added``, ``when_removed``,
``when_matches``, ``kinds``).  Pure functions, used by ``alerts.plan``.

Semantics (README "Triggers"):

* Several keys set: every one must hold.  A list holds when one of its items does.
  A watcher with no trigger key is sent every change of its sources, as before.
* ``kinds``: the change's kind, or one of the other kinds the same change has
  (``details["kinds"]``: a new reply that also added an attachment is both
  ``reply_added`` and ``attachment_added``; a flip is ``flapping`` and what it flipped to).
* ``when_added = ["办结"]``: the new version says 办结 more times than the old one.  The
  page's words are compared, not the diff's pieces: a character diff of 未办结 → 已办结
  is "未" out, "已" in, and "办结" is in neither piece, while counting finds that the
  page now says "已办结" once more (so ``when_added = ["已办结"]`` fires) and "办结" no
  more often than before (so ``when_added = ["办结"]`` does not: nothing 办结 was added).
  What is compared: the title, the text, the metadata (``名称：值``) and the attachments'
  names.  A new document of a listing has no old version: everything in it is added.
* ``when_removed``: the same, old and new swapped.
* ``when_matches = "regex"``: what the regex finds is not the same before and after
  (something it matches was added, removed or changed: ``专项资金\\d+万元`` fires when
  3000万元 becomes 5000万元).
* A change with no text of its own (``gone``, ``restored``, ``moved``, ``unlisted``) can
  only be chosen by ``kinds``: a watcher with ``when_added`` and no ``kinds`` is not told
  that a page is gone.  ``unlisted`` is never alerted at all (a document taken off its
  column is recorded; its page going away is ``gone``): ``kinds = ["unlisted"]`` matches
  nothing, and the config warns of it (``monitor.config.NEVER_TOLD``).
* ``document_text`` (新文档正文: the text of a new document told before it could be
  read) also has the kind ``document_added``: a watcher of new documents gets it.
* Trouble and recovery notices (a source failing) are not changes: triggers do not
  apply to them.

Speed: a regex is run once per change, however many watchers name it; the words the two
versions share at their start and end are cut off once per change (``trim``), leaving
the part that changed and ``MARGIN`` characters around it, so 50 watchers cost little
more on a 100,000-character page with one edit than on a short one
(``bench/bench_triggers.py``).  What is cut is the same on both sides, so counts and
regex finds differ exactly as on the whole page, for words and matches shorter than
``MARGIN``.

A change a watcher's triggers leave out is still recorded, shown in the web UI and sent
to every other watcher; that watcher gets no outbox row for it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from monitor.config import WatcherConfig
from monitor.types import ChangeDecision, ChangeKind

# Kinds that are about the page's address or presence, not its words.
TEXTLESS = frozenset({ChangeKind.GONE, ChangeKind.RESTORED, ChangeKind.MOVED,
                      ChangeKind.UNLISTED})
MARGIN = 500  # characters kept on each side of what changed


class Words(Protocol):
    """A version's words: a ``Snapshot``, the stored ``LastVersion``, an ``Extracted``."""

    @property
    def title(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def metadata(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class ChangeText:
    """What triggers look at: the change's kinds and the page's words before and after."""

    kinds: frozenset[str]
    before: str = ""
    after: str = ""
    # a regex's finds on both sides, found once per change whoever asks
    finds: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    def differs(self, pattern: str) -> bool:
        """Whether what ``pattern`` finds is not the same before and after."""
        if pattern not in self.finds:
            found = re.compile(pattern)
            self.finds[pattern] = _found(found, self.before) != _found(found, self.after)
        return self.finds[pattern]


def page_words(version: Words | None) -> str:
    """Title, text, metadata and attachment names, one per line."""
    if version is None:
        return ""
    meta = [f"{k}：{v}" for k, v in version.metadata.items()]
    files: Any = getattr(version, "attachments", None) or ()  # entries, or Attachments
    names = [str((a.get("name") if isinstance(a, Mapping) else getattr(a, "name", "")) or "")
             for a in files]
    return "\n".join([version.title, version.text, *meta, *names])


def change_text(change: ChangeDecision, old: Words | None,
                new: Words | None) -> ChangeText:
    """The ``ChangeText`` of a decision between two versions (None: no such version)."""
    kinds = frozenset({str(change.kind), *_strings(change.details.get("kinds"))})
    flap = change.details.get("flapping")
    if isinstance(flap, Mapping) and flap.get("as"):
        kinds |= {str(flap["as"])}
    if change.kind in TEXTLESS:
        return ChangeText(kinds)
    titles = [str(d.get("title") or "") for d in _mappings(change.details.get("documents"))]
    return ChangeText(kinds, *trim(page_words(old), "\n".join([*titles, page_words(new)])))


def trim(before: str, after: str) -> tuple[str, str]:
    """Both texts without the start and end they share, ``MARGIN`` characters kept."""
    start = _shared(before, after, lambda t, n: t[:n])
    end = _shared(before[start:], after[start:], lambda t, n: t[len(t) - n:])
    lo = max(0, start - MARGIN)
    return (before[lo:max(lo, len(before) - end + MARGIN)],
            after[lo:max(lo, len(after) - end + MARGIN)])


def _shared(a: str, b: str, part: Callable[[str, int], str]) -> int:
    """The longest n with part(a, n) == part(b, n) (a binary search of C compares)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if part(a, mid) == part(b, mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def wants(w: WatcherConfig, change: ChangeText) -> bool:
    """Whether ``w``'s triggers choose this change (see the module doc)."""
    if w.kinds and not change.kinds & set(w.kinds):
        return False
    if w.when_added and not any(_more(k, change.after, change.before) for k in w.when_added):
        return False
    if w.when_removed and not any(_more(k, change.before, change.after)
                                  for k in w.when_removed):
        return False
    return not w.when_matches or change.differs(w.when_matches)


def _more(word: str, a: str, b: str) -> bool:
    return a.count(word) > b.count(word)


def _found(pattern: re.Pattern[str], text: str) -> Counter[str]:
    return Counter(m.group(0) for m in pattern.finditer(text))


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def _mappings(value: object) -> Iterable[Mapping[str, object]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []
