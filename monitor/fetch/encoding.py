"""Bytes of a page to text: which charset, and what to do when the page lies about it.

Order of evidence: a charset forced in the source's configuration, a byte-order mark,
the HTTP ``Content-Type`` charset, ``<meta charset>`` / ``<meta http-equiv>`` /
``<?xml encoding>`` in the first 4 KiB (of these declarations, multi-byte ones first),
charset-normalizer's guess, UTF-8.  The BOM comes before the header, as in browsers
(WHATWG): a BOM is never there by accident, while a wrong GBK header on a UTF-8 page
decodes "cleanly" into nonsense.

The rule for liars: Chinese government servers often send a default ``charset=utf-8``
(or ``ISO-8859-1``) for pages that are really GBK.  A candidate whose decoding is *dirty*
(more than one replacement character per 1,000 characters, and more than one in all) is
passed over for the next candidate that decodes cleanly.  When none is clean, the
candidate with the fewest errors wins, the earliest in the order on a tie.  A forced
charset is never second-guessed.  Undecodable bytes become U+FFFD; decoding never fails
on bad bytes.

Which declaration to believe when a wrong one decodes cleanly:

* A declared charset (BOM, header or meta) that decodes the body cleanly is never
  overruled by detection.  Detection is a guess from byte statistics, and it guesses
  single-byte code pages for non-CJK text: a ``text/plain; charset=utf-8`` page of Greek
  or Cyrillic must stay "κόσμε", not become iso8859-16 "ÎșáœčσΌΔ".
* A *single-byte* charset (windows-1252, iso8859-*, koi8-r...) decodes nearly any bytes
  without an error, so its clean decoding is no evidence.  Hence declarations are tried
  multi-byte first: a GBK page that says ``<meta charset=gb2312>`` under a server's default
  ``ISO-8859-1`` header is GBK (the header alone, with nothing else declared, is kept: it
  decodes cleanly and only ``encoding =`` in the source can overrule it).  And when
  something was declared and none of it decodes cleanly, a single-byte *guess* is not
  tried: the UTF-8 decoder stress test (``charset=utf-8``, deliberately full of invalid
  sequences) decodes as UTF-8 with U+FFFD for the bad bytes, as in a browser, instead of
  as whatever code page happens to map every byte.  A multi-byte guess that decodes
  cleanly (GB18030 for a GBK page behind a wrong UTF-8 header) is still taken.

Labels follow the WHATWG Encoding Standard where it matters for Chinese pages: gb2312,
gbk, cp936, x-gbk... decode as GB18030 (pages labelled gb2312 routinely contain GBK-only
characters such as 喆 and 镕), big5 as Big5-HKSCS, latin1/ascii as windows-1252.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from functools import cache

from monitor.errors import DecodeError

PRESCAN_BYTES = 4096

_ALIASES = {
    **dict.fromkeys(
        ("gb2312", "gb_2312", "gb_2312-80", "gbk", "x-gbk", "cp936", "ms936", "windows-936",
         "chinese", "csgb2312", "csiso58gb231280", "iso-ir-58", "euc-cn", "x-euc-cn",
         "gb18030"),
        "gb18030"),
    **dict.fromkeys(("big5", "big5-hkscs", "cn-big5", "csbig5", "x-x-big5"), "big5hkscs"),
    **dict.fromkeys(("iso-8859-1", "latin1", "l1", "us-ascii", "ascii", "iso8859-1",
                     "windows-1252", "cp1252"), "cp1252"),
    "utf8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([^"';\s]+)""", re.I)
_COMMENT = re.compile(rb"<!--.*?-->", re.S)
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([\w.:-]+)""", re.I)


def canonical_charset(label: str | None) -> str | None:
    """The Python text codec for an HTTP/HTML charset label, or None if it is unknown.

    Codecs that are not text encodings (base64, rot13, zlib...) are unknown here:
    ``bytes.decode`` refuses them."""
    if not label:
        return None
    key = label.strip().strip("\"'").lower()
    key = _ALIASES.get(key, key)
    try:
        info = codecs.lookup(key)
    except LookupError:
        return None
    is_text = getattr(info, "_is_text_encoding", True) and info.name != "undefined"
    return info.name if is_text else None


def decode_html(body: bytes, content_type: str | None,
                forced: str | None = None) -> tuple[str, str]:
    """Return (text, name of the charset used).  See the module docstring for the rules."""
    got = _decode_html(body, content_type, forced, detect=True)
    assert got is not None  # utf-8 is always a candidate
    return got


def decode_declared(body: bytes, content_type: str | None,
                    forced: str | None = None) -> tuple[str, str] | None:
    """``decode_html``'s answer when it comes before charset detection: a forced charset,
    or a declared one (BOM, header, meta) that decodes the body cleanly; None when
    ``decode_html`` would go on to detection.  The same loop over the same candidates,
    stopped where detection starts: most pages declare a charset that decodes them
    cleanly, and this answer is a plain ``bytes.decode`` (the fetcher gives it without
    a thread hop, ``monitor.fetch.http.decoded``)."""
    return _decode_html(body, content_type, forced, detect=False)


def _decode_html(body: bytes, content_type: str | None, forced: str | None,
                 detect: bool) -> tuple[str, str] | None:
    if forced:
        charset = canonical_charset(forced)
        if charset is None:
            raise DecodeError(f"unknown encoding {forced!r} configured for the source")
        return _decode(body, charset)[0], charset
    best: tuple[int, str, str] | None = None  # (errors, text, charset)
    tried: set[str] = set()
    for charset in _candidates(body, content_type, detect):
        if charset in tried:
            continue
        tried.add(charset)
        text, errors = _decode(body, charset)
        if not _dirty(errors, len(text)):
            return text, charset
        if best is None or errors < best[0]:
            best = (errors, text, charset)
    if not detect or best is None:
        return None
    return best[1], best[2]


def _candidates(body: bytes, content_type: str | None, detect: bool = True) -> Iterator[str]:
    """Charsets worth trying, best evidence first; lazy, so detection runs only if needed
    (``detect=False``: the declarations only).

    Declarations first, multi-byte before single-byte; detection only after every
    declaration failed, and a single-byte guess only when nothing was declared."""
    declared = [c for c in (bom_charset(body), header_charset(content_type),
                            meta_charset(body)) if c]
    yield from sorted(declared, key=single_byte)  # stable: BOM, header, meta otherwise
    if not detect:
        return
    detected = detected_charset(body)
    if detected and not (declared and single_byte(detected)):
        yield detected
    yield "utf-8"


@cache
def single_byte(charset: str) -> bool:
    """Whether ``charset`` maps each byte to one character (windows-1252, iso8859-16,
    koi8-r...): such a charset decodes any bytes without an error, so a clean decoding
    with it is no evidence.  UTF-8 is multi-byte even though each of 256 lone bytes is
    one (replacement) character."""
    if charset.replace("_", "-") in ("utf-8", "utf-8-sig"):
        return False
    return len(bytes(range(256)).decode(charset, errors="replace")) == 256


def header_charset(content_type: str | None) -> str | None:
    match = _HEADER_CHARSET.search(content_type or "")
    return canonical_charset(match.group(1)) if match else None


def bom_charset(body: bytes) -> str | None:
    for bom, charset in _BOMS:
        if body.startswith(bom):
            return charset
    return None


def meta_charset(body: bytes) -> str | None:
    """The charset a page declares in its first 4 KiB (outside comments)."""
    head = _COMMENT.sub(b"", body[:PRESCAN_BYTES])
    match = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    if not match:
        return None
    charset = canonical_charset(match.group(1).decode("ascii", errors="replace"))
    # An ASCII-readable declaration cannot be in UTF-16: the label is wrong (WHATWG).
    return "utf-8" if charset and charset.startswith("utf-16") else charset


def detected_charset(body: bytes) -> str | None:
    # Imported here (~10 ms): most pages declare a charset that decodes cleanly, and
    # an unchanged check's page is decoded without ever guessing.
    from charset_normalizer import from_bytes

    match = from_bytes(body).best()
    return canonical_charset(match.encoding) if match is not None else None


def _decode(body: bytes, charset: str) -> tuple[str, int]:
    """(text without a leading BOM, number of undecodable sequences replaced)."""
    try:
        text, errors = body.decode(charset), 0
    except UnicodeDecodeError:
        text = body.decode(charset, errors="replace")
        # Each error is one U+FFFD with "replace" and nothing with "ignore"; counting U+FFFD
        # would also count the ones the page really contains.
        errors = len(text) - len(body.decode(charset, errors="ignore"))
    return text.removeprefix("\ufeff"), errors


def _dirty(errors: int, length: int) -> bool:
    return errors > max(1, length // 1000)
