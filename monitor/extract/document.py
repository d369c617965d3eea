"""Documents (attachments, or a watched URL answering with a file): which format, and
its text.

``sniff`` decides the format from, in this order:

1. **the bytes** (``%PDF-``, the OLE2 header of .doc/.wps, a ZIP whose members say
   DOCX/XLSX/OFD, or an HTML start): what the file *is*.  Government servers often send
   attachments as ``application/octet-stream`` or even ``text/html``, and an error page
   served at a ``.pdf`` URL is HTML whatever its name says;
2. **the Content-Type**, when the bytes say nothing certain (an OLE2 file is a .doc or a
   .wps: the type or the name tells which);
3. **the URL's extension** (also for a download link whose type is a generic one).

None means "not a document: HTML or text", for the HTML extractor.

``extract_document`` never raises: a damaged, encrypted, truncated or oversized file is
a ``DocumentText`` with status "not_extracted" and the reason; a file that opens but
holds no usable text (a scan, glyph codes) is "not_extractable".  The caller stores the
file either way, so an unreadable attachment is still a fact a watcher can be told
about.  Third-party parsers raise many kinds of exceptions on hostile files; whatever
one raises is caught here, logged with its traceback, and reported as a damaged file,
so one attachment never fails the check of a page.

The text is normalized as page text is: NFC, one paragraph per line, invisible
characters gone, spaces collapsed, no space between two CJK characters, no empty lines
(``monitor.normalize.normalize_line``); the noise rules of web pages do not apply.  The
title is the document's metadata title, else its first line (none for a ZIP).

``xls`` (Excel 97–2003) is recognised, so that it is never mistaken for a Word file,
but not read: LibreOffice's writer package cannot, and its calc package is another
200 MB; such a file is "not extracted", said so.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from loguru import logger

from monitor.errors import DocumentUnreadableError
from monitor.extract import archive
from monitor.normalize import normalize_line
from monitor.types import DocumentText

FORMATS = ("pdf", "docx", "xlsx", "doc", "wps", "ofd", "zip", "xls")
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_TYPES = {
    "application/pdf": "pdf", "application/x-pdf": "pdf",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/ofd": "ofd", "application/x-ofd": "ofd",
    "application/zip": "zip", "application/x-zip-compressed": "zip",
    "application/kswps": "wps", "application/vnd.ms-works": "wps",
    "application/wps-office.wps": "wps", "application/vnd.ms-excel": "xls",
}
# Stream names in an OLE2 file's directory: what the compound file holds.
_OLE_WORKBOOK = ("Workbook", "Book")
_EXTENSIONS = {f".{fmt}": fmt for fmt in FORMATS}
_TITLE_MAX = 200
# Titles that authoring tools write into the metadata instead of a real one.
_JUNK_TITLE = re.compile(
    r"^(?:microsoft (?:word|excel) - |untitled|无标题|\(anonymous\)|.*\.(?:docx?|wps|pdf)$)",
    re.IGNORECASE)
_MARKER = re.compile(r"^【[^】]*】$")
_HTML = re.compile(rb"^\s*<(?:!doctype html|html|head|body|!--|\?xml)", re.IGNORECASE)


def sniff(body: bytes, content_type: str | None, url: str) -> str | None:
    """The document format of an answer, or None for HTML/text (see the module doc)."""
    by_type = _TYPES.get((content_type or "").split(";")[0].strip().lower())
    by_name = _EXTENSIONS.get(_extension(url))
    if b"%PDF-" in body[:1024]:
        return "pdf"
    if body.startswith(_OLE2):
        return _ole_kind(body, by_type, by_name)
    if body.startswith(b"PK\x03\x04"):
        return _zip_kind(body) or by_name or by_type or "zip"
    if _HTML.match(body[:1024].removeprefix(b"\xef\xbb\xbf")):
        return None
    return by_type or by_name


def extract_document(body: bytes, fmt: str) -> DocumentText:
    """The text of a document in format ``fmt`` (from ``sniff``); never raises."""
    try:
        lines, title, pages = _extract(body, fmt)
    except DocumentUnreadableError as exc:
        return DocumentText(fmt=fmt, status=exc.status, reason=exc.message, pages=exc.pages)
    except Exception as exc:  # a parser's own error on a hostile or damaged file
        logger.opt(exception=exc).warning("{} document not extracted: {!r}", fmt, exc)
        return DocumentText(fmt=fmt, status="not_extracted",
                            reason=f"文件损坏，未提取文本（{type(exc).__name__}：{exc}）"[:300])
    text = "\n".join(p for p in (_clean(line) for line in lines) if p)
    title = "" if _JUNK_TITLE.match(title := _clean(title)) else title
    return DocumentText(fmt=fmt, text=text, title=(title or _first_line(text, fmt))[:_TITLE_MAX],
                        pages=pages)


def _first_line(text: str, fmt: str) -> str:
    """The fallback title: the first line that is text, not a sheet or member marker; a
    ZIP has none (its first line is the member list's heading)."""
    if fmt == "zip":
        return ""
    return next((line for line in text.split("\n") if not _MARKER.match(line)), "")


def _extract(body: bytes, fmt: str) -> tuple[list[str], str, int | None]:
    # The format modules are imported when a document comes: they load PDFium, lxml and
    # openpyxl (~150 ms), which a CLI command that reads no attachment should not pay.
    if fmt == "pdf":
        from monitor.extract.pdf import extract_pdf
        return extract_pdf(body)
    if fmt == "ofd":
        from monitor.extract.ofd import extract_ofd
        return extract_ofd(body)
    if fmt == "docx":
        from monitor.extract.docx import extract_docx
        return (*extract_docx(body), None)
    if fmt == "xlsx":
        from monitor.extract.xlsx import extract_xlsx
        return (*extract_xlsx(body), None)
    if fmt in ("doc", "wps"):
        from monitor.extract.office import extract_office
        return extract_office(body, fmt), "", None
    return _extract_other(body, fmt)


def _extract_other(body: bytes, fmt: str) -> tuple[list[str], str, int | None]:
    if fmt == "zip":
        return archive.extract_zip(body, _member), "", None
    if fmt == "xls":
        raise DocumentUnreadableError(
            "未提取文本（.xls 为旧版 Excel 格式，暂不支持；请求 .xlsx 或 PDF 版本）")
    raise DocumentUnreadableError(f"不支持的文件格式，未提取文本（{fmt}）")


def _member(data: bytes, name: str) -> DocumentText | None:
    fmt = sniff(data, None, name)
    return None if fmt in (None, "zip") else extract_document(data, fmt)


def _ole_kind(body: bytes, by_type: str | None, by_name: str | None) -> str:
    """.doc, .wps or .xls: a WPS file looks like a Word one inside, so the name or type
    tells it; a workbook says so by its stream name."""
    if "wps" in (by_type, by_name):
        return "wps"
    if "xls" in (by_type, by_name) or any(_ole_stream(body, n) for n in _OLE_WORKBOOK):
        return "xls"
    return "doc"


def _ole_stream(body: bytes, name: str) -> bool:
    """Whether a 128-byte directory entry (after the 512-byte header) names ``name``:
    its UTF-16LE name at the entry's start, the name's byte length at offset 64.  The
    same characters in a document's text are not at such a place."""
    encoded = name.encode("utf-16-le") + b"\0\0"
    pos = body.find(encoded, 512)
    while pos != -1:
        if (pos - 512) % 128 == 0 and body[pos + 64:pos + 66] == len(encoded).to_bytes(2, "little"):
            return True
        pos = body.find(encoded, pos + 1)
    return False


def _zip_kind(body: bytes) -> str | None:
    try:
        names = set(archive.open_zip(body).namelist())
    except DocumentUnreadableError:
        return None
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    return "ofd" if "OFD.xml" in names else None


def _extension(url: str) -> str:
    path = urlsplit(url).path.lower()
    dot = path.rfind(".")
    return path[dot:] if dot > path.rfind("/") else ""


def _clean(line: str) -> str:
    return normalize_line(unicodedata.normalize("NFC", line))


__all__ = ["FORMATS", "extract_document", "sniff"]
