"""A character diff cut into paragraphs: what a reader is shown.

The texts are one paragraph per line; ``paragraphs_of`` aligns the diff's ops on the
lines of both texts, so each paragraph is equal, modified, added or removed, and a
removed paragraph next to an added one is paired as one modified paragraph.

Whole lines added beside an edit of one line are paragraphs of their own
(``_lines_apart``).  A character diff may take the line end after a new paragraph for
the old line's own: a table row changed and a paragraph inserted right after it in one
edit reads ``提案 | [-38-]{+39\\n附件：表.ofd+}\\n三、…``, one row of two lines, "modified",
and the new paragraph is hidden in it.  So a row (the text between two places where both
texts are at a line start) that is one line in one text, and whose line ends in the
other are all in one edit (a run of deletions and insertions between two equalities),
is that line's edit plus whole lines: ``提案 | [-38-]{+39+}`` modified and ``附件：表.ofd``
added (a line removed likewise: removed).  The line that is the old one's: the first
when the edit starts inside the line, the last when it ends inside it (a row inserted
before a changed count: ``[-38-]{+2 | 议案\\n39+} | 提案``), else the one with most
characters in common with the old line.  Left as the diff found them: rows with line
ends in several edits or on both sides of one (paragraphs rewritten, split or merged:
the FEMA page's update keeps its 22 changed paragraphs), and an edit inside a line at
both ends (a paragraph split in two).  Each side of an edit is taken whole, so a diff
that comes a character at a time is cut the same way.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

DELETE, EQUAL, INSERT = -1, 0, 1
Op = tuple[int, str]


@dataclass(frozen=True)
class ParagraphDiff:
    """One paragraph of the aligned texts.  ``ops`` are its pieces without the line end.

    kind: "equal", "modified", "added" or "removed".  Numbers count non-blank lines from
    1, ``old_no`` in the old text and ``new_no`` in the new one (None where absent).
    A modified paragraph may span several lines when paragraphs were split or merged.
    """

    kind: str
    old_no: int | None
    new_no: int | None
    ops: tuple[Op, ...]

    @property
    def old_text(self) -> str:
        return "".join(t for op, t in self.ops if op != INSERT)

    @property
    def new_text(self) -> str:
        return "".join(t for op, t in self.ops if op != DELETE)

    @property
    def number(self) -> int:
        """The number a reader looks up: in the new text, unless the paragraph is gone."""
        no = self.old_no if self.kind == "removed" else self.new_no
        return no if no is not None else (self.old_no or 0)

    @property
    def added_chars(self) -> int:
        return sum(len(t) - t.count("\n") for op, t in self.ops if op == INSERT)

    @property
    def removed_chars(self) -> int:
        return sum(len(t) - t.count("\n") for op, t in self.ops if op == DELETE)


def paragraphs_of(ops: list[Op], old_len: int, new_len: int) -> list[ParagraphDiff]:
    """Every non-blank paragraph of both texts, aligned, in reading order."""
    return _pair_replacements(_rows(ops, old_len, new_len))


_LINE = re.compile(r"[^\n]*\n|[^\n]+")  # only \n ends a line (not \r, \x85...)


def _rows(ops: list[Op], old_len: int, new_len: int) -> list[ParagraphDiff]:
    """Cut the ops into paragraphs: a cut where both texts are at a line start.

    The end of a text counts as a line end, so text appended after a last line without
    a newline is a new paragraph, not a change of that line.
    """
    rows: list[ParagraphDiff] = []
    pieces: list[Op] = []
    opos = npos = 0
    old_mid = new_mid = False  # inside a line of the old / new text
    counts = [0, 0]  # non-blank lines seen so far, old and new
    several = False  # the row holds a line end before its last piece
    for op, text in ops:
        if op == EQUAL and not pieces and (cut := text.rfind("\n") + 1):
            # unchanged whole lines at a cut: _add_row's result, without its work
            for line in text[:cut - 1].split("\n"):
                if line.strip():
                    counts[0], counts[1] = counts[0] + 1, counts[1] + 1
                    rows.append(ParagraphDiff("equal", counts[0], counts[1],
                                              ((EQUAL, line),)))
            opos, npos = opos + cut, npos + cut
            old_mid = new_mid = False
            text = text[cut:]
        for piece in _LINE.findall(text):
            pieces.append((op, piece))
            ends = piece.endswith("\n")
            if op != INSERT:
                opos += len(piece)
                old_mid = not ends and opos < old_len
            if op != DELETE:
                npos += len(piece)
                new_mid = not ends and npos < new_len
            if not old_mid and not new_mid:
                for row in _lines_apart(pieces) if several else (pieces,):
                    _add_row(rows, row, counts)
                pieces, several = [], False
            elif ends:
                several = True  # a line of one text ended inside the row
    for row in (_lines_apart(pieces) if several else (pieces,)) if pieces else ():
        _add_row(rows, row, counts)
    return rows


def _lines_apart(pieces: list[Op]) -> list[list[Op]]:
    """A row's pieces as rows: the whole lines one edit adds to a row that is one line
    in the old text (or removes from one line of the new) each a row of its own, at a
    line start (see the module's docstring).  ``提案 | [-38-]{+39\\n附件+}\\n`` is
    ``提案 | [-38-]{+39+}\\n`` and ``{+附件\\n+}``: the same texts, the equal line end
    taken as the row's own.  Any other row is returned as it is.  Only rows with a line
    end before their last piece are asked (one line on both sides is the usual row)."""
    runs = []  # the runs of edits (between equal pieces) that hold a line end
    k, n = 0, len(pieces)
    while k < n:
        start = k
        while k < n and pieces[k][0] != EQUAL:
            k += 1
        if any(text.endswith("\n") for _, text in pieces[start:k]):
            runs.append((start, k))
        k += 1
    if len(runs) != 1:
        return [pieces]  # lines edited in several places: rewritten, split or merged
    s, e = runs[0]
    # an equal line end can only be a row's last piece: it ends both lines
    apart = _apart(pieces[s:e], at_start=s == 0, at_end=pieces[e:] == [(EQUAL, "\n")])
    if apart is None:
        return [pieces]
    head, own, tail, op = apart
    return [*([(op, line + "\n")] for line in head), pieces[:s] + own + pieces[e:],
            *([(op, line + "\n")] for line in tail)]


def _apart(run: list[Op], *, at_start: bool,
           at_end: bool) -> tuple[list[str], list[Op], list[str], int] | None:
    """An edit as (whole lines before, the line's own edit, whole lines after, and
    whether those lines are added or removed); None when it is not one line's edit and
    whole lines.  ``at_start``: the edit starts its line; ``at_end``: an equal line end
    follows it."""
    gone = "".join(text for op, text in run if op == DELETE)
    came = "".join(text for op, text in run if op == INSERT)
    if ("\n" in gone) == ("\n" in came):
        return None  # line ends on both sides (or neither): lines rewritten
    many_op, many, one = (INSERT, came, gone) if "\n" in came else (DELETE, gone, came)
    lines = many.split("\n")
    if at_start and at_end:
        line = _likest(lines, one)
    elif at_start or at_end:
        line = 0 if at_end else len(lines) - 1
    else:
        return None  # a line split in two (or two joined): its parts are no paragraphs
    head, tail = lines[:line], lines[line + 1:]
    if not any(s.strip() for s in head + tail):
        return None  # only blank lines apart: no paragraph to tell
    own = [(DELETE, gone), (INSERT, came)]
    own[0 if many_op == DELETE else 1] = (many_op, lines[line])
    return head, [(op, text) for op, text in own if text], tail, many_op


def _likest(lines: list[str], text: str) -> int:
    """The index of the line with most characters in common with ``text`` (the first
    of those, and 0 when none has any)."""
    have = Counter(text)
    shared = [sum((Counter(line) & have).values()) for line in lines]
    return shared.index(max(shared))


def _add_row(rows: list[ParagraphDiff], pieces: list[Op], counts: list[int]) -> None:
    ops = _strip_line_end(pieces)
    old = "".join(t for op, t in ops if op != INSERT)
    new = "".join(t for op, t in ops if op != DELETE)
    old_lines = sum(1 for line in old.split("\n") if line.strip()) if old.strip() else 0
    new_lines = sum(1 for line in new.split("\n") if line.strip()) if new.strip() else 0
    old_no = counts[0] + 1 if old_lines else None
    new_no = counts[1] + 1 if new_lines else None
    counts[0] += old_lines
    counts[1] += new_lines
    if not old_lines and not new_lines:
        return  # blank lines are not paragraphs: never shown, never counted
    if all(op == EQUAL for op, _ in ops):
        kind = "equal"
    elif not old_lines:
        kind = "added"
    elif not new_lines:
        kind = "removed"
    else:
        kind = "modified"
    rows.append(ParagraphDiff(kind, old_no, new_no, tuple(ops)))


def _strip_line_end(pieces: list[Op]) -> list[Op]:
    """Drop the newline that ends the paragraph on each side (one char may end both)."""
    out = list(pieces)
    for side in ((EQUAL, DELETE), (EQUAL, INSERT)):
        for i in range(len(out) - 1, -1, -1):
            op, text = out[i]
            if op in side:
                if text.endswith("\n"):
                    out[i] = (op, text[:-1])
                break
    merged: list[Op] = []
    for op, text in out:
        if not text:
            continue
        if merged and merged[-1][0] == op:
            merged[-1] = (op, merged[-1][1] + text)
        else:
            merged.append((op, text))
    return merged


def _pair_replacements(rows: list[ParagraphDiff]) -> list[ParagraphDiff]:
    """Removed and added paragraphs next to each other are paragraphs rewritten: report
    "第3段修改", not "第3段删除, 第3段新增".  Pairs are made in order within a stretch
    of only removed/added paragraphs, so both texts keep their reading order.  The rows
    between stretches (most of a text: its equal paragraphs) are copied by slices."""
    marks = [i for i, row in enumerate(rows) if row.kind == "removed" or row.kind == "added"]
    if not marks:
        return rows  # nothing to pair (the usual edit: paragraphs modified)
    out: list[ParagraphDiff] = []
    done = k = 0
    while k < len(marks):
        start = end = marks[k]
        while k < len(marks) and marks[k] == end:  # the stretch rows[start:end]
            end, k = end + 1, k + 1
        out += rows[done:start]
        out += _paired(rows[start:end])
        done = end
    out += rows[done:]
    return out


def _paired(stretch: list[ParagraphDiff]) -> list[ParagraphDiff]:
    """A stretch of removed and added paragraphs, paired in order."""
    removed = [row for row in stretch if row.kind == "removed"]
    added = [row for row in stretch if row.kind == "added"]
    # only each side's own text: the other side of each is blank (whitespace)
    out = [ParagraphDiff("modified", old.old_no, new.new_no,
                         ((DELETE, old.old_text), (INSERT, new.new_text)))
           for old, new in zip(removed, added, strict=False)]
    n = min(len(removed), len(added))
    return out + removed[n:] + added[n:]
