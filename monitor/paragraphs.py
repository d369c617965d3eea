"""A character diff cut into paragraphs: what a reader is shown.

The texts are one paragraph per line; ``paragraphs_of`` aligns the diff's ops on the
lines of both texts, so each paragraph is equal, modified, added or removed, and a
removed paragraph next to an added one is paired as one modified paragraph.
"""

from __future__ import annotations

import re
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
                _add_row(rows, pieces, counts)
                pieces = []
    if pieces:
        _add_row(rows, pieces, counts)
    return rows


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
