"""Is extracted text text?  The test that keeps glyph codes out of diffs.

A PDF whose font has no Unicode mapping (no ``ToUnicode`` table, an ``Identity-H``
encoding of an embedded subset: common in converted government PDFs) gives glyph
numbers, not characters: pdfminer writes them as ``(cid:123)`` runs, PDFium as
U+FFFD, private-use code points or control characters.  Diffing such "text" would
report noise as changes, so it is refused as *not extractable*:

* more than 10 % of the non-space characters are ``(cid:N)`` runs, U+FFFD, private-use
  or control characters: the font has no Unicode mapping;
* no character at all on pages that exist: a scan or text drawn as shapes/images.

A few stray private-use characters (a logo glyph, a bullet) in real text stay: 10 % is
far above what a real document holds and far below what an unmapped font gives.
"""

from __future__ import annotations

import re

_CID = re.compile(r"\(cid:\d+\)")
_BAD = re.compile("[\ufffd\ue000-\uf8ff\U000f0000-\U0010ffff\x00-\x08\x0b\x0e-\x1f]")
_SPACE = re.compile(r"\s+")
BAD_SHARE = 0.10


def unreadable(text: str) -> str | None:
    """The reason ``text`` is not real text (Chinese first), or None when it is."""
    compact = _SPACE.sub("", text)
    if not compact:
        return "文本无法提取（无文本层：可能是扫描件或图片）"
    cids = _CID.findall(compact)
    rest = _CID.sub("", compact)
    bad = _BAD.findall(rest)
    total = len(cids) + len(rest)
    if (len(cids) + len(bad)) / total <= BAD_SHARE:
        return None
    sample = cids[0] if cids else f"U+{ord(bad[0]):04X}"
    share = round(100 * (len(cids) + len(bad)) / total)
    return f"文本无法提取（字体无 Unicode 映射：{share}% 为字形编码，如 {sample}）"
