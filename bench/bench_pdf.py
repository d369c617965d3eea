"""Which PDF library reads Chinese government PDFs best: pdfminer.six or pypdfium2.

    .venv/bin/python -m bench.bench_pdf [--runs N]

The PDFs are generated (``tests/documents.py``) with reportlab's built-in
``STSong-Light`` CID font, laid out as official documents are: a centred title, 文号,
indented multi-line paragraphs with numbers (68.1亿元, 23.5%, 1,200PFlops) and
full-width punctuation, a table, page numbers in the footer; a 2-page reply and a
6-page notice.  Each library is measured as it comes (its plain-text call) and with
the paragraph joining of ``monitor.extract.lines`` fed with its line positions.

* characters correct: share of the expected non-space characters found, in order
  (difflib matching blocks);
* paragraph breaks: expected paragraph ends that the output ends a line at, and the
  line breaks it adds inside paragraphs (wrapped lines);
* unmapped font: whether a PDF whose font has no ToUnicode table is recognised as
  not extractable (``monitor.extract.textcheck``) instead of passing as text;
* time per page: median over the runs, all pages of both documents.
"""

from __future__ import annotations

import argparse
import difflib
import io
import statistics
import time
from collections.abc import Callable

import pypdfium2 as pdfium
from pdfminer.high_level import extract_pages, extract_text
from pdfminer.layout import LAParams, LTTextContainer, LTTextLine
from rich.console import Console
from rich.table import Table

from monitor.errors import DocumentUnreadableError
from monitor.extract.lines import Line, paragraphs
from monitor.extract.pdf import extract_pdf
from monitor.extract.textcheck import unreadable
from monitor.normalize import normalize_line
from tests import documents

Reader = Callable[[bytes], str]


def notice() -> tuple[bytes, list[str]]:
    """A 6-page notice: title, then numbered paragraphs of 80–200 characters."""
    base = documents.REPLY[4:7] + documents.REPLY_PAGE2[:1]
    pages = [[f"（{p * 4 + i + 1}）{text}" for i, text in enumerate(base)] for p in range(6)]
    pages[0].insert(0, "关于印发《人工智能产业高质量发展三年行动计划》的通知")
    return documents.pdf(pages), [t for page in pages for t in page]


def corpus() -> list[tuple[bytes, list[str], int]]:
    reply = documents.reply_pdf()
    body, expected = notice()
    return [(reply, documents.reply_text(), 2), (body, expected, 6)]


# --- the readers -------------------------------------------------------------------------

def pdfminer_plain(body: bytes) -> str:
    return extract_text(io.BytesIO(body))


def pdfminer_joined(body: bytes) -> str:
    pages = []
    for page in extract_pages(io.BytesIO(body), laparams=LAParams()):
        lines = [Line(line.get_text().strip(), line.x0, line.x1, page.height - line.y1,
                      line.y1 - line.y0)
                 for box in page if isinstance(box, LTTextContainer)
                 for line in box if isinstance(line, LTTextLine) and line.get_text().strip()]
        pages.append(lines)
    return "\n".join(paragraphs(pages))


def pdfium_plain(body: bytes) -> str:
    doc = pdfium.PdfDocument(body)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in doc)
    finally:
        doc.close()


def pdfium_joined(body: bytes) -> str:
    try:
        return "\n".join(extract_pdf(body)[0])
    except DocumentUnreadableError as exc:
        return f"[{exc.status}]"


READERS: list[tuple[str, str, Reader]] = [
    ("pdfminer.six 20260107", "extract_text", pdfminer_plain),
    ("pdfminer.six 20260107", "lines + paragraph joining", pdfminer_joined),
    ("pypdfium2 5.15.2", "get_text_range", pdfium_plain),
    ("pypdfium2 5.15.2", "lines + joining + unmapped check (monitor)", pdfium_joined),
]


# --- the measures ------------------------------------------------------------------------

def _stream(lines: list[str]) -> tuple[str, set[int]]:
    """Non-space characters of the lines, and the positions where a line ends."""
    chars, ends = [], set()
    for line in lines:
        chars.append("".join(line.split()))
        ends.add(sum(map(len, chars)))
    return "".join(chars), ends


def score(expected: list[str], got: str) -> tuple[float, int, int, int]:
    """(characters correct %, paragraph ends kept, expected ends, extra breaks)."""
    lines = [normalize_line(x) for x in got.replace("\r", "\n").split("\n")]
    exp, exp_ends = _stream(expected)
    out, out_ends = _stream([x for x in lines if x])
    matcher = difflib.SequenceMatcher(None, exp, out, autojunk=False)
    blocks = matcher.get_matching_blocks()
    mapped = {a + k + 1 for a, b, n in blocks for k in range(n) if b + k + 1 in out_ends}
    kept = len(exp_ends & mapped)
    return 100 * sum(n for *_, n in blocks) / len(exp), kept, len(exp_ends), len(mapped - exp_ends)


def measure(reader: Reader, docs: list[tuple[bytes, list[str], int]], runs: int
            ) -> tuple[float, int, int, int, float]:
    correct, kept, total, extra = [], 0, 0, 0
    for body, expected, _ in docs:
        c, k, t, e = score(expected, reader(body))
        correct.append(c)
        kept, total, extra = kept + k, total + t, extra + e
    pages = sum(n for *_, n in docs)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for body, *_ in docs:
            reader(body)
        times.append((time.perf_counter() - start) / pages)
    return min(correct), kept, total, extra, statistics.median(times)


def unmapped_detected(reader: Reader) -> bool:
    text = reader(documents.unmapped_pdf())
    return text.startswith("[not_extractable]") or unreadable(text) is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    docs = corpus()
    table = Table(title="PDF text extraction: generated STSong-Light (CID) government PDFs, "
                        f"{sum(n for *_, n in docs)} pages")
    for column in ("library", "mode", "characters correct", "paragraph ends kept",
                   "breaks inside paragraphs", "unmapped font detected", "time per page"):
        table.add_column(column)
    for name, mode, reader in READERS:
        correct, kept, total, extra, per_page = measure(reader, docs, runs)
        table.add_row(name, mode, f"{correct:.1f}%", f"{kept}/{total}", str(extra),
                      "yes" if unmapped_detected(reader) else "no", f"{per_page * 1000:.1f} ms")
    Console(width=160).print(table)
    print("characters correct: the worse of the two documents.")


if __name__ == "__main__":
    main()
