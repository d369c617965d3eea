"""Character-level diffs of normalized page texts (one paragraph per line).

diff-match-patch with semantic cleanup, so a one-character edit in a long Chinese
paragraph is that character, not the paragraph.  Long texts are first compared line by
line (``diff_linesToChars``) and only the changed runs of lines are refined character by
character; every step runs against one deadline.  When the deadline is hit the runs not
yet refined stay whole paragraphs and ``TextDiff.exact`` is False: a paragraph-level diff
is still a true diff, just a coarser one, and it never stalls a check.

``diff_texts_async`` runs the diff in a small pool of *processes*.  Measured on 2 cores
with two unrelated 30 KB texts (each diff runs into its 0.5 s bound), a 10 ms ticker on
the event loop saw at worst 20 ms gaps with one worker thread, 77 ms with two threads
(the GIL is handed between the diff threads, the loop waits its turn), and 14-18 ms with
two worker processes, which also use the second core.  Workers start once (0.2 s; 1.3 s
under the ``monitor`` console script, whose main module a spawned worker imports again);
that wait is off the loop and not counted.  After that the async bound counts from the
call, so time queued behind other diffs is part of it: a late diff gets only the
paragraph level, and the caller waits at most the bound plus ``ASYNC_GRACE``.

Most diffs never reach a worker: an async diff first gets ``QUICK`` (50 ms) in a thread,
which is enough for the edits of real pages (1-40 ms for a sentence added or a number
changed in 2-12 KB of text); only a diff still inexact then (a rewrite) goes to the
workers.  They start on the first such diff and stop after ``IDLE_EXIT`` seconds without
one: a daemon watching 10,000 pages does not keep 2 × 25-80 MB of workers for the odd
rewrite (the 323 MB process tree of issue 12).

Numbers change whole (``_whole_numbers``): an edit that cuts into a number (digits,
half- or full-width, with ``.``/``,`` between digits and a trailing ``%``) is widened to
the whole number on both sides, so 174 → 143 reads ``[-174-]{+143+}`` and not
``1[-7-]4{+3+}``, 66.622 → 68.1 reads ``[-66.622-]{+68.1+}亿元`` and a date
``2021年6月[-23-]{+25+}日``.  A character-level diff of two numbers is correct but
unreadable: a reader has to rebuild both values in his head.  Everything else stays
character-level, and a number never holds a line end, so paragraphs are untouched.  The
stats still count the characters that differ (174 → 143 is +2 / −2 字, as before), not
the unchanged digits shown again to keep the number whole (``TextDiff.widened``).

The stored patch format is in ``monitor.patch``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import cached_property

from diff_match_patch import diff_match_patch
from loguru import logger

from monitor import lazyre
from monitor.paragraphs import DELETE, EQUAL, INSERT, Op, ParagraphDiff, paragraphs_of

# Below this many characters (both texts) a direct character diff is cheap enough.
LINE_MODE_MIN = 2_000
# The paragraph-level pass always gets this long, even when a queued async diff starts
# after its deadline: without it there would be nothing to show at all.
LINE_FLOOR = 0.05
# How long past its bound an async diff may take before the caller stops waiting for the
# worker (a worker that is still starting, or a stuck one).
ASYNC_GRACE = 1.5
WORKERS = min(2, os.cpu_count() or 1)  # processes diffing at once
# An async diff first gets this long in a thread of the daemon: the edits of a real page
# (a sentence added, a number changed) take 1-40 ms, and then no worker process is
# started at all.  Only a diff that needs more (a rewrite) goes to the workers.
QUICK = 0.05
# Workers idle this long are stopped (they hold 25-80 MB each); the next hard diff
# starts them again.
IDLE_EXIT = 120.0
# How long an async diff waits for the worker processes to start the first time.
STARTUP_LIMIT = 15.0
PARENT_POLL = 0.5  # seconds between a worker's looks at whether its daemon still lives


@dataclass(frozen=True)
class TextDiff:
    """What differs between two texts.  ``ops`` rebuild both texts exactly."""

    old: str
    new: str
    ops: list[Op]
    exact: bool = True  # False: the time bound was hit, some runs are whole paragraphs
    elapsed: float = 0.0
    widened: int = 0  # unchanged characters shown as removed and added, for whole numbers

    @cached_property
    def paragraphs(self) -> list[ParagraphDiff]:
        """Every non-blank paragraph of both texts, aligned, in reading order."""
        return paragraphs_of(self.ops, len(self.old), len(self.new))

    @property
    def stats(self) -> dict[str, int]:
        """Characters (line ends not counted) and paragraphs that changed."""
        changed = self.changed_paragraphs()
        kinds = [p.kind for p in changed]
        return {
            "added": sum(p.added_chars for p in changed) - self.widened,
            "removed": sum(p.removed_chars for p in changed) - self.widened,
            "paragraphs": len(changed),
            "paragraphs_modified": kinds.count("modified"),
            "paragraphs_added": kinds.count("added"),
            "paragraphs_removed": kinds.count("removed"),
        }

    def changed_paragraphs(self) -> list[ParagraphDiff]:
        return [p for p in self.paragraphs if p.kind != "equal"]

    @property
    def changed(self) -> bool:
        return any(p.kind != "equal" for p in self.paragraphs)


# --- computing a diff ------------------------------------------------------------------


def diff_texts(old: str, new: str, *, timeout: float = 0.5) -> TextDiff:
    """A character diff of two texts, bounded by ``timeout`` seconds of wall clock."""
    return _diff_until(old, new, time.time() + timeout)


def _diff_until(old: str, new: str, deadline: float) -> TextDiff:
    """Diff against an absolute ``time.time()`` deadline (what diff-match-patch uses)."""
    started = time.perf_counter()
    dmp = diff_match_patch()
    dmp.Diff_Timeout = 1.0  # unused: every call below passes the deadline itself
    if old == new:
        ops: list[Op] = [(EQUAL, old)] if old else []
        exact = True
    elif len(old) + len(new) < LINE_MODE_MIN:
        ops, exact = _char_diff(dmp, old, new, deadline)
    else:
        line_ops, exact = _line_diff(dmp, old, new, max(deadline, time.time() + LINE_FLOOR))
        ops, refined = _refine(dmp, line_ops, deadline)
        exact = exact and refined
    dmp.diff_cleanupSemantic(ops)
    ops = _align_to_lines(ops)
    whole = _whole_numbers(ops)
    widened = _deleted(whole) - _deleted(ops)
    result = TextDiff(old, new, whole, exact, time.perf_counter() - started, widened)
    _ = result.paragraphs  # computed here: in a worker process, not on the event loop
    return result


def _char_diff(dmp: diff_match_patch, old: str, new: str,
               deadline: float) -> tuple[list[Op], bool]:
    ops = dmp.diff_main(old, new, False, deadline)
    if time.time() < deadline:
        return ops, True
    line_ops, _ = _line_diff(dmp, old, new, time.time() + LINE_FLOOR)
    return line_ops, False


def _line_diff(dmp: diff_match_patch, old: str, new: str,
               deadline: float) -> tuple[list[Op], bool]:
    """Whole lines kept, removed or added.  Semantic cleanup drops freak matches such
    as a blank line between two rewritten paragraphs, as diff_lineMode does."""
    chars1, chars2, lines = _lines_to_chars(dmp, old, new)
    ops = dmp.diff_main(chars1, chars2, False, deadline)
    exact = time.time() < deadline
    ops[:] = [(op, "".join(map(lines.__getitem__, map(ord, chars)))) for op, chars in ops]
    dmp.diff_cleanupSemantic(ops)
    return ops, exact


# diff_linesToChars gives up numbering lines at 666,666 distinct ones in the old text:
# texts with this many lines are left to it (no page has them).
_MANY_LINES = 600_000


def _lines_to_chars(dmp: diff_match_patch, old: str,
                    new: str) -> tuple[str, str, list[str]]:
    """``dmp.diff_linesToChars``: the same characters and line list, from ``str.split``
    and one dict instead of its loop of ``find`` and slices (a third of a quick diff).
    A line is what ends with a line feed, or the rest of the text after the last one.
    The lines are turned back into text by one join per op (``diff_charsToLines``
    appends them one by one)."""
    if old.count("\n") + new.count("\n") >= _MANY_LINES:
        return dmp.diff_linesToChars(old, new)
    index: dict[str, int] = {}
    number = index.setdefault

    def chars(text: str) -> str:
        lines = text.split("\n")
        last = lines.pop()
        codes = [number(line + "\n", len(index) + 1) for line in lines]
        if last:
            codes.append(number(last, len(index) + 1))
        return "".join(map(chr, codes))

    chars1, chars2 = chars(old), chars(new)
    return chars1, chars2, ["", *index]


def _refine(dmp: diff_match_patch, line_ops: list[Op],
            deadline: float) -> tuple[list[Op], bool]:
    """Re-diff each run of removed+added lines by character while time remains."""
    out: list[Op] = []
    exact = True
    deleted: list[str] = []
    inserted: list[str] = []
    for op, text in [*line_ops, (EQUAL, "")]:
        if op == DELETE:
            deleted.append(text)
            continue
        if op == INSERT:
            inserted.append(text)
            continue
        old_run, new_run = "".join(deleted), "".join(inserted)
        if old_run and new_run and exact and time.time() < deadline:
            sub = dmp.diff_main(old_run, new_run, False, deadline)
            exact = time.time() < deadline
        else:
            sub = []
            exact = exact and not (old_run and new_run)
        if not sub or not exact:  # the bound cut this run short: keep whole paragraphs
            sub = [(o, t) for o, t in ((DELETE, old_run), (INSERT, new_run)) if t]
        out += sub
        if text:
            out.append((EQUAL, text))
        deleted, inserted = [], []
    dmp.diff_cleanupMerge(out)
    return out, exact


def _align_to_lines(ops: list[Op]) -> list[Op]:
    """Slide each lone insertion/deletion that holds a line break so that it is whole
    lines, when an equally short diff allows it.  Semantic cleanup likes to keep an
    edit next to a blank line ("要求[+\\n新段落+]\\n\\n"), which would read as a change
    of the paragraph before instead of a new paragraph."""
    out = list(ops)
    i = 0
    while i < len(out):
        op, edit = out[i]
        first, last = i == 0, i == len(out) - 1
        lone = (first or out[i - 1][0] == EQUAL) and (last or out[i + 1][0] == EQUAL)
        if op == EQUAL or "\n" not in edit or not lone:
            i += 1
            continue
        before = "" if first else out[i - 1][1]
        after = "" if last else out[i + 1][1]
        s = before + edit + after
        p = _whole_lines_at(s, len(before), len(edit), text_start=first, text_end=last)
        if p is None or p == len(before):
            i += 1
            continue
        start = i if first else i - 1
        slid = [(EQUAL, s[:p]), (op, s[p:p + len(edit)]), (EQUAL, s[p + len(edit):])]
        out[start:i + (1 if last else 2)] = [x for x in slid if x[1]]
        i = start + (2 if p else 1)
    return out


def _whole_lines_at(s: str, p: int, n: int, *, text_start: bool,
                    text_end: bool) -> int | None:
    """The nearest start of ``s[p:p+n]`` slid along ``s`` where it spans whole lines.
    The neighbouring equalities are never emptied (the cap of 256 bounds the work)."""
    lo, hi = (0 if text_start else 1), len(s) - n - (0 if text_end else 1)
    found = []
    q = p
    while True:
        if (q == 0 or s[q - 1] == "\n") and (q + n == len(s) or s[q + n - 1] == "\n"):
            found.append(q)
            break
        if q <= lo or s[q - 1] != s[q + n - 1] or p - q >= 256:
            break
        q -= 1
    q = p
    while q < hi and s[q] == s[q + n] and q - p < 256:
        q += 1
        if (s[q - 1] == "\n") and (q + n == len(s) or s[q + n - 1] == "\n"):
            found.append(q)
            break
    return min(found, key=lambda x: abs(x - p)) if found else None


# --- whole numbers ------------------------------------------------------------------------

# Digits (ASCII or full-width) with "." or "," between digits, and a trailing percent sign.
_NUMBER = lazyre.compile(r"[0-9０-９]+(?:[.,．][0-9０-９]+)*[%％]?")


class _Numbers:
    """The number tokens of a text, found by position: only where asked, since only the
    ends of the edits are (a 100 KB text holds thousands of numbers, an edit a few).

    A token is made of the characters below, so the run of them around a position,
    tokenized alone, gives the tokens ``_NUMBER.finditer`` finds there in the whole
    text: a token never spans the character before the run."""

    def __init__(self, text: str) -> None:
        self.text = text

    def around(self, p: int) -> tuple[int, int] | None:
        """The number that ``p`` cuts in two (a character of it on each side)."""
        text = self.text
        if not (0 < p < len(text) and text[p - 1] in _NUMBER_CHARS
                and text[p] in _NUMBER_CHARS):
            return None
        start, end = p - 1, p + 1
        while start > 0 and text[start - 1] in _NUMBER_CHARS:
            start -= 1
        while end < len(text) and text[end] in _NUMBER_CHARS:
            end += 1
        for m in _NUMBER.finditer(text, start, end):
            if m.start() < p < m.end():
                return m.span()
            if m.start() >= p:
                break
        return None


_NUMBER_CHARS = frozenset("0123456789０１２３４５６７８９.,．%％")
_ANY_DIGIT = lazyre.compile(r"[0-9０-９]")


# A run of edits between two equalities: old[a:b] became new[c:d].
_Hunk = list[int]


def _whole_numbers(ops: list[Op]) -> list[Op]:
    """Widen every run of edits that cuts into a number to that whole number, on both
    sides; runs that meet in the process become one."""
    old = "".join(t for op, t in ops if op != INSERT)
    new = "".join(t for op, t in ops if op != DELETE)
    if not _ANY_DIGIT.search(old) and not _ANY_DIGIT.search(new):
        return ops
    nums = (_Numbers(old), _Numbers(new))
    pending = _hunks(ops)
    pending.reverse()  # popped from the end: in reading order
    done: list[_Hunk] = []
    while pending:
        hunk = _widen_left(pending.pop(), done, nums)
        done.append(_widen_right(hunk, pending, nums, len(old)))
    return _ops_of(done, old, new)


def _deleted(ops: list[Op]) -> int:
    return sum(len(text) for op, text in ops if op == DELETE)


def _hunks(ops: list[Op]) -> list[_Hunk]:
    out: list[_Hunk] = []
    o = n = 0
    for op, text in ops:
        if op == EQUAL:
            o, n = o + len(text), n + len(text)
            continue
        if not out or out[-1][1] != o or out[-1][3] != n:
            out.append([o, o, n, n])
        if op == DELETE:
            o += len(text)
        else:
            n += len(text)
        out[-1][1], out[-1][3] = o, n
    return out


def _widen_left(h: _Hunk, done: list[_Hunk], nums: tuple[_Numbers, _Numbers]) -> _Hunk:
    while True:
        cut = [nums[0].around(h[0]), nums[1].around(h[2])]
        need = max([p - c[0] for c, p in zip(cut, (h[0], h[2]), strict=True) if c] or [0])
        room = h[0] - (done[-1][1] if done else 0)
        step = min(need, room)
        if step <= 0:
            return h
        h = [h[0] - step, h[1], h[2] - step, h[3]]
        if done and h[0] == done[-1][1]:  # met the run before: one run now
            prev = done.pop()
            return [prev[0], h[1], prev[2], h[3]]


def _widen_right(h: _Hunk, pending: list[_Hunk], nums: tuple[_Numbers, _Numbers],
                 old_len: int) -> _Hunk:
    while True:
        cut = [nums[0].around(h[1]), nums[1].around(h[3])]
        need = max([c[1] - p for c, p in zip(cut, (h[1], h[3]), strict=True) if c] or [0])
        room = (pending[-1][0] if pending else old_len) - h[1]
        step = min(need, room)
        if step <= 0:
            return h
        h = [h[0], h[1] + step, h[2], h[3] + step]
        if pending and h[1] == pending[-1][0]:  # met the next run: one run now
            nxt = pending.pop()
            h = [h[0], nxt[1], h[2], nxt[3]]


def _ops_of(hunks: list[_Hunk], old: str, new: str) -> list[Op]:
    out: list[Op] = []
    at = 0  # in the old text
    for a, b, c, d in hunks:
        out += [(EQUAL, old[at:a])] if a > at else []
        out += [(DELETE, old[a:b])] if b > a else []
        out += [(INSERT, new[c:d])] if d > c else []
        at = b
    if at < len(old):
        out.append((EQUAL, old[at:]))
    return out


# --- running off the event loop --------------------------------------------------------

_pool: ProcessPoolExecutor | None = None
_ready: Future[int] | None = None
_busy = 0  # diffs in the workers now
_last_used = 0.0  # time.monotonic() of the last diff in a worker


def _lean_main() -> None:
    """A spawned worker runs the daemon's main module again, unless it is a package's
    ``__main__`` (``python -m monitor``), which multiprocessing skips.  The ``monitor``
    console script is a plain file that imports the whole CLI: ~80 MB in each worker
    instead of ~25 MB.  Naming ``monitor.__main__`` as its spec makes the workers skip it
    too (the script defines nothing a worker needs)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or ""
    if main is not None and main.__spec__ is None and os.path.basename(path) == "monitor":
        main.__spec__ = importlib.util.find_spec("monitor.__main__")


def _workers() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        _lean_main()
        # spawn, not fork: the daemon has threads (to_thread, the scheduler), and forking
        # a process with threads can copy a held lock into the child.  Submitting to a
        # spawn pool never waits for the child (forkserver's first submit does).
        _pool = ProcessPoolExecutor(max_workers=WORKERS, initializer=_watch_parent,
                                    initargs=(os.getpid(),),
                                    mp_context=multiprocessing.get_context("spawn"))
    return _pool


def _ping() -> int:
    """Run in a worker, it makes the worker import this module before the first diff."""
    return os.getpid()


def _watch_parent(parent: int) -> None:
    """In a worker: exit when the daemon is gone.  A daemon killed with ``kill -9`` (or by
    the OOM killer) cannot stop its pool, and its workers would live on for ever, holding
    memory and the daemon's stdout."""

    # Ctrl+C on a terminal reaches the whole process group: the daemon stops the pool
    # itself, so a worker ignores it (instead of dying with a KeyboardInterrupt trace).
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def start_diff_workers() -> Future[int]:
    """Start the worker processes; the future is done when one of them answers.

    A spawned worker imports the program's main module again: ~0.3 s under pytest,
    ~1.3 s and ~80 MB for the ``monitor`` console script.  The daemon may call this at
    start-up; otherwise the first async diff does, and waits (off the loop) before its
    bound starts counting, so the first change after a restart is still exact.
    """
    global _ready
    if _ready is None or (_ready.done() and _ready.exception() is not None):
        # one submit per worker: a spawn pool starts a process per submit it cannot
        # hand to an idle one, so all workers start now rather than at a busy moment
        pings = [_workers().submit(_ping) for _ in range(WORKERS)]
        _ready = pings[0]
    return _ready


def shutdown_diff_workers(*, wait: bool = True) -> None:
    """Stop the worker processes (the daemon calls this on shutdown; they restart on use)."""
    global _pool, _ready
    pool, _pool, _ready = _pool, None, None
    if pool is not None:
        pool.shutdown(wait=wait, cancel_futures=True)


def _retire_if_idle() -> None:
    """Stop the workers once no diff needed them for ``IDLE_EXIT`` seconds."""
    if _pool is not None and not _busy and time.monotonic() - _last_used >= IDLE_EXIT - 0.01:
        shutdown_diff_workers(wait=False)


# ``timeout`` bounds the computation in the worker (it is its deadline), not just the await
async def diff_texts_async(old: str, new: str, *, timeout: float,  # noqa: ASYNC109
                           quick: TextDiff | None = None) -> TextDiff:
    """``diff_texts`` in a worker process; the bound counts from this call (once the
    workers are up), so time queued behind other diffs is part of it.

    When no worker answers within the bound plus ``ASYNC_GRACE`` (or the pool broke),
    the answer is the paragraph-level diff, computed in a thread.

    ``quick``: the ``QUICK`` pass of these texts made already (``quick_diff``, by a
    caller that was in a thread anyway): exact, it is the answer with no hop at all;
    not, the workers are asked at once for the rest of the bound.  A ``quick`` of other
    texts is ignored.
    """
    if old == new:  # paragraphs left to compute lazily, if ever asked for
        return TextDiff(old, new, [(EQUAL, old)] if old else [])
    started = time.monotonic()
    if quick is not None and quick.old == old and quick.new == new:
        if quick.exact:
            return quick
        return await _in_worker(old, new, max(0.0, timeout - min(QUICK, timeout)))
    if QUICK > 0:
        found = await asyncio.to_thread(_quick, old, new, min(QUICK, timeout))
        if found is not None:
            return found
    return await _in_worker(old, new, max(0.0, timeout - (time.monotonic() - started)))


def quick_diff(old: str, new: str, *, timeout: float) -> TextDiff | None:
    """The ``QUICK`` pass of ``diff_texts_async`` made by a caller already in a thread
    (``monitor.pipeline._page_read``), exact or not, for ``diff_texts_async(quick=…)``;
    None when there is no such pass (``QUICK`` is 0)."""
    if QUICK <= 0:
        return None
    return _diff_until(old, new, time.time() + min(QUICK, timeout))


def _quick(old: str, new: str, bound: float) -> TextDiff | None:
    """The diff if it is exact within ``bound`` seconds, else None (no line pass wasted:
    diff-match-patch's own checks of the deadline stop it)."""
    result = _diff_until(old, new, time.time() + bound)
    return result if result.exact else None


async def _in_worker(old: str, new: str, timeout: float) -> TextDiff:  # noqa: ASYNC109
    global _busy, _last_used
    loop = asyncio.get_running_loop()
    try:
        ready = asyncio.wrap_future(start_diff_workers())
        await asyncio.wait({ready}, timeout=STARTUP_LIMIT)  # no cancel: it is shared
        if not ready.done():
            raise TimeoutError
        ready.result()
        deadline = time.time() + timeout
        job = loop.run_in_executor(_workers(), _diff_until, old, new, deadline)
        _busy += 1
        try:
            return await asyncio.wait_for(job, timeout + ASYNC_GRACE)
        finally:
            _busy -= 1
            _last_used = time.monotonic()
            loop.call_later(IDLE_EXIT, _retire_if_idle)
    except TimeoutError:
        logger.warning("diff worker gave no answer in time: paragraph diff instead")
    except (BrokenProcessPool, OSError) as exc:
        logger.warning("diff worker failed ({}): paragraph diff instead", exc)
        shutdown_diff_workers(wait=False)  # the next diff starts a new pool
    # time.time() as deadline: no character refinement, only the LINE_FLOOR pass
    return await asyncio.to_thread(_diff_until, old, new, time.time())
