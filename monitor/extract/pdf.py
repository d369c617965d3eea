"""PDF → paragraphs, with PDFium (pypdfium2).

Chosen over pdfminer.six by measurement (``python -m bench.bench_pdf``, numbers in the
README) on government-style PDFs set in the ``STSong-Light`` CID font: PDFium gets every
character in reading order and keeps a table row on one line, where pdfminer.six puts
a table's cells in separate boxes out of row order (98.3 % of the characters in order);
PDFium is also 5–12 times faster per page (3–10 ms against 20–50 ms).  pdfminer.six
writes an unmapped glyph as ``(cid:123)``; PDFium passes the glyph's code off as a
character (CID 256 → "Ā"), so ``FPDFText_HasUnicodeMapError`` is asked for every
character and those become U+FFFD, which ``monitor.extract.textcheck`` counts: such a
PDF is "not extractable".

PDFium gives the page's text as lines (``\\r\\n`` between them) and a box for every
character; each line's left/right edge, top and character height come from the boxes,
and ``monitor.extract.lines`` joins wrapped lines back into paragraphs.

PDFium is not thread-safe: every use of it holds ``_LOCK``.
"""

from __future__ import annotations

import statistics
import threading

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from monitor.errors import DocumentUnreadableError
from monitor.extract.lines import Line, paragraphs
from monitor.extract.textcheck import unreadable

_LOCK = threading.Lock()
MAX_PAGES = 2000


def extract_pdf(body: bytes) -> tuple[list[str], str, int]:
    """(paragraphs, metadata title, page count) of a PDF; raises DocumentUnreadableError."""
    with _LOCK:
        doc = _open(body)
        try:
            title = doc.get_metadata_dict().get("Title", "")
            if len(doc) > MAX_PAGES:
                raise DocumentUnreadableError(
                    f"页数过多，未提取文本（{len(doc)} 页，上限 {MAX_PAGES}）")
            pages = [_page_lines(doc[i]) for i in range(len(doc))]
            count = len(doc)
        finally:
            doc.close()
    raw = "\n".join(line.text for lines in pages for line in lines)
    reason = unreadable(raw)
    if reason:
        raise DocumentUnreadableError(reason, status="not_extractable", pages=count)
    return paragraphs(pages), title, count


def _open(body: bytes) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(body)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise DocumentUnreadableError(
                f"文件已加密，未提取文本（PDF 需要密码：{exc}）") from exc
        raise DocumentUnreadableError(f"文件损坏，未提取文本（PDF 无法打开：{exc}）") from exc


def _page_lines(page: pdfium.PdfPage) -> list[Line]:
    textpage = page.get_textpage()
    try:
        text = _mapped_text(textpage)
        if len(text) != textpage.count_chars():  # characters beyond the BMP: no geometry
            return [Line(t, 0.0, 0.0, float(i), 1.0) for i, t in enumerate(text.splitlines())]
        return _positioned(text, textpage, page.get_height())
    finally:
        textpage.close()
        page.close()


def _mapped_text(textpage: pdfium.PdfTextPage) -> str:
    """The page's text, with U+FFFD for every character PDFium found no Unicode for.

    Without a ToUnicode table PDFium passes a glyph's code off as a character (CID 256
    becomes "Ā"): plausible-looking noise, which ``FPDFText_HasUnicodeMapError`` tells."""
    text = textpage.get_text_range()
    count = textpage.count_chars()
    bad = [i for i in range(count) if pdfium_c.FPDFText_HasUnicodeMapError(textpage, i) == 1]
    if not bad:
        return text
    if len(text) != count:
        return "\ufffd" * len(bad) + text
    chars = list(text)
    for i in bad:
        chars[i] = "\ufffd"
    return "".join(chars)


def _positioned(text: str, textpage: pdfium.PdfTextPage, height: float) -> list[Line]:
    lines: list[Line] = []
    start = 0
    for part in text.split("\r\n"):
        boxes = [textpage.get_charbox(i, loose=True) for i in range(start, start + len(part))
                 if not part[i - start].isspace()]
        start += len(part) + 2
        if not boxes:
            continue
        lines.append(Line(
            part, min(b[0] for b in boxes), max(b[2] for b in boxes),
            height - max(b[3] for b in boxes), statistics.median(b[3] - b[1] for b in boxes)))
    return lines
