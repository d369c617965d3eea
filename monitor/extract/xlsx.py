"""XLSX → lines, with openpyxl in read-only mode (rows streamed, values not formulas).

Sheet by sheet, in the workbook's order; a workbook of several sheets has a
``【sheet name】`` line before each.  A row is one line, its cells joined by `` | ``
(the brief said tabs, but normalization folds a tab into a space, so cells would run
together; `` | `` is what an HTML table row becomes, ``monitor.extract.layout``).  Empty rows
and trailing empty cells are skipped; an empty cell between two values stays, so
columns keep their place.  Numbers are written as a reader sees them (68.1, not
68.09999), whole numbers without ``.0``, dates as ISO dates.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import openpyxl

from monitor.errors import DocumentUnreadableError
from monitor.extract.archive import open_zip

MAX_CELLS = 2_000_000


def extract_xlsx(body: bytes) -> tuple[list[str], str]:
    """(lines, metadata title) of an XLSX; raises DocumentUnreadableError."""
    open_zip(body, "XLSX 文件").close()
    try:
        book = openpyxl.load_workbook(io.BytesIO(body), read_only=True, data_only=True)
    except (KeyError, ValueError, zipfile.BadZipFile, OSError) as exc:
        raise DocumentUnreadableError(f"文件损坏，未提取文本（XLSX：{exc}）") from exc
    try:
        lines: list[str] = []
        cells = 0
        for sheet in book.worksheets:
            if len(book.worksheets) > 1:
                lines.append(f"【{sheet.title}】")
            for row in sheet.iter_rows(values_only=True):
                cells += len(row)
                if cells > MAX_CELLS:
                    raise DocumentUnreadableError(
                        f"表格过大，未提取文本（超过 {MAX_CELLS} 个单元格）")
                if line := _row_line(row):
                    lines.append(line)
        return lines, (book.properties.title or "").strip()
    finally:
        book.close()


def _row_line(row: tuple[object, ...]) -> str:
    values = [_cell(v) for v in row]
    while values and not values[-1]:
        values.pop()
    return " | ".join(values)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()
