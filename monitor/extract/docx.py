"""DOCX → paragraphs, with python-docx.

The body is read in document order: a paragraph is a line; a table row whose cells
each hold one line is one line with the cells joined by `` | `` (as an HTML table row
is, ``monitor.extract.layout``); a row whose cells hold several paragraphs is a layout table,
and each cell paragraph is a line.  The paragraphs inside a content control
(``w:sdt``: template fields such as 文号 or 日期, a cover page) are read in place.
A merged cell (repeated by python-docx for every grid column it spans) is read once.
Headers, footers and comments are not content.
"""

from __future__ import annotations

import io

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph

from monitor.errors import DocumentUnreadableError
from monitor.extract.archive import open_zip

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def extract_docx(body: bytes) -> tuple[list[str], str]:
    """(paragraphs, metadata title) of a DOCX; raises DocumentUnreadableError."""
    open_zip(body, "DOCX 文件").close()  # the size and member limits, before parsing
    try:
        document = docx.Document(io.BytesIO(body))
    except (KeyError, ValueError, PackageNotFoundError) as exc:  # not a Word document inside
        raise DocumentUnreadableError(f"文件损坏，未提取文本（DOCX：{exc}）") from exc
    return _block_lines(document.element.body, document), \
        (document.core_properties.title or "").strip()


def _block_lines(parent, document) -> list[str]:  # type: ignore[no-untyped-def]
    lines: list[str] = []
    for child in parent.iterchildren():
        if child.tag == f"{_W}p":
            lines.append(Paragraph(child, document).text)
        elif child.tag == f"{_W}tbl":
            lines += _table_lines(Table(child, document))
        elif child.tag == f"{_W}sdt":  # a content control (a form field, a cover page)
            for content in child.iterchildren(f"{_W}sdtContent"):
                lines += _block_lines(content, document)
    return lines


def _table_lines(table: Table) -> list[str]:
    lines: list[str] = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) not in seen:
                seen.add(id(cell._tc))
                cells.append([p.text for p in cell.paragraphs if p.text.strip()])
        if all(len(c) <= 1 for c in cells):
            lines.append(" | ".join(c[0] if c else "" for c in cells))
        else:
            lines += [text for c in cells for text in c]
    return lines

