"""Positioned lines of a laid-out document (PDF, OFD) → one paragraph per line.

A PDF or OFD page has no paragraphs, only lines at positions: a paragraph of a reply is
wrapped over several lines, and a diff of wrapped lines would report a re-wrapped
paragraph as changed everywhere.  So lines are joined back into paragraphs, with the
layout rules of Chinese official documents (GB/T 9704): a paragraph starts with a
two-character indent, its last line usually ends short of the right margin, headings
are centred, and a larger vertical gap separates blocks.

The page's left and right edges are where at least two of its lines start and end (one
wide table row or long URL does not move them).  A line starts a new paragraph when
(sizes are the page's median character size):

* it is the first line of the document, or is below a gap of more than 1.4 × the
  page's usual line pitch;
* it is indented by more than one character from the page's left edge (except the
  second line of a centred title set larger than the body text);
* the line before it ended more than two characters short of the page's right edge
  (the end of a paragraph, a heading, a table row).

A paragraph may continue on the next page when both pages are body text (at least two
lines reach the right edge) and the same rules say so across the page break.  A line
that is only a page number (``- 3 -``, ``— 3 —``, ``第3页``, ``3 / 12``) at the top or
bottom of a page is dropped: it is not content, and would move with every re-pagination.
Lines are joined without a space where either side is CJK, with one space otherwise.
"""

from __future__ import annotations

import itertools
import re
import statistics
from dataclasses import dataclass

from monitor.normalize import CJK

_PAGE_NUMBER = re.compile(
    r"^\s*(?:[-－—–_\s]*\d{1,4}[-－—–_\s]*|第\s*\d{1,4}\s*页(?:\s*[，,/]?\s*共\s*\d{1,4}\s*页)?"
    r"|\d{1,4}\s*/\s*\d{1,4})\s*$")
_CJK_CHAR = re.compile(f"[{CJK}]")


@dataclass(frozen=True)
class Line:
    """A line of text on a page; coordinates grow rightwards and downwards."""

    text: str
    x0: float
    x1: float
    top: float
    size: float  # character height


def paragraphs(pages: list[list[Line]]) -> list[str]:
    """The paragraphs of a document, given each page's lines in reading order."""
    out: list[str] = []
    previous: tuple[Line, _Page] | None = None
    for lines in pages:
        lines = _without_page_numbers(lines)
        if not lines:
            continue
        page = _Page(lines)
        for line in lines:
            if previous is None or _starts_paragraph(line, page, *previous):
                out.append(line.text.strip())
            else:
                out[-1] = join(out[-1], line.text.strip())
            previous = (line, page)
    return [p for p in out if p]


def join(left: str, right: str) -> str:
    """Two pieces of one paragraph: no space at a CJK boundary, one space otherwise."""
    if not left or not right:
        return left + right
    if _CJK_CHAR.match(left[-1]) or _CJK_CHAR.match(right[0]):
        return left + right
    return f"{left} {right}"


class _Page:
    def __init__(self, lines: list[Line]) -> None:
        self.size = statistics.median(line.size for line in lines) or 1.0
        self.left = -_edge([-line.x0 for line in lines], self.size)
        self.right = _edge([line.x1 for line in lines], self.size)
        pitches = [b.top - a.top for a, b in itertools.pairwise(lines)
                   if b.top > a.top]
        self.pitch = statistics.median(pitches) if pitches else self.size * 1.5
        # Body text: at least two lines reach the right edge (a page of a title and one
        # line has no measurable right margin, so nothing continues across its end).
        self.justified = sum(line.x1 >= self.right - self.size for line in lines) >= 2


def _edge(values: list[float], size: float) -> float:
    """The rightmost value that at least two lines reach (within half a character): the
    text's margin, which one wide table row or long URL does not move."""
    ordered = sorted(values, reverse=True)
    for value, nxt in itertools.pairwise(ordered):
        if value - nxt <= size / 2:
            return value
    return ordered[0]


def _starts_paragraph(line: Line, page: _Page, prev: Line, prev_page: _Page) -> bool:
    if prev_page is page and _title_continues(line, prev, page):
        return False
    if line.x0 - page.left > page.size:
        return True
    if prev.x1 < prev_page.right - 2 * prev_page.size:
        return True
    if prev_page is page:
        return line.top - prev.top > 1.4 * page.pitch or line.top < prev.top
    return not (prev_page.justified and page.justified)


def _title_continues(line: Line, prev: Line, page: _Page) -> bool:
    """A centred title in a larger size, wrapped over two lines, is one paragraph."""
    def centred(x: Line) -> bool:
        return abs((x.x0 - page.left) - (page.right - x.x1)) < page.size

    return (line.size > 1.15 * page.size and abs(line.size - prev.size) < 0.1 * line.size
            and centred(line) and centred(prev) and line.top - prev.top < 2.5 * line.size)


def _without_page_numbers(lines: list[Line]) -> list[Line]:
    lines = list(lines)
    for end in (0, -1):
        if lines and _PAGE_NUMBER.match(lines[end].text):
            lines.pop(end)
    return lines
